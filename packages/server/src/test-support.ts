/**
 * Test helpers: the `prsm-monitor` command run as a real child process (node + tsx on
 * the TypeScript source), a server child whose URL is read from its stdout, and row
 * counts read straight from the SQLite file. Not exported by the package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE_ARGS = ['--conditions=@prsm/source', '--import', 'tsx', CLI];

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'prsm-server-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the command to its end. */
export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `keys create`: the key is the last line of stdout. */
export async function createKeyCli(db: string, role: string): Promise<{ id: string; key: string }> {
  const r = await runCli(['keys', 'create', '--role', role, '--db', db]);
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const key = lines[lines.length - 1]!.trim();
  const id = /Created key (key_[0-9a-f]+)/.exec(r.stdout)?.[1];
  if (id === undefined) throw new Error(`no key id in: ${r.stdout}`);
  return { id, key };
}

/** A server child process. */
export interface ServerChild {
  readonly url: string;
  readonly api: string;
  readonly child: ChildProcess;
  readonly output: () => { stdout: string; stderr: string };
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Starts `prsm-monitor serve --port 0 --db <db> ...args` (or with PRSM_PORT, PRSM_HOST
 * and PRSM_DB instead of the flags) and waits for its URL.
 */
export function startServerChild(
  db: string,
  args: readonly string[] = [],
  viaEnv = false,
): Promise<ServerChild> {
  return new Promise((resolve, reject) => {
    const flags = viaEnv ? [] : ['--port', '0', '--db', db];
    const child = spawn(process.execPath, [...NODE_ARGS, 'serve', ...flags, ...args], {
      cwd: ROOT,
      env: viaEnv
        ? { ...process.env, PRSM_PORT: '0', PRSM_HOST: '127.0.0.1', PRSM_DB: db }
        : { ...process.env, PRSM_PORT: '', PRSM_HOST: '', PRSM_DB: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${stdout} ${stderr}`));
    }, 20_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        const url = m[1]!;
        const end = async (signal: NodeJS.Signals): Promise<void> => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        };
        resolve({
          url,
          api: `${url}/api/v1/monitoring`,
          child,
          output: () => ({ stdout, stderr }),
          stop: () => end('SIGTERM'),
          kill: () => end('SIGKILL'),
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${String(code)}): ${stdout} ${stderr}`));
    });
  });
}

const TABLES = [
  'series',
  'points',
  'spans',
  'alert_rules',
  'alert_events',
  'business_metrics',
  'batches',
];

/** Row counts of the data tables (not keys nor their audit), read from the file. */
export function dataCounts(db: string): Record<string, number> {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, number> = {};
    for (const t of TABLES) {
      out[t] = sqlite.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).get()!.n;
    }
    return out;
  } finally {
    sqlite.close();
  }
}

/** Reads rows with a query, from the file. */
export function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(sql).all(...params) as T[];
  } finally {
    sqlite.close();
  }
}
