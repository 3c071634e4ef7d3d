/**
 * alerting/: the stored alert rules evaluated by the server over what it stored.
 * This file is core's `SignalSource` over the store's minute rows, one instance per
 * evaluation (every read cached for the tick), with the meaning core's
 * `EvaluationPass` gives each signal over a `Monitor`: a gauge reads the sum of its
 * series' latest values, a counter its increase over the window, a histogram or
 * timer its mean; `error_rate` and `throughput` every histogram and timer of the
 * component. Windows are whole minutes: the minute holding the window's start is
 * in. May import from store/ and core's public API.
 */
import { TDigest, type AggregateFunction, type SignalSource, type TDigestJSON } from '@prsm/core';

import type { MonitorStore } from '../store/store.js';
import type { WindowPoint } from '../store/types.js';

const MINUTE = 60_000;

interface Distribution {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly rows: readonly WindowPoint[];
}

/** `p99`, `p999`, `p50`: how the REST exporter and the store key a quantile. */
function quantileKey(q: number): string {
  return `p${String(Number((q * 100).toPrecision(12))).replace('.', '')}`;
}

/**
 * One evaluation's view of the store. @internal
 */
export class StoreSignalSource implements SignalSource {
  readonly #store: MonitorStore;
  readonly #now: number;
  readonly #cache = new Map<string, unknown>();

  constructor(store: MonitorStore, now: number) {
    this.#store = store;
    this.#now = now;
  }

  signal(name: string, component: string, windowSeconds: number): number | undefined {
    const type = this.#type(name, component);
    if (type === 'gauge') return this.#gauge('sum', name, component);
    if (type === 'counter') return this.#counter(name, component, windowSeconds).increase;
    if (type !== undefined) {
      const d = this.#distribution(name, component, windowSeconds);
      return d.count > 0 ? d.sum / d.count : undefined;
    }
    switch (name) {
      case 'error_rate': {
        const c = this.#calls(component, windowSeconds);
        return c.count > 0 ? c.errors / c.count : undefined;
      }
      case 'throughput': {
        const c = this.#calls(component, windowSeconds);
        return c.series > 0 && c.first !== null
          ? c.count / this.#covered(windowSeconds, c.first)
          : undefined;
      }
      case 'cpu_usage':
      case 'memory_usage':
        return component === 'system' ? undefined : this.#gauge('max', name, 'system');
      default:
        return undefined;
    }
  }

  quantile(name: string, component: string, q: number, windowSeconds: number): number | undefined {
    const type = this.#type(name, component);
    if (type !== 'histogram' && type !== 'timer') return undefined;
    return this.#memo(`q\u0000${name}\u0000${component}\u0000${windowSeconds}\u0000${q}`, () => {
      const d = this.#distribution(name, component, windowSeconds);
      if (d.count === 0) return undefined;
      // Rows of samples and of REST sub-windows carry digests, merged exactly; rows of
      // older exporters' batches carry only the sender's window quantiles, averaged by
      // their sample counts.
      const merged = new TDigest();
      let approxWeight = 0;
      let approxSum = 0;
      const key = quantileKey(q);
      for (const row of d.rows) {
        if (row.digest !== null) {
          merged.merge(TDigest.fromJSON(JSON.parse(row.digest) as TDigestJSON));
        } else if (row.quantiles !== null && row.count > 0) {
          const value = (JSON.parse(row.quantiles) as Record<string, number>)[key];
          if (value !== undefined) {
            approxWeight += row.count;
            approxSum += value * row.count;
          }
        }
      }
      const exact = merged.count > 0 ? merged.quantile(q) : undefined;
      if (approxWeight === 0) return exact;
      const approx = approxSum / approxWeight;
      if (exact === undefined) return approx;
      return (exact * merged.count + approx * approxWeight) / (merged.count + approxWeight);
    });
  }

  aggregate(
    fn: AggregateFunction,
    name: string,
    component: string,
    windowSeconds: number,
  ): number | undefined {
    const type = this.#type(name, component);
    if (type === undefined) return undefined;
    if (type === 'gauge') return fn === 'rate' ? undefined : this.#gauge(fn, name, component);
    if (type === 'counter') {
      const c = this.#counter(name, component, windowSeconds);
      if (fn === 'sum' || fn === 'count') return c.increase;
      if (fn === 'rate') return c.increase / this.#covered(windowSeconds, c.first);
      return undefined;
    }
    const d = this.#distribution(name, component, windowSeconds);
    switch (fn) {
      case 'count':
        return d.count;
      case 'rate':
        return d.count / this.#covered(windowSeconds, d.first);
      case 'sum':
        return d.sum;
      case 'avg':
        return d.count > 0 ? d.sum / d.count : undefined;
      case 'min':
        return d.count > 0 && Number.isFinite(d.min) ? d.min : undefined;
      case 'max':
        return d.count > 0 && Number.isFinite(d.max) ? d.max : undefined;
    }
  }

  #memo<T>(key: string, compute: () => T): T {
    if (this.#cache.has(key)) return this.#cache.get(key) as T;
    const value = compute();
    this.#cache.set(key, value);
    return value;
  }

  #fromBucket(windowSeconds: number): number {
    return Math.floor((this.#now - windowSeconds * 1000) / MINUTE) * MINUTE;
  }

  /** Seconds the window covered: from its start or the first data, never below 1 ms. */
  #covered(windowSeconds: number, first: number): number {
    const start = Math.max(this.#now - windowSeconds * 1000, first);
    return Math.max(0.001, (this.#now - start) / 1000);
  }

  #series(name: string, component: string): ReturnType<MonitorStore['seriesOf']> {
    return this.#memo(`s\u0000${name}\u0000${component}`, () =>
      this.#store.seriesOf(name, component),
    );
  }

  #type(name: string, component: string): string | undefined {
    return this.#series(name, component)[0]?.metric_type;
  }

  #rows(name: string, component: string, windowSeconds: number): readonly WindowPoint[] {
    return this.#memo(`p\u0000${name}\u0000${component}\u0000${windowSeconds}`, () =>
      this.#store.windowPoints(name, component, this.#fromBucket(windowSeconds)),
    );
  }

  #gauge(fn: AggregateFunction | 'sum', name: string, component: string): number | undefined {
    const series = this.#series(name, component).filter((s) => s.metric_type === 'gauge');
    if (fn === 'count') return series.length;
    if (series.length === 0) return undefined;
    const values = series.map((s) => s.value);
    if (fn === 'sum') return values.reduce((a, b) => a + b, 0);
    if (fn === 'avg') return values.reduce((a, b) => a + b, 0) / values.length;
    return fn === 'min' ? Math.min(...values) : Math.max(...values);
  }

  #counter(
    name: string,
    component: string,
    windowSeconds: number,
  ): { increase: number; first: number } {
    let increase = 0;
    let first = this.#now;
    for (const row of this.#rows(name, component, windowSeconds)) {
      increase += row.sum;
      if (row.bucket < first) first = row.bucket;
    }
    return { increase, first };
  }

  #distribution(name: string, component: string, windowSeconds: number): Distribution {
    return this.#memo(`d\u0000${name}\u0000${component}\u0000${windowSeconds}`, () => {
      const rows = this.#rows(name, component, windowSeconds);
      let count = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      let first = this.#now;
      for (const row of rows) {
        count += row.count;
        sum += row.sum;
        if (row.min !== null && row.min < min) min = row.min;
        if (row.max !== null && row.max > max) max = row.max;
        if (row.bucket < first) first = row.bucket;
      }
      return { count, sum, min, max, first, rows };
    });
  }

  #calls(component: string, windowSeconds: number): ReturnType<MonitorStore['componentCalls']> {
    return this.#memo(`c\u0000${component}\u0000${windowSeconds}`, () =>
      this.#store.componentCalls(component, this.#fromBucket(windowSeconds)),
    );
  }
}
