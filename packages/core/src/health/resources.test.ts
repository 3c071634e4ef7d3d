import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import {
  cpuUsageBetween,
  diskUsageOf,
  parseProcNetDev,
  ResourceSampler,
  type ResourceSamplerOptions,
} from './resources.js';
import {
  cpu,
  FixedProbes,
  healthMonitor,
  NET_DEV,
  ruleState,
  statfsOf,
  T0,
} from './test-support.js';

const monitors: Monitor[] = [];
const samplers: ResourceSampler[] = [];
function setup(options: ResourceSamplerOptions = {}, onSample?: () => void) {
  const h = healthMonitor();
  monitors.push(h.monitor);
  const fixed = new FixedProbes();
  const sampler = new ResourceSampler(
    { ...h.context, ...(onSample && { onSample }) },
    { diskPaths: ['/'], probes: fixed.probes(), ...options },
  );
  samplers.push(sampler);
  return { ...h, fixed, sampler };
}
afterEach(async () => {
  for (const s of samplers.splice(0)) s.stop();
  vi.useRealTimers();
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function gauge(monitor: Monitor, name: string, component = 'system'): number | undefined {
  const s = monitor
    .snapshot({ digests: false })
    .series.find((x) => x.name === name && x.component === component);
  return s?.type === 'gauge' ? s.value : undefined;
}

function counterTotal(monitor: Monitor, name: string): number | undefined {
  const s = monitor
    .snapshot({ digests: false })
    .series.find((x) => x.name === name && x.component === 'system');
  return s?.type === 'counter' ? s.total : undefined;
}

describe('the pure readings', () => {
  it('cpuUsageBetween: 1 − idle delta / total delta over every core', () => {
    const before = [cpu(100, 900), cpu(0, 1000)];
    const after = [cpu(400, 1100, 100), cpu(300, 1100)];
    // deltas: busy 300+100 + 300 = 700, idle 200 + 100 = 300
    expect(cpuUsageBetween(before, after)).toBeCloseTo(0.7, 10);
    expect(cpuUsageBetween(after, after)).toBeNaN();
    expect(cpuUsageBetween([], [cpu(1, 3)])).toBeCloseTo(0.25, 10);
  });

  it('diskUsageOf: df’s Use%, used / (used + available), reserved blocks left out', () => {
    expect(diskUsageOf(statfsOf(25, 75))).toBe(0.25);
    expect(diskUsageOf(statfsOf(50, 50, 100))).toBe(0.5);
    expect(diskUsageOf({ bsize: 4096, blocks: 0, bfree: 0, bavail: 0 })).toBeNaN();
  });

  it('parseProcNetDev: bytes summed over interfaces, loopback excluded', () => {
    expect(parseProcNetDev(NET_DEV)).toEqual({ bytesRecv: 2300, bytesSent: 1200, interfaces: 2 });
    expect(parseProcNetDev('    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n')).toEqual({
      bytesRecv: 0,
      bytesSent: 0,
      interfaces: 0,
    });
    expect(parseProcNetDev('')).toBeUndefined();
    expect(parseProcNetDev('garbage: x y\n')).toBeUndefined();
  });
});

describe('ResourceSampler with fixed probes', () => {
  it('records the spec’s resource gauges as fractions under the system component', async () => {
    const { sampler, fixed, monitor, clock } = setup();
    fixed.cpus = [cpu(300, 700), cpu(500, 500)];
    fixed.monotonic = 1000;
    fixed.processCpuUs = { user: 300_000, system: 100_000 }; // 400 ms of 2 cores × 1 s
    clock.advance(10_000);
    const r = await sampler.sample();
    expect(r).toMatchObject({
      at: T0 + 10_000,
      cpuUsage: 0.4,
      memoryUsage: 0.75,
      diskUsage: 0.25,
      network: { bytesSent: 1200, bytesRecv: 2300 },
      process: { cpuUsage: 0.2, rssBytes: 300, heapUsedBytes: 100, heapTotalBytes: 200 },
    });
    expect(sampler.latest()).toBe(r);
    expect(gauge(monitor, 'cpu_usage')).toBe(0.4);
    expect(gauge(monitor, 'memory_usage')).toBe(0.75);
    expect(gauge(monitor, 'disk_usage')).toBe(0.25);
    expect(gauge(monitor, 'disk_path_usage')).toBe(0.25);
    expect(gauge(monitor, 'process_cpu_usage')).toBe(0.2);
    expect(gauge(monitor, 'process_memory_rss')).toBe(300);
    expect(gauge(monitor, 'process_heap_used')).toBe(100);
    expect(gauge(monitor, 'process_heap_total')).toBe(200);
    // The event loop is probed once started; sample() alone reads no probe.
    expect(r.eventLoop).toBeUndefined();
    expect(gauge(monitor, 'event_loop_delay.p99')).toBeUndefined();
  });

  it('cpu_usage > 80% fires for a rule of any component through the system fallback', async () => {
    const { sampler, fixed, monitor } = setup();
    fixed.cpus = [cpu(90, 10), cpu(80, 20)];
    await sampler.sample();
    expect(ruleState(monitor, 'cpu_usage > 80%', 'api_gateway')).toMatchObject({
      state: 'firing',
      value: 0.85,
    });
    expect(ruleState(monitor, 'disk_usage > 90%', 'system').state).toBe('inactive');
    fixed.cpus = [cpu(100, 110), cpu(90, 120)]; // delta: busy 20 of 220
    await sampler.sample();
    expect(ruleState(monitor, 'cpu_usage > 80%', 'api_gateway').state).toBe('inactive');
  });

  it('counts network bytes from the first sample on, and ignores a counter reset', async () => {
    const { sampler, fixed, monitor } = setup();
    await sampler.sample();
    expect(counterTotal(monitor, 'network_io.bytes_sent')).toBe(0);
    fixed.netDev = NET_DEV.replace('2000', '5000').replace(' 1000 ', ' 1500 ');
    await sampler.sample();
    expect(counterTotal(monitor, 'network_io.bytes_recv')).toBe(3000);
    expect(counterTotal(monitor, 'network_io.bytes_sent')).toBe(500);
    expect(sampler.latest()?.network).toEqual({ bytesSent: 1700, bytesRecv: 5300 });
    fixed.netDev = NET_DEV; // a reset: totals fall
    await sampler.sample();
    expect(counterTotal(monitor, 'network_io.bytes_recv')).toBe(3000);
  });

  it('without /proc/net/dev network is undefined and nothing is counted (the fallback)', async () => {
    const { sampler, fixed, monitor } = setup();
    fixed.netDev = undefined;
    const r = await sampler.sample();
    expect(r.network).toBeUndefined();
    expect(counterTotal(monitor, 'network_io.bytes_sent')).toBe(0);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(0);
  });

  it('takes the fullest of several paths, and reports an unreadable one without failing', async () => {
    const { sampler, fixed, monitor } = setup({ diskPaths: ['/', '/data', '/gone'] });
    fixed.disks.set('/data', statfsOf(90, 10));
    const r = await sampler.sample();
    expect(r.diskUsage).toBe(0.9);
    expect(r.disks.map((d) => d.path)).toEqual(['/', '/data', '/gone']);
    expect(r.disks[2]!.usage).toBeNaN();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    expect(ruleState(monitor, 'max(disk_path_usage) > 85%', 'system').state).toBe('firing');
  });

  it('never throws or rejects: every failing source is reported and reads NaN', async () => {
    const { monitor } = setup();
    const sampler = new ResourceSampler(
      { clock: monitor.clock, diagnostics: monitor.diagnostics, recorder: monitor },
      {
        diskPaths: ['/'],
        eventLoop: false,
        gc: false,
        probes: {
          cpus: () => {
            throw new Error('no cpus');
          },
          totalmem: () => {
            throw new Error('no memory');
          },
          freemem: () => 0,
          processCpu: () => {
            throw new Error('x');
          },
          processMemory: () => {
            throw new Error('x');
          },
          statfs: () => Promise.reject(new Error('EACCES')),
          readNetDev: () => Promise.reject(new Error('EIO')),
          monotonicMs: () => 0,
        },
      },
    );
    samplers.push(sampler);
    const r = await sampler.sample();
    expect(r.cpuUsage).toBeNaN();
    expect(r.memoryUsage).toBeNaN();
    expect(r.diskUsage).toBeNaN();
    expect(r.network).toBeUndefined();
    expect(r.process.rssBytes).toBeNaN();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBeGreaterThanOrEqual(7);
    expect(gauge(monitor, 'cpu_usage')).toBeUndefined();
  });

  it('a throwing clock is reported; the sample resolves unmeasured and latest() keeps the last', async () => {
    const { monitor, fixed } = setup();
    let broken = false;
    const clock = {
      now: () => {
        if (broken) throw new Error('clock broke');
        return T0;
      },
    };
    const sampler = new ResourceSampler(
      { clock, diagnostics: monitor.diagnostics, recorder: monitor },
      { diskPaths: ['/'], probes: fixed.probes() },
    );
    const good = await sampler.sample();
    broken = true;
    const r = await sampler.sample();
    expect(r.cpuUsage).toBeNaN();
    expect(r.at).toBeNaN();
    expect(sampler.latest()).toBe(good);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
  });

  it('validates its options like a constructor', () => {
    const { context } = setup();
    expect(() => new ResourceSampler(context, { intervalSeconds: 0 })).toThrow(/intervalSeconds/);
    expect(() => new ResourceSampler(context, { diskPaths: [''] })).toThrow(/diskPaths/);
    expect(() => new ResourceSampler(context, { diskPaths: '/' as never })).toThrow(/diskPaths/);
    expect(() => new ResourceSampler(context, { gc: 'yes' as never })).toThrow(/gc/);
    expect(() => new ResourceSampler(context, { component: '' })).toThrow(/component/);
    expect(() => new ResourceSampler(context, { probes: { cpus: 1 as never } })).toThrow(/cpus/);
  });
});

describe('ResourceSampler start and stop', () => {
  it('samples at once and on each interval, probes the loop and GC, and stops them all', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let ticks = 0;
    const { sampler, fixed, monitor } = setup({ intervalSeconds: 5 }, () => ticks++);
    expect(sampler.running).toBe(false);
    sampler.start();
    sampler.start(); // idempotent
    expect(sampler.running).toBe(true);
    await vi.waitFor(() => expect(ticks).toBe(1));
    expect(gauge(monitor, 'event_loop_delay.p99')).toBe(5);
    expect(gauge(monitor, 'event_loop_delay.max')).toBe(9);
    expect(gauge(monitor, 'event_loop_utilization')).toBe(0.25);
    fixed.gcListener!('minor', 2);
    fixed.gcListener!('major', 30);
    fixed.gcListener!('minor', 4);
    expect(
      monitor.getStats('gc.pause', {
        component: 'system',
        tags: { kind: 'minor' },
        windowSeconds: 60,
      }),
    ).toMatchObject({ count: 2, max: 4 });
    expect(
      monitor.getStats('gc.pause', { component: 'system', tags: { kind: 'major' } })?.max,
    ).toBe(30);

    await vi.advanceTimersByTimeAsync(5000);
    await vi.waitFor(() => expect(ticks).toBe(2));
    await vi.advanceTimersByTimeAsync(10_000);
    await vi.waitFor(() => expect(ticks).toBe(4));

    sampler.stop();
    expect(sampler.running).toBe(false);
    expect(fixed.eventLoopStops).toBe(1);
    expect(fixed.gcListener).toBeUndefined();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ticks).toBe(4);
  });

  it('a throwing onSample hook is reported, and sampling goes on', async () => {
    const { sampler, monitor } = setup({}, () => {
      throw new Error('hook bug');
    });
    await sampler.sample();
    await sampler.sample();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(2);
  });

  it('a sample asked for while one is in flight is that one', async () => {
    const { sampler } = setup();
    const a = sampler.sample();
    const b = sampler.sample();
    expect(a).toBe(b);
    await a;
    expect(sampler.sample()).not.toBe(a);
  });
});

describe('ResourceSampler on this machine', () => {
  function realSampler(options: ResourceSamplerOptions = {}) {
    const h = healthMonitor();
    monitors.push(h.monitor);
    const sampler = new ResourceSampler(h.context, options);
    samplers.push(sampler);
    return { ...h, sampler };
  }

  it('memory_usage is within 2 points of 1 − os.freemem() / os.totalmem()', async () => {
    const { sampler } = realSampler({ eventLoop: false, gc: false });
    const r = await sampler.sample();
    const expected = 1 - os.freemem() / os.totalmem();
    expect(Math.abs(r.memoryUsage - expected)).toBeLessThan(0.02);
    const rss = process.memoryUsage().rss;
    expect(Math.abs(r.process.rssBytes - rss) / rss).toBeLessThan(0.2);
  });

  it.runIf(process.platform !== 'win32')(
    'disk_usage matches df -k for the working directory (used / (used + available))',
    async () => {
      const { sampler } = realSampler({ eventLoop: false, gc: false });
      const r = await sampler.sample();
      const out = execFileSync('df', ['-k', '-P', process.cwd()], { encoding: 'utf8' });
      const fields = out.trim().split('\n').at(-1)!.trim().split(/\s+/);
      const used = Number(fields[2]);
      const avail = Number(fields[3]);
      const usePercent = Number(fields[4]!.replace('%', ''));
      expect(Math.abs(r.diskUsage - used / (used + avail))).toBeLessThan(0.005);
      // df rounds Use% up.
      expect(Math.abs(r.diskUsage * 100 - usePercent)).toBeLessThanOrEqual(1);
    },
  );

  it.runIf(process.platform === 'linux')(
    'network_io matches /proc/net/dev summed over non-loopback interfaces',
    async () => {
      const read = () => {
        let recv = 0;
        let sent = 0;
        for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
          const [name, rest] = line.split(':');
          if (rest === undefined || name!.trim() === 'lo') continue;
          const f = rest.trim().split(/\s+/).map(Number);
          recv += f[0]!;
          sent += f[8]!;
        }
        return { recv, sent };
      };
      const { sampler } = realSampler({ eventLoop: false, gc: false });
      const before = read();
      const r = await sampler.sample();
      const after = read();
      expect(r.network).toBeDefined();
      expect(r.network!.bytesRecv).toBeGreaterThanOrEqual(before.recv);
      expect(r.network!.bytesRecv).toBeLessThanOrEqual(after.recv);
      expect(r.network!.bytesSent).toBeGreaterThanOrEqual(before.sent);
      expect(r.network!.bytesSent).toBeLessThanOrEqual(after.sent);
    },
  );

  it.runIf(process.platform === 'linux')(
    'cpu_usage tracks /proc/stat over the same interval, and a busy loop shows in process_cpu_usage',
    async () => {
      const stat = () => {
        const f = readFileSync('/proc/stat', 'utf8')
          .split('\n')[0]!
          .trim()
          .split(/\s+/)
          .slice(1, 8)
          .map(Number);
        const [user, nice, system, idle, iowait, irq, softirq] = f as [
          number,
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        return {
          busy: user + nice + system + irq + softirq,
          all: user + nice + system + idle + iowait + irq + softirq,
        };
      };
      const { sampler } = realSampler({ eventLoop: false, gc: false });
      await sampler.sample();
      const a = stat();
      const until = performance.now() + 400;
      while (performance.now() < until) Math.sqrt(Math.random());
      const r = await sampler.sample();
      const b = stat();
      const expected = (b.busy - a.busy) / (b.all - a.all);
      expect(r.cpuUsage).toBeGreaterThan(0);
      expect(r.cpuUsage).toBeLessThanOrEqual(1);
      expect(Math.abs(r.cpuUsage - expected)).toBeLessThan(0.15);
      // 400 ms of one thread busy: at least a third of one core's share of the machine.
      expect(r.process.cpuUsage).toBeGreaterThan(0.33 / os.cpus().length);
    },
  );

  it('the real event-loop probe sees a blocked loop, and the GC observer sees collections', async () => {
    const { sampler, monitor } = realSampler({ intervalSeconds: 3600 });
    sampler.start();
    await sampler.sample();
    // A sample resets the delay histogram, whose first timer period after a reset only
    // re-arms it: block after one period has passed.
    await new Promise((resolve) => setTimeout(resolve, 70));
    const until = performance.now() + 120;
    while (performance.now() < until) Math.sqrt(Math.random());
    let keep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) keep.push({ i, s: `x${i}` });
    keep = [];
    await new Promise((resolve) => setTimeout(resolve, 60));
    const r = await sampler.sample();
    expect(r.eventLoop).toBeDefined();
    expect(r.eventLoop!.delayMaxMs).toBeGreaterThan(50);
    expect(r.eventLoop!.utilization).toBeGreaterThan(0);
    expect(r.eventLoop!.utilization).toBeLessThanOrEqual(1);
    const minor = monitor.getStats('gc.pause', {
      component: 'system',
      tags: { kind: 'minor' },
      windowSeconds: 60,
    });
    expect(minor?.count ?? 0).toBeGreaterThan(0);
    expect(keep).toHaveLength(0);
    sampler.stop();
  });
});
