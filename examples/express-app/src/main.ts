/**
 * Starts the bookstore on PORT (default 3000) with a monitor that keeps traces in
 * process, and prints the API-gateway view every 30 seconds: `npm start`.
 */
import { Monitor, MonitoringComponent, setGlobalMonitor } from '@prsm/core';
import { apiGatewayReport } from '@prsm/express';
import { createApp } from './app.js';

// A compute price makes `monitor.costs` report the cost per request and per 1,000
// requests; the efficiency trends compare 60-second periods.
const monitor = new Monitor({ tracing: true, handleSignals: true, costs: { computePerHour: 0.1 } });
setGlobalMonitor(monitor);

const port = Number(process.env['PORT'] ?? 3000);
const server = createApp().listen(port, () => {
  console.log(`bookstore listening on http://localhost:${port}/api/v1/books`);
});

setInterval(() => {
  const { request_volume: volume, response_times: t, error_rates: e } = apiGatewayReport(monitor);
  console.log(
    `${volume.per_minute} requests/min (${volume.minute_trend}), ` +
      `p50/p95/p99 ${t.p50 ?? '-'}/${t.p95 ?? '-'}/${t.p99 ?? '-'} ms, ` +
      `4xx ${(e.client_error_rate * 100).toFixed(1)}%, 5xx ${(e.server_error_rate * 100).toFixed(1)}%`,
  );
  // The API gateway's resource efficiency (requests per CPU-second of the process) and
  // its trend over the last periods, from the cost helper.
  const efficiency = monitor.costs.efficiency(MonitoringComponent.API_GATEWAY);
  if (efficiency !== undefined) {
    const perCpu = efficiency.requests_per_cpu_second;
    const cost = efficiency.cost_per_1k_requests;
    console.log(
      `efficiency: ${perCpu.latest?.toFixed(1) ?? '-'} requests per CPU-second (${perCpu.trend}), ` +
        `$${cost.latest?.toFixed(4) ?? '-'} per 1,000 requests (${cost.trend})`,
    );
  }
}, 30_000).unref();

process.on('SIGTERM', () => server.close());
