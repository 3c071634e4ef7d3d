/**
 * Many services, one server (issue 13, point 4): `prsm-monitor serve` (the built
 * bundle, packages/server/dist/cli.js, default `--synchronous full`, no rate limit) on
 * a temporary SQLite file, and 50 simulated service instances exporting to it for 60 s:
 * each instance is a real `Monitor` with its own `restExporter` (its own
 * `source.instance_id`, one `service.name` for all), run 10 to a forked child process
 * so the server process is measured alone. Each instance records timer samples (a
 * log-normal latency whose median differs per instance) and counter increments over
 * 20 routes of the component `api`, and exports every second with 5-second
 * sub-windows (60 times the default export rate: 50 instances here send the requests
 * of 3,000 at the defaults). At the end each monitor shuts down (its last export
 * carries the open sub-window).
 *
 * Reported: requests/s and points/s (series in acknowledged batches) and samples/s
 * accepted; the server's CPU (utime + stime from /proc/<pid>/stat over the run, as a
 * share of one core) and memory (RSS sampled every 500 ms, and the kernel's peak
 * VmHWM); nothing lost: the timer samples and counter increments stored (read from
 * the file after the server stopped) against those recorded, and the batches the
 * server answered 200 (its key-use audit) against those the exporters saw
 * acknowledged (an attempt an exporter timed out on may be answered 200 later and its
 * retry 200 again as a duplicate: at most the failed attempts more); the exporters'
 * drops by reason; the fleet p99 from `GET /analytics?component=api` (the instances'
 * digests merged by the server) against the exact p99 of every value recorded. The
 * CPU of the instance processes is reported beside the server's: on a small machine
 * the load generator competes with the server for the same cores.
 *
 * Environment: `PRSM_BENCH_FLEET_SECONDS` (default 60), `PRSM_BENCH_FLEET_INSTANCES`
 * (50), `PRSM_BENCH_FLEET_CHILDREN` (5), `PRSM_BENCH_FLEET_RATE` (samples per second
 * per instance, 200), `PRSM_BENCH_FLEET_EXPORT_SECONDS` (1), `PRSM_BENCH_FLEET_ROUTES`
 * (routes per instance, each a timer and a counter series: 20),
 * `PRSM_BENCH_FLEET_SYNCHRONOUS` (`full`, or `normal`).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { Monitor, type ExportItem, type Exporter } from '@prsm/core';
import { restExporter } from '@prsm/exporters/rest';

import { bytes, fixed, heading, nearestRankSorted, paragraph, table } from '../lib/report.js';

const COMPONENT = 'api';
const SERVICE = 'checkout';
const TICK_MS = 20;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number, got '${raw}'`);
    process.exit(2);
  }
  return value;
}

const SECONDS = envNumber('PRSM_BENCH_FLEET_SECONDS', 60);
const INSTANCES = Math.round(envNumber('PRSM_BENCH_FLEET_INSTANCES', 50));
const CHILDREN = Math.min(INSTANCES, Math.round(envNumber('PRSM_BENCH_FLEET_CHILDREN', 5)));
const RATE = envNumber('PRSM_BENCH_FLEET_RATE', 200);
const EXPORT_SECONDS = envNumber('PRSM_BENCH_FLEET_EXPORT_SECONDS', 1);
const ROUTES = Math.round(envNumber('PRSM_BENCH_FLEET_ROUTES', 20));
const SYNCHRONOUS = process.env['PRSM_BENCH_FLEET_SYNCHRONOUS'] === 'normal' ? 'normal' : 'full';

const CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));
const SRC = fileURLToPath(new URL('../../packages/server/src', import.meta.url));

/** What a child tells the parent at the end. */
interface ChildReport {
  readonly samples: number;
  readonly increments: number;
  /** Batches the exporters saw acknowledged (2xx), and the series items in them. */
  readonly acknowledged: number;
  readonly points: number;
  readonly failedAttempts: number;
  /** CPU seconds the child used (user + system) from the start to its report. */
  readonly cpuSeconds: number;
  readonly dropped: number;
  /** Of them: queue full, failed after every attempt, left at shutdown. */
  readonly droppedBy: readonly [number, number, number];
  readonly valuesFile: string;
}

interface ChildStart {
  readonly url: string;
  readonly key: string;
  readonly first: number;
  readonly count: number;
  readonly valuesFile: string;
}

// ---- the child: INSTANCES / CHILDREN monitors ------------------------------------

/** An exporter that counts what the server acknowledged before handing it back. */
function counting(
  inner: Exporter<ExportItem>,
  tally: { acknowledged: number; points: number; failedAttempts: number },
): Exporter<ExportItem> {
  return {
    ...inner,
    async export(batch, signal) {
      const result = await inner.export(batch, signal);
      if (result.ok) {
        tally.acknowledged++;
        for (const item of batch.items) if (item.kind === 'series') tally.points++;
      } else {
        tally.failedAttempts++;
      }
      return result;
    },
  };
}

async function child(): Promise<void> {
  const started = new Promise<ChildStart>((resolve) =>
    process.once('message', (m) => resolve(m as ChildStart)),
  );
  process.send!({ ready: true });
  const start = await started;
  const tally = { acknowledged: 0, points: 0, failedAttempts: 0 };
  const instances = Array.from({ length: start.count }, (_, k) => {
    const index = start.first + k;
    const monitor = new Monitor({
      serviceName: SERVICE,
      windows: [60],
      subWindowSeconds: 5,
      exportIntervalSeconds: EXPORT_SECONDS,
      health: { resources: false },
      alerting: { evaluationIntervalSeconds: 0 },
      exporters: [counting(restExporter({ url: start.url, apiKey: start.key }), tally)],
    });
    const timers = Array.from({ length: ROUTES }, (_, r) =>
      monitor.timer('http.duration', { component: COMPONENT }).bind({ route: `/r${r}` }),
    );
    const counters = Array.from({ length: ROUTES }, (_, r) =>
      monitor.counter('http.requests', { component: COMPONENT }).bind({ route: `/r${r}` }),
    );
    // A seeded LCG: each instance its own stream and its own median (15..64 ms).
    let x = 12345 + index * 7919;
    const uniform = (): number => {
      x = (x * 1664525 + 1013904223) % 4294967296;
      return (x + 0.5) / 4294967296;
    };
    const median = 15 + (index % 50);
    return { monitor, timers, counters, uniform, median, next: 0 };
  });
  const capacity = Math.ceil(RATE * (SECONDS + 5)) * start.count;
  let values = new Float64Array(capacity);
  let n = 0;
  let increments = 0;
  const perTick = (RATE * TICK_MS) / 1000;
  let owed = 0;
  const began = Date.now();
  const cpuBefore = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      // Catch up on late ticks so the rate holds under a loaded machine.
      const due = Math.floor(((Date.now() - began) / TICK_MS) * perTick) - owed;
      if (due > 0) {
        owed += due;
        for (const inst of instances) {
          for (let i = 0; i < due; i++) {
            const z =
              Math.sqrt(-2 * Math.log(inst.uniform())) * Math.cos(2 * Math.PI * inst.uniform());
            const ms = inst.median * Math.exp(0.5 * z);
            const r = inst.next++ % ROUTES;
            inst.timers[r]!.record(ms);
            inst.counters[r]!.inc();
            if (n === values.length) {
              const grown = new Float64Array(values.length * 2);
              grown.set(values);
              values = grown;
            }
            values[n++] = ms;
            increments++;
          }
        }
      }
      if (Date.now() - began >= SECONDS * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(instances.map((i) => i.monitor.shutdown()));
  let dropped = 0;
  const droppedBy: [number, number, number] = [0, 0, 0];
  for (const inst of instances) {
    for (const s of inst.monitor.exportStats()) {
      dropped += s.dropped.queueFull + s.dropped.failed + s.dropped.shutdown;
      droppedBy[0] += s.dropped.queueFull;
      droppedBy[1] += s.dropped.failed;
      droppedBy[2] += s.dropped.shutdown;
    }
  }
  writeFileSync(start.valuesFile, Buffer.from(values.buffer, 0, n * 8));
  const report: ChildReport = {
    samples: n,
    increments,
    ...tally,
    dropped,
    droppedBy,
    valuesFile: start.valuesFile,
    cpuSeconds: ((u) => (u.user + u.system) / 1e6)(process.cpuUsage(cpuBefore)),
  };
  await new Promise<void>((resolve) => process.send!({ report }, undefined, {}, () => resolve()));
  process.disconnect();
}

// ---- the parent: the server and the measurements -----------------------------------

function checkBuild(): void {
  const newer = spawnSync('find', [
    SRC,
    '-name',
    '*.ts',
    '-not',
    '-name',
    '*.test.ts',
    '-newer',
    CLI,
  ]);
  if (!existsSync(CLI) || newer.stdout.toString().trim().length > 0) {
    console.error(
      'packages/server/dist is missing or older than its src: run `npm run build -w @prsm/server`.',
    );
    process.exit(2);
  }
}

function createKey(db: string, role: string): string {
  const out = spawnSync(process.execPath, [CLI, 'keys', 'create', '--role', role, '--db', db]);
  if (out.status !== 0) throw new Error(`keys create failed: ${out.stderr.toString()}`);
  const lines = out.stdout.toString().trim().split('\n');
  return lines[lines.length - 1]!.trim();
}

function startServer(db: string): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--db', db, '--rate', '0', '--synchronous', SYNCHRONOUS],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
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

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const TICKS_PER_SECOND = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK']);
  const n = Number(out.stdout?.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

interface Analytics {
  readonly latency_percentiles: { count: number; p50: number | null; p99: number | null };
  readonly summary: { total_requests: number };
}

export async function run(): Promise<void> {
  heading(`Fleet: ${INSTANCES} service instances exporting to one server for ${SECONDS} s`);
  checkBuild();
  const dir = mkdtempSync(join(tmpdir(), 'prsm-bench-fleet-'));
  try {
    const db = join(dir, 'fleet.db');
    const ingestKey = createKey(db, 'ingest');
    const readKey = createKey(db, 'read');
    const server = await startServer(db);
    const pid = server.child.pid!;
    try {
      const children = Array.from({ length: CHILDREN }, (_, c) => {
        const first = Math.floor((c * INSTANCES) / CHILDREN);
        const count = Math.floor(((c + 1) * INSTANCES) / CHILDREN) - first;
        const proc = fork(fileURLToPath(import.meta.url), [], {
          env: { ...process.env, PRSM_BENCH_FLEET_CHILD: '1' },
        });
        let onReady: () => void = () => undefined;
        const ready = new Promise<void>((resolve) => (onReady = resolve));
        const done = new Promise<ChildReport>((resolve, reject) => {
          proc.on('message', (m: { report?: ChildReport; ready?: boolean }) => {
            if (m.ready === true) onReady();
            if (m.report !== undefined) resolve(m.report);
          });
          proc.once('exit', (code) => {
            if (code !== 0) reject(new Error(`instance child ${c} exited with ${String(code)}`));
          });
        });
        return { proc, first, count, ready, done, valuesFile: join(dir, `values-${c}.f64`) };
      });
      // Loaded (module compiled, packages imported) before the clock starts.
      await Promise.race([
        Promise.all(children.map((c) => c.ready)),
        Promise.all(children.map((c) => c.done)),
      ]);
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      let rssMax = memory(pid).rss;
      const rssStart = rssMax;
      const sampler = setInterval(() => {
        try {
          rssMax = Math.max(rssMax, memory(pid).rss);
        } catch {
          // The server exited: the run fails below.
        }
      }, 500);
      for (const c of children) {
        const start: ChildStart = {
          url: server.url,
          key: ingestKey,
          first: c.first,
          count: c.count,
          valuesFile: c.valuesFile,
        };
        c.proc.send(start);
      }
      const reports = await Promise.all(children.map((c) => c.done));
      const wall = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      const cpu = cpuSeconds(pid) - cpu0;
      const mem = memory(pid);
      rssMax = Math.max(rssMax, mem.rss);

      // The fleet p99 as the server computes it, against the exact one.
      const response = await fetch(
        `${server.url}/api/v1/monitoring/analytics?component=${COMPONENT}&window=15m`,
        { headers: { authorization: `Bearer ${readKey}` } },
      );
      if (response.status !== 200) throw new Error(`GET /analytics: ${response.status}`);
      const analytics = (await response.json()) as Analytics;
      const service = (await (
        await fetch(
          `${server.url}/api/v1/monitoring/analytics?component=${COMPONENT}&service=${SERVICE}&window=15m`,
          { headers: { authorization: `Bearer ${readKey}` } },
        )
      ).json()) as Analytics;
      const sent = reports.reduce((s, r) => s + r.samples, 0);
      const all = new Float64Array(sent);
      let at = 0;
      for (const r of reports) {
        const buf = readFileSync(r.valuesFile);
        const part = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
        all.set(part, at);
        at += part.length;
      }
      all.sort();
      const exactP50 = nearestRankSorted(all, 0.5);
      const exactP99 = nearestRankSorted(all, 0.99);
      await stop(server.child);

      // What the file holds, after a clean stop.
      const sqlite = new Database(db, { readonly: true });
      let storedSamples: number;
      let storedIncrements: number;
      let served200: number;
      let servedOther: number;
      try {
        storedSamples =
          sqlite
            .prepare<[string], { n: number | null }>(
              `SELECT SUM(p.count) AS n FROM points p JOIN series s ON s.id = p.series_id
             WHERE s.component = ? AND s.metric_type = 'timer'`,
            )
            .get(COMPONENT)!.n ?? 0;
        storedIncrements =
          sqlite
            .prepare<[string], { n: number | null }>(
              `SELECT SUM(value) AS n FROM series WHERE component = ? AND metric_type = 'counter'`,
            )
            .get(COMPONENT)!.n ?? 0;
        const uses = sqlite
          .prepare<[], { status: number; n: number }>(
            `SELECT status, SUM(count) AS n FROM key_use WHERE route LIKE '%/batch' GROUP BY status`,
          )
          .all();
        served200 = uses.filter((u) => u.status === 200).reduce((s, u) => s + u.n, 0);
        servedOther = uses.filter((u) => u.status !== 200).reduce((s, u) => s + u.n, 0);
      } finally {
        sqlite.close();
      }
      const fileSize =
        statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);

      const acknowledged = reports.reduce((s, r) => s + r.acknowledged, 0);
      const points = reports.reduce((s, r) => s + r.points, 0);
      const increments = reports.reduce((s, r) => s + r.increments, 0);
      const failed = reports.reduce((s, r) => s + r.failedAttempts, 0);
      const childCpu = reports.reduce((s, r) => s + r.cpuSeconds, 0);
      // An attempt the exporter gave up on (its timeout) may still be stored and answered
      // 200 later; its retry carries the same batch id and is answered 200 as a duplicate.
      const batchesAgree = served200 >= acknowledged && served200 <= acknowledged + failed;
      const dropped = reports.reduce((s, r) => s + r.dropped, 0);
      const p99 = analytics.latency_percentiles.p99 ?? Number.NaN;
      const p50 = analytics.latency_percentiles.p50 ?? Number.NaN;
      const servicePercentiles = service.latency_percentiles;

      paragraph(
        `${INSTANCES} instances (${CHILDREN} child processes), ${ROUTES} timer and ${ROUTES} counter series each, ` +
          `${RATE} samples/s per instance, export every ${EXPORT_SECONDS} s with 5 s sub-windows; ` +
          `server: built bundle, \`--synchronous ${SYNCHRONOUS}\`, no rate limit. ` +
          `Wall time ${fixed(wall, 1)} s (the run plus the monitors' final flush). ` +
          `Measured on a 2-core machine shared with other work: timings are noisy.`,
      );
      console.log(
        table(
          ['measure', 'value'],
          [
            ['requests accepted (exporters, 2xx)', String(acknowledged)],
            ['requests/s accepted', fixed(acknowledged / wall, 1)],
            ['points (series in acknowledged batches)', String(points)],
            ['points/s accepted', fixed(points / wall, 0)],
            ['timer samples/s recorded and stored', fixed(storedSamples / wall, 0)],
            [
              'server CPU (utime + stime)',
              `${fixed(cpu, 2)} s = ${fixed((cpu / wall) * 100, 1)}% of one core`,
            ],
            [
              'server RSS at start / max sampled / at end',
              `${bytes(rssStart)} / ${bytes(rssMax)} / ${bytes(mem.rss)}`,
            ],
            ['server peak RSS (VmHWM)', bytes(mem.peak)],
            ['SQLite file + WAL after the run', bytes(fileSize)],
            [
              'instance processes CPU (all children)',
              `${fixed(childCpu, 2)} s = ${fixed((childCpu / wall) * 100, 1)}% of one core`,
            ],
          ],
        ),
      );
      console.log('');
      const same = (a: number, b: number): string => (a === b ? 'yes' : `NO (${a - b})`);
      console.log(
        table(
          ['nothing lost', 'sent', 'stored / served', 'equal'],
          [
            ['timer samples', String(sent), String(storedSamples), same(storedSamples, sent)],
            [
              'counter increments',
              String(increments),
              String(storedIncrements),
              same(storedIncrements, increments),
            ],
            [
              'batches: acknowledged vs 200 in the audit (+ late 200s to timed-out attempts)',
              String(acknowledged),
              String(served200),
              batchesAgree
                ? served200 === acknowledged
                  ? 'yes'
                  : `yes (+${served200 - acknowledged})`
                : 'NO',
            ],
            [
              'samples in GET /analytics (15m)',
              String(sent),
              String(analytics.latency_percentiles.count),
              same(analytics.latency_percentiles.count, sent),
            ],
            ['failed attempts / non-200 answers', String(failed), String(servedOther), ''],
            [
              'items dropped by the exporters (queue full / failed / at shutdown)',
              String(dropped),
              [0, 1, 2].map((k) => reports.reduce((s, r) => s + r.droppedBy[k]!, 0)).join(' / '),
              dropped === 0 ? 'yes' : 'NO',
            ],
          ],
        ),
      );
      console.log('');
      console.log(
        table(
          ['fleet percentile (ms)', 'server (merged digests)', 'exact (every value sent)', 'error'],
          [
            [
              'p50',
              fixed(p50, 3),
              fixed(exactP50, 3),
              `${fixed((Math.abs(p50 - exactP50) / exactP50) * 100, 3)}%`,
            ],
            [
              'p99',
              fixed(p99, 3),
              fixed(exactP99, 3),
              `${fixed((Math.abs(p99 - exactP99) / exactP99) * 100, 3)}%`,
            ],
            [
              `p99, ?service=${SERVICE}`,
              fixed(servicePercentiles.p99 ?? Number.NaN, 3),
              fixed(exactP99, 3),
              `${fixed((Math.abs((servicePercentiles.p99 ?? Number.NaN) - exactP99) / exactP99) * 100, 3)}%`,
            ],
          ],
        ),
      );
      const lost = storedSamples !== sent || storedIncrements !== increments || !batchesAgree;
      const error = Math.abs(p99 - exactP99) / exactP99;
      paragraph(
        `\nTargets: nothing lost: ${lost || dropped > 0 ? 'MISSED' : 'met'}; fleet p99 error ≤ 1%: ${error <= 0.01 ? 'met' : 'MISSED'} (${fixed(error * 100, 3)}%).`,
      );
      if (lost || dropped > 0 || !(error <= 0.01)) process.exitCode = 1;
    } finally {
      await stop(server.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env['PRSM_BENCH_FLEET_CHILD'] === '1') await child();
