/**
 * HTTP middleware overhead (issue 8): a hello-world route served by a real Express 5
 * and Fastify 5 process, driven by autocannon 8 from this process, in one run:
 *
 * - `bare`: the app alone;
 * - `empty middleware` / `empty onRequest hook`: the app with a middleware (a hook)
 *   that does nothing: the floor any instrumentation in that place starts from;
 * - `channels + N instruments` and `hooks + 3 instruments` (Fastify): the least a
 *   recording of every request can do, as a floor for ours: a `Monitor` (the built core
 *   bundle) with one bound timer, counter and histogram, which every request feeds once
 *   each (its duration, a count, its response's `Content-Length`), the request's start
 *   kept on its response (under a symbol) by a subscriber of Node's
 *   `http.server.request.start` channel and read by one of
 *   `http.server.response.finish`, or kept on Fastify's request (`decorateRequest`) by
 *   an `onRequest` hook and read by an `onResponse` hook (the length from the reply).
 *   Fastify hands its headers straight to `writeHead`, where the channels' response
 *   does not keep them: its channels floor records two instruments, no length. No
 *   route, method or status (one series, no lookup), no body size of the request, no
 *   security signals, no byte count of streamed responses, no aborted requests;
 * - `prsm`: `@prsm/express` / `@prsm/fastify` (built bundles) recording into a
 *   `Monitor` (metrics; no tracer provider, so no spans);
 * - `prsm (unshaped)` (Express): the same with `shapeRequests: false`: Express's
 *   requests keep the V8 maps of their own that Express gives them (see
 *   `@prsm/express`'s `shapeRequests`), as before that option;
 * - `prsm (no monitor)` (Express): the middleware with no monitor (the global one, a
 *   no-op): it shapes and follows the requests and records nothing, the base to read
 *   the recording's own cost from;
 * - `prsm + spans`: the same with `new Monitor({ tracing: true })`: a SERVER span per
 *   request into the monitor's trace store;
 * - `otel` (Express only): OpenTelemetry's `instrumentation-http` +
 *   `instrumentation-express` under the Node SDK's `NodeTracerProvider` with a batch
 *   processor (spans discarded by the exporter).
 *
 * Each variant is its own server process (instrumentations patch modules at load),
 * started fresh, warmed up, then measured; the variants are interleaved over several
 * rounds (every other one in reverse order) and the median requests/s of each is
 * reported with its ratio to `bare`'s, and with the median of its rounds' ratios to
 * `bare` in the same round (paired). Target: `prsm` ≥ 95% of `bare` for both
 * frameworks, by both ratios. Knobs (environment):
 * `PRSM_HTTP_BENCH_SECONDS` (default 5), `PRSM_HTTP_BENCH_ROUNDS` (default 5),
 * `PRSM_HTTP_BENCH_CONNECTIONS` (default 32), `PRSM_HTTP_BENCH_ONLY` (comma-separated
 * names of the variants to run, e.g. `fastify bare,fastify prsm`; each framework's
 * `bare` is always run, for the ratios), `PRSM_HTTP_BENCH_PIN` (default 1: on
 * Linux with `taskset` and two CPUs or more, the server runs on CPU 1 and this process,
 * the load generator, on CPU 0, so neither takes the other's core; 0 leaves placement
 * to the scheduler), `PRSM_HTTP_BENCH_SIDE_BY_SIDE` (default 1: then each variant is also
 * measured beside its bare app, both servers at once on one core; 0: not) and
 * `PRSM_HTTP_BENCH_SEQUENTIAL` (default 1; 0 skips the rounds one variant at a time).
 * A server started with `PRSM_HTTP_BENCH_PERIODIC=0` (`bench/http-instructions.ts`
 * starts them so) runs its `Monitor` without periodic work: no resource sampling
 * (`health: { resources: false }`) and no alert evaluation.
 *
 * Side by side: the rounds one variant at a time compare moments seconds apart, and this
 * machine's speed moved by 2× between them; two servers sharing one core at once see
 * the same machine, and while both always have work queued their requests/s ratio is
 * the ratio of their costs per request. A bare app beside another is the control. Fastify
 * servers, whose 32 queued requests are well under a millisecond of work, do not keep
 * the core busy each on its own, and their pairs measure the scheduler more than their
 * costs (a variant beside bare can land above 100%); the target stays with the rounds
 * one at a time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { fixed, heading, median, paragraph, table } from '../lib/report.js';

const SERVER_ENV = 'PRSM_HTTP_BENCH_SERVER';
const SECONDS = Number(process.env['PRSM_HTTP_BENCH_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['PRSM_HTTP_BENCH_ROUNDS'] ?? 5);
const CONNECTIONS = Number(process.env['PRSM_HTTP_BENCH_CONNECTIONS'] ?? 32);
const WARMUP_SECONDS = 2;
/** Whether the side-by-side rounds run too (`PRSM_HTTP_BENCH_SIDE_BY_SIDE=0`: not). */
const SIDE_BY_SIDE = process.env['PRSM_HTTP_BENCH_SIDE_BY_SIDE'] !== '0';
/** Whether the rounds one variant at a time run (`PRSM_HTTP_BENCH_SEQUENTIAL=0`: not). */
const SEQUENTIAL = process.env['PRSM_HTTP_BENCH_SEQUENTIAL'] !== '0';
/** The share of one core two servers side by side use between them when they, not the load generator, limit. */
const SATURATED = 0.9;
const TARGET = 0.95;

/**
 * Whether the server and the load generator are pinned to CPUs of their own: on by
 * default where `taskset` runs and there are two CPUs or more. On a 2-core machine the
 * scheduler otherwise moves them onto one core now and then, and the bare apps' rounds
 * spread over 20% and more.
 */
function pinning(): boolean {
  if (process.env['PRSM_HTTP_BENCH_PIN'] === '0') return false;
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  return spawnSync('taskset', ['-p', String(process.pid)]).status === 0;
}
const PIN = pinning();

const VARIANTS = {
  'express bare': { framework: 'express', kind: 'bare' },
  'express empty middleware': { framework: 'express', kind: 'empty' },
  'express channels + 3 instruments': { framework: 'express', kind: 'floor' },
  'express prsm': { framework: 'express', kind: 'prsm' },
  'express prsm (unshaped)': { framework: 'express', kind: 'prsm-unshaped' },
  'express prsm (no monitor)': { framework: 'express', kind: 'prsm-nomonitor' },
  'express prsm + spans': { framework: 'express', kind: 'prsm-spans' },
  'express otel': { framework: 'express', kind: 'otel' },
  'fastify bare': { framework: 'fastify', kind: 'bare' },
  'fastify empty onRequest hook': { framework: 'fastify', kind: 'empty' },
  'fastify channels + 2 instruments': { framework: 'fastify', kind: 'floor' },
  'fastify hooks + 3 instruments': { framework: 'fastify', kind: 'floor-hooks' },
  'fastify prsm': { framework: 'fastify', kind: 'prsm' },
  'fastify prsm + spans': { framework: 'fastify', kind: 'prsm-spans' },
} as const;
type VariantName = keyof typeof VARIANTS;

const require = createRequire(import.meta.url);

// The modules are loaded untyped by specifier: the bench project does not reference
// these packages, and the instrumented variant must `require` them after patching.
type Handler = (...args: never[]) => unknown;
interface ExpressApp {
  use(handler: unknown): void;
  get(path: string, handler: (req: unknown, res: { send(body: string): void }) => void): void;
  listen(port: number, host: string, callback: () => void): { address(): unknown };
}
interface FastifyApp {
  register(plugin: unknown, options: unknown): Promise<unknown>;
  addHook(
    name: 'onRequest' | 'onResponse',
    hook: (request: FloorRequest, reply: FloorReply, done: () => void) => void,
  ): void;
  decorateRequest(name: string, value: number): void;
  get(path: string, handler: () => string): void;
  listen(options: { port: number; host: string }): Promise<string>;
}
interface MonitorLike {
  readonly enabled: boolean;
}
/** What the floor variants use of the core. */
interface FloorMonitor extends MonitorLike {
  timer(name: string, options: unknown): { bind(tags: unknown): { record(ms: number): void } };
  counter(name: string, options: unknown): { bind(tags: unknown): { inc(): void } };
  histogram(name: string, options: unknown): { bind(tags: unknown): { record(n: number): void } };
}
interface FloorResponse {
  getHeader(name: string): unknown;
}
/** Fastify's request and reply as the hooks floor sees them. */
interface FloorRequest {
  prsmStart: number;
}
interface FloorReply {
  getHeader(name: string): unknown;
}

/**
 * The floor variants' recording: one bound timer, counter and histogram of a Monitor,
 * and what a request feeds them once it is over.
 */
async function floorRecorder(): Promise<(started: number, length: unknown) => void> {
  const core = await load<{ Monitor: new (options: unknown) => FloorMonitor }>('@prsm/core');
  const monitor = new core.Monitor(periodicOptions());
  const tags = { 'http.route': '/', 'http.request.method': 'GET' };
  const duration = monitor
    .timer('http.server.request.duration', { component: 'api_gateway' })
    .bind(tags);
  const requests = monitor.counter('http.server.requests', { component: 'api_gateway' }).bind(tags);
  const size = monitor
    .histogram('http.server.response.body.size', { component: 'api_gateway' })
    .bind(tags);
  return (started, length) => {
    duration.record(performance.now() - started);
    requests.inc();
    if (length !== undefined) size.record(Number(length));
  };
}

/** The floor through Node's request channels: the start kept on the response. */
async function floorChannels(): Promise<void> {
  const record = await floorRecorder();
  const { subscribe } = await import('node:diagnostics_channel');
  const START = Symbol('start');
  type Message = { response: FloorResponse & { [START]?: number } };
  subscribe('http.server.request.start', (message) => {
    (message as Message).response[START] = performance.now();
  });
  subscribe('http.server.response.finish', (message) => {
    const res = (message as Message).response;
    const started = res[START];
    if (started !== undefined) record(started, res.getHeader('content-length'));
  });
}

/** The Monitor options of the servers: without periodic work when `PRSM_HTTP_BENCH_PERIODIC=0`. */
function periodicOptions(): object {
  return process.env['PRSM_HTTP_BENCH_PERIODIC'] !== '0'
    ? {}
    : { health: { resources: false }, alerting: { evaluationIntervalSeconds: 0 } };
}

async function load<T>(specifier: string): Promise<T> {
  return (await import(specifier)) as T;
}

/** The server side: started in a child process with `PRSM_HTTP_BENCH_SERVER=<variant>`. */
async function serve(name: VariantName): Promise<void> {
  const { framework, kind } = VARIANTS[name];
  if (kind === 'otel') {
    const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as {
      NodeTracerProvider: new (options: unknown) => { register(): void };
    };
    const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as {
      BatchSpanProcessor: new (exporter: unknown) => unknown;
    };
    const { registerInstrumentations } = require('@opentelemetry/instrumentation') as {
      registerInstrumentations: (options: { instrumentations: unknown[] }) => void;
    };
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as {
      HttpInstrumentation: new () => unknown;
    };
    const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express') as {
      ExpressInstrumentation: new () => unknown;
    };
    const discard = {
      export: (_spans: unknown, done: (result: { code: number }) => void): void =>
        done({ code: 0 }),
      shutdown: (): Promise<void> => Promise.resolve(),
    };
    new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }).register();
    registerInstrumentations({
      instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
    });
  }
  let monitor: MonitorLike | undefined;
  if (kind === 'prsm' || kind === 'prsm-spans' || kind === 'prsm-unshaped') {
    const core = await load<{ Monitor: new (options: unknown) => MonitorLike }>('@prsm/core');
    monitor = new core.Monitor({ tracing: kind === 'prsm-spans', ...periodicOptions() });
  }
  if (kind === 'floor') await floorChannels();
  let port: number;
  if (framework === 'express') {
    const express = require('express') as () => ExpressApp;
    const app = express();
    if (monitor !== undefined || kind === 'prsm-nomonitor') {
      const { prsmExpress } = await load<{ prsmExpress: (options: unknown) => Handler }>(
        '@prsm/express',
      );
      // Without a monitor the middleware records into the global one, a no-op here.
      app.use(
        prsmExpress(
          kind === 'prsm-nomonitor' ? {} : { monitor, shapeRequests: kind !== 'prsm-unshaped' },
        ),
      );
    }
    // What any middleware costs: a router layer and a `next()`.
    if (kind === 'empty') app.use((_req: unknown, _res: unknown, next: () => void) => next());
    app.get('/', (_req, res) => res.send('hello world'));
    port = await new Promise<number>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () =>
        resolve((server.address() as { port: number }).port),
      );
    });
  } else {
    const fastify = require('fastify') as () => FastifyApp;
    const app = fastify();
    if (monitor !== undefined) {
      const { prsmFastify } = await load<{ prsmFastify: unknown }>('@prsm/fastify');
      await app.register(prsmFastify, { monitor });
    }
    // What any request hook costs: Fastify's hook runner.
    if (kind === 'empty') app.addHook('onRequest', (_request, _reply, done) => done());
    if (kind === 'floor-hooks') {
      const record = await floorRecorder();
      app.decorateRequest('prsmStart', 0);
      app.addHook('onRequest', (request, _reply, done) => {
        request.prsmStart = performance.now();
        done();
      });
      app.addHook('onResponse', (request, reply, done) => {
        record(request.prsmStart, reply.getHeader('content-length'));
        done();
      });
    }
    app.get('/', () => 'hello world');
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    port = Number(new URL(address).port);
  }
  // CPU used by this server from the parent's `mark` to its `report`: per request, a
  // measure that contention on a shared machine disturbs far less than requests/s.
  let mark: NodeJS.CpuUsage | undefined;
  process.on('message', (message: unknown) => {
    if (message === 'mark') mark = process.cpuUsage();
    else if (message === 'report') {
      const used = process.cpuUsage(mark);
      process.send?.({ cpuMicros: used.user + used.system });
    }
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly errors: number;
  readonly non2xx: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
}) => Promise<AutocannonResult>;

async function startServer(name: VariantName): Promise<{ child: ChildProcess; url: string }> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url)];
  const [command, argv] = PIN
    ? ['taskset', ['-c', '1', process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command, argv, {
    env: { ...process.env, [SERVER_ENV]: name },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const stdout = child.stdout;
  if (stdout === null) throw new Error(`${name} server has no stdout`);
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line !== undefined) {
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} server exited (${String(code)})`)));
  });
  return { child, url: `http://127.0.0.1:${port}/` };
}

/** Asks the server for its CPU time (µs) since the last `mark`. */
function serverCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: unknown) => resolve((m as { cpuMicros: number }).cpuMicros));
    child.send('report');
  });
}

async function measure(
  name: VariantName,
): Promise<{ result: AutocannonResult; cpuPerRequest: number }> {
  const autocannon = require('autocannon') as Autocannon;
  const { child, url } = await startServer(name);
  try {
    await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_SECONDS });
    child.send('mark');
    const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
    const cpu = await serverCpu(child);
    return { result, cpuPerRequest: cpu / Math.max(1, result.requests.total) };
  } finally {
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/**
 * One round of a variant beside its framework's bare app: both servers on the same CPU
 * at once (CPU 1 when pinned), each driven by its own autocannon from this process, warmed
 * up and measured over the same seconds. While both always have work queued, the
 * scheduler shares the core evenly between them, so the ratio of their requests/s is the
 * ratio of their costs per request, measured at the same moments: a change of the
 * machine's speed falls on both alike, which rounds run one after another cannot promise
 * (this machine's bare app moved by 2× between them).
 */
async function side(
  name: VariantName,
  bareFirst: boolean,
): Promise<{ ratio: number; cpuRatio: number; busy: number; failures: number }> {
  const autocannon = require('autocannon') as Autocannon;
  const bare = `${VARIANTS[name].framework} bare` as VariantName;
  const order = bareFirst ? [bare, name] : [name, bare];
  const servers: { child: ChildProcess; url: string }[] = [];
  try {
    for (const n of order) servers.push(await startServer(n));
    const drive = (seconds: number): Promise<AutocannonResult[]> =>
      Promise.all(
        servers.map(({ url }) => autocannon({ url, connections: CONNECTIONS, duration: seconds })),
      );
    await drive(WARMUP_SECONDS);
    for (const { child } of servers) child.send('mark');
    const results = await drive(SECONDS);
    const cpus = await Promise.all(servers.map(({ child }) => serverCpu(child)));
    const perRequest = cpus.map((c, i) => c / Math.max(1, results[i]!.requests.total));
    const [b, v] = bareFirst ? [0, 1] : [1, 0];
    return {
      ratio: results[v]!.requests.average / results[b]!.requests.average,
      cpuRatio: perRequest[b]! / perRequest[v]!,
      busy: (cpus[0]! + cpus[1]!) / (SECONDS * 1e6),
      failures: results.reduce((n, r) => n + r.errors + r.non2xx, 0),
    };
  } finally {
    for (const { child } of servers) {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
}

/**
 * Every chosen variant beside its bare app ({@link side}), over the rounds (the bare app
 * started first in every other one), with a bare app beside another as the control: how
 * far from 100% two equal servers land.
 */
async function sideBySide(names: readonly VariantName[]): Promise<void> {
  const rows: string[][] = [];
  let failures = 0;
  for (const name of names) {
    const { kind } = VARIANTS[name];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const busy: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const r = await side(name, round % 2 === 0);
      ratios.push(r.ratio);
      cpuRatios.push(r.cpuRatio);
      busy.push(r.busy);
      failures += r.failures;
    }
    const m = median(ratios);
    rows.push([
      kind === 'bare' ? `${name} (control: beside another)` : name,
      `${fixed(m * 100, 1)}%`,
      ratios.map((r) => `${fixed(r * 100, 1)}%`).join(', '),
      `${fixed(median(cpuRatios) * 100, 1)}%`,
      `${fixed(median(busy) * 100, 0)}%`,
    ]);
  }
  heading('HTTP middleware: side by side with the bare app on one core');
  paragraph(
    `Each variant's server and its framework's bare app at once${
      PIN ? ' on CPU 1 (taskset), both autocannons on CPU 0' : ''
    }, each driven by autocannon with ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up ` +
      `then ${SECONDS} s measured over the same seconds, ${ROUNDS} rounds (fresh processes each, ` +
      `the bare app started first in every other one). Two servers that always have work ` +
      `queued share the core evenly, so the variant's requests/s over the bare app's is ` +
      `the ratio of their costs per request, measured at the same moments. The CPU the two ` +
      `servers used over the measured seconds (of one core, median of the rounds) shows ` +
      `that the servers, not the load generator, limited (below ${fixed(SATURATED * 100, 0)}% ` +
      `they did not). Bare CPU/req ÷ this: each server's CPU time over the requests it ` +
      `answered, bare's over the variant's (median of the rounds). The control row is a ` +
      `bare app beside another. Where a server's queued requests are little work ` +
      `(Fastify's: 32 of them take well under a millisecond), neither server is runnable ` +
      `all the time, the scheduler does not share the core evenly, and the ratio measures ` +
      `the pair's scheduling more than its costs. The target is checked on the rounds one ` +
      `at a time, not here.`,
  );
  console.log(
    table(
      [
        'variant',
        'requests/s of bare beside it (median)',
        'rounds',
        'bare CPU/req ÷ this',
        'CPU the two used',
      ],
      rows,
    ),
  );
  paragraph(`\nErrors and non-2xx answers: ${failures}.`);
}

/** Every chosen variant one at a time, fresh servers interleaved over the rounds. */
async function oneAtATime(names: readonly VariantName[]): Promise<void> {
  heading('HTTP middleware: hello world under autocannon');
  const samples = new Map<VariantName, number[]>(names.map((n) => [n, []]));
  const latency = new Map<VariantName, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<VariantName, number[]>(names.map((n) => [n, []]));
  let failures = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Every other round runs the variants in reverse, so that no variant always runs
    // first (or right after another) in a round.
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const { result, cpuPerRequest } = await measure(name);
      cpu.get(name)!.push(cpuPerRequest);
      failures += result.errors + result.non2xx;
      samples.get(name)!.push(result.requests.average);
      latency.get(name)!.push(result.latency.p99);
    }
  }
  const rows: string[][] = [];
  let missed = false;
  for (const name of names) {
    const { framework, kind } = VARIANTS[name];
    const rps = median(samples.get(name)!);
    const bareSamples = samples.get(`${framework} bare` as VariantName)!;
    const ratio = rps / median(bareSamples);
    // Each round's requests/s over the same round's bare app (measured minutes apart at
    // most): a drift of the machine's speed over the run falls on both alike.
    const paired = median(samples.get(name)!.map((v, round) => v / bareSamples[round]!));
    if (kind === 'prsm' && (ratio < TARGET || paired < TARGET)) missed = true;
    const cpuUs = median(cpu.get(name)!);
    const cpuRatio = median(cpu.get(`${framework} bare` as VariantName)!) / cpuUs;
    rows.push([
      name,
      fixed(rps, 0),
      samples
        .get(name)!
        .map((v) => fixed(v, 0))
        .join(', '),
      `${fixed(ratio * 100, 1)}%`,
      `${fixed(paired * 100, 1)}%`,
      fixed(median(latency.get(name)!), 1),
      fixed(cpuUs, 1),
      `${fixed(cpuRatio * 100, 1)}%`,
    ]);
  }
  paragraph(
    `autocannon ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured, ` +
      `${ROUNDS} rounds interleaved; each variant a fresh server process${
        PIN ? ' on CPU 1, autocannon on CPU 0 (taskset)' : ''
      } (Express ${String(
        (require('express/package.json') as { version: string }).version,
      )}, Fastify ${(require('fastify/package.json') as { version: string }).version}). ` +
      `Median requests/s of the rounds (every other round in reverse order); ratio to ` +
      `the bare app of the same framework's, and paired: the median over the rounds of ` +
      `each round's requests/s over its bare app's. ` +
      `Server CPU µs/request: the server process's CPU time over the measured seconds ÷ ` +
      `requests answered (median of the rounds), and bare's ÷ this: the requests/s ratio ` +
      `a CPU-bound server would reach, less disturbed by other load on the machine.`,
  );
  console.log(
    table(
      [
        'variant',
        'requests/s (median)',
        'rounds',
        'of bare',
        'of bare, paired',
        'p99 ms (median)',
        'server CPU µs/req',
        'bare CPU ÷ this',
      ],
      rows,
    ),
  );
  paragraph(
    `\nTarget: prsm ≥ ${TARGET * 100}% of bare for both frameworks, by both ratios: ${missed ? 'MISSED' : 'met'}. ` +
      `Errors and non-2xx answers: ${failures}.`,
  );
}

/** Runs the suite: every variant one at a time, then each beside its bare app. */
export async function run(): Promise<void> {
  // The load generator (this process, all its threads) on CPU 0; servers on CPU 1.
  if (PIN) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
  const only = process.env['PRSM_HTTP_BENCH_ONLY']?.split(',').map((s) => s.trim());
  const all = Object.keys(VARIANTS) as VariantName[];
  const chosen = only === undefined ? all : all.filter((n) => only.includes(n));
  const frameworks = new Set(chosen.map((n) => VARIANTS[n].framework));
  const names = all.filter(
    (n) =>
      chosen.includes(n) || (VARIANTS[n].kind === 'bare' && frameworks.has(VARIANTS[n].framework)),
  );
  if (SEQUENTIAL) await oneAtATime(names);
  if (SIDE_BY_SIDE) await sideBySide(names);
}

const serverVariant = process.env[SERVER_ENV];
if (serverVariant !== undefined) {
  if (!Object.hasOwn(VARIANTS, serverVariant)) throw new Error(`unknown variant ${serverVariant}`);
  await serve(serverVariant as VariantName);
}
