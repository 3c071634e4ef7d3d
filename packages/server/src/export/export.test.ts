/**
 * The BI export end to end: a real `prsm-monitor serve` process on 127.0.0.1 over a
 * real SQLite file, driven over HTTP. CSV is parsed back with the RFC 4180 parser
 * below and compared with the JSONL export and with the API's own JSON (`GET /alerts`,
 * `GET /audit`) for the same rows; the auth matrix per dataset; malformed queries; a
 * client that walks away mid-stream; and `prsm-monitor export` giving the same bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { ManualClock, Monitor } from '@prsm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore } from '../store/store.js';
import { runCli, startServerChild, tempDir, type ServerChild } from '../test-support.js';
import { csvField, csvRecord } from './stream.js';

/** RFC 4180: records of fields, quoted fields may hold commas, CRLF and doubled quotes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else {
      if (c === '"' || c === '\n' || c === '\r')
        throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
      field += c;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length > 0) throw new Error('last record without CRLF');
  return records;
}

/** CSV records (header first) as objects of strings. */
function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

/** A JSONL object as CSV would write its cells. */
function asCsvStrings(o: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, v === null ? '' : String(v as string | number)]),
  );
}

function jsonl(text: string): Record<string, unknown>[] {
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const T0 = Date.parse('2026-03-15T12:00:00Z');
const NASTY = 'a "quoted", value, ünïcode';
/** Where the schemas allow control characters (tag values, audit fields): CRLF too. */
const NEWLINES = 'line 1\r\nline 2, "quoted"\n';

function auditChain(n: number): Record<string, unknown>[] {
  const clock = new ManualClock(T0);
  const monitor = new Monitor({ clock, audit: {} });
  for (let i = 0; i < n; i++) {
    monitor.audit.record({
      user_id: `user_${i}`,
      user_agent: i === 1 ? NEWLINES : NASTY,
      action: 'export_test',
      resource_type: 'jobs',
      resource_id: `job_${i}`,
      outcome: 'success',
      metadata: { n: i, note: 'x,"y"' },
      compliance_tags: ['SOC2'],
    });
    clock.advance(60_000);
  }
  const lines = [...monitor.audit.sink.read()];
  void monitor.shutdown();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

let dir: { dir: string; remove: () => void };
let db: string;
let server: ServerChild;
let keys: Record<'ingest' | 'read' | 'enterprise' | 'admin', string>;

async function get(
  path: string,
  key: string | undefined,
): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(`${server.api}${path}`, {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
  });
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

async function post(path: string, body: unknown): Promise<void> {
  const r = await fetch(`${server.api}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.ingest}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(r.status, await r.clone().text()).toBe(200);
  await r.text();
}

beforeAll(async () => {
  dir = tempDir();
  db = join(dir.dir, 'export.db');
  const store = openStore(db);
  keys = {
    ingest: store.createKey('ingest').key,
    read: store.createKey('read').key,
    enterprise: store.createKey('enterprise').key,
    admin: store.createKey('admin').key,
  };
  store.close();
  server = await startServerChild(db, ['--rate', '0']);
  await post('/metrics', {
    metrics: [
      {
        name: 'latency',
        value: 12.5,
        metric_type: 'timer',
        component: 'api',
        tags: { r: NEWLINES },
      },
      { name: 'latency', value: 30, metric_type: 'timer', component: 'api', tags: { r: NEWLINES } },
      { name: 'orders', value: 3, metric_type: 'counter', component: 'shop' },
      { name: 'queue', value: -1.25e-7, metric_type: 'gauge', component: 'shop' },
    ],
  });
  for (let i = 0; i < 3; i++) {
    await post('/business-metrics', {
      metric_name: 'revenue',
      value: 100 + i,
      dimension: i === 0 ? NASTY : `region_${i}`,
      target: i === 2 ? 150 : undefined,
      metadata: { note: 'a,"b"\n', i },
    });
  }
  await post('/batch', {
    batch_id: 'alerts-1',
    sent_at: new Date(T0).toISOString(),
    metrics: [],
    traces: [],
    alerts: [0, 1, 2, 3].map((i) => ({
      alert_id: `al_${i}`,
      rule_id: 'rule_1',
      name: i === 0 ? NASTY : 'High latency',
      severity: 'high',
      component: 'api',
      event: i % 2 === 0 ? 'firing' : 'resolved',
      at: new Date(T0 + i * 3_600_000).toISOString(),
      ...(i === 1 ? {} : { value: i * 1.5 }),
    })),
  });
  await post('/audit', { batch_id: 'audit-1', source: 'svc', entries: auditChain(4) });
}, 60_000);

afterAll(async () => {
  await server.stop();
  dir.remove();
});

describe('encoders', () => {
  it('quotes exactly what RFC 4180 needs quoting', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('x\ny')).toBe('"x\ny"');
    expect(csvField(null)).toBe('');
    expect(csvField(1.5e-7)).toBe('1.5e-7');
    expect(csvRecord(['a', 1, null])).toBe('a,1,\r\n');
    expect(parseCsv(csvRecord([NASTY, '', NEWLINES]))).toEqual([[NASTY, '', NEWLINES]]);
  });
});

describe('GET /export', () => {
  it('exports each dataset as CSV that parses back to the JSONL export, row for row', async () => {
    for (const dataset of ['metrics', 'business', 'alerts', 'audit']) {
      const csv = await get(`/export?dataset=${dataset}&format=csv`, keys.admin);
      expect(csv.status, csv.text).toBe(200);
      expect(csv.type).toMatch(/^text\/csv/);
      const lines = await get(`/export?dataset=${dataset}&format=jsonl`, keys.admin);
      expect(lines.status).toBe(200);
      expect(lines.type).toMatch(/^application\/x-ndjson/);
      const fromJson = jsonl(lines.text);
      expect(fromJson.length).toBeGreaterThan(0);
      expect(csvObjects(csv.text)).toEqual(fromJson.map(asCsvStrings));
      // The header row is there even for an empty range.
      const empty = await get(`/export?dataset=${dataset}&to=2000-01-01`, keys.admin);
      expect(parseCsv(empty.text)).toEqual([Object.keys(fromJson[0]!)]);
    }
  });

  it('holds what was ingested (metrics and business)', async () => {
    const metrics = csvObjects((await get('/export?dataset=metrics', keys.read)).text);
    const latency = metrics.find((m) => m['name'] === 'latency')!;
    expect(latency).toMatchObject({
      component: 'api',
      metric_type: 'timer',
      resolution_s: '60',
      count: '2',
      sum: '42.5',
      min: '12.5',
      max: '30',
    });
    expect(JSON.parse(latency['tags']!)).toEqual({ r: NEWLINES });
    expect(metrics.find((m) => m['name'] === 'queue')!['last']).toBe('-1.25e-7');
    const business = jsonl(
      (await get('/export?dataset=business&format=jsonl', keys.enterprise)).text,
    );
    expect(business.map((b) => [b['value'], b['dimension'], b['target']])).toEqual([
      [100, NASTY, null],
      [101, 'region_1', null],
      [102, 'region_2', 150],
    ]);
    expect(JSON.parse(business[0]!['metadata'] as string)).toEqual({ note: 'a,"b"\n', i: 0 });
  });

  it("equals the API's JSON for the same range (alerts: GET /alerts; audit: GET /audit)", async () => {
    const from = new Date(T0 + 3_600_000).toISOString();
    const to = new Date(T0 + 3 * 3_600_000).toISOString();
    const alerts = csvObjects(
      (await get(`/export?dataset=alerts&from=${from}&to=${to}`, keys.read)).text,
    );
    const api = JSON.parse((await get('/alerts', keys.read)).text) as {
      recent_events: Record<string, unknown>[];
    };
    const expected = api.recent_events
      .filter((e) => String(e['at']) >= from && String(e['at']) < to)
      .sort((a, b) => String(a['at']).localeCompare(String(b['at'])));
    expect(expected).toHaveLength(2);
    expect(
      alerts.map((a) => ({
        alert_id: a['alert_id'],
        rule_id: a['rule_id'],
        name: a['name'],
        severity: a['severity'],
        component: a['component'],
        event: a['event'],
        at: a['time'],
        value: a['value'] === '' ? null : Number(a['value']),
      })),
    ).toEqual(expected);

    const auditFrom = new Date(T0 + 60_000).toISOString();
    const auditTo = new Date(T0 + 3 * 60_000).toISOString();
    const audit = jsonl(
      (await get(`/export?dataset=audit&format=jsonl&from=${auditFrom}&to=${auditTo}`, keys.admin))
        .text,
    );
    const listed = JSON.parse(
      (await get(`/audit?from=${auditFrom}&to=${auditTo}`, keys.admin)).text,
    ) as { entries: Record<string, unknown>[] };
    expect(listed.entries).toHaveLength(2);
    expect(
      audit.map((a) => ({
        ...Object.fromEntries(
          Object.entries(a).filter(
            ([k, v]) => v !== null && k !== 'time' && k !== 'metadata' && k !== 'compliance_tags',
          ),
        ),
        timestamp: a['time'],
        metadata: JSON.parse(a['metadata'] as string) as unknown,
        compliance_tags: JSON.parse(a['compliance_tags'] as string) as unknown,
      })),
    ).toEqual(listed.entries);
    expect(audit[0]!['user_agent']).toBe(NEWLINES);
  });

  it('checks the role per dataset', async () => {
    const status = async (dataset: string, key: string | undefined): Promise<number> =>
      (await get(`/export?dataset=${dataset}`, key)).status;
    const table: [string, (string | undefined)[], number][] = [
      ['metrics', [undefined, 'prsm_nope'], 401],
      ['metrics', [keys.ingest], 403],
      ['metrics', [keys.read, keys.enterprise, keys.admin], 200],
      ['alerts', [keys.ingest], 403],
      ['alerts', [keys.read, keys.enterprise, keys.admin], 200],
      ['business', [keys.ingest, keys.read], 403],
      ['business', [keys.enterprise, keys.admin], 200],
      ['audit', [keys.ingest, keys.read, keys.enterprise], 403],
      ['audit', [keys.admin], 200],
    ];
    for (const [dataset, list, expected] of table) {
      for (const key of list)
        expect([dataset, await status(dataset, key)]).toEqual([dataset, expected]);
    }
    const denied = JSON.parse((await get('/export?dataset=business', keys.read)).text) as {
      error: { code: string; field: string };
    };
    expect(denied.error).toMatchObject({ code: 'forbidden', field: 'dataset' });
  });

  it('answers malformed queries with 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['', 'dataset'],
      ['dataset=spans', 'dataset'],
      ['dataset=metrics&dataset=alerts', 'dataset'],
      ['dataset=metrics&format=xml', 'format'],
      ['dataset=metrics&format=', 'format'],
      ['dataset=metrics&from=yesterday', 'from'],
      ['dataset=metrics&from=2026-02-31', 'from'],
      ['dataset=metrics&to=2026-01-01T25:00:00Z', 'to'],
      ['dataset=metrics&to=2026-01-01T10:00:00', 'to'],
      ['dataset=metrics&from=1700000000000', 'from'],
      ['dataset=metrics&from=2026-03-02&to=2026-03-01', 'from'],
      ['dataset=metrics&limit=10', 'limit'],
      ['dataset=../../etc/passwd', 'dataset'],
    ];
    for (const [query, field] of cases) {
      const r = await get(`/export?${query}`, keys.admin);
      const body = JSON.parse(r.text) as {
        error: { code: string; message: string; field: string };
      };
      expect([query, r.status, body.error.field]).toEqual([query, 400, field]);
      expect(body.error.message).not.toMatch(/ at .*\.ts/);
    }
  });

  it('streams a large export, and survives a client that walks away mid-stream', async () => {
    const rows = 60_000;
    const writer = new Database(db, { timeout: 10_000 });
    const insert = writer.prepare(
      'INSERT INTO business_metrics (metric_name, value, dimension, target, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    writer.transaction(() => {
      for (let i = 0; i < rows; i++)
        insert.run('bulk', i, 'd', null, '{"pad":"' + 'x'.repeat(100) + '"}', T0 - 86_400_000 + i);
    })();
    writer.close();

    const controller = new AbortController();
    const r = await fetch(`${server.api}/export?dataset=business&to=2026-03-15`, {
      headers: { authorization: `Bearer ${keys.admin}` },
      signal: controller.signal,
    });
    // Streamed: chunked, no length known up front.
    expect(r.headers.get('content-length')).toBeNull();
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    const reader = r.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    controller.abort();
    await reader.cancel().catch(() => undefined);

    const started = performance.now();
    const full = await get('/export?dataset=business&format=csv&to=2026-03-15', keys.admin);
    const ms = performance.now() - started;
    expect(parseCsv(full.text)).toHaveLength(rows + 1);
    console.log(
      `export: ${rows} rows, ${(full.text.length / 1e6).toFixed(1)} MB CSV in ${ms.toFixed(0)} ms (noisy machine)`,
    );
    expect((await get('/healthz', undefined)).status).toBe(200);
  }, 60_000);

  it('is in the OpenAPI document', async () => {
    const doc = JSON.parse((await get('/openapi.json', undefined)).text) as {
      paths: Record<
        string,
        { get?: { parameters: { name: string }[]; 'x-prsm-permission': string } }
      >;
    };
    const op = doc.paths['/api/v1/monitoring/export']?.get;
    expect(op?.['x-prsm-permission']).toBe('read');
    expect(op?.parameters.map((p) => p.name)).toEqual(['dataset', 'format', 'from', 'to']);
  });
});

describe('prsm-monitor export', () => {
  it('writes the same bytes as the API, to a file or stdout, and refuses bad flags', async () => {
    const out = join(dir.dir, 'alerts.csv');
    const api = await get('/export?dataset=alerts&format=csv&from=2026-03-15', keys.read);
    const file = await runCli([
      'export',
      '--dataset',
      'alerts',
      '--from',
      '2026-03-15',
      '--db',
      db,
      '--out',
      out,
    ]);
    expect(file.code, file.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(api.text);
    const stdout = await runCli(['export', '--dataset', 'alerts', '--format', 'jsonl', '--db', db]);
    expect(stdout.code, stdout.stderr).toBe(0);
    expect(stdout.stdout).toBe((await get('/export?dataset=alerts&format=jsonl', keys.read)).text);
    const bad = await runCli(['export', '--dataset', 'alerts', '--format', 'xml', '--db', db]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format/);
    const reversed = await runCli([
      'export',
      '--dataset',
      'alerts',
      '--from',
      '2026-03-02',
      '--to',
      '2026-03-01',
      '--db',
      db,
    ]);
    expect(reversed.code).toBe(2);
  }, 60_000);
});
