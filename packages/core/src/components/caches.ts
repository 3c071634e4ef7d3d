/**
 * Cache effectiveness per cache (the spec's "Cache Effectiveness: hit rates"): hits,
 * misses, hit rate, and the latency a hit saves (the mean miss latency minus the mean
 * hit latency, both measured; or a configured miss penalty). Bounded: at most
 * `maxCaches` caches, further ones dropped and counted.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import { type ComponentHost, isFiniteNumber, keyPart, put, round } from './host.js';
import type { ComponentName } from './names.js';

/**
 * Options of the {@link CacheTracker} (`new Monitor({ caches })`).
 *
 * @example
 * ```ts
 * new Monitor({ caches: { maxCaches: 32, missPenaltyMs: { search: 120 } } });
 * ```
 */
export interface CacheTrackerOptions {
  /** Caches (component + name) tracked; further ones are dropped and counted. Default 64. */
  readonly maxCaches?: number;
  /**
   * What a miss costs, ms, by cache name: the latency saved per hit when misses carry no
   * measured latency. Measured latencies win when both hits and misses have them.
   */
  readonly missPenaltyMs?: Readonly<Record<string, number>>;
}

/**
 * One cache's effectiveness since it was first seen.
 *
 * @example
 * ```ts
 * const s: CacheStats = monitor.caches.stats()[0]!;
 * console.log(s.cache, s.hitRate, s.latencySavedPerHitMs);
 * ```
 */
export interface CacheStats {
  /** The cache's name. */
  readonly cache: string;
  /** Its component. */
  readonly component: string;
  /** Lookups that hit. */
  readonly hits: number;
  /** Lookups that missed. */
  readonly misses: number;
  /** hits / (hits + misses); NaN before any lookup. */
  readonly hitRate: number;
  /** Mean latency of hits with a latency, ms; NaN without. */
  readonly hitLatencyMs: number;
  /** Mean latency of misses with a latency, ms; NaN without. */
  readonly missLatencyMs: number;
  /** Latency a hit saves, ms: miss − hit latency (measured) or the miss penalty; NaN when unknown. */
  readonly latencySavedPerHitMs: number;
  /** `latencySavedPerHitMs × hits`, ms; NaN when unknown. */
  readonly latencySavedMs: number;
}

interface Entry {
  readonly cache: string;
  readonly component: string;
  hits: number;
  misses: number;
  hitSum: number;
  hitN: number;
  missSum: number;
  missN: number;
  readonly hitCounter: BoundCounter;
  readonly missCounter: BoundCounter;
  readonly ratio: BoundGauge;
  readonly saved: BoundGauge;
}

/**
 * Cache effectiveness: `monitor.caches`. Each lookup is one call; the monitor records,
 * in the cache's component, the counter `cache.requests` (tags `cache`, `result`:
 * `hit`/`miss`) and the gauges `cache.hit_ratio` and `cache.latency_saved_per_hit`
 * (ms; tag `cache`), so exporters carry them. `analytics({ component })` lists
 * `<cache>_cache_hit_rate` and `<cache>_cache_latency_saved_ms` in `component_specific`.
 *
 * @example
 * ```ts
 * const hit = await redis.get(key);
 * monitor.caches.record('search', hit !== null, { latencyMs: 3, component: MonitoringComponent.MARKETPLACE });
 * monitor.analytics({ component: 'marketplace' }).component_specific.search_cache_hit_rate;
 * ```
 */
export class CacheTracker {
  readonly #host: ComponentHost;
  readonly #max: number;
  readonly #penalty: ReadonlyMap<string, number>;
  readonly #entries = new Map<string, Entry>();
  #dropped = 0;

  /** Throws a `TypeError` naming a bad option. */
  constructor(host: ComponentHost, options: CacheTrackerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('caches must be an object');
    }
    const max = options.maxCaches ?? 64;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError('caches.maxCaches must be an integer >= 1');
    }
    const penalty = new Map<string, number>();
    const given: unknown = options.missPenaltyMs ?? {};
    if (given === null || typeof given !== 'object') {
      throw new TypeError('caches.missPenaltyMs must map cache names to milliseconds');
    }
    for (const [name, ms] of Object.entries(given)) {
      if (!isFiniteNumber(ms) || ms < 0) {
        throw new TypeError(`caches.missPenaltyMs.${name} must be a number of ms >= 0`);
      }
      penalty.set(name, ms);
    }
    this.#host = host;
    this.#max = max;
    this.#penalty = penalty;
  }

  /**
   * One lookup of `cache`: a hit or a miss, with its latency when known (a miss's
   * latency includes fetching the value). Never throws.
   *
   * @example
   * ```ts
   * monitor.caches.record('user_profile', false, { latencyMs: 48, component: 'recommendation' });
   * ```
   */
  record(
    cache: string,
    hit: boolean,
    options: { readonly latencyMs?: number; readonly component?: ComponentName } = {},
  ): void {
    try {
      if (typeof cache !== 'string' || cache === '' || typeof hit !== 'boolean') {
        this.#host.diagnostics.report(
          DiagnosticCode.INVALID_VALUE,
          'caches.record needs a cache name and a boolean hit',
        );
        return;
      }
      const entry = this.#entry(options?.component ?? 'default', cache);
      if (entry === undefined) return;
      const latency = options?.latencyMs;
      const timed = isFiniteNumber(latency) && latency >= 0;
      if (hit) {
        entry.hits++;
        entry.hitCounter.inc();
        if (timed) {
          entry.hitSum += latency;
          entry.hitN++;
        }
      } else {
        entry.misses++;
        entry.missCounter.inc();
        if (timed) {
          entry.missSum += latency;
          entry.missN++;
        }
      }
      const s = this.#stats(entry);
      entry.ratio.set(s.hitRate);
      if (Number.isFinite(s.latencySavedPerHitMs)) entry.saved.set(s.latencySavedPerHitMs);
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'caches' });
    }
  }

  /**
   * Every cache's effectiveness (of one component when given), in first-seen order.
   *
   * @example
   * ```ts
   * for (const c of monitor.caches.stats('marketplace')) console.log(c.cache, c.hitRate);
   * ```
   */
  stats(component?: ComponentName): CacheStats[] {
    const out: CacheStats[] = [];
    for (const e of this.#entries.values()) {
      if (component === undefined || e.component === component) out.push(this.#stats(e));
    }
    return out;
  }

  /**
   * Caches refused because `maxCaches` were tracked.
   *
   * @example
   * ```ts
   * if (monitor.caches.dropped() > 0) console.warn('raise caches.maxCaches');
   * ```
   */
  dropped(): number {
    return this.#dropped;
  }

  /**
   * The component's `component_specific` keys: `<cache>_cache_hit_rate`,
   * `<cache>_cache_latency_saved_ms` (per hit) for each of its caches.
   *
   * @example
   * ```ts
   * monitor.caches.specific('marketplace'); // { search_cache_hit_rate: 0.78, search_cache_latency_saved_ms: 112.5 }
   * ```
   */
  specific(component: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.#entries.values()) {
      if (e.component !== component) continue;
      const s = this.#stats(e);
      const k = keyPart(e.cache);
      const prefix = k.endsWith('cache') ? k : `${k}_cache`;
      put(out, `${prefix}_hit_rate`, s.hitRate);
      put(out, `${prefix}_latency_saved_ms`, s.latencySavedPerHitMs, 3);
    }
    return out;
  }

  #entry(component: string, cache: string): Entry | undefined {
    const key = `${component.length}:${component}${cache}`;
    const found = this.#entries.get(key);
    if (found !== undefined) return found;
    if (this.#entries.size >= this.#max) {
      this.#dropped++;
      this.#host.diagnostics.report(
        DiagnosticCode.METRIC_LIMIT,
        `caches: more than maxCaches (${this.#max}); ${cache} dropped`,
      );
      return undefined;
    }
    const o = { component };
    const requests = this.#host.counter('cache.requests', {
      ...o,
      description: 'Cache lookups, by cache and result (hit, miss)',
    });
    const entry: Entry = {
      cache,
      component,
      hits: 0,
      misses: 0,
      hitSum: 0,
      hitN: 0,
      missSum: 0,
      missN: 0,
      hitCounter: requests.bind({ cache, result: 'hit' }),
      missCounter: requests.bind({ cache, result: 'miss' }),
      ratio: this.#host
        .gauge('cache.hit_ratio', { ...o, description: 'Cache hits / lookups, by cache' })
        .bind({ cache }),
      saved: this.#host
        .gauge('cache.latency_saved_per_hit', {
          ...o,
          unit: 'ms',
          description: 'Latency one cache hit saves (miss − hit latency), by cache',
        })
        .bind({ cache }),
    };
    this.#entries.set(key, entry);
    return entry;
  }

  #stats(e: Entry): CacheStats {
    const lookups = e.hits + e.misses;
    const hitLatencyMs = e.hitN > 0 ? e.hitSum / e.hitN : NaN;
    const missLatencyMs = e.missN > 0 ? e.missSum / e.missN : NaN;
    let saved = missLatencyMs - hitLatencyMs;
    if (!Number.isFinite(saved)) {
      const penalty = this.#penalty.get(e.cache);
      saved = penalty === undefined ? NaN : penalty;
    }
    if (saved < 0) saved = 0;
    return {
      cache: e.cache,
      component: e.component,
      hits: e.hits,
      misses: e.misses,
      hitRate: lookups > 0 ? e.hits / lookups : NaN,
      hitLatencyMs,
      missLatencyMs,
      latencySavedPerHitMs: Number.isFinite(saved) ? round(saved, 3) : NaN,
      latencySavedMs: Number.isFinite(saved) ? round(saved * e.hits, 3) : NaN,
    };
  }
}
