/**
 * Backup and restore with real parts: a `prsm-monitor serve` process on a real SQLite
 * file, a second child process ingesting over HTTP (it prints each acknowledged
 * write), `prsm-monitor backup` run while that ingest goes on, and `prsm-monitor
 * restore` into a new file that must pass `PRAGMA integrity_check` and hold every write
 * acknowledged before the backup started. Then the refusals: an existing file without
 * --force, a database in use, a corrupt backup.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openExportStream } from '../export/stream.js';
import { openStore } from '../store/store.js';
import { runCli, startServerChild, tempDir, type ServerChild } from '../test-support.js';
import { BackupError, backupDatabase, databaseInUse, restoreDatabase } from './backup.js';

/** A child process that ingests until killed, printing `ack <n>` after each 200. */
const INGESTER = `
const [api, key] = process.argv.slice(1);
let seq = 0;
const headers = { authorization: 'Bearer ' + key, 'content-type': 'application/json' };
for (;;) {
  seq++;
  const metrics = Array.from({ length: 50 }, (_, i) => ({
    name: 'load', value: i, metric_type: 'histogram', component: 'c' + (seq % 7), tags: { s: String(seq % 97) },
  }));
  const a = await fetch(api + '/metrics', { method: 'POST', headers, body: JSON.stringify({ metrics }) });
  const b = await fetch(api + '/business-metrics', {
    method: 'POST', headers, body: JSON.stringify({ metric_name: 'seq', value: seq }),
  });
  await a.text(); await b.text();
  if (a.status !== 200 || b.status !== 200) { console.error('status', a.status, b.status); process.exit(1); }
  process.stdout.write('ack ' + seq + '\\n');
}
`;

function integrity(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

function seqValues(path: string): number[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], { value: number }>(
        "SELECT value FROM business_metrics WHERE metric_name = 'seq' ORDER BY value",
      )
      .all()
      .map((r) => r.value);
  } finally {
    db.close();
  }
}

let dir: { dir: string; remove: () => void };
let server: ServerChild | undefined;

beforeEach(() => {
  dir = tempDir();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  dir.remove();
});

describe('prsm-monitor backup and restore', () => {
  it('backs up under concurrent ingest; the restore holds every write acknowledged before', async () => {
    const db = join(dir.dir, 'live.db');
    const store = openStore(db);
    const key = store.createKey('ingest').key;
    store.close();
    server = await startServerChild(db, ['--rate', '0']);
    const ingester = spawn(
      process.execPath,
      ['--input-type=module', '-e', INGESTER, server.api, key],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let acked = 0;
    let stderr = '';
    ingester.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((done) => ingester.once('exit', () => done()));
    let buffered = '';
    const waiters: { n: number; done: () => void }[] = [];
    ingester.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) acked = Number(line.slice(4));
      for (const w of waiters.filter((x) => acked >= x.n)) w.done();
    });
    const ackedAtLeast = (n: number): Promise<void> =>
      new Promise((done) => (acked >= n ? done() : waiters.push({ n, done })));
    try {
      await ackedAtLeast(30);
      const before = acked;
      const backupFile = join(dir.dir, 'backup.db');
      const result = await runCli(['backup', '--db', db, '--out', backupFile]);
      const after = acked;
      expect(result.code, result.stderr).toBe(0);
      console.log(
        `backup: acked ${before} before it started, ${after} when it ended; ${result.stdout.trim()}`,
      );
      expect(result.stdout).toMatch(/integrity ok/);
      // The ingest went on while the backup ran (the server was not held back).
      await ackedAtLeast(after + 5);
      expect(acked).toBeGreaterThan(before);

      const restored = join(dir.dir, 'restored.db');
      const restore = await runCli(['restore', '--from', backupFile, '--db', restored]);
      expect(restore.code, restore.stderr).toBe(0);
      expect(integrity(restored)).toBe('ok');
      const values = seqValues(restored);
      // Every acknowledged write before the backup started, with no gap.
      expect(values.length).toBeGreaterThanOrEqual(before);
      expect(values.slice(0, before)).toEqual(Array.from({ length: before }, (_, i) => i + 1));
      expect(values).toEqual(Array.from({ length: values.length }, (_, i) => i + 1));
      const points = new Database(restored, { readonly: true });
      const load = points
        .prepare<[], { n: number }>(
          "SELECT SUM(p.count) AS n FROM points p JOIN series s ON s.id = p.series_id WHERE s.name = 'load'",
        )
        .get()!.n;
      points.close();
      expect(load).toBeGreaterThanOrEqual(before * 50);
      // A restored file opens as a store, and serves.
      const reopened = openStore(restored);
      expect(reopened.counts()['business_metrics']).toBe(values.length);
      reopened.close();
    } finally {
      ingester.kill('SIGKILL');
      await exited;
    }
    expect(stderr).toBe('');
  }, 90_000);

  it('refuses an existing database without --force, one in use even with it, and a corrupt backup', async () => {
    const db = join(dir.dir, 'live.db');
    const store = openStore(db);
    store.recordBusinessMetric({ metric_name: 'kept', value: 1 });
    store.close();
    const backupFile = join(dir.dir, 'b.db');
    expect((await runCli(['backup', '--db', db, '--out', backupFile])).code).toBe(0);
    const again = await runCli(['backup', '--db', db, '--out', backupFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists/);

    const refused = await runCli(['restore', '--from', backupFile, '--db', db]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists; pass force/);

    server = await startServerChild(db, ['--rate', '0']);
    expect(databaseInUse(db)).toBe(true);
    const inUse = await runCli(['restore', '--from', backupFile, '--db', db, '--force']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/open in another process/);
    await server.stop();
    server = undefined;
    expect(databaseInUse(db)).toBe(false);

    const corrupt = join(dir.dir, 'corrupt.db');
    const bytes = readFileSync(backupFile);
    // Garbage over the pages past the first (the schema's page stays readable).
    bytes.fill(0x5a, 4096 + 100, Math.min(bytes.length, 4 * 4096));
    writeFileSync(corrupt, bytes);
    const bad = await runCli(['restore', '--from', corrupt, '--db', join(dir.dir, 'new.db')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/integrity_check|cannot be read/);
    expect(existsSync(join(dir.dir, 'new.db'))).toBe(false);

    writeFileSync(join(dir.dir, 'text.db'), 'not a database at all');
    await expect(restoreDatabase(join(dir.dir, 'text.db'), join(dir.dir, 'x.db'))).rejects.toThrow(
      BackupError,
    );

    const forced = await runCli(['restore', '--from', backupFile, '--db', db, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(integrity(db)).toBe('ok');
    const restored = openStore(db);
    expect(restored.businessMetrics().map((m) => m.metric_name)).toEqual(['kept']);
    restored.close();
  }, 90_000);

  it('checks its arguments', async () => {
    await expect(backupDatabase(':memory:', 'x')).rejects.toThrow(TypeError);
    await expect(backupDatabase(join(dir.dir, 'none.db'), join(dir.dir, 'o.db'))).rejects.toThrow(
      /no database/,
    );
    const r = await runCli(['backup', '--db', join(dir.dir, 'x.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out/);
  }, 30_000);

  it('an export stream a reader walks away from releases its connection', async () => {
    const db = join(dir.dir, 'e.db');
    openStore(db).close();
    const writer = new Database(db);
    const insert = writer.prepare(
      "INSERT INTO business_metrics (metric_name, value, metadata, recorded_at) VALUES ('m', ?, '{}', ?)",
    );
    writer.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run(i, i);
    })();
    writer.close();
    const stream = openExportStream(db, { dataset: 'business', format: 'jsonl' });
    expect(databaseInUse(db)).toBe(true);
    const first: unknown = await new Promise((resolve) => stream.once('data', resolve));
    expect(first).toBeInstanceOf(Buffer);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    expect(databaseInUse(db)).toBe(false);
  });
});
