/**
 * The business side of the demo service: `BusinessOutcomes` on the service's monitor
 * (the global one `@recordBusinessOutcome` records on), the marketplace funnel
 * (view → cart → purchase, fed by the service's routes), and the revenue KPIs with a
 * target. Then the KPIs reach the monitoring server as `POST /business-metrics`
 * bodies, for its business dashboard.
 */
import {
  BusinessOutcomes,
  setGlobalBusinessOutcomes,
  type BusinessMetricBody,
} from '@prsm/business-outcomes';
import type { Monitor } from '@prsm/core';
import type { ApiClient } from './backend.js';

/** The service's business outcomes, set as the global ones the decorators record on. */
export function createOutcomes(monitor: Monitor): BusinessOutcomes {
  const outcomes = new BusinessOutcomes({ monitor, marketSize: 150_000 });
  setGlobalBusinessOutcomes(outcomes);
  outcomes.defineFunnel({ name: 'marketplace', steps: ['view', 'cart', 'purchase'] });
  outcomes.recordMetric({
    metricName: 'monthly_recurring_revenue',
    value: 125_000,
    dimension: 'monthly',
    target: 150_000,
    metadata: { currency: 'USD', segment: 'enterprise' },
  });
  outcomes.recordRevenue({ mrr: 125_000, customers: 830, churnRate: 0.03, mrrTarget: 150_000 });
  return outcomes;
}

/**
 * Sends the KPIs to the server unless they already reached it: when the REST exporter
 * carries business metrics the dashboard has them; otherwise each KPI is posted to
 * `POST /business-metrics` with `ingest`'s key. Returns how many were posted.
 */
export async function sendBusinessMetrics(
  outcomes: BusinessOutcomes,
  ingest: ApiClient,
  reader: ApiClient,
): Promise<number> {
  const dashboard = await reader.get<{ kpis?: Record<string, number> }>('/business-dashboard');
  if (dashboard.status === 200 && Object.keys(dashboard.body.kpis ?? {}).length > 0) return 0;
  const bodies: BusinessMetricBody[] = outcomes.businessMetricBodies();
  for (const body of bodies) {
    const r = await ingest.post<unknown>('/business-metrics', body);
    if (r.status !== 200) {
      throw new Error(
        `POST /business-metrics ${body.metric_name}: HTTP ${r.status} ${JSON.stringify(r.body)}`,
      );
    }
  }
  return bodies.length;
}
