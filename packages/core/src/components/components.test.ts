import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readComponentSpecific } from '../analytics/component-specific.js';
import { snapshotSource } from '../analytics/source.js';
import { ManualClock } from '../clock/clock.js';
import type { ExportItem } from '../export/items.js';
import type { Exporter } from '../export/pipeline.js';
import { Monitor } from '../monitor.js';
import { nvidiaSmiProbe, parseNvidiaSmi } from './gpu.js';
import { isMonitoringComponent, MonitoringComponent } from './names.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.shutdown();
  monitor = undefined;
});

function setup(options: ConstructorParameters<typeof Monitor>[0] = {}): {
  m: Monitor;
  clock: ManualClock;
} {
  const clock = new ManualClock(T0);
  const m = new Monitor({ clock, alerting: { evaluationIntervalSeconds: 0 }, ...options });
  monitor = m;
  return { m, clock };
}

describe('MonitoringComponent', () => {
  it('holds the spec components and is accepted by recording, alerts and analytics', () => {
    expect(MonitoringComponent).toMatchObject({
      API_GATEWAY: 'api_gateway',
      MARKETPLACE: 'marketplace',
      RECOMMENDATION: 'recommendation',
      DISTILLATION: 'distillation',
      SECURITY: 'security',
      DATABASE: 'database',
    });
    expect(Object.isFrozen(MonitoringComponent)).toBe(true);
    expect(isMonitoringComponent('api_gateway')).toBe(true);
    expect(isMonitoringComponent('billing')).toBe(false);
    const { m } = setup();
    m.gauge('recommendation_accuracy', { component: MonitoringComponent.RECOMMENDATION }).set(0.7);
    m.recordMetric({
      name: 'db_connections',
      value: 3,
      metricType: 'gauge',
      component: MonitoringComponent.DATABASE,
    });
    const rule = m.alerts.create({
      name: 'Recommendation Model Performance',
      severity: 'high',
      component: MonitoringComponent.RECOMMENDATION,
      condition: 'recommendation_accuracy < 0.75',
    });
    m.alerts.evaluate();
    expect(m.alerts.active().map((a) => a.ruleId)).toContain(rule.id);
    const report = m.analytics({ component: MonitoringComponent.RECOMMENDATION });
    expect(report.component).toBe('recommendation');
    expect(report.component_specific['recommendation_accuracy']).toBe(0.7);
    expect(
      m.getRates('db_connections', { component: MonitoringComponent.DATABASE }),
    ).toBeUndefined();
    // A plain string of the service's own still works.
    m.counter('invoices.sent', { component: 'billing' }).inc();
    expect(
      m.getRates('invoices.sent', { component: 'billing', windowSeconds: 'cumulative' })?.count,
    ).toBe(1);
  });
});

describe('monitor.marketplace', () => {
  it('records the matrix metrics and feeds component_specific with the spec names', () => {
    const { m } = setup();
    const mp = m.marketplace;
    mp.resource('created', { type: 'model' });
    mp.resource('created', { type: 'dataset' });
    mp.resource('updated');
    mp.resource('deleted', { type: 'model' });
    for (let i = 0; i < 100; i++) {
      const hit = i % 100 < 78;
      mp.search({ latencyMs: hit ? 5 : 105, results: i % 10 === 0 ? 0 : 20, cacheHit: hit });
    }
    for (let i = 0; i < 1000; i++) mp.browse();
    for (let i = 0; i < 34; i++) mp.transaction({ success: true });
    for (let i = 0; i < 4; i++) mp.transaction({ success: false, reason: 'card_declined' });
    mp.transaction({ success: false, reason: 'Payment Timeout' });
    mp.transaction({ success: false });

    const specific = m.analytics({ component: MonitoringComponent.MARKETPLACE }).component_specific;
    expect(specific).toMatchObject({
      resources_created: 2,
      resources_updated: 1,
      resources_deleted: 1,
      searches: 100,
      search_cache_hit_rate: 0.78,
      search_cache_latency_saved_ms: 100,
      search_results_avg: 18,
      search_zero_result_rate: 0.1,
      search_error_rate: 0,
      transactions: 40,
      transaction_success_rate: 0.85,
      transaction_failure_rate: 0.15,
      transaction_failures_card_declined: 4,
      transaction_failures_payment_timeout: 1,
      transaction_failures_unknown: 1,
      browse_sessions: 1000,
      conversion_rate: 0.034,
    });
    expect(specific['search_latency_p50_ms']).toBeCloseTo(5, 0);
    expect(specific['search_latency_p99_ms']).toBeCloseTo(105, 0);
    // The series are there for exporters and alert rules.
    expect(
      m.getRates('marketplace.resources', {
        component: 'marketplace',
        tags: { action: 'created', resource_type: 'model' },
        windowSeconds: 'cumulative',
      })?.count,
    ).toBe(1);
    expect(
      m.getRates('marketplace.transactions', {
        component: 'marketplace',
        tags: { outcome: 'failure', reason: 'card_declined' },
        windowSeconds: 'cumulative',
      })?.count,
    ).toBe(4);
    expect(m.getStats('marketplace_search', { component: 'marketplace' })?.count).toBe(100);
    const top = m.analytics({ component: 'marketplace' }).top_operations;
    expect(top.map((o) => o.operation)).toContain('marketplace_search');
  });

  it('drops bad input without throwing and counts it', () => {
    const { m } = setup();
    const before = m.diagnostics.counts()['PRSM_INVALID_VALUE'] ?? 0;
    expect(() => {
      m.marketplace.resource('archived' as never);
      m.marketplace.search({ latencyMs: -1, results: 3 });
      m.marketplace.search(null as never);
      m.marketplace.transaction({} as never);
      m.marketplace.browse(Number.NaN);
    }).not.toThrow();
    expect((m.diagnostics.counts()['PRSM_INVALID_VALUE'] ?? 0) - before).toBe(5);
    expect(m.marketplace.specific()).toEqual({});
  });
});

describe('monitor.recommendation', () => {
  it('records quality, inference, cache and interaction under the spec names', () => {
    const { m } = setup();
    const r = m.recommendation;
    r.quality({ accuracy: 0.87, relevance: 0.82, diversity: 0.85 });
    for (let i = 0; i < 10; i++)
      r.inference({ latencyMs: i < 6 ? 10 : 190, cacheHit: i < 6, predictions: 20 });
    r.inference({ latencyMs: 250, error: true });
    r.interaction({ impressions: 100, clicks: 12, engagements: 5 });
    r.quality({ accuracy: 2 }); // refused: outside 0..1
    const specific = m.analytics({
      component: MonitoringComponent.RECOMMENDATION,
    }).component_specific;
    expect(specific).toMatchObject({
      recommendation_accuracy: 0.87,
      recommendation_relevance: 0.82,
      recommendation_diversity: 0.85,
      inferences: 11,
      predictions: 201,
      inference_error_rate: 0.0909,
      recommendation_cache_hit_rate: 0.6,
      recommendation_cache_latency_saved_ms: 180,
      impressions: 100,
      recommendation_click_rate: 0.12,
      recommendation_engagement_rate: 0.05,
    });
    expect(specific['inference_latency_p99_ms']).toBeGreaterThan(190);
    // Gauges readable by alert rules, as in the spec's example.
    m.alerts.create({
      name: 'Recommendation Model Performance',
      severity: 'high',
      component: MonitoringComponent.RECOMMENDATION,
      condition: 'recommendation_accuracy < 0.9',
    });
    m.alerts.evaluate();
    expect(m.alerts.active()).toHaveLength(1);
    expect(
      m.getRates('ml.predictions', { component: 'recommendation', windowSeconds: 'cumulative' })
        ?.count,
    ).toBe(201);
  });
});

describe('monitor.caches', () => {
  it('tracks hit rate and latency saved per hit per cache, with a miss penalty fallback and a cap', () => {
    const { m } = setup({ caches: { maxCaches: 2, missPenaltyMs: { profile: 40 } } });
    m.caches.record('profile', true, { component: 'recommendation' });
    m.caches.record('profile', true, { component: 'recommendation' });
    m.caches.record('profile', false, { component: 'recommendation' });
    m.caches.record('prices', true, { latencyMs: 2, component: 'marketplace' });
    m.caches.record('prices', false, { latencyMs: 52, component: 'marketplace' });
    m.caches.record('third', true); // over maxCaches
    expect(m.caches.dropped()).toBe(1);
    const [profile] = m.caches.stats('recommendation');
    expect(profile).toMatchObject({
      cache: 'profile',
      hits: 2,
      misses: 1,
      latencySavedPerHitMs: 40,
      latencySavedMs: 80,
    });
    expect(profile!.hitRate).toBeCloseTo(2 / 3, 10);
    expect(m.analytics({ component: 'marketplace' }).component_specific).toMatchObject({
      prices_cache_hit_rate: 0.5,
      prices_cache_latency_saved_ms: 50,
    });
    const snapshot = m.snapshot({ windows: [], digests: false, cumulativeQuantiles: false });
    const ratio = snapshot.series.find(
      (s) => s.name === 'cache.hit_ratio' && s.component === 'marketplace',
    );
    expect(ratio?.type === 'gauge' ? ratio.value : NaN).toBe(0.5);
    expect(() => new Monitor({ caches: { maxCaches: 0 } })).toThrow(/caches\.maxCaches/);
  });
});

describe('security summary', () => {
  it('summarises the security module per the matrix', () => {
    const { m } = setup();
    for (let i = 0; i < 8; i++)
      m.security.authAttempt({ userId: `u${i}`, success: true, mfa: i < 4 });
    for (let i = 0; i < 2; i++)
      m.security.authAttempt({ userId: 'x', success: false, reason: 'bad_password' });
    m.security.authorizationCheck({ userId: 'u1', permission: 'models:read', allowed: true });
    m.security.authorizationCheck({ userId: 'u1', permission: 'models:delete', allowed: false });
    m.security.rateLimited({ route: '/api/v1/search' });
    m.security.rateLimited({ route: '/api/v1/other' });
    m.security.roleChange({ userId: 'u2', role: 'viewer', granted: true });
    m.audit.record({
      user_id: 'u1',
      action: 'create_distillation_job',
      resource_type: 'distillation_jobs',
      resource_id: 'j1',
      outcome: 'success',
    });
    const s = m.analytics({ component: MonitoringComponent.SECURITY }).component_specific;
    expect(s).toMatchObject({
      auth_attempts: 10,
      auth_failures: 2,
      auth_success_rate: 0.8,
      mfa_usage_rate: 0.4,
      authz_checks: 2,
      authz_denial_rate: 0.5,
      rate_limited_requests: 2,
      role_changes: 1,
      security_incidents: 0,
      audit_entries: 1,
    });
    expect(s['audit_completeness']).toBeGreaterThan(0);
  });
});

describe('monitor.costs', () => {
  it('computes the spec cost metrics from prices and measured volumes, as analytics and gauges', () => {
    const { m, clock } = setup({
      windows: [60, 300, 900],
      costs: {
        computePerHour: 3.6,
        inferencePerHour: 1.8,
        storagePerGbMonth: 0.1,
        bandwidthPerGb: 0.05,
        otherPerMonth: 100,
      },
    });
    // 3600 requests and 360 predictions over 10 minutes: 21,600 / h and 2,160 / h.
    const http = m.timer('http.server.request.duration', {
      component: MonitoringComponent.API_GATEWAY,
    });
    for (let minute = 0; minute < 10; minute++) {
      for (let i = 0; i < 360; i++) http.record(20);
      m.recommendation.inference({ latencyMs: 30, predictions: 36 });
      m.costs.recordBandwidth(1e9); // 1 GB a minute: 60 GB / h
      clock.advance(60_000);
    }
    m.costs.setStorage(500);
    m.costs.setActiveUsers(1000);
    const r = m.costs.report();
    expect(r.volumes.requests_per_hour).toBeCloseTo(21_600, -2);
    expect(r.volumes.predictions_per_hour).toBeCloseTo(2_160, -1);
    expect(r.volumes.bandwidth_gb_per_hour).toBeCloseTo(60, 0);
    expect(r.api_cost_per_request).toBeCloseTo(3.6 / 21_600, 6);
    expect(r.ml_inference_cost_per_prediction).toBeCloseTo(1.8 / 2_160, 6);
    expect(r.storage_cost_per_gb_month).toBe(0.1);
    expect(r.storage_cost_per_month).toBe(50);
    expect(r.bandwidth_cost_per_gb).toBe(0.05);
    const monthly =
      3.6 * 730 + 1.8 * 730 + 100 + 50 + r.volumes.bandwidth_gb_per_hour! * 730 * 0.05;
    expect(r.infrastructure_cost_per_month).toBeCloseTo(monthly, 6);
    expect(r.infrastructure_cost_per_user).toBeCloseTo(monthly / 1000, 6);
    const specific = m.analytics({ component: MonitoringComponent.COSTS }).component_specific;
    expect(specific['api_cost_per_request']).toBeCloseTo(3.6 / 21_600, 6);
    expect(specific['infrastructure_cost_per_user']).toBeCloseTo(monthly / 1000, 3);
    // Exported as gauges of the costs component (what Prometheus, REST and OTLP read).
    const gauges = new Map(
      m
        .snapshot({ windows: [], digests: false, cumulativeQuantiles: false })
        .series.filter((s) => s.component === 'costs' && s.type === 'gauge')
        .map((s) => [s.name, s.type === 'gauge' ? s.value : NaN]),
    );
    expect(gauges.get('ml_inference_cost_per_prediction')).toBeCloseTo(1.8 / 2_160, 8);
    expect(gauges.get('storage_cost_per_gb_month')).toBe(0.1);
    expect(gauges.has('bandwidth_cost_per_gb')).toBe(true);
  });

  it('reports null where a price or a volume is missing, and rejects bad prices', () => {
    const { m } = setup();
    const r = m.costs.report();
    expect(r.api_cost_per_request).toBeNull();
    expect(r.infrastructure_cost_per_user).toBeNull();
    expect(() => m.costs.configure({ computePerHour: -1 })).toThrow(/costs\.computePerHour/);
    expect(() => m.costs.configure({ windowSeconds: 7 })).toThrow(/costs\.windowSeconds/);
    m.costs.configure({ storagePerGbMonth: 0.023, currency: 'EUR' });
    expect(m.costs.report()).toMatchObject({ currency: 'EUR', storage_cost_per_gb_month: 0.023 });
    expect(() => new Monitor({ costs: { bandwidthPerGb: Number.NaN } })).toThrow(TypeError);
  });

  it('reads active users from the business daily_active_users gauge when none were set', () => {
    const { m } = setup({ costs: { otherPerMonth: 2500 } });
    m.gauge('daily_active_users', { component: MonitoringComponent.BUSINESS }).set(1000);
    expect(m.costs.report().infrastructure_cost_per_user).toBe(2.5);
  });
});

describe('nvidia-smi probe', () => {
  it('reports unavailable, not zero, when the binary is absent (a real spawn)', async () => {
    const probe = nvidiaSmiProbe({ command: 'prsm-no-such-nvidia-smi' });
    expect(await probe.sample()).toEqual({
      available: false,
      reason: 'prsm-no-such-nvidia-smi not found',
    });
    expect(await probe.sample()).toMatchObject({ available: false }); // no retry spawn
  });

  it('parses the CSV of a stand-in script (this machine has no GPU: a shell script plays nvidia-smi)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prsm-gpu-'));
    try {
      const script = join(dir, 'nvidia-smi');
      writeFileSync(script, '#!/bin/sh\nprintf "90, 1024, 16384\\n70, 2048, 16384\\n"\n');
      chmodSync(script, 0o755);
      const sample = await nvidiaSmiProbe({ command: script }).sample();
      expect(sample).toEqual({
        available: true,
        reading: {
          gpus: 2,
          utilization: 0.8,
          memoryUsedBytes: 3072 * 1024 * 1024,
          memoryTotalBytes: 2 * 16384 * 1024 * 1024,
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(parseNvidiaSmi('')).toBeUndefined();
    expect(parseNvidiaSmi('[N/A], 1, 2')).toBeUndefined();
  });
});

describe('published component_specific gauges', () => {
  it('go out with each export, so a reader of the exported series sees the helper keys', async () => {
    const exported: ExportItem[] = [];
    const exporter: Exporter<ExportItem> = {
      name: 'memory',
      export: (batch) => {
        exported.push(...batch.items);
        return Promise.resolve({ ok: true });
      },
      shutdown: () => Promise.resolve(),
    };
    const { m, clock } = setup({ exporters: [exporter] });
    m.marketplace.browse(100);
    for (let i = 0; i < 4; i++) m.marketplace.transaction({ success: i > 0, reason: 'declined' });
    m.marketplace.search({ latencyMs: 40, results: 2, cacheHit: true });
    m.jobs.start('j', { total: 10 });
    clock.advance(1000);
    m.jobs.progress('j', 5);
    await m.forceFlush(1);
    const names = new Set(
      exported.flatMap((i) =>
        i.kind === 'series' ? [`${i.series.component}/${i.series.name}`] : [],
      ),
    );
    expect(names).toContain('marketplace/component_specific.conversion_rate');
    expect(names).toContain('marketplace/component_specific.search_cache_hit_rate');
    expect(names).toContain('distillation/component_specific.jobs_active');
    // Keys that come and go stay in-process: a gauge cannot be unset.
    expect(names).not.toContain('marketplace/component_specific.search_latency_p99_ms');
    expect(names).not.toContain('distillation/component_specific.job_eta_seconds');
    // What a server computes from those series alone (no helpers): the same keys.
    const reading = snapshotSource(m).read('marketplace', 300, 'none', clock.now());
    expect(readComponentSpecific(reading)).toMatchObject({
      conversion_rate: 0.03,
      transaction_success_rate: 0.75,
      transaction_failures_declined: 1,
      search_cache_hit_rate: 1,
    });
  });
});
