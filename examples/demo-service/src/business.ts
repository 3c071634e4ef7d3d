/**
 * The business part of the demo: a small shop whose checkout and recommendation
 * methods are decorated with `@recordBusinessOutcome`, sessions and a funnel driven
 * by simulated visitors (on a manual clock: their pages take time), a KPI with a
 * target, then the spec's business dashboard.
 */
import {
  BusinessOutcomes,
  recordBusinessOutcome,
  setGlobalBusinessOutcomes,
} from '@prsm/business-outcomes';
import { ManualClock, type Monitor } from '@prsm/core';

interface Receipt {
  readonly total: number;
  readonly status: 'paid' | 'declined';
}

class Shop {
  #orders = 0;

  @recordBusinessOutcome('purchase_revenue', {
    dimension: ['daily', 'monthly'],
    value: (receipt: Receipt) => receipt.total,
    when: (receipt: Receipt) => receipt.status === 'paid',
  })
  checkout(items: number): Receipt {
    const order = ++this.#orders;
    // One card in eleven is declined: no revenue counted for it.
    return { total: 19.5 * items, status: order % 11 === 0 ? 'declined' : 'paid' };
  }

  @recordBusinessOutcome('recommendation_generated')
  recommend(userId: string): string[] {
    return [`${userId}-pick-1`, `${userId}-pick-2`, `${userId}-pick-3`];
  }
}

/** Simulates `visitors` sessions and prints the business dashboard. */
export function runBusinessDemo(monitor: Monitor, visitors: number): void {
  console.log('\n--- Business outcomes ---\n');
  // The visitors' time is simulated (40 s a page), so sessions last what they would:
  // from midnight (UTC) today, all within the day, so the output is the same whenever
  // the demo runs.
  const today = new Date();
  const clock = new ManualClock(
    Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()),
  );
  const outcomes = new BusinessOutcomes({ monitor, clock, marketSize: 150_000 });
  setGlobalBusinessOutcomes(outcomes);
  const shop = new Shop();
  outcomes.defineFunnel({ name: 'marketplace', steps: ['view', 'cart', 'purchase'] });
  for (let v = 0; v < visitors; v++) {
    const session = `s${v}`;
    const user = `user_${v % Math.ceil(visitors * 0.7)}`; // some users come back
    outcomes.startSession(session, user);
    outcomes.funnelStep('marketplace', 'view');
    outcomes.recordImpression('recommendation', shop.recommend(user).length);
    const pages = 1 + (v % 5);
    for (let p = 1; p < pages; p++) {
      clock.advance(40_000);
      outcomes.pageView(session);
    }
    if (v % 3 === 0) {
      outcomes.recordClick('recommendation');
      outcomes.funnelStep('marketplace', 'cart');
      if (v % 6 === 0) {
        shop.checkout(1 + (v % 4));
        outcomes.funnelStep('marketplace', 'purchase');
      }
    }
    clock.advance(20_000);
    outcomes.endSession(session);
  }
  outcomes.recordMetric({
    metricName: 'monthly_recurring_revenue',
    value: 125_000,
    dimension: 'monthly',
    target: 150_000,
    metadata: { currency: 'USD', segment: 'enterprise' },
  });
  outcomes.recordRevenue({ mrr: 125_000, customers: 830, churnRate: 0.03, mrrTarget: 150_000 });
  const dashboard = outcomes.dashboard();
  console.log(
    `${visitors} visitors; KPIs: ` +
      Object.entries(dashboard.kpis)
        .map(([name, value]) => `${name} ${Number(value).toFixed(2)}`)
        .join(', '),
  );
  for (const [name, t] of Object.entries(dashboard.targets)) {
    console.log(`target ${name}: ${t.current} of ${t.target} (achievement ${t.achievement})`);
  }
  console.log('user metrics:', JSON.stringify(dashboard.user_metrics));
  console.log('revenue metrics:', JSON.stringify(dashboard.revenue_metrics));
  outcomes.shutdown();
  setGlobalBusinessOutcomes(undefined);
}
