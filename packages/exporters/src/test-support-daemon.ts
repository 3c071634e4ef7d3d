/**
 * Real system binaries for tests (Alertmanager, Prometheus, promtool from Debian's
 * packages): finding one, deciding whether its tests run (under CI=true a missing
 * binary is a failing test, never a skip), and running a daemon on a free 127.0.0.1
 * port until it answers `/-/ready`, stopped by PID.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './notifiers/test-support.js';

/** Where `binary` is: `process.env[envVar]` when set (and only there), else PATH, then /usr/bin. */
export function findBinary(binary: string, envVar: string): string | undefined {
  const override = process.env[envVar];
  const candidates =
    override !== undefined && override !== ''
      ? [override]
      : [
          ...(process.env['PATH'] ?? '')
            .split(delimiter)
            .filter((dir) => dir !== '')
            .map((dir) => join(dir, binary)),
          `/usr/bin/${binary}`,
        ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Whether the tests of `file` that need `binary` (from Debian package `debianPackage`)
 * can run. When it is missing: under CI=true a failing test says so; elsewhere a
 * printed reason and a skipped test, and the caller skips its suite.
 */
export function binaryAvailable(
  binary: string,
  envVar: string,
  debianPackage: string,
  file: string,
  suite: string,
): boolean {
  if (findBinary(binary, envVar) !== undefined) return true;
  if (process.env['CI'] === 'true') {
    describe(suite, () => {
      it(`needs ${binary} installed when CI=true`, () => {
        expect.fail(
          `${binary} is not installed, and CI=true: .ci/run must install the Debian package ${debianPackage}`,
        );
      });
    });
  } else {
    const reason = `${binary} is not installed (apt-get install ${debianPackage})`;
    console.warn(`${file}: skipping the real ${binary} tests: ${reason}`);
    // A skipped test keeps the file from failing as one without any.
    describe.skip(suite, () => {
      it(`needs ${reason}`, () => {});
    });
  }
  return false;
}

/** Polls `probe` every 50 ms until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A running daemon. */
export interface RunningDaemon {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What it printed so far. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 3 s) and removes its files. */
  stop(): Promise<void>;
}

/**
 * Runs `binary` with its config (written to `configName` in a new temporary folder)
 * and the arguments `args(dir, port)` builds, on a free port of 127.0.0.1; resolves
 * once `/-/ready` answers 200.
 */
export async function startDaemon(options: {
  readonly name: string;
  readonly binary: string;
  readonly configName: string;
  readonly config: string;
  readonly args: (dir: string, port: number) => string[];
  readonly readyTimeoutMs?: number;
}): Promise<RunningDaemon> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), `prsm-${options.name}-`));
  writeFileSync(join(dir, options.configName), options.config);
  const child = spawn(options.binary, options.args(dir, port), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `${options.name} to be ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${options.name} exited:\n${output}`);
        try {
          const response = await fetch(`${url}/-/ready`);
          return response.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      options.readyTimeoutMs ?? 8000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n--- ${options.name} output ---\n${output}`);
  }
  return { url, output: () => output, stop };
}
