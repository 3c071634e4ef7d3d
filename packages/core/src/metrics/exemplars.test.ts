import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import type { HistogramSnapshot } from './snapshot.js';

const T0 = Date.UTC(2024, 0, 15, 14, 0);
const MIN = 60_000;

function histogram(monitor: Monitor, name: string): HistogramSnapshot {
  const s = monitor.snapshot().series.find((x) => x.name === name);
  if (s?.type !== 'histogram' && s?.type !== 'timer') throw new Error(`${name} is not a histogram`);
  return s;
}

describe('exemplars', () => {
  it('keep the slowest traced value of each sub-window, slowest first', () => {
    const clock = new ManualClock(T0);
    const monitor = new Monitor({ clock });
    const h = monitor.timer('op').bind();
    h.record(10, 'trace-a');
    h.record(50, 'trace-b');
    h.record(30, 'trace-c');
    h.record(900); // untraced: never an exemplar, though it is the slowest
    clock.advance(MIN);
    h.recordError(70, 'trace-d');
    h.record(20, 'trace-e');
    const s = histogram(monitor, 'op');
    expect(s.windows[0]!.exemplars).toEqual([
      { value: 70, traceId: 'trace-d' },
      { value: 50, traceId: 'trace-b' },
    ]);
    expect(s.cumulative.exemplars.map((e) => e.traceId)).toEqual(['trace-d', 'trace-b']);
  });

  it('leave the window with their sub-window', () => {
    const clock = new ManualClock(T0);
    const monitor = new Monitor({ clock, windows: [60, 120] });
    const h = monitor.histogram('h').bind();
    h.record(5, 'old');
    clock.advance(2 * MIN);
    h.record(1, 'new');
    const s = histogram(monitor, 'h');
    expect(s.windows[0]!.exemplars).toEqual([{ value: 1, traceId: 'new' }]);
    expect(s.windows[1]!.exemplars).toEqual([
      { value: 5, traceId: 'old' },
      { value: 1, traceId: 'new' },
    ]);
    clock.advance(MIN);
    expect(histogram(monitor, 'h').windows[1]!.exemplars).toEqual([{ value: 1, traceId: 'new' }]);
  });

  it('ignore a trace id that is not a string and never drop the value', () => {
    const monitor = new Monitor({ clock: new ManualClock(T0) });
    const h = monitor.histogram('h').bind();
    h.record(5, 42 as unknown as string);
    const s = histogram(monitor, 'h');
    expect(s.windows[0]!.count).toBe(1);
    expect(s.windows[0]!.exemplars).toEqual([]);
  });
});
