/**
 * The dashboard's login over a real server on 127.0.0.1 with a real SQLite file and an
 * injected clock: a key is exchanged for a session; a one-time login key (made by the
 * store, and by the real `prsm-monitor keys create --one-time`) works once, is refused
 * afterwards and is never an API key; the session carries on, ends at logout, when
 * its key is revoked or after 30 minutes unused.
 */
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createServer, type PrsmServer } from '../server.js';
import { runCli, tempDir } from '../test-support.js';

const T0 = Date.parse('2026-03-15T12:00:30Z');
const MINUTE = 60_000;

let dir: { dir: string; remove: () => void };
let server: PrsmServer;
let now = T0;

beforeEach(async () => {
  now = T0;
  dir = tempDir();
  server = await createServer({
    db: join(dir.dir, 'm.db'),
    port: 0,
    rateLimit: false,
    compactIntervalMs: 0,
    clock: { now: () => now },
  });
});

afterEach(async () => {
  await server.close();
  dir.remove();
});

const login = async (
  key: unknown,
): Promise<{ status: number; body: Record<string, unknown> & { error?: { field: string } } }> => {
  const r = await fetch(`${server.url!}/api/v1/monitoring/dashboard/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

const get = async (path: string, bearer: string): Promise<{ status: number; code?: string }> => {
  const r = await fetch(`${server.url!}/api/v1/monitoring${path}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  const body = (await r.json()) as { error?: { code: string } };
  return { status: r.status, code: body.error?.code };
};

describe('POST /dashboard/session', () => {
  it('spends a one-time key once; the session keeps working; the key is no API key', async () => {
    const once = server.store.createOneTimeKey('read');
    expect(once.key).toMatch(/^prsmo_[A-Za-z0-9_-]{43}$/);
    expect(once.id).toMatch(/^otk_/);
    // Never an API key, before or after its login.
    expect(await get('/alerts', once.key)).toEqual({ status: 401, code: 'invalid_key' });

    const first = await login(once.key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ key_id: once.id, role: 'read', one_time: true });
    const session = first.body['session'] as string;
    expect(session).toMatch(/^prsms_/);
    expect(Date.parse(first.body['expires_at'] as string)).toBe(T0 + 12 * 3_600_000);

    const second = await login(once.key);
    expect(second.status).toBe(401);
    expect(second.body.error).toMatchObject({ code: 'invalid_key', field: 'key' });
    expect(await get('/alerts', once.key)).toEqual({ status: 401, code: 'invalid_key' });

    // The session carries the key's role, for as long as it is used.
    for (let i = 0; i < 3; i += 1) {
      now += 20 * MINUTE;
      expect((await get('/alerts', session)).status).toBe(200);
    }
    expect((await get('/business-dashboard', session)).status).toBe(403);
    // Its requests are audited under the one-time key's id.
    expect(server.store.keyUses().some((u) => u.key_id === once.id && u.status === 200)).toBe(true);
    expect(server.store.listKeys().find((k) => k.id === once.id)?.last_used_at).not.toBeNull();

    // Logout ends it.
    const out = await fetch(`${server.url!}/api/v1/monitoring/dashboard/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${session}` },
    });
    expect(out.status).toBe(204);
    expect(await get('/alerts', session)).toEqual({ status: 401, code: 'invalid_key' });
  });

  it('exchanges an API key too; revoking the key or 30 idle minutes end the session', async () => {
    const read = server.store.createKey('read');
    const a = await login(read.key);
    expect(a.status).toBe(201);
    expect(a.body['one_time']).toBe(false);
    const session = a.body['session'] as string;
    expect((await get('/alerts', session)).status).toBe(200);
    // An API key stays usable after a login (it is not spent).
    expect((await get('/alerts', read.key)).status).toBe(200);
    const b = await login(read.key);
    expect(b.status).toBe(201);
    const idle = b.body['session'] as string;

    server.store.revokeKey(read.id);
    expect(await get('/alerts', session)).toEqual({ status: 401, code: 'revoked_key' });
    expect((await login(read.key)).status).toBe(401);

    const other = server.store.createKey('admin');
    const c = (await login(other.key)).body['session'] as string;
    now += 30 * MINUTE;
    expect(await get('/alerts', c)).toEqual({ status: 401, code: 'invalid_key' });
    expect((await get('/alerts', idle)).status).toBe(401);
  });

  it('refuses what cannot log in: unknown, revoked, ingest-only, malformed', async () => {
    const revoked = server.store.createOneTimeKey('read');
    server.store.revokeKey(revoked.id);
    expect((await login(revoked.key)).status).toBe(401);
    const ingest = server.store.createOneTimeKey('ingest');
    const denied = await login(ingest.key);
    expect(denied.status).toBe(403);
    expect(denied.body.error?.field).toBe('key');
    expect((await login(`prsmo_${'A'.repeat(43)}`)).status).toBe(401);
    expect((await login('prsm_short')).status).toBe(401);
    const bad = await login(42);
    expect(bad.status).toBe(400);
    expect(bad.body.error?.field).toBe('key');
    expect(() => server.store.createOneTimeKey('root' as 'read')).toThrow(TypeError);
  });

  it('is made by `prsm-monitor keys create --one-time` in the same file', async () => {
    const r = await runCli([
      'keys',
      'create',
      '--role',
      'enterprise',
      '--one-time',
      '--db',
      join(dir.dir, 'm.db'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/one-time login key otk_[0-9a-f]+ with role enterprise/);
    const key = r.stdout.trim().split('\n').at(-1)!.trim();
    expect(key).toMatch(/^prsmo_/);
    expect((await login(key)).status).toBe(201);
    expect((await login(key)).status).toBe(401);
    const misuse = await runCli(['keys', 'list', '--one-time', '--db', join(dir.dir, 'm.db')]);
    expect(misuse.code).not.toBe(0);
  }, 30_000);
});
