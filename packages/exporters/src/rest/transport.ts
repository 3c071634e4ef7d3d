/**
 * The HTTP side shared by everything that talks to a PRSM monitoring server: the
 * checked connection options (URL, API key, gzip, extra headers), and one POST per
 * call classified into an `ExportResult` (2xx ok; 408, 429, 5xx and connection
 * errors retryable, after `Retry-After`; anything else dropped). Imports `@prsm/core`
 * types, `node:zlib` and the global `fetch`.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

import type { ExportResult } from '@prsm/core';

const gzipAsync = promisify(gzipCallback);

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
 * How to reach a PRSM monitoring server: shared by `restExporter` and
 * `restAuditSink`. Every option is checked: a mistake throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const connection: RestConnectionOptions = {
 *   url: 'https://monitoring.prsm.example',
 *   apiKey: process.env.PRSM_API_KEY,
 * };
 * ```
 */
export interface RestConnectionOptions {
  /** The server's base URL, absolute http(s); the routes are under `${url}/api/v1/monitoring`. */
  readonly url: string;
  /** Sent in `apiKeyHeader` when set; never logged. */
  readonly apiKey?: string;
  /** The header the API key goes in. Default `x-api-key`. */
  readonly apiKeyHeader?: string;
  /** Gzip the body (`content-encoding: gzip`). Default true. */
  readonly gzip?: boolean;
  /** Extra headers on every request. They cannot replace the exporter's own. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The clock of `sent_at` and `Retry-After` dates (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
}

/** JSON already serialised (text, or its UTF-8 bytes), posted as it is. @internal */
export class RawJson {
  constructor(readonly json: string | Uint8Array) {}
}

/** A checked connection: posts JSON to a path under the base URL. @internal */
export interface RestTransport {
  /** `now` of the options. */
  readonly now: () => number;
  /** One attempt (a {@link RawJson} body is sent as it is); never throws. */
  post(path: string, body: unknown, batchId: string, signal: AbortSignal): Promise<ExportResult>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A `TypeError` naming the factory and the option. @internal */
export function optionError(factory: string, option: string, problem: string): TypeError {
  return new TypeError(`${factory}: options.${option} ${problem}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return 'unknown error';
}

/** `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date. */
function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Checks the connection options (throwing a `TypeError` that names `factory` and the
 * option) and returns the poster. @internal
 */
export function restTransport(factory: string, options: RestConnectionOptions): RestTransport {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${factory}: options must be an object`);
  }
  const fail = (option: string, problem: string): TypeError =>
    optionError(factory, option, problem);
  const headerName = (option: string, value: unknown): string => {
    if (typeof value !== 'string' || !TOKEN.test(value)) {
      throw fail(option, 'must be a valid HTTP header name');
    }
    return value.toLowerCase();
  };
  const headerValue = (option: string, value: unknown): string => {
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw fail(option, 'must be a string without CR, LF or NUL');
    }
    return value;
  };
  if (typeof options.url !== 'string') throw fail('url', 'must be a URL string');
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw fail('url', 'must be an absolute http:// or https:// URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw fail('url', 'must be an absolute http:// or https:// URL');
  }
  if (base.username !== '' || base.password !== '') {
    throw fail('url', 'must not contain credentials (use options.apiKey or options.headers)');
  }
  const basePath = base.pathname.replace(/\/+$/, '');
  const apiKeyHeader = headerName('apiKeyHeader', options.apiKeyHeader ?? 'x-api-key');
  const apiKey = options.apiKey === undefined ? undefined : headerValue('apiKey', options.apiKey);
  if (apiKey === '') throw fail('apiKey', 'must not be empty');
  const gzip = options.gzip ?? true;
  if (typeof gzip !== 'boolean') throw fail('gzip', 'must be a boolean');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw fail('now', 'must be a function');
  const extra: unknown = options.headers ?? {};
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw fail('headers', 'must be an object of header names to strings');
  }
  const own = new Set(['content-type', 'content-encoding', 'content-length', REST_BATCH_ID_HEADER]);
  if (apiKey !== undefined) own.add(apiKeyHeader);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra)) {
    const lower = headerName(`headers['${name}']`, name);
    if (own.has(lower)) throw fail(`headers['${name}']`, 'is set by the exporter');
    headers[lower] = headerValue(`headers['${name}']`, value);
  }
  headers['content-type'] = 'application/json';
  if (gzip) headers['content-encoding'] = 'gzip';
  if (apiKey !== undefined) headers[apiKeyHeader] = apiKey;

  const redact = (text: string): string =>
    apiKey === undefined ? text : text.split(apiKey).join('[redacted]');
  const urls = new Map<string, string>();
  const urlOf = (path: string): string => {
    let href = urls.get(path);
    if (href === undefined) {
      const url = new URL(base.href);
      url.pathname = basePath + path;
      href = url.href;
      urls.set(path, href);
    }
    return href;
  };

  return {
    now,
    async post(path, payload, batchId, signal): Promise<ExportResult> {
      let body: string | Uint8Array;
      try {
        const json = payload instanceof RawJson ? payload.json : JSON.stringify(payload);
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
        response = await fetch(urlOf(path), {
          method: 'POST',
          headers: { ...headers, [REST_BATCH_ID_HEADER]: batchId },
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
  };
}
