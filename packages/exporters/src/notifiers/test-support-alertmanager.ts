/**
 * A real Alertmanager for tests: the Debian package `prometheus-alertmanager`, found
 * on PATH (or at PRSM_ALERTMANAGER_BIN when set), started on a free 127.0.0.1 port
 * with a route that groups by component and sends its webhook to a test receiver.
 * Used by this package's channel test and by the end-to-end test in test/.
 */
import { join } from 'node:path';
import {
  binaryAvailable,
  findBinary,
  type RunningDaemon,
  startDaemon,
  waitFor,
} from '../test-support-daemon.js';

export { waitFor };

/** A running Alertmanager. */
export type RunningAlertmanager = RunningDaemon;

/** Where the binary is; undefined when it is not installed. */
export function findAlertmanager(): string | undefined {
  return findBinary('prometheus-alertmanager', 'PRSM_ALERTMANAGER_BIN');
}

/** Whether the real-Alertmanager tests of `file` run (see `binaryAvailable`). */
export function alertmanagerAvailable(file: string, suite: string): boolean {
  return binaryAvailable(
    'prometheus-alertmanager',
    'PRSM_ALERTMANAGER_BIN',
    'prometheus-alertmanager',
    file,
    suite,
  );
}

/**
 * Starts Alertmanager with one route (group by component, 1 s group wait and
 * interval, send resolved) whose webhook goes to `webhookUrl`; waits until ready.
 */
export function startAlertmanager(webhookUrl: string): Promise<RunningAlertmanager> {
  const binary = findAlertmanager();
  if (binary === undefined) throw new Error('prometheus-alertmanager is not installed');
  return startDaemon({
    name: 'alertmanager',
    binary,
    configName: 'am.yml',
    config: [
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
    args: (dir, port) => [
      `--config.file=${join(dir, 'am.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
  });
}
