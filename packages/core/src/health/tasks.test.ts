import { afterEach, describe, expect, it } from 'vitest';

import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import { TaskRegistry } from './tasks.js';
import { healthMonitor, ruleState, T0 } from './test-support.js';

const monitors: Monitor[] = [];
function setup() {
  const h = healthMonitor();
  monitors.push(h.monitor);
  return { ...h, tasks: new TaskRegistry(h.context) };
}
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

describe('TaskRegistry heartbeats', () => {
  it('a task that misses its heartbeat turns unhealthy, and recovers when it beats', () => {
    const { tasks, clock } = setup();
    const t = tasks.register('indexer', { expectedIntervalMs: 10_000 }); // grace 5 s
    expect(t.status()).toMatchObject({ healthy: true, problems: [], lastHeartbeatAt: T0 });
    expect(t.status().deadlineAt).toBe(T0 + 15_000);

    clock.advance(15_000); // exactly at the deadline: not yet missed
    expect(t.status().healthy).toBe(true);
    clock.advance(1);
    expect(t.status()).toMatchObject({ healthy: false, problems: ['missed_heartbeat'] });
    expect(tasks.counts()).toEqual({ registered: 1, unhealthy: 1, stale: 1 });
    expect(tasks.unhealthy().map((s) => s.name)).toEqual(['indexer']);

    t.heartbeat();
    expect(t.status()).toMatchObject({ healthy: true, lastHeartbeatAt: T0 + 15_001 });
    expect(tasks.counts()).toEqual({ registered: 1, unhealthy: 0, stale: 0 });
  });

  it('graceMs sets the slack after the expected interval', () => {
    const { tasks, clock } = setup();
    const t = tasks.register('strict', { expectedIntervalMs: 1000, graceMs: 0 });
    clock.advance(1001);
    expect(t.status().problems).toEqual(['missed_heartbeat']);
  });

  it('a recorded run is a heartbeat, and its duration and outcome go to the task.run timer', () => {
    const { tasks, clock, monitor } = setup();
    const t = tasks.register('mailer', { expectedIntervalMs: 1000 });
    clock.advance(1400);
    t.recordRun('success', 120);
    clock.advance(1400);
    t.recordRun('failure', 80);
    expect(t.status()).toMatchObject({
      healthy: true,
      runs: 2,
      failures: 1,
      lastRun: { outcome: 'failure', durationMs: 80, at: T0 + 2800 },
    });
    const stats = monitor.getStats('task.run', { component: 'tasks', tags: { task: 'mailer' } });
    expect(stats).toMatchObject({ count: 2, errors: 1, errorRate: 0.5, sum: 200, max: 120 });
  });
});

describe('TaskRegistry queue depth', () => {
  it('a queue past its bound turns the task unhealthy; draining recovers it', () => {
    const { tasks, monitor } = setup();
    const t = tasks.register('consumer', { expectedIntervalMs: 60_000, maxQueueDepth: 100 });
    t.setQueueDepth(100); // at the bound: fine
    expect(t.status()).toMatchObject({ healthy: true, queueDepth: 100 });
    t.setQueueDepth(101);
    expect(t.status()).toMatchObject({ healthy: false, problems: ['queue_over_bound'] });
    expect(tasks.counts()).toEqual({ registered: 1, unhealthy: 1, stale: 0 });
    expect(ruleState(monitor, 'task_queue_depth > 100', 'tasks')).toMatchObject({
      state: 'firing',
      value: 101,
    });
    t.setQueueDepth(3);
    expect(t.status().healthy).toBe(true);
  });

  it('both problems at once are both listed', () => {
    const { tasks, clock } = setup();
    const t = tasks.register('both', { expectedIntervalMs: 10, maxQueueDepth: 0 });
    t.setQueueDepth(1);
    clock.advance(100);
    expect(t.status().problems).toEqual(['missed_heartbeat', 'queue_over_bound']);
  });

  it('without maxQueueDepth no depth is too deep', () => {
    const { tasks } = setup();
    const t = tasks.register('unbounded', { expectedIntervalMs: 1000 });
    t.setQueueDepth(1e12);
    expect(t.status()).toMatchObject({ healthy: true, maxQueueDepth: Infinity });
  });
});

describe('TaskRegistry gauges for alert rules', () => {
  it('refresh() sets task_healthy and tasks_unhealthy from the clock, so a rule sees a stale task', () => {
    const { tasks, clock, monitor } = setup();
    tasks.register('a', { expectedIntervalMs: 1000 });
    const b = tasks.register('b', { expectedIntervalMs: 60_000 });
    tasks.refresh();
    expect(ruleState(monitor, 'tasks_unhealthy > 0', 'tasks').state).toBe('inactive');
    clock.advance(2000);
    tasks.refresh();
    expect(ruleState(monitor, 'tasks_unhealthy > 0', 'tasks')).toMatchObject({
      state: 'firing',
      value: 1,
    });
    // task_healthy per task: summed over the component, 1 of 2 healthy.
    expect(ruleState(monitor, 'task_healthy < 2', 'tasks')).toMatchObject({ value: 1 });
    tasks.get('a')!.heartbeat();
    tasks.refresh();
    expect(ruleState(monitor, 'tasks_unhealthy > 0', 'tasks')).toMatchObject({
      state: 'inactive',
      value: 0,
    });
    expect(b.status().healthy).toBe(true);
  });
});

describe('TaskRegistry registration', () => {
  it('validates options like a constructor, and registering again updates the same handle', () => {
    const { tasks } = setup();
    expect(() => tasks.register('', { expectedIntervalMs: 1 })).toThrow(TypeError);
    expect(() => tasks.register('x', { expectedIntervalMs: 0 })).toThrow(/expectedIntervalMs/);
    expect(() => tasks.register('x', { expectedIntervalMs: NaN })).toThrow(/expectedIntervalMs/);
    expect(() => tasks.register('x', { expectedIntervalMs: 1, graceMs: -1 })).toThrow(/graceMs/);
    expect(() => tasks.register('x', { expectedIntervalMs: 1, maxQueueDepth: -1 })).toThrow(
      /maxQueueDepth/,
    );
    expect(() => tasks.register('x', null as never)).toThrow(TypeError);
    const first = tasks.register('x', { expectedIntervalMs: 1000 });
    const again = tasks.register('x', { expectedIntervalMs: 5000, maxQueueDepth: 2 });
    expect(again).toBe(first);
    expect(first.status()).toMatchObject({
      expectedIntervalMs: 5000,
      graceMs: 2500,
      maxQueueDepth: 2,
    });
    expect(tasks.list()).toHaveLength(1);
    expect(tasks.unregister('x')).toBe(true);
    expect(tasks.status('x')).toBeUndefined();
    expect(tasks.unregister('x')).toBe(false);
  });

  it('bad values from a task are reported, never thrown, and change nothing', () => {
    const { tasks, monitor } = setup();
    const t = tasks.register('t', { expectedIntervalMs: 1000, maxQueueDepth: 5 });
    expect(() => {
      t.recordRun('maybe' as never, 1);
      t.recordRun('success', -1);
      t.recordRun('success', NaN);
      t.setQueueDepth(-3);
      t.setQueueDepth(Infinity);
    }).not.toThrow();
    expect(monitor.diagnostics.count(DiagnosticCode.INVALID_VALUE)).toBe(5);
    expect(t.status()).toMatchObject({ runs: 0, queueDepth: 0, healthy: true });
  });

  it('past maxTasks a registration is reported and gets a handle that records nothing', () => {
    const { context, monitor } = setup();
    const tasks = new TaskRegistry(context, { maxTasks: 2 });
    tasks.register('a', { expectedIntervalMs: 1 });
    tasks.register('b', { expectedIntervalMs: 1 });
    const c = tasks.register('c', { expectedIntervalMs: 1 });
    expect(monitor.diagnostics.count(DiagnosticCode.SERIES_OVERFLOW)).toBe(1);
    c.setQueueDepth(10);
    c.recordRun('failure', 5);
    expect(c.status()).toMatchObject({ name: 'c', healthy: true, runs: 0 });
    expect(tasks.list().map((s) => s.name)).toEqual(['a', 'b']);
    expect(() => new TaskRegistry(context, { maxTasks: 0 })).toThrow(/maxTasks/);
    expect(() => new TaskRegistry(context, { component: '' })).toThrow(/component/);
  });
});
