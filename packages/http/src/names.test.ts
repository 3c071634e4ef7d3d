import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeMethod, statusClass } from './names.js';
import { chunkLength, parseLength, rateLimitUsed, responseLength } from './sizes.js';
import { VERSION } from './version.js';

describe('tag values', () => {
  it('keeps methods bounded: known ones upper-cased, the rest _OTHER', () => {
    expect(['GET', 'get', 'Patch', 'QUERY', 'BREW', '', undefined].map(normalizeMethod)).toEqual([
      'GET',
      'GET',
      'PATCH',
      'QUERY',
      '_OTHER',
      '_OTHER',
      '_OTHER',
    ]);
  });

  it('classes status codes, unknown outside 100..599', () => {
    expect([100, 204, 301, 404, 499, 503, 599, 42, 600, 0].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      '5xx',
      'unknown',
      'unknown',
      'unknown',
    ]);
  });
});

describe('sizes', () => {
  it('reads Content-Length values, refusing what is not a byte count', () => {
    expect(
      ['300', 0, ['12', '13'], '-1', '1.5', '', 'abc', -3, 2.5, undefined, null].map(parseLength),
    ).toEqual([
      300,
      0,
      12,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('counts chunk bytes in their encoding', () => {
    expect(chunkLength('é', undefined)).toBe(2);
    expect(chunkLength('aGk=', 'base64')).toBe(2);
    expect(chunkLength(Buffer.alloc(500), 'utf8')).toBe(500);
    expect(chunkLength(new Uint8Array(7), undefined)).toBe(7);
    expect(chunkLength(() => undefined, undefined)).toBe(0);
  });

  it('prefers Content-Length to the bytes counted', () => {
    expect(responseLength('11', { bytesWritten: 99 }, true)).toBe(11);
    expect(responseLength(undefined, { bytesWritten: 99 }, true)).toBe(99);
    expect(responseLength(undefined, { bytesWritten: 99 }, false)).toBeUndefined();
  });

  it('reads the rate-limit quota from each header convention', () => {
    const from = (headers: Record<string, unknown>) => ({
      getHeader: (name: string): unknown => headers[name],
    });
    expect(rateLimitUsed(from({ 'ratelimit-limit': '100', 'ratelimit-remaining': '25' }))).toBe(
      0.75,
    );
    expect(rateLimitUsed(from({ 'x-ratelimit-limit': 10, 'x-ratelimit-remaining': 10 }))).toBe(0);
    expect(rateLimitUsed(from({ ratelimit: 'limit=10, remaining=1, reset=5' }))).toBe(0.9);
    expect(rateLimitUsed(from({ ratelimit: ['limit=4;remaining=0'] }))).toBe(1);
    // More remaining than the limit (a misconfigured limiter) is clamped, not negative.
    expect(rateLimitUsed(from({ 'ratelimit-limit': '5', 'ratelimit-remaining': '9' }))).toBe(0);
    expect(
      rateLimitUsed(from({ 'ratelimit-limit': '0', 'ratelimit-remaining': '0' })),
    ).toBeUndefined();
    expect(rateLimitUsed(from({ ratelimit: 'limit=10' }))).toBeUndefined();
    expect(rateLimitUsed(from({}))).toBeUndefined();
  });
});

describe('package', () => {
  it('keeps VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });
});
