/**
 * HTTP middleware overhead counted in CPU instructions, not time: each variant of the
 * `http` suite's hello-world server runs under Valgrind's Cachegrind (no cache
 * simulation), answers N requests, and is stopped; the instructions of two runs, N1 and
 * N2 requests, differ by what N2 − N1 requests cost once the process is warm (start-up,
 * module loading and JIT warm-up are in both). The count does not move with a shared
 * machine's speed, which moved the `http` suite's bare rounds by 2× from one minute to
 * the next: it tells a change of a few percent apart where requests/s cannot.
 * Instructions are not time (a cache miss or a syscall costs more than its count), so
 * the `http` suite's requests/s stay the target's measure. The servers' Monitors run
 * without periodic work (`PRSM_HTTP_BENCH_PERIODIC=0`: no resource sampling, no alert
 * evaluation): under Cachegrind a request takes milliseconds, and the alert
 * evaluations alone weighed about 15,000 instructions per Express request (590,044
 * with them, 574,897 without, in a probe with N2 − N1 = 6,000). The bare apps count
 * the same from run to run (within 0.06%); a variant with the Monitor does not: three
 * runs of `express prsm` counted 556,041, 578,985 and 596,498 per request
 * (N2 − N1 = 12,000), so a change of a few thousand instructions there needs several
 * runs. Knob `REPEAT` (default 1): runs per variant; the median is reported beside each
 * run's count.
 *
 * `node --import tsx bench/http-instructions.ts [variant,...]` (default
 * `express bare,express empty middleware,express prsm,fastify bare,fastify empty onRequest hook,fastify prsm`),
 * with `valgrind` on the PATH (Debian: `apt-get install valgrind`). Knobs: `N1`, `N2`
 * (default 10000 and 20000: V8 has stopped optimizing by 10,000 requests of these
 * servers). Node runs with `--single-threaded` (no background compiler or GC threads,
 * whose work Valgrind would count at random points). About 2.5 minutes per variant
 * and N here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Agent, get } from 'node:http';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./suites/http.ts', import.meta.url));
const N1 = Number(process.env['N1'] ?? 10_000);
const N2 = Number(process.env['N2'] ?? 20_000);
const REPEAT = Number(process.env['REPEAT'] ?? 1);
const CONNECTIONS = 4;
const DEFAULT_VARIANTS = [
  'express bare',
  'express empty middleware',
  'express prsm',
  'fastify bare',
  'fastify empty onRequest hook',
  'fastify prsm',
];

/** Sends `total` GET / requests over `CONNECTIONS` keep-alive connections. */
async function drive(port: number, total: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (sent < total) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
}

/** Instructions of one server process that answered `requests` requests. */
async function instructions(variant: string, requests: number): Promise<number> {
  const child = spawn(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      // V8 writes code at run time: have Valgrind see it.
      '--smc-check=all-non-file',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      '--import',
      'tsx',
      SERVER,
    ],
    {
      env: { ...process.env, PRSM_HTTP_BENCH_SERVER: variant, PRSM_HTTP_BENCH_PERIODIC: '0' },
      stdio: 'pipe',
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', () => reject(new Error(`${variant}: server exited\n${stderr}`)));
  });
  await drive(port, requests);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
  const match = /I\s+refs:\s+([\d,]+)/.exec(stderr);
  if (match === null) throw new Error(`${variant}: no instruction count\n${stderr}`);
  return Number(match[1]!.replaceAll(',', ''));
}

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    throw new Error('valgrind is not installed (Debian: apt-get install valgrind)');
  }
  if (!Number.isInteger(REPEAT) || REPEAT < 1) {
    throw new TypeError(`REPEAT must be a whole number of runs, 1 or more; got ${REPEAT}`);
  }
  if (!Number.isInteger(N1) || N1 < 1 || !Number.isInteger(N2) || N2 <= N1) {
    throw new TypeError(`N1 and N2 must be whole numbers with 0 < N1 < N2; got ${N1}, ${N2}`);
  }
  const variants = process.argv[2]?.split(',') ?? DEFAULT_VARIANTS;
  const perRequest = new Map<string, number>();
  const count = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`| variant | instructions per request (median) | of ${REPEAT} runs | ÷ bare |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const variant of variants) {
    const runs: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      const a = await instructions(variant, N1);
      const b = await instructions(variant, N2);
      runs.push((b - a) / (N2 - N1));
    }
    runs.sort((x, y) => x - y);
    const each = runs[Math.floor(runs.length / 2)]!;
    perRequest.set(variant, each);
    const bare = perRequest.get(`${variant.split(' ')[0]} bare`);
    const ratio = bare === undefined ? '' : (each / bare).toFixed(3);
    console.log(`| ${variant} | ${count(each)} | ${runs.map(count).join(', ')} | ${ratio} |`);
  }
}

await main();
