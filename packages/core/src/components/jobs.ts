/**
 * Long jobs (the spec's "Knowledge Distillation": job success rates, training progress
 * with an ETA, CPU/GPU during the job, model quality retention and efficiency gain):
 * `monitor.jobs`. The ETA divides the work left by an exponentially weighted moving
 * average of the observed rate (time-aware: each update weighs `1 − 2^(−Δt/halfLife)`),
 * so it follows a job that speeds up or slows down instead of its lifetime average; a
 * job without progress for `max(minStallSeconds, stallFactor × its usual update
 * interval)` is stalled and has no ETA.
 *
 * A job whose rate changes steadily (its last 12 rate samples, each over 3 update
 * intervals, at least 8, on a line that explains ≥ 90% of their variance: a step change
 * explains at most 85%, noise around a steady rate far less) is projected on that line
 * instead: the rate now without the average's lag, rising for at most as long as the
 * ramp has been seen, then held (a slowing job is taken at its current rate).
 *
 * Bounds. A steady job: within 10% (tested, with and without noise). A noise-free linear
 * ramp (tested: rate 1 + 0.02 t units/s, updates every 10 s): never an underestimate;
 * within 10% of the true time left once 40% of the run time has passed, within 1% past
 * half of it (the time left is then shorter than the ramp seen); before the ramp is
 * seen (8 samples), the moving average's overestimate. When noise hides the ramp
 * (R² < 0.9), the moving average holds: it assumes the current rate goes on, an
 * overestimate that shrinks as the job ends (to about `1 + a·τ/r`, τ = halfLife ÷ ln 2,
 * a the acceleration, r the rate; tested: never more than 10% under, within 15% over
 * the last tenth of a ramp with ±10% noise). Choose `halfLifeSeconds` well below the
 * jobs' length.
 */
import { type Clock, systemClock } from '../clock/clock.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { fitLine } from '../analytics/stats.js';
import { type GpuProbe, type GpuSample, nvidiaSmiProbe } from './gpu.js';
import { CappedValues, type ComponentHost, isFiniteNumber, keyPart, put } from './host.js';
import { type ComponentName, MonitoringComponent } from './names.js';

/**
 * How a job ended.
 *
 * @example
 * ```ts
 * monitor.jobs.finish('job_42', 'failure', { reason: 'oom' });
 * ```
 */
export type JobOutcome = 'success' | 'failure' | 'cancelled';

/**
 * Where a job is: running, stalled (running without progress), or ended.
 *
 * @example
 * ```ts
 * if (monitor.jobs.get('job_42')?.state === 'stalled') page();
 * ```
 */
export type JobState = 'running' | 'stalled' | JobOutcome;

/**
 * The process's CPU time and memory, read at job events (inject fixed ones in tests).
 *
 * @example
 * ```ts
 * const probes: JobProbes = { cpuMicros: () => 0, rssBytes: () => 1e9 };
 * ```
 */
export interface JobProbes {
  /** CPU time the process used so far (user + system), µs. */
  cpuMicros(): number;
  /** The process's resident set size, bytes. */
  rssBytes(): number;
}

/**
 * Options of `monitor.jobs` (`new Monitor({ jobs })`). Checked: a bad value throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * new Monitor({ jobs: { halfLifeSeconds: 60, minStallSeconds: 300, maxFinished: 50 } });
 * ```
 */
export interface JobTrackerOptions {
  /** Running jobs kept; further starts are dropped and counted. Default 1000. */
  readonly maxActive?: number;
  /** Finished jobs kept for `get`/`list` (oldest evicted first). Default 100. */
  readonly maxFinished?: number;
  /** Half-life of the rate's moving average, seconds. Default 30. */
  readonly halfLifeSeconds?: number;
  /** A job is stalled after this many of its usual update intervals without progress. Default 5. */
  readonly stallFactor?: number;
  /** ...and never before this many seconds without progress. Default 60. */
  readonly minStallSeconds?: number;
  /** CPU and memory probes. Default the process's (`process.cpuUsage`, `process.memoryUsage.rss`). */
  readonly probes?: JobProbes;
  /**
   * GPU sampling while jobs run: a probe, or `false`. Default: `nvidia-smi` with the
   * system clock, off with any other clock.
   */
  readonly gpu?: GpuProbe | false;
  /** Seconds between GPU samples while a job runs. Default 15. */
  readonly gpuIntervalSeconds?: number;
}

/**
 * Options of `monitor.jobs.start`.
 *
 * @example
 * ```ts
 * monitor.jobs.start('distill_7', { total: 12_000, kind: 'multi_teacher' });
 * ```
 */
export interface JobStartOptions {
  /** Units of work (steps, batches, samples...). Without it there is no progress fraction nor ETA. */
  readonly total?: number;
  /** What sort of job (a tag; at most 20 kinds, then `other`). Default `'job'`. */
  readonly kind?: string;
  /** Its component. Default `MonitoringComponent.DISTILLATION`. */
  readonly component?: ComponentName;
}

/**
 * What `monitor.jobs.finish` may add.
 *
 * @example
 * ```ts
 * monitor.jobs.finish('distill_7', 'success', { qualityRetention: 0.96, efficiencyGain: 3.2 });
 * ```
 */
export interface JobFinishDetails {
  /** Why it failed or was cancelled (a short code). */
  readonly reason?: string;
  /** The student's quality ÷ the teacher's (0..1+). */
  readonly qualityRetention?: number;
  /** Speed-up or size reduction (e.g. 3.2 for 3.2× faster). */
  readonly efficiencyGain?: number;
}

/**
 * GPU use while a job ran: an average of the samples, or why there is none (never a
 * zero standing in for "unknown").
 *
 * @example
 * ```ts
 * const g = monitor.jobs.get('distill_7')!.gpu;
 * console.log(g.available ? g.utilization : g.reason);
 * ```
 */
export type JobGpuUsage =
  | {
      readonly available: true;
      /** Mean utilisation over the samples, 0..1. */
      readonly utilization: number;
      /** The largest GPU memory in use seen, bytes. */
      readonly peakMemoryBytes: number;
      /** Samples taken while the job ran. */
      readonly samples: number;
    }
  | { readonly available: false; readonly reason: string };

/**
 * One job as of now.
 *
 * @example
 * ```ts
 * const s = monitor.jobs.get('distill_7');
 * if (s) console.log(`${Math.round(s.progress! * 100)}%, ETA ${s.etaSeconds}s`);
 * ```
 */
export interface JobStatus {
  /** The job's id. */
  readonly id: string;
  /** Its kind. */
  readonly kind: string;
  /** Its component. */
  readonly component: string;
  /** Running, stalled or how it ended. */
  readonly state: JobState;
  /** Units of work, when given. */
  readonly total: number | undefined;
  /** Units done. */
  readonly done: number;
  /** done ÷ total in 0..1, when total is known. */
  readonly progress: number | undefined;
  /** When it started (clock ms). */
  readonly startedAt: number;
  /** When it ended (clock ms). */
  readonly finishedAt: number | undefined;
  /** Seconds since it started (to its end when ended). */
  readonly elapsedSeconds: number;
  /** The smoothed rate (on a steady ramp, the fitted rate now), units per second; NaN before the first update. */
  readonly ratePerSecond: number;
  /** Seconds left at the smoothed rate; `null` when unknown (no total, no rate, stalled, ended). */
  readonly etaSeconds: number | null;
  /** Seconds since `done` last grew. */
  readonly secondsSinceProgress: number;
  /** The process's CPU use while the job ran, in cores (1 = one core busy). */
  readonly cpuUsage: number;
  /** The process's latest resident memory, bytes. */
  readonly memoryRssBytes: number;
  /** The largest resident memory seen during the job, bytes. */
  readonly peakMemoryRssBytes: number;
  /** GPU use while it ran. */
  readonly gpu: JobGpuUsage;
  /** Why it failed or was cancelled. */
  readonly reason: string | undefined;
  /** Quality retention given at finish. */
  readonly qualityRetention: number | undefined;
  /** Efficiency gain given at finish. */
  readonly efficiencyGain: number | undefined;
}

/**
 * Counts since the tracker began.
 *
 * @example
 * ```ts
 * const { active, succeeded, dropped } = monitor.jobs.stats();
 * ```
 */
export interface JobTrackerStats {
  /** Jobs running (stalled ones included). */
  readonly active: number;
  /** Jobs started. */
  readonly started: number;
  /** Jobs that ended in success. */
  readonly succeeded: number;
  /** Jobs that ended in failure. */
  readonly failed: number;
  /** Jobs cancelled. */
  readonly cancelled: number;
  /** Starts refused because `maxActive` jobs were running. */
  readonly dropped: number;
  /** Finished jobs evicted past `maxFinished`. */
  readonly evicted: number;
  /** Updates for ids not running (never started, dropped or already finished). */
  readonly unknownUpdates: number;
}

/** The process's own CPU time and RSS. @internal */
export const PROCESS_PROBES: JobProbes = {
  cpuMicros: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  rssBytes: () => process.memoryUsage.rss(),
};

interface Job {
  readonly id: string;
  readonly kind: string;
  readonly component: string;
  total: number | undefined;
  done: number;
  readonly startedAt: number;
  finishedAt: number | undefined;
  outcome: JobOutcome | undefined;
  /** The last update used for a rate sample. */
  sampleAt: number;
  sampleDone: number;
  /** When `done` last grew. */
  progressAt: number;
  rate: number;
  interval: number;
  /** The last rate samples (seconds since start at the interval's middle, units/s), oldest first. */
  readonly pointAt: number[];
  readonly pointDone: number[];
  /** The ramp the rate samples lie on, refit at each update; undefined when none. */
  ramp: Ramp | undefined;
  readonly cpu0: number;
  cpuEnd: number;
  rss: number;
  peakRss: number;
  gpuReason: string;
  gpuSamples: number;
  gpuUtilSum: number;
  gpuPeakMem: number;
  reason: string | undefined;
  qualityRetention: number | undefined;
  efficiencyGain: number | undefined;
}

interface ComponentTotals {
  started: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  readonly failures: Map<string, number>;
  qualitySum: number;
  qualityN: number;
  gainSum: number;
  gainN: number;
  /** CPU of the last finished job, cores. */
  lastCpu: number;
}

const OUTCOMES: ReadonlySet<string> = new Set(['success', 'failure', 'cancelled']);

/** Rate samples kept per job for the ramp fit. */
const TREND_SAMPLES = 12;
/**
 * Updates each rate sample spans: a rate over 3 update intervals, so one late update
 * (a busy event loop) does not read as a slow interval followed by a fast one.
 */
const TREND_STRIDE = 3;
/** Rate samples needed before a ramp is believed. */
const TREND_MIN_SAMPLES = 8;
/** Share of the rate samples' variance a line must explain to be a ramp (a step explains ≤ 85%). */
const TREND_MIN_R2 = 0.9;

/** A steady change of rate: the rate at the last update (units/s), its change (units/s²), since when (s after start). */
interface Ramp {
  readonly rate: number;
  readonly slope: number;
  /** When the ramp was first seen in this unbroken run of fits (the window's first sample then). */
  readonly since: number;
  /** Seconds it has been seen over: from `since` to the latest sample. */
  readonly span: number;
}

/**
 * The job's rate as a line, when its last rate samples lie on one: at least
 * {@link TREND_MIN_SAMPLES} samples whose least-squares line explains at least
 * {@link TREND_MIN_R2} of their variance (R² = t² ÷ (t² + n − 2)). Noise around a steady
 * rate and a step change both fail the test and keep the moving average.
 */
function rampOf(job: Job, now: number): Ramp | undefined {
  const points = job.pointAt.length;
  const n = points - TREND_STRIDE;
  if (n < TREND_MIN_SAMPLES) return undefined;
  const at = new Float64Array(n);
  const of = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = job.pointAt[i]!;
    const t1 = job.pointAt[i + TREND_STRIDE]!;
    at[i] = (t0 + t1) / 2;
    of[i] = (job.pointDone[i + TREND_STRIDE]! - job.pointDone[i]!) / (t1 - t0);
  }
  const fit = fitLine(at, of);
  if (!(fit.slope !== 0 && Number.isFinite(fit.slope))) return undefined;
  const t2 = fit.tStatistic * fit.tStatistic;
  const r2 = Number.isFinite(t2) ? t2 / (t2 + n - 2) : 1;
  if (r2 < TREND_MIN_R2) return undefined;
  const rate = fit.intercept + fit.slope * ((now - job.startedAt) / 1000);
  if (!(rate > 0)) return undefined;
  // One unbroken run: the same direction at every update since it began.
  const previous = job.ramp;
  const since =
    previous !== undefined && previous.slope > 0 === fit.slope > 0 ? previous.since : at[0]!;
  return { rate, slope: fit.slope, since, span: at[n - 1]! - since };
}

/**
 * Seconds to do `work` on a ramp: an accelerating rate keeps rising for at most as long
 * as the ramp has been seen (a trend is not extrapolated further ahead than it was
 * observed), then holds; a slowing one is taken at its current rate (a falling line
 * would reach zero).
 */
function timeToDo(work: number, ramp: Ramp): number {
  const { rate, slope } = ramp;
  if (slope <= 0) return work / rate;
  const h = Math.max(0, ramp.span);
  const inRamp = rate * h + (slope * h * h) / 2;
  if (work <= inRamp) return (2 * work) / (rate + Math.sqrt(rate * rate + 2 * slope * work));
  return h + (work - inRamp) / (rate + slope * h);
}

function positive(value: unknown, fallback: number, name: string, integer = false): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new TypeError(`jobs.${name} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

/**
 * Long-running jobs: `monitor.jobs`. `start(id, { total })`, `progress(id, done)`,
 * `finish(id, outcome)`; each is one call and never throws. Records, in the job's
 * component (default `distillation`): the counters `jobs.started` (tag `kind`) and
 * `jobs.finished` (tags `kind`, `outcome`), the timer `job.duration` (errors: failed
 * jobs), the gauges `jobs.active`, `job.quality_retention` and `job.efficiency_gain`
 * (tag `kind`). `analytics({ component })` lists the keys of {@link JobTracker.specific}.
 *
 * @example
 * ```ts
 * monitor.jobs.start('distill_7', { total: 1000, kind: 'multi_teacher' });
 * for (let step = 1; step <= 1000; step++) {
 *   await trainStep();
 *   monitor.jobs.progress('distill_7', step);
 * }
 * monitor.jobs.finish('distill_7', 'success', { qualityRetention: 0.96, efficiencyGain: 3.2 });
 * console.log(monitor.jobs.get('distill_7')?.etaSeconds);
 * ```
 */
export class JobTracker {
  readonly #host: ComponentHost;
  readonly #clock: Clock;
  readonly #maxActive: number;
  readonly #maxFinished: number;
  readonly #halfLife: number;
  readonly #stallFactor: number;
  readonly #minStall: number;
  readonly #probes: JobProbes;
  readonly #gpu: GpuProbe | undefined;
  readonly #gpuIntervalMs: number;
  readonly #active = new Map<string, Job>();
  readonly #finished = new Map<string, Job>();
  readonly #totals = new Map<string, ComponentTotals>();
  readonly #kinds = new CappedValues(20);
  readonly #reasons = new CappedValues(20);
  #started = 0;
  #dropped = 0;
  #evicted = 0;
  #unknown = 0;
  #gpuPending = false;
  #gpuLastAt = -Infinity;
  #gpuLast: GpuSample | undefined;
  #rssLast = NaN;
  #rssReadAt = -Infinity;

  /** Throws a `TypeError` naming a bad option. */
  constructor(host: ComponentHost, options: JobTrackerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('jobs must be an object');
    }
    this.#host = host;
    this.#clock = host.clock;
    this.#maxActive = positive(options.maxActive, 1000, 'maxActive', true);
    this.#maxFinished = positive(options.maxFinished, 100, 'maxFinished', true);
    this.#halfLife = positive(options.halfLifeSeconds, 30, 'halfLifeSeconds');
    this.#stallFactor = positive(options.stallFactor, 5, 'stallFactor');
    this.#minStall = positive(options.minStallSeconds, 60, 'minStallSeconds');
    this.#gpuIntervalMs = positive(options.gpuIntervalSeconds, 15, 'gpuIntervalSeconds') * 1000;
    const probes = options.probes ?? PROCESS_PROBES;
    if (
      probes === null ||
      typeof probes !== 'object' ||
      typeof probes.cpuMicros !== 'function' ||
      typeof probes.rssBytes !== 'function'
    ) {
      throw new TypeError('jobs.probes must have cpuMicros() and rssBytes()');
    }
    this.#probes = probes;
    const gpu = options.gpu ?? (host.clock === systemClock ? nvidiaSmiProbe() : false);
    if (
      gpu !== false &&
      (gpu === null || typeof gpu !== 'object' || typeof gpu.sample !== 'function')
    ) {
      throw new TypeError('jobs.gpu must be a probe with sample() or false');
    }
    this.#gpu = gpu === false ? undefined : gpu;
  }

  /**
   * Starts tracking a job (`total`: units of work). Starting an id that is running is
   * refused (reported); one that finished starts afresh.
   *
   * @example
   * ```ts
   * monitor.jobs.start('distill_7', { total: 1000 });
   * ```
   */
  start(id: string, options: JobStartOptions = {}): void {
    this.#safely(() => {
      if (typeof id !== 'string' || id === '' || options === null || typeof options !== 'object') {
        this.#invalid('start needs an id and an options object');
        return;
      }
      const total = options.total;
      if (total !== undefined && (!isFiniteNumber(total) || total <= 0)) {
        this.#invalid(`start(${id}): total must be a number > 0`);
        return;
      }
      if (this.#active.has(id)) {
        this.#invalid(`start(${id}): already running`);
        return;
      }
      if (this.#active.size >= this.#maxActive) {
        this.#dropped++;
        this.#host.diagnostics.report(
          DiagnosticCode.METRIC_LIMIT,
          `jobs: ${this.#maxActive} jobs running (maxActive); ${id} not tracked`,
        );
        return;
      }
      this.#finished.delete(id);
      const now = this.#clock.now();
      const kind = this.#kinds.get(typeof options.kind === 'string' ? options.kind : 'job');
      const component =
        typeof options.component === 'string' && options.component !== ''
          ? options.component
          : MonitoringComponent.DISTILLATION;
      const rss = this.#rss();
      const job: Job = {
        id,
        kind,
        component,
        total,
        done: 0,
        startedAt: now,
        finishedAt: undefined,
        outcome: undefined,
        sampleAt: now,
        sampleDone: 0,
        progressAt: now,
        rate: NaN,
        interval: NaN,
        pointAt: [],
        pointDone: [],
        ramp: undefined,
        cpu0: this.#cpu(),
        cpuEnd: NaN,
        rss,
        peakRss: rss,
        gpuReason: this.#gpu === undefined ? 'GPU sampling off' : 'no GPU sample yet',
        gpuSamples: 0,
        gpuUtilSum: 0,
        gpuPeakMem: 0,
        reason: undefined,
        qualityRetention: undefined,
        efficiencyGain: undefined,
      };
      if (this.#gpuLast !== undefined && !this.#gpuLast.available) {
        job.gpuReason = this.#gpuLast.reason;
      }
      this.#active.set(id, job);
      this.#started++;
      this.#totalsOf(component).started++;
      this.#host
        .counter('jobs.started', { component, description: 'Jobs started, by kind' })
        .inc(1, { kind });
      this.#activeGauge(component, kind);
      this.#sampleGpu(now);
    });
  }

  /**
   * Work done so far (cumulative, in the units of `total`); `total` may be revised.
   *
   * @example
   * ```ts
   * monitor.jobs.progress('distill_7', 250);
   * ```
   */
  progress(id: string, done: number, options: { readonly total?: number } = {}): void {
    this.#safely(() => {
      const job = this.#active.get(id);
      if (job === undefined) {
        this.#unknown++;
        this.#invalid(`progress(${String(id)}): no running job with that id`);
        return;
      }
      if (!isFiniteNumber(done) || done < 0) {
        this.#invalid(`progress(${id}): done must be a number >= 0`);
        return;
      }
      const total = options?.total;
      if (total !== undefined) {
        if (isFiniteNumber(total) && total > 0) job.total = total;
        else this.#invalid(`progress(${id}): total must be a number > 0`);
      }
      const now = this.#clock.now();
      if (done > job.done) job.progressAt = now;
      job.done = done;
      const dt = (now - job.sampleAt) / 1000;
      if (dt > 0) {
        const delta = done - job.sampleDone;
        const alpha = 1 - 2 ** (-dt / this.#halfLife);
        if (delta >= 0) {
          const r = delta / dt;
          job.rate = Number.isNaN(job.rate) ? r : job.rate + alpha * (r - job.rate);
          job.pointAt.push((now - job.startedAt) / 1000);
          job.pointDone.push(done);
          if (job.pointAt.length > TREND_SAMPLES + TREND_STRIDE) {
            job.pointAt.shift();
            job.pointDone.shift();
          }
          job.ramp = rampOf(job, now);
        }
        job.interval = Number.isNaN(job.interval) ? dt : job.interval + alpha * (dt - job.interval);
        job.sampleAt = now;
        job.sampleDone = done;
      }
      // Reading RSS costs microseconds (a /proc read): at most once a second on progress.
      const rss = this.#rssAt(now);
      job.rss = rss;
      if (rss > job.peakRss) job.peakRss = rss;
      this.#sampleGpu(now);
    });
  }

  /**
   * Ends a job: `success`, `failure` or `cancelled`, with a reason and the model
   * quality figures when known.
   *
   * @example
   * ```ts
   * monitor.jobs.finish('distill_7', 'failure', { reason: 'out_of_memory' });
   * ```
   */
  finish(id: string, outcome: JobOutcome, details: JobFinishDetails = {}): void {
    this.#safely(() => {
      const job = this.#active.get(id);
      if (job === undefined) {
        this.#unknown++;
        this.#invalid(`finish(${String(id)}): no running job with that id`);
        return;
      }
      if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) {
        this.#invalid(`finish(${id}): outcome must be success, failure or cancelled`);
        return;
      }
      const d: JobFinishDetails = details !== null && typeof details === 'object' ? details : {};
      const now = this.#clock.now();
      this.#active.delete(id);
      job.finishedAt = now;
      job.outcome = outcome;
      job.cpuEnd = this.#cpu();
      const rss = this.#rss();
      job.rss = rss;
      if (rss > job.peakRss) job.peakRss = rss;
      if (outcome === 'success' && job.total !== undefined)
        job.done = Math.max(job.done, job.total);
      const totals = this.#totalsOf(job.component);
      if (outcome === 'success') totals.succeeded++;
      else if (outcome === 'failure') totals.failed++;
      else totals.cancelled++;
      if (outcome !== 'success') {
        const reason = this.#reasons.get(
          typeof d.reason === 'string'
            ? keyPart(d.reason)
            : outcome === 'failure'
              ? 'unknown'
              : 'cancelled',
        );
        job.reason = reason;
        if (outcome === 'failure')
          totals.failures.set(reason, (totals.failures.get(reason) ?? 0) + 1);
      }
      const o = { component: job.component };
      const kind = { kind: job.kind };
      if (isFiniteNumber(d.qualityRetention) && d.qualityRetention >= 0) {
        job.qualityRetention = d.qualityRetention;
        totals.qualitySum += d.qualityRetention;
        totals.qualityN++;
        this.#host
          .gauge('job.quality_retention', {
            ...o,
            description: 'Model quality retained by the last job, by kind',
          })
          .set(d.qualityRetention, kind);
      }
      if (isFiniteNumber(d.efficiencyGain) && d.efficiencyGain >= 0) {
        job.efficiencyGain = d.efficiencyGain;
        totals.gainSum += d.efficiencyGain;
        totals.gainN++;
        this.#host
          .gauge('job.efficiency_gain', {
            ...o,
            description: 'Efficiency gain of the last job, by kind',
          })
          .set(d.efficiencyGain, kind);
      }
      totals.lastCpu = this.#cpuOf(job, now);
      this.#host
        .counter('jobs.finished', { ...o, description: 'Jobs ended, by kind and outcome' })
        .inc(1, { kind: job.kind, outcome });
      const timer = this.#host.timer('job.duration', {
        ...o,
        description: 'Job run time, by kind',
      });
      if (outcome === 'failure') timer.recordError(now - job.startedAt, kind);
      else timer.record(now - job.startedAt, kind);
      this.#activeGauge(job.component, job.kind);
      this.#finished.set(id, job);
      if (this.#finished.size > this.#maxFinished) {
        const oldest = this.#finished.keys().next().value;
        if (oldest !== undefined) this.#finished.delete(oldest);
        this.#evicted++;
      }
    });
  }

  /**
   * A job as of now (running, or among the last `maxFinished` finished); `undefined`
   * when unknown.
   *
   * @example
   * ```ts
   * monitor.jobs.get('distill_7')?.etaSeconds;
   * ```
   */
  get(id: string): JobStatus | undefined {
    const job = this.#active.get(id) ?? this.#finished.get(id);
    return job === undefined ? undefined : this.#status(job, this.#clock.now());
  }

  /**
   * Running jobs then the kept finished ones (of one component when given).
   *
   * @example
   * ```ts
   * const stalled = monitor.jobs.list().filter((j) => j.state === 'stalled');
   * ```
   */
  list(component?: ComponentName): JobStatus[] {
    const now = this.#clock.now();
    const out: JobStatus[] = [];
    for (const j of [...this.#active.values(), ...this.#finished.values()]) {
      if (component === undefined || j.component === component) out.push(this.#status(j, now));
    }
    return out;
  }

  /**
   * Counts since the tracker began, drops included.
   *
   * @example
   * ```ts
   * if (monitor.jobs.stats().dropped > 0) console.warn('raise jobs.maxActive');
   * ```
   */
  stats(): JobTrackerStats {
    let succeeded = 0;
    let failed = 0;
    let cancelled = 0;
    for (const t of this.#totals.values()) {
      succeeded += t.succeeded;
      failed += t.failed;
      cancelled += t.cancelled;
    }
    return {
      active: this.#active.size,
      started: this.#started,
      succeeded,
      failed,
      cancelled,
      dropped: this.#dropped,
      evicted: this.#evicted,
      unknownUpdates: this.#unknown,
    };
  }

  /**
   * The component's `component_specific` keys: `jobs_started`, `jobs_active`,
   * `jobs_stalled`, `jobs_succeeded`, `jobs_failed`, `jobs_cancelled`,
   * `job_success_rate` (successes ÷ ended), `job_failures_<reason>`, `job_progress`
   * (mean over running jobs with a total), `job_eta_seconds` (the longest),
   * `job_cpu_usage` (cores, mean over running jobs, else the last ended),
   * `job_memory_rss_bytes`, `gpu_available` (1 or 0 once sampled),
   * `job_gpu_utilization` (only when available), `model_quality_retention`,
   * `model_efficiency_gain` (means over ended jobs that gave them). Empty for a
   * component without jobs.
   *
   * @example
   * ```ts
   * monitor.jobs.specific('distillation').job_eta_seconds;
   * ```
   */
  specific(component: string): Record<string, number> {
    const totals = this.#totals.get(component);
    if (totals === undefined) return {};
    const now = this.#clock.now();
    const out: Record<string, number> = {};
    let active = 0;
    let stalled = 0;
    let progressSum = 0;
    let progressN = 0;
    let eta = NaN;
    let cpuSum = 0;
    let rss = NaN;
    let gpuSum = 0;
    let gpuN = 0;
    let gpuSeen = false;
    let gpuAvailable = false;
    for (const job of this.#active.values()) {
      if (job.component !== component) continue;
      const s = this.#status(job, now);
      active++;
      if (s.state === 'stalled') stalled++;
      if (s.progress !== undefined) {
        progressSum += s.progress;
        progressN++;
      }
      if (s.etaSeconds !== null && !(s.etaSeconds <= eta)) eta = s.etaSeconds;
      cpuSum += s.cpuUsage;
      if (!(s.memoryRssBytes <= rss)) rss = s.memoryRssBytes;
      if (s.gpu.available) {
        gpuAvailable = true;
        gpuSeen = true;
        gpuSum += s.gpu.utilization;
        gpuN++;
      } else if (job.gpuReason !== 'no GPU sample yet' && job.gpuReason !== 'GPU sampling off') {
        gpuSeen = true;
      }
    }
    const ended = totals.succeeded + totals.failed + totals.cancelled;
    out['jobs_started'] = totals.started;
    out['jobs_active'] = active;
    out['jobs_stalled'] = stalled;
    out['jobs_succeeded'] = totals.succeeded;
    out['jobs_failed'] = totals.failed;
    out['jobs_cancelled'] = totals.cancelled;
    if (ended > 0) put(out, 'job_success_rate', totals.succeeded / ended);
    for (const [reason, n] of totals.failures) out[`job_failures_${reason}`] = n;
    if (progressN > 0) put(out, 'job_progress', progressSum / progressN);
    put(out, 'job_eta_seconds', eta, 1);
    put(out, 'job_cpu_usage', active > 0 ? cpuSum / active : totals.lastCpu);
    put(out, 'job_memory_rss_bytes', rss, 0);
    if (gpuSeen) out['gpu_available'] = gpuAvailable ? 1 : 0;
    if (gpuN > 0) put(out, 'job_gpu_utilization', gpuSum / gpuN);
    if (totals.qualityN > 0)
      put(out, 'model_quality_retention', totals.qualitySum / totals.qualityN);
    if (totals.gainN > 0) put(out, 'model_efficiency_gain', totals.gainSum / totals.gainN);
    return out;
  }

  /**
   * The components that have seen jobs.
   *
   * @example
   * ```ts
   * for (const c of monitor.jobs.components()) console.log(c, monitor.jobs.specific(c));
   * ```
   */
  components(): string[] {
    return [...this.#totals.keys()];
  }

  #status(job: Job, now: number): JobStatus {
    const end = job.finishedAt ?? now;
    const sinceProgress = Math.max(0, (end - job.progressAt) / 1000);
    const threshold = Math.max(
      this.#minStall,
      Number.isNaN(job.interval) ? 0 : this.#stallFactor * job.interval,
    );
    const running = job.outcome === undefined;
    const stalled = running && sinceProgress > threshold;
    let eta: number | null = null;
    let rate = job.rate;
    if (running && !stalled && job.total !== undefined) {
      const remaining = job.total - job.done;
      const ramp = job.ramp;
      if (remaining <= 0) eta = 0;
      else if (ramp !== undefined) {
        rate = ramp.rate;
        eta = Math.max(0, timeToDo(remaining, ramp) - (now - job.sampleAt) / 1000);
      } else if (job.rate > 0) {
        eta = Math.max(0, remaining / job.rate - (now - job.sampleAt) / 1000);
      }
    }
    const gpu: JobGpuUsage =
      job.gpuSamples > 0
        ? {
            available: true,
            utilization: job.gpuUtilSum / job.gpuSamples,
            peakMemoryBytes: job.gpuPeakMem,
            samples: job.gpuSamples,
          }
        : { available: false, reason: job.gpuReason };
    return {
      id: job.id,
      kind: job.kind,
      component: job.component,
      state: job.outcome ?? (stalled ? 'stalled' : 'running'),
      total: job.total,
      done: job.done,
      progress: job.total === undefined ? undefined : Math.min(1, job.done / job.total),
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      elapsedSeconds: (end - job.startedAt) / 1000,
      ratePerSecond: rate,
      etaSeconds: eta,
      secondsSinceProgress: sinceProgress,
      cpuUsage: this.#cpuOf(job, end),
      memoryRssBytes: job.rss,
      peakMemoryRssBytes: job.peakRss,
      gpu,
      reason: job.reason,
      qualityRetention: job.qualityRetention,
      efficiencyGain: job.efficiencyGain,
    };
  }

  #cpuOf(job: Job, end: number): number {
    const cpu = Number.isNaN(job.cpuEnd) ? this.#cpu() : job.cpuEnd;
    const wallMs = end - job.startedAt;
    if (!(wallMs > 0) || !Number.isFinite(cpu) || !Number.isFinite(job.cpu0)) return NaN;
    return Math.max(0, (cpu - job.cpu0) / 1000 / wallMs);
  }

  /** Samples the GPU at most every `gpuIntervalSeconds` while jobs run; never awaits. */
  #sampleGpu(now: number): void {
    const probe = this.#gpu;
    if (probe === undefined || this.#gpuPending || this.#active.size === 0) return;
    if (now - this.#gpuLastAt < this.#gpuIntervalMs) return;
    this.#gpuPending = true;
    this.#gpuLastAt = now;
    let pending: Promise<GpuSample>;
    try {
      pending = probe.sample();
    } catch (error) {
      pending = Promise.resolve({
        available: false,
        reason: `GPU probe failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      });
    }
    void Promise.resolve(pending)
      .then(
        (sample) => this.#applyGpu(sample),
        (error: unknown) =>
          this.#applyGpu({
            available: false,
            reason: `GPU probe failed: ${error instanceof Error ? error.message : 'unknown error'}`,
          }),
      )
      .finally(() => {
        this.#gpuPending = false;
      });
  }

  #applyGpu(sample: GpuSample): void {
    try {
      this.#gpuLast = sample;
      for (const job of this.#active.values()) {
        if (sample.available) {
          job.gpuSamples++;
          job.gpuUtilSum += sample.reading.utilization;
          if (sample.reading.memoryUsedBytes > job.gpuPeakMem) {
            job.gpuPeakMem = sample.reading.memoryUsedBytes;
          }
        } else if (job.gpuSamples === 0) job.gpuReason = sample.reason;
      }
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'jobs gpu' });
    }
  }

  #activeGauge(component: string, kind: string): void {
    let n = 0;
    for (const j of this.#active.values()) if (j.component === component && j.kind === kind) n++;
    this.#host
      .gauge('jobs.active', { component, description: 'Jobs running, by kind' })
      .set(n, { kind });
  }

  #totalsOf(component: string): ComponentTotals {
    let t = this.#totals.get(component);
    if (t === undefined) {
      t = {
        started: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        failures: new Map(),
        qualitySum: 0,
        qualityN: 0,
        gainSum: 0,
        gainN: 0,
        lastCpu: NaN,
      };
      this.#totals.set(component, t);
    }
    return t;
  }

  #cpu(): number {
    try {
      return this.#probes.cpuMicros();
    } catch {
      return NaN;
    }
  }

  #rss(): number {
    try {
      return this.#probes.rssBytes();
    } catch {
      return NaN;
    }
  }

  /** The RSS, read again only when the last read is a second old. */
  #rssAt(now: number): number {
    if (!(now - this.#rssReadAt < 1000 && now >= this.#rssReadAt)) {
      this.#rssLast = this.#rss();
      this.#rssReadAt = now;
    }
    return this.#rssLast;
  }

  #invalid(message: string): void {
    this.#host.diagnostics.report(DiagnosticCode.INVALID_VALUE, `jobs: ${message}`);
  }

  #safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#host.diagnostics.error(DiagnosticCode.INTERNAL_ERROR, error, { where: 'jobs' });
    }
  }
}
