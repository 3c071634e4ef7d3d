/**
 * Archival on real SQLite files and a real directory, time from a manual clock: the
 * store's compaction writes the rows past retention (rolled up by then) to one JSONL
 * file per UTC day per dataset, whose lines equal the rows it then deletes; gzip; a
 * later part for late rows; and a crash between the file's rename and the deletion,
 * made real by a child process that SIGKILLs itself from the `onArchived` hook: the
 * rows survive, and the next compaction archives them once.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import Database from 'better-sqlite3';
import { ManualClock } from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openStore, type MonitorStore } from '../store/store.js';
import { tempDir } from '../test-support.js';
import { archiveFileName } from './archive.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-10T10:00:00Z');
const DAY0 = Date.parse('2026-03-10T00:00:00Z');
/** Rolls everything up; day 0 is not yet wholly past retention (2 days). */
const ROLLED = Date.parse('2026-03-12T00:00:00Z');
/** Day 0 is wholly past retention; day 1 is not. */
const LATER = Date.parse('2026-03-13T05:00:00Z');
const OPTIONS = { rollupAfterMs: HOUR, retentionMs: 2 * DAY };

const SNAPSHOT: Record<'metrics' | 'business' | 'alerts', string> = {
  metrics: `SELECT s.name, s.component, s.tags, s.metric_type, s.unit, p.resolution, p.bucket, p.count,
              p.sum, p.min, p.max, p.last, p.errors, p.quantiles, p.digest
            FROM points p JOIN series s ON s.id = p.series_id WHERE p.bucket < ? ORDER BY p.bucket, s.name, s.component, s.tags, p.resolution`,
  business: 'SELECT * FROM business_metrics WHERE recorded_at < ? ORDER BY recorded_at, id',
  alerts: `SELECT alert_id, rule_id, name, severity, component, event, at, value, by, escalation_step, origin, received_at
           FROM alert_events WHERE received_at < ? ORDER BY received_at, alert_id, event, at`,
};

function rows(db: string, sql: string, before: number): Record<string, unknown>[] {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(sql).all(before) as Record<string, unknown>[];
  } finally {
    sqlite.close();
  }
}

function readLines(file: string): Record<string, unknown>[] {
  const raw = readFileSync(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Two days of data: day 0 (to be archived) and day 1 (to stay). */
function fill(store: MonitorStore, clock: ManualClock): void {
  for (const at of [T0, T0 + 5 * 60_000, T0 + HOUR, T0 + DAY]) {
    clock.set(at);
    store.ingestMetrics([
      { name: 'latency', value: 10 + at / 1e12, metric_type: 'timer', component: 'api' },
      { name: 'latency', value: 250, metric_type: 'timer', component: 'api', error: true },
      { name: 'orders', value: 2, metric_type: 'counter', component: 'shop', tags: { r: 'eu' } },
      { name: 'queue', value: 7, metric_type: 'gauge', component: 'shop' },
    ]);
    store.recordBusinessMetric({
      metric_name: 'revenue',
      value: at / 1e9,
      dimension: 'eu',
      metadata: { at },
    });
    store.ingestBatch({
      batch_id: `b-${at}`,
      sent_at: new Date(at).toISOString(),
      metrics: [],
      traces: [],
      alerts: [
        {
          alert_id: `al-${at}`,
          rule_id: 'r1',
          name: 'High latency',
          severity: 'high',
          component: 'api',
          event: 'firing',
          at: new Date(at).toISOString(),
          value: 3.5,
        },
      ],
    });
  }
}

let dir: { dir: string; remove: () => void };

beforeEach(() => {
  dir = tempDir();
});

afterEach(() => {
  dir.remove();
});

describe('archival of rows past retention', () => {
  for (const gzip of [false, true]) {
    it(`writes each day past retention to files equal to the rows it deletes (gzip: ${gzip})`, () => {
      const db = join(dir.dir, 'a.db');
      const archive = join(dir.dir, 'archive');
      const clock = new ManualClock(T0);
      const store = openStore(db, { ...OPTIONS, clock, archive: { dir: archive, gzip } });
      fill(store, clock);
      store.compact(ROLLED);
      expect(existsSync(archive)).toBe(false);
      const expected = {
        metrics: rows(db, SNAPSHOT.metrics, DAY0 + DAY),
        business: rows(db, SNAPSHOT.business, DAY0 + DAY),
        alerts: rows(db, SNAPSHOT.alerts, DAY0 + DAY),
      };
      expect(expected.metrics.length).toBeGreaterThanOrEqual(4);
      expect(expected.metrics.every((r) => r['resolution'] === 3600)).toBe(true);
      expect(expected.business).toHaveLength(3);
      expect(expected.alerts).toHaveLength(3);
      const stay = {
        metrics: rows(db, SNAPSHOT.metrics, Number.MAX_SAFE_INTEGER).length,
        business: rows(db, SNAPSHOT.business, Number.MAX_SAFE_INTEGER).length,
      };

      store.compact(LATER);
      for (const dataset of ['metrics', 'business', 'alerts'] as const) {
        const file = archiveFileName(archive, dataset, DAY0, 0, gzip);
        expect(readdirSync(join(archive, dataset))).toEqual([file.split('/').pop()]);
        expect(readLines(file)).toEqual(expected[dataset]);
        // Deleted: nothing of day 0 is left; day 1 is.
        expect(rows(db, SNAPSHOT[dataset], DAY0 + DAY)).toEqual([]);
      }
      expect(rows(db, SNAPSHOT.metrics, Number.MAX_SAFE_INTEGER)).toHaveLength(
        stay.metrics - expected.metrics.length,
      );
      expect(rows(db, SNAPSHOT.business, Number.MAX_SAFE_INTEGER)).toHaveLength(stay.business - 3);

      // A late row for the archived day goes to a second part, not over the first file.
      const late = new Database(db);
      late
        .prepare(
          "INSERT INTO business_metrics (metric_name, value, metadata, recorded_at) VALUES ('late', 1, '{}', ?)",
        )
        .run(DAY0 + 12 * HOUR);
      late.close();
      const lateRow = rows(db, SNAPSHOT.business, DAY0 + DAY);
      store.compact(LATER + HOUR);
      expect(readLines(archiveFileName(archive, 'business', DAY0, 1, gzip))).toEqual(lateRow);
      expect(readLines(archiveFileName(archive, 'business', DAY0, 0, gzip))).toEqual(
        expected.business,
      );
      const log = rows(
        db,
        'SELECT dataset, part, rows FROM archive_log WHERE day < ? ORDER BY dataset, part',
        DAY0 + DAY,
      );
      expect(log).toEqual([
        { dataset: 'alerts', part: 0, rows: 3 },
        { dataset: 'business', part: 0, rows: 3 },
        { dataset: 'business', part: 1, rows: 1 },
        { dataset: 'metrics', part: 0, rows: expected.metrics.length },
      ]);
      store.close();
    });
  }

  it('keeps the rows when the process dies between the rename and the delete', async () => {
    const db = join(dir.dir, 'c.db');
    const archive = join(dir.dir, 'archive');
    const clock = new ManualClock(T0);
    const setup = openStore(db, { ...OPTIONS, clock });
    fill(setup, clock);
    setup.compact(ROLLED);
    setup.close();
    const expected = rows(db, SNAPSHOT.metrics, DAY0 + DAY);
    const before = {
      metrics: rows(db, SNAPSHOT.metrics, Number.MAX_SAFE_INTEGER).length,
      business: rows(db, SNAPSHOT.business, Number.MAX_SAFE_INTEGER).length,
    };

    // The child SIGKILLs itself once the first file is durably in place: a real crash
    // at the point between "file written" and "rows deleted".
    const storeUrl = new URL('../store/store.ts', import.meta.url).href;
    const script = join(dir.dir, 'crash.ts');
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(storeUrl)};
const [db, dir, now, rollup, retention] = process.argv.slice(2);
const store = openStore(db, {
  rollupAfterMs: Number(rollup),
  retentionMs: Number(retention),
  archive: { dir, onArchived: (file) => { process.stdout.write('archived ' + file + '\\n'); process.kill(process.pid, 'SIGKILL'); } },
});
store.compact(Number(now));
process.stdout.write('not killed\\n');
`,
    );
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--conditions=@prsm/source',
        '--import',
        'tsx',
        script,
        db,
        archive,
        String(LATER),
        String(OPTIONS.rollupAfterMs),
        String(OPTIONS.retentionMs),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, s) => resolve(s)),
    );
    expect(signal, stderr).toBe('SIGKILL');
    const file = archiveFileName(archive, 'metrics', DAY0, 0, false);
    expect(stdout).toBe(`archived ${file}\n`);
    // The file is whole, and the rows are all still there (the delete never committed).
    expect(readLines(file)).toEqual(expected);
    expect(rows(db, SNAPSHOT.metrics, Number.MAX_SAFE_INTEGER)).toHaveLength(before.metrics);
    expect(rows(db, SNAPSHOT.business, Number.MAX_SAFE_INTEGER)).toHaveLength(before.business);
    expect(readdirSync(join(archive, 'metrics')).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // The next compaction writes the same file again (not a second part), then deletes.
    const store = openStore(db, { ...OPTIONS, archive: { dir: archive } });
    store.compact(LATER);
    store.close();
    expect(readdirSync(join(archive, 'metrics'))).toEqual([file.split('/').pop()]);
    expect(readLines(file)).toEqual(expected);
    expect(rows(db, SNAPSHOT.metrics, DAY0 + DAY)).toEqual([]);
    expect(readLines(archiveFileName(archive, 'business', DAY0, 0, false))).toHaveLength(3);
  }, 60_000);

  it('checks its options', () => {
    const db = join(dir.dir, 'o.db');
    expect(() => openStore(db, { archive: { dir: '' } })).toThrow(/archive\.dir/);
    expect(() =>
      openStore(db, { archive: { dir: 'x', gzip: 'yes' as unknown as boolean } }),
    ).toThrow(/archive\.gzip/);
  });

  it('without archival, retention deletes as before (no rounding to days)', () => {
    const db = join(dir.dir, 'n.db');
    const clock = new ManualClock(T0);
    const store = openStore(db, { ...OPTIONS, clock });
    fill(store, clock);
    store.compact(T0 + 2 * DAY + HOUR + 1);
    // Everything of T0 and T0 + 5 min and T0 + 1 h is gone, day 1 stays.
    expect(rows(db, SNAPSHOT.business, Number.MAX_SAFE_INTEGER)).toHaveLength(1);
    store.close();
  });
});
