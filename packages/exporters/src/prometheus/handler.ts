/**
 * The HTTP side of the Prometheus exposition: a `(req, res)` handler for node:http,
 * Express and Fastify (through `reply.raw`), content negotiation between the text
 * format and OpenMetrics, and a small standalone server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type {
  MonitorSnapshot,
  SeriesVisitor,
  SlicedVisitOptions,
  SnapshotOptions,
  VisitOptions,
} from '@prsm/core';

import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  PrometheusWriter,
  toPrometheusText,
  type PrometheusFormat,
} from './text.js';

/**
 * What the handler reads from: a `Monitor` (or anything with `snapshot()`; `windows`,
 * when present, lets the options be checked up front). A source with `visitSeries`
 * and `windows` (a `Monitor`) is read through `visitSeries`, which builds no snapshot;
 * another is asked for a snapshot of the one window exposed, without digests or
 * cumulative quantiles, so a scrape computes nothing it does not print (a source may
 * ignore the options). With `visitSeriesInSlices` too, the handler's scrapes let the
 * event loop run between slices of series (see {@link prometheusScrapeInSlices}).
 *
 * @example
 * ```ts
 * const source: SnapshotSource = new Monitor();
 * ```
 */
export interface SnapshotSource {
  snapshot(options?: SnapshotOptions): MonitorSnapshot;
  visitSeries?(options: VisitOptions, visitor: SeriesVisitor): void;
  visitSeriesInSlices?(options: SlicedVisitOptions, visitor: SeriesVisitor): Promise<void>;
  readonly windows?: readonly number[];
}

/**
 * Options of {@link prometheusScrape}.
 *
 * @example
 * ```ts
 * const options: PrometheusScrapeOptions = { windowSeconds: 300, format: 'openmetrics' };
 * ```
 */
export interface PrometheusScrapeOptions {
  /** The window of the summaries' quantiles; default the source's first window. */
  readonly windowSeconds?: number;
  /** Put before every metric name (then sanitised with it). Default none. */
  readonly prefix?: string;
  /** Default `'prometheus'` (text 0.0.4). */
  readonly format?: PrometheusFormat;
  /** OpenMetrics exemplars (see `PrometheusTextOptions.exemplars`). Default true. */
  readonly exemplars?: boolean;
}

/**
 * The body a scrape of `source` answers with, as {@link prometheusHandler} sends it:
 * the exposition in UTF-8 (`.toString()` for the text). A `Monitor` is read through
 * `visitSeries` and written as it is read (no snapshot, no string of the whole text:
 * ten thousand series in tens of milliseconds), any other source through one
 * `snapshot()` and {@link toPrometheusText}. The same text either way. For a route of
 * your own, such as a Fastify reply.
 *
 * @example
 * ```ts
 * import { prometheusScrape, PROMETHEUS_CONTENT_TYPE } from '@prsm/exporters/prometheus';
 *
 * app.get('/metrics', (_request, reply) => {
 *   reply.type(PROMETHEUS_CONTENT_TYPE).send(prometheusScrape(monitor, { windowSeconds: 60 }));
 * });
 * ```
 */
export function prometheusScrape(
  source: SnapshotSource,
  options: PrometheusScrapeOptions = {},
): Buffer {
  const exposed = options.windowSeconds ?? source.windows?.[0];
  if (typeof source.visitSeries === 'function' && exposed !== undefined) {
    const writer = liveWriter(options, exposed);
    source.visitSeries({ windowSeconds: exposed }, writer);
    return writer.bytes();
  }
  const snapshot = source.snapshot({
    ...(exposed !== undefined && { windows: [exposed] }),
    digests: false,
    cumulativeQuantiles: false,
  });
  return Buffer.from(toPrometheusText(snapshot, options));
}

/**
 * Options of {@link prometheusScrapeInSlices}: those of {@link prometheusScrape}, and
 * how many series are read between two turns of the event loop.
 *
 * @example
 * ```ts
 * const options: PrometheusSlicedScrapeOptions = { windowSeconds: 300, sliceSeries: 250 };
 * ```
 */
export interface PrometheusSlicedScrapeOptions extends PrometheusScrapeOptions {
  /** The most series a slice reads, a positive integer. Default the monitor's (1000). */
  readonly sliceSeries?: number;
  /** The time a slice may take (ms), a positive number. Default the monitor's (5). */
  readonly sliceMs?: number;
}

/**
 * {@link prometheusScrape} without holding the event loop for the whole scrape: a
 * `Monitor` is read through `visitSeriesInSlices`, about 5 ms of series at a time with
 * the event loop let run between slices, so the requests a service is serving are not
 * held up behind a scrape of tens of thousands of series (tens to hundreds of
 * milliseconds of work when timers have many new samples to merge). The same text as
 * `prometheusScrape` at the time each series is read. The handler and the standalone
 * server scrape this way. A source without `visitSeriesInSlices` is scraped as
 * `prometheusScrape` scrapes it.
 *
 * @example
 * ```ts
 * import { prometheusScrapeInSlices, PROMETHEUS_CONTENT_TYPE } from '@prsm/exporters/prometheus';
 *
 * app.get('/metrics', async (_request, reply) => {
 *   const body = await prometheusScrapeInSlices(monitor, { windowSeconds: 60 });
 *   return reply.type(PROMETHEUS_CONTENT_TYPE).send(body);
 * });
 * ```
 */
export async function prometheusScrapeInSlices(
  source: SnapshotSource,
  options: PrometheusSlicedScrapeOptions = {},
): Promise<Buffer> {
  const { windowSeconds, sliceSeries, sliceMs } = options;
  const exposed = windowSeconds ?? source.windows?.[0];
  if (typeof source.visitSeriesInSlices !== 'function' || exposed === undefined) {
    return prometheusScrape(source, options);
  }
  const writer = liveWriter(options, exposed);
  await source.visitSeriesInSlices(
    {
      windowSeconds: exposed,
      ...(sliceSeries !== undefined && { sliceSeries }),
      ...(sliceMs !== undefined && { sliceMs }),
    },
    writer,
  );
  return writer.bytes();
}

/** The writer of a scrape read through a visit (see `PrometheusWriter`). */
function liveWriter(options: PrometheusScrapeOptions, windowSeconds: number): PrometheusWriter {
  const { prefix, format, exemplars } = options;
  return new PrometheusWriter(
    {
      windowSeconds,
      ...(prefix !== undefined && { prefix }),
      ...(format !== undefined && { format }),
      ...(exemplars !== undefined && { exemplars }),
    },
    true,
  );
}

/**
 * Options of {@link prometheusHandler}.
 *
 * @example
 * ```ts
 * const options: PrometheusHandlerOptions = { monitor, windowSeconds: 60, prefix: 'shop_' };
 * ```
 */
export interface PrometheusHandlerOptions {
  /** The monitor to expose. */
  readonly monitor: SnapshotSource;
  /** The window of the summaries' quantiles; default the monitor's first window. */
  readonly windowSeconds?: number;
  /** Put before every metric name (then sanitised with it). Default none. */
  readonly prefix?: string;
  /**
   * Answer in OpenMetrics 1.0 when the request's `Accept` prefers
   * `application/openmetrics-text` (Prometheus' scrapes do). Default true; false
   * always answers in the text format 0.0.4.
   */
  readonly openMetrics?: boolean;
  /** OpenMetrics exemplars (see `PrometheusTextOptions.exemplars`). Default true. */
  readonly exemplars?: boolean;
  /**
   * The most series read between two turns of the event loop (see
   * {@link prometheusScrapeInSlices}), a positive integer. Default the monitor's (1000).
   */
  readonly sliceSeries?: number;
  /** The time a slice of the scrape may take (ms), a positive number. Default the monitor's (5). */
  readonly sliceMs?: number;
}

/**
 * A request handler in Node's own shape, which Express takes as it is.
 *
 * @example
 * ```ts
 * const handler: PrometheusRequestHandler = prometheusHandler({ monitor });
 * http.createServer(handler).listen(9464);
 * ```
 */
export type PrometheusRequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

function optionError(where: string, message: string): TypeError {
  return new TypeError(`${where}: options.${message}`);
}

function checkHandlerOptions(where: string, options: PrometheusHandlerOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options must be an object`);
  }
  const monitor = options.monitor as Partial<SnapshotSource> | undefined;
  if (typeof monitor?.snapshot !== 'function') {
    throw optionError(where, 'monitor must have a snapshot() method (a Monitor)');
  }
  const { windowSeconds, prefix } = options;
  if (windowSeconds !== undefined) {
    const windows = monitor.windows;
    if (
      typeof windowSeconds !== 'number' ||
      (windows !== undefined && !windows.includes(windowSeconds))
    ) {
      throw optionError(
        where,
        `windowSeconds must be one of the monitor's windows (${windows?.join(', ') ?? '?'}), got ${String(windowSeconds)}`,
      );
    }
  }
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw optionError(where, 'prefix must be a string');
  }
  const { sliceSeries } = options;
  if (sliceSeries !== undefined && (!Number.isInteger(sliceSeries) || sliceSeries < 1)) {
    throw optionError(where, `sliceSeries must be a positive integer, got ${String(sliceSeries)}`);
  }
  const { sliceMs } = options;
  if (sliceMs !== undefined && (typeof sliceMs !== 'number' || !(sliceMs > 0))) {
    throw optionError(where, `sliceMs must be a positive number, got ${String(sliceMs)}`);
  }
}

/**
 * The format an `Accept` header asks for: OpenMetrics when it lists
 * `application/openmetrics-text` with a weight at least that of the text format
 * (or of `*` ranges when the text format is not listed), else the text format.
 *
 * @example
 * ```ts
 * negotiateFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'); // 'openmetrics'
 * negotiateFormat(undefined); // 'prometheus'
 * ```
 */
export function negotiateFormat(accept: string | undefined): PrometheusFormat {
  if (accept === undefined || accept === '') return 'prometheus';
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const [key, value = ''] = param.split('=').map((part) => part.trim());
      if (key === 'q') q = Number(value);
      else if (key === 'version') version = value;
    }
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text') {
      // Versions we speak: 1.0.0, and 0.0.1 (its earlier name, asked for by older Prometheus).
      if (version === undefined || version === '1.0.0' || version === '0.0.1') {
        openMetrics = Math.max(openMetrics, q);
      }
    } else if (type === 'text/plain' || type === 'text/*' || type === '*/*') {
      text = Math.max(text, q);
    }
  }
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus';
}

/**
 * An HTTP handler that answers with the monitor's metrics, read afresh per request
 * (see {@link prometheusScrapeInSlices}: a monitor is read a slice of series at a time,
 * the event loop running between slices), in the text format 0.0.4
 * (`text/plain; version=0.0.4; charset=utf-8`) or, when the `Accept` header prefers
 * it, OpenMetrics 1.0 with exemplars. `GET` and
 * `HEAD` only (others get 405). It never throws and never leaves a promise rejected: a
 * failure to render answers 500, and a client gone before the body was ready gets
 * nothing.
 *
 * Mounting: node:http `createServer(handler)`; Express `app.get('/metrics', handler)`;
 * Fastify `app.get('/metrics', (request, reply) => { reply.hijack(); handler(request.raw, reply.raw); })`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { prometheusHandler } from '@prsm/exporters/prometheus';
 *
 * const app = express();
 * app.get('/metrics', prometheusHandler({ monitor, windowSeconds: 60 }));
 * ```
 */
export function prometheusHandler(options: PrometheusHandlerOptions): PrometheusRequestHandler {
  checkHandlerOptions('prometheusHandler', options);
  const { monitor, windowSeconds, prefix, exemplars, sliceSeries, sliceMs } = options;
  const allowOpenMetrics = options.openMetrics !== false;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answerError(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    let format: PrometheusFormat;
    try {
      format = allowOpenMetrics ? negotiateFormat(req.headers.accept) : 'prometheus';
    } catch (error) {
      answerError(res, 500, unavailable(error));
      return;
    }
    // (An async function: whatever fails in it rejects, never throws here.)
    const scraping = prometheusScrapeInSlices(monitor, {
      format,
      ...(windowSeconds !== undefined && { windowSeconds }),
      ...(prefix !== undefined && { prefix }),
      ...(exemplars !== undefined && { exemplars }),
      ...(sliceSeries !== undefined && { sliceSeries }),
      ...(sliceMs !== undefined && { sliceMs }),
    });
    scraping.then(
      (body) => {
        if (res.destroyed) return;
        try {
          res.writeHead(200, {
            'Content-Type':
              format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
            'Content-Length': body.length,
            'Cache-Control': 'no-store',
            Vary: 'Accept',
          });
          res.end(req.method === 'HEAD' ? undefined : body);
        } catch (error) {
          answerError(res, 500, unavailable(error));
        }
      },
      (error: unknown) => answerError(res, 500, unavailable(error)),
    );
  };
}

function unavailable(error: unknown): string {
  return `# metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`;
}

/** A plain-text answer, when the response can still take one (never throws). */
function answerError(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  try {
    if (res.destroyed || res.writableEnded) return;
    if (!res.headersSent) {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    }
    res.end(text);
  } catch {
    // The connection is gone: nothing left to tell.
  }
}

/**
 * Options of {@link startPrometheusServer}: the handler's, plus where to listen.
 *
 * @example
 * ```ts
 * const options: PrometheusServerOptions = { monitor, port: 9464, host: '0.0.0.0' };
 * ```
 */
export interface PrometheusServerOptions extends PrometheusHandlerOptions {
  /** The port; 0 picks a free one (read it back from `url`). */
  readonly port: number;
  /** Default `'127.0.0.1'`: set `'0.0.0.0'` (or `'::'`) for Prometheus on another host. */
  readonly host?: string;
  /** Default `'/metrics'`; any other path answers 404. */
  readonly path?: string;
}

/**
 * A running {@link startPrometheusServer}.
 *
 * @example
 * ```ts
 * const server: PrometheusServer = await startPrometheusServer({ monitor, port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export interface PrometheusServer {
  /** The metrics URL, such as `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and closes open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * A standalone HTTP server for the metrics, for services without a web framework of
 * their own (or to keep metrics off the public port). It keeps the process alive
 * until `close()`, as any listening server does.
 *
 * @example
 * ```ts
 * import { startPrometheusServer } from '@prsm/exporters/prometheus';
 *
 * const metrics = await startPrometheusServer({ monitor, port: 9464 });
 * // scrape_configs: - targets: ['127.0.0.1:9464']
 * process.on('SIGTERM', () => void metrics.close());
 * ```
 */
export async function startPrometheusServer(
  options: PrometheusServerOptions,
): Promise<PrometheusServer> {
  const where = 'startPrometheusServer';
  checkHandlerOptions(where, options);
  const { port, host = '127.0.0.1', path = '/metrics' } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw optionError(where, `port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  if (typeof host !== 'string' || host === '') {
    throw optionError(where, 'host must be a non-empty string');
  }
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw optionError(where, `path must start with "/", got ${String(path)}`);
  }
  const handler = prometheusHandler(options);
  const server = createServer((req, res) => {
    const requested = (req.url ?? '/').split('?')[0];
    if (requested !== path) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not Found\n');
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostInUrl = address.address.includes(':') ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostInUrl}:${address.port}${path}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
