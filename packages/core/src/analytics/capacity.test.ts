import { describe, expect, it } from 'vitest';
import { Diagnostics } from '../diagnostics/diagnostics.js';
import { forecastCapacity, forecastLinear, formatDuration } from './capacity.js';
import { MinuteHistory } from './history.js';
import { gaussian, rng, T0 } from './test-support.js';

const DAY = 86_400_000;

describe('forecastLinear', () => {
  it('is within 10% of the known time to threshold on a noisy line, over seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const g = gaussian(rng(seed));
      // Disk from 50% rising 2 points a day, hourly for 7 days, noise sd 1 point.
      const values = Array.from({ length: 168 }, (_, i) => 0.5 + (0.02 * i) / 24 + 0.01 * g());
      const f = forecastLinear(values, 3_600_000, 0.9);
      const trueEta = ((0.9 - (0.5 + (0.02 * 167) / 24)) / 0.02) * DAY; // about 13 days
      expect(f.timeToThresholdMs).not.toBeNull();
      expect(Math.abs(f.timeToThresholdMs! - trueEta) / trueEta).toBeLessThan(0.1);
      expect(f.slopePerDay).toBeCloseTo(0.02, 2);
    }
  });

  it('gives no time for flat or falling series, and 0 past the threshold', () => {
    const g = gaussian(rng(3));
    const flat = Array.from({ length: 120 }, () => 0.5 + 0.01 * g());
    expect(forecastLinear(flat, 60_000, 0.9).timeToThresholdMs).toBeNull();
    const falling = Array.from({ length: 120 }, (_, i) => 0.8 - i * 0.001);
    expect(forecastLinear(falling, 60_000, 0.9).timeToThresholdMs).toBeNull();
    const over = Array.from({ length: 120 }, () => 0.95);
    expect(forecastLinear(over, 60_000, 0.9).timeToThresholdMs).toBe(0);
    expect(forecastLinear([0.1, 0.2], 60_000, 0.9).timeToThresholdMs).toBeNull();
  });

  it('formats durations', () => {
    expect(formatDuration(12 * DAY)).toBe('12 days');
    expect(formatDuration(5 * 3_600_000)).toBe('5 hours');
    expect(formatDuration(40 * 60_000)).toBe('40 minutes');
    expect(formatDuration(1000)).toBe('1 minute');
  });
});

describe('forecastCapacity over the history', () => {
  it('says "disk_usage at 90% in N days" with advice, from the hourly history', () => {
    const h = new MinuteHistory(undefined, new Diagnostics());
    const g = gaussian(rng(9));
    // 4 days of minutes of disk rising 3 points a day from 60%.
    for (let m = 0; m < 4 * 1440; m++) {
      const disk = 0.6 + (0.03 * m) / 1440 + 0.002 * g();
      h.record('system', T0 + m * 60_000, { gauges: { disk_usage: disk, cpu_usage: 0.3 } });
    }
    const [cpu, disk] = ['cpu_usage', 'disk_usage'].map((m) =>
      forecastCapacity(h, 'system').find((f) => f.metric === m)!,
    );
    expect(disk!.resolution).toBe('hour');
    const expectedDays = (0.9 - (0.6 + 0.03 * 4)) / 0.03; // 6 days
    expect(Math.abs(disk!.timeToThresholdMs! / DAY - expectedDays) / expectedDays).toBeLessThan(
      0.1,
    );
    expect(disk!.summary).toBe('disk_usage at 90% in 6 days');
    expect(disk!.advice).toMatch(
      /^Scale disk space: disk_usage at 90% in 6 days \(now 7\d\.\d%, \+3(\.\d+)? points\/day\)$/,
    );
    expect(cpu!.timeToThresholdMs).toBeNull();
    expect(cpu!.summary).toBe('cpu_usage stable at 30%');
    expect(cpu!.advice).toBeUndefined();
    // A 3-day horizon: 6 days away is no advice.
    expect(
      forecastCapacity(h, 'system', { horizonDays: 3 }).find((f) => f.metric === 'disk_usage')!
        .advice,
    ).toBeUndefined();
  });

  it('forecasts db_connections against 90% of max_connections, and throughput when given a capacity', () => {
    const h = new MinuteHistory(undefined, new Diagnostics());
    for (let m = 0; m < 120; m++) {
      h.record('database', T0 + m * 60_000, {
        requests: 1000 + m * 10,
        gauges: { db_connections: 20 + m * 0.2, max_connections: 100 },
      });
    }
    const forecasts = forecastCapacity(h, 'database', { throughputPerMinute: 5000 });
    const db = forecasts.find((f) => f.metric === 'db_connections')!;
    expect(db.threshold).toBe(90);
    expect(db.resolution).toBe('minute');
    // 20 + 119 × 0.2 = 43.8 now, 0.2 a minute: (90 − 43.8) / 0.2 = 231 minutes.
    expect(db.timeToThresholdMs! / 60_000).toBeCloseTo(231, 3);
    expect(db.summary).toBe('db_connections at 90 in 4 hours');
    const tp = forecasts.find((f) => f.metric === 'throughput')!;
    expect(tp.timeToThresholdMs! / 60_000).toBeCloseTo((5000 - 2190) / 10, 3);
    expect(forecastCapacity(h, 'database').some((f) => f.metric === 'throughput')).toBe(false);
  });
});
