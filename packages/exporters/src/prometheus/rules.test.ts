/**
 * toPrometheusRules: conditions translated to PromQL over our exposition's series,
 * skips with reasons, YAML escaping, and the real `promtool check rules` /
 * `promtool test rules` on the generated file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type AlertRule, type AlertRuleInput, ManualClock, Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { toPrometheusRules, type PrometheusRulesOptions } from './rules.js';
import { binaryAvailable, findBinary } from './test-support-prometheus.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);
const METRICS: PrometheusRulesOptions['metrics'] = {
  'api.latency': 'timer',
  'response.size': 'histogram',
  'orders.failed': 'counter',
  db_connections: 'gauge',
  max_connections: 'gauge',
  recommendation_accuracy: 'gauge',
};

let monitors: Monitor[] = [];
afterEach(async () => {
  for (const m of monitors) await m.shutdown();
  monitors = [];
});

function rulesOf(...inputs: AlertRuleInput[]): AlertRule[] {
  const monitor = new Monitor({
    clock: new ManualClock(T0),
    defaultComponent: 'api_gateway',
    windows: [60, 300],
    alerting: { evaluationIntervalSeconds: 0 },
  });
  monitors.push(monitor);
  for (const input of inputs) monitor.alerts.create(input);
  return monitor.alerts.list();
}

function one(condition: string, options: PrometheusRulesOptions = { metrics: METRICS }) {
  const result = toPrometheusRules(
    rulesOf({ id: 'r1', name: 'R', severity: 'high', condition }),
    options,
  );
  const expr = /expr: "(.*)"/.exec(result.yaml)?.[1]?.replace(/\\"/g, '"');
  return { ...result, expr, reason: result.skipped[0]?.reason };
}

describe('toPrometheusRules: the spec examples', () => {
  it('skips error_rate > 0.10 with a reason, converts the gauge ones', () => {
    const rules = rulesOf(
      {
        id: 'api-errors',
        name: 'High API Error Rate',
        description: 'Alert when API error rate exceeds 10% for 5 minutes',
        severity: 'high',
        component: 'api_gateway',
        condition: 'error_rate > 0.10',
        threshold: 0.1,
        durationSeconds: 300,
      },
      {
        id: 'db-pool',
        name: 'Database Connection Pool Exhaustion',
        severity: 'critical',
        component: 'database',
        condition: 'db_connections > 0.80 * max_connections',
        threshold: 0.8,
        durationSeconds: 120,
        keepFiringForSeconds: 60,
        labels: { team: 'dba' },
        annotations: { runbook: 'https://runbooks.example/db-pool' },
      },
      {
        id: 'reco',
        name: 'Recommendation Accuracy Drop',
        severity: 'medium',
        component: 'recommendation_engine',
        condition: 'recommendation_accuracy < 0.75',
        threshold: 0.75,
        durationSeconds: 30,
      },
    );
    const result = toPrometheusRules(rules, { metrics: METRICS });
    expect(result.converted).toBe(2);
    expect(result.skipped).toEqual([
      {
        ruleId: 'api-errors',
        name: 'High API Error Rate',
        reason: 'error_rate is built in: the exposition does not carry error counts',
      },
    ]);
    expect(result.yaml).toContain(
      '# skipped High API Error Rate (api-errors): error_rate is built in',
    );
    expect(result.yaml).toContain(
      [
        '  - name: "prsm-database"',
        '    rules:',
        '      - alert: "Database Connection Pool Exhaustion"',
        '        expr: "sum by (component) (db_connections{component=\\"database\\"}) > (0.8 * sum by (component) (max_connections{component=\\"database\\"}))"',
        '        for: "2m"',
        '        keep_firing_for: "1m"',
        '        labels:',
        '          "team": "dba"',
        '          "severity": "critical"',
        '        annotations:',
        '          "runbook": "https://runbooks.example/db-pool"',
        '          "condition": "db_connections > 0.80 * max_connections"',
        '          "threshold": "0.8"',
      ].join('\n'),
    );
    expect(result.yaml).toContain(
      '        expr: "sum by (component) (recommendation_accuracy{component=\\"recommendation_engine\\"}) < 0.75"\n        for: "30s"',
    );
  });
});

describe('toPrometheusRules: conversions', () => {
  it('p99 of a timer over the exposition window: seconds, the quantile label', () => {
    expect(one('p99(api.latency[1m]) > 500ms').expr).toBe(
      'max by (component) (api_latency_seconds{component="api_gateway",quantile="0.99"}) > 0.5',
    );
    expect(one('quantile(0.999, api.latency) >= 2s').expr).toBe(
      'max by (component) (api_latency_seconds{component="api_gateway",quantile="0.999"}) >= 2',
    );
  });

  it('a histogram keeps its values as they are', () => {
    expect(one('p50(response.size) > 500ms').expr).toBe(
      'max by (component) (response_size{component="api_gateway",quantile="0.5"}) > 500',
    );
  });

  it('skips quantiles not exposed or over another window', () => {
    expect(one('quantile(0.75, api.latency) > 1s').reason).toMatch(
      /quantile 0.75 of api.latency is not exposed/,
    );
    expect(one('p99(api.latency[5m]) > 1s').reason).toMatch(
      /over 300s: the exposition's quantiles are over 60s/,
    );
    // With the exposition rendered over 300 s, it converts.
    expect(
      one('p99(api.latency[5m]) > 1s', { metrics: METRICS, windowSeconds: 300 }).converted,
    ).toBe(1);
  });

  it('rate and count', () => {
    expect(one('rate(orders.failed[5m]) > 2').expr).toBe(
      'sum by (component) (rate(orders_failed_total{component="api_gateway"}[5m])) > 2',
    );
    expect(one('count(api.latency[5m]) >= 100').expr).toBe(
      'sum by (component) (increase(api_latency_seconds_count{component="api_gateway"}[5m])) >= 100',
    );
    expect(one('rate(api.latency[5m]) > 10').expr).toBe(
      'sum by (component) (rate(api_latency_seconds_count{component="api_gateway"}[5m])) > 10',
    );
  });

  it('avg and bare timers: increase of _sum over increase of _count, in seconds', () => {
    expect(one('avg(api.latency[2m]) > 250ms').expr).toBe(
      '(sum by (component) (increase(api_latency_seconds_sum{component="api_gateway"}[2m])) / sum by (component) (increase(api_latency_seconds_count{component="api_gateway"}[2m]))) > 0.25',
    );
    expect(one('api.latency > 250ms').expr).toContain('[1m]');
  });

  it('gauge aggregations', () => {
    expect(one('max(db_connections) > 10').expr).toBe(
      'max by (component) (db_connections{component="api_gateway"}) > 10',
    );
    expect(one('count(db_connections) < 2').expr).toBe(
      'count by (component) (db_connections{component="api_gateway"}) < 2',
    );
  });

  it('not is pushed down; and / or stay', () => {
    expect(one('not db_connections > 5 and rate(orders.failed) > 1').expr).toBe(
      '(sum by (component) (db_connections{component="api_gateway"}) <= 5) and (sum by (component) (rate(orders_failed_total{component="api_gateway"}[1m])) > 1)',
    );
    expect(one('not (db_connections > 5 or max_connections == 3)').expr).toBe(
      '(sum by (component) (db_connections{component="api_gateway"}) <= 5) and (sum by (component) (max_connections{component="api_gateway"}) != 3)',
    );
  });

  it('a timer against a non-timer is brought back to milliseconds', () => {
    expect(one('p99(api.latency) > db_connections').expr).toBe(
      '(max by (component) (api_latency_seconds{component="api_gateway",quantile="0.99"}) * 1000) > sum by (component) (db_connections{component="api_gateway"})',
    );
    // Ratios of timers need no conversion.
    expect(one('(p95(api.latency) - p50(api.latency)) / p50(api.latency) > 3').expr).toBe(
      '((max by (component) (api_latency_seconds{component="api_gateway",quantile="0.95"}) - max by (component) (api_latency_seconds{component="api_gateway",quantile="0.5"})) / max by (component) (api_latency_seconds{component="api_gateway",quantile="0.5"})) > 3',
    );
  });

  it('infers types from a snapshot, with the exposition prefix', () => {
    const monitor = new Monitor({
      clock: new ManualClock(T0),
      defaultComponent: 'shop',
      windows: [300],
    });
    monitors.push(monitor);
    monitor.timer('checkout.duration_ms').bind().record(5);
    monitor.counter('payments_total').bind().inc();
    const rules = rulesOf(
      {
        name: 'a',
        severity: 'low',
        component: 'shop',
        condition: 'p95(checkout.duration_ms) > 1s',
        windowSeconds: 300,
      },
      {
        name: 'b',
        severity: 'low',
        component: 'shop',
        condition: 'rate(payments_total) < 1',
        windowSeconds: 300,
      },
    );
    const result = toPrometheusRules(rules, { snapshot: monitor.snapshot(), prefix: 'x.' });
    expect(result.skipped).toEqual([]);
    expect(result.yaml).toContain(
      'x_checkout_duration_seconds{component=\\"shop\\",quantile=\\"0.95\\"}) > 1',
    );
    expect(result.yaml).toContain('rate(x_payments_total{component=\\"shop\\"}[5m])');
  });
});

describe('toPrometheusRules: skips', () => {
  it.each([
    ['throughput > 1', /throughput is built in/],
    ['cpu_usage > 90%', /cpu_usage is built in/],
    ['unknown.metric > 1', /the type of metric unknown.metric is unknown/],
    ['max(api.latency) > 1s', /carry no maximum/],
    ['p99(orders.failed) > 1', /is a counter, which has no quantiles/],
    ['rate(db_connections) > 1', /gauge, which has no rate/],
    ['avg(orders.failed) > 1', /counter, which has no avg/],
    ['1 > 2 or db_connections > 1', /two constants/],
    ['true and db_connections > 1', /true\/false/],
    ['db_connections > 1 / 0', /division by zero/],
  ])('%s', (condition, reason) => {
    const result = one(condition);
    expect(result.converted).toBe(0);
    expect(result.reason).toMatch(reason);
    expect(result.yaml).toContain('groups: []');
  });

  it('converts cpu_usage when it is given as a gauge', () => {
    expect(one('cpu_usage > 90%', { metrics: { cpu_usage: 'gauge' } }).expr).toBe(
      'sum by (component) (cpu_usage{component="api_gateway"}) > 0.9',
    );
  });
});

describe('toPrometheusRules: YAML', () => {
  it('quotes and escapes awkward names, descriptions, labels and templates', () => {
    const result = toPrometheusRules(
      rulesOf({
        name: 'Say "hi" \\ {{ $value }}',
        description: 'line one\nline two\ttab \u2028 é 🚀',
        severity: 'info',
        component: 'we"ird\\comp',
        condition: 'db_connections > 1',
        labels: { team: 'a: b', empty: '' },
        annotations: { runbook: '#{{x}}' },
      }).map((rule) => ({
        ...rule,
        // Not from the monitor (it validates names): sanitised all the same.
        labels: { ...rule.labels, 'team.name': 'c', alertname: 'x', '': 'empty name' },
        annotations: { ...rule.annotations, 'runbook-url': 'u' },
      })),
      { metrics: METRICS },
    );
    expect(result.converted).toBe(1);
    const yaml = result.yaml;
    expect(yaml).toContain('  - name: "prsm-we\\"ird\\\\comp"');
    expect(yaml).toContain('      - alert: "Say \\"hi\\" \\\\ {{ $value }}"');
    expect(yaml).toContain('db_connections{component=\\"we\\\\\\"ird\\\\\\\\comp\\"}');
    expect(yaml).toContain('"description": "line one\\nline two\\ttab \\u2028 é 🚀"');
    expect(yaml).toContain('"team": "a: b"');
    expect(yaml).toContain('"team_name": "c"');
    expect(yaml).toContain('"runbook_url": "u"');
    expect(yaml).toContain('"_": "empty name"');
    expect(yaml).not.toContain('"alertname"');
    expect(yaml).not.toContain('"empty"');
    expect(yaml).toContain('"runbook": "#{{ \\"{{\\" }}x}}"');
  });
});

function promtool(
  args: string[],
  files: Record<string, string>,
): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'prsm-rules-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const result = spawnSync(findBinary('promtool')!, args, { cwd: dir, encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fixtureRules(): AlertRule[] {
  return rulesOf(
    {
      name: 'High API Error Rate',
      severity: 'high',
      condition: 'error_rate > 0.10',
      durationSeconds: 300,
    },
    {
      name: 'Database Connection Pool Exhaustion',
      severity: 'critical',
      component: 'database',
      condition: 'db_connections > 0.80 * max_connections',
      durationSeconds: 120,
      keepFiringForSeconds: 60,
      labels: { team: 'dba' },
      annotations: { runbook: 'https://runbooks.example/{{db}}' },
    },
    {
      name: 'Recommendation "Accuracy" Drop',
      description: 'Accuracy < 75%\nsee {{ $labels.component }}',
      severity: 'medium',
      component: 'recommendation engine',
      condition: 'recommendation_accuracy < 0.75',
      threshold: 0.75,
    },
    {
      name: 'Slow API',
      severity: 'high',
      condition: 'p99(api.latency) > 500ms',
      durationSeconds: 1.5,
    },
    {
      name: 'Failing orders',
      severity: 'low',
      condition: 'rate(orders.failed[5m]) > 2 or not count(api.latency[5m]) >= 100',
    },
    {
      name: 'Latency spread',
      severity: 'info',
      condition:
        '(p95(api.latency) - p50(api.latency)) / p50(api.latency) > 3 and -avg(response.size) < -1',
    },
  );
}

if (binaryAvailable('promtool', 'rules.test.ts', 'promtool check rules')) {
  describe('promtool', () => {
    it('check rules: accepts the generated file', () => {
      const result = toPrometheusRules(fixtureRules(), { metrics: METRICS });
      expect(result.converted).toBe(5);
      expect(result.skipped).toHaveLength(1);
      const check = promtool(['check', 'rules', 'rules.yml'], { 'rules.yml': result.yaml });
      expect(check.output).toContain('SUCCESS: 5 rules found');
      expect(check.status).toBe(0);
    });

    it('check rules: is a real check (rejects a broken expression)', () => {
      const check = promtool(['check', 'rules', 'rules.yml'], {
        'rules.yml':
          'groups:\n  - name: "x"\n    rules:\n      - alert: "a"\n        expr: "sum by ("\n',
      });
      expect(check.status).not.toBe(0);
    });

    it('test rules: a converted rule fires on given series, and not below its threshold', () => {
      const result = toPrometheusRules(fixtureRules(), { metrics: METRICS });
      const tests = [
        'rule_files:',
        '  - rules.yml',
        'evaluation_interval: 1m',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        '      - series: \'db_connections{component="database",pool="a"}\'',
        "        values: '50x10'",
        '      - series: \'db_connections{component="database",pool="b"}\'',
        "        values: '10x4 40x6'",
        '      - series: \'max_connections{component="database"}\'',
        "        values: '100x10'",
        '    alert_rule_test:',
        '      - eval_time: 3m',
        '        alertname: Database Connection Pool Exhaustion',
        '        exp_alerts: []',
        '      - eval_time: 9m',
        '        alertname: Database Connection Pool Exhaustion',
        '        exp_alerts:',
        '          - exp_labels:',
        '              component: database',
        '              severity: critical',
        '              team: dba',
        '            exp_annotations:',
        '              runbook: "https://runbooks.example/{{db}}"',
        '              condition: "db_connections > 0.80 * max_connections"',
        '',
      ].join('\n');
      const run = promtool(['test', 'rules', 'tests.yml'], {
        'rules.yml': result.yaml,
        'tests.yml': tests,
      });
      expect(run.output).toContain('SUCCESS');
      expect(run.status).toBe(0);
    });
  });
}
