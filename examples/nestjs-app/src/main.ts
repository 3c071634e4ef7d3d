/**
 * Runs the example: a monitor with tracing on, set as the global monitor the
 * decorators record on, then the Nest app on `PORT` (default 3000) and `HOST`
 * (default 127.0.0.1). `npm run start --workspace examples/nestjs-app`.
 */
import { Monitor, MonitoringComponent, setGlobalMonitor } from '@prsm/core';
import { createApp } from './app.js';

// `tracing: true` registers a minimal OpenTelemetry tracer provider and an
// AsyncLocalStorage context manager, so decorated calls nest across `await`. Create
// the monitor before the app serves anything: spans started earlier go nowhere.
const monitor = new Monitor({ defaultComponent: MonitoringComponent.MARKETPLACE, tracing: true });
setGlobalMonitor(monitor);

const app = await createApp({ monitor, apiKey: process.env.API_KEY ?? 'demo-key' });
await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`PRSM NestJS example listening on ${await app.getUrl()}`);

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await app.close();
  await monitor.shutdown();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
