/**
 * The README's quickstart, line for line (with a stand-in `db`), so the first code a
 * user reads is known to run and to record what it says. Vitest's transformer lowers
 * decorators only in legacy mode (`experimentalDecorators` in test/tsconfig.json); the
 * same code under TC39 decorators runs in the demo (tsx) and the decorator fixtures (tsc).
 */
import { Monitor, setGlobalMonitor } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { afterEach, expect, it } from 'vitest';

const db = {
  search: async (query: string): Promise<string[]> => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    return [`${query}-1`, `${query}-2`];
  },
};
let monitor: Monitor | undefined;

afterEach(async () => {
  setGlobalMonitor(undefined);
  await monitor?.shutdown();
});

it('the README quickstart runs and records the operation', async () => {
  monitor = new Monitor({ defaultComponent: 'marketplace', tracing: true }); // 1/5/15 min windows
  setGlobalMonitor(monitor); // decorators and middleware record here
  class Search {
    @monitorPerformance('marketplace', 'marketplace_search') // TC39 or experimentalDecorators
    async run(query: string): Promise<string[]> {
      return db.search(query); // timed, counted, traced; same result, same error
    }
  }
  const found = await new Search().run('lamps');

  const query = { component: 'marketplace', tags: { operation: 'marketplace_search' } };
  const [p50, p99] = monitor.getPercentiles('operation.duration', [0.5, 0.99], query);

  expect(found).toEqual(['lamps-1', 'lamps-2']);
  expect(p50).toBeGreaterThanOrEqual(1);
  expect(p99).toBe(p50); // one call: every percentile is that call
  expect(monitor.getRates('operation.calls', query)?.count).toBe(1);
  const exemplar = monitor
    .snapshot()
    .series.find((s) => s.name === 'operation.duration' && s.type === 'timer');
  const traceId =
    exemplar?.type === 'timer' ? exemplar.windows[0]?.exemplars[0]?.traceId : undefined;
  expect(monitor.getTrace(traceId ?? '')?.operation).toBe('marketplace_search');
});
