/**
 * The spec's `component_specific`: domain ratios found among a component's metrics by
 * name (cache hit rate, conversion rate, accuracy...), plus what the component helpers
 * (`monitor.marketplace`, `.recommendation`, `.jobs`, `.caches`, `.costs`, the security
 * summary) contribute through {@link withComponentSpecific}.
 */
import { snakeCase } from './bottlenecks.js';
import type { AnalyticsSource, ComponentReading } from './source.js';
import { round } from './stats.js';

/**
 * The name prefix of gauges that carry a `component_specific` key as it is: a gauge
 * `component_specific.search_latency_p99_ms` of a component gives the key
 * `search_latency_p99_ms` (any finite value). The Monitor publishes its helpers' keys
 * this way before each export (all but those that come and go, such as a running job's
 * ETA or windowed percentiles), so a server reading the exported series (the
 * standalone `@prsm/server`) reports them too.
 *
 * @example
 * ```ts
 * monitor.gauge(`${SPECIFIC_GAUGE_PREFIX}queue_wait_p99_ms`, { component: 'billing' }).set(830);
 * ```
 */
export const SPECIFIC_GAUGE_PREFIX = 'component_specific.';

/**
 * A {@link ComponentReading} that carries the component helpers' keys.
 *
 * @example
 * ```ts
 * const reading: SpecificReading = { ...source.read('marketplace', 900, 'none', now), specific: { conversion_rate: 0.034 } };
 * ```
 */
export interface SpecificReading extends ComponentReading {
  /** Keys contributed by the component helpers; they win over keys found by name. */
  readonly specific?: Readonly<Record<string, number>>;
}

/**
 * What contributes `component_specific` keys for a component: called once per
 * analytics report with the component's reading; returns snake_case keys and finite
 * numbers (others are ignored). Must be cheap; a throw is caught (no keys).
 *
 * @example
 * ```ts
 * const provider: ComponentSpecificProvider = (component) =>
 *   component === 'marketplace' ? monitor.marketplace.specific() : {};
 * ```
 */
export type ComponentSpecificProvider = (
  component: string,
  reading: ComponentReading,
) => Readonly<Record<string, number>>;

/**
 * An {@link AnalyticsSource} whose readings carry the `provider`'s keys (as
 * {@link SpecificReading}), which {@link readComponentSpecific} merges. A failing
 * provider is reported to `onError` and contributes nothing.
 *
 * @example
 * ```ts
 * const source = withComponentSpecific(familiesSource(reader), (c) => helpers.specific(c));
 * ```
 */
export function withComponentSpecific(
  source: AnalyticsSource,
  provider: ComponentSpecificProvider,
  onError: (error: unknown) => void = () => {},
): AnalyticsSource {
  return {
    components: () => source.components(),
    read: (component, windowSeconds, quantiles, now): SpecificReading => {
      const reading = source.read(component, windowSeconds, quantiles, now);
      let specific: Readonly<Record<string, number>> | undefined;
      try {
        specific = provider(component, reading);
      } catch (error) {
        onError(error);
      }
      return specific === undefined ? reading : { ...reading, specific };
    },
  };
}

/**
 * Gauge name endings reported as they are (a gauge holding a ratio in 0..1), after
 * snake-casing the name: `search_cache_hit_rate`, `recommendation_accuracy`,
 * `conversion_rate`, `recommendation_click_rate`, `payment_success_rate`.
 *
 * @example
 * ```ts
 * RATIO_GAUGE_SUFFIXES.includes('hit_rate'); // true
 * ```
 */
export const RATIO_GAUGE_SUFFIXES: readonly string[] = Object.freeze([
  'hit_rate',
  'conversion_rate',
  'accuracy',
  'click_rate',
  'success_rate',
]);

/**
 * Counter pairs turned into ratios: `<prefix>hits` and `<prefix>misses` give
 * `<prefix>hit_rate` = hits / (hits + misses); `<prefix>conversions` and
 * `<prefix>visits` give `<prefix>conversion_rate` = conversions / visits;
 * `<prefix>correct` and `<prefix>incorrect` give `<prefix>accuracy` = correct /
 * (correct + incorrect). The prefix is any name ending with `.` or `_` (snake-cased in
 * the key), or empty (keys `cache_hit_rate`, `conversion_rate`, `accuracy`).
 *
 * @example
 * ```ts
 * COUNTER_RATIOS[0]; // { numerator: 'hits', other: 'misses', key: 'hit_rate', denominator: 'sum', bare: 'cache_hit_rate' }
 * ```
 */
export const COUNTER_RATIOS: readonly CounterRatio[] = Object.freeze([
  {
    numerator: 'hits',
    other: 'misses',
    key: 'hit_rate',
    denominator: 'sum',
    bare: 'cache_hit_rate',
  },
  {
    numerator: 'conversions',
    other: 'visits',
    key: 'conversion_rate',
    denominator: 'other',
    bare: 'conversion_rate',
  },
  {
    numerator: 'correct',
    other: 'incorrect',
    key: 'accuracy',
    denominator: 'sum',
    bare: 'accuracy',
  },
]);

/**
 * One rule of {@link COUNTER_RATIOS}.
 *
 * @example
 * ```ts
 * const rule: CounterRatio = { numerator: 'hits', other: 'misses', key: 'hit_rate', denominator: 'sum', bare: 'cache_hit_rate' };
 * ```
 */
export interface CounterRatio {
  /** The counter's name ending that is counted. */
  readonly numerator: string;
  /** The paired counter's name ending. */
  readonly other: string;
  /** The key's ending. */
  readonly key: string;
  /** `sum`: numerator / (numerator + other); `other`: numerator / other. */
  readonly denominator: 'sum' | 'other';
  /** The key without a prefix. */
  readonly bare: string;
}

/**
 * The component's domain ratios: ratio gauges ({@link RATIO_GAUGE_SUFFIXES}, values in
 * 0..1) and counter pairs ({@link COUNTER_RATIOS}, since the counters began), keys in
 * snake case and sorted, values rounded to 4 decimals; gauges named with
 * {@link SPECIFIC_GAUGE_PREFIX} (keys as they are). A gauge wins over a counter pair
 * giving the same key; the helpers' keys ({@link SpecificReading}) win over all.
 *
 * @example
 * ```ts
 * readComponentSpecific(source.read('marketplace', 900, 'none', Date.now()));
 * // { conversion_rate: 0.034, recommendation_accuracy: 0.87, search_cache_hit_rate: 0.78 }
 * ```
 */
export function readComponentSpecific(reading: SpecificReading): Record<string, number> {
  const out = new Map<string, number>();
  for (const [name, total] of reading.counters) {
    for (const rule of COUNTER_RATIOS) {
      if (!name.endsWith(rule.numerator)) continue;
      const prefix = name.slice(0, name.length - rule.numerator.length);
      if (prefix !== '' && !prefix.endsWith('.') && !prefix.endsWith('_')) continue;
      const other = reading.counters.get(prefix + rule.other);
      if (other === undefined) continue;
      const denominator = rule.denominator === 'sum' ? total + other : other;
      if (!(denominator > 0)) continue;
      const key = prefix === '' ? rule.bare : `${snakeCase(prefix)}_${rule.key}`;
      out.set(key, round(total / denominator, 4));
    }
  }
  for (const [name, value] of reading.gauges) {
    if (name.startsWith(SPECIFIC_GAUGE_PREFIX)) {
      // In process the helpers' own keys (reading.specific, merged below) override these.
      const key = name.slice(SPECIFIC_GAUGE_PREFIX.length);
      if (key !== '' && Number.isFinite(value)) out.set(key, value);
      continue;
    }
    const key = snakeCase(name);
    if (!RATIO_GAUGE_SUFFIXES.some((s) => key === s || key.endsWith(`_${s}`))) continue;
    if (!(value >= 0 && value <= 1)) continue;
    out.set(key, round(value, 4));
  }
  const specific = reading.specific;
  if (specific !== undefined && specific !== null && typeof specific === 'object') {
    for (const [key, value] of Object.entries(specific)) {
      if (typeof value === 'number' && Number.isFinite(value) && key !== '') out.set(key, value);
    }
  }
  const sorted: Record<string, number> = {};
  for (const key of [...out.keys()].sort()) sorted[key] = out.get(key)!;
  return sorted;
}
