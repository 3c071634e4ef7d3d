/**
 * A worker of cluster.test.ts, started by `node:cluster` (or `child_process.fork`):
 * records its values into a Monitor with the `cluster` option and, on the same values,
 * into prom-client summaries; sends prom-client's JSON to the primary, then shuts the
 * monitor down (which sends its final deltas) and exits.
 */
import { Registry, Summary } from 'prom-client';
import { ManualClock } from '../clock/clock.js';
import { Monitor } from '../monitor.js';
import { START_MS, workerValues } from './test-support.js';

const index = Number(process.env['PRSM_WORKER_INDEX']);
// The Monitor option: role 'auto' under node:cluster (which says this process is a
// worker), 'worker' when started by child_process.fork.
const role = process.env['PRSM_CLUSTER_ROLE'] === 'worker' ? 'worker' : 'auto';
const monitor = new Monitor({
  clock: new ManualClock(START_MS),
  health: { resources: false },
  cluster: { role },
});
if (monitor.cluster?.role !== 'worker') throw new Error('not a cluster worker');
const registry = new Registry();
const summed = new Summary({
  name: 'latency_sum_aggregated',
  help: 'prom-client default cluster aggregation (sum)',
  percentiles: [0.5, 0.99],
  registers: [registry],
});
const averaged = new Summary({
  name: 'latency_avg_aggregated',
  help: 'prom-client cluster aggregation: average',
  percentiles: [0.5, 0.99],
  aggregator: 'average',
  registers: [registry],
});
const latency = monitor.timer('api.latency', { component: 'api' }).bind({ route: '/x' });
const requests = monitor.counter('api.requests', { component: 'api' }).bind();
for (const v of workerValues(index)) {
  latency.record(v);
  requests.inc();
  summed.observe(v);
  averaged.observe(v);
}
monitor.gauge('api.connections', { component: 'api' }).set(10 + index);
monitor.gauge('api.peak', { component: 'api' }).set(100 * (index + 1));

const json = await registry.getMetricsAsJSON();
process.send!({ promClient: json, index });
// shutdown() sends the last deltas (the open sub-windows) to the primary.
await monitor.shutdown();
// IPC is ordered: once this one is written, so were the deltas before it.
await new Promise<void>((resolve) =>
  process.send!({ done: index }, undefined, {}, () => resolve()),
);
process.disconnect();
