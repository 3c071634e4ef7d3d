/**
 * metrics/: series, instruments and the registry that caps them. A series is one
 * metric name + component + tag set; labels ride along as metadata. May import from
 * sketch/, clock/ and diagnostics/ (and the component names of components/names.ts).
 */
import type { ComponentName } from '../components/names.js';

/**
 * The spec's four metric types.
 *
 * - `counter`: a cumulative count (requests, errors, events); only goes up.
 * - `gauge`: a point-in-time value (CPU, memory, active connections).
 * - `histogram`: a distribution of values (payload sizes, scores).
 * - `timer`: a histogram of durations in milliseconds, with error counts.
 *
 * @example
 * ```ts
 * const type: MetricType = 'timer';
 * ```
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'timer';

/**
 * Tags identify a series: each distinct tag set of a metric is its own series, with
 * its own counts and percentiles. Keep tag values low-cardinality (a route template,
 * a status class), never a user id or a raw URL. Values must be strings.
 *
 * @example
 * ```ts
 * const tags: Tags = { route: '/users/:id', method: 'GET' };
 * ```
 */
export type Tags = Readonly<Record<string, string>>;

/**
 * Labels describe a series without identifying it (a version, an environment): they
 * are carried with the series to exporters, but recording with other labels updates
 * the series' labels instead of creating a new series. Values must be strings.
 *
 * @example
 * ```ts
 * const labels: Labels = { version: 'v2.1', environment: 'production' };
 * ```
 */
export type Labels = Readonly<Record<string, string>>;

/**
 * One measurement in the spec's fields (camelCase): the shape of
 * `POST /api/v1/monitoring/metrics` and of {@link Monitor.recordMetric}.
 *
 * @example
 * ```ts
 * const metric: MetricInput = {
 *   name: 'marketplace.recommendation.generated',
 *   value: 1,
 *   metricType: 'counter',
 *   component: 'recommendation',
 *   tags: { user_type: 'enterprise', algorithm: 'collaborative_filtering' },
 *   labels: { version: 'v2.1', environment: 'production' },
 * };
 * ```
 */
export interface MetricInput {
  /** Metric name, such as `api.latency`. */
  readonly name: string;
  /** The value: an increment for counters, the new value for gauges, a sample otherwise. */
  readonly value: number;
  /** How the value is aggregated. */
  readonly metricType: MetricType;
  /** The component the metric belongs to; defaults to the monitor's `defaultComponent`. */
  readonly component?: ComponentName;
  /** Identifying tags (see {@link Tags}). */
  readonly tags?: Tags;
  /** Descriptive labels (see {@link Labels}). */
  readonly labels?: Labels;
  /** For histograms and timers: the sample is of a failed operation (counts toward the error rate). */
  readonly error?: boolean;
}

/**
 * Options for a metric's instrument handle.
 *
 * @example
 * ```ts
 * monitor.timer('db.query', { component: 'database', description: 'Query time' });
 * ```
 */
export interface InstrumentOptions {
  /** The component of every series of this handle; defaults to the monitor's `defaultComponent`. */
  readonly component?: ComponentName;
  /** Free text for exporters and docs. */
  readonly description?: string;
  /** The unit, such as `ms` or `By`. Timers are always `ms`. */
  readonly unit?: string;
}

const EMPTY: Tags = Object.freeze({});

/** A tag set's validation outcome: the frozen copy, or null when invalid. @internal */
export function copyTags(tags: unknown): Tags | null {
  if (tags === undefined || tags === null) return EMPTY;
  if (typeof tags !== 'object' || Array.isArray(tags)) return null;
  const keys = Object.keys(tags);
  if (keys.length === 0) return EMPTY;
  if (keys.length > 64) return null;
  const out: Record<string, string> = {};
  for (const key of keys.sort()) {
    const value = (tags as Record<string, unknown>)[key];
    if (typeof value !== 'string' || key.length === 0) return null;
    out[key] = value;
  }
  return Object.freeze(out);
}

/**
 * The series key of a component and a raw tag object, validating as it goes: null
 * when `tags` is not a plain object of string values. Builds no copy, so looking up
 * an existing series allocates only the key string.
 *
 * @internal
 */
export function tagsKey(component: string, tags: unknown): string | null {
  let key = component.length + ':' + component;
  if (tags === undefined || tags === null) return key;
  if (typeof tags !== 'object' || Array.isArray(tags)) return null;
  const record = tags as Record<string, unknown>;
  const names = Object.keys(record);
  const n = names.length;
  if (n > 64) return null;
  if (n > 1) {
    // Tag sets are small: an insertion sort beats Array.prototype.sort here.
    for (let i = 1; i < n; i++) {
      const name = names[i]!;
      let j = i - 1;
      while (j >= 0 && names[j]! > name) {
        names[j + 1] = names[j]!;
        j--;
      }
      names[j + 1] = name;
    }
  }
  for (let i = 0; i < n; i++) {
    const name = names[i]!;
    const value = record[name];
    if (typeof value !== 'string' || name.length === 0) return null;
    key += name.length + ':' + name + value.length + ':' + value;
  }
  return key;
}

/** @internal */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 255;
}

/** `Array.isArray` without the `any[]` it narrows to. @internal */
export function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}
