/**
 * The real Prometheus tools for tests: `promtool` and `prometheus` from the Debian
 * package `prometheus`, found on PATH (or at PRSM_PROMTOOL_BIN / PRSM_PROMETHEUS_BIN
 * when set). Prometheus is started on a free 127.0.0.1 port with a scrape config of
 * our targets, waited for until ready, and stopped by PID.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { Monitor, type ManualClock } from '@prsm/core';

import {
  binaryAvailable as available,
  findBinary as find,
  type RunningDaemon,
  startDaemon,
  waitFor,
} from '../test-support-daemon.js';

export { waitFor };

const ENV = { promtool: 'PRSM_PROMTOOL_BIN', prometheus: 'PRSM_PROMETHEUS_BIN' } as const;

/** Where `binary` is (PATH, /usr/bin, or its env override); undefined when missing. */
export function findBinary(binary: 'promtool' | 'prometheus'): string | undefined {
  return find(binary, ENV[binary]);
}

/** Whether the tests of `file` needing `binary` run (see the daemon support's `binaryAvailable`). */
export function binaryAvailable(
  binary: 'promtool' | 'prometheus',
  file: string,
  suite: string,
): boolean {
  return available(binary, ENV[binary], 'prometheus', file, suite);
}

/** `promtool check metrics` on `text`: its exit code and everything it printed. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const binary = findBinary('promtool');
  if (binary === undefined) throw new Error('promtool is not installed');
  const result = spawnSync(binary, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A running Prometheus. */
export type RunningPrometheus = RunningDaemon;

/** A scrape job: its name and one `host:port` target with a metrics path. */
export interface ScrapeJob {
  readonly name: string;
  readonly target: string;
  readonly path: string;
}

/**
 * Starts Prometheus scraping `jobs` every second, with exemplar storage on; waits
 * until `/-/ready`.
 */
export function startPrometheus(jobs: readonly ScrapeJob[]): Promise<RunningPrometheus> {
  const binary = findBinary('prometheus');
  if (binary === undefined) throw new Error('prometheus is not installed');
  return startDaemon({
    name: 'prometheus',
    binary,
    configName: 'prometheus.yml',
    config: [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      ...jobs.flatMap((job) => [
        `  - job_name: ${job.name}`,
        `    metrics_path: ${job.path}`,
        '    static_configs:',
        `      - targets: ['${job.target}']`,
      ]),
      '',
    ].join('\n'),
    args: (dir, port) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
    ],
    readyTimeoutMs: 10_000,
  });
}

/**
 * A monitor with what a service really records: timers with tags and traced
 * samples, a histogram with a unit, counters, gauges, an overflow series, awkward
 * names and tag values, and an empty window.
 */
export function realisticMonitor(clock: ManualClock): Monitor {
  const monitor = new Monitor({
    clock,
    defaultComponent: 'api_gateway',
    windows: [60, 300],
    maxSeriesPerMetric: 4,
  });
  const duration = monitor.timer('http.server.request.duration', {
    description: 'Time to answer an HTTP request, by route "template"',
  });
  const users = duration.bind({ route: '/users/:id', method: 'GET' });
  const orders = duration.bind({ route: '/orders', method: 'POST' });
  for (let i = 1; i <= 200; i++) {
    users.record(i, i % 50 === 0 ? `trace${String(i).padStart(27, '0')}` : undefined);
    if (i % 4 === 0) orders.recordError(i * 3);
  }
  monitor
    .histogram('http.response.size', { unit: 'By', description: 'Response body size' })
    .bind({ route: '/users/:id' })
    .record(2048);
  const requests = monitor.counter('http.requests', { description: 'Requests served' });
  for (const status of ['200', '404', '500', '503', '302', '301']) {
    requests.bind({ status }).inc(Number(status) / 100);
  }
  monitor.counter('payments.processed_total', { component: 'payments' }).bind().inc(12);
  monitor
    .gauge('queue.depth', { description: 'Jobs waiting\\in line\nnow' })
    .bind({ queue: 'emails "bulk"' })
    .set(17);
  monitor.gauge('process.memory.heap_used', { unit: 'By' }).bind().set(52_428_800);
  monitor.histogram('batch.items').bind(); // never recorded: no samples
  return monitor;
}
