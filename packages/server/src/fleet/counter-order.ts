/**
 * fleet/: what the server needs so that many processes of many services, reporting
 * the same series, add up to one fleet-wide series (issue 13). Pure functions, no
 * I/O; store/ calls them. May import nothing of the server.
 *
 * This file: a process's cumulative counter total turned into an increase when its
 * reports can arrive out of order. The REST exporter's pipeline keeps up to two
 * batches in flight (core's `maxConcurrency` default) and retries failed ones with
 * backoff, so a batch carrying an older, lower total can be stored after a newer one.
 * Read as a restart, that lower total would be counted a second time (the 50-instance
 * load test in bench/suites/fleet.ts stored 21% more increments than were made).
 */

/**
 * The last total stored for one process (`source.instance_id`) and series, and the
 * time of the report it came from (ms since the epoch). @internal
 *
 * @example
 * ```ts
 * const last: LastTotal = { total: 120, at: Date.parse('2026-01-01T00:01:00Z') };
 * ```
 */
export interface LastTotal {
  readonly total: number;
  readonly at: number;
}

/**
 * What a counter report of one process adds to its series, and whether its total
 * becomes the stored one:
 *
 * - the first report of the process: its total;
 * - a total above the stored one: the difference; the same total: nothing;
 * - a lower total from a report taken at or after the stored one (or without a
 *   readable time): the process restarted under the same instance id, counted from
 *   zero;
 * - a lower total from a report taken before the stored one: a late report (two
 *   batches in flight at once, or a retry that lost the race); what it counted is
 *   already in the newer total, so it adds nothing and the stored total stays.
 *
 * `at` is the report's own time (the metric's `timestamp`), so the order is the
 * sending process's, whatever the order of arrival. @internal
 *
 * @example
 * ```ts
 * counterIncrease({ total: 120, at: 2_000 }, 100, 1_000); // { increase: 0, store: false }: late
 * counterIncrease({ total: 120, at: 2_000 }, 5, 3_000); // { increase: 5, store: true }: restart
 * ```
 */
export function counterIncrease(
  last: LastTotal | undefined,
  total: number,
  at: number,
): { increase: number; store: boolean } {
  if (last === undefined) return { increase: total, store: true };
  const late = Number.isFinite(at) && at < last.at;
  if (total > last.total) return { increase: total - last.total, store: true };
  if (total === last.total || late) return { increase: 0, store: !late };
  return { increase: total, store: true };
}
