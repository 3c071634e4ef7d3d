/**
 * Runs the benchmark suites: `npm run bench` runs them all, each in its own Node
 * process (so no suite inherits another's heap or JIT state); `npm run bench -- record
 * merge` runs the named ones. A single named suite runs in this process.
 *
 * `@prsm/core` and `@prsm/decorators` resolve to their built bundles
 * (packages/<name>/dist), as users load them; the run refuses a bundle older than its
 * package's sources. Start Node with --expose-gc.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SUITES = {
  record: () => import('./suites/record.js'),
  accuracy: () => import('./suites/accuracy.js'),
  memory: () => import('./suites/memory.js'),
  merge: () => import('./suites/merge.js'),
  cardinality: () => import('./suites/cardinality.js'),
  decorators: () => import('./suites/decorators.js'),
  conditions: () => import('./suites/conditions.js'),
  alerts: () => import('./suites/alerts.js'),
  exposition: () => import('./suites/exposition.js'),
  business: () => import('./suites/business.js'),
  server: () => import('./suites/server.js'),
  http: () => import('./suites/http.js'),
  health: () => import('./suites/health.js'),
  security: () => import('./suites/security.js'),
  cluster: () => import('./suites/cluster.js'),
  fleet: () => import('./suites/fleet.js'),
  dashboard: () => import('./suites/dashboard.js'),
} as const;
type SuiteName = keyof typeof SUITES;

function isSuite(name: string): name is SuiteName {
  return Object.hasOwn(SUITES, name);
}

/** Sources that end up in a bundle: tests and test helpers do not. */
function isBundledSource(name: string): boolean {
  return (
    !name.endsWith('.test.ts') && !name.endsWith('.child.ts') && !name.includes('test-support')
  );
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (isBundledSource(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The packages the suites load, by folder under packages/. */
const PACKAGES = [
  'core',
  'decorators',
  'exporters',
  'business-outcomes',
  'http',
  'express',
  'fastify',
] as const;

/** Which build of a package this process loads; exits when it is a stale build. */
function describeTarget(folder: (typeof PACKAGES)[number]): string {
  const resolved = fileURLToPath(import.meta.resolve(`@prsm/${folder}`));
  if (!resolved.includes(`${join(folder, 'dist')}`)) return `sources (${resolved})`;
  const src = fileURLToPath(new URL(`../packages/${folder}/src`, import.meta.url));
  if (statSync(resolved).mtimeMs < newestMtime(src)) {
    console.error(`${resolved} is older than packages/${folder}/src: run \`npm run build\` first.`);
    process.exit(2);
  }
  const hash = createHash('sha256').update(readFileSync(resolved)).digest('hex').slice(0, 12);
  return `built bundle packages/${folder}/dist/index.js (sha256 ${hash}…)`;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function header(names: readonly SuiteName[]): void {
  console.log('# PRSM Monitor benchmarks\n');
  console.log(`- node ${process.version} (${process.execArgv.join(' ')}), ${process.platform}`);
  console.log(`- cores (nproc): ${availableParallelism()}, CPU: ${cpuModel()}`);
  for (const folder of PACKAGES) {
    console.log(`- @prsm/${folder} under test: ${describeTarget(folder)}`);
  }
  console.log(`- suites: ${names.join(', ')}`);
  if (globalThis.gc === undefined) console.log('- WARNING: no --expose-gc; memory suites fail');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !isSuite(a));
  if (unknown.length > 0) {
    console.error(
      `unknown suite(s) ${unknown.join(', ')}; known: ${Object.keys(SUITES).join(', ')}`,
    );
    process.exit(2);
  }
  const names = (args.length === 0 ? Object.keys(SUITES) : args) as SuiteName[];
  const child = process.env.PRSM_BENCH_CHILD === '1';
  if (!child) header(names);
  if (names.length === 1) {
    const suite = await SUITES[names[0]!]();
    await suite.run();
    return;
  }
  const script = fileURLToPath(import.meta.url);
  for (const name of names) {
    const result = spawnSync(process.execPath, [...process.execArgv, script, name], {
      stdio: 'inherit',
      env: { ...process.env, PRSM_BENCH_CHILD: '1' },
    });
    if (result.status !== 0) {
      console.error(`suite ${name} failed (exit ${String(result.status ?? result.signal)})`);
      process.exitCode = 1;
    }
  }
}

await main();
