/**
 * End to end: the app compiled by tsc (legacy decorators and their metadata, as Nest
 * needs), served on a real port, exercised over real HTTP. Checks that Nest still
 * finds its route, guard, status code and injection metadata on methods and classes
 * stacked with @prsm/decorators in both orders, and that the monitor saw what the
 * requests did: calls, errors by type, percentiles, and spans nested across `await`.
 *
 * The app runs in this process (so the test reads the very monitor it records on),
 * and once more as `npm run start` runs it, in a child process.
 */
import type { INestApplication } from '@nestjs/common';
import { Monitor, setGlobalMonitor, type StoredSpan, type Tags } from '@prsm/core';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as AppEntry from './app.js';
import type { MonitoringSummary, OperationSummary } from './monitoring/monitoring.controller.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = 'e2e-key';
const authorized = { 'x-api-key': API_KEY };
const json = { 'content-type': 'application/json' };

let compiled: Promise<unknown> | undefined;

/**
 * Compiles the app into build/ as `npm run build` does, minus the type check
 * (`npm run typecheck` owns that; the emitted JavaScript, decorator metadata
 * included, is the same). Once per run, whichever suite asks first.
 */
function compile(): Promise<unknown> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return (compiled ??= promisify(execFile)(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--noCheck'],
    { cwd: appDir },
  ));
}

describe('the NestJS example, in process', () => {
  let monitor: Monitor;
  let app: INestApplication | undefined;
  let base: string;

  beforeAll(async () => {
    await compile();
    const entry = pathToFileURL(join(appDir, 'build', 'app.js')).href;
    const { createApp } = (await import(entry)) as typeof AppEntry;
    monitor = new Monitor({ defaultComponent: 'marketplace', tracing: true });
    setGlobalMonitor(monitor);
    app = await createApp({ monitor, apiKey: API_KEY, logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    setGlobalMonitor(undefined);
    await monitor?.shutdown();
  });

  function sameTags(a: Tags, b: Tags): boolean {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
  }

  /** A counter's total since the app started (0 when never incremented). */
  function counted(name: string, component: string, tags: Tags): number {
    const s = monitor
      .snapshot()
      .series.find((x) => x.name === name && x.component === component && sameTags(x.tags, tags));
    return s?.type === 'counter' ? s.total : 0;
  }

  const calls = (component: string, operation: string): number =>
    counted('operation.calls', component, { operation });
  const errors = (component: string, operation: string, type: string): number =>
    counted('operation.errors', component, { operation, 'error.type': type });

  /** Calls of every operation a request may reach, to compare before and after. */
  const OPERATIONS = [
    ['api_gateway', 'get_recommendations'],
    ['api_gateway', 'place_order'],
    ['recommendation', 'generate_recommendations'],
    ['recommendation', 'recommendation_model_inference'],
    ['catalog', 'find_candidates'],
    ['orders', 'OrdersService.placeOrder'],
    ['orders', 'OrdersService.price'],
    ['inventory', 'InventoryRepository.reserve'],
  ] as const;
  const allCalls = (): Record<string, number> =>
    Object.fromEntries(OPERATIONS.map(([c, o]) => [`${c}/${o}`, calls(c, o)]));

  const order = (items: { productId: string; quantity: number }[]): RequestInit => ({
    method: 'POST',
    headers: { ...authorized, ...json },
    body: JSON.stringify({ userId: 'u-2', items }),
  });

  it('serves both routes with their status codes and bodies', async () => {
    const before = allCalls();

    const got = await fetch(`${base}/recommendations/u-1?limit=3`, { headers: authorized });
    expect(got.status).toBe(200);
    const body = (await got.json()) as {
      userId: string;
      recommendations: { productId: string; score: number }[];
    };
    expect(body.userId).toBe('u-1');
    expect(body.recommendations).toHaveLength(3);
    // u-1 bought p-100 and p-201: neither comes back, and the best comes first.
    expect(body.recommendations.map((r) => r.productId)).not.toContain('p-100');
    const scores = body.recommendations.map((r) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);

    // @monitorPerformance above @Post/@HttpCode: 202 (not POST's default 201) means
    // Nest read the status code off our wrapper.
    const placed = await fetch(`${base}/orders`, order([{ productId: 'p-101', quantity: 2 }]));
    expect(placed.status).toBe(202);
    expect(await placed.json()).toEqual({
      orderId: 'o-000001',
      userId: 'u-2',
      status: 'accepted',
      totalCents: 3_000,
    });

    // Nest's Reflector reads our metadata off the handler, in both stacking orders.
    expect(got.headers.get('x-prsm-operation')).toBe('get_recommendations');
    expect(placed.headers.get('x-prsm-operation')).toBe('place_order');

    const after = allCalls();
    for (const key of Object.keys(after)) expect(after[key]! - before[key]!, key).toBe(1);
  });

  it('rejects a missing or wrong API key with 403 before any decorated method runs', async () => {
    const before = allCalls();
    const rejected = await Promise.all([
      fetch(`${base}/recommendations/u-1`),
      fetch(`${base}/recommendations/u-1`, { headers: { 'x-api-key': 'wrong-key' } }),
      fetch(`${base}/orders`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ userId: 'u-2', items: [{ productId: 'p-101', quantity: 1 }] }),
      }),
    ]);
    // The guard applies on both routes: its metadata survived either stacking order.
    for (const res of rejected) {
      expect(res.status).toBe(403);
      expect(res.headers.get('x-trace-id')).toBeNull();
      await res.body?.cancel();
    }
    expect(allCalls()).toEqual(before);
  });

  it('rejects bad input in pipes, before the handler: no call is recorded', async () => {
    const before = allCalls();
    const badLimit = await fetch(`${base}/recommendations/u-1?limit=many`, { headers: authorized });
    expect(badLimit.status).toBe(400);
    const badBody = await fetch(`${base}/orders`, order([{ productId: 'p-101', quantity: 0 }]));
    expect(badBody.status).toBe(400);
    expect(((await badBody.json()) as { message: string }).message).toMatch(/items\[0\]/);
    await badLimit.body?.cancel();
    expect(allCalls()).toEqual(before);
  });

  it('maps domain errors to 404 and 409 and counts them by error.type at every level', async () => {
    const outOfStock = await fetch(`${base}/orders`, order([{ productId: 'p-301', quantity: 5 }]));
    expect(outOfStock.status).toBe(409);
    expect(await outOfStock.json()).toEqual({
      statusCode: 409,
      error: 'OutOfStockError',
      message: 'product p-301: 5 requested, 1 in stock',
    });
    const unknownProduct = await fetch(
      `${base}/orders`,
      order([{ productId: 'p-999', quantity: 1 }]),
    );
    expect(unknownProduct.status).toBe(404);
    const unknownUser = await fetch(`${base}/recommendations/nobody`, { headers: authorized });
    expect(unknownUser.status).toBe(404);
    expect(((await unknownUser.json()) as { error: string }).error).toBe('UnknownUserError');
    await unknownProduct.body?.cancel();

    // The failure is counted where it was thrown and in every decorated caller it
    // passed through on its way to the exception filter.
    expect(errors('inventory', 'InventoryRepository.reserve', 'OutOfStockError')).toBe(1);
    expect(errors('orders', 'OrdersService.placeOrder', 'OutOfStockError')).toBe(1);
    expect(errors('api_gateway', 'place_order', 'OutOfStockError')).toBe(1);
    // An unknown product fails while pricing, before the inventory is asked.
    expect(errors('orders', 'OrdersService.price', 'UnknownProductError')).toBe(1);
    expect(errors('api_gateway', 'place_order', 'UnknownProductError')).toBe(1);
    expect(errors('inventory', 'InventoryRepository.reserve', 'UnknownProductError')).toBe(0);
    expect(errors('catalog', 'find_candidates', 'UnknownUserError')).toBe(1);
    expect(errors('recommendation', 'generate_recommendations', 'UnknownUserError')).toBe(1);
    expect(errors('api_gateway', 'get_recommendations', 'UnknownUserError')).toBe(1);

    const rates = monitor.getRates('operation.duration', {
      component: 'api_gateway',
      tags: { operation: 'place_order' },
    });
    expect(rates?.errors).toBe(2);

    // The failed request's trace says where it failed.
    const trace = monitor.getTrace(outOfStock.headers.get('x-trace-id')!);
    expect(trace?.success).toBe(false);
    const failed = trace?.spans.filter((s) => s.status === 'error').map((s) => s.name);
    expect(failed?.sort()).toEqual(
      ['InventoryRepository.reserve', 'OrdersService.placeOrder', 'place_order'].sort(),
    );
  });

  it('nests controller, service and repository spans across await, one trace per request', async () => {
    const responses = await Promise.all(
      ['u-1', 'u-2', 'u-3', 'u-1', 'u-2', 'u-3', 'u-1', 'u-2'].map((user) =>
        fetch(`${base}/recommendations/${user}?limit=2`, { headers: authorized }),
      ),
    );
    const traceIds = responses.map((res) => {
      expect(res.status).toBe(200);
      return res.headers.get('x-trace-id')!;
    });
    await Promise.all(responses.map((res) => res.arrayBuffer()));
    expect(new Set(traceIds).size).toBe(traceIds.length);

    for (const traceId of traceIds) {
      const spans = monitor.traces.spans(traceId) ?? [];
      const named = (name: string): StoredSpan => {
        const matching = spans.filter((s) => s.name === name);
        // Exactly one: concurrent requests never leak spans into each other's traces.
        expect(matching, name).toHaveLength(1);
        return matching[0]!;
      };
      const root = named('GET /recommendations/:userId');
      const controller = named('get_recommendations');
      const service = named('generate_recommendations');
      const repository = named('find_candidates');
      const model = named('recommendation_model_inference');
      expect(spans).toHaveLength(5);

      expect(root.parentSpanId).toBeUndefined();
      expect(controller.parentSpanId).toBe(root.spanId);
      expect(service.parentSpanId).toBe(controller.spanId);
      // Both after an await inside the service: the context followed it.
      expect(repository.parentSpanId).toBe(service.spanId);
      expect(model.parentSpanId).toBe(service.spanId);
      expect(model.startMs).toBeGreaterThanOrEqual(repository.endMs - 1);

      expect(controller.attributes).toMatchObject({
        'prsm.component': 'api_gateway',
        'code.function': 'getRecommendations',
      });
      expect(service.attributes).toMatchObject({
        'prsm.component': 'recommendation',
        'code.function': 'generate',
      });
      expect(model.attributes['candidate_count']).toBeGreaterThan(0);
      for (const child of [controller, service, repository, model]) {
        expect(child.durationMs).toBeLessThanOrEqual(root.durationMs + 1e-6);
      }
    }

    // The route returns the monitor's trace in the spec's shape.
    const traceId = traceIds[0]!;
    const res = await fetch(`${base}/monitoring/traces/${traceId}`);
    expect(res.status).toBe(200);
    const record = await res.json();
    expect(record).toEqual(JSON.parse(JSON.stringify(monitor.getTrace(traceId))));
    expect(record).toMatchObject({
      trace_id: traceId,
      operation: 'GET /recommendations/:userId',
      component: 'http',
      success: true,
    });
    const missing = await fetch(`${base}/monitoring/traces/${'0'.repeat(31)}1`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });

  it('records percentiles and error rates per operation, as /monitoring/summary reports', async () => {
    for (const [component, operation] of OPERATIONS) {
      const ps = monitor.getPercentiles('operation.duration', [0.5, 0.95, 0.99], {
        component,
        tags: { operation },
      });
      expect(
        ps.every((p) => Number.isFinite(p) && p >= 0),
        `${component}/${operation}`,
      ).toBe(true);
      expect(ps[0]!).toBeLessThanOrEqual(ps[1]!);
      expect(ps[1]!).toBeLessThanOrEqual(ps[2]!);
    }
    // An async method is timed until its promise settles, not until it returns: the
    // service awaits the repository's and the model's sleeps (2 and 3 ms).
    const [serviceP50] = monitor.getPercentiles('operation.duration', [0.5], {
      component: 'recommendation',
      tags: { operation: 'generate_recommendations' },
    });
    expect(serviceP50).toBeGreaterThan(2);

    const res = await fetch(`${base}/monitoring/summary`);
    expect(res.status).toBe(200);
    const summary = (await res.json()) as MonitoringSummary;
    expect(summary.window_seconds).toBe(300);
    const byName = new Map<string, OperationSummary>(
      summary.operations.map((o) => [`${o.component}/${o.operation}`, o]),
    );
    expect([...byName.keys()].sort()).toEqual(OPERATIONS.map(([c, o]) => `${c}/${o}`).sort());
    for (const [component, operation] of OPERATIONS) {
      const o = byName.get(`${component}/${operation}`)!;
      expect(o.calls).toBe(calls(component, operation));
      expect([o.p50_ms, o.p95_ms, o.p99_ms].every(Number.isFinite)).toBe(true);
    }
    const placeOrder = byName.get('api_gateway/place_order')!;
    // One order accepted, one out of stock, one for an unknown product.
    expect(placeOrder).toMatchObject({
      calls: 3,
      errors: 2,
      errors_by_type: { OutOfStockError: 1, UnknownProductError: 1 },
    });
    expect(placeOrder.error_rate).toBeCloseTo(2 / 3, 3);
    expect(byName.get('recommendation/recommendation_model_inference')?.error_rate).toBe(0);

    // Nothing was dropped or failed inside the SDK along the way.
    expect(monitor.diagnostics.counts()).toEqual({});
  });
});

describe('the NestJS example, as `npm run start` runs it', () => {
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('starts from the compiled build with the @prsm packages loaded from source', async () => {
    await compile();
    child = spawn(
      process.execPath,
      ['--conditions=@prsm/source', '--import', 'tsx', join('build', 'main.js')],
      {
        cwd: appDir,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', API_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${String(code)}:\n${output}`));
      });
    });

    const got = await fetch(`${url}/recommendations/u-3`, { headers: authorized });
    expect(got.status).toBe(200);
    await got.body?.cancel();
    const trace = (await (
      await fetch(`${url}/monitoring/traces/${got.headers.get('x-trace-id')}`)
    ).json()) as { operation: string; spans: { name: string }[] };
    expect(trace.operation).toBe('GET /recommendations/:userId');
    expect(trace.spans.map((s) => s.name).sort()).toEqual([
      'find_candidates',
      'generate_recommendations',
      'get_recommendations',
      'recommendation_model_inference',
    ]);
    const summary = (await (await fetch(`${url}/monitoring/summary`)).json()) as MonitoringSummary;
    expect(summary.operations.find((o) => o.operation === 'get_recommendations')?.calls).toBe(1);

    // SIGTERM closes the app and the monitor, then exits 0.
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});
