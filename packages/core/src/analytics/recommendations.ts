/**
 * Recommendations: each rule fires on evidence (a bottleneck, a failing dependency,
 * a tail, a cache hit rate, a capacity forecast, an anomaly) and states its numbers.
 */
import type { DependencyStats } from './bottlenecks.js';
import type { OperationReading } from './source.js';
import { round } from './stats.js';
import type {
  AnomalyRecord,
  Bottleneck,
  CapacityForecast,
  Recommendation,
  RecommendationRule,
} from './types.js';

/**
 * Thresholds of the recommendation rules.
 *
 * @example
 * ```ts
 * const o: RecommendationOptions = { cacheHitRateTarget: 0.8, dependencyErrorRate: 0.05, tailRatio: 5 };
 * ```
 */
export interface RecommendationOptions {
  /** Hit rates below this are flagged. Default 0.8. */
  readonly cacheHitRateTarget?: number;
  /** A dependency failing at least this often (with `minDependencyCalls`) needs a breaker. Default 0.05. */
  readonly dependencyErrorRate?: number;
  /** Default 20. */
  readonly minDependencyCalls?: number;
  /** p99 / p50 at least this is a tail problem. Default 5. */
  readonly tailRatio?: number;
  /** Window samples an operation needs for the tail rule. Default 100. */
  readonly minTailSamples?: number;
  /** Anomalies this recent (ms before `now`) are recommended for investigation. Default 15 minutes. */
  readonly anomalyRecencyMs?: number;
  /** Recommendations at most. Default 10. */
  readonly limit?: number;
}

/**
 * The evidence the rules read.
 *
 * @example
 * ```ts
 * const e: RecommendationEvidence = {
 *   now: Date.now(), bottlenecks: [], dependencies: [], operations: [], componentSpecific: {}, capacity: [], anomalies: [],
 * };
 * ```
 */
export interface RecommendationEvidence {
  /** When the report is made. */
  readonly now: number;
  /** Bottlenecks (span and operation). */
  readonly bottlenecks: readonly Bottleneck[];
  /** Dependency calls and errors from the traces. */
  readonly dependencies: readonly DependencyStats[];
  /** The component's operations over the recent window. */
  readonly operations: readonly OperationReading[];
  /** The component's domain ratios. */
  readonly componentSpecific: Readonly<Record<string, number>>;
  /** Capacity forecasts. */
  readonly capacity: readonly CapacityForecast[];
  /** Anomalies, most recent first. */
  readonly anomalies: readonly AnomalyRecord[];
}

const PRIORITY: readonly RecommendationRule[] = [
  'scale',
  'anomaly',
  'circuit_breaker',
  'caching',
  'optimize_span',
  'tail_latency',
  'cache_hit_rate',
];

function pct(x: number): string {
  return `${round(x * 100, 1)}%`;
}

/**
 * The recommendations the evidence supports, by rule priority (scale, anomaly,
 * circuit_breaker, caching, optimize_span, tail_latency, cache_hit_rate):
 *
 * - `caching`: a `database_query_optimization` bottleneck of share s: "Implement query
 *   result caching for s% performance improvement" (caching removes that share).
 * - `optimize_span`: another span bottleneck: "Optimize X for N ms latency reduction",
 *   N half its mean self time on the slow traces (a 2× speed-up).
 * - `circuit_breaker`: a database or external dependency failing at
 *   `dependencyErrorRate` or more over `minDependencyCalls` calls.
 * - `tail_latency`: an operation with p99 / p50 ≥ `tailRatio` over `minTailSamples`.
 * - `cache_hit_rate`: a `*hit_rate` below `cacheHitRateTarget`.
 * - `scale`: a capacity forecast with advice (its threshold within the horizon).
 * - `anomaly`: the strongest anomaly of each metric within `anomalyRecencyMs`.
 *
 * @example
 * ```ts
 * buildRecommendations(evidence).map((r) => r.text);
 * // ['Add circuit breaker for payments-api resilience: 31 of 240 calls failed (12.9%)', ...]
 * ```
 */
export function buildRecommendations(
  evidence: RecommendationEvidence,
  options: RecommendationOptions = {},
): Recommendation[] {
  const out: Recommendation[] = [];
  for (const b of evidence.bottlenecks) {
    if (b.kind !== 'span') continue;
    const where = `${b.source} takes ${pct(b.share)} of the slowest ${b.samples} ${b.operation ?? ''} traces, ${round(b.meanSelfMs, 1)} ms each`;
    if (b.name === 'database_query_optimization') {
      out.push({
        rule: 'caching',
        text: `Implement query result caching for ${Math.round(b.share * 100)}% performance improvement (${where})`,
        evidence: {
          span: b.source,
          operation: b.operation ?? '',
          share: b.share,
          mean_self_ms: b.meanSelfMs,
          traces: b.samples,
        },
      });
    } else {
      const saving = round(b.meanSelfMs / 2, 1);
      out.push({
        rule: 'optimize_span',
        text: `Optimize ${b.source} for ${saving}ms latency reduction (${where}; halving it)`,
        evidence: {
          span: b.source,
          operation: b.operation ?? '',
          share: b.share,
          mean_self_ms: b.meanSelfMs,
          traces: b.samples,
          saving_ms: saving,
        },
      });
    }
  }
  const maxErrorRate = options.dependencyErrorRate ?? 0.05;
  const minCalls = options.minDependencyCalls ?? 20;
  for (const d of evidence.dependencies) {
    const rate = d.calls > 0 ? d.errors / d.calls : 0;
    if (d.calls < minCalls || rate < maxErrorRate) continue;
    out.push({
      rule: 'circuit_breaker',
      text: `Add circuit breaker for ${d.dependency} resilience: ${d.errors} of ${d.calls} calls failed (${pct(rate)})`,
      evidence: {
        dependency: d.dependency,
        kind: d.kind,
        calls: d.calls,
        errors: d.errors,
        error_rate: round(rate, 4),
      },
    });
  }
  const tailRatio = options.tailRatio ?? 5;
  const minTail = options.minTailSamples ?? 100;
  for (const o of evidence.operations) {
    if (o.count < minTail || !(o.p50 > 0) || !Number.isFinite(o.p99)) continue;
    const ratio = o.p99 / o.p50;
    if (ratio < tailRatio) continue;
    out.push({
      rule: 'tail_latency',
      text: `Reduce tail latency of ${o.name}: p99 ${round(o.p99, 1)} ms is ${round(ratio, 1)}× p50 ${round(o.p50, 1)} ms`,
      evidence: {
        operation: o.name,
        p50_ms: round(o.p50, 3),
        p99_ms: round(o.p99, 3),
        ratio: round(ratio, 2),
        samples: o.count,
      },
    });
  }
  const target = options.cacheHitRateTarget ?? 0.8;
  for (const [key, value] of Object.entries(evidence.componentSpecific)) {
    if (!key.endsWith('hit_rate') || value >= target) continue;
    out.push({
      rule: 'cache_hit_rate',
      text: `Improve ${key}: ${pct(value)} is below the ${pct(target)} target`,
      evidence: { metric: key, value, target },
    });
  }
  for (const f of evidence.capacity) {
    if (f.advice === undefined) continue;
    out.push({
      rule: 'scale',
      text: f.advice,
      evidence: {
        metric: f.metric,
        component: f.component,
        current: f.current,
        threshold: f.threshold,
        slope_per_day: f.slopePerDay,
        time_to_threshold_ms: f.timeToThresholdMs ?? -1,
      },
    });
  }
  const recency = options.anomalyRecencyMs ?? 15 * 60_000;
  const seen = new Set<string>();
  for (const a of evidence.anomalies) {
    if (evidence.now - a.timestamp > recency + 60_000) continue;
    const key = `${a.component}\u0000${a.metric}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const at = new Date(a.timestamp).toISOString().slice(11, 16);
    out.push({
      rule: 'anomaly',
      text: `Investigate ${a.metric} anomaly in ${a.component} at ${at} UTC: ${a.value} against a baseline of ${a.baseline} (score ${a.score})`,
      evidence: {
        metric: a.metric,
        component: a.component,
        timestamp: a.timestamp,
        value: a.value,
        baseline: a.baseline,
        score: a.score,
      },
    });
  }
  out.sort((a, b) => PRIORITY.indexOf(a.rule) - PRIORITY.indexOf(b.rule));
  return out.slice(0, options.limit ?? 10);
}
