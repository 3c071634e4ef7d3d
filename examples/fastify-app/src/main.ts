/**
 * Starts the bookstore on PORT (default 3000) with a monitor that keeps traces in
 * process, and prints the API-gateway view every 30 seconds: `npm start`.
 */
import { Monitor, setGlobalMonitor } from '@prsm/core';
import { apiGatewayReport } from '@prsm/fastify';
import { createApp } from './app.js';

const monitor = new Monitor({ tracing: true, handleSignals: true });
setGlobalMonitor(monitor);

const app = await createApp();
const port = Number(process.env['PORT'] ?? 3000);
await app.listen({ port, host: '0.0.0.0' });
console.log(`bookstore listening on http://localhost:${port}/api/v1/books`);

setInterval(() => {
  const { request_volume: volume, response_times: t, error_rates: e } = apiGatewayReport(monitor);
  console.log(
    `${volume.per_minute} requests/min (${volume.minute_trend}), ` +
      `p50/p95/p99 ${t.p50 ?? '-'}/${t.p95 ?? '-'}/${t.p99 ?? '-'} ms, ` +
      `4xx ${(e.client_error_rate * 100).toFixed(1)}%, 5xx ${(e.server_error_rate * 100).toFixed(1)}%`,
  );
}, 30_000).unref();

process.on('SIGTERM', () => void app.close());
