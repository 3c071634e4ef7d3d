/**
 * Test helpers for health/: a real Monitor on a ManualClock with the health context
 * built from its public surface, fixed resource probes, and a series reader over
 * metric families built directly (what the Monitor hands its alert engine).
 */
import { ManualClock } from '../clock/clock.js';
import { Diagnostics } from '../diagnostics/diagnostics.js';
import type { MonitorReader } from '../alerting/monitor-source.js';
import { MetricFamily } from '../metrics/family.js';
import { SlotTicker } from '../metrics/ticker.js';
import { scaleFor } from '../sketch/centroids.js';
import { Monitor } from '../monitor.js';
import type { CpuTimes, ResourceProbes, StatFsLike } from './resources.js';
import type { HealthContext } from './types.js';
import type { MetricType } from '../metrics/types.js';

export const T0 = Date.UTC(2024, 0, 15, 14, 30);

export function healthMonitor(): { monitor: Monitor; clock: ManualClock; context: HealthContext } {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0 } });
  return {
    monitor,
    clock,
    context: { clock, diagnostics: monitor.diagnostics, recorder: monitor },
  };
}

/** Evaluates a rule once through the monitor's alert engine; its state afterwards. */
export function ruleState(
  monitor: Monitor,
  condition: string,
  component: string,
): { state: string; value: number | undefined; result: string | undefined } {
  const rule = monitor.alerts.create({ name: condition, severity: 'medium', component, condition });
  monitor.alerts.evaluate();
  const after = monitor.alerts.get(rule.id)!;
  monitor.alerts.delete(rule.id);
  return {
    state: after.state,
    value: after.lastEvaluation?.value,
    result: after.lastEvaluation?.result,
  };
}

export function cpu(user: number, idle: number, sys = 0): { times: CpuTimes } {
  return { times: { user, nice: 0, sys, idle, irq: 0 } };
}

export function statfsOf(usedBlocks: number, availBlocks: number, reserved = 0): StatFsLike {
  return {
    bsize: 4096,
    blocks: usedBlocks + availBlocks + reserved,
    bfree: availBlocks + reserved,
    bavail: availBlocks,
  };
}

export const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000      10    0    0    0     0          0         0     5000      10    0    0    0     0       0          0
  eth0: 2000    20    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth1:  300     3    0    0    0     0          0         0      200       2    0    0    0     0       0          0
`;

/**
 * Probes with fixed, settable readings: no real source is touched (event loop and GC
 * probes included).
 */
export class FixedProbes {
  cpus: { times: CpuTimes }[] = [cpu(0, 0), cpu(0, 0)];
  total = 16_000;
  free = 4_000;
  processCpuUs = { user: 0, system: 0 };
  memory = { rss: 300, heapUsed: 100, heapTotal: 200 };
  disks = new Map<string, StatFsLike | Error>([['/', statfsOf(25, 75)]]);
  netDev: string | undefined = NET_DEV;
  monotonic = 0;
  loop = { delayP50Ms: 1, delayP99Ms: 5, delayMaxMs: 9, utilization: 0.25 };
  gcListener: ((kind: 'minor' | 'major', ms: number) => void) | undefined;
  eventLoopStops = 0;

  probes(): Partial<ResourceProbes> {
    return {
      cpus: () => this.cpus,
      totalmem: () => this.total,
      freemem: () => this.free,
      processCpu: () => this.processCpuUs,
      processMemory: () => this.memory,
      statfs: (path) => {
        const d = this.disks.get(path);
        if (d === undefined) return Promise.reject(new Error(`ENOENT: ${path}`));
        return d instanceof Error ? Promise.reject(d) : Promise.resolve(d);
      },
      readNetDev: () => Promise.resolve(this.netDev),
      monotonicMs: () => this.monotonic,
      eventLoop: () => ({
        read: () => this.loop,
        stop: () => {
          this.eventLoopStops++;
        },
      }),
      gc: (onPause) => {
        this.gcListener = onPause;
        return () => {
          this.gcListener = undefined;
        };
      },
    };
  }
}

/** Metric families on a ManualClock, read through the alert engine's MonitorReader. */
export function familiesReader(clock: ManualClock, subWindowSeconds = 60, ringSize = 16) {
  const diagnostics = new Diagnostics();
  const ticker = new SlotTicker(clock, subWindowSeconds * 1000, diagnostics);
  const context = {
    ticker,
    scale: scaleFor(100),
    ringSize,
    maxSeriesPerMetric: 100,
    diagnostics,
    onOverflow: () => {},
    onDrop: () => {},
  };
  const families = new Map<string, MetricFamily>();
  const family = (name: string, type: MetricType): MetricFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = new MetricFamily(context, name, type, '', '');
      families.set(name, f);
    }
    return f;
  };
  const reader: MonitorReader = {
    families,
    slotsFor: (windowSeconds) => Math.ceil(windowSeconds / subWindowSeconds - 1e-9),
    sync: () => ticker.read(),
  };
  return { reader, family, ticker };
}
