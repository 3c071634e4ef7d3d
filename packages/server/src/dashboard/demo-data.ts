/**
 * Test support for the dashboard: fills a running server with demo data through its
 * real ingest routes (`/batch` with per-minute digests for the last minutes, `/metrics`,
 * `/traces`, `/business-metrics`, `/alerts`), and remembers what it sent so a test can
 * compare. Not exported by the package.
 */
import { randomBytes } from 'node:crypto';

import { Monitor } from '@prsm/core';

const MINUTE = 60_000;

/** The two services {@link seedDemo} sends timers from (`service.name` of their batches). */
export const DEMO_SERVICES = ['demo-service', 'inventory-service'] as const;

/** What {@link seedDemo} sent. */
export interface DemoSeed {
  /** Every latency sample per component (ms), all minutes and both services together. */
  readonly samples: Map<string, number[]>;
  /** Failed samples per component (both services). */
  readonly errors: Map<string, number>;
  /** Every latency sample per service, then component (ms). */
  readonly byService: Map<string, Map<string, number[]>>;
  /** The trace sent, with its root operation's name. */
  readonly traceId: string;
  readonly traceSpans: number;
  /** The trace of `marketplace_checkout`'s exemplar (sent in its last sub-window). */
  readonly exemplarTraceId: string;
  readonly exemplarSpans: number;
  /** The alert rules created (ids). */
  readonly ruleIds: string[];
  /** The audit entries sent (their actions, oldest first). */
  readonly auditActions: string[];
}

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function post(api: string, key: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${api}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/** Integer samples (exact in float32, so the digest's centroids are exact too). */
function subWindow(
  start: number,
  values: readonly number[],
  errors: number,
): Record<string, unknown> {
  const sorted = [...values].sort((a, b) => a - b);
  const pairs = new Float32Array(sorted.length * 2);
  sorted.forEach((v, i) => {
    pairs[2 * i] = v;
    pairs[2 * i + 1] = 1;
  });
  return {
    start_time: new Date(start).toISOString(),
    seconds: 60,
    partial: false,
    count: sorted.length,
    sum: sorted.reduce((a, b) => a + b, 0),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    error_count: errors,
    centroids: Buffer.from(pairs.buffer).toString('base64'),
  };
}

type Components = Readonly<Record<string, { ops: string[]; base: number; errorRate: number }>>;

const COMPONENTS: Components = {
  marketplace: { ops: ['marketplace_search', 'marketplace_checkout'], base: 120, errorRate: 0.04 },
  recommendation: { ops: ['recommendation_generation'], base: 200, errorRate: 0.01 },
  api_gateway: { ops: ['GET /api/items', 'POST /api/orders'], base: 25, errorRate: 0.002 },
};

/** The second service: the same component and operation, four times slower. */
const SECOND: Components = {
  marketplace: { ops: ['marketplace_search'], base: 480, errorRate: 0.02 },
};

/**
 * Sends the demo data: `minutes` minutes of timer sub-windows per operation from two
 * services ({@link DEMO_SERVICES}: the second sends `marketplace_search` of component
 * `marketplace` too, slower), resource gauges, one trace of five spans whose root is
 * `marketplace_search`, business KPIs with targets (twice, for trends), and two alert
 * rules that fire at once.
 */
export async function seedDemo(
  api: string,
  keys: { ingest: string; admin: string },
  now: number,
  minutes = 15,
): Promise<DemoSeed> {
  const first = rng(42);
  const exemplarTraceId = randomBytes(16).toString('hex');
  const exemplarRoot = randomBytes(8).toString('hex');
  const samples = new Map<string, number[]>();
  const errors = new Map<string, number>();
  const byService = new Map<string, Map<string, number[]>>();
  const senders: [string, Components, () => number][] = [
    [DEMO_SERVICES[0], COMPONENTS, first],
    [DEMO_SERVICES[1], SECOND, rng(7)],
  ];
  for (const [index, [service, components, random]] of senders.entries()) {
    const own = new Map<string, number[]>();
    byService.set(service, own);
    const metrics: Record<string, unknown>[] = [];
    for (const [component, spec] of Object.entries(components)) {
      for (const op of spec.ops) {
        const windows: Record<string, unknown>[] = [];
        let count = 0;
        let sum = 0;
        for (let m = minutes - 1; m >= 0; m -= 1) {
          const start = Math.floor(now / MINUTE) * MINUTE - m * MINUTE;
          const n = 20 + Math.floor(random() * 20);
          const values = Array.from({ length: n }, () =>
            Math.max(1, Math.round(spec.base * (0.5 + random()) * (random() < 0.05 ? 4 : 1))),
          );
          const failed = values.filter(() => random() < spec.errorRate).length;
          const w = subWindow(start, values, failed);
          // The checkout's last minute carries an exemplar: its slowest value, traced.
          if (op === 'marketplace_checkout' && m === 0) {
            w['exemplars'] = [
              { value: Math.max(...values), trace_id: exemplarTraceId, span_id: exemplarRoot },
            ];
          }
          windows.push(w);
          samples.set(component, [...(samples.get(component) ?? []), ...values]);
          own.set(component, [...(own.get(component) ?? []), ...values]);
          errors.set(component, (errors.get(component) ?? 0) + failed);
          count += n;
          sum += values.reduce((a, b) => a + b, 0);
        }
        metrics.push({
          metric_name: 'operation.duration',
          component,
          tags: { operation: op },
          labels: {},
          timestamp: new Date(now).toISOString(),
          metric_type: 'timer',
          value: sum / count,
          unit: 'ms',
          count,
          sum,
          windows: [],
          sub_windows: windows,
        });
      }
    }
    await post(api, keys.ingest, '/batch', {
      batch_id: `demo-${randomBytes(6).toString('hex')}`,
      source: {
        instance_id: `demo-instance-${index + 1}`,
        resource: { 'service.name': service },
      },
      sent_at: new Date(now).toISOString(),
      metrics,
      traces: [],
      alerts: [],
    });
  }

  await post(api, keys.ingest, '/metrics', {
    metrics: [
      { name: 'cpu_usage', value: 0.452, metric_type: 'gauge', component: 'system' },
      { name: 'memory_usage', value: 0.681, metric_type: 'gauge', component: 'system' },
      { name: 'disk_usage', value: 0.237, metric_type: 'gauge', component: 'system' },
      {
        name: 'network_io.bytes_sent',
        value: 1_048_576,
        metric_type: 'counter',
        component: 'system',
      },
      {
        name: 'network_io.bytes_recv',
        value: 2_097_152,
        metric_type: 'counter',
        component: 'system',
      },
    ],
  });

  const traceId = randomBytes(16).toString('hex');
  const rootId = randomBytes(8).toString('hex');
  const t0 = now - 5_000;
  const span = (
    name: string,
    offset: number,
    ms: number,
    parent: string | undefined,
    status: 'success' | 'error' = 'success',
    attributes: Record<string, string | number | boolean> = {},
  ): Record<string, unknown> => ({
    trace_id: traceId,
    span_id: parent === undefined ? rootId : randomBytes(8).toString('hex'),
    ...(parent === undefined ? {} : { parent_span_id: parent }),
    name,
    start_time: new Date(t0 + offset).toISOString(),
    end_time: new Date(t0 + offset + ms).toISOString(),
    duration_ms: ms,
    status,
    attributes,
    component: 'marketplace',
  });
  const spans = [
    span('marketplace_search', 0, 612, undefined),
    span('user_preference_lookup', 4, 25, rootId, 'success', { cache_hit: true }),
    span('search_index_query', 32, 410, rootId, 'success', { shard_count: 4 }),
    span('recommendation_model_inference', 445, 140, rootId, 'success', { model_version: 'v2.1' }),
    span('response_formatting', 590, 20, rootId, 'error', { retry: 1 }),
  ];
  await post(api, keys.ingest, '/traces', { spans });
  const checkout = (
    name: string,
    id: string,
    parent: string | undefined,
    offset: number,
    ms: number,
  ): Record<string, unknown> => ({
    trace_id: exemplarTraceId,
    span_id: id,
    ...(parent === undefined ? {} : { parent_span_id: parent }),
    name,
    start_time: new Date(t0 + offset).toISOString(),
    end_time: new Date(t0 + offset + ms).toISOString(),
    duration_ms: ms,
    status: 'success',
    attributes: {},
    component: 'marketplace',
  });
  const exemplarSpans = [
    checkout('marketplace_checkout', exemplarRoot, undefined, 0, 480),
    checkout('payment_authorize', randomBytes(8).toString('hex'), exemplarRoot, 10, 300),
    checkout('order_persist', randomBytes(8).toString('hex'), exemplarRoot, 320, 150),
  ];
  await post(api, keys.ingest, '/traces', { spans: exemplarSpans });

  const kpis: [string, number, number | undefined][] = [
    ['daily_active_users', 12_000, 15_000],
    ['monthly_recurring_revenue', 120_000, 150_000],
    ['recommendation_click_rate', 0.12, 0.15],
    ['user_satisfaction_score', 4.2, 4.5],
    ['session_duration_avg', 12.5, undefined],
    ['revenue_growth_rate', 0.22, undefined],
  ];
  for (const factor of [0.9, 1]) {
    for (const [name, value, target] of kpis) {
      await post(api, keys.ingest, '/business-metrics', {
        metric_name: name,
        value: Number((value * (name === 'user_satisfaction_score' ? 1 : factor)).toFixed(4)),
        dimension: 'daily',
        ...(target === undefined ? {} : { target }),
      });
    }
  }

  const ruleIds: string[] = [];
  for (const rule of [
    {
      name: 'High marketplace error rate',
      severity: 'high',
      component: 'marketplace',
      condition: 'error_rate > 0.005',
      threshold: 0.005,
      duration_seconds: 0,
    },
    {
      name: 'CPU above 30%',
      severity: 'critical',
      component: 'system',
      condition: 'cpu_usage > 0.3',
      threshold: 0.3,
      duration_seconds: 0,
    },
  ]) {
    const created = (await post(api, keys.admin, '/alerts', rule)) as { alert_id: string };
    ruleIds.push(created.alert_id);
  }
  // An audit chain made by core's audit log, as a service's restAuditSink sends it.
  const audited = new Monitor({ audit: {}, health: { resources: false } });
  const auditActions: string[] = [];
  for (const [user, action, outcome] of [
    ['user_123', 'create_distillation_job', 'success'],
    ['user_456', 'login', 'failure'],
    ['user_456', 'login', 'failure'],
    ['admin_1', 'update_alert_rule', 'success'],
  ] as const) {
    audited.audit.record({
      user_id: user,
      action,
      resource_type: action === 'login' ? 'sessions' : 'jobs',
      resource_id: `res_${auditActions.length}`,
      outcome,
      ip_address: '192.168.1.100',
      compliance_tags: ['SOC2'],
    });
    auditActions.push(action);
  }
  const entries = [...audited.audit.sink.read()].map((l) => JSON.parse(l) as unknown);
  await audited.shutdown();
  await post(api, keys.ingest, '/audit', { source: 'demo-service', entries });
  return {
    samples,
    errors,
    byService,
    traceId,
    traceSpans: spans.length,
    exemplarTraceId,
    exemplarSpans: exemplarSpans.length,
    ruleIds,
    auditActions,
  };
}

/**
 * Stores `count` more series (1,000 a request) for the "10,000 series stored" target:
 * half gauges, half timers (one sample each, so one digest each to merge).
 */
export async function seedSeries(api: string, ingestKey: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const n = Math.min(1000, count - i);
    await post(api, ingestKey, '/metrics', {
      metrics: Array.from({ length: n }, (_, j) => {
        const k = i + j;
        return k % 2 === 0
          ? {
              name: 'demo.queue_depth',
              value: k % 97,
              metric_type: 'gauge',
              component: 'workers',
              tags: { worker: `w${k}` },
            }
          : {
              name: 'demo.job.duration',
              value: 5 + (k % 113),
              metric_type: 'timer',
              component: 'workers',
              tags: { worker: `w${k}` },
            };
      }),
    });
  }
}
