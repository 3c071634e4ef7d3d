/**
 * The spec's "Cost Analysis": infrastructure cost per user, API cost per request, ML
 * inference cost per prediction, storage cost per GB-month and bandwidth cost per GB,
 * from configured unit prices and the volumes the monitor measures. Costs are monthly
 * run rates projected from the measured rates (a month is 730 hours).
 */
import { type Clock, systemClock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import {
  type ComponentEfficiency,
  type EfficiencyOptions,
  EfficiencyTracker,
} from './efficiency.js';
import { type ComponentHost, isFiniteNumber, put, readWindow } from './host.js';
import { type ComponentName, MonitoringComponent } from './names.js';

/**
 * Hours in a month, as cloud price sheets count them.
 *
 * @example
 * ```ts
 * const monthly = computePerHour * HOURS_PER_MONTH;
 * ```
 */
export const HOURS_PER_MONTH = 730;

/**
 * Unit prices and where volumes are read, for `monitor.costs` (`new Monitor({ costs })`
 * or `monitor.costs.configure(...)`). Prices are in `currency` and must be ≥ 0.
 *
 * @example
 * ```ts
 * new Monitor({
 *   costs: {
 *     currency: 'USD',
 *     computePerHour: 3.4,        // the service's instances
 *     inferencePerHour: 2.5,      // the GPU serving the model
 *     storagePerGbMonth: 0.1,
 *     bandwidthPerGb: 0.05,
 *     otherPerMonth: 900,         // database, CDN plan...
 *   },
 * });
 * ```
 */
export interface CostOptions {
  /** The currency of every price (a label). Default `'USD'`. */
  readonly currency?: string;
  /** What the service's compute costs per hour (all instances). */
  readonly computePerHour?: number;
  /** What the inference hardware costs per hour. */
  readonly inferencePerHour?: number;
  /** Storage price per GB-month. */
  readonly storagePerGbMonth?: number;
  /** Bandwidth price per GB transferred. */
  readonly bandwidthPerGb?: number;
  /** Other infrastructure per month (managed database, CDN plan...). */
  readonly otherPerMonth?: number;
  /** Components whose timers count as API requests. Default `['api_gateway']`. */
  readonly requestComponents?: readonly ComponentName[];
  /** Components whose `ml.predictions` counter counts predictions. Default `['recommendation']`. */
  readonly predictionComponents?: readonly ComponentName[];
  /** The window volumes are measured over (a configured window). Default the longest up to 900 s. */
  readonly windowSeconds?: number;
  /** Seconds between refreshes of the cost gauges (system clock only). Default 60. */
  readonly refreshSeconds?: number;
  /**
   * The resource efficiency trends per component (`monitor.costs.efficiency()`); only
   * at construction (`new Monitor({ costs: { efficiency } })`).
   */
  readonly efficiency?: EfficiencyOptions;
}

/**
 * The measured volumes and the costs they give. `null`: not computable (a price or a
 * volume missing, or a zero volume to divide by).
 *
 * @example
 * ```ts
 * const r: CostReport = monitor.costs.report();
 * console.log(r.api_cost_per_request, r.volumes.requests_per_hour);
 * ```
 */
export interface CostReport {
  /** The prices' currency. */
  readonly currency: string;
  /** The window the rates were measured over, seconds. */
  readonly window_seconds: number;
  /** What was measured. */
  readonly volumes: {
    readonly requests_per_hour: number | null;
    readonly predictions_per_hour: number | null;
    readonly bandwidth_gb_per_hour: number | null;
    readonly storage_gb: number | null;
    readonly active_users: number | null;
  };
  /** Compute + inference + other + storage + bandwidth, per month. */
  readonly infrastructure_cost_per_month: number | null;
  /** The monthly infrastructure cost ÷ active users. */
  readonly infrastructure_cost_per_user: number | null;
  /** Compute per hour ÷ requests per hour. */
  readonly api_cost_per_request: number | null;
  /** Inference hardware per hour ÷ predictions per hour. */
  readonly ml_inference_cost_per_prediction: number | null;
  /** The storage price per GB-month (configured). */
  readonly storage_cost_per_gb_month: number | null;
  /** Storage GB × its price. */
  readonly storage_cost_per_month: number | null;
  /** The bandwidth price per GB (configured). */
  readonly bandwidth_cost_per_gb: number | null;
  /** Bandwidth GB per hour × 730 × its price. */
  readonly bandwidth_cost_per_month: number | null;
  /** Resource efficiency and its trend per component (see `monitor.costs.efficiency()`). */
  readonly efficiency: readonly ComponentEfficiency[];
}

/**
 * What the cost tracker reads besides the host: the machine's network byte counter.
 *
 * @example
 * ```ts
 * const sources: CostSources = { networkBytes: () => 1_048_576_000 + 2_097_152_000 };
 * ```
 */
export interface CostSources {
  /** Network bytes sent + received since boot (the resource sampler), when known. */
  readonly networkBytes?: () => number | undefined;
  /** The components with series now (for the efficiency trends); none when absent. */
  readonly components?: () => readonly string[];
}

const PRICE_KEYS = [
  'computePerHour',
  'inferencePerHour',
  'storagePerGbMonth',
  'bandwidthPerGb',
  'otherPerMonth',
] as const;

const GAUGES: readonly (keyof CostReport)[] = [
  'infrastructure_cost_per_month',
  'infrastructure_cost_per_user',
  'api_cost_per_request',
  'ml_inference_cost_per_prediction',
  'storage_cost_per_gb_month',
  'storage_cost_per_month',
  'bandwidth_cost_per_gb',
  'bandwidth_cost_per_month',
];

interface Config {
  currency: string;
  computePerHour: number | undefined;
  inferencePerHour: number | undefined;
  storagePerGbMonth: number | undefined;
  bandwidthPerGb: number | undefined;
  otherPerMonth: number | undefined;
  requestComponents: readonly string[];
  predictionComponents: readonly string[];
  windowSeconds: number;
  refreshSeconds: number;
}

/**
 * Cost analytics: `monitor.costs`. Volumes are measured: requests from the timers of
 * `requestComponents` (the HTTP middleware's), predictions from the `ml.predictions`
 * counter (`monitor.recommendation.inference` and `recordPredictions`), bandwidth from
 * `recordBandwidth` or else the resource sampler's network bytes, storage from
 * `setStorage`, active users from `setActiveUsers` or else the `daily_active_users`
 * gauge of the `business` component. The results are gauges of the `costs` component
 * (`api_cost_per_request`, ... ; unit: the currency as `{USD}`), refreshed on every `report()` and,
 * with the system clock, every `refreshSeconds`; `analytics({ component: 'costs' })`
 * lists them in `component_specific`.
 *
 * @example
 * ```ts
 * monitor.costs.configure({ computePerHour: 3.4, inferencePerHour: 2.5, storagePerGbMonth: 0.1 });
 * monitor.costs.setStorage(420);
 * monitor.costs.setActiveUsers(12_500);
 * const { api_cost_per_request, infrastructure_cost_per_user } = monitor.costs.report();
 * ```
 */
export class CostTracker {
  readonly #host: ComponentHost;
  readonly #clock: Clock;
  readonly #sources: CostSources;
  #config: Config;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #storageGb: number | undefined;
  #users: number | undefined;
  #bandwidthRecorded = false;
  #netFirst: { at: number; bytes: number } | undefined;
  readonly #efficiency: EfficiencyTracker;

  /** Throws a `TypeError` naming a bad option. */
  constructor(host: ComponentHost, options: CostOptions = {}, sources: CostSources = {}) {
    this.#host = host;
    this.#clock = host.clock;
    this.#sources = sources;
    this.#config = this.#check(
      options,
      {
        currency: 'USD',
        computePerHour: undefined,
        inferencePerHour: undefined,
        storagePerGbMonth: undefined,
        bandwidthPerGb: undefined,
        otherPerMonth: undefined,
        requestComponents: [MonitoringComponent.API_GATEWAY],
        predictionComponents: [MonitoringComponent.RECOMMENDATION],
        windowSeconds: readWindow(host.windows),
        refreshSeconds: 60,
      },
      true,
    );
    this.#efficiency = new EfficiencyTracker(host, options.efficiency ?? {}, {
      components: () => sources.components?.() ?? [],
      computePerHour: () => this.#config.computePerHour,
    });
    this.#schedule();
  }

  /**
   * Sets prices and options (merged over the current ones). Throws a `TypeError` naming
   * a bad one, changing nothing.
   *
   * @example
   * ```ts
   * monitor.costs.configure({ bandwidthPerGb: 0.05, currency: 'EUR' });
   * ```
   */
  configure(options: CostOptions): void {
    this.#config = this.#check(options, this.#config);
    this.#schedule();
    this.refresh();
  }

  /**
   * Adds predictions made outside `monitor.recommendation` (counter `ml.predictions`).
   *
   * @example
   * ```ts
   * monitor.costs.recordPredictions(64, 'recommendation'); // one batch of 64
   * ```
   */
  recordPredictions(
    count: number,
    component: ComponentName = MonitoringComponent.RECOMMENDATION,
  ): void {
    if (!isFiniteNumber(count) || count < 0) {
      this.#invalid('recordPredictions(count) needs a number >= 0');
      return;
    }
    this.#host
      .counter('ml.predictions', { component, description: 'Model predictions made' })
      .inc(count);
  }

  /**
   * Adds bytes transferred (counter `cost.bandwidth_bytes` of `costs`); once called,
   * bandwidth comes from these instead of the machine's network counters.
   *
   * @example
   * ```ts
   * monitor.costs.recordBandwidth(Number(res.getHeader('content-length') ?? 0));
   * ```
   */
  recordBandwidth(bytes: number): void {
    if (!isFiniteNumber(bytes) || bytes < 0) {
      this.#invalid('recordBandwidth(bytes) needs a number >= 0');
      return;
    }
    this.#bandwidthRecorded = true;
    this.#host
      .counter('cost.bandwidth_bytes', {
        component: MonitoringComponent.COSTS,
        unit: 'By',
        description: 'Bytes transferred, for the bandwidth cost',
      })
      .inc(bytes);
  }

  /**
   * The GB stored now (gauge `cost.storage_gb` of `costs`).
   *
   * @example
   * ```ts
   * monitor.costs.setStorage(420.5);
   * ```
   */
  setStorage(gb: number): void {
    if (!isFiniteNumber(gb) || gb < 0) {
      this.#invalid('setStorage(gb) needs a number >= 0');
      return;
    }
    this.#storageGb = gb;
    this.#host
      .gauge('cost.storage_gb', {
        component: MonitoringComponent.COSTS,
        unit: 'GBy',
        description: 'GB stored',
      })
      .set(gb);
  }

  /**
   * Active users now (gauge `cost.active_users` of `costs`), the cost per user's divisor.
   *
   * @example
   * ```ts
   * monitor.costs.setActiveUsers(12_500);
   * ```
   */
  setActiveUsers(users: number): void {
    if (!isFiniteNumber(users) || users < 0) {
      this.#invalid('setActiveUsers(users) needs a number >= 0');
      return;
    }
    this.#users = users;
    this.#host
      .gauge('cost.active_users', {
        component: MonitoringComponent.COSTS,
        description: 'Active users',
      })
      .set(users);
  }

  /**
   * The measured volumes and the costs, as of now; sets the cost gauges. Never throws.
   *
   * @example
   * ```ts
   * console.log(monitor.costs.report().ml_inference_cost_per_prediction);
   * ```
   */
  report(): CostReport {
    const c = this.#config;
    const nil = (v: number): number | null => (Number.isFinite(v) ? v : null);
    let requests = NaN;
    let predictions = NaN;
    let bandwidth = NaN;
    let users = this.#users ?? NaN;
    try {
      requests = this.#requestsPerHour();
      predictions = this.#predictionsPerHour();
      bandwidth = this.#bandwidthGbPerHour();
      if (this.#users === undefined && this.#host.readComponent !== undefined) {
        users =
          this.#host
            .readComponent(MonitoringComponent.BUSINESS, c.windowSeconds)
            .gauges.get('daily_active_users') ?? NaN;
      }
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'costs' });
    }
    const storage = this.#storageGb ?? NaN;
    const price = (v: number | undefined): number => (v === undefined ? NaN : v);
    const storageMonthly = storage * price(c.storagePerGbMonth);
    const bandwidthMonthly = bandwidth * HOURS_PER_MONTH * price(c.bandwidthPerGb);
    const parts = [
      price(c.computePerHour) * HOURS_PER_MONTH,
      price(c.inferencePerHour) * HOURS_PER_MONTH,
      price(c.otherPerMonth),
      storageMonthly,
      bandwidthMonthly,
    ].filter((v) => Number.isFinite(v));
    const monthly = parts.length > 0 ? parts.reduce((a, b) => a + b, 0) : NaN;
    const report: CostReport = {
      currency: c.currency,
      window_seconds: c.windowSeconds,
      volumes: {
        requests_per_hour: nil(requests),
        predictions_per_hour: nil(predictions),
        bandwidth_gb_per_hour: nil(bandwidth),
        storage_gb: nil(storage),
        active_users: nil(users),
      },
      infrastructure_cost_per_month: nil(monthly),
      infrastructure_cost_per_user: users > 0 ? nil(monthly / users) : null,
      api_cost_per_request: requests > 0 ? nil(price(c.computePerHour) / requests) : null,
      ml_inference_cost_per_prediction:
        predictions > 0 ? nil(price(c.inferencePerHour) / predictions) : null,
      storage_cost_per_gb_month: nil(price(c.storagePerGbMonth)),
      storage_cost_per_month: nil(storageMonthly),
      bandwidth_cost_per_gb: nil(price(c.bandwidthPerGb)),
      bandwidth_cost_per_month: nil(bandwidthMonthly),
      efficiency: this.#efficiency.all(),
    };
    this.#setGauges(report);
    return report;
  }

  /**
   * Recomputes the cost gauges now (what the timer does).
   *
   * @example
   * ```ts
   * monitor.costs.refresh(); // before a Prometheus scrape in a test
   * ```
   */
  refresh(): void {
    this.report();
  }

  /**
   * The `costs` component's `component_specific` keys: the report's cost fields that
   * are known (`infrastructure_cost_per_user`, `api_cost_per_request`,
   * `ml_inference_cost_per_prediction`, `storage_cost_per_gb_month`,
   * `bandwidth_cost_per_gb`, the monthly totals) and the volumes (`requests_per_hour`,
   * `predictions_per_hour`, `bandwidth_gb_per_hour`, `storage_gb`, `active_users`).
   *
   * @example
   * ```ts
   * monitor.costs.specific().api_cost_per_request; // 0.001
   * ```
   */
  specific(): Record<string, number> {
    const r = this.report();
    const out: Record<string, number> = {};
    for (const key of GAUGES) {
      const v = r[key];
      if (typeof v === 'number') put(out, key, v, 6);
    }
    for (const [key, v] of Object.entries(r.volumes)) if (v !== null) put(out, key, v, 6);
    return out;
  }

  /**
   * Resource efficiency per component, each figure with its trend: operations per
   * CPU-second of the process, per GB-second of its resident memory, and the compute
   * price per 1,000 operations, period by period (`efficiency.periodSeconds`, default
   * 60 s). With a component: that one, or `undefined` before its first closed period.
   * Closes a due period first; never throws.
   *
   * @example
   * ```ts
   * const e = monitor.costs.efficiency('api_gateway');
   * if (e?.requests_per_cpu_second.trend === 'decreasing') console.warn('each request costs more CPU');
   * monitor.costs.efficiency().map((c) => [c.component, c.cost_per_1k_requests.latest]);
   * ```
   */
  efficiency(): ComponentEfficiency[];
  efficiency(component: string): ComponentEfficiency | undefined;
  efficiency(component?: string): ComponentEfficiency[] | ComponentEfficiency | undefined {
    return component === undefined ? this.#efficiency.all() : this.#efficiency.get(component);
  }

  /**
   * The component's efficiency keys for `component_specific` (`efficiency_<figure>` and
   * `efficiency_<figure>_trend`: 1 increasing, 0 stable, −1 decreasing).
   *
   * @example
   * ```ts
   * monitor.costs.efficiencySpecific('api_gateway').efficiency_requests_per_cpu_second;
   * ```
   */
  efficiencySpecific(component: string): Record<string, number> {
    return this.#efficiency.specific(component);
  }

  /**
   * The components that have efficiency figures.
   *
   * @example
   * ```ts
   * monitor.costs.efficiencyComponents(); // ['api_gateway']
   * ```
   */
  efficiencyComponents(): string[] {
    this.#efficiency.sample();
    return this.#efficiency.components();
  }

  /**
   * Whether any price is configured.
   *
   * @example
   * ```ts
   * if (!monitor.costs.configured()) monitor.costs.configure({ computePerHour: 3.4 });
   * ```
   */
  configured(): boolean {
    return PRICE_KEYS.some((k) => this.#config[k] !== undefined);
  }

  /**
   * Stops the refresh timer (the Monitor calls it on shutdown).
   *
   * @example
   * ```ts
   * monitor.costs.stop();
   * ```
   */
  stop(): void {
    this.#stopped = true;
    this.#efficiency.stop();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #requestsPerHour(): number {
    const host = this.#host;
    if (host.readComponent === undefined) return NaN;
    let count = 0;
    let seconds = 0;
    for (const component of this.#config.requestComponents) {
      const r = host.readComponent(component, this.#config.windowSeconds);
      for (const op of r.operations) count += op.count;
      if (r.operations.length > 0 && r.coveredSeconds > seconds) seconds = r.coveredSeconds;
    }
    return seconds > 0 ? (count / seconds) * 3600 : NaN;
  }

  #predictionsPerHour(): number {
    let perSecond = 0;
    let any = false;
    for (const component of this.#config.predictionComponents) {
      const r = this.#host.getRates('ml.predictions', {
        component,
        windowSeconds: this.#config.windowSeconds,
      });
      if (r === undefined) continue;
      any = true;
      perSecond += r.count / Math.max(0.001, r.coveredSeconds);
    }
    return any ? perSecond * 3600 : NaN;
  }

  #bandwidthGbPerHour(): number {
    if (this.#bandwidthRecorded) {
      const r = this.#host.getRates('cost.bandwidth_bytes', {
        component: MonitoringComponent.COSTS,
        windowSeconds: this.#config.windowSeconds,
      });
      return r === undefined ? NaN : ((r.count / Math.max(0.001, r.coveredSeconds)) * 3600) / 1e9;
    }
    const bytes = this.#sources.networkBytes?.();
    if (bytes === undefined || !Number.isFinite(bytes)) return NaN;
    const now = this.#clock.now();
    if (this.#netFirst === undefined || bytes < this.#netFirst.bytes) {
      this.#netFirst = { at: now, bytes };
      return NaN;
    }
    const seconds = (now - this.#netFirst.at) / 1000;
    return seconds > 0 ? (((bytes - this.#netFirst.bytes) / seconds) * 3600) / 1e9 : NaN;
  }

  #setGauges(report: CostReport): void {
    try {
      for (const key of GAUGES) {
        const v = report[key];
        if (typeof v !== 'number') continue;
        this.#host
          .gauge(key, {
            component: MonitoringComponent.COSTS,
            unit: `{${report.currency}}`,
            description: `The spec's ${key} (see monitor.costs)`,
          })
          .set(v);
      }
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'costs gauges' });
    }
  }

  #schedule(): void {
    if (this.#stopped || this.#clock !== systemClock) return;
    const c = this.#config;
    const priced = PRICE_KEYS.some((k) => c[k] !== undefined);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!priced) return;
    this.#timer = setInterval(() => this.refresh(), c.refreshSeconds * 1000);
    this.#timer.unref();
  }

  #check(options: CostOptions, base: Config, initial = false): Config {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('costs must be an object of prices');
    }
    if (options.efficiency !== undefined && !initial) {
      throw new TypeError('costs.efficiency is set at construction only');
    }
    const next: Config = { ...base };
    for (const key of PRICE_KEYS) {
      const v: unknown = options[key];
      if (v === undefined) continue;
      if (!isFiniteNumber(v) || v < 0) throw new TypeError(`costs.${key} must be a number >= 0`);
      next[key] = v;
    }
    if (options.currency !== undefined) {
      if (
        typeof options.currency !== 'string' ||
        options.currency === '' ||
        options.currency.length > 16
      ) {
        throw new TypeError('costs.currency must be a non-empty string of at most 16 characters');
      }
      next.currency = options.currency;
    }
    for (const key of ['requestComponents', 'predictionComponents'] as const) {
      const v: unknown = options[key];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.some((c) => typeof c !== 'string' || c === '')) {
        throw new TypeError(`costs.${key} must be an array of component names`);
      }
      next[key] = Object.freeze([...(v as string[])]);
    }
    if (options.windowSeconds !== undefined) {
      const w = options.windowSeconds;
      if (!isFiniteNumber(w) || !this.#host.windows.includes(w)) {
        throw new TypeError(
          `costs.windowSeconds must be a configured window (${this.#host.windows.join(', ')})`,
        );
      }
      next.windowSeconds = w;
    }
    if (options.refreshSeconds !== undefined) {
      const r = options.refreshSeconds;
      if (!isFiniteNumber(r) || r < 1)
        throw new TypeError('costs.refreshSeconds must be a number >= 1');
      next.refreshSeconds = r;
    }
    return next;
  }

  #invalid(message: string): void {
    this.#host.diagnostics.report(DiagnosticCode.INVALID_VALUE, `costs: ${message}`);
  }
}
