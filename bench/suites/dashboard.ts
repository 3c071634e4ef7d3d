/**
 * The web dashboard (issue 11): first meaningful paint of the overview with 10,000
 * series stored (target ≤ 1 s) and the page's JavaScript gzipped (target ≤ 150 KiB).
 *
 * A real server (the built `prsm-monitor serve`, a temporary SQLite file) gets demo
 * data through its ingest routes: 15 minutes of timer sub-windows with digests for six
 * operations, resource gauges, and 10,000 more series (half gauges, half timers). Debian's
 * Chromium (headless, through playwright-core, no browser download) opens the page in a
 * fresh context each run (no HTTP cache), already logged in: the session token a
 * `POST /dashboard/session` gave is put in sessionStorage before the page loads, so a
 * run measures the page, not typing. Before each run one gauge is stored, so the
 * server computes the series afresh (its cache is keyed by SQLite's `data_version`), as
 * on a live server.
 *
 * "Meaningful" is the later of the page's own marks `prsm:health-painted` (the health
 * score and gauges drawn) and `prsm:series-painted` (the per-component latency charts
 * drawn); `prsm:overview-painted` is every panel. Times are from navigation start.
 * The JavaScript is what the page loaded, gzipped as served (resource timing's
 * `encodedBodySize` of every script).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { bytes, fixed, heading, median, paragraph, table } from '../lib/report.js';

const PAINT_TARGET_MS = 1000;
const JS_TARGET_BYTES = 150 * 1024;
const SERIES = 10_000;
const RUNS = 7;
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const MINUTE = 60_000;

const CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));
const SRC = fileURLToPath(new URL('../../packages/server/src', import.meta.url));
const PAGE = fileURLToPath(new URL('../../packages/server/dashboard', import.meta.url));

function checkBuild(): void {
  const newer = (dir: string): number =>
    spawnSync('find', [dir, '-name', '*.ts', '-not', '-name', '*.test.ts', '-newer', CLI])
      .stdout.toString()
      .trim().length;
  if (!existsSync(CLI) || newer(SRC) > 0) {
    console.error(
      'packages/server/dist is missing or older than its src: run `npm run build -w @prsm/server`.',
    );
    process.exit(2);
  }
}

function createKey(db: string, role: string): string {
  const out = spawnSync(process.execPath, [CLI, 'keys', 'create', '--role', role, '--db', db]);
  if (out.status !== 0) throw new Error(`keys create failed: ${out.stderr.toString()}`);
  return out.stdout.toString().trim().split('\n').at(-1)!.trim();
}

function startServer(db: string): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--db', db, '--rate', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PRSM_PORT: '', PRSM_HOST: '', PRSM_DB: '' },
      },
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

async function post(api: string, key: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${api}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/** A timer sub-window of integer samples (exact in float32). */
function subWindow(start: number, values: number[]): Record<string, unknown> {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    start_time: new Date(start).toISOString(),
    seconds: 60,
    partial: false,
    count: sorted.length,
    sum: sorted.reduce((a, b) => a + b, 0),
    min: sorted[0],
    max: sorted.at(-1),
    error_count: 0,
    centroids: Buffer.from(new Float32Array(sorted.flatMap((v) => [v, 1])).buffer).toString(
      'base64',
    ),
  };
}

async function seed(api: string, ingest: string): Promise<void> {
  const now = Date.now();
  const minute = Math.floor(now / MINUTE) * MINUTE;
  const metrics = [];
  let k = 1;
  for (const component of ['marketplace', 'recommendation', 'api_gateway']) {
    for (const op of ['read', 'write']) {
      const windows = [];
      for (let m = 14; m >= 0; m -= 1) {
        const values = Array.from({ length: 30 }, (_, i) => 10 + ((i * 37 + m * 11 + k) % 200));
        windows.push(subWindow(minute - m * MINUTE, values));
      }
      k += 1;
      metrics.push({
        metric_name: 'operation.duration',
        component,
        tags: { operation: `${component}_${op}` },
        labels: {},
        timestamp: new Date(now).toISOString(),
        metric_type: 'timer',
        value: 100,
        unit: 'ms',
        count: 450,
        sum: 45_000,
        windows: [],
        sub_windows: windows,
      });
    }
  }
  await post(api, ingest, '/batch', {
    batch_id: `bench-${now}`,
    sent_at: new Date(now).toISOString(),
    metrics,
    traces: [],
    alerts: [],
  });
  const gauge = (name: string, value: number): Record<string, unknown> => ({
    name,
    value,
    metric_type: 'gauge',
    component: 'system',
  });
  await post(api, ingest, '/metrics', {
    metrics: [gauge('cpu_usage', 0.45), gauge('memory_usage', 0.68), gauge('disk_usage', 0.24)],
  });
  for (let i = 0; i < SERIES; i += 1000) {
    await post(api, ingest, '/metrics', {
      metrics: Array.from({ length: 1000 }, (_, j) => {
        const n = i + j;
        return n % 2 === 0
          ? {
              name: 'demo.queue_depth',
              value: n % 97,
              metric_type: 'gauge',
              component: 'workers',
              tags: { worker: `w${n}` },
            }
          : {
              name: 'demo.job.duration',
              value: 5 + (n % 113),
              metric_type: 'timer',
              component: 'workers',
              tags: { worker: `w${n}` },
            };
      }),
    });
  }
}

/** Evaluated in the page (a string: the bench is compiled without the DOM's types). */
const MEASURE = `(() => {
  const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN;
  const scripts = performance
    .getEntriesByType('resource')
    .filter((r) => r.initiatorType === 'script' || new URL(r.name).pathname.endsWith('.js'))
    .reduce((sum, r) => sum + r.encodedBodySize, 0);
  const health = at('prsm:health-painted');
  const series = at('prsm:series-painted');
  return {
    fcp: at('first-contentful-paint'),
    health,
    series,
    meaningful: Math.max(health, series),
    overview: at('prsm:overview-painted'),
    scriptBytes: scripts,
  };
})()`;

interface Run {
  readonly fcp: number;
  readonly health: number;
  readonly series: number;
  readonly meaningful: number;
  readonly overview: number;
  readonly scriptBytes: number;
}

export async function run(): Promise<void> {
  heading('Dashboard');
  checkBuild();
  if (!existsSync(CHROMIUM)) {
    paragraph(`Skipped: ${CHROMIUM} is missing (apt-get install chromium).`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'prsm-bench-dashboard-'));
  const db = join(dir, 'monitor.db');
  const admin = createKey(db, 'admin');
  const ingest = createKey(db, 'ingest');
  const server = await startServer(db);
  const api = `${server.url}/api/v1/monitoring`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    const t0 = performance.now();
    await seed(api, ingest);
    const seeded = performance.now() - t0;
    const stored = (await (
      await fetch(`${api}/dashboard/series?window=15m&component=workers`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as { series_stored: number };

    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      // Something new stored: the server's series cache cannot answer.
      await post(api, ingest, '/metrics', {
        name: 'cpu_usage',
        value: 0.4 + i / 100,
        metric_type: 'gauge',
        component: 'system',
      });
      const login = (await post(api, '', '/dashboard/session', { key: admin })) as {
        session: string;
      };
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      // sessionStorage before the page's scripts run: the page starts logged in.
      await context.addInitScript(
        `sessionStorage.setItem('prsm.session', ${JSON.stringify(login.session)});`,
      );
      const page = await context.newPage();
      await page.goto(server.url);
      await page.waitForSelector('body[data-loaded="1"]', { timeout: 30_000 });
      runs.push(await page.evaluate<Run>(MEASURE));
      await context.close();
    }

    const col = (f: (r: Run) => number): number[] => runs.map(f);
    const worst = (xs: number[]): number => Math.max(...xs);
    const meaningful = col((r) => r.meaningful);
    const js = runs[0]!.scriptBytes;
    paragraph(
      `${stored.series_stored} series stored (seeded in ${fixed(seeded / 1000, 1)} s); ${RUNS} runs, each a fresh ` +
        `browser context (no HTTP cache) and a server answer computed afresh. Static files from ${PAGE}. ` +
        'Shared 2-core machine: numbers are noisy.',
    );
    console.log(
      table(
        ['measure (ms from navigation start)', 'median', 'worst', 'first run'],
        [
          ['first contentful paint', col((r) => r.fcp)],
          ['health score and gauges drawn', col((r) => r.health)],
          ['latency charts drawn', col((r) => r.series)],
          ['first meaningful paint (both)', meaningful],
          ['every panel painted', col((r) => r.overview)],
        ].map(([name, xs]) => {
          const v = xs as number[];
          return [name as string, fixed(median(v), 0), fixed(worst(v), 0), fixed(v[0]!, 0)];
        }),
      ),
    );
    console.log();
    console.log(
      table(
        ['target', 'measured', 'limit', 'met'],
        [
          [
            'first meaningful paint, median',
            `${fixed(median(meaningful), 0)} ms`,
            `${PAINT_TARGET_MS} ms`,
            median(meaningful) <= PAINT_TARGET_MS ? 'yes' : 'NO',
          ],
          [
            'first meaningful paint, worst',
            `${fixed(worst(meaningful), 0)} ms`,
            `${PAINT_TARGET_MS} ms`,
            worst(meaningful) <= PAINT_TARGET_MS ? 'yes' : 'NO',
          ],
          [
            'JavaScript, gzipped',
            bytes(js),
            bytes(JS_TARGET_BYTES),
            js > 0 && js <= JS_TARGET_BYTES ? 'yes' : 'NO',
          ],
        ],
      ),
    );
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
