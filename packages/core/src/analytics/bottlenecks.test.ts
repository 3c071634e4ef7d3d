import { describe, expect, it } from 'vitest';
import type { StoredSpan } from '../tracing/trace-store.js';
import {
  analyzeTraces,
  bottleneckName,
  operationBottlenecks,
  snakeCase,
  spansOf,
} from './bottlenecks.js';
import { op, spanOf, T0, traceOf } from './test-support.js';

function workload(): StoredSpan[][] {
  const traces: StoredSpan[][] = [];
  // 90 fast traces: 60 ms, mostly the root's own work.
  for (let i = 0; i < 90; i++) {
    traces.push(
      traceOf(`fast${i}`, 'marketplace', 'recommendation_generation', 60, [
        { name: 'feature_lookup', ms: 10 },
        { name: 'recommendation_model_inference', ms: 15 },
      ]),
    );
  }
  // 10 slow traces: 300 ms, 200 of them in model inference.
  for (let i = 0; i < 10; i++) {
    traces.push(
      traceOf(`slow${i}`, 'marketplace', 'recommendation_generation', 300, [
        { name: 'feature_lookup', ms: 20 },
        { name: 'recommendation_model_inference', ms: 200 },
      ]),
    );
  }
  // Searches whose slow cases wait on the database.
  for (let i = 0; i < 20; i++) {
    const slow = i < 2;
    traces.push(
      traceOf(`search${i}`, 'marketplace', 'marketplace_search', slow ? 400 : 50, [
        { name: 'SELECT listings', ms: slow ? 300 : 10, attributes: { 'db.system': 'postgresql' } },
      ]),
    );
  }
  // Another component's trace, dominated by its own child: not ours.
  traces.push(traceOf('other', 'payments', 'charge', 1000, [{ name: 'card_network', ms: 990 }]));
  return traces;
}

describe('analyzeTraces', () => {
  it('finds the child span dominating the slowest traces, by self time', () => {
    const { bottlenecks, traces } = analyzeTraces(workload(), 'marketplace');
    expect(traces).toBe(120);
    expect(bottlenecks.map((b) => [b.name, b.operation, b.share, b.meanSelfMs, b.samples])).toEqual(
      [
        ['database_query_optimization', 'marketplace_search', 0.75, 300, 2],
        ['recommendation_model_inference', 'recommendation_generation', 0.6667, 200, 10],
      ],
    );
    // Over all traces both take far less (0.40 and 0.46): only the slowest count.
    const names = (slowFraction: number): string[] =>
      analyzeTraces(workload(), 'marketplace', { slowFraction, minShare: 0.5 }).bottlenecks.map(
        (b) => b.name,
      );
    expect(names(0.1)).toEqual(['database_query_optimization', 'recommendation_model_inference']);
    expect(names(1)).toEqual([]);
  });

  it('counts self time: a parent is charged only what its children did not take', () => {
    const root = spanOf('t', 'handle', T0, 100, { component: 'api' });
    const parent = spanOf('t', 'render', T0, 90, { parentSpanId: root.spanId });
    const child = spanOf('t', 'template_compile', T0, 80, { parentSpanId: parent.spanId });
    const { bottlenecks } = analyzeTraces([[root, parent, child]], 'api');
    expect(bottlenecks.map((b) => [b.name, b.share])).toEqual([['template_compile', 0.8]]);
  });

  it('counts dependency calls and errors', () => {
    const traces = Array.from({ length: 40 }, (_, i) =>
      traceOf(`t${i}`, 'checkout', 'pay', 100, [
        {
          name: 'POST /charge',
          ms: 20,
          attributes: { 'http.request.method': 'POST', 'server.address': 'payments.example.com' },
          status: i % 8 === 0 ? 'error' : 'success',
        },
      ]),
    );
    expect(analyzeTraces(traces, 'checkout').dependencies).toEqual([
      { dependency: 'payments.example.com', kind: 'external', calls: 40, errors: 5 },
    ]);
  });

  it('reads a store newest last and at most maxTraces', () => {
    const store = new Map<string, StoredSpan[]>([
      ['a', [spanOf('a', 'x', T0, 1)]],
      ['b', [spanOf('b', 'y', T0, 1)]],
    ]);
    const reader = { traceIds: () => [...store.keys()], spans: (id: string) => store.get(id) };
    expect([...spansOf(reader, 1)].map((s) => s[0]!.traceId)).toEqual(['b']);
  });
});

describe('names and operation bottlenecks', () => {
  it('names spans in the spec style', () => {
    expect(snakeCase('Recommendation Model.inference')).toBe('recommendation_model_inference');
    expect(snakeCase('modelInference')).toBe('model_inference');
    expect(bottleneckName({ name: 'GET', attributes: { 'url.full': 'https://x' } })).toBe(
      'external_api_dependencies',
    );
    expect(bottleneckName({ name: 'db.query', attributes: {} })).toBe(
      'database_query_optimization',
    );
    expect(bottleneckName({ name: 'queue wait', attributes: {} })).toBe('queue_wait');
  });

  it('lists operations with the largest p99 × volume', () => {
    const found = operationBottlenecks([
      op('marketplace_search', { count: 1000, p99: 200 }),
      op('recommendation_generation', { count: 500, p99: 1200 }),
      op('rare', { count: 5, p99: 100_000 }),
    ]);
    expect(found.map((b) => [b.name, b.share, b.meanSelfMs, b.samples])).toEqual([
      ['recommendation_generation', 0.75, 1200, 500],
    ]);
    expect(operationBottlenecks([op('only', { count: 1000, p99: 200 })])).toEqual([]);
  });
});
