/**
 * `GET /metrics`: the latest stored values in the Prometheus text format, through the
 * same `toPrometheusText` as `@prsm/exporters/prometheus` (so names, `_total`,
 * timers in seconds and label rules match an in-process scrape). Histograms and
 * timers are summaries of the stored quantiles (the latest minute's digest, or the
 * latest window an exporter reported) with the cumulative `_sum` and `_count`.
 */
import type { DistributionSnapshot, MonitorSnapshot, SeriesSnapshot } from '@prsm/core';
import { toPrometheusText } from '@prsm/exporters/prometheus';

import type { StoredSeries } from '../store/types.js';

/** `p50` -> 0.5, `p999` -> 0.999, `p5` -> 0.05 (the REST exporter's keys). @internal */
export function quantileOfKey(key: string): number | undefined {
  const m = /^p(\d+)$/.exec(key);
  if (m === null) return undefined;
  const d = m[1]!;
  if (d === '100') return 1;
  const q = d.length <= 2 ? Number(d) / 100 : Number(`${d.slice(0, 2)}.${d.slice(2)}`) / 100;
  return q >= 0 && q <= 1 ? q : undefined;
}

function distribution(s: StoredSeries, withQuantiles: boolean): DistributionSnapshot {
  const quantiles: { quantile: number; value: number }[] = [];
  if (withQuantiles) {
    for (const [key, value] of Object.entries(s.quantiles)) {
      const q = quantileOfKey(key);
      if (q !== undefined) quantiles.push({ quantile: q, value });
    }
    quantiles.sort((a, b) => a.quantile - b.quantile);
  }
  return {
    windowSeconds: withQuantiles ? 60 : 'cumulative',
    coveredSeconds: 60,
    count: s.count,
    errors: 0,
    errorRate: 0,
    perSecond: 0,
    perMinute: 0,
    sum: s.sum,
    min: NaN,
    max: NaN,
    mean: s.value,
    quantiles,
    exemplars: [],
  };
}

/** The Prometheus text of the stored series. @internal */
export function storedToPrometheus(series: readonly StoredSeries[]): string {
  const out: SeriesSnapshot[] = series.map((s) => {
    const base = {
      name: s.name,
      component: s.component,
      // A series two services send is a row each: the service tells them apart (a
      // tag of that name, when the series has one, wins).
      tags: s.service === '' || 'service' in s.tags ? s.tags : { ...s.tags, service: s.service },
      labels: s.labels,
      overflow: false,
      unit: s.unit,
      description: '',
    };
    switch (s.metric_type) {
      case 'counter':
        return { ...base, type: 'counter', total: s.value, windows: [] };
      case 'gauge':
        return { ...base, type: 'gauge', value: s.value };
      default:
        return {
          ...base,
          type: s.metric_type,
          cumulative: distribution(s, false),
          windows: [distribution(s, true)],
        };
    }
  });
  const snapshot: MonitorSnapshot = { timestamp: 0, windows: [60], series: out, diagnostics: {} };
  return toPrometheusText(snapshot, { windowSeconds: 60 });
}
