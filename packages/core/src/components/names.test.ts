/**
 * Type-level checks (`npm run typecheck` fails when they do not hold; vitest runs the
 * runtime half): every place a component is accepted takes `ComponentName`, which keeps
 * the spec's literal values (editor completion) and any other string.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AnalyticsQuery } from '../analytics/analytics.js';
import type { AlertRuleInput } from '../alerting/types.js';
import type { InstrumentOptions, MetricInput } from '../metrics/types.js';
import type { MonitorOptions, SeriesQuery } from '../monitor.js';
import type { JobStartOptions } from './jobs.js';
import {
  type ComponentName,
  isMonitoringComponent,
  MonitoringComponent,
  type MonitoringComponentName,
} from './names.js';

describe('ComponentName (types)', () => {
  it('is the spec literals or any string, without collapsing to string', () => {
    expectTypeOf<MonitoringComponentName>().toEqualTypeOf<
      | 'api_gateway'
      | 'marketplace'
      | 'recommendation'
      | 'distillation'
      | 'security'
      | 'database'
      | 'system'
      | 'tasks'
      | 'business'
      | 'costs'
    >();
    expectTypeOf<ComponentName>().not.toEqualTypeOf<string>();
    expectTypeOf<typeof MonitoringComponent.API_GATEWAY>().toEqualTypeOf<'api_gateway'>();
    expectTypeOf<'billing'>().toExtend<ComponentName>();
    expectTypeOf<MonitoringComponentName>().toExtend<ComponentName>();
    expectTypeOf<ComponentName>().toExtend<string>();
  });

  it('is what every component option takes', () => {
    expectTypeOf<NonNullable<InstrumentOptions['component']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<MetricInput['component']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<AlertRuleInput['component']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<AnalyticsQuery['component']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<SeriesQuery['component']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<MonitorOptions['defaultComponent']>>().toEqualTypeOf<ComponentName>();
    expectTypeOf<NonNullable<JobStartOptions['component']>>().toEqualTypeOf<ComponentName>();
  });

  it('has runtime values equal to their keys in snake case', () => {
    for (const [key, value] of Object.entries(MonitoringComponent)) {
      expect(value).toBe(key.toLowerCase());
      expect(isMonitoringComponent(value)).toBe(true);
    }
    expect(isMonitoringComponent(42)).toBe(false);
  });
});
