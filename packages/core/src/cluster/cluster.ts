import cluster from 'node:cluster';
import type { Monitor } from '../monitor.js';
import { ClusterPrimaryReceiver, type GaugeRule } from './primary.js';
import type { WireMessage } from './protocol.js';
import { ClusterWorkerSender, type SendMessage } from './worker.js';

/**
 * Options of {@link clusterAggregation}. Checked: a bad value throws a `TypeError`
 * naming it.
 *
 * @example
 * ```ts
 * const options: ClusterOptions = {
 *   role: 'auto',
 *   gauges: { 'db.pool.active': 'sum', 'event_loop.lag': 'max' },
 * };
 * ```
 */
export interface ClusterOptions {
  /**
   * `auto` (default): a worker when `node:cluster` says this process is one
   * (`cluster.isWorker`), else the primary. `worker` for a process started by
   * `child_process.fork` (it sends with `process.send`); `primary` to merge what
   * children attached with {@link ClusterAggregation.attach} send.
   */
  readonly role?: 'auto' | 'primary' | 'worker';
  /**
   * Worker: how often deltas are sent, in seconds. Default 60 (the Monitor's default
   * export interval); a histogram's sub-window is sent once it has closed, so the
   * primary's windows lag the workers' by at most one sub-window plus one interval.
   */
  readonly intervalSeconds?: number;
  /** Worker: the largest IPC message, in bytes (estimated). Default 262144; at least 16384. */
  readonly maxMessageBytes?: number;
  /**
   * Worker: the most sent per interval, in bytes (estimated). Default 16 MiB. Beyond
   * it entries are dropped and counted: counters and gauges are then sent with the
   * next interval (nothing is lost), closed sub-windows are lost.
   */
  readonly maxBytesPerInterval?: number;
  /**
   * Primary: the rule of each gauge, by metric name. The monitor's own resource gauges
   * have rules already (`cpu_usage`, `memory_usage`, `disk_usage`, event loop delays:
   * `max`; `process_cpu_usage`, `process_memory_rss`, `process_heap_*`: `sum`),
   * which these override.
   */
  readonly gauges?: Readonly<Record<string, GaugeRule>>;
  /** Primary: the rule of gauges not named in `gauges`. Default `sum`. */
  readonly defaultGaugeRule?: GaugeRule;
  /**
   * Primary: how long a silent worker's gauge values are kept, in seconds. Default
   * the monitor's longest window, the time its counters and digests stay in the
   * primary's windows too.
   */
  readonly retentionSeconds?: number;
}

/**
 * Counts of a {@link ClusterAggregation}: what a worker sent and dropped, what a
 * primary merged and refused.
 *
 * @example
 * ```ts
 * const { droppedEntries, rejectedEntries } = aggregation.stats();
 * ```
 */
export interface ClusterStats {
  readonly role: 'primary' | 'worker';
  /** Messages sent (worker) or received (primary). */
  readonly messages: number;
  /** Worker: estimated bytes sent. */
  readonly bytes: number;
  /** Entries (one series' delta each) sent or merged. */
  readonly entries: number;
  /** Worker: entries over the size limits, or in messages IPC failed to deliver. */
  readonly droppedEntries: number;
  /** Primary: entries refused as malformed or not mergeable (type conflict, caps). */
  readonly rejectedEntries: number;
  /** Primary: messages missing from a worker's sequence. */
  readonly lostMessages: number;
  /** Primary: workers whose data is held, alive or exited. */
  readonly workers: { readonly live: number; readonly exited: number };
}

/**
 * A child process the primary listens to: what `child_process.fork` returns, or a
 * `cluster.Worker`'s `process`.
 *
 * @example
 * ```ts
 * const child: ClusterChild = fork('./worker.js');
 * ```
 */
export interface ClusterChild {
  /** The child's process id (its exit ends its data's liveness). */
  readonly pid?: number | undefined;
  /** Listens to the child's IPC messages. */
  on(event: 'message', listener: (message: unknown) => void): unknown;
  /** Listens to the child's exit. */
  on(event: 'exit', listener: () => void): unknown;
  /** Stops listening to its messages. */
  off(event: 'message', listener: (message: unknown) => void): unknown;
  /** Stops listening to its exit. */
  off(event: 'exit', listener: () => void): unknown;
}

/**
 * The handle {@link clusterAggregation} returns.
 *
 * @example
 * ```ts
 * const aggregation = clusterAggregation(monitor);
 * process.on('SIGTERM', () => void aggregation.stop().then(() => monitor.shutdown()));
 * ```
 */
export interface ClusterAggregation {
  /** Which side this process took. */
  readonly role: 'primary' | 'worker';
  /**
   * Worker: sends the deltas now (`final`: with the open sub-windows, and no more
   * sends after). Returns the number of messages sent. Primary: drops the gauge values
   * of workers silent beyond the retention, returns 0. Never throws.
   */
  flush(final?: boolean): number;
  /** Primary: merges what `child` sends; returns a function that stops listening. */
  attach(child: ClusterChild): () => void;
  /** Counts of what was sent, merged and dropped. */
  stats(): ClusterStats;
  /**
   * Stops the timer and listeners. A worker sends its last deltas (open sub-windows
   * included) first: call it before the worker exits. Idempotent; never rejects.
   */
  stop(): Promise<void>;
}

const RULES: readonly string[] = ['sum', 'max', 'last'];

function positive(value: unknown, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > min)) {
    throw new TypeError(
      `cluster.${option} must be a finite number > ${min}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

function processSend(): SendMessage {
  return (message: WireMessage, done) => {
    if (typeof process.send !== 'function' || process.connected === false) {
      throw new Error('no IPC channel to the primary');
    }
    process.send(message, undefined, {}, (error: Error | null) => done(error ?? null));
  };
}

/**
 * Aggregates a Monitor's series across `node:cluster` workers (or `child_process.fork`
 * children) into the primary's Monitor, so the primary's snapshot (its Prometheus
 * endpoint, REST exporter, every exporter), `health()`, `analytics()` and alerts
 * cover the whole fleet.
 *
 * Each worker sends, over IPC at `intervalSeconds`: the increase of each counter, the
 * value of each gauge that changed, and each histogram and timer sub-window that
 * closed (its t-digest centroids with the exact count, sum, min, max and errors). The
 * primary merges digests (one merge pass: percentiles of the fleet, never averages of
 * percentiles), adds counter increases and combines gauges by a rule per metric
 * (`sum`, `max`, `last`; a primary's own value of a gauge its workers also set is
 * replaced). A dead worker's data stays until its windows expire. Call `stop()` in
 * a worker before it exits, to send its open sub-windows.
 *
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * import { Monitor, clusterAggregation } from '@prsm/core';
 *
 * const monitor = new Monitor({ serviceName: 'checkout' });
 * const aggregation = clusterAggregation(monitor, { gauges: { 'http.active': 'sum' } });
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   // serve /metrics from `monitor` here: it holds the merged fleet
 * } else {
 *   // serve traffic, recording into `monitor`
 *   process.on('SIGTERM', () => void aggregation.stop().then(() => process.exit(0)));
 * }
 * ```
 */
export function clusterAggregation(
  monitor: Monitor,
  options: ClusterOptions = {},
): ClusterAggregation {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('cluster options must be an object');
  }
  const role = options.role ?? 'auto';
  if (role !== 'auto' && role !== 'primary' && role !== 'worker') {
    throw new TypeError(`cluster.role must be 'auto', 'primary' or 'worker', got ${String(role)}`);
  }
  const intervalSeconds = positive(options.intervalSeconds, 'intervalSeconds') ?? 60;
  const maxMessageBytes = positive(options.maxMessageBytes, 'maxMessageBytes', 16383) ?? 262_144;
  const maxBytesPerInterval =
    positive(options.maxBytesPerInterval, 'maxBytesPerInterval', maxMessageBytes - 1) ??
    16 * 1024 * 1024;
  const retentionSeconds =
    positive(options.retentionSeconds, 'retentionSeconds') ??
    monitor.windows[monitor.windows.length - 1]!;
  const defaultRule = options.defaultGaugeRule ?? 'sum';
  if (!RULES.includes(defaultRule)) {
    throw new TypeError(`cluster.defaultGaugeRule must be 'sum', 'max' or 'last'`);
  }
  const gauges = options.gauges ?? {};
  if (gauges === null || typeof gauges !== 'object') {
    throw new TypeError('cluster.gauges must map metric names to sum, max or last');
  }
  for (const [name, rule] of Object.entries(gauges)) {
    if (!RULES.includes(rule)) {
      throw new TypeError(`cluster.gauges.${name} must be 'sum', 'max' or 'last'`);
    }
  }
  const isWorker = role === 'worker' || (role === 'auto' && cluster.isWorker);
  return isWorker
    ? workerSide(monitor, intervalSeconds, { maxMessageBytes, maxBytesPerInterval })
    : primarySide(
        monitor,
        role === 'auto',
        new ClusterPrimaryReceiver(monitor, gauges, defaultRule, retentionSeconds * 1000),
        intervalSeconds,
      );
}

function workerSide(
  monitor: Monitor,
  intervalSeconds: number,
  limits: { maxMessageBytes: number; maxBytesPerInterval: number },
): ClusterAggregation {
  const sender = new ClusterWorkerSender(monitor, processSend(), limits);
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(
    () => sender.flush(),
    intervalSeconds * 1000,
  );
  timer.unref();
  let stopped: Promise<void> | undefined;
  return {
    role: 'worker',
    flush: (final = false) => sender.flush(final),
    attach: () => {
      throw new TypeError('attach() is for the primary');
    },
    stats: () => ({
      role: 'worker',
      ...sender.counts,
      rejectedEntries: 0,
      lostMessages: 0,
      workers: { live: 0, exited: 0 },
    }),
    stop: () =>
      (stopped ??= Promise.resolve().then(() => {
        if (timer !== undefined) clearInterval(timer);
        timer = undefined;
        sender.flush(true);
      })),
  };
}

function primarySide(
  monitor: Monitor,
  listenToCluster: boolean,
  receiver: ClusterPrimaryReceiver,
  intervalSeconds: number,
): ClusterAggregation {
  const detach: (() => void)[] = [];
  if (listenToCluster) {
    const onMessage = (_worker: unknown, message: unknown): void => {
      receiver.receive(message);
    };
    const onExit = (worker: { process: { pid?: number | undefined } }): void => {
      if (worker.process.pid !== undefined) receiver.exited(worker.process.pid);
    };
    cluster.on('message', onMessage);
    cluster.on('exit', onExit);
    detach.push(() => {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
    });
  }
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(
    () => receiver.sweep(),
    intervalSeconds * 1000,
  );
  timer.unref();
  let stopped: Promise<void> | undefined;
  return {
    role: 'primary',
    flush: () => {
      receiver.sweep();
      return 0;
    },
    attach: (child) => {
      const onMessage = (message: unknown): void => {
        receiver.receive(message);
      };
      const onExit = (): void => {
        if (child.pid !== undefined) receiver.exited(child.pid);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      const off = (): void => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      detach.push(off);
      return off;
    },
    stats: () => ({
      role: 'primary',
      messages: receiver.counts.messages,
      bytes: 0,
      entries: receiver.counts.entries,
      droppedEntries: 0,
      rejectedEntries: receiver.counts.rejectedEntries,
      lostMessages: receiver.counts.lostMessages,
      workers: receiver.workers(),
    }),
    stop: () =>
      (stopped ??= Promise.resolve().then(() => {
        if (timer !== undefined) clearInterval(timer);
        timer = undefined;
        for (const off of detach.splice(0)) off();
      })),
  };
}
