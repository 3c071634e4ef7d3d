/**
 * Reading sizes and quotas from HTTP headers and written chunks: body lengths, the
 * bytes of a chunk, and the share of a rate-limit quota used. Imports nothing.
 */

/**
 * A `Content-Length`-like header value as a byte count: a non-negative integer (a
 * number, or a string of one, or the first of an array of them); undefined otherwise.
 *
 * @example
 * ```ts
 * import { parseLength } from '@prsm/http';
 *
 * parseLength('300'); // 300
 * parseLength(['12', '13']); // 12
 * parseLength('-1'); // undefined
 * ```
 */
export function parseLength(value: unknown): number | undefined {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The bytes of a chunk passed to `res.write`/`res.end`: a string in its encoding
 * (UTF-8 unless one is named), a `Buffer` or other `Uint8Array` by its length, and 0
 * for anything else (a callback).
 *
 * @example
 * ```ts
 * import { chunkLength } from '@prsm/http';
 *
 * chunkLength('é', undefined); // 2
 * chunkLength(Buffer.alloc(500), undefined); // 500
 * ```
 */
export function chunkLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * A response's body size: its `Content-Length` when set, else the bytes counted as
 * they were written (when the adapter counted them), else undefined.
 *
 * @example
 * ```ts
 * import { responseLength } from '@prsm/http';
 *
 * responseLength(res.getHeader('content-length'), state, true);
 * ```
 */
export function responseLength(
  contentLength: unknown,
  written: { readonly bytesWritten: number },
  counted: boolean,
): number | undefined {
  const declared = parseLength(contentLength);
  if (declared !== undefined) return declared;
  return counted ? written.bytesWritten : undefined;
}

const COMBINED_LIMIT = /(?:^|[,;\s])limit=(\d+)/i;
const COMBINED_REMAINING = /(?:^|[,;\s])remaining=(\d+)/i;

/**
 * Something response headers can be read from: Node's `ServerResponse` and Fastify's
 * `FastifyReply` both fit.
 *
 * @example
 * ```ts
 * import type { HeaderSource } from '@prsm/http';
 *
 * const source: HeaderSource = res; // a ServerResponse
 * ```
 */
export interface HeaderSource {
  /** The header's value (names are case-insensitive), undefined when not set. */
  getHeader(name: string): unknown;
}

/**
 * A {@link HeaderSource} with no header set: what an adapter hands
 * {@link rateLimitUsed} for a response it knows carries no rate-limit header, so that
 * the response itself is not read for one.
 *
 * @example
 * ```ts
 * import { NO_HEADERS, rateLimitUsed } from '@prsm/http';
 *
 * rateLimitUsed(NO_HEADERS); // undefined
 * ```
 */
export const NO_HEADERS: HeaderSource = { getHeader: () => undefined };

/**
 * A request header read from the request's `rawHeaders` (the name given in lower
 * case, matched in any case; the first value when repeated), without building Node's
 * `headers` object: a framework that never reads `req.headers` (Fastify on a `GET`)
 * would otherwise build it for us, a few hundred nanoseconds a request.
 *
 * @example
 * ```ts
 * import { rawHeader } from '@prsm/http';
 *
 * rawHeader(['Host', 'x', 'Content-Length', '42'], 'content-length'); // '42'
 * ```
 */
export function rawHeader(
  rawHeaders: readonly string[] | undefined,
  name: string,
): string | undefined {
  if (rawHeaders === undefined) return undefined;
  const length = name.length;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!;
    if (key.length === length && (key === name || key.toLowerCase() === name)) {
      return rawHeaders[i + 1];
    }
  }
  return undefined;
}

/**
 * Whether a response header is one {@link rateLimitUsed} reads (`RateLimit`,
 * `RateLimit-*`, `X-RateLimit-*`), in any case: an adapter that sees headers being set
 * reads the quota only from responses that carry one.
 *
 * @example
 * ```ts
 * import { isRateLimitHeader } from '@prsm/http';
 *
 * isRateLimitHeader('X-RateLimit-Remaining'); // true
 * isRateLimitHeader('Content-Type'); // false
 * ```
 */
export function isRateLimitHeader(name: string): boolean {
  if (name.length < 9) return false;
  const first = name.charCodeAt(0) | 0x20;
  if (first === 0x78) {
    // `x-r...`: other `X-` headers (Express sets `X-Powered-By`) are not lower-cased.
    if (name.charCodeAt(1) !== 0x2d || (name.charCodeAt(2) | 0x20) !== 0x72) return false;
  } else if (first !== 0x72) {
    return false; // r
  }
  const n = name.toLowerCase();
  return n === 'ratelimit' || n.startsWith('ratelimit-') || n.startsWith('x-ratelimit-');
}

/**
 * The share of a rate-limit quota used, 0..1, from response headers: `1 - remaining /
 * limit` out of `RateLimit-Limit` and `RateLimit-Remaining` (IETF draft 6), or
 * `X-RateLimit-*`, or the combined `RateLimit: limit=..., remaining=...` (draft 7);
 * undefined when the response names no quota.
 *
 * @example
 * ```ts
 * import { rateLimitUsed } from '@prsm/http';
 *
 * res.setHeader('RateLimit-Limit', '100');
 * res.setHeader('RateLimit-Remaining', '25');
 * rateLimitUsed(res); // 0.75
 * ```
 */
export function rateLimitUsed(headers: HeaderSource): number | undefined {
  // Most responses carry no quota: three reads say so (of five at most).
  let limit = parseLength(
    headers.getHeader('ratelimit-limit') ?? headers.getHeader('x-ratelimit-limit'),
  );
  let remaining =
    limit === undefined
      ? undefined
      : parseLength(
          headers.getHeader('ratelimit-remaining') ?? headers.getHeader('x-ratelimit-remaining'),
        );
  if (limit === undefined || remaining === undefined) {
    const raw = headers.getHeader('ratelimit');
    const combined: unknown = Array.isArray(raw) ? (raw as unknown[])[0] : raw;
    if (typeof combined !== 'string') return undefined;
    const l = COMBINED_LIMIT.exec(combined);
    const r = COMBINED_REMAINING.exec(combined);
    if (l === null || r === null) return undefined;
    limit = Number(l[1]);
    remaining = Number(r[1]);
  }
  if (limit <= 0) return undefined;
  return Math.min(1, Math.max(0, (limit - remaining) / limit));
}
