import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import type { GpuProbe, GpuSample } from './gpu.js';
import type { JobProbes } from './jobs.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.shutdown();
  monitor = undefined;
});

/** CPU and memory probes driven by the test (the process's own would be noise). */
function probes(): JobProbes & { cpu: number; rss: number } {
  const p = {
    cpu: 0,
    rss: 100e6,
    cpuMicros: () => p.cpu,
    rssBytes: () => p.rss,
  };
  return p;
}

function setup(options: ConstructorParameters<typeof Monitor>[0] = {}): {
  m: Monitor;
  clock: ManualClock;
  p: ReturnType<typeof probes>;
} {
  const clock = new ManualClock(T0);
  const p = probes();
  const m = new Monitor({ clock, ...options, jobs: { probes: p, ...options.jobs } });
  monitor = m;
  return { m, clock, p };
}

describe('monitor.jobs ETA', () => {
  it('is within 10% on a steady job (5 units/s, updates every 10 s)', () => {
    const { m, clock } = setup();
    m.jobs.start('steady', { total: 1000 });
    for (let t = 1; t <= 100; t++) {
      clock.advance(10_000);
      m.jobs.progress('steady', t * 50 > 1000 ? 1000 : t * 50);
      if (t * 50 >= 1000) break;
      const truth = (1000 - t * 50) / 5;
      const eta = m.jobs.get('steady')!.etaSeconds!;
      expect(Math.abs(eta - truth)).toBeLessThanOrEqual(0.1 * truth + 1e-9);
    }
    // Between updates, the ETA counts down with the clock.
    m.jobs.start('steady2', { total: 1000 });
    clock.advance(10_000);
    m.jobs.progress('steady2', 50);
    clock.advance(4_000);
    expect(m.jobs.get('steady2')!.etaSeconds).toBeCloseTo(190 - 4, 6);
  });

  it('is within 10% on a noisy steady job', () => {
    const { m, clock } = setup();
    m.jobs.start('noisy', { total: 10_000 });
    let done = 0;
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let worst = 0;
    for (let t = 1; done < 9000; t++) {
      clock.advance(10_000);
      done += 40 + rand() * 20; // 4..6 units/s, mean 5
      m.jobs.progress('noisy', done);
      if (t >= 10) {
        const truth = (10_000 - done) / 5;
        const eta = m.jobs.get('noisy')!.etaSeconds!;
        worst = Math.max(worst, Math.abs(eta - truth) / truth);
      }
    }
    expect(worst).toBeLessThan(0.1);
  });

  it('follows an accelerating job to within 10% of its new rate, where a lifetime average does not', () => {
    const { m, clock } = setup({ jobs: { halfLifeSeconds: 30 } });
    m.jobs.start('accel', { total: 20_000 });
    let done = 0;
    for (let t = 0; t < 60; t++) {
      clock.advance(10_000);
      done += 20; // 2 units/s for 10 minutes
      m.jobs.progress('accel', done);
    }
    let previous = Infinity;
    for (let t = 0; t < 18; t++) {
      clock.advance(10_000);
      done += 80; // then 8 units/s
      m.jobs.progress('accel', done);
      const eta = m.jobs.get('accel')!.etaSeconds!;
      expect(eta).toBeLessThan(previous); // adapts at every update
      previous = eta;
    }
    const truth = (20_000 - done) / 8;
    const eta = m.jobs.get('accel')!.etaSeconds!;
    expect(Math.abs(eta - truth) / truth).toBeLessThan(0.1);
    // The lifetime-average rate would still be off by more than half.
    const elapsed = m.jobs.get('accel')!.elapsedSeconds;
    const naive = (20_000 - done) / (done / elapsed);
    expect(Math.abs(naive - truth) / truth).toBeGreaterThan(0.5);
    expect(m.jobs.get('accel')!.ratePerSecond).toBeGreaterThan(7.2);
  });

  it('converges on a continuously accelerating job (the rate rising at every update)', () => {
    // Rate r(t) = 1 + 0.02 t units/s: +0.2 units/s at every 10 s update, 10,000 units,
    // done at T ≈ 951 s. The stated bound (see JobTracker): never an underestimate by more
    // than rounding; within 10% once past 40% of the job; within 1% past half of it. The
    // moving average alone lags the ramp and stays 5-20% over to the end.
    const { m, clock } = setup();
    const r0 = 1;
    const a = 0.02;
    const total = 10_000;
    const T = (-r0 + Math.sqrt(r0 * r0 + 2 * a * total)) / a;
    m.jobs.start('ramp', { total });
    let worstPast40 = 0;
    let worstPast50 = 0;
    let previous = Infinity;
    for (let t = 10; t < T; t += 10) {
      clock.advance(10_000);
      m.jobs.progress('ramp', r0 * t + (a * t * t) / 2);
      const truth = T - t;
      const s = m.jobs.get('ramp')!;
      const eta = s.etaSeconds!;
      expect(eta).toBeLessThan(previous); // counts down at every update
      previous = eta;
      expect(eta).toBeGreaterThanOrEqual(truth * (1 - 1e-6)); // an overestimate at worst
      const error = Math.abs(eta - truth) / truth;
      if (t >= 0.4 * T) worstPast40 = Math.max(worstPast40, error);
      if (t >= 0.5 * T) worstPast50 = Math.max(worstPast50, error);
      if (t >= 0.5 * T) expect(s.ratePerSecond).toBeCloseTo(r0 + a * t, 6); // the rate now, no lag
    }
    expect(worstPast40).toBeLessThan(0.1);
    expect(worstPast50).toBeLessThan(0.01);
  });

  it('on a noisy accelerating job, overestimates (never badly under) and closes in at the end', () => {
    // ±10% noise at each update hides a ramp of +0.1 units/s per update from the line
    // test (R² < 0.9 over 12 updates), so the moving average's ETA holds: it assumes the
    // current rate goes on, an overestimate that shrinks as the job ends (the bound
    // stated in JobTracker's docs).
    const { m, clock } = setup();
    let seed = 3;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const r = (t: number): number => 2 + 0.01 * t;
    const total = 20_000;
    const T = (-2 + Math.sqrt(4 + 2 * 0.01 * total)) / 0.01;
    m.jobs.start('noisy_ramp', { total });
    let done = 0;
    let worstEnd = 0;
    for (let t = 10; t < T - 10; t += 10) {
      clock.advance(10_000);
      done += r(t - 5) * 10 * (0.9 + 0.2 * rand());
      if (done >= total) break;
      m.jobs.progress('noisy_ramp', done);
      // The time left on the ramp from the observed position.
      const left = (-r(t) + Math.sqrt(r(t) ** 2 + 2 * 0.01 * (total - done))) / 0.01;
      const eta = m.jobs.get('noisy_ramp')!.etaSeconds!;
      if (t >= 0.2 * T) expect(eta).toBeGreaterThan(0.9 * left);
      if (t >= 0.9 * T) worstEnd = Math.max(worstEnd, Math.abs(eta - left) / left);
    }
    expect(worstEnd).toBeLessThan(0.15);
  });

  it('flags a stalled job and drops its ETA; progress clears the flag', () => {
    const { m, clock } = setup({ jobs: { minStallSeconds: 60, stallFactor: 5 } });
    m.jobs.start('stuck', { total: 1000 });
    for (let t = 1; t <= 10; t++) {
      clock.advance(10_000);
      m.jobs.progress('stuck', t * 10);
    }
    expect(m.jobs.get('stuck')!.state).toBe('running');
    // Heartbeats without progress do not count as progress.
    for (let t = 0; t < 6; t++) {
      clock.advance(10_000);
      m.jobs.progress('stuck', 100);
    }
    expect(m.jobs.get('stuck')!.state).toBe('running'); // 60 s: not past max(60, 5 × 10 s)
    clock.advance(10_000);
    m.jobs.progress('stuck', 100);
    const s = m.jobs.get('stuck')!;
    expect(s.state).toBe('stalled');
    expect(s.etaSeconds).toBeNull();
    expect(s.secondsSinceProgress).toBe(70);
    expect(m.analytics({ component: 'distillation' }).component_specific['jobs_stalled']).toBe(1);
    clock.advance(10_000);
    m.jobs.progress('stuck', 110);
    expect(m.jobs.get('stuck')!.state).toBe('running');
  });

  it('stalls a silent job too (no updates at all)', () => {
    const { m, clock } = setup();
    m.jobs.start('silent', { total: 10 });
    clock.advance(61_000);
    expect(m.jobs.get('silent')!.state).toBe('stalled');
  });
});

describe('monitor.jobs outcomes, resources and bounds', () => {
  it('reports success rate, failures by reason, quality, CPU and memory in analytics', () => {
    const { m, clock, p } = setup();
    m.jobs.start('a', { total: 100, kind: 'multi_teacher' });
    clock.advance(100_000);
    p.cpu += 50e6; // 50 s of CPU in 100 s: half a core
    p.rss = 300e6;
    m.jobs.progress('a', 100);
    expect(m.jobs.get('a')!.cpuUsage).toBeCloseTo(0.5, 6);
    expect(m.jobs.get('a')!.peakMemoryRssBytes).toBe(300e6);
    m.jobs.finish('a', 'success', { qualityRetention: 0.96, efficiencyGain: 3.2 });
    m.jobs.start('b', { total: 100 });
    m.jobs.finish('b', 'failure', { reason: 'Out Of Memory' });
    m.jobs.start('c', { total: 100 });
    m.jobs.finish('c', 'failure', { reason: 'out_of_memory' });
    m.jobs.start('d');
    m.jobs.finish('d', 'cancelled');
    const specific = m.analytics({ component: 'distillation' }).component_specific;
    expect(specific).toMatchObject({
      jobs_started: 4,
      jobs_succeeded: 1,
      jobs_failed: 2,
      jobs_cancelled: 1,
      job_success_rate: 0.25,
      job_failures_out_of_memory: 2,
      model_quality_retention: 0.96,
      model_efficiency_gain: 3.2,
      jobs_active: 0,
    });
    expect(m.jobs.get('a')!.state).toBe('success');
    expect(m.jobs.get('a')!.progress).toBe(1);
    expect(
      m.getRates('jobs.finished', {
        component: 'distillation',
        tags: { kind: 'multi_teacher', outcome: 'success' },
        windowSeconds: 'cumulative',
      })?.count,
    ).toBe(1);
    expect(
      m.getStats('job.duration', { component: 'distillation', tags: { kind: 'job' } })?.errors,
    ).toBe(2);
  });

  it('reports GPU use as unavailable (never zero) without a GPU, and averages samples with one', async () => {
    const unavailable: GpuProbe = {
      sample: (): Promise<GpuSample> =>
        Promise.resolve({ available: false, reason: 'nvidia-smi not found' }),
    };
    const { m } = setup({ jobs: { gpu: unavailable } });
    m.jobs.start('cpu_only', { total: 10 });
    await new Promise((r) => setImmediate(r));
    expect(m.jobs.get('cpu_only')!.gpu).toEqual({
      available: false,
      reason: 'nvidia-smi not found',
    });
    const specific = m.analytics({ component: 'distillation' }).component_specific;
    expect(specific['gpu_available']).toBe(0);
    expect(specific['job_gpu_utilization']).toBeUndefined();
    await m.shutdown();

    // A scripted probe (no GPU on this machine): 60% then 80%.
    const readings = [0.6, 0.8];
    const gpu: GpuProbe = {
      sample: (): Promise<GpuSample> =>
        Promise.resolve({
          available: true,
          reading: {
            gpus: 1,
            utilization: readings.shift() ?? 0.8,
            memoryUsedBytes: 8e9,
            memoryTotalBytes: 16e9,
          },
        }),
    };
    const second = setup({ jobs: { gpu, gpuIntervalSeconds: 15 } });
    second.m.jobs.start('gpu', { total: 10 });
    await new Promise((r) => setImmediate(r));
    second.clock.advance(5_000);
    second.m.jobs.progress('gpu', 1); // under 15 s: no new sample
    await new Promise((r) => setImmediate(r));
    second.clock.advance(15_000);
    second.m.jobs.progress('gpu', 2);
    await new Promise((r) => setImmediate(r));
    const g = second.m.jobs.get('gpu')!.gpu;
    expect(g).toEqual({ available: true, utilization: 0.7, peakMemoryBytes: 8e9, samples: 2 });
    const s = second.m.analytics({ component: 'distillation' }).component_specific;
    expect(s['gpu_available']).toBe(1);
    expect(s['job_gpu_utilization']).toBe(0.7);
  });

  it('keeps memory bounded: refuses starts past maxActive and evicts finished jobs past maxFinished, counting both', () => {
    const { m } = setup({ jobs: { maxActive: 2, maxFinished: 3 } });
    m.jobs.start('1');
    m.jobs.start('2');
    m.jobs.start('3'); // dropped
    m.jobs.progress('3', 1); // unknown
    expect(m.jobs.stats()).toMatchObject({ active: 2, dropped: 1, unknownUpdates: 1 });
    let oldest = ['1', '2'];
    for (let i = 0; i < 10; i++) {
      m.jobs.finish(oldest[0]!, 'success');
      m.jobs.start(`n${i}`);
      oldest = [oldest[1]!, `n${i}`];
    }
    expect(m.jobs.list().length).toBe(2 + 3);
    expect(m.jobs.stats().evicted).toBe(7);
    expect(m.jobs.get('1')).toBeUndefined(); // evicted first
    expect(m.diagnostics.counts()['PRSM_METRIC_LIMIT']).toBeGreaterThanOrEqual(1);
  });

  it('never throws on bad input', () => {
    const { m } = setup();
    expect(() => {
      m.jobs.start('', {});
      m.jobs.start('x', { total: -1 });
      m.jobs.start('x', null as never);
      m.jobs.progress('nope', 1);
      m.jobs.start('ok', { total: 5 });
      m.jobs.progress('ok', Number.NaN);
      m.jobs.finish('ok', 'maybe' as never);
      m.jobs.finish('ok', 'success', null as never);
    }).not.toThrow();
    expect(m.jobs.get('ok')!.state).toBe('success');
  });

  it('checks its options at construction', () => {
    const clock = new ManualClock(T0);
    expect(() => new Monitor({ clock, jobs: { halfLifeSeconds: 0 } })).toThrow(TypeError);
    expect(() => new Monitor({ clock, jobs: { maxActive: 1.5 } })).toThrow(/jobs\.maxActive/);
    expect(() => new Monitor({ clock, jobs: { gpu: {} as never } })).toThrow(/jobs\.gpu/);
  });
});
