/**
 * Our Prometheus exposition in VictoriaMetrics (Debian's `victoria-metrics`, started
 * by hand on 127.0.0.1 with a temporary data directory, stopped by PID): two
 * instances' text pushed to `/api/v1/import/prometheus` with an `instance` label each,
 * then PromQL queries answer with our values, per instance and for the fleet, and
 * our alert rules exported by toPrometheusRules fire there where they should (and
 * pass `vmalert -dryRun`). This
 * is the "Prometheus-compatible storage" step of the path past one machine
 * (examples/collector/README.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import {
  binaryAvailable,
  findBinary,
  type RunningDaemon,
  startDaemon,
  waitFor,
} from '../test-support-daemon.js';
import { toPrometheusRules } from './rules.js';
import { toPrometheusText } from './text.js';

const ENV = 'PRSM_VICTORIA_METRICS_BIN';
const T0 = Date.UTC(2026, 0, 1);

function startVictoriaMetrics(): Promise<RunningDaemon> {
  const binary = findBinary('victoria-metrics', ENV);
  if (binary === undefined) throw new Error('victoria-metrics is not installed');
  return startDaemon({
    name: 'victoria-metrics',
    binary,
    // VictoriaMetrics needs no config to ingest; the file only documents the run.
    configName: 'README',
    config: 'started by victoria-metrics.test.ts\n',
    args: (dir, port) => [
      `-storageDataPath=${join(dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      // Answer queries at "now" with what was just written (default: 30 s behind).
      '-search.latencyOffset=0s',
    ],
    readyTimeoutMs: 15_000,
  });
}

function instanceMonitor(scale: number): Monitor {
  const monitor = new Monitor({ clock: new ManualClock(T0), health: { resources: false } });
  const latency = monitor.timer('api.latency', { component: 'api' }).bind({ route: '/users/:id' });
  for (let i = 1; i <= 1000; i++) latency.record(i * scale);
  monitor
    .counter('http.requests', { component: 'api' })
    .bind({ status: '200' })
    .inc(42 * scale);
  monitor.gauge('queue.depth', { component: 'api' }).set(17 * scale);
  return monitor;
}

interface VectorResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

async function query(vm: RunningDaemon, promql: string): Promise<VectorResult[]> {
  const response = await fetch(`${vm.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as {
    status: string;
    data: { resultType: string; result: VectorResult[] };
  };
  expect(body.status).toBe('success');
  return body.data.result;
}

if (
  binaryAvailable(
    'victoria-metrics',
    ENV,
    'victoria-metrics',
    'victoria-metrics.test.ts',
    'VictoriaMetrics',
  )
) {
  describe('VictoriaMetrics', () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const f of cleanup.splice(0)) await f();
    });

    it('ingests our exposition via /api/v1/import/prometheus and answers queries with our values', async () => {
      const vm = await startVictoriaMetrics();
      cleanup.push(() => vm.stop());
      const a = instanceMonitor(1);
      const b = instanceMonitor(2);
      cleanup.push(
        () => a.shutdown(),
        () => b.shutdown(),
      );
      const texts = { a: toPrometheusText(a.snapshot()), b: toPrometheusText(b.snapshot()) };
      for (const [instance, text] of Object.entries(texts)) {
        const response = await fetch(
          `${vm.url}/api/v1/import/prometheus?extra_label=instance=${instance}`,
          { method: 'POST', body: text },
        );
        expect(response.status).toBe(204);
      }
      // Ingestion is asynchronous: flush, and poll until the last series is searchable.
      await waitFor(
        'the imported samples to be searchable',
        async () => {
          await fetch(`${vm.url}/internal/force_flush`);
          const found = await query(vm, 'queue_depth');
          return found.length === 2 ? true : undefined;
        },
        10_000,
      );

      const value = (results: VectorResult[]): number => Number(results[0]!.value[1]);
      const p99 = await query(vm, 'api_latency_seconds{quantile="0.99",instance="a"}');
      expect(p99).toHaveLength(1);
      expect(p99[0]!.metric).toMatchObject({ component: 'api', route: '/users/:id' });
      const ourP99 = a.getPercentiles('api.latency', [0.99], {
        component: 'api',
        tags: { route: '/users/:id' },
      })[0]!;
      expect(value(p99)).toBeCloseTo(ourP99 / 1000, 9);
      expect(value(await query(vm, 'api_latency_seconds_count{instance="b"}'))).toBe(1000);
      expect(value(await query(vm, 'api_latency_seconds_sum{instance="a"}'))).toBeCloseTo(500.5, 9);
      expect(value(await query(vm, 'http_requests_total{status="200",instance="b"}'))).toBe(84);
      // The fleet: the instance label aggregated away.
      expect(value(await query(vm, 'sum(http_requests_total{status="200"})'))).toBe(126);
      expect(value(await query(vm, 'max(queue_depth)'))).toBe(34);
      // A quantile of a summary is not aggregatable (averaging p99s is wrong): the
      // fleet's p99 comes from merged digests (clusterAggregation, @prsm/server).

      // Our alert rules, exported as Prometheus rules, evaluated by VictoriaMetrics
      // over the imported series: the names match, and they fire where they should.
      a.alerts.create({
        id: 'slow',
        name: 'Slow API',
        severity: 'high',
        component: 'api',
        condition: 'p99(api.latency) > 1500ms',
      });
      a.alerts.create({
        id: 'queue',
        name: 'Queue backlog',
        severity: 'medium',
        component: 'api',
        condition: 'queue.depth > 20',
      });
      const rules = toPrometheusRules(a.alerts.list(), { snapshot: a.snapshot() });
      expect(rules.skipped).toEqual([]);
      const exprs = [...rules.yaml.matchAll(/expr: "(.*)"/g)].map((m) =>
        m[1]!.replace(/\\"/g, '"'),
      );
      expect(exprs).toHaveLength(2);
      // The rules read the fleet by component: the slowest instance's p99 (b's), and
      // the sum of the queue depths (17 + 34).
      const ourP99b = b.getPercentiles('api.latency', [0.99], {
        component: 'api',
        tags: { route: '/users/:id' },
      })[0]!;
      const slow = await query(vm, exprs[0]!);
      expect(slow.map((r) => r.metric)).toEqual([{ component: 'api' }]);
      expect(value(slow)).toBeCloseTo(ourP99b / 1000, 9);
      expect(value(await query(vm, exprs[1]!))).toBe(51);
      // Below the threshold nothing comes back (the comparison filters).
      expect(await query(vm, exprs[1]!.replace('> 20', '> 60'))).toEqual([]);
      // vmalert (from the same Debian package) accepts the file as it is.
      const vmalert = findBinary('vmalert', 'PRSM_VMALERT_BIN');
      if (vmalert !== undefined) {
        const dir = mkdtempSync(join(tmpdir(), 'prsm-vmalert-'));
        cleanup.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
        writeFileSync(join(dir, 'rules.yml'), rules.yaml);
        const check = spawnSync(vmalert, [`-rule=${join(dir, 'rules.yml')}`, '-dryRun'], {
          encoding: 'utf8',
        });
        expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
        writeFileSync(
          join(dir, 'broken.yml'),
          'groups:\n  - name: x\n    rules:\n      - alert: a\n        expr: "sum by ("\n',
        );
        const broken = spawnSync(vmalert, [`-rule=${join(dir, 'broken.yml')}`, '-dryRun'], {
          encoding: 'utf8',
        });
        expect(broken.status).not.toBe(0);
      }
    }, 30_000);
  });
}
