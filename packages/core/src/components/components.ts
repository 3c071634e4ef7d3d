/**
 * The component helpers of one Monitor, built together, and the provider that feeds
 * their keys into `analytics({ component }).component_specific`.
 */
import { SPECIFIC_GAUGE_PREFIX } from '../analytics/component-specific.js';
import type { ComponentReading } from '../analytics/source.js';
import type { Clock } from '../clock/clock.js';
import { DiagnosticCode, type Diagnostics } from '../diagnostics/diagnostics.js';
import type { AuditLog } from '../security/audit.js';
import type { SecurityMonitor } from '../security/events.js';
import { CacheTracker, type CacheTrackerOptions } from './caches.js';
import { type CostOptions, CostTracker } from './costs.js';
import { type ComponentHost, readWindow } from './host.js';
import { JobTracker, type JobTrackerOptions } from './jobs.js';
import { MarketplaceMonitor } from './marketplace.js';
import { MonitoringComponent } from './names.js';
import { RecommendationMonitor } from './recommendation.js';
import { securitySpecific } from './security.js';

/**
 * What the Monitor hands {@link createComponentHelpers}.
 *
 * @example
 * ```ts
 * const deps: ComponentHelperDeps = {
 *   monitor, security: monitor.security, audit: monitor.audit,
 *   readComponent: (c, w) => source.read(c, w, 'none', monitor.clock.now()),
 * };
 * ```
 */
export interface ComponentHelperDeps {
  /** The recording and reading surface (a Monitor). */
  readonly monitor: Omit<ComponentHost, 'readComponent' | 'clock' | 'diagnostics' | 'windows'> & {
    readonly clock: Clock;
    readonly diagnostics: Diagnostics;
    readonly windows: readonly number[];
  };
  /** A component's series over a window, without quantiles. */
  readonly readComponent: (component: string, windowSeconds: number) => ComponentReading;
  /** The security module. */
  readonly security: SecurityMonitor;
  /** The audit log. */
  readonly audit: AuditLog;
  /** Network bytes sent + received since boot, when the resource sampler runs. */
  readonly networkBytes?: () => number | undefined;
  /** The components with series now (the efficiency trends read each one's operations). */
  readonly components?: () => readonly string[];
}

/**
 * The options of the helpers (the Monitor's `caches`, `jobs`, `costs` options).
 *
 * @example
 * ```ts
 * const options: ComponentHelperOptions = { jobs: { halfLifeSeconds: 60 }, costs: { computePerHour: 3.4 } };
 * ```
 */
export interface ComponentHelperOptions {
  /** See {@link CacheTrackerOptions}. */
  readonly caches?: CacheTrackerOptions;
  /** See {@link JobTrackerOptions}. */
  readonly jobs?: JobTrackerOptions;
  /** See {@link CostOptions}. */
  readonly costs?: CostOptions;
}

/**
 * The helpers of one Monitor.
 *
 * @example
 * ```ts
 * const helpers = createComponentHelpers(deps, {});
 * helpers.marketplace.browse();
 * helpers.specific('marketplace', reading);
 * ```
 */
export interface ComponentHelpers {
  /** Cache effectiveness. */
  readonly caches: CacheTracker;
  /** Marketplace operations. */
  readonly marketplace: MarketplaceMonitor;
  /** The recommendation engine. */
  readonly recommendation: RecommendationMonitor;
  /** Long jobs (distillation). */
  readonly jobs: JobTracker;
  /** Cost analytics. */
  readonly costs: CostTracker;
  /** Every helper's `component_specific` keys for `component`. */
  specific(component: string, reading: ComponentReading): Record<string, number>;
  /**
   * Sets the gauges `component_specific.<key>` of every component a helper has data
   * for (the Monitor calls it before each export). Never throws.
   */
  publish(): void;
}

/**
 * Builds the helpers over one monitor. Throws a `TypeError` naming a bad option.
 *
 * @example
 * ```ts
 * const helpers = createComponentHelpers(
 *   { monitor, security: monitor.security, audit: monitor.audit, readComponent },
 *   { jobs: { minStallSeconds: 120 } },
 * );
 * ```
 */
export function createComponentHelpers(
  deps: ComponentHelperDeps,
  options: ComponentHelperOptions = {},
): ComponentHelpers {
  const m = deps.monitor;
  const host: ComponentHost = {
    clock: m.clock,
    diagnostics: m.diagnostics,
    windows: m.windows,
    counter: (name, o) => m.counter(name, o),
    gauge: (name, o) => m.gauge(name, o),
    histogram: (name, o) => m.histogram(name, o),
    timer: (name, o) => m.timer(name, o),
    getPercentiles: (name, q, query) => m.getPercentiles(name, q, query),
    getRates: (name, query) => m.getRates(name, query),
    readComponent: deps.readComponent,
  };
  const caches = wrap('caches', () => new CacheTracker(host, options.caches ?? {}));
  const jobs = wrap('jobs', () => new JobTracker(host, options.jobs ?? {}));
  const costs = wrap(
    'costs',
    () =>
      new CostTracker(host, options.costs ?? {}, {
        ...(deps.networkBytes !== undefined && { networkBytes: deps.networkBytes }),
        ...(deps.components !== undefined && { components: deps.components }),
      }),
  );
  const marketplace = new MarketplaceMonitor(host, caches);
  const recommendation = new RecommendationMonitor(host, caches);
  const specific = (component: string, reading: ComponentReading): Record<string, number> => {
    const out: Record<string, number> = { ...caches.specific(component) };
    if (component === MonitoringComponent.MARKETPLACE) Object.assign(out, marketplace.specific());
    if (component === MonitoringComponent.RECOMMENDATION) {
      Object.assign(out, recommendation.specific());
    }
    if (component === MonitoringComponent.SECURITY) {
      Object.assign(
        out,
        securitySpecific({
          host,
          security: deps.security,
          audit: deps.audit,
          counters: reading.counters,
        }),
      );
    }
    if (component === MonitoringComponent.COSTS) Object.assign(out, costs.specific());
    Object.assign(out, costs.efficiencySpecific(component));
    Object.assign(out, jobs.specific(component));
    return out;
  };
  const published = new Set<string>();
  return {
    caches,
    marketplace,
    recommendation,
    jobs,
    costs,
    specific,
    publish: () => {
      try {
        const components = new Set<string>([
          ...caches.stats().map((c) => c.component),
          ...jobs.components(),
        ]);
        if (Object.keys(marketplace.specific()).length > 0) components.add(marketplace.component);
        if (Object.keys(recommendation.specific()).length > 0) {
          components.add(recommendation.component);
        }
        if (costs.configured()) components.add(MonitoringComponent.COSTS);
        for (const c of costs.efficiencyComponents()) components.add(c);
        const security = MonitoringComponent.SECURITY;
        const reading = deps.readComponent(security, readWindow(m.windows));
        if (reading.counters.size > 0) components.add(security);
        for (const component of components) {
          const keys =
            component === security
              ? specific(component, reading)
              : specific(component, deps.readComponent(component, readWindow(m.windows)));
          for (const [key, value] of Object.entries(keys)) {
            // A gauge cannot be unset: keys that come and go stay in-process only.
            if (volatile(key)) continue;
            const name = SPECIFIC_GAUGE_PREFIX + key;
            // Bounded: a component's keys are bounded (capped reasons, caches, kinds).
            if (!published.has(`${component}\u0000${name}`)) {
              if (published.size >= MAX_PUBLISHED) continue;
              published.add(`${component}\u0000${name}`);
            }
            m.gauge(name, {
              component,
              description: 'A component_specific key of analytics, published for exporters',
            }).set(value);
          }
        }
      } catch (error) {
        m.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'component_specific' });
      }
    },
  };
}

/**
 * Keys that vanish when their data does (live job figures, windowed percentiles): not
 * published, since a published gauge would keep its last value. The exported series
 * carry them anyway (the timers' quantiles, `jobs.active`).
 */
function volatile(key: string): boolean {
  return (
    /_p\d+_ms$/.test(key) ||
    key === 'job_progress' ||
    key === 'job_eta_seconds' ||
    key === 'job_memory_rss_bytes' ||
    key === 'job_gpu_utilization' ||
    key === 'gpu_available'
  );
}

/** Published `component_specific` gauges at most (series). */
const MAX_PUBLISHED = 2000;

/** Prefixes a construction error with the option's name. */
function wrap<T>(name: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    const message = error instanceof Error ? error.message : 'invalid';
    throw new TypeError(message.startsWith(name) ? message : `${name}.${message}`);
  }
}
