/**
 * The spec's component matrix across packages: `MonitoringComponent` accepted by the
 * decorators (types and behaviour), the helpers' keys in analytics, and the cost gauges
 * in the Prometheus exposition.
 */
import {
  type ComponentName,
  ManualClock,
  Monitor,
  MonitoringComponent,
  setGlobalMonitor,
} from '@prsm/core';
import { instrument, monitored, monitorPerformance } from '@prsm/decorators';
import type { InstrumentFunctionOptions } from '@prsm/decorators';
import { toPrometheusText } from '@prsm/exporters/prometheus';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';

const T0 = Date.UTC(2024, 0, 15, 14, 30);
let monitor: Monitor | undefined;

afterEach(async () => {
  setGlobalMonitor(undefined);
  await monitor?.shutdown();
  monitor = undefined;
});

describe('MonitoringComponent with the decorators', () => {
  it('is the component type of every decorator (types)', () => {
    expectTypeOf<Parameters<typeof monitorPerformance>[0]>().toEqualTypeOf<ComponentName>();
    expectTypeOf<Parameters<typeof monitored>[0]>().toEqualTypeOf<ComponentName>();
    expectTypeOf<InstrumentFunctionOptions['component']>().toEqualTypeOf<ComponentName>();
  });

  it('records decorated methods and instrumented functions under the constant', async () => {
    const clock = new ManualClock(T0);
    monitor = new Monitor({ clock });
    setGlobalMonitor(monitor);
    class RecommendationService {
      generate(userId: string): Promise<string[]> {
        clock.advance(245);
        return Promise.resolve([userId]);
      }
    }
    // The legacy decorator form, applied by hand (as `@monitorPerformance(...)` compiles).
    const descriptor = Object.getOwnPropertyDescriptor(
      RecommendationService.prototype,
      'generate',
    )!;
    const decorated = monitorPerformance(
      MonitoringComponent.RECOMMENDATION,
      'generate_recommendations',
    )(RecommendationService.prototype, 'generate', descriptor) as PropertyDescriptor | undefined;
    Object.defineProperty(RecommendationService.prototype, 'generate', decorated ?? descriptor);
    expect(await new RecommendationService().generate('user_123')).toEqual(['user_123']);

    const search = instrument(
      (q: string): number => {
        clock.advance(180);
        return q.length;
      },
      { component: MonitoringComponent.MARKETPLACE, operation: 'marketplace_search' },
    );
    expect(search('gpu')).toBe(3);

    // The decorators' timer is `operation.duration`, tagged by operation, in the component.
    const stats = (component: ComponentName, operation: string) =>
      monitor!.getStats('operation.duration', { component, tags: { operation } });
    expect(stats(MonitoringComponent.RECOMMENDATION, 'generate_recommendations')).toMatchObject({
      count: 1,
      mean: 245,
    });
    expect(stats(MonitoringComponent.MARKETPLACE, 'marketplace_search')).toMatchObject({
      count: 1,
      mean: 180,
    });
    expect(
      monitor.analytics({ component: MonitoringComponent.RECOMMENDATION }).summary.total_requests,
    ).toBe(1);
  });
});

describe('component helpers end to end', () => {
  it('puts the helpers in analytics and the cost gauges in the Prometheus exposition', () => {
    const clock = new ManualClock(T0);
    monitor = new Monitor({
      clock,
      costs: { computePerHour: 2, storagePerGbMonth: 0.1, bandwidthPerGb: 0.05 },
    });
    monitor.marketplace.browse(100);
    for (let i = 0; i < 3; i++) monitor.marketplace.transaction({ success: true });
    monitor.marketplace.search({ latencyMs: 12, results: 5, cacheHit: true });
    monitor.marketplace.search({ latencyMs: 90, results: 5, cacheHit: false });
    monitor.jobs.start('distill_1', { total: 100, kind: 'multi_teacher' });
    clock.advance(10_000);
    monitor.jobs.progress('distill_1', 50);
    monitor.costs.setStorage(200);
    monitor.costs.refresh();

    const mp = monitor.analytics({ component: MonitoringComponent.MARKETPLACE });
    expect(mp.component_specific).toMatchObject({
      conversion_rate: 0.03,
      search_cache_hit_rate: 0.5,
      transaction_success_rate: 1,
    });
    const job = monitor.analytics({ component: MonitoringComponent.DISTILLATION });
    expect(job.component_specific).toMatchObject({
      jobs_active: 1,
      job_progress: 0.5,
      job_eta_seconds: 10,
    });

    const text = toPrometheusText(monitor.snapshot());
    expect(text).toMatch(/storage_cost_per_gb_month\{[^}]*component="costs"[^}]*\} 0\.1/);
    expect(text).toMatch(/storage_cost_per_month\{[^}]*\} 20/);
    expect(text).toMatch(/cache_hit_ratio\{[^}]*cache="search"[^}]*\} 0\.5/);
  });
});
