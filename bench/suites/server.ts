/**
 * The server's ingest (issue 6): `prsm-monitor serve` started as a real process on a
 * temporary SQLite file (the built bundle, packages/server/dist/cli.js), an ingest
 * key, no rate limit, then autocannon 8 drives `POST /api/v1/monitoring/metrics`
 * with batches of 1,000 points (counters and timers over 1,000 series) for 10 s, and
 * `POST /batch` with REST-exporter batches (200 series each, unique batch ids) for
 * 5 s. Afterwards the server is stopped and the file read back: every acknowledged
 * point must be stored (the sum of the series' update counts equals 1,000 x the 2xx
 * answers; every acknowledged batch id is stored). Reported: points/s, requests/s,
 * p50/p99 latency, under `--synchronous full` (the default: survives power loss)
 * and `normal` (survives a crash of the process; see the server's README). Target:
 * ≥ 100,000 points/s on the 2-core machine with nothing lost.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { fixed, heading, paragraph, table } from '../lib/report.js';

const TARGET = 100_000;
const POINTS = 1000;
const SERIES = 1000;
const METRICS_SECONDS = 10;
const BATCH_SECONDS = 5;
const BATCH_SERIES = 200;
const CONNECTIONS = 16;

const CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));
const SRC = fileURLToPath(new URL('../../packages/server/src', import.meta.url));

interface AutocannonResult {
  readonly duration: number;
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly '2xx': number;
}

interface AutocannonRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  requests: readonly AutocannonRequest[];
}) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function newest(dir: string): number {
  const out = spawnSync('find', [
    dir,
    '-name',
    '*.ts',
    '-not',
    '-name',
    '*.test.ts',
    '-newer',
    CLI,
  ]);
  return out.stdout.toString().trim().length;
}

function checkBuild(): void {
  if (!existsSync(CLI) || newest(SRC) > 0) {
    console.error(
      'packages/server/dist is missing or older than its src: run `npm run build -w @prsm/server`.',
    );
    process.exit(2);
  }
}

function createKey(db: string): string {
  const out = spawnSync(process.execPath, [CLI, 'keys', 'create', '--role', 'ingest', '--db', db]);
  if (out.status !== 0) throw new Error(`keys create failed: ${out.stderr.toString()}`);
  const lines = out.stdout.toString().trim().split('\n');
  return lines[lines.length - 1]!.trim();
}

function startServer(
  db: string,
  synchronous: string,
): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        '0',
        '--db',
        db,
        '--rate',
        '0',
        '--synchronous',
        synchronous,
        '--body-limit',
        String(8 * 1024 * 1024),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m !== null) resolve({ url: m[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${String(code)}): ${out}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function metricsBody(): string {
  const metrics = [];
  for (let i = 0; i < POINTS; i++) {
    const series = i % SERIES;
    metrics.push(
      series % 5 === 0
        ? {
            name: 'bench.latency',
            value: 20 + (i % 97),
            metric_type: 'timer',
            component: 'api',
            tags: { route: `r${series}` },
          }
        : {
            name: 'bench.requests',
            value: 1,
            metric_type: 'counter',
            component: 'api',
            tags: { route: `r${series}` },
          },
    );
  }
  return JSON.stringify({ metrics });
}

let batchN = 0;
function batchBody(): string {
  const n = ++batchN;
  const at = new Date().toISOString();
  const metrics = [];
  for (let i = 0; i < BATCH_SERIES; i++) {
    metrics.push({
      metric_name: 'bench.batch',
      metric_type: 'counter',
      component: 'api',
      tags: { route: `r${i}` },
      labels: {},
      timestamp: at,
      value: n,
      windows: [],
    });
  }
  return JSON.stringify({
    batch_id: `bench-${process.pid}-${n}`,
    sent_at: at,
    metrics,
    traces: [],
    alerts: [],
  });
}

interface Row {
  readonly mode: string;
  readonly route: string;
  readonly result: AutocannonResult;
  readonly points: number;
  readonly stored: number;
}

async function measure(dir: string, synchronous: string): Promise<Row[]> {
  const db = join(dir, `bench-${synchronous}.db`);
  const key = createKey(db);
  const server = await startServer(db, synchronous);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const rows: Row[] = [];
  try {
    const body = metricsBody();
    const metrics = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: METRICS_SECONDS,
      requests: [{ method: 'POST', path: '/api/v1/monitoring/metrics', headers, body }],
    });
    const batch = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: BATCH_SECONDS,
      requests: [
        {
          method: 'POST',
          path: '/api/v1/monitoring/batch',
          headers,
          setupRequest: (req) => ({ ...req, body: batchBody() }),
        },
      ],
    });
    await stop(server.child);
    const sqlite = new Database(db, { readonly: true });
    try {
      const updates =
        sqlite
          .prepare<[], { n: number | null }>(
            "SELECT SUM(count) AS n FROM series WHERE name LIKE 'bench.%' AND name != 'bench.batch'",
          )
          .get()!.n ?? 0;
      const batches = sqlite
        .prepare<[], { n: number }>(
          "SELECT COUNT(*) AS n FROM batches WHERE batch_id LIKE 'bench-%'",
        )
        .get()!.n;
      rows.push({
        mode: synchronous,
        route: 'POST /metrics',
        result: metrics,
        points: metrics['2xx'] * POINTS,
        stored: updates,
      });
      rows.push({
        mode: synchronous,
        route: 'POST /batch',
        result: batch,
        points: batch['2xx'] * BATCH_SERIES,
        stored: batches * BATCH_SERIES,
      });
    } finally {
      sqlite.close();
    }
  } catch (error) {
    server.child.kill('SIGKILL');
    throw error;
  }
  return rows;
}

export async function run(): Promise<void> {
  checkBuild();
  heading('Server ingest');
  const dir = mkdtempSync(join(tmpdir(), 'prsm-bench-server-'));
  try {
    const rows: Row[] = [];
    for (const mode of ['full', 'normal']) rows.push(...(await measure(dir, mode)));
    paragraph(
      `\`prsm-monitor serve\` (${CLI.replace(/.*packages/, 'packages')}, ${String(statSync(CLI).size)} bytes) on a temporary SQLite file, ` +
        `autocannon ${CONNECTIONS} connections: /metrics with ${POINTS} points per request (${SERIES} series, 1 in 5 a timer sample) for ${METRICS_SECONDS} s, ` +
        `/batch with ${BATCH_SERIES} series per batch for ${BATCH_SECONDS} s. Stored = read back from the file after a clean stop; it may exceed the acknowledged count by the requests still in flight when autocannon stopped counting (at most one per connection), which the server stored and answered. Target: ≥ ${TARGET.toLocaleString('en')} points/s, nothing lost.`,
    );
    console.log(
      table(
        [
          'synchronous',
          'route',
          'requests/s',
          'points/s',
          'p50 ms',
          'p99 ms',
          'non-2xx',
          'errors',
          'acknowledged',
          'stored',
          'lost',
          'in flight at the end',
          'target',
        ],
        rows.map((r) => {
          const perSecond = r.points / (r.result.duration || 1);
          return [
            r.mode,
            r.route,
            fixed(r.result.requests.average, 0),
            fixed(perSecond, 0),
            fixed(r.result.latency.p50, 1),
            fixed(r.result.latency.p99, 1),
            String(r.result.non2xx),
            String(r.result.errors + r.result.timeouts),
            String(r.points),
            String(r.stored),
            String(Math.max(0, r.points - r.stored)),
            String(Math.max(0, r.stored - r.points)),
            r.route === 'POST /metrics'
              ? perSecond >= TARGET && r.stored >= r.points
                ? 'met'
                : 'MISSED'
              : '-',
          ];
        }),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
