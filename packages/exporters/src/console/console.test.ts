import { trace } from '@opentelemetry/api';
import { ManualClock, Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { consoleExporter } from './console.js';

describe('consoleExporter', () => {
  it('prints a compact table of the interval, then spans and alert events', async () => {
    let out = '';
    const clock = new ManualClock(Date.UTC(2024, 0, 15, 14, 0, 10));
    const monitor = new Monitor({
      clock,
      tracing: true,
      exporters: [consoleExporter({ write: (text) => (out += text) })],
      alerting: { evaluationIntervalSeconds: 0 },
    });
    const latency = monitor.timer('http.duration', { component: 'api' }).bind({ route: '/x' });
    for (let i = 1; i <= 100; i++) {
      if (i <= 5) latency.recordError(i);
      else latency.record(i);
    }
    monitor.counter('orders', { component: 'shop' }).bind().inc(20);
    monitor.gauge('pool', { component: 'db' }).bind().set(7);
    trace.getTracer('t').startActiveSpan('checkout', (span) => span.end());
    clock.advance(10_000); // the window has covered 10 s
    monitor.alerts.create({
      name: 'pool high',
      severity: 'medium',
      component: 'db',
      condition: 'pool > 5',
    });
    monitor.alerts.evaluate();
    await monitor.forceFlush(5);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^--- prsm 2024-01-15T14:00:20\.000Z batch [0-9a-f-]{36}$/);
    expect(lines[1]).toMatch(/^series\s+type\s+count\s+\/s\s+errors\s+p50\s+p99\s+value$/);
    const row = (prefix: string) =>
      lines
        .find((l) => l.startsWith(prefix))
        ?.trim()
        .split(/\s+/);
    expect(row('api/http.duration{route=/x}')).toEqual([
      'api/http.duration{route=/x}',
      'timer',
      '100',
      '10',
      '5%',
      '50.5',
      '100',
    ]);
    expect(row('shop/orders')).toEqual(['shop/orders', 'counter', '20', '2', '20']);
    expect(row('db/pool')).toEqual(['db/pool', 'gauge', '7']);
    expect(out).not.toContain('prsm.');
    expect(out).toMatch(/^span {2}checkout \d+(\.\d+)? ms success trace=[0-9a-f]{32}$/m);
    expect(out).toContain('alert pending [medium] pool high (db) value=7');
    expect(out).toContain('alert firing [medium] pool high (db) value=7');
    await monitor.shutdown();
  });

  it('checks its options, and a write that throws is a failure that is not retried', async () => {
    expect(() => consoleExporter({ windowSeconds: 0 })).toThrow(/options.windowSeconds/);
    // @ts-expect-error -- not a function
    expect(() => consoleExporter({ write: 'stdout' })).toThrow(/options.write must be a function/);
    const exporter = consoleExporter({
      write: () => {
        throw new Error('EPIPE');
      },
    });
    const result = await exporter.export(
      {
        id: 'b',
        attempt: 1,
        items: [
          {
            kind: 'alert',
            event: {
              at: 0,
              event: 'firing',
              alertId: 'a',
              ruleId: 'r',
              name: 'n',
              severity: 'low',
              component: 'c',
            },
          },
        ],
      },
      new AbortController().signal,
    );
    expect(result).toEqual({ ok: false, retryable: false, error: 'EPIPE' });
  });
});
