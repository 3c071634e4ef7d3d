/**
 * revenue/: the spec's cost metrics and its monitoring ROI calculation, as pure
 * functions of their inputs. Imports nothing.
 */

/**
 * Inputs of {@link calculateMonitoringRoi}, all per month and in one currency. Every
 * field defaults to the spec's example.
 *
 * @example
 * ```ts
 * const input: MonitoringRoiInput = { preventedIncidents: 4, avgIncidentCost: 8000 };
 * ```
 */
export interface MonitoringRoiInput {
  /** Incidents prevented by proactive monitoring, per month. Default 12. */
  readonly preventedIncidents?: number;
  /** The average cost of an incident. Default 5000. */
  readonly avgIncidentCost?: number;
  /** Infrastructure savings from performance optimisation, per month. Default 2500. */
  readonly infrastructureSavings?: number;
  /** Developer productivity gained, per month. Default 8000. */
  readonly developerProductivityGain?: number;
  /** What monitoring costs, per month. Default 1500. */
  readonly monitoringCost?: number;
  /**
   * A one-time setup cost. When given, `payback_period_days` is computed: the days of
   * net savings (`(monthly_savings − monitoring_investment) / 30` a day) that repay it,
   * rounded up. Without it, `paybackPeriodDays` is reported as given.
   */
  readonly setupCost?: number;
  /**
   * The payback period reported when no `setupCost` is given. Default 8, the spec's
   * stated figure (the spec gives it as a fixed estimate, not derived from the other
   * inputs).
   */
  readonly paybackPeriodDays?: number;
}

/**
 * The result of {@link calculateMonitoringRoi}, in the spec's keys.
 *
 * @example
 * ```ts
 * const roi: MonitoringRoi = calculateMonitoringRoi();
 * roi.roi_percentage; // 4600
 * ```
 */
export interface MonitoringRoi {
  /** `preventedIncidents × avgIncidentCost + infrastructureSavings + developerProductivityGain`. */
  readonly monthly_savings: number;
  /** `monitoringCost`. */
  readonly monitoring_investment: number;
  /** `(monthly_savings − monitoring_investment) / monitoring_investment × 100`. */
  readonly roi_percentage: number;
  /** See {@link MonitoringRoiInput.setupCost}. */
  readonly payback_period_days: number;
}

function nonNegative(value: unknown, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${option} must be a finite number >= 0`);
  }
  return value;
}

/**
 * The spec's monitoring ROI: with no arguments, exactly the spec's example
 * (`monthly_savings` 70500, `monitoring_investment` 1500, `roi_percentage` 4600,
 * `payback_period_days` 8). Throws a `TypeError` naming a bad input.
 *
 * @example
 * ```ts
 * import { calculateMonitoringRoi } from '@prsm/business-outcomes';
 *
 * calculateMonitoringRoi();
 * // { monthly_savings: 70500, monitoring_investment: 1500, roi_percentage: 4600, payback_period_days: 8 }
 * calculateMonitoringRoi({ preventedIncidents: 3, setupCost: 20000 });
 * ```
 */
export function calculateMonitoringRoi(input: MonitoringRoiInput = {}): MonitoringRoi {
  if (input === null || typeof input !== 'object') {
    throw new TypeError('calculateMonitoringRoi: input must be an object');
  }
  const incidents = nonNegative(input.preventedIncidents, 12, 'preventedIncidents');
  const incidentCost = nonNegative(input.avgIncidentCost, 5000, 'avgIncidentCost');
  const infrastructure = nonNegative(input.infrastructureSavings, 2500, 'infrastructureSavings');
  const productivity = nonNegative(
    input.developerProductivityGain,
    8000,
    'developerProductivityGain',
  );
  const cost = nonNegative(input.monitoringCost, 1500, 'monitoringCost');
  if (cost === 0) throw new TypeError('monitoringCost must be greater than 0');
  const savings = incidents * incidentCost + infrastructure + productivity;
  let payback = nonNegative(input.paybackPeriodDays, 8, 'paybackPeriodDays');
  if (input.setupCost !== undefined) {
    const setup = nonNegative(input.setupCost, 0, 'setupCost');
    const perDay = (savings - cost) / 30;
    payback = perDay > 0 ? Math.ceil(setup / perDay) : Infinity;
  }
  return {
    monthly_savings: savings,
    monitoring_investment: cost,
    roi_percentage: ((savings - cost) / cost) * 100,
    payback_period_days: payback,
  };
}

/**
 * Inputs of {@link calculateCostMetrics}: what was spent over a period and how much it
 * served. A metric whose divisor is missing or 0 is left out of the result.
 *
 * @example
 * ```ts
 * const input: CostInput = { infrastructureCost: 31250, users: 12500 };
 * ```
 */
export interface CostInput {
  /** Infrastructure spend. */
  readonly infrastructureCost?: number;
  /** Users served (for `infrastructure_cost_per_user`). */
  readonly users?: number;
  /** API spend. */
  readonly apiCost?: number;
  /** Requests served (for `api_cost_per_request`). */
  readonly requests?: number;
  /** ML inference spend. */
  readonly mlInferenceCost?: number;
  /** Predictions made (for `ml_inference_cost_per_prediction`). */
  readonly predictions?: number;
  /** Storage spend per month. */
  readonly storageCost?: number;
  /** GB stored (for `storage_cost_per_gb_month`). */
  readonly storageGb?: number;
  /** Bandwidth spend. */
  readonly bandwidthCost?: number;
  /** GB transferred (for `bandwidth_cost_per_gb`). */
  readonly bandwidthGb?: number;
}

/**
 * The spec's cost metrics, in its keys. Only the metrics whose inputs were given appear.
 *
 * @example
 * ```ts
 * const costs: CostMetrics = calculateCostMetrics({ apiCost: 120, requests: 120000 });
 * costs.api_cost_per_request; // 0.001
 * ```
 */
export interface CostMetrics {
  readonly infrastructure_cost_per_user?: number;
  readonly api_cost_per_request?: number;
  readonly ml_inference_cost_per_prediction?: number;
  readonly storage_cost_per_gb_month?: number;
  readonly bandwidth_cost_per_gb?: number;
}

/**
 * The spec's cost metrics (cost per user, per request, per prediction, per GB stored
 * a month, per GB transferred) from spend and volume. Throws a `TypeError` naming a
 * bad input.
 *
 * @example
 * ```ts
 * import { calculateCostMetrics } from '@prsm/business-outcomes';
 *
 * calculateCostMetrics({
 *   infrastructureCost: 31250, users: 12500,      // 2.50 per user
 *   apiCost: 125, requests: 125000,               // 0.001 per request
 *   mlInferenceCost: 42.5, predictions: 8500,     // 0.005 per prediction
 * });
 * ```
 */
export function calculateCostMetrics(input: CostInput): CostMetrics {
  if (input === null || typeof input !== 'object') {
    throw new TypeError('calculateCostMetrics: input must be an object');
  }
  const out: Record<string, number> = {};
  const pairs: readonly (readonly [keyof CostInput, keyof CostInput, keyof CostMetrics])[] = [
    ['infrastructureCost', 'users', 'infrastructure_cost_per_user'],
    ['apiCost', 'requests', 'api_cost_per_request'],
    ['mlInferenceCost', 'predictions', 'ml_inference_cost_per_prediction'],
    ['storageCost', 'storageGb', 'storage_cost_per_gb_month'],
    ['bandwidthCost', 'bandwidthGb', 'bandwidth_cost_per_gb'],
  ];
  for (const [costKey, volumeKey, metric] of pairs) {
    const cost = input[costKey];
    const volume = input[volumeKey];
    if (cost === undefined || volume === undefined) continue;
    nonNegative(cost, 0, costKey);
    nonNegative(volume, 0, volumeKey);
    if (volume > 0) out[metric] = cost / volume;
  }
  return out;
}
