import { describe, expect, it } from 'vitest';
import {
  readComponentSpecific,
  SPECIFIC_GAUGE_PREFIX,
  withComponentSpecific,
} from './component-specific.js';
import type { AnalyticsSource, ComponentReading } from './source.js';

function reading(
  component: string,
  gauges: [string, number][] = [],
  counters: [string, number][] = [],
): ComponentReading {
  return {
    component,
    operations: [],
    latencyP99: NaN,
    coveredSeconds: 60,
    counters: new Map(counters),
    gauges: new Map(gauges),
  };
}

const fixed: AnalyticsSource = {
  components: () => ['marketplace', 'api_gateway'],
  read: (component) =>
    reading(
      component,
      [['search_cache_hit_rate', 0.5]],
      [
        ['search.cache.hits', 3],
        ['search.cache.misses', 1],
      ],
    ),
};

describe('readComponentSpecific', () => {
  it('finds ratio gauges and counter pairs by name', () => {
    expect(
      readComponentSpecific(
        reading(
          'm',
          [
            ['recommendation_accuracy', 0.87],
            ['queue_depth', 4],
          ],
          [
            ['checkout.conversions', 34],
            ['checkout.visits', 1000],
          ],
        ),
      ),
    ).toEqual({ checkout_conversion_rate: 0.034, recommendation_accuracy: 0.87 });
  });
});

describe('withComponentSpecific', () => {
  it('adds the provider keys, which win over keys found by name, sorted', () => {
    const source = withComponentSpecific(fixed, (component, r): Record<string, number> =>
      component === 'marketplace'
        ? { search_cache_hit_rate: 0.78, conversion_rate: 0.034, seen_counters: r.counters.size }
        : {},
    );
    expect(source.components()).toEqual(['marketplace', 'api_gateway']);
    const out = readComponentSpecific(source.read('marketplace', 60, 'none', 0));
    expect(out).toEqual({ conversion_rate: 0.034, search_cache_hit_rate: 0.78, seen_counters: 2 });
    expect(Object.keys(out)).toEqual(['conversion_rate', 'search_cache_hit_rate', 'seen_counters']);
    expect(readComponentSpecific(source.read('api_gateway', 60, 'none', 0))).toEqual({
      search_cache_hit_rate: 0.5,
    });
  });

  it('ignores non-finite values and a throwing provider (reported)', () => {
    const errors: unknown[] = [];
    const bad = withComponentSpecific(fixed, () => ({ nan: Number.NaN, inf: Infinity, ok: 1 }));
    expect(readComponentSpecific(bad.read('x', 60, 'none', 0))).toEqual({
      ok: 1,
      search_cache_hit_rate: 0.5,
    });
    const throwing = withComponentSpecific(
      fixed,
      () => {
        throw new Error('boom');
      },
      (e) => errors.push(e),
    );
    expect(readComponentSpecific(throwing.read('x', 60, 'none', 0))).toEqual({
      search_cache_hit_rate: 0.5,
    });
    expect(errors).toHaveLength(1);
  });
});

describe('SPECIFIC_GAUGE_PREFIX', () => {
  it('turns a prefixed gauge into its key as it is; the provider still wins', () => {
    const r = reading('billing', [
      [`${SPECIFIC_GAUGE_PREFIX}queue_wait_p99_ms`, 830],
      [`${SPECIFIC_GAUGE_PREFIX}conversion_rate`, 0.5],
      [`${SPECIFIC_GAUGE_PREFIX}hit_rate_bad`, Number.NaN],
    ]);
    expect(readComponentSpecific(r)).toEqual({ conversion_rate: 0.5, queue_wait_p99_ms: 830 });
    expect(readComponentSpecific({ ...r, specific: { conversion_rate: 0.25 } })).toEqual({
      conversion_rate: 0.25,
      queue_wait_p99_ms: 830,
    });
  });
});
