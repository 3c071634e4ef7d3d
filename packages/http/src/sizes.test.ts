import { describe, expect, it } from 'vitest';
import { isRateLimitHeader, rawHeader } from './sizes.js';

describe('rawHeader', () => {
  const raw = ['Host', 'x', 'CONTENT-LENGTH', '42', 'X-Forwarded-For', 'a', 'content-length', '7'];

  it('finds a header in any case, the first of repeated ones', () => {
    expect(rawHeader(raw, 'content-length')).toBe('42');
    expect(rawHeader(raw, 'x-forwarded-for')).toBe('a');
    expect(rawHeader(raw, 'host')).toBe('x');
  });

  it('answers undefined for a missing header, no list, or a dangling name', () => {
    expect(rawHeader(raw, 'content-type')).toBeUndefined();
    expect(rawHeader(undefined, 'host')).toBeUndefined();
    expect(rawHeader(['Content-Length'], 'content-length')).toBeUndefined();
    // Same length, other name: compared, not matched.
    expect(rawHeader(['content-lengtx', '1'], 'content-length')).toBeUndefined();
  });
});

describe('isRateLimitHeader', () => {
  it('knows the names rateLimitUsed reads, in any case', () => {
    for (const name of [
      'RateLimit',
      'ratelimit-limit',
      'RateLimit-Remaining',
      'X-RateLimit-Limit',
      'x-ratelimit-remaining',
    ]) {
      expect(isRateLimitHeader(name), name).toBe(true);
    }
  });

  it('rejects every other header', () => {
    for (const name of [
      '',
      'Rate',
      'Content-Type',
      'X-Powered-By',
      'X-Request-Id',
      'x_ratelimit-limit',
      'xratelimit-limit',
      'ratelimited',
      'x-ratelimit',
    ]) {
      expect(isRateLimitHeader(name), name).toBe(false);
    }
  });
});
