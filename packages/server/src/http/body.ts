/**
 * The one request-body parser: `application/json` only (anything else is a 415),
 * optionally gzip-encoded, with the body limit applied to the bytes received (by
 * Fastify) and again to the inflated size (here), so a small gzip bomb is a 413 too.
 */
import { gunzipSync } from 'node:zlib';

import type { FastifyInstance } from 'fastify';

import { HttpError } from './errors.js';

/** Checks `content-encoding` and inflates; throws an {@link HttpError}. @internal */
export function decodeBody(raw: Buffer, encoding: string | undefined, limit: number): string {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  let bytes = raw;
  if (coding === 'gzip' || coding === 'x-gzip') {
    try {
      bytes = gunzipSync(raw, { maxOutputLength: limit });
    } catch (error) {
      if (
        (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE' ||
        error instanceof RangeError
      ) {
        throw new HttpError(
          413,
          'payload_too_large',
          'body',
          `the inflated body exceeds ${limit} bytes`,
        );
      }
      throw new HttpError(
        400,
        'invalid_encoding',
        'content-encoding',
        'the body is not valid gzip',
      );
    }
  } else if (coding !== 'identity' && coding !== '') {
    throw new HttpError(
      415,
      'unsupported_encoding',
      'content-encoding',
      'content-encoding must be gzip or identity',
    );
  }
  if (bytes.length > limit) {
    throw new HttpError(413, 'payload_too_large', 'body', `the body exceeds ${limit} bytes`);
  }
  return bytes.toString('utf8');
}

function noProto(key: string, value: unknown): unknown {
  if (key === '__proto__') {
    throw new HttpError(400, 'forbidden_field', '__proto__', 'a __proto__ key is not accepted');
  }
  return value;
}

/** Parses JSON; a syntax error or a `__proto__` key is a 400 on `body`. @internal */
export function parseJson(text: string): unknown {
  if (text.trim() === '') throw new HttpError(400, 'empty_body', 'body', 'the body is empty');
  try {
    // The reviver (slower) only when the text could spell __proto__, escaped or not.
    return text.includes('__proto__') || text.includes('\\u')
      ? (JSON.parse(text, noProto) as unknown)
      : (JSON.parse(text) as unknown);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, 'invalid_json', 'body', 'the body is not valid JSON');
  }
}

/**
 * Makes `application/json` (optionally gzip) the only body `app` accepts, within the
 * body limit: the server and the mountable Fastify plugin. @internal
 */
export function useJsonBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit },
    (request, raw, done) => {
      try {
        const encoding = request.headers['content-encoding'];
        done(
          null,
          parseJson(
            decodeBody(
              raw as Buffer,
              typeof encoding === 'string' ? encoding : undefined,
              bodyLimit,
            ),
          ),
        );
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}
