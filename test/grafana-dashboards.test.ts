/**
 * The Grafana dashboards in grafana/dashboards/ against what our Prometheus exporter
 * really emits: a Monitor records through the real packages (an `instrument()`ed
 * function, `prsmExpress` on a real Express app on 127.0.0.1, `BusinessOutcomes`, an
 * alert rule that fires and notifies a channel, the resource sampler), its exposition
 * is rendered by `toPrometheusText`, and every metric name in every PromQL expression
 * and variable query of every dashboard must be in it, with every label the
 * expressions group or filter by. `promtool check rules` (the Debian `prometheus`
 * package) parses every expression.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import express from 'express';
import { BusinessOutcomes } from '@prsm/business-outcomes';
import { Monitor, type AlertNotification, type DeliveryReport } from '@prsm/core';
import { instrument } from '@prsm/decorators';
import { toPrometheusText } from '@prsm/exporters/prometheus';
import { prsmExpress } from '@prsm/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIR = join(ROOT, 'grafana', 'dashboards');
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

interface Target {
  readonly expr: string;
}
interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly Target[];
  readonly datasource?: { readonly type: string; readonly uid: string };
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly { name: string; type: string; definition?: string }[];
  };
}

const dashboards: [string, Dashboard][] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard]);

/** Grafana's variables, replaced by what they stand for so Prometheus can parse it. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*');
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on']);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/** The metric names and label names of a PromQL expression. */
function parse(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{([^}]*)\}/g, (_m, inner: string) => {
    for (const m of inner.matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1]!);
    return ' ';
  });
  e = e.replace(GROUPING, (_m, inner: string) => {
    labels.push(
      ...inner
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ').replace(/\$\{?\w+\}?/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] !== undefined || KEYWORDS.has(m[1]!)) continue;
    metrics.push(m[1]!);
  }
  return { metrics, labels };
}

function expressions(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of d.panels) {
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  }
  for (const v of d.templating.list) {
    const m =
      v.type === 'query'
        ? /label_values\(\s*([^,)]+)\s*,\s*(\w+)\s*\)/.exec(v.definition ?? '')
        : null;
    if (m !== null) out.push({ where: `variable ${v.name}`, expr: `max by (${m[2]}) (${m[1]})` });
  }
  return out;
}

describe('Grafana dashboards', () => {
  /** Metric name → the labels its samples carry in the exposition. */
  const emitted = new Map<string, Set<string>>();
  let monitor: Monitor;
  let text = '';

  beforeAll(async () => {
    const delivered: AlertNotification[] = [];
    monitor = new Monitor({
      health: { resources: true },
      alerting: {
        evaluationIntervalSeconds: 0,
        groupWaitSeconds: 0,
        channels: {
          // A notification channel as a user writes one (no peer to reach).
          log: {
            kind: 'log',
            send(n: AlertNotification): Promise<DeliveryReport> {
              delivered.push(n);
              return Promise.resolve({ ok: true, attempts: 1 });
            },
            shutdown: () => Promise.resolve(),
          },
        },
      },
    });
    // Decorators: the same runtime as @monitorPerformance, for a plain function.
    const search = instrument(
      async (q: string): Promise<string> => {
        await Promise.resolve();
        if (q === 'fail') throw new Error('search failed');
        return q;
      },
      { component: 'marketplace', operation: 'marketplace_search', monitor },
    );
    for (const q of ['a', 'b', 'fail', 'c']) await search(q).catch(() => undefined);

    // HTTP: a real Express app with the middleware, called over 127.0.0.1.
    const app = express();
    app.use(prsmExpress({ monitor, component: 'api_gateway' }));
    app.post('/orders', express.json(), (_req, res) => {
      res.status(201).json({ id: 1 });
    });
    app.get('/items/:id', (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/boom', (_req, res) => {
      res.status(500).json({ error: 'boom' });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await fetch(`${base}/items/1`);
      await fetch(`${base}/boom`);
      await fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: 'x' }),
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    // Business outcomes.
    const outcomes = new BusinessOutcomes({ monitor });
    outcomes.defineKpi({ name: 'daily_active_users', target: 15_000 });
    outcomes.recordMetric({ metricName: 'daily_active_users', value: 12_000 });
    outcomes.recordOutcome('order_placed', { value: 49.5 });
    outcomes.startSession('s1', 'u1');

    // Alerts: a rule that fires at once and notifies the channel.
    monitor.alerts.create({
      id: 'marketplace-errors',
      name: 'Marketplace errors',
      severity: 'high',
      component: 'marketplace',
      condition: 'error_rate > 0.01',
      durationSeconds: 0,
      notificationChannels: ['log'],
    });
    monitor.alerts.evaluate();
    for (let i = 0; i < 50 && delivered.length === 0; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      monitor.alerts.evaluate();
    }
    expect(delivered.length).toBeGreaterThan(0);

    // The event-loop delay gauges need samples of the real loop since the last
    // reading (the sampler's own tick may just have taken them), and the GC pause
    // timer a collection seen by the GC observer (garbage is made here so that one
    // happens): read until both come.
    for (let i = 0; i < 80; i += 1) {
      await monitor.resources?.sample();
      text = toPrometheusText(monitor.snapshot());
      if (/^event_loop_delay_p99\b/m.test(text) && /^gc_pause_seconds_sum\b/m.test(text)) break;
      Array.from({ length: 200_000 }, (_, k) => ({ k }));
      await new Promise((r) => setTimeout(r, 25));
    }
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
      if (m === null) continue;
      const labels = emitted.get(m[1]!) ?? new Set<string>();
      for (const l of (m[2] ?? '').matchAll(/([A-Za-z_]\w*)="/g)) labels.add(l[1]!);
      emitted.set(m[1]!, labels);
    }
  }, 30_000);

  afterAll(async () => {
    await monitor?.shutdown();
  });

  it('finds the four dashboards, each provisionable', () => {
    expect(dashboards.map(([f]) => f)).toEqual([
      'prsm-alerts.json',
      'prsm-business-kpis.json',
      'prsm-http-api.json',
      'prsm-service-overview.json',
    ]);
    const uids = new Set<string>();
    for (const [file, d] of dashboards) {
      expect(d.uid, file).toMatch(/^[a-z0-9-]{1,40}$/);
      uids.add(d.uid);
      expect(
        d.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'),
      ).toBe(true);
      const ids = new Set<number>();
      for (const p of d.panels) {
        expect(p.datasource, `${file}: ${p.title}`).toEqual({
          type: 'prometheus',
          uid: '${datasource}',
        });
        expect(p.targets?.length ?? 0, `${file}: ${p.title}`).toBeGreaterThan(0);
        ids.add((p as unknown as { id: number }).id);
      }
      expect(ids.size).toBe(d.panels.length);
    }
    expect(uids.size).toBe(dashboards.length);
  });

  it('references only metric names and labels the exporter emits', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const [file, d] of dashboards) {
      for (const { where, expr } of expressions(d)) {
        const { metrics, labels } = parse(expr);
        if (metrics.length === 0) problems.push(`${file} ${where}: no metric in ${expr}`);
        const known = new Set<string>(['instance', 'job']);
        for (const name of metrics) {
          checked += 1;
          const have = emitted.get(name);
          if (have === undefined) problems.push(`${file} ${where}: ${name} is not emitted`);
          else for (const l of have) known.add(l);
        }
        for (const l of labels) {
          if (!known.has(l))
            problems.push(`${file} ${where}: label ${l} is not on ${metrics.join(', ')}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('uses every family of the decorators, HTTP, business and alert metrics', () => {
    const used = new Set(
      dashboards.flatMap(([, d]) => expressions(d).flatMap(({ expr }) => parse(expr).metrics)),
    );
    for (const name of [
      'operation_duration_seconds',
      'operation_calls_total',
      'operation_errors_total',
      'http_server_requests_total',
      'http_server_request_duration_seconds',
      'http_server_active_requests',
      'business_kpi',
      'business_kpi_target',
      'business_kpi_achievement',
      'business_outcome_count_total',
      'prsm_alerts_transitions_total',
      'prsm_alerts_notifications_total',
      'prsm_alerts_evaluation_duration_seconds',
      'cpu_usage',
      'memory_usage',
      'disk_usage',
    ]) {
      expect(used.has(name), name).toBe(true);
      expect(emitted.has(name), name).toBe(true);
    }
  });

  it.runIf(PROMTOOL !== undefined || process.env['CI'] === 'true')(
    'parses every expression with promtool',
    () => {
      expect(PROMTOOL, 'promtool (apt package prometheus)').toBeDefined();
      const dir = mkdtempSync(join(tmpdir(), 'prsm-grafana-'));
      try {
        const rules = dashboards.flatMap(([file, d]) =>
          expressions(d).map(({ expr }, i) => ({
            record: `prsm_check:${file.replace(/\W/g, '_')}:${i}`,
            expr: concrete(expr),
          })),
        );
        const yaml = [
          'groups:',
          '  - name: grafana',
          '    rules:',
          ...rules.flatMap((r) => [
            `      - record: ${r.record}`,
            `        expr: ${JSON.stringify(r.expr)}`,
          ]),
          '',
        ].join('\n');
        const file = join(dir, 'rules.yml');
        writeFileSync(file, yaml);
        const result = spawnSync(PROMTOOL!, ['check', 'rules', file], { encoding: 'utf8' });
        expect(`${result.stdout}${result.stderr}`).toContain(
          `SUCCESS: ${rules.length} rules found`,
        );
        expect(result.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
