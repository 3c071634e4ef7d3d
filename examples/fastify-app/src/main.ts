/**
 * Starts the bookstore on PORT (default 3000) with a monitor that keeps traces in
 * process, and prints the API-gateway view every 30 seconds: `npm start`.
 */
import { Monitor, setGlobalMonitor } from '@prsm/core';
import { createApp } from './app.js';

const monitor = new Monitor({ tracing: true, handleSignals: true });
setGlobalMonitor(monitor);

const app = await createApp();
const port = Number(process.env['PORT'] ?? 3000);
await app.listen({ port, host: '0.0.0.0' });
console.log(`bookstore listening on http://localhost:${port}/api/v1/books`);

setInterval(() => {
  for (const s of monitor.snapshot({ digests: false }).series) {
    if (s.name !== 'http.server.request.duration' || s.type !== 'timer') continue;
    const w = s.windows[0];
    if (w === undefined || w.count === 0) continue;
    const p99 = w.quantiles.find((q) => q.quantile === 0.99)?.value ?? NaN;
    console.log(
      `${s.tags['http.request.method']} ${s.tags['http.route']} ${s.tags['http.response.status_code']}: ` +
        `${w.count} requests, p99 ${p99.toFixed(1)} ms, ${(w.errorRate * 100).toFixed(1)}% errors`,
    );
  }
}, 30_000).unref();

process.on('SIGTERM', () => void app.close());
