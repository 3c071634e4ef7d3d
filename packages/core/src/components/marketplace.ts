/**
 * The spec's "Marketplace Operations": resource activity, search performance,
 * transaction success and failure analysis, browse-to-purchase conversion.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundHistogram } from '../metrics/histogram-series.js';
import type { BoundTimer } from '../metrics/instruments.js';
import type { CacheTracker } from './caches.js';
import {
  CappedValues,
  type ComponentHost,
  isFiniteNumber,
  keyPart,
  put,
  readWindow,
} from './host.js';
import { MonitoringComponent } from './names.js';

/**
 * What happened to a marketplace resource (a listing, a model, a dataset...).
 *
 * @example
 * ```ts
 * const action: ResourceAction = 'created';
 * ```
 */
export type ResourceAction = 'created' | 'updated' | 'deleted';

/**
 * One marketplace search.
 *
 * @example
 * ```ts
 * const s: MarketplaceSearch = { latencyMs: 38, results: 20, cacheHit: true };
 * ```
 */
export interface MarketplaceSearch {
  /** How long it took, ms. */
  readonly latencyMs: number;
  /** How many results it returned. */
  readonly results: number;
  /** Whether the search cache answered it (absent: no cache involved). */
  readonly cacheHit?: boolean;
  /** Whether it failed. */
  readonly error?: boolean;
}

/**
 * One purchase attempt.
 *
 * @example
 * ```ts
 * const t: MarketplaceTransaction = { success: false, reason: 'card_declined' };
 * ```
 */
export interface MarketplaceTransaction {
  /** Whether the purchase completed. */
  readonly success: boolean;
  /** Why it failed (a short code; at most 20 distinct reasons kept, then `other`). */
  readonly reason?: string;
}

interface Handles {
  readonly resources: (action: ResourceAction, type: string) => BoundCounter;
  readonly search: BoundTimer;
  readonly results: BoundHistogram;
  readonly transactions: (outcome: string, reason: string) => BoundCounter;
  readonly browse: BoundCounter;
  readonly purchases: BoundCounter;
}

const REASONS = 20;
const TYPES = 32;

/**
 * Marketplace operations: `monitor.marketplace`. Records into the `marketplace`
 * component: the counter `marketplace.resources` (tags `action`, `resource_type`), the
 * timer `marketplace_search`, the histogram `marketplace_search.results`, the search
 * cache through `monitor.caches` (cache `search`), the counter
 * `marketplace.transactions` (tags `outcome`, `reason`), and the counters
 * `marketplace.browse_sessions` and `marketplace.purchases`. Each call is one call and
 * never throws; `analytics({ component: 'marketplace' }).component_specific` then lists
 * (see {@link MarketplaceMonitor.specific}) `search_cache_hit_rate`,
 * `conversion_rate`, `transaction_success_rate`, ... .
 *
 * @example
 * ```ts
 * monitor.marketplace.resource('created', { type: 'model' });
 * monitor.marketplace.search({ latencyMs: 42, results: 17, cacheHit: false });
 * monitor.marketplace.browse();
 * monitor.marketplace.transaction({ success: true });
 * monitor.marketplace.transaction({ success: false, reason: 'card_declined' });
 * ```
 */
export class MarketplaceMonitor {
  /** The component it records into. */
  readonly component = MonitoringComponent.MARKETPLACE;
  readonly #host: ComponentHost;
  readonly #caches: CacheTracker;
  readonly #types = new CappedValues(TYPES);
  readonly #reasons = new CappedValues(REASONS);
  readonly #resources: Record<ResourceAction, number> = { created: 0, updated: 0, deleted: 0 };
  readonly #failures = new Map<string, number>();
  #searches = 0;
  #searchErrors = 0;
  #results = 0;
  #zeroResults = 0;
  #succeeded = 0;
  #failed = 0;
  #browses = 0;
  #handles: Handles | undefined;

  /** Made by the Monitor. */
  constructor(host: ComponentHost, caches: CacheTracker) {
    this.#host = host;
    this.#caches = caches;
  }

  /**
   * A resource created, updated or deleted (`type`: listing, model, dataset...; at most
   * 32 distinct types kept, then `other`).
   *
   * @example
   * ```ts
   * monitor.marketplace.resource('deleted', { type: 'dataset' });
   * ```
   */
  resource(action: ResourceAction, options: { readonly type?: string } = {}): void {
    this.#safely(() => {
      if (action !== 'created' && action !== 'updated' && action !== 'deleted') {
        this.#invalid('resource(action) needs created, updated or deleted');
        return;
      }
      const type = typeof options?.type === 'string' ? options.type : undefined;
      this.#resources[action]++;
      this.#h().resources(action, this.#types.get(type)).inc();
    });
  }

  /**
   * A search: its latency, result count and whether the search cache answered.
   *
   * @example
   * ```ts
   * monitor.marketplace.search({ latencyMs: 180.5, results: 20, cacheHit: false });
   * ```
   */
  search(search: MarketplaceSearch): void {
    this.#safely(() => {
      if (
        search === null ||
        typeof search !== 'object' ||
        !isFiniteNumber(search.latencyMs) ||
        search.latencyMs < 0 ||
        !isFiniteNumber(search.results) ||
        search.results < 0
      ) {
        this.#invalid('search needs { latencyMs >= 0, results >= 0 }');
        return;
      }
      const h = this.#h();
      this.#searches++;
      if (search.error === true) {
        this.#searchErrors++;
        h.search.recordError(search.latencyMs);
      } else h.search.record(search.latencyMs);
      this.#results += search.results;
      if (search.results === 0) this.#zeroResults++;
      h.results.record(search.results);
      if (typeof search.cacheHit === 'boolean') {
        this.#caches.record('search', search.cacheHit, {
          latencyMs: search.latencyMs,
          component: this.component,
        });
      }
    });
  }

  /**
   * A purchase attempt: success, or failure with its reason.
   *
   * @example
   * ```ts
   * monitor.marketplace.transaction({ success: false, reason: 'insufficient_funds' });
   * ```
   */
  transaction(transaction: MarketplaceTransaction): void {
    this.#safely(() => {
      if (
        transaction === null ||
        typeof transaction !== 'object' ||
        typeof transaction.success !== 'boolean'
      ) {
        this.#invalid('transaction needs { success: boolean }');
        return;
      }
      const h = this.#h();
      if (transaction.success) {
        this.#succeeded++;
        h.transactions('success', 'none').inc();
        h.purchases.inc();
        return;
      }
      this.#failed++;
      const reason = this.#reasons.get(
        typeof transaction.reason === 'string' ? keyPart(transaction.reason) : undefined,
      );
      this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + 1);
      h.transactions('failure', reason).inc();
    });
  }

  /**
   * Browse sessions (the conversion's denominator: purchases ÷ browse sessions).
   *
   * @example
   * ```ts
   * monitor.marketplace.browse(); // one session started browsing
   * ```
   */
  browse(sessions = 1): void {
    this.#safely(() => {
      if (!isFiniteNumber(sessions) || sessions < 0) {
        this.#invalid('browse(sessions) needs a number >= 0');
        return;
      }
      this.#browses += sessions;
      this.#h().browse.inc(sessions);
    });
  }

  /**
   * The marketplace's `component_specific` keys (counts since the monitor started;
   * latencies over the longest window up to 15 minutes): `resources_created`,
   * `resources_updated`, `resources_deleted`, `searches`, `search_latency_p50_ms`,
   * `search_latency_p95_ms`, `search_latency_p99_ms`, `search_error_rate`,
   * `search_results_avg`, `search_zero_result_rate`, `search_cache_hit_rate`,
   * `search_cache_latency_saved_ms`, `transactions`, `transaction_success_rate`,
   * `transaction_failure_rate`, `transaction_failures_<reason>`, `browse_sessions`,
   * `conversion_rate`. Keys without data are left out.
   *
   * @example
   * ```ts
   * monitor.marketplace.specific().conversion_rate; // 0.034
   * ```
   */
  specific(): Record<string, number> {
    const out: Record<string, number> = {};
    const r = this.#resources;
    if (r.created + r.updated + r.deleted > 0) {
      out['resources_created'] = r.created;
      out['resources_updated'] = r.updated;
      out['resources_deleted'] = r.deleted;
    }
    if (this.#searches > 0) {
      out['searches'] = this.#searches;
      const [p50, p95, p99] = this.#host.getPercentiles('marketplace_search', [0.5, 0.95, 0.99], {
        component: this.component,
        windowSeconds: readWindow(this.#host.windows),
      });
      put(out, 'search_latency_p50_ms', p50 ?? NaN, 3);
      put(out, 'search_latency_p95_ms', p95 ?? NaN, 3);
      put(out, 'search_latency_p99_ms', p99 ?? NaN, 3);
      put(out, 'search_error_rate', this.#searchErrors / this.#searches);
      put(out, 'search_results_avg', this.#results / this.#searches, 3);
      put(out, 'search_zero_result_rate', this.#zeroResults / this.#searches);
    }
    const transactions = this.#succeeded + this.#failed;
    if (transactions > 0) {
      out['transactions'] = transactions;
      put(out, 'transaction_success_rate', this.#succeeded / transactions);
      put(out, 'transaction_failure_rate', this.#failed / transactions);
      for (const [reason, n] of this.#failures) out[`transaction_failures_${reason}`] = n;
    }
    if (this.#browses > 0) {
      out['browse_sessions'] = this.#browses;
      put(out, 'conversion_rate', this.#succeeded / this.#browses);
    }
    return out;
  }

  #h(): Handles {
    if (this.#handles !== undefined) return this.#handles;
    const host = this.#host;
    const o = { component: this.component };
    const resources = host.counter('marketplace.resources', {
      ...o,
      description: 'Marketplace resources created, updated, deleted; by action and type',
    });
    const transactions = host.counter('marketplace.transactions', {
      ...o,
      description: 'Purchase attempts, by outcome and failure reason',
    });
    const byResource = new Map<string, BoundCounter>();
    const byOutcome = new Map<string, BoundCounter>();
    this.#handles = {
      resources: (action, type) => {
        const k = `${action}:${type}`;
        let h = byResource.get(k);
        if (h === undefined)
          byResource.set(k, (h = resources.bind({ action, resource_type: type })));
        return h;
      },
      search: host
        .timer('marketplace_search', { ...o, description: 'Marketplace search latency' })
        .bind(),
      results: host
        .histogram('marketplace_search.results', {
          ...o,
          description: 'Results per marketplace search',
        })
        .bind(),
      transactions: (outcome, reason) => {
        const k = `${outcome}:${reason}`;
        let h = byOutcome.get(k);
        if (h === undefined) byOutcome.set(k, (h = transactions.bind({ outcome, reason })));
        return h;
      },
      browse: host
        .counter('marketplace.browse_sessions', { ...o, description: 'Browse sessions' })
        .bind(),
      purchases: host
        .counter('marketplace.purchases', { ...o, description: 'Completed purchases' })
        .bind(),
    };
    return this.#handles;
  }

  #invalid(message: string): void {
    this.#host.diagnostics.report(DiagnosticCode.INVALID_VALUE, `marketplace: ${message}`);
  }

  #safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'marketplace' });
    }
  }
}
