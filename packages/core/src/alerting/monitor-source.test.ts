import { describe, expect, it } from 'vitest';
import { parseCondition } from './condition/condition.js';
import { alertingMonitor, T0 } from './engine-test-support.js';

const MIN = 60_000;

/** Evaluates a condition against a monitor's signals the way rules do. */
function evaluate(
  monitor: ReturnType<typeof alertingMonitor>['monitor'],
  condition: string,
  component: string,
) {
  const rule = monitor.alerts.create({ name: condition, severity: 'info', component, condition });
  monitor.alerts.evaluate();
  const result = monitor.alerts.get(rule.id)!.lastEvaluation!;
  monitor.alerts.delete(rule.id);
  return result;
}

describe('signals a rule reads from the monitor', () => {
  it('error_rate and throughput aggregate every histogram and timer tag set of the component', () => {
    const { monitor, clock } = alertingMonitor();
    const a = monitor.timer('http.duration', { component: 'api' }).bind({ route: '/a' });
    const b = monitor.timer('http.duration', { component: 'api' }).bind({ route: '/b' });
    const other = monitor.histogram('db.duration', { component: 'api' }).bind();
    const elsewhere = monitor.timer('http.duration', { component: 'web' }).bind();
    for (let i = 0; i < 60; i++) a.record(10);
    for (let i = 0; i < 30; i++) b.recordError(10);
    for (let i = 0; i < 10; i++) other.recordError(5);
    for (let i = 0; i < 100; i++) elsewhere.record(1);
    clock.advance(20_000);
    // 40 errors in 100 calls over the 20 s the window has covered.
    expect(evaluate(monitor, 'error_rate > 0', 'api')).toMatchObject({ value: 0.4 });
    expect(evaluate(monitor, 'throughput > 0', 'api')).toMatchObject({ value: 5 });
    expect(evaluate(monitor, 'error_rate > 0', 'web')).toMatchObject({ value: 0, result: 'false' });
    expect(evaluate(monitor, 'error_rate > 0', 'nothing')).toMatchObject({
      result: 'no_data',
      missing: ['error_rate'],
    });
    expect(evaluate(monitor, 'throughput > 0', 'nothing')).toMatchObject({ result: 'no_data' });
    // The window: a minute and more later, the samples are gone; the series exist, so throughput is 0.
    clock.advance(2 * MIN);
    expect(evaluate(monitor, 'throughput < 1', 'api')).toMatchObject({ value: 0, result: 'true' });
    expect(evaluate(monitor, 'error_rate[5m] > 0.3', 'api')).toMatchObject({
      value: 0.4,
      result: 'true',
    });
  });

  it('quantiles merge the tag sets of the component exactly enough to compare with a threshold', () => {
    const { monitor } = alertingMonitor();
    const fast = monitor.histogram('api.latency', { component: 'api' }).bind({ route: '/fast' });
    const slow = monitor.histogram('api.latency', { component: 'api' }).bind({ route: '/slow' });
    const values: number[] = [];
    for (let i = 1; i <= 9000; i++) {
      fast.record(i % 100);
      values.push(i % 100);
    }
    for (let i = 1; i <= 1000; i++) {
      slow.record(1000 + i);
      values.push(1000 + i);
    }
    values.sort((x, y) => x - y);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1]!;
    const p99 = evaluate(monitor, 'p99(api.latency) > 0', 'api').value!;
    expect(Math.abs(p99 - exact(0.99)) / exact(0.99)).toBeLessThan(0.01);
    const p50 = evaluate(monitor, 'quantile(0.5, api.latency[5m]) > 0', 'api').value!;
    expect(Math.abs(p50 - exact(0.5))).toBeLessThanOrEqual(1);
    expect(evaluate(monitor, 'max(api.latency) > 0', 'api').value).toBe(2000);
    expect(evaluate(monitor, 'min(api.latency) > -1', 'api').value).toBe(0);
    expect(evaluate(monitor, 'count(api.latency) > 0', 'api').value).toBe(10_000);
    expect(evaluate(monitor, 'sum(api.latency) > 0', 'api').value).toBe(
      values.reduce((s, v) => s + v, 0),
    );
    expect(evaluate(monitor, 'avg(api.latency) > 0', 'api').value).toBeCloseTo(
      values.reduce((s, v) => s + v, 0) / 10_000,
      9,
    );
    // A bare histogram name reads its mean.
    expect(evaluate(monitor, 'api.latency > 0', 'api').value).toBeCloseTo(
      values.reduce((s, v) => s + v, 0) / 10_000,
      9,
    );
    expect(evaluate(monitor, 'p99(api.latency) > 0', 'other')).toMatchObject({ result: 'no_data' });
  });

  it('counters: a bare name is the increase in the window, rate() per second', () => {
    const { monitor, clock } = alertingMonitor();
    const failed = monitor.counter('orders.failed', { component: 'shop' });
    failed.bind({ reason: 'card' }).inc(30);
    failed.bind({ reason: 'stock' }).inc(30);
    clock.advance(30_000);
    expect(evaluate(monitor, 'orders.failed > 50', 'shop')).toMatchObject({
      value: 60,
      result: 'true',
    });
    expect(evaluate(monitor, 'rate(orders.failed) > 1', 'shop')).toMatchObject({
      value: 2,
      result: 'true',
    });
    expect(evaluate(monitor, 'sum(orders.failed) == count(orders.failed)', 'shop')).toMatchObject({
      result: 'true',
    });
    expect(evaluate(monitor, 'max(orders.failed) > 1', 'shop')).toMatchObject({
      result: 'no_data',
    });
    clock.advance(2 * MIN);
    expect(evaluate(monitor, 'orders.failed[1m] == 0', 'shop')).toMatchObject({ result: 'true' });
    expect(evaluate(monitor, 'orders.failed[15m] == 60', 'shop')).toMatchObject({ result: 'true' });
  });

  it('gauges: the sum over tag sets by default; avg, min, max and count over them', () => {
    const { monitor } = alertingMonitor();
    const pool = monitor.gauge('db_connections', { component: 'database' });
    pool.bind({ pool: 'primary' }).set(60);
    pool.bind({ pool: 'replica' }).set(25);
    monitor.gauge('max_connections', { component: 'database' }).bind().set(100);
    expect(evaluate(monitor, 'db_connections > 0.80 * max_connections', 'database')).toMatchObject({
      value: 85,
      result: 'true',
    });
    expect(evaluate(monitor, 'max(db_connections) > 50', 'database')).toMatchObject({ value: 60 });
    expect(evaluate(monitor, 'min(db_connections) > 0', 'database')).toMatchObject({ value: 25 });
    expect(evaluate(monitor, 'avg(db_connections) > 0', 'database')).toMatchObject({ value: 42.5 });
    expect(evaluate(monitor, 'count(db_connections) == 2', 'database')).toMatchObject({
      result: 'true',
    });
    expect(evaluate(monitor, 'rate(db_connections) > 0', 'database')).toMatchObject({
      result: 'no_data',
    });
    // A gauge created but never set has no data.
    monitor.gauge('queue_depth', { component: 'database' }).bind();
    expect(evaluate(monitor, 'queue_depth > 0', 'database')).toMatchObject({ result: 'no_data' });
  });

  it('cpu_usage and memory_usage: the component’s own gauge, else the system component’s', () => {
    const { monitor } = alertingMonitor();
    expect(evaluate(monitor, 'cpu_usage > 0.8', 'api')).toMatchObject({ result: 'no_data' });
    monitor.gauge('cpu_usage', { component: 'system' }).bind().set(0.9);
    monitor.gauge('memory_usage', { component: 'system' }).bind().set(0.5);
    expect(evaluate(monitor, 'cpu_usage > 80%', 'api')).toMatchObject({
      value: 0.9,
      result: 'true',
    });
    expect(evaluate(monitor, 'memory_usage > 80%', 'api')).toMatchObject({
      value: 0.5,
      result: 'false',
    });
    monitor.gauge('cpu_usage', { component: 'api' }).bind().set(0.1);
    expect(evaluate(monitor, 'cpu_usage > 80%', 'api')).toMatchObject({
      value: 0.1,
      result: 'false',
    });
  });

  it('fifty rules over the same signal all fire in one evaluation', () => {
    const { monitor } = alertingMonitor();
    const h = monitor.histogram('api.latency', { component: 'api' }).bind();
    for (let i = 0; i < 1000; i++) h.record(i);
    const condition = parseCondition('p99(api.latency) > 900 and p99(api.latency) < 1000');
    expect(condition.signals()).toHaveLength(1);
    for (let i = 0; i < 50; i++) {
      monitor.alerts.create({
        name: `r${i}`,
        severity: 'info',
        component: 'api',
        condition: condition.source,
      });
    }
    const summary = monitor.alerts.evaluate();
    expect(summary).toMatchObject({ rules: 50, firing: 50, errors: 0, at: T0 });
  });
});
