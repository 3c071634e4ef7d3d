/**
 * `monitor.analytics()`, `monitor.history` and the `anomaly(m)` condition as the
 * Monitor wires them (the engine's parts are tested on their own beside this file).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import { ConditionSyntaxError } from '../alerting/condition/errors.js';
import { parseCondition } from '../alerting/condition/condition.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';

const T0 = Date.UTC(2024, 0, 15, 14, 0);
const MIN = 60_000;
const monitors: Monitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function setup(): { monitor: Monitor; clock: ManualClock } {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({
    clock,
    defaultComponent: 'shop',
    alerting: { evaluationIntervalSeconds: 0 },
  });
  monitors.push(monitor);
  return { monitor, clock };
}

describe('Monitor analytics', () => {
  it('names the decorators’ operations by their operation tag, not by the shared timer', () => {
    const { monitor } = setup();
    const timer = monitor.timer('operation.duration', { component: 'shop' });
    for (let i = 0; i < 30; i++) timer.bind({ operation: 'checkout' }).record(100);
    for (let i = 0; i < 10; i++) timer.bind({ operation: 'search' }).record(5);
    monitor.timer('http.duration', { component: 'shop' }).bind({ route: '/a' }).record(20);
    const ops = monitor.analytics({ component: 'shop' }).top_operations;
    const byName = new Map(ops.map((o) => [o.operation, o]));
    expect([...byName.keys()].sort()).toEqual(['checkout', 'http.duration', 'search']);
    expect(byName.get('checkout')?.request_count).toBe(30);
    expect(byName.get('search')?.request_count).toBe(10);
  });

  it('carries the keys other packages add to component_specific, and survives a failing reader', () => {
    const { monitor } = setup();
    monitor.timer('checkout').record(120);
    const remove = monitor.addComponentSpecific('shop', () => ({ carts_open: 3 }));
    expect(monitor.analytics({ component: 'shop' }).component_specific['carts_open']).toBe(3);
    // Other components are untouched.
    expect(monitor.analytics({ component: 'other' }).component_specific['carts_open']).toBe(
      undefined,
    );
    remove();
    expect(monitor.analytics({ component: 'shop' }).component_specific['carts_open']).toBe(
      undefined,
    );
    const before = monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR);
    monitor.addComponentSpecific('shop', () => {
      throw new Error('reader broke');
    });
    const report = monitor.analytics({ component: 'shop' });
    expect(report.summary.total_requests).toBe(1);
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBe(before + 1);
    expect(() => monitor.addComponentSpecific('', () => ({}))).toThrow(TypeError);
  });

  it('reports the spec object from the monitor’s history, ticked each minute', () => {
    const { monitor, clock } = setup();
    const checkout = monitor.timer('checkout');
    for (let m = 0; m < 40; m++) {
      for (let i = 0; i < 30; i++) {
        if (i === 0) checkout.recordError(100 + 3 * m);
        else checkout.record(100 + 3 * m + (i % 7));
      }
      clock.advance(MIN);
      monitor.history.tick(clock.now());
    }
    const report = monitor.analytics({ component: 'shop' });
    expect(report.component).toBe('shop');
    expect(report.summary.total_requests).toBe(1200);
    expect(report.summary.error_rate).toBeCloseTo(40 / 1200, 4);
    expect(report.trends.response_time_trend).toBe('degrading');
    expect(report.trends.error_rate_trend).toBe('stable');
    expect(report.top_operations.map((o) => o.operation)).toContain('checkout');
    const insights = monitor.analyticsInsights({ component: 'shop' });
    expect(insights.trends.responseTime.slopePerMinute).toBeGreaterThan(2);
    expect(insights.trends.responseTime.direction).toBe('degrading');
  });

  it('fires an anomaly(latency) rule after a latency spike, not before', () => {
    const { monitor, clock } = setup();
    const api = monitor.timer('api');
    const minute = (latency: number): void => {
      for (let i = 0; i < 40; i++) api.record(latency + (i % 5));
      clock.advance(MIN);
      monitor.history.tick(clock.now());
    };
    for (let m = 0; m < 45; m++) minute(50 + (m % 3));
    const rule = monitor.alerts.create({
      name: 'latency anomaly',
      severity: 'medium',
      condition: 'anomaly(latency) > 4',
    });
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('inactive');
    minute(400);
    monitor.alerts.evaluate();
    expect(monitor.alerts.get(rule.id)?.state).toBe('firing');
  });

  it('parses anomaly(m) without a window; a source without history reads no data', () => {
    const condition = parseCondition('anomaly(latency) > 4');
    expect(condition.signals()).toEqual([
      expect.objectContaining({ name: 'latency', function: 'anomaly' }),
    ]);
    expect(() => parseCondition('anomaly(latency[5m]) > 4')).toThrow(ConditionSyntaxError);
    expect(() => parseCondition('anomaly(latency[5m]) > 4')).toThrow(
      /anomaly takes a metric without a window/,
    );
    const noHistory = {
      signal: () => undefined,
      quantile: () => undefined,
      aggregate: () => undefined,
    };
    expect(condition.evaluate(noHistory, 'shop', 60).state).toBe('no_data');
  });

  it('rejects bad analytics options with a TypeError naming them', () => {
    expect(() => new Monitor({ analytics: 3 as never })).toThrow('analytics must be an object');
    expect(() => new Monitor({ analytics: { sampleEveryMinute: 'yes' as never } })).toThrow(
      'analytics.sampleEveryMinute must be a boolean',
    );
    expect(() => new Monitor({ analytics: { history: { minutes: -1 } } })).toThrow(/^analytics\./);
  });
});
