/**
 * Resource monitoring: the machine's CPU, memory, disk and network, and this
 * process's CPU, memory, event loop and garbage collector, sampled on an unref'd
 * interval and recorded as gauges (and GC pauses as a timer) under the component
 * `system`. Every source is injectable ({@link ResourceProbes}), so tests drive the
 * sampler with fixed readings.
 */
import { readFile, statfs as statfsAsync } from 'node:fs/promises';
import os from 'node:os';
import {
  constants as perfConstants,
  monitorEventLoopDelay,
  performance,
  PerformanceObserver,
} from 'node:perf_hooks';

import { SYSTEM_COMPONENT } from '../alerting/monitor-source.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { BoundCounter } from '../metrics/counter-series.js';
import type { BoundGauge } from '../metrics/gauge-series.js';
import { isValidName } from '../metrics/types.js';
import { type HealthContext, messageOf } from './types.js';

/**
 * One core's cumulative times since boot, in milliseconds, as `os.cpus()` gives them.
 *
 * @example
 * ```ts
 * const times: CpuTimes = os.cpus()[0]!.times;
 * ```
 */
export interface CpuTimes {
  /** In user mode. */
  readonly user: number;
  /** In user mode at low priority. */
  readonly nice: number;
  /** In kernel mode. */
  readonly sys: number;
  /** Idle. */
  readonly idle: number;
  /** Serving interrupts. */
  readonly irq: number;
}

/**
 * One core as `os.cpus()` describes it (only its times are read).
 *
 * @example
 * ```ts
 * const core: CpuInfo = os.cpus()[0]!;
 * ```
 */
export interface CpuInfo {
  /** Its cumulative times. */
  readonly times: CpuTimes;
}

/**
 * This process's CPU time, microseconds, as `process.cpuUsage()` gives it.
 *
 * @example
 * ```ts
 * const used: ProcessCpuTime = process.cpuUsage();
 * ```
 */
export interface ProcessCpuTime {
  /** In user mode. */
  readonly user: number;
  /** In kernel mode. */
  readonly system: number;
}

/**
 * This process's memory, bytes, as `process.memoryUsage()` gives it.
 *
 * @example
 * ```ts
 * const memory: ProcessMemory = process.memoryUsage();
 * ```
 */
export interface ProcessMemory {
  /** Resident set size. */
  readonly rss: number;
  /** V8 heap in use. */
  readonly heapUsed: number;
  /** V8 heap reserved. */
  readonly heapTotal: number;
}

/**
 * One watched path's file system usage.
 *
 * @example
 * ```ts
 * const disks: readonly DiskReading[] = reading.disks;
 * ```
 */
export interface DiskReading {
  /** The configured path. */
  readonly path: string;
  /** Fraction used (df's Use%), NaN when unreadable. */
  readonly usage: number;
}

/**
 * Network bytes since boot over every interface but loopback.
 *
 * @example
 * ```ts
 * const io: NetworkReading | undefined = reading.network;
 * ```
 */
export interface NetworkReading {
  /** Bytes transmitted. */
  readonly bytesSent: number;
  /** Bytes received. */
  readonly bytesRecv: number;
}

/**
 * What {@link parseProcNetDev} found.
 *
 * @example
 * ```ts
 * const totals: NetDevTotals | undefined = parseProcNetDev(text);
 * ```
 */
export interface NetDevTotals extends NetworkReading {
  /** Interfaces summed (loopback excluded). */
  readonly interfaces: number;
}

/**
 * This process in one sample.
 *
 * @example
 * ```ts
 * const { cpuUsage, rssBytes }: ProcessReading = reading.process;
 * ```
 */
export interface ProcessReading {
  /** CPU time since the previous sample over the time of all cores, 0..1. */
  readonly cpuUsage: number;
  /** Resident set size, bytes. */
  readonly rssBytes: number;
  /** V8 heap in use, bytes. */
  readonly heapUsedBytes: number;
  /** V8 heap reserved, bytes. */
  readonly heapTotalBytes: number;
}

/**
 * What `statfs` returns that the sampler reads (Node's `fs.StatFs` fits).
 *
 * @example
 * ```ts
 * const s: StatFsLike = await fs.promises.statfs('/');
 * ```
 */
export interface StatFsLike {
  /** Block size in bytes. */
  readonly bsize: number;
  /** Blocks in the file system. */
  readonly blocks: number;
  /** Free blocks. */
  readonly bfree: number;
  /** Free blocks available to unprivileged users. */
  readonly bavail: number;
}

/**
 * The event loop over one sampling interval: delay percentiles (how late the probe's
 * 50 ms timer fired) and utilisation. Each sample resets the delay histogram, whose
 * first timer period afterwards only re-arms it, so a block within 50 ms of a sample
 * is not seen in the delays (utilisation still counts it).
 *
 * @example
 * ```ts
 * const loop: EventLoopReading | undefined = sampler.latest()?.eventLoop;
 * if (loop && loop.delayP99Ms > 100) console.warn('event loop blocked');
 * ```
 */
export interface EventLoopReading {
  /** Median delay, ms. */
  readonly delayP50Ms: number;
  /** 99th percentile delay, ms. */
  readonly delayP99Ms: number;
  /** Longest delay, ms. */
  readonly delayMaxMs: number;
  /** Fraction of the interval the loop was busy (`performance.eventLoopUtilization`), 0..1. */
  readonly utilization: number;
}

/**
 * An event-loop probe: read (and reset) once per sample, stopped with the sampler.
 *
 * @example
 * ```ts
 * const fixed: EventLoopProbe = {
 *   read: () => ({ delayP50Ms: 1, delayP99Ms: 5, delayMaxMs: 9, utilization: 0.2 }),
 *   stop: () => {},
 * };
 * ```
 */
export interface EventLoopProbe {
  /** The interval since the last read; `undefined` when nothing was measured. */
  read(): EventLoopReading | undefined;
  /** Releases the probe's resources. */
  stop(): void;
}

/**
 * Where the sampler's readings come from. Each defaults to the real source; tests
 * replace any of them.
 *
 * @example
 * ```ts
 * const probes: Partial<ResourceProbes> = {
 *   totalmem: () => 16e9,
 *   freemem: () => 4e9,
 *   readNetDev: async () => undefined, // as on a system without /proc
 * };
 * ```
 */
export interface ResourceProbes {
  /** Per-core cumulative times (`os.cpus()`). */
  cpus(): readonly CpuInfo[];
  /** Total memory, bytes (`os.totalmem()`). */
  totalmem(): number;
  /** Available memory, bytes (`os.freemem()`: `MemAvailable` on Linux). */
  freemem(): number;
  /** This process's CPU time in microseconds (`process.cpuUsage()`). */
  processCpu(): ProcessCpuTime;
  /** This process's memory, bytes (`process.memoryUsage()`). */
  processMemory(): ProcessMemory;
  /** File system statistics of a path (`fs.promises.statfs`). */
  statfs(path: string): Promise<StatFsLike>;
  /**
   * The text of `/proc/net/dev`, or `undefined` where there is none (not Linux, or
   * `/proc` not mounted): network counters are then not recorded and `network_io`
   * reads 0. Replace it to read another source (`netstat -ib` on macOS, say).
   */
  readNetDev(): Promise<string | undefined>;
  /** A monotonic clock in milliseconds (`performance.now()`), for CPU time deltas. */
  monotonicMs(): number;
  /** Starts an event-loop probe (default: `monitorEventLoopDelay` + `eventLoopUtilization`). */
  eventLoop(): EventLoopProbe;
  /** Starts watching GC pauses; returns the function that stops it (default: a `PerformanceObserver` on `gc`). */
  gc(onPause: (kind: GcKind, durationMs: number) => void): () => void;
}

/**
 * The kind of a garbage collection, from the `gc` performance entry's `detail.kind`.
 *
 * @example
 * ```ts
 * const kind: GcKind = 'major';
 * ```
 */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb' | 'unknown';

/**
 * One resource sample. Fractions are 0..1; NaN when the source could not be read.
 *
 * @example
 * ```ts
 * const r = await sampler.sample();
 * console.log(r.cpuUsage, r.memoryUsage, r.diskUsage, r.network?.bytesSent);
 * ```
 */
export interface ResourceReading {
  /** When it was taken (the clock's ms). */
  readonly at: number;
  /** The machine's CPU busy fraction since the previous sample, over all cores. */
  readonly cpuUsage: number;
  /** The machine's memory in use: 1 − available / total. */
  readonly memoryUsage: number;
  /** The fullest configured path's file system (df's Use%: used / (used + available)). */
  readonly diskUsage: number;
  /** Each configured path's usage (NaN when unreadable). */
  readonly disks: readonly DiskReading[];
  /** Network bytes since boot, loopback excluded; `undefined` where unavailable. */
  readonly network: NetworkReading | undefined;
  /** This process. */
  readonly process: ProcessReading;
  /** The event loop since the previous sample, when probed. */
  readonly eventLoop: EventLoopReading | undefined;
}

/**
 * Options of a {@link ResourceSampler}: `new Monitor({ health: { resources } })`.
 *
 * @example
 * ```ts
 * const options: ResourceSamplerOptions = { intervalSeconds: 15, diskPaths: ['/', '/var/lib/postgresql'] };
 * ```
 */
export interface ResourceSamplerOptions {
  /** Seconds between samples (≥ 0.1). Default 10. */
  readonly intervalSeconds?: number;
  /** Paths whose file systems are watched. Default: the working directory. */
  readonly diskPaths?: readonly string[];
  /** Probe the event loop (delay and utilisation). Default true. */
  readonly eventLoop?: boolean;
  /** Watch GC pauses. Default true. */
  readonly gc?: boolean;
  /** The component gauges are recorded under. Default `'system'` (what `cpu_usage` in alert conditions falls back to). */
  readonly component?: string;
  /** Replacements for the real sources (tests, other platforms). */
  readonly probes?: Partial<ResourceProbes>;
}

/**
 * What a {@link ResourceSampler} is built with: a {@link HealthContext}, plus a hook
 * run after every sample (the monitor refreshes task and pool gauges there).
 *
 * @example
 * ```ts
 * const context: ResourceSamplerContext = {
 *   clock: monitor.clock,
 *   diagnostics: monitor.diagnostics,
 *   recorder: monitor,
 *   onSample: () => monitor.tasks.refresh(),
 * };
 * ```
 */
export interface ResourceSamplerContext extends HealthContext {
  /** Called after each sample; a throw is reported, not raised. */
  readonly onSample?: () => void;
}

/**
 * The `monitorEventLoopDelay` resolution, ms: its timer's period, subtracted from
 * delays. Each period wakes the loop: measured on Node 20, 20 ms cost about 0.25% of a
 * core, 50 ms about 0.06%, within the sampler's 0.5% budget.
 */
const LOOP_RESOLUTION_MS = 50;

const GC_KINDS: ReadonlyMap<number, GcKind> = new Map([
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

function defaultEventLoopProbe(): EventLoopProbe {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  histogram.enable();
  let last = performance.eventLoopUtilization();
  const delay = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return {
    read: () => {
      const now = performance.eventLoopUtilization();
      const utilization = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      if (histogram.count === 0) return undefined;
      const reading: EventLoopReading = {
        delayP50Ms: delay(histogram.percentile(50)),
        delayP99Ms: delay(histogram.percentile(99)),
        delayMaxMs: delay(histogram.max),
        utilization,
      };
      histogram.reset();
      return reading;
    },
    stop: () => histogram.disable(),
  };
}

function defaultGc(onPause: (kind: GcKind, durationMs: number) => void): () => void {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as { detail?: unknown }).detail as
        { kind?: unknown } | null | undefined;
      const code = typeof detail?.kind === 'number' ? detail.kind : -1;
      onPause(GC_KINDS.get(code) ?? 'unknown', entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

async function readProcNetDev(): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    return await readFile('/proc/net/dev', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The real sources.
 *
 * @example
 * ```ts
 * const sampler = new ResourceSampler(context, { probes: { ...defaultResourceProbes, freemem: () => 0 } });
 * ```
 */
export const defaultResourceProbes: ResourceProbes = Object.freeze({
  cpus: () => os.cpus(),
  totalmem: () => os.totalmem(),
  freemem: () => os.freemem(),
  processCpu: () => process.cpuUsage(),
  processMemory: () => process.memoryUsage(),
  statfs: (path: string) => statfsAsync(path),
  readNetDev: readProcNetDev,
  monotonicMs: () => performance.now(),
  eventLoop: defaultEventLoopProbe,
  gc: defaultGc,
});

/**
 * Bytes received and sent over every interface of a `/proc/net/dev` text, loopback
 * (`lo`) excluded; `undefined` when the text holds no interface line.
 *
 * @example
 * ```ts
 * const io = parseProcNetDev(await fs.promises.readFile('/proc/net/dev', 'utf8'));
 * console.log(io?.bytesRecv, io?.bytesSent);
 * ```
 */
export function parseProcNetDev(text: string): NetDevTotals | undefined {
  let bytesRecv = 0;
  let bytesSent = 0;
  let interfaces = 0;
  let lines = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (name === '' || fields.length < 9) continue;
    const recv = Number(fields[0]);
    const sent = Number(fields[8]);
    if (!Number.isFinite(recv) || !Number.isFinite(sent)) continue;
    lines++;
    if (name === 'lo') continue;
    interfaces++;
    bytesRecv += recv;
    bytesSent += sent;
  }
  return lines === 0 ? undefined : { bytesRecv, bytesSent, interfaces };
}

/**
 * A file system's usage as `df` computes Use%: used / (used + available to
 * unprivileged users), where used = blocks − free. NaN for an empty file system.
 *
 * @example
 * ```ts
 * diskUsageOf(await fs.promises.statfs('/')); // 0.25
 * ```
 */
export function diskUsageOf(s: StatFsLike): number {
  const used = s.blocks - s.bfree;
  const denominator = used + s.bavail;
  return denominator > 0 ? used / denominator : Number.NaN;
}

/**
 * The CPU busy fraction between two `os.cpus()` readings, summed over cores: 1 −
 * idle time / all time. NaN when no time passed.
 *
 * @example
 * ```ts
 * const before = os.cpus();
 * // ... later ...
 * cpuUsageBetween(before, os.cpus()); // 0.42
 * ```
 */
export function cpuUsageBetween(before: readonly CpuInfo[], after: readonly CpuInfo[]): number {
  const a = totals(before);
  const b = totals(after);
  const all = b.all - a.all;
  const idle = b.idle - a.idle;
  if (!(all > 0)) return Number.NaN;
  return clamp01(1 - idle / all);
}

function totals(cpus: readonly CpuInfo[]): { all: number; idle: number } {
  let all = 0;
  let idle = 0;
  for (const { times: t } of cpus) {
    all += t.user + t.nice + t.sys + t.idle + t.irq;
    idle += t.idle;
  }
  return { all, idle };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

interface Gauges {
  readonly cpu: BoundGauge;
  readonly memory: BoundGauge;
  readonly disk: BoundGauge;
  readonly processCpu: BoundGauge;
  readonly rss: BoundGauge;
  readonly heapUsed: BoundGauge;
  readonly heapTotal: BoundGauge;
  readonly loopP50: BoundGauge;
  readonly loopP99: BoundGauge;
  readonly loopMax: BoundGauge;
  readonly loopUtilization: BoundGauge;
  readonly sent: BoundCounter;
  readonly recv: BoundCounter;
}

/**
 * Samples the machine and the process on an unref'd interval and records, under the
 * component `system` (configurable):
 *
 * | metric | type | unit |
 * |---|---|---|
 * | `cpu_usage` | gauge | fraction of all cores busy since the last sample (from `os.cpus()` deltas) |
 * | `memory_usage` | gauge | fraction of memory in use (1 − `os.freemem()` / `os.totalmem()`) |
 * | `disk_usage` | gauge | fraction used of the fullest configured path's file system |
 * | `disk_path_usage` | gauge, tag `path` | fraction used, per configured path |
 * | `network_io.bytes_sent`, `network_io.bytes_recv` | counters | bytes, loopback excluded (Linux `/proc/net/dev`) |
 * | `process_cpu_usage` | gauge | this process's CPU time over all cores' time, 0..1 |
 * | `process_memory_rss`, `process_heap_used`, `process_heap_total` | gauges | bytes |
 * | `event_loop_delay.p50`, `.p99`, `.max` | gauges | ms the probe's 50 ms timer fired late |
 * | `event_loop_utilization` | gauge | 0..1 |
 * | `gc.pause` | timer, tag `kind` | ms per pause (`minor`, `major`, `incremental`, `weakcb`) |
 *
 * Fractions, so alert conditions read them with percentages: `cpu_usage > 80%`
 * (a rule of any component falls back to the `system` gauge), `disk_usage > 90%`.
 * Nothing throws into the host: a failing source is reported to diagnostics and its
 * reading is NaN (its gauge keeps its last value).
 *
 * @example
 * ```ts
 * const sampler = new ResourceSampler(
 *   { clock: monitor.clock, diagnostics: monitor.diagnostics, recorder: monitor },
 *   { intervalSeconds: 10, diskPaths: ['/'] },
 * );
 * sampler.start();
 * // ...
 * sampler.stop();
 * ```
 */
export class ResourceSampler {
  /** Seconds between samples. */
  readonly intervalSeconds: number;
  /** The paths whose file systems are watched. */
  readonly diskPaths: readonly string[];
  readonly #context: ResourceSamplerContext;
  readonly #probes: ResourceProbes;
  readonly #eventLoopEnabled: boolean;
  readonly #gcEnabled: boolean;
  readonly #component: string;
  readonly #gauges: Gauges;
  readonly #diskGauges: readonly BoundGauge[];
  #cpus: readonly CpuInfo[] | undefined;
  #processCpu: { user: number; system: number } | undefined;
  #processAt: number;
  #network: { bytesSent: number; bytesRecv: number } | undefined;
  #latest: ResourceReading | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #eventLoop: EventLoopProbe | undefined;
  #stopGc: (() => void) | undefined;
  #inFlight: Promise<ResourceReading> | undefined;

  constructor(context: ResourceSamplerContext, options: ResourceSamplerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('resources options must be an object');
    }
    const intervalSeconds = options.intervalSeconds ?? 10;
    if (
      typeof intervalSeconds !== 'number' ||
      !Number.isFinite(intervalSeconds) ||
      intervalSeconds < 0.1
    ) {
      throw new TypeError(
        `resources.intervalSeconds must be a number of seconds >= 0.1, got ${String(intervalSeconds)}`,
      );
    }
    const diskPaths: unknown = options.diskPaths ?? [process.cwd()];
    if (
      !Array.isArray(diskPaths) ||
      diskPaths.length > 64 ||
      !diskPaths.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 4096)
    ) {
      throw new TypeError('resources.diskPaths must be an array of at most 64 non-empty paths');
    }
    for (const name of ['eventLoop', 'gc'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean') {
        throw new TypeError(`resources.${name} must be a boolean`);
      }
    }
    const component = options.component ?? SYSTEM_COMPONENT;
    if (!isValidName(component)) {
      throw new TypeError(
        'resources.component must be a non-empty string of at most 255 characters',
      );
    }
    const probes: unknown = options.probes ?? {};
    if (probes === null || typeof probes !== 'object') {
      throw new TypeError('resources.probes must be an object of functions');
    }
    for (const [key, value] of Object.entries(probes)) {
      if (value !== undefined && typeof value !== 'function') {
        throw new TypeError(`resources.probes.${key} must be a function`);
      }
    }
    this.intervalSeconds = intervalSeconds;
    this.diskPaths = Object.freeze([...new Set(diskPaths as string[])]);
    this.#context = context;
    this.#probes = { ...defaultResourceProbes, ...(probes as Partial<ResourceProbes>) };
    this.#eventLoopEnabled = options.eventLoop ?? true;
    this.#gcEnabled = options.gc ?? true;
    this.#component = component;
    const { recorder } = context;
    const gauge = (name: string, unit = ''): BoundGauge =>
      recorder.gauge(name, { component, unit }).bind();
    this.#gauges = {
      cpu: gauge('cpu_usage', '1'),
      memory: gauge('memory_usage', '1'),
      disk: gauge('disk_usage', '1'),
      processCpu: gauge('process_cpu_usage', '1'),
      rss: gauge('process_memory_rss', 'By'),
      heapUsed: gauge('process_heap_used', 'By'),
      heapTotal: gauge('process_heap_total', 'By'),
      loopP50: gauge('event_loop_delay.p50', 'ms'),
      loopP99: gauge('event_loop_delay.p99', 'ms'),
      loopMax: gauge('event_loop_delay.max', 'ms'),
      loopUtilization: gauge('event_loop_utilization', '1'),
      sent: recorder.counter('network_io.bytes_sent', { component, unit: 'By' }).bind(),
      recv: recorder.counter('network_io.bytes_recv', { component, unit: 'By' }).bind(),
    };
    const perPath = recorder.gauge('disk_path_usage', { component, unit: '1' });
    this.#diskGauges = this.diskPaths.map((path) => perPath.bind({ path }));
    // Baselines, so the first sample has a delta to measure.
    this.#cpus = this.#safe('os.cpus', () => this.#probes.cpus());
    this.#processCpu = this.#safe('process.cpuUsage', () => ({ ...this.#probes.processCpu() }));
    this.#processAt = this.#safe('monotonic clock', () => this.#probes.monotonicMs()) ?? 0;
  }

  /**
   * Whether the interval runs.
   *
   * @example
   * ```ts
   * if (!sampler.running) sampler.start();
   * ```
   */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Starts the event-loop and GC probes and the unref'd sampling interval (the first
   * sample is taken at once). Idempotent.
   *
   * @example
   * ```ts
   * sampler.start();
   * ```
   */
  start(): void {
    if (this.#timer !== undefined) return;
    if (this.#eventLoopEnabled) {
      this.#eventLoop = this.#safe('event loop probe', () => this.#probes.eventLoop());
    }
    if (this.#gcEnabled) {
      const pauses = this.#context.recorder.timer('gc.pause', { component: this.#component });
      const handles = new Map<GcKind, ReturnType<typeof pauses.bind>>();
      this.#stopGc = this.#safe('gc observer', () =>
        this.#probes.gc((kind, ms) => {
          try {
            let handle = handles.get(kind);
            if (handle === undefined) {
              handle = pauses.bind({ kind });
              handles.set(kind, handle);
            }
            handle.record(ms);
          } catch (error) {
            this.#report('gc pause', error);
          }
        }),
      );
    }
    this.#timer = setInterval(() => void this.sample(), this.intervalSeconds * 1000);
    this.#timer.unref();
    void this.sample();
  }

  /**
   * Stops the interval and the probes. Idempotent; `start()` again resumes.
   *
   * @example
   * ```ts
   * sampler.stop();
   * ```
   */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#safe('event loop probe stop', () => this.#eventLoop?.stop());
    this.#eventLoop = undefined;
    this.#safe('gc observer stop', () => this.#stopGc?.());
    this.#stopGc = undefined;
  }

  /**
   * The latest sample, `undefined` before the first.
   *
   * @example
   * ```ts
   * const cpu = sampler.latest()?.cpuUsage;
   * ```
   */
  latest(): ResourceReading | undefined {
    return this.#latest;
  }

  /**
   * Takes a sample now, records it and returns it. Never rejects. A sample asked for
   * while one is in flight returns that one.
   *
   * @example
   * ```ts
   * const reading = await sampler.sample();
   * ```
   */
  sample(): Promise<ResourceReading> {
    this.#inFlight ??= this.#sample()
      .catch((error: unknown) => {
        // A bug of ours or a broken clock: reported, and an unmeasured reading.
        this.#report('sample', error);
        return UNMEASURED;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  async #sample(): Promise<ResourceReading> {
    const probes = this.#probes;
    const g = this.#gauges;
    // Synchronous sources first, all at one instant.
    const cpus = this.#safe('os.cpus', () => probes.cpus());
    let cpuUsage = Number.NaN;
    if (cpus !== undefined && this.#cpus !== undefined) {
      cpuUsage = cpuUsageBetween(this.#cpus, cpus);
      // No time passed (two samples at once): since boot, rather than nothing.
      if (Number.isNaN(cpuUsage)) cpuUsage = cpuUsageBetween([], cpus);
    }
    if (cpus !== undefined) this.#cpus = cpus;
    const memoryUsage =
      this.#safe('os memory', () => {
        const total = probes.totalmem();
        const free = probes.freemem();
        return total > 0 ? clamp01(1 - free / total) : Number.NaN;
      }) ?? Number.NaN;
    const cores = cpus?.length ?? 0;
    const processCpuNow = this.#safe('process.cpuUsage', () => ({ ...probes.processCpu() }));
    const at = this.#safe('monotonic clock', () => probes.monotonicMs());
    let processCpu = Number.NaN;
    if (processCpuNow !== undefined && at !== undefined) {
      const before = this.#processCpu;
      const elapsedMs = at - this.#processAt;
      if (before !== undefined && elapsedMs > 0 && cores > 0) {
        const usedMs =
          (processCpuNow.user - before.user + (processCpuNow.system - before.system)) / 1000;
        processCpu = clamp01(usedMs / (elapsedMs * cores));
      }
      this.#processCpu = processCpuNow;
      this.#processAt = at;
    }
    const memory = this.#safe('process.memoryUsage', () => probes.processMemory());
    const eventLoop = this.#safe('event loop probe', () => this.#eventLoop?.read());
    // Then the asynchronous ones, side by side.
    const [disks, netText] = await Promise.all([
      Promise.all(
        this.diskPaths.map(async (path) => {
          try {
            return { path, usage: diskUsageOf(await probes.statfs(path)) };
          } catch (error) {
            this.#report(`statfs ${path}`, error);
            return { path, usage: Number.NaN };
          }
        }),
      ),
      probes.readNetDev().catch((error: unknown) => {
        this.#report('network counters', error);
        return undefined;
      }),
    ]);
    let network: ResourceReading['network'];
    if (netText !== undefined) {
      const parsed = this.#safe('network counters', () => parseProcNetDev(netText));
      if (parsed !== undefined)
        network = { bytesSent: parsed.bytesSent, bytesRecv: parsed.bytesRecv };
    }
    let diskUsage = Number.NaN;
    for (const d of disks) {
      if (Number.isFinite(d.usage) && !(d.usage <= diskUsage)) diskUsage = d.usage;
    }
    const reading: ResourceReading = Object.freeze({
      at: this.#context.clock.now(),
      cpuUsage,
      memoryUsage,
      diskUsage,
      disks: Object.freeze(disks),
      network,
      process: Object.freeze({
        cpuUsage: processCpu,
        rssBytes: memory?.rss ?? Number.NaN,
        heapUsedBytes: memory?.heapUsed ?? Number.NaN,
        heapTotalBytes: memory?.heapTotal ?? Number.NaN,
      }),
      eventLoop,
    });
    this.#safe('recording', () => {
      setIfFinite(g.cpu, cpuUsage);
      setIfFinite(g.memory, memoryUsage);
      setIfFinite(g.disk, diskUsage);
      disks.forEach((d, i) => setIfFinite(this.#diskGauges[i]!, d.usage));
      setIfFinite(g.processCpu, processCpu);
      setIfFinite(g.rss, reading.process.rssBytes);
      setIfFinite(g.heapUsed, reading.process.heapUsedBytes);
      setIfFinite(g.heapTotal, reading.process.heapTotalBytes);
      if (eventLoop !== undefined) {
        setIfFinite(g.loopP50, eventLoop.delayP50Ms);
        setIfFinite(g.loopP99, eventLoop.delayP99Ms);
        setIfFinite(g.loopMax, eventLoop.delayMaxMs);
        setIfFinite(g.loopUtilization, eventLoop.utilization);
      }
      if (network !== undefined) {
        const before = this.#network;
        // Counters count from the first sample; a counter reset (negative delta) adds nothing.
        if (before !== undefined) {
          if (network.bytesSent >= before.bytesSent)
            g.sent.inc(network.bytesSent - before.bytesSent);
          if (network.bytesRecv >= before.bytesRecv)
            g.recv.inc(network.bytesRecv - before.bytesRecv);
        }
        this.#network = network;
      }
    });
    this.#latest = reading;
    if (this.#context.onSample !== undefined) this.#safe('onSample', this.#context.onSample);
    return reading;
  }

  #safe<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      this.#report(what, error);
      return undefined;
    }
  }

  #report(what: string, error: unknown): void {
    this.#context.diagnostics.report(
      DiagnosticCode.INTERNAL_ERROR,
      `resource sampling (${what}): ${messageOf(error)}`,
    );
  }
}

const UNMEASURED: ResourceReading = Object.freeze({
  at: Number.NaN,
  cpuUsage: Number.NaN,
  memoryUsage: Number.NaN,
  diskUsage: Number.NaN,
  disks: Object.freeze([]),
  network: undefined,
  process: Object.freeze({
    cpuUsage: Number.NaN,
    rssBytes: Number.NaN,
    heapUsedBytes: Number.NaN,
    heapTotalBytes: Number.NaN,
  }),
  eventLoop: undefined,
});

function setIfFinite(gauge: BoundGauge, value: number): void {
  if (Number.isFinite(value)) gauge.set(value);
}
