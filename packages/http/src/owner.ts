/**
 * What an adapter's requests share once claimed from the tracker: its metrics, its
 * tracing and whether it counts response bytes, with the tracker's failures reported
 * to the monitor's diagnostics. Imports this package's types only.
 */
import type { HttpMetrics, RequestState } from './metrics.js';
import type { HttpTracing } from './tracing.js';
import type { TrackedRequest, TrackedRequestOwner } from './tracker.js';

/**
 * The owner of the requests one adapter (one middleware, one plugin registration)
 * claims: it records a request once it is over ({@link HttpRequestOwner.ended}, the
 * adapter's), and reports the tracker's failures while following one as internal
 * errors of the monitor.
 *
 * @example
 * ```ts
 * class MyOwner extends HttpRequestOwner<IncomingMessage> {
 *   ended(tracked: TrackedRequest, aborted: boolean): void {
 *     console.log(tracked.request.url, aborted ? 'aborted' : 'done');
 *   }
 * }
 * const owner = new MyOwner(metrics, tracing, true);
 * ```
 */
export abstract class HttpRequestOwner<Req> implements TrackedRequestOwner {
  /** The adapter's metrics. */
  readonly metrics: HttpMetrics<Req>;
  /** The adapter's server spans. */
  readonly tracing: HttpTracing;
  /** Whether response bytes written are counted (`countResponseBytes`). */
  readonly counting: boolean;

  /** An owner recording through `metrics` and `tracing`. */
  constructor(metrics: HttpMetrics<Req>, tracing: HttpTracing, counting: boolean) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.counting = counting;
  }

  /**
   * Claims a request: starts its state with this owner's metrics (from when Node had
   * parsed its head). Undefined when the monitor records nothing; it then stays
   * unclaimed.
   */
  claim(tracked: TrackedRequest): RequestState | undefined {
    const state = this.metrics.begin(tracked.method, tracked.contentLength, tracked.startedAt);
    if (state !== undefined) {
      tracked.owner = this;
      tracked.state = state;
    }
    return state;
  }

  /** Records the request: its response finished, or its connection closed first (`aborted`). */
  abstract ended(tracked: TrackedRequest, aborted: boolean): void;

  /** The tracker's failure while following one of these requests. */
  failed(error: unknown): void {
    this.metrics.internalError(error, 'following a request');
  }
}
