/**
 * The REST exporter: one JSON POST per export batch to a PRSM monitoring server,
 * gzipped by default, with the batch id as a header for the receiver's dedup. It makes
 * one attempt per call and classifies the outcome; the `ExportPipeline` of
 * `@prsm/core` queues, batches, retries and times out. Imports `@prsm/core` types,
 * `node:zlib` and the global `fetch`.
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

import type { ExportBatch, ExportItem, Exporter, ExporterHost, ExportResult } from '@prsm/core';

import { type RestSource, toRestBatch } from './body.js';

const gzipAsync = promisify(gzipCallback);

/**
 * The path the REST exporter POSTs to, under the configured `url`.
 *
 * @example
 * ```ts
 * app.post(REST_BATCH_PATH, handleBatch); // '/api/v1/monitoring/batch'
 * ```
 */
export const REST_BATCH_PATH = '/api/v1/monitoring/batch';

/**
 * The header carrying the batch id, the same on every retry of a batch.
 *
 * @example
 * ```ts
 * const id = request.headers[REST_BATCH_ID_HEADER]; // 'x-prsm-batch-id'
 * ```
 */
export const REST_BATCH_ID_HEADER = 'x-prsm-batch-id';

/**
 * Options of {@link restExporter}. Every option is checked: a mistake throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: RestExporterOptions = {
 *   url: 'https://monitoring.prsm.example',
 *   apiKey: process.env.PRSM_API_KEY,
 *   headers: { 'x-tenant': 'marketplace' },
 * };
 * ```
 */
export interface RestExporterOptions {
  /** The server's base URL, absolute http(s); the exporter POSTs to `${url}/api/v1/monitoring/batch`. */
  readonly url: string;
  /** Sent in `apiKeyHeader` when set; never logged. */
  readonly apiKey?: string;
  /** The header the API key goes in. Default `x-api-key`. */
  readonly apiKeyHeader?: string;
  /** Gzip the body (`content-encoding: gzip`). Default true. */
  readonly gzip?: boolean;
  /** Extra headers on every request. They cannot replace the exporter's own. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The clock of `sent_at` (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Also send every window's quantiles and rates (`windows`), computed at each export.
   * Default false: the server merges the sub-windows' digests (`sub_windows`) itself,
   * across processes, which the quantiles of one process cannot be.
   */
  readonly windowQuantiles?: boolean;
}

const FACTORY = 'restExporter';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function optionError(option: string, problem: string): TypeError {
  return new TypeError(`${FACTORY}: options.${option} ${problem}`);
}

function checkHeaderName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    throw optionError(option, 'must be a valid HTTP header name');
  }
  return value.toLowerCase();
}

function checkHeaderValue(option: string, value: unknown): string {
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
    throw optionError(option, 'must be a string without CR, LF or NUL');
  }
  return value;
}

function endpoint(value: unknown): string {
  if (typeof value !== 'string') throw optionError('url', 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw optionError('url', 'must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw optionError('url', 'must be an absolute http:// or https:// URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw optionError(
      'url',
      'must not contain credentials (use options.apiKey or options.headers)',
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '') + REST_BATCH_PATH;
  return url.href;
}

/** `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date. */
function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return 'unknown error';
}

/**
 * An exporter of metrics, spans and alert events to a PRSM monitoring server over
 * REST: one `POST ${url}/api/v1/monitoring/batch` per batch, the body a
 * {@link RestBatchBody} (see {@link toRestBatch}) as JSON, gzipped unless
 * `gzip: false`, with `x-prsm-batch-id` (the same on every retry: the receiver drops
 * a batch it already has) and the API key in `apiKeyHeader`.
 *
 * One call is one attempt: 2xx is success; 408, 429 and 5xx are retryable, after the
 * `Retry-After` (seconds or an HTTP date) when the server sends one; any other status
 * (redirects included: they are not followed, so the key never goes elsewhere) drops
 * the batch; a connection error or an abort (the pipeline's timeout) is retryable.
 * It never throws.
 *
 * @example
 * ```ts
 * import { Monitor } from '@prsm/core';
 * import { restExporter } from '@prsm/exporters/rest';
 *
 * const monitor = new Monitor({
 *   exporters: [
 *     restExporter({ url: 'https://monitoring.prsm.example', apiKey: process.env.PRSM_API_KEY }),
 *   ],
 * });
 * ```
 */
export function restExporter(options: RestExporterOptions): Exporter<ExportItem> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${FACTORY}: options must be an object`);
  }
  const url = endpoint(options.url);
  const apiKeyHeader = checkHeaderName('apiKeyHeader', options.apiKeyHeader ?? 'x-api-key');
  const apiKey =
    options.apiKey === undefined ? undefined : checkHeaderValue('apiKey', options.apiKey);
  if (apiKey === '') throw optionError('apiKey', 'must not be empty');
  const gzip = options.gzip ?? true;
  if (typeof gzip !== 'boolean') throw optionError('gzip', 'must be a boolean');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw optionError('now', 'must be a function');
  const windowQuantiles = options.windowQuantiles ?? false;
  if (typeof windowQuantiles !== 'boolean') {
    throw optionError('windowQuantiles', 'must be a boolean');
  }
  let source: RestSource | undefined;
  const extra: unknown = options.headers ?? {};
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw optionError('headers', 'must be an object of header names to strings');
  }
  const own = new Set(['content-type', 'content-encoding', 'content-length', REST_BATCH_ID_HEADER]);
  if (apiKey !== undefined) own.add(apiKeyHeader);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra)) {
    const lower = checkHeaderName(`headers['${name}']`, name);
    if (own.has(lower)) throw optionError(`headers['${name}']`, 'is set by the exporter');
    headers[lower] = checkHeaderValue(`headers['${name}']`, value);
  }
  headers['content-type'] = 'application/json';
  if (gzip) headers['content-encoding'] = 'gzip';
  if (apiKey !== undefined) headers[apiKeyHeader] = apiKey;

  const redact = (text: string): string =>
    apiKey === undefined ? text : text.split(apiKey).join('[redacted]');

  return {
    name: 'rest',
    needs: { windowQuantiles, digests: false, subWindows: true },
    attach(host: ExporterHost): void {
      source = { instance_id: randomUUID(), resource: { ...host.resource } };
    },
    async export(batch: ExportBatch<ExportItem>, signal: AbortSignal): Promise<ExportResult> {
      let body: string | Buffer;
      try {
        const json = JSON.stringify(toRestBatch(batch, now(), source));
        body = gzip ? await gzipAsync(json) : json;
      } catch (error) {
        // The same batch would fail the same way: no retry.
        return {
          ok: false,
          retryable: false,
          error: `rest: cannot encode batch: ${describe(error)}`,
        };
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { ...headers, [REST_BATCH_ID_HEADER]: batch.id },
          body,
          redirect: 'manual',
          signal,
        });
      } catch (error) {
        const why = signal.aborted ? 'aborted (timeout or shutdown)' : describe(error);
        return { ok: false, retryable: true, error: redact(`rest: request failed: ${why}`) };
      }
      let text = '';
      try {
        text = await response.text();
      } catch {
        // A body cut short after the status arrived: the status decides.
      }
      const status = response.status;
      if (status >= 200 && status < 300) return { ok: true };
      const retryable = status === 408 || status === 429 || status >= 500;
      const retryAfterMs = retryable
        ? parseRetryAfter(response.headers.get('retry-after'), now())
        : undefined;
      const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
      return {
        ok: false,
        retryable,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        error: redact(`rest: HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`),
      };
    },
    async shutdown(): Promise<void> {
      // Nothing to release: fetch keeps no connection of ours open.
    },
  };
}
