import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ManualClock, Monitor, type MonitorSnapshot } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import {
  negotiateFormat,
  prometheusHandler,
  prometheusScrape,
  prometheusScrapeInSlices,
  startPrometheusServer,
  type PrometheusServer,
  type SnapshotSource,
} from './handler.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './text.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
/** What Prometheus 2.42 sends when it scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function makeMonitor(): Monitor {
  const monitor = new Monitor({ clock: new ManualClock(T0), defaultComponent: 'api' });
  cleanups.push(() => monitor.shutdown());
  monitor.counter('hits').bind().inc(3);
  monitor.timer('op').bind().record(40, 'abc123');
  return monitor;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('negotiateFormat', () => {
  it('picks OpenMetrics when preferred, the text format otherwise', () => {
    expect(negotiateFormat(PROMETHEUS_ACCEPT)).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text')).toBe('openmetrics');
    expect(negotiateFormat(undefined)).toBe('prometheus');
    expect(negotiateFormat('*/*')).toBe('prometheus');
    expect(negotiateFormat('text/plain')).toBe('prometheus');
    expect(negotiateFormat('text/plain;q=1,application/openmetrics-text;q=0.5')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;version=2.0.0')).toBe('prometheus');
  });
});

describe('prometheusHandler on node:http', () => {
  it('answers the text format 0.0.4 by default, fresh on every request', async () => {
    const monitor = makeMonitor();
    const url = await listen(createServer(prometheusHandler({ monitor })));
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await first.text()).toContain('hits_total{component="api"} 3\n');
    monitor.counter('hits').bind().inc(2);
    expect(await (await fetch(url)).text()).toContain('hits_total{component="api"} 5\n');
  });

  it("answers OpenMetrics with exemplars to Prometheus' Accept header", async () => {
    const url = await listen(createServer(prometheusHandler({ monitor: makeMonitor() })));
    const response = await fetch(url, { headers: { Accept: PROMETHEUS_ACCEPT } });
    expect(response.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(response.headers.get('vary')).toBe('Accept');
    const body = await response.text();
    expect(body).toContain(
      'op_seconds_observations_total{component="api"} 1 # {trace_id="abc123"} 0.04\n',
    );
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('keeps to the text format when openMetrics is false', async () => {
    const url = await listen(
      createServer(prometheusHandler({ monitor: makeMonitor(), openMetrics: false })),
    );
    const response = await fetch(url, { headers: { Accept: PROMETHEUS_ACCEPT } });
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
  });

  it('answers HEAD without a body, 405 to other methods', async () => {
    const url = await listen(createServer(prometheusHandler({ monitor: makeMonitor() })));
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 500 instead of throwing when the snapshot fails', async () => {
    const broken = {
      snapshot: (): MonitorSnapshot => {
        throw new Error('boom');
      },
    };
    const url = await listen(createServer(prometheusHandler({ monitor: broken })));
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('boom');
  });

  it('checks its options when made', () => {
    const monitor = makeMonitor();
    expect(() => prometheusHandler({ monitor: {} as Monitor })).toThrow(
      /prometheusHandler: options\.monitor must have a snapshot\(\) method/,
    );
    expect(() => prometheusHandler({ monitor, windowSeconds: 42 })).toThrow(
      /options\.windowSeconds must be one of the monitor's windows \(60, 300, 900\), got 42/,
    );
    expect(() => prometheusHandler({ monitor, prefix: 1 as unknown as string })).toThrow(TypeError);
    for (const sliceMs of [0, -1]) {
      expect(() => prometheusHandler({ monitor, sliceMs })).toThrow(
        new RegExp(`options\\.sliceMs must be a positive number, got ${sliceMs}`),
      );
    }
    for (const sliceSeries of [0, 2.5, -3]) {
      expect(() => prometheusHandler({ monitor, sliceSeries })).toThrow(
        new RegExp(`options\\.sliceSeries must be a positive integer, got ${sliceSeries}`),
      );
    }
  });

  it('answers 500 when a sliced read fails part way', async () => {
    const monitor = makeMonitor();
    const failing: SnapshotSource = {
      windows: monitor.windows,
      snapshot: (options) => monitor.snapshot(options),
      visitSeriesInSlices: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        throw new Error('slice failed');
      },
    };
    const url = await listen(createServer(prometheusHandler({ monitor: failing })));
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('# metrics unavailable: slice failed\n');
  });

  it('leaves a response alone whose client went away while the scrape ran', async () => {
    const monitor = makeMonitor();
    let finishVisit = (): void => {};
    let visitStarted = (): void => {};
    const started = new Promise<void>((resolve) => (visitStarted = resolve));
    let slow = true;
    const source: SnapshotSource = {
      windows: monitor.windows,
      snapshot: (options) => monitor.snapshot(options),
      visitSeriesInSlices: (options, visitor) => {
        if (!slow) return monitor.visitSeriesInSlices(options, visitor);
        visitStarted();
        return new Promise<void>((resolve) => (finishVisit = resolve));
      },
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => {
      process.off('unhandledRejection', onUnhandled);
      return Promise.resolve();
    });
    const handler = prometheusHandler({ monitor: source });
    let closed = (): void => {};
    const responseClosed = new Promise<void>((resolve) => (closed = resolve));
    const url = await listen(
      createServer((req, res) => {
        res.on('close', () => closed());
        handler(req, res);
      }),
    );
    const abort = new AbortController();
    const gone = fetch(url, { signal: abort.signal }).catch((error: unknown) => error);
    await started;
    abort.abort();
    expect(await gone).toBeInstanceOf(Error);
    await responseClosed;
    finishVisit();
    await new Promise<void>((resolve) => setImmediate(resolve));
    slow = false;
    const next = await fetch(url);
    expect(next.status).toBe(200);
    expect(await next.text()).toContain('hits_total{component="api"} 3\n');
    expect(unhandled).toEqual([]);
  });
});

describe('prometheusScrapeInSlices', () => {
  it('writes what prometheusScrape writes, letting the event loop run between slices', async () => {
    const monitor = new Monitor({ clock: new ManualClock(T0), windows: [60, 300] });
    cleanups.push(() => monitor.shutdown());
    const timer = monitor.timer('op');
    const hits = monitor.counter('hits');
    for (let i = 0; i < 200; i++) {
      for (let k = 0; k < 5; k++) timer.record(10 + ((i * 7 + k * 13) % 90), { route: `/r${i}` });
      hits.inc(i, { route: `/r${i}` });
    }
    let turns = 0;
    let running = true;
    const turn = (): void => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const sliced = await prometheusScrapeInSlices(monitor, {
      windowSeconds: 300,
      format: 'openmetrics',
      sliceSeries: 20,
    });
    running = false;
    // 400 series in slices of 20: 19 turns at least between them.
    expect(turns).toBeGreaterThanOrEqual(19);
    const whole = prometheusScrape(monitor, { windowSeconds: 300, format: 'openmetrics' });
    expect(sliced.toString('utf8')).toBe(whole.toString('utf8'));
    expect(sliced.toString('utf8')).toContain(
      'op_seconds{component="default",route="/r199",quantile="0.5"}',
    );
  });

  it('scrapes a source without visitSeriesInSlices as prometheusScrape does', async () => {
    const monitor = makeMonitor();
    const snapshotOnly: SnapshotSource = {
      windows: monitor.windows,
      snapshot: (options) => monitor.snapshot(options),
    };
    const viaVisit: SnapshotSource = {
      windows: monitor.windows,
      snapshot: (options) => monitor.snapshot(options),
      visitSeries: (options, visitor) => monitor.visitSeries(options, visitor),
    };
    const expected = prometheusScrape(monitor).toString('utf8');
    expect((await prometheusScrapeInSlices(snapshotOnly)).toString('utf8')).toBe(expected);
    expect((await prometheusScrapeInSlices(viaVisit)).toString('utf8')).toBe(expected);
  });
});

describe('startPrometheusServer', () => {
  it('serves the metrics on its path, 404 elsewhere, and closes', async () => {
    const server: PrometheusServer = await startPrometheusServer({
      monitor: makeMonitor(),
      port: 0,
      path: '/prsm/metrics',
      windowSeconds: 300,
    });
    cleanups.push(() => server.close());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/prsm\/metrics$/);
    const ok = await fetch(`${server.url}?x=1`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('op_seconds_count{component="api"} 1\n');
    expect((await fetch(new URL('/metrics', server.url))).status).toBe(404);
    await server.close();
    await server.close(); // idempotent
    await expect(fetch(server.url)).rejects.toThrow();
  });

  it('checks its options', async () => {
    const monitor = makeMonitor();
    await expect(startPrometheusServer({ monitor, port: -1 })).rejects.toThrow(
      /startPrometheusServer: options\.port must be an integer from 0 to 65535/,
    );
    await expect(startPrometheusServer({ monitor, port: 0, path: 'metrics' })).rejects.toThrow(
      /options\.path must start with "\/"/,
    );
  });
});
