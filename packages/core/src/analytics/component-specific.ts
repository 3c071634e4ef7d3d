/**
 * The spec's `component_specific`: domain ratios found among a component's metrics by
 * name (cache hit rate, conversion rate, accuracy...).
 */
import { snakeCase } from './bottlenecks.js';
import type { ComponentReading } from './source.js';
import { round } from './stats.js';

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
 * snake case and sorted, values rounded to 4 decimals. A gauge wins over a counter
 * pair giving the same key.
 *
 * @example
 * ```ts
 * readComponentSpecific(source.read('marketplace', 900, 'none', Date.now()));
 * // { conversion_rate: 0.034, recommendation_accuracy: 0.87, search_cache_hit_rate: 0.78 }
 * ```
 */
export function readComponentSpecific(reading: ComponentReading): Record<string, number> {
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
    const key = snakeCase(name);
    if (!RATIO_GAUGE_SUFFIXES.some((s) => key === s || key.endsWith(`_${s}`))) continue;
    if (!(value >= 0 && value <= 1)) continue;
    out.set(key, round(value, 4));
  }
  const sorted: Record<string, number> = {};
  for (const key of [...out.keys()].sort()) sorted[key] = out.get(key)!;
  return sorted;
}
