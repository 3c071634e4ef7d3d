/**
 * A real Alertmanager for tests: the Debian package `prometheus-alertmanager`, found
 * on PATH (or at PRSM_ALERTMANAGER_BIN when set), started on a free 127.0.0.1 port
 * with a route that groups by component and sends its webhook to a test receiver,
 * stopped by PID. Used by this package's channel test and by the cross-package
 * end-to-end test in test/.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './test-support.js';

/** Where the binary is; undefined when it is not installed. */
export function findAlertmanager(): string | undefined {
  const override = process.env['PRSM_ALERTMANAGER_BIN'];
  const candidates =
    override !== undefined && override !== ''
      ? [override]
      : [
          ...(process.env['PATH'] ?? '')
            .split(delimiter)
            .filter((dir) => dir !== '')
            .map((dir) => join(dir, 'prometheus-alertmanager')),
          '/usr/bin/prometheus-alertmanager',
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
 * Whether the real-Alertmanager tests of `file` can run. When the binary is missing:
 * under CI=true a failing test says so (a missing binary is a failure there, never a
 * skip); elsewhere a printed reason, and the caller skips.
 */
export function alertmanagerAvailable(file: string, suite: string): boolean {
  if (findAlertmanager() !== undefined) return true;
  if (process.env['CI'] === 'true') {
    describe(suite, () => {
      it('needs prometheus-alertmanager installed when CI=true', () => {
        expect.fail(
          'prometheus-alertmanager is not installed, and CI=true: .ci/run must install the Debian package prometheus-alertmanager',
        );
      });
    });
  } else {
    console.warn(
      `${file}: skipping the real Alertmanager tests: prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)`,
    );
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

/** A running Alertmanager. */
export interface RunningAlertmanager {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What it printed so far. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 3 s) and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts Alertmanager with one route (group by component, 1 s group wait and
 * interval, send resolved) whose webhook goes to `webhookUrl`; waits until ready.
 */
export async function startAlertmanager(webhookUrl: string): Promise<RunningAlertmanager> {
  const binary = findAlertmanager();
  if (binary === undefined) throw new Error('prometheus-alertmanager is not installed');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'prsm-alertmanager-'));
  writeFileSync(
    join(dir, 'am.yml'),
    [
      'route:',
      '  receiver: prsm-test',
      "  group_by: ['component']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: prsm-test',
      '    webhook_configs:',
      `      - url: ${webhookUrl}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'am.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
    await waitFor('Alertmanager to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`Alertmanager exited:\n${output}`);
      try {
        const response = await fetch(`${url}/-/ready`);
        return response.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    });
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n--- alertmanager output ---\n${output}`);
  }
  return { url, output: () => output, stop };
}
