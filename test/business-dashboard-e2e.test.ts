/**
 * Issue 7, end to end with real parts: one service's `BusinessOutcomes` (sessions,
 * purchases, revenue, KPIs, quality samples, reliability from a timer) on a manual
 * clock, the REST exporter posting its business metrics over HTTP to a real
 * `@prsm/server` (`createServer`, listening on 127.0.0.1, a real SQLite file), and the
 * server's `GET /business-dashboard` compared key by key and type by type with the
 * in-process `outcomes.dashboard()`, across six weeks and two month boundaries.
 *
 * The server runs in this process (not as a `prsm-monitor` child) only so that it
 * shares the manual clock: it cuts periods by the time it stores each value.
 */
import { join } from 'node:path';

import { BusinessOutcomes, type BusinessDashboard } from '@prsm/business-outcomes';
import { ManualClock, Monitor } from '@prsm/core';
import { restExporter } from '@prsm/exporters/rest';
import { createServer, openStore, type MonitorStore, type PrsmServer } from '@prsm/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { query, tempDir } from '../packages/server/src/test-support.js';

const DAY = 86_400_000;
const START = Date.parse('2026-01-26T08:00:00Z'); // a Monday
const GROUPS = ['user_metrics', 'revenue_metrics', 'growth_metrics', 'quality_metrics'] as const;
const noSleep = (): Promise<void> => Promise.resolve();

let dir: ReturnType<typeof tempDir>;
let db: string;
let clock: ManualClock;
let store: MonitorStore;
let server: PrsmServer;
let keys: { ingest: string; enterprise: string };

beforeAll(async () => {
  dir = tempDir();
  db = join(dir.dir, 'monitor.db');
  clock = new ManualClock(START);
  store = openStore(db, { clock, retentionMs: 400 * DAY });
  keys = { ingest: store.createKey('ingest').key, enterprise: store.createKey('enterprise').key };
  server = await createServer({
    store,
    clock,
    port: 0,
    host: '127.0.0.1',
    rateLimit: false,
    compactIntervalMs: 0,
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  store?.close();
  dir?.remove();
});

/** A seeded uniform source in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function serverDashboard(): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}/api/v1/monitoring/business-dashboard`, {
    headers: { authorization: `Bearer ${keys.enterprise}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** The type of every leaf, key by key. */
function typeTree(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, typeTree(v)]),
  );
}

function expectSame(remote: Record<string, unknown>, local: BusinessDashboard, when: string): void {
  expect(typeTree(remote), when).toEqual(typeTree(local));
  expect(Object.keys(remote).sort(), when).toEqual(Object.keys(local).sort());
  for (const group of GROUPS) {
    const r = remote[group] as Record<string, number>;
    expect(Object.keys(r).sort(), `${when} ${group}`).toEqual(Object.keys(local[group]).sort());
    for (const [key, value] of Object.entries(local[group])) {
      expect(r[key], `${when} ${group}.${key}`).toBe(value);
    }
  }
  expect(remote['kpis'], `${when} kpis`).toEqual(local.kpis);
  expect(remote['targets'], `${when} targets`).toEqual(local.targets);
  expect(remote['trends'], `${when} trends`).toEqual(local.trends);
  expect(remote['generated_at'], when).toBe(local.generated_at);
}

describe('the server business dashboard matches the in-process one', () => {
  it('for one service, day by day, across month boundaries', async () => {
    const monitor = new Monitor({
      clock,
      exportIntervalSeconds: 3600,
      exporters: [
        restExporter({
          url: server.url!,
          apiKey: keys.ingest,
          businessPipeline: { sleep: noSleep },
        }),
      ],
      exportPipeline: { sleep: noSleep },
    });
    const outcomes = new BusinessOutcomes({
      monitor,
      marketSize: 5000,
      publishIntervalSeconds: 0,
      reliability: { sources: [{ name: 'checkout', component: 'marketplace' }] },
    });
    const checkout = monitor.timer('checkout', { component: 'marketplace' }).bind();
    const rnd = random(7);
    outcomes.defineKpi({ name: 'daily_signups', aggregation: 'sum', target: 40 });
    outcomes.defineFunnel({
      name: 'marketplace',
      steps: ['view', 'cart', 'purchase'],
      target: 0.05,
    });
    outcomes.defineKpi({ name: 'daily_active_users', target: 300 });
    const checkpoints: string[] = [];
    let full: BusinessDashboard | undefined;
    try {
      const days = 42; // to 2026-03-08
      for (let day = 0; day < days; day++) {
        clock.set(START + day * DAY);
        const month = new Date(clock.now()).getUTCMonth();
        // Users: a growing base, each day a random share of it comes back.
        const base = 100 + day * 12;
        let session = 0;
        for (let u = 0; u < base; u++) {
          if (rnd() > 0.7) continue;
          const id = `d${day}s${session++}`;
          outcomes.startSession(id, `user_${u}`);
          const pages = Math.floor(rnd() * 6);
          for (let p = 0; p < pages; p++) outcomes.pageView(id);
        }
        clock.advance(20 * 60_000);
        for (let s = 0; s < session; s++) outcomes.endSession(`d${day}s${s}`);
        // Purchases (a decorated checkout's outcome) rising; signups noisy and flat.
        for (let i = 0; i < 10 + day; i++) {
          outcomes.recordOutcome('purchase_completed', { value: 20 + (i % 3) });
        }
        outcomes.recordOutcome('daily_signups', { value: 30 + Math.floor(rnd() * 10) });
        outcomes.funnelStep('marketplace', 'view', 1000);
        outcomes.funnelStep('marketplace', 'cart', 200 + day);
        outcomes.funnelStep('marketplace', 'purchase', 30 + day);
        outcomes.recordImpression('recommendation', 500);
        outcomes.recordClick('recommendation', 60 + Math.floor(rnd() * 5));
        outcomes.recordMetric({
          metricName: 'user_satisfaction_score',
          value: 4 + Math.round(rnd() * 4) / 10,
          target: 4.5,
        });
        outcomes.recordMetric({ metricName: 'plan_price', value: 49, dimension: 'monthly' });
        outcomes.recordModelAccuracy(0.85 + rnd() * 0.04);
        outcomes.recordRecommendationRelevance(0.8 + rnd() * 0.04);
        outcomes.recordRevenue({
          mrr: [90_000, 100_000, 112_000][month]!,
          customers: 2000 + 10 * month,
          churnRate: 0.04 - 0.005 * month,
          mrrTarget: 150_000,
        });
        for (let i = 0; i < 200; i++) checkout.record(80);
        for (let i = 0; i < day % 4; i++) checkout.recordError(80);
        await monitor.forceFlush(10);
        if (day % 7 === 6 || day === days - 1) {
          let when = new Date(clock.now()).toISOString();
          full = outcomes.dashboard();
          expectSame(await serverDashboard(), full, when);
          checkpoints.push(when);
          // Early the next day, with the day's first purchase: a sum KPI's trend leaves
          // the partial day out, a snapshot's does not.
          clock.set(START + (day + 1) * DAY - 7 * 3_600_000);
          outcomes.recordOutcome('purchase_completed', { value: 20 });
          await monitor.forceFlush(10);
          when = new Date(clock.now()).toISOString();
          expectSame(await serverDashboard(), outcomes.dashboard(), when);
        }
      }
      expect(checkpoints).toHaveLength(6);

      const local = outcomes.dashboard();
      // Not a comparison of zeros: every group had data, and the trends say something.
      for (const group of GROUPS) {
        for (const [key, value] of Object.entries(full![group])) {
          expect(value, `${group}.${key}`).not.toBe(0);
        }
      }
      expect(local.trends).toMatchObject({
        purchase_completed: 'increasing',
        marketplace_conversion_rate: 'increasing',
        plan_price: 'stable',
      });
      expect(Object.values(local.trends)).toContain('stable');
      expect(local.revenue_metrics.monthly_recurring_revenue).toBe(112_000);
      expect(local.growth_metrics.revenue_growth_rate).toBeCloseTo(0.12, 10);
      expect(local.targets['daily_active_users']?.target).toBe(300);

      // Only what changed was posted: plan_price, the same value every day, once a month
      // (its body names the period its value belongs to).
      const rows = (name: string): number =>
        query<{ n: number }>(
          db,
          'SELECT COUNT(*) AS n FROM business_metrics WHERE metric_name = ?',
          name,
        )[0]!.n;
      expect(rows('plan_price')).toBe(3); // January, February, March
      expect(rows('monthly_recurring_revenue')).toBe(3);
      expect(rows('purchase_completed')).toBe(days + checkpoints.length);
      expect(monitor.exportStats().every((s) => s.dropped.failed === 0)).toBe(true);
    } finally {
      outcomes.shutdown();
      await monitor.shutdown();
    }
  }, 120_000);
});
