/**
 * store/: what the reads of `GET /health` and `GET /analytics` sum over the window's
 * minute rows, kept in memory and brought up to date by the writes themselves, so
 * that an answer computed after a write costs the minutes that write touched (added
 * here as it commits), not a pass over every row of the window.
 *
 * Two views, each complete from a bucket on (`from`): every bucket at or after it
 * holds exactly what the `points` table holds, because a write's additions to any of
 * those buckets are applied after its transaction commits; a read asking for earlier
 * buckets loads them once from SQL and moves `from` back. Both are bounded (entries,
 * components, age) and emptied past their bound, then filled again by the next reads.
 * No SQL here: the store passes the loaders. Imports nothing but the store's types.
 */
import type { SpecMetricType } from './types.js';

/** Per component, service and type: samples (or reports), their sum and errors. @internal */
export interface MinuteTotal {
  readonly component: string;
  readonly service: string;
  readonly metric_type: SpecMetricType;
  count: number;
  sum: number;
  errors: number;
}

/** A minute row of a histogram or timer, as `readComponentPoints` returns it. @internal */
export interface CachedRow {
  readonly series_id: number;
  /** The operation: the `operation` tag, else the metric's name. */
  readonly name: string;
  readonly metric_type: SpecMetricType;
  readonly service: string;
  readonly bucket: number;
  count: number;
  sum: number;
  errors: number;
  /** Always null in the cache (digests are read from SQL when asked for). */
  readonly digest: string | null;
}

/** What the store knows of a series when it adds to one of its minute rows. @internal */
export interface SeriesMeta {
  readonly name: string;
  readonly component: string;
  readonly service: string;
  readonly metric_type: SpecMetricType;
  /** Canonical JSON of the tags. */
  readonly tags: string;
}

/** Total entries kept before the totals are emptied (buckets x groups). */
const MAX_TOTALS = 400_000;
/** Rows kept over every component before the rows are emptied. */
const MAX_ROWS = 600_000;
/** Components whose rows are kept. */
const MAX_COMPONENTS = 64;

/**
 * A row whose count, sum and errors are doubles from the start. V8 keeps a number field
 * as small integers while every value stored in it is one; the first fraction (a sum)
 * moves the shape to doubles, and every object of the old shape then moves one by one at
 * its next read: 6,100 cached rows cost 5.6 ms on a component's first read after such a
 * write, against 0.1 ms after. A `-0` (never a small integer) makes the fields doubles
 * at once.
 */
function newRow(
  seriesId: number,
  name: string,
  type: SpecMetricType,
  service: string,
  bucket: number,
  count: number,
  sum: number,
  errors: number,
): CachedRow {
  const row: CachedRow = {
    series_id: seriesId,
    name,
    metric_type: type,
    service,
    bucket,
    count: -0,
    sum: -0,
    errors: -0,
    digest: null,
  };
  row.count = count;
  row.sum = sum;
  row.errors = errors;
  return row;
}

/** A minute total with double fields from the start (see {@link newRow}). */
function newTotal(
  component: string,
  service: string,
  type: SpecMetricType,
  count: number,
  sum: number,
  errors: number,
): MinuteTotal {
  const total: MinuteTotal = {
    component,
    service,
    metric_type: type,
    count: -0,
    sum: -0,
    errors: -0,
  };
  total.count = count;
  total.sum = sum;
  total.errors = errors;
  return total;
}

/** The operation of a series: `COALESCE(json_extract(tags, '$.operation'), name)`. */
function operationOf(meta: SeriesMeta): string {
  if (!meta.tags.includes('"operation"')) return meta.name;
  try {
    const op = (JSON.parse(meta.tags) as Record<string, unknown>)['operation'];
    return typeof op === 'string' ? op : meta.name;
  } catch {
    return meta.name;
  }
}

/**
 * The window's totals and rows, kept from a bucket on and updated by the writes.
 * @internal
 *
 * @example
 * ```ts
 * const cache = new MinuteCache();
 * cache.add(meta, seriesId, bucket, 8, 240, 1); // after the write committed
 * ```
 */
export class MinuteCache {
  /** Buckets at or after this are complete in {@link MinuteCache.#totals}. */
  #totalsFrom = Number.POSITIVE_INFINITY;
  readonly #totals = new Map<number, Map<string, MinuteTotal>>();
  #totalEntries = 0;
  readonly #rows = new Map<string, { from: number; rows: Map<string, CachedRow> }>();
  #rowEntries = 0;
  /** Times a view was emptied past its bound (a count, for the diagnostics). */
  dropped = 0;

  /** Adds what a committed write added to a series' minute row. */
  add(
    meta: SeriesMeta,
    seriesId: number,
    bucket: number,
    count: number,
    sum: number,
    errors: number,
  ): void {
    if (meta.metric_type === 'gauge' || meta.name.startsWith('prsm.')) return;
    if (bucket >= this.#totalsFrom) {
      this.#addTotal(bucket, meta.component, meta.service, meta.metric_type, count, sum, errors);
    }
    if (meta.metric_type === 'counter') return;
    const c = this.#rows.get(meta.component);
    if (c === undefined || bucket < c.from) return;
    const key = `${seriesId}:${bucket}`;
    const row = c.rows.get(key);
    if (row !== undefined) {
      row.count += count;
      row.sum += sum;
      row.errors += errors;
      return;
    }
    c.rows.set(
      key,
      newRow(
        seriesId,
        operationOf(meta),
        meta.metric_type,
        meta.service,
        bucket,
        count,
        sum,
        errors,
      ),
    );
    this.#rowEntries++;
  }

  #addTotal(
    bucket: number,
    component: string,
    service: string,
    type: SpecMetricType,
    count: number,
    sum: number,
    errors: number,
  ): void {
    let groups = this.#totals.get(bucket);
    if (groups === undefined) {
      groups = new Map<string, MinuteTotal>();
      this.#totals.set(bucket, groups);
    }
    const key = `${component}\u0000${service}\u0000${type}`;
    const t = groups.get(key);
    if (t !== undefined) {
      t.count += count;
      t.sum += sum;
      t.errors += errors;
      return;
    }
    groups.set(key, newTotal(component, service, type, count, sum, errors));
    this.#totalEntries++;
  }

  /**
   * The totals per bucket from `from` on, loading the buckets not kept yet with
   * `load(from, to)` (rows of `[from, to)` grouped by bucket, component, service and
   * type; `to` is `Infinity` when nothing is kept).
   */
  totals(
    from: number,
    load: (from: number, to: number) => (MinuteTotal & { bucket: number })[],
  ): IterableIterator<[number, Map<string, MinuteTotal>]> {
    if (from < this.#totalsFrom) {
      for (const r of load(from, this.#totalsFrom)) {
        this.#addTotal(r.bucket, r.component, r.service, r.metric_type, r.count, r.sum, r.errors);
      }
      this.#totalsFrom = from;
      if (this.#totalEntries > MAX_TOTALS) {
        // Past the bound: this answer is served, the next read loads again.
        const out = new Map(this.#totals);
        this.clear();
        this.dropped++;
        return out.entries();
      }
    }
    return this.#totals.entries();
  }

  /**
   * A component's rows from `from` on, loading the ones not kept yet with
   * `load(from, to)`; rows of buckets before `floor` are let go first (no read asks
   * for them through the cache).
   */
  rows(
    component: string,
    from: number,
    floor: number,
    load: (from: number, to: number) => CachedRow[],
  ): Iterable<CachedRow> {
    let c = this.#rows.get(component);
    if (c === undefined) {
      if (this.#rows.size >= MAX_COMPONENTS || this.#rowEntries > MAX_ROWS) {
        this.#rows.clear();
        this.#rowEntries = 0;
        this.dropped++;
      }
      c = { from: Number.POSITIVE_INFINITY, rows: new Map() };
      this.#rows.set(component, c);
    } else if (c.from < floor) {
      for (const [key, row] of c.rows) {
        if (row.bucket < floor) {
          c.rows.delete(key);
          this.#rowEntries--;
        }
      }
      c.from = floor;
    }
    if (from < c.from) {
      const loaded = load(from, c.from);
      // Loaded rows come first: the order of a component's rows stays stable.
      const rows = new Map<string, CachedRow>();
      for (const r of loaded) {
        // One shape for every row (SQL's and the writes'): the reads iterate them often.
        rows.set(
          `${r.series_id}:${r.bucket}`,
          newRow(r.series_id, r.name, r.metric_type, r.service, r.bucket, r.count, r.sum, r.errors),
        );
      }
      for (const [key, r] of c.rows) rows.set(key, r);
      this.#rowEntries += loaded.length;
      c.rows = rows;
      c.from = from;
    }
    return c.rows.values();
  }

  /** Lets go of the buckets before `before` (their minute rows were rolled up or dropped). */
  dropBefore(before: number): void {
    for (const [bucket, groups] of this.#totals) {
      if (bucket < before) {
        this.#totals.delete(bucket);
        this.#totalEntries -= groups.size;
      }
    }
    for (const c of this.#rows.values()) {
      for (const [key, row] of c.rows) {
        if (row.bucket < before) {
          c.rows.delete(key);
          this.#rowEntries--;
        }
      }
    }
  }

  /** Forgets everything: the next reads load from SQL. */
  clear(): void {
    this.#totals.clear();
    this.#totalEntries = 0;
    this.#totalsFrom = Number.POSITIVE_INFINITY;
    this.#rows.clear();
    this.#rowEntries = 0;
  }
}
