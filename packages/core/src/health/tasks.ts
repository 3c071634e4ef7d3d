/**
 * Background task health: heartbeats, runs and queue depth of a service's own
 * asynchronous work (workers, schedulers, consumers). A task turns unhealthy when it
 * misses its heartbeat or its queue grows past its bound, and healthy again when it
 * beats or its queue drains.
 */
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import type { BoundTimer } from '../metrics/instruments.js';
import { isValidName } from '../metrics/types.js';
import { type HealthContext, messageOf } from './types.js';

/**
 * How a registered task is expected to behave.
 *
 * @example
 * ```ts
 * const options: TaskOptions = { expectedIntervalMs: 60_000, maxQueueDepth: 500 };
 * ```
 */
export interface TaskOptions {
  /** How often the task beats (a heartbeat, or a recorded run), in milliseconds; > 0. */
  readonly expectedIntervalMs: number;
  /**
   * Slack after `expectedIntervalMs` before a missing beat counts as missed, in
   * milliseconds. Default half of `expectedIntervalMs`.
   */
  readonly graceMs?: number;
  /** The queue depth above which the task is unhealthy. Default: no bound. */
  readonly maxQueueDepth?: number;
}

/**
 * Why a task is unhealthy: it missed its heartbeat, or its queue is past its bound.
 *
 * @example
 * ```ts
 * const why: TaskProblem[] = monitor.tasks.status('mailer')!.problems;
 * ```
 */
export type TaskProblem = 'missed_heartbeat' | 'queue_over_bound';

/**
 * A task's state now.
 *
 * @example
 * ```ts
 * for (const t of monitor.tasks.list()) if (!t.healthy) console.warn(t.name, t.problems);
 * ```
 */
export interface TaskStatus {
  /** The task's name. */
  readonly name: string;
  /** No problem. */
  readonly healthy: boolean;
  /** What is wrong, empty when healthy. */
  readonly problems: readonly TaskProblem[];
  /** When it last beat (ms since the epoch); registration counts as the first beat. */
  readonly lastHeartbeatAt: number;
  /** When the next beat is due at the latest (`lastHeartbeatAt` + interval + grace). */
  readonly deadlineAt: number;
  /** The last queue depth reported (0 until one is). */
  readonly queueDepth: number;
  /** Its options, resolved. */
  readonly expectedIntervalMs: number;
  /** Its grace, resolved. */
  readonly graceMs: number;
  /** Its queue bound (`Infinity` without one). */
  readonly maxQueueDepth: number;
  /** Runs recorded. */
  readonly runs: number;
  /** Failed runs recorded. */
  readonly failures: number;
  /** The last run, once one is recorded. */
  readonly lastRun?: TaskRun;
}

/**
 * One recorded run of a task.
 *
 * @example
 * ```ts
 * const last: TaskRun | undefined = monitor.tasks.status('mailer')?.lastRun;
 * ```
 */
export interface TaskRun {
  /** How it ended. */
  readonly outcome: TaskOutcome;
  /** How long it took, ms. */
  readonly durationMs: number;
  /** When it was recorded (ms since the epoch). */
  readonly at: number;
}

/**
 * How many tasks are registered, unhealthy, and stale (missed their heartbeat).
 *
 * @example
 * ```ts
 * const { registered, unhealthy, stale }: TaskCounts = monitor.tasks.counts();
 * ```
 */
export interface TaskCounts {
  /** Tasks registered. */
  readonly registered: number;
  /** Tasks that missed their heartbeat or whose queue is past its bound. */
  readonly unhealthy: number;
  /** Tasks that missed their heartbeat. */
  readonly stale: number;
}

/**
 * How a run of a task ended.
 *
 * @example
 * ```ts
 * const outcome: TaskOutcome = 'failure';
 * ```
 */
export type TaskOutcome = 'success' | 'failure';

/**
 * A registered task: what the task itself calls. Never throws: a bad value is
 * reported to the monitor's diagnostics and ignored.
 *
 * @example
 * ```ts
 * const mailer = monitor.tasks.register('mailer', { expectedIntervalMs: 30_000, maxQueueDepth: 1000 });
 * setInterval(async () => {
 *   const started = performance.now();
 *   try {
 *     await sendPending();
 *     mailer.recordRun('success', performance.now() - started);
 *   } catch {
 *     mailer.recordRun('failure', performance.now() - started);
 *   }
 *   mailer.setQueueDepth(await pendingCount());
 * }, 30_000).unref();
 * ```
 */
export interface TaskHandle {
  /** The task's name. */
  readonly name: string;
  /** The task is alive. */
  heartbeat(): void;
  /** A run ended (also a heartbeat): its outcome and duration, recorded in the `task.run` timer. */
  recordRun(outcome: TaskOutcome, durationMs: number): void;
  /** The task's queue holds `depth` items now (the `task_queue_depth` gauge). */
  setQueueDepth(depth: number): void;
  /** Its state now. */
  status(): TaskStatus;
}

/**
 * Options of a {@link TaskRegistry}.
 *
 * @example
 * ```ts
 * const options: TaskRegistryOptions = { component: 'tasks', maxTasks: 200 };
 * ```
 */
export interface TaskRegistryOptions {
  /** The component its metrics are recorded under. Default `'tasks'`. */
  readonly component?: string;
  /** Tasks kept; further registrations are reported and get a handle that records nothing. Default 1000. */
  readonly maxTasks?: number;
}

interface TaskRecord {
  readonly name: string;
  expectedIntervalMs: number;
  graceMs: number;
  maxQueueDepth: number;
  lastHeartbeatAt: number;
  queueDepth: number;
  runs: number;
  failures: number;
  lastRun: TaskRun | undefined;
  readonly run: BoundTimer;
  readonly depth: BoundGauge;
  readonly healthy: BoundGauge;
  readonly handle: TaskHandle;
}

/** The component task metrics are recorded under by default. */
const TASKS_COMPONENT = 'tasks';

/**
 * The registry of background tasks: `monitor.tasks`. Records, under the component
 * `tasks`: the `task.run` timer (duration per run, failures as errors, by `task`),
 * the `task_queue_depth` gauge (by `task`), and on each {@link TaskRegistry.refresh}
 * the `task_healthy` gauge (1 or 0, by `task`) and `tasks_unhealthy` (a count).
 * Alert conditions work on them: `tasks_unhealthy > 0`, `error_rate > 10%` over the
 * `tasks` component.
 *
 * @example
 * ```ts
 * const tasks = new TaskRegistry({ clock: monitor.clock, diagnostics: monitor.diagnostics, recorder: monitor });
 * const indexer = tasks.register('indexer', { expectedIntervalMs: 60_000 });
 * indexer.heartbeat();
 * tasks.unhealthy(); // [] while it keeps beating
 * ```
 */
export class TaskRegistry {
  readonly #context: HealthContext;
  readonly #component: string;
  readonly #maxTasks: number;
  readonly #tasks = new Map<string, TaskRecord>();
  #unhealthyGauge: BoundGauge | undefined;

  constructor(context: HealthContext, options: TaskRegistryOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('tasks options must be an object');
    }
    const component = options.component ?? TASKS_COMPONENT;
    if (!isValidName(component)) {
      throw new TypeError('tasks.component must be a non-empty string of at most 255 characters');
    }
    const maxTasks = options.maxTasks ?? 1000;
    if (!Number.isInteger(maxTasks) || maxTasks < 1) {
      throw new TypeError(`tasks.maxTasks must be an integer >= 1, got ${String(maxTasks)}`);
    }
    this.#context = context;
    this.#component = component;
    this.#maxTasks = maxTasks;
  }

  /**
   * Registers a task (registration counts as its first beat) and returns its handle.
   * Registering a name again updates its options and returns the same handle. Throws a
   * `TypeError` for bad options, as constructors do; past `maxTasks` a registration is
   * reported and gets a handle that records nothing.
   *
   * @example
   * ```ts
   * const consumer = monitor.tasks.register('orders-consumer', { expectedIntervalMs: 5_000, maxQueueDepth: 10_000 });
   * ```
   */
  register(name: string, options: TaskOptions): TaskHandle {
    if (!isValidName(name)) {
      throw new TypeError('task name must be a non-empty string of at most 255 characters');
    }
    const resolved = resolveTaskOptions(name, options);
    const existing = this.#tasks.get(name);
    if (existing !== undefined) {
      existing.expectedIntervalMs = resolved.expectedIntervalMs;
      existing.graceMs = resolved.graceMs;
      existing.maxQueueDepth = resolved.maxQueueDepth;
      return existing.handle;
    }
    if (this.#tasks.size >= this.#maxTasks) {
      this.#context.diagnostics.report(
        DiagnosticCode.SERIES_OVERFLOW,
        `task ${name}: over maxTasks (${this.#maxTasks}); not monitored`,
      );
      return noopTask(name, resolved, this.#context.clock.now());
    }
    const { recorder } = this.#context;
    const component = this.#component;
    const tags = Object.freeze({ task: name });
    const record: TaskRecord = {
      name,
      ...resolved,
      lastHeartbeatAt: this.#context.clock.now(),
      queueDepth: 0,
      runs: 0,
      failures: 0,
      lastRun: undefined,
      run: recorder.timer('task.run', { component }).bind(tags),
      depth: recorder.gauge('task_queue_depth', { component }).bind(tags),
      healthy: recorder.gauge('task_healthy', { component }).bind(tags),
      // The handle's methods run later, once `record` is initialised.
      handle: Object.freeze({
        name,
        heartbeat: () => this.#beat(record),
        recordRun: (outcome: TaskOutcome, durationMs: number) =>
          this.#run(record, outcome, durationMs),
        setQueueDepth: (depth: number) => this.#depth(record, depth),
        status: () => this.#status(record, this.#context.clock.now()),
      }),
    };
    this.#tasks.set(name, record);
    record.depth.set(0);
    record.healthy.set(1);
    return record.handle;
  }

  /**
   * The handle of a registered task.
   *
   * @example
   * ```ts
   * monitor.tasks.get('indexer')?.heartbeat();
   * ```
   */
  get(name: string): TaskHandle | undefined {
    return this.#tasks.get(name)?.handle;
  }

  /**
   * Forgets a task (its series stay, as every series does). True when it was registered.
   *
   * @example
   * ```ts
   * monitor.tasks.unregister('one-off-migration');
   * ```
   */
  unregister(name: string): boolean {
    return this.#tasks.delete(name);
  }

  /**
   * A task's state now, `undefined` for an unknown name.
   *
   * @example
   * ```ts
   * const s = monitor.tasks.status('indexer');
   * if (s && !s.healthy) console.warn(s.problems);
   * ```
   */
  status(name: string): TaskStatus | undefined {
    const record = this.#tasks.get(name);
    return record === undefined ? undefined : this.#status(record, this.#context.clock.now());
  }

  /**
   * Every task's state now, in registration order.
   *
   * @example
   * ```ts
   * console.table(monitor.tasks.list());
   * ```
   */
  list(): TaskStatus[] {
    const now = this.#context.clock.now();
    return [...this.#tasks.values()].map((r) => this.#status(r, now));
  }

  /**
   * Counts of tasks now: registered, unhealthy, and of those the ones that missed their
   * heartbeat (stale). One pass, no allocation per task: what `health()` reads.
   *
   * @example
   * ```ts
   * const { unhealthy, stale } = monitor.tasks.counts();
   * ```
   */
  counts(): TaskCounts {
    const now = this.#context.clock.now();
    let unhealthy = 0;
    let stale = 0;
    for (const r of this.#tasks.values()) {
      const missed = now > deadlineOf(r);
      if (missed) stale++;
      if (missed || r.queueDepth > r.maxQueueDepth) unhealthy++;
    }
    return { registered: this.#tasks.size, unhealthy, stale };
  }

  /**
   * The tasks unhealthy now.
   *
   * @example
   * ```ts
   * for (const t of monitor.tasks.unhealthy()) console.warn(t.name, t.problems.join(', '));
   * ```
   */
  unhealthy(): TaskStatus[] {
    return this.list().filter((s) => !s.healthy);
  }

  /**
   * Sets the `task_healthy` gauges and `tasks_unhealthy` from the clock now, so alert
   * rules see a task go stale without it calling anything. The resource sampler's tick
   * calls it; never throws.
   *
   * @example
   * ```ts
   * monitor.tasks.refresh();
   * ```
   */
  refresh(): void {
    try {
      const now = this.#context.clock.now();
      let unhealthy = 0;
      for (const r of this.#tasks.values()) {
        const ok = now <= deadlineOf(r) && r.queueDepth <= r.maxQueueDepth;
        if (!ok) unhealthy++;
        r.healthy.set(ok ? 1 : 0);
      }
      this.#unhealthyGauge ??= this.#context.recorder
        .gauge('tasks_unhealthy', { component: this.#component })
        .bind();
      this.#unhealthyGauge.set(unhealthy);
    } catch (error) {
      this.#context.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `tasks refresh: ${messageOf(error)}`,
      );
    }
  }

  #beat(record: TaskRecord): void {
    const now = this.#context.clock.now();
    if (Number.isFinite(now)) record.lastHeartbeatAt = now;
  }

  #run(record: TaskRecord, outcome: TaskOutcome, durationMs: number): void {
    if (outcome !== 'success' && outcome !== 'failure') {
      this.#context.diagnostics.report(
        DiagnosticCode.INVALID_VALUE,
        `task ${record.name}: outcome must be 'success' or 'failure', got ${String(outcome)}`,
      );
      return;
    }
    if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs < 0) {
      this.#context.diagnostics.report(
        DiagnosticCode.INVALID_VALUE,
        `task ${record.name}: durationMs must be a finite number >= 0, got ${String(durationMs)}`,
      );
      return;
    }
    this.#beat(record);
    record.runs++;
    if (outcome === 'failure') {
      record.failures++;
      record.run.recordError(durationMs);
    } else {
      record.run.record(durationMs);
    }
    record.lastRun = Object.freeze({ outcome, durationMs, at: record.lastHeartbeatAt });
  }

  #depth(record: TaskRecord, depth: number): void {
    if (typeof depth !== 'number' || !Number.isFinite(depth) || depth < 0) {
      this.#context.diagnostics.report(
        DiagnosticCode.INVALID_VALUE,
        `task ${record.name}: queue depth must be a finite number >= 0, got ${String(depth)}`,
      );
      return;
    }
    record.queueDepth = depth;
    record.depth.set(depth);
  }

  #status(record: TaskRecord, now: number): TaskStatus {
    const problems: TaskProblem[] = [];
    const deadlineAt = deadlineOf(record);
    if (now > deadlineAt) problems.push('missed_heartbeat');
    if (record.queueDepth > record.maxQueueDepth) problems.push('queue_over_bound');
    return {
      name: record.name,
      healthy: problems.length === 0,
      problems,
      lastHeartbeatAt: record.lastHeartbeatAt,
      deadlineAt,
      queueDepth: record.queueDepth,
      expectedIntervalMs: record.expectedIntervalMs,
      graceMs: record.graceMs,
      maxQueueDepth: record.maxQueueDepth,
      runs: record.runs,
      failures: record.failures,
      ...(record.lastRun !== undefined && { lastRun: record.lastRun }),
    };
  }
}

function deadlineOf(r: {
  lastHeartbeatAt: number;
  expectedIntervalMs: number;
  graceMs: number;
}): number {
  return r.lastHeartbeatAt + r.expectedIntervalMs + r.graceMs;
}

function resolveTaskOptions(
  name: string,
  options: TaskOptions,
): { expectedIntervalMs: number; graceMs: number; maxQueueDepth: number } {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`task ${name}: options must be an object with expectedIntervalMs`);
  }
  const { expectedIntervalMs } = options;
  if (
    typeof expectedIntervalMs !== 'number' ||
    !Number.isFinite(expectedIntervalMs) ||
    expectedIntervalMs <= 0
  ) {
    throw new TypeError(
      `task ${name}: expectedIntervalMs must be a finite number of milliseconds > 0, got ${String(expectedIntervalMs)}`,
    );
  }
  const graceMs = options.graceMs ?? expectedIntervalMs / 2;
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0) {
    throw new TypeError(
      `task ${name}: graceMs must be a finite number of milliseconds >= 0, got ${String(graceMs)}`,
    );
  }
  const maxQueueDepth = options.maxQueueDepth ?? Number.POSITIVE_INFINITY;
  if (typeof maxQueueDepth !== 'number' || Number.isNaN(maxQueueDepth) || maxQueueDepth < 0) {
    throw new TypeError(
      `task ${name}: maxQueueDepth must be a number >= 0, got ${String(maxQueueDepth)}`,
    );
  }
  return { expectedIntervalMs, graceMs, maxQueueDepth };
}

function noopTask(
  name: string,
  options: { expectedIntervalMs: number; graceMs: number; maxQueueDepth: number },
  now: number,
): TaskHandle {
  const status: TaskStatus = Object.freeze({
    name,
    healthy: true,
    problems: Object.freeze([]),
    lastHeartbeatAt: now,
    deadlineAt: Number.POSITIVE_INFINITY,
    queueDepth: 0,
    ...options,
    runs: 0,
    failures: 0,
  });
  return Object.freeze({
    name,
    heartbeat: () => {},
    recordRun: () => {},
    setQueueDepth: () => {},
    status: () => status,
  });
}
