/**
 * `npm run demo`: a PRSM monitoring server and an instrumented service, run together
 * on 127.0.0.1 for about 30 seconds, then what the server saw, read back through its
 * REST API. No set-up: the server is `@prsm/server` started in this process on a
 * fresh SQLite file in a temporary directory, with keys created for the run.
 *
 * 1. The server (`createServer`), its keys (ingest, admin, enterprise), a webhook
 *    receiver for alert notifications, and an alert rule created with `POST /alerts`.
 * 2. The service: Express 5 with `prsmExpress`, `@monitorPerformance` and
 *    `@recordBusinessOutcome`, a `Monitor` exporting to the server with the REST
 *    exporter every second, and its own in-process alert rule.
 * 3. The load generator: visitors (log in, search, recommendations, cart, checkout)
 *    for `PRSM_DEMO_SECONDS` (default 30), through an incident and a password attack.
 * 4. The report from the REST API: health, analytics and bottlenecks, the business
 *    dashboard, the alerts, one trace as a waterfall, and the URLs to look at.
 *
 * Environment: `PRSM_DEMO_SECONDS` (3-600, default 30), `PRSM_DEMO_USERS` (concurrent
 * visitors, 1-64, default 4), `PRSM_DEMO_STAY` (`1`: keep the server up after the
 * report until Ctrl-C; `0`: stop at once; default: stay when the output is a
 * terminal), `PRSM_DEMO_DATA_DIR` (write the SQLite file and the audit log there, and
 * keep them, instead of a temporary directory removed at exit).
 *
 * Ctrl-C at any time stops the load, closes the service and the server, removes the
 * temporary directory, and exits 0.
 */
import { JsonlFileSink, Monitor, MonitoringComponent, setGlobalMonitor } from '@prsm/core';
import { restAuditSink, restExporter } from '@prsm/exporters/rest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  channelTo,
  SERVER_RULE,
  SERVICE_RULE,
  serviceAlerting,
  startWebhookReceiver,
} from './alerting.js';
import { apiClient, startBackend } from './backend.js';
import { createOutcomes, sendBusinessMetrics } from './business.js';
import { LoadGenerator } from './load.js';
import { printMatrix, startDistillation } from './matrix.js';
import {
  layoutOf,
  printAnalytics,
  printBusiness,
  printHealth,
  printLinks,
  printServerAlerts,
  printTrace,
} from './report.js';
import { runScenario } from './scenario.js';
import { AUDIT_SOURCE, printAuditOnServer, printSecurity } from './security.js';
import { startService } from './service.js';

function setting(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a number from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/** Closers run once, last added first; a failing one does not stop the others. */
class Cleanup {
  readonly #steps: { name: string; run: () => unknown }[] = [];
  #done: Promise<void> | undefined;

  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  run(): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(
            `cleanup: ${step.name}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    })();
    return this.#done;
  }
}

const cleanup = new Cleanup();
const interrupt = new AbortController();
let tempDir: string | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupt.signal.aborted) {
    // A second Ctrl-C: no more waiting.
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    process.exit(1);
  }
  console.log(`\n${signal}: stopping the load, the service and the server`);
  interrupt.abort();
  // Whatever the main flow was awaiting, cleanup is bounded.
  setTimeout(() => {
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    console.error('cleanup took more than 15 s: exiting');
    process.exit(1);
  }, 15_000).unref();
}

async function main(): Promise<void> {
  const SECONDS = setting('PRSM_DEMO_SECONDS', 30, 3, 600);
  const USERS = Math.round(setting('PRSM_DEMO_USERS', 4, 1, 64));
  const stay = process.env['PRSM_DEMO_STAY'];
  const STAY = stay === undefined || stay === '' ? process.stdout.isTTY === true : stay === '1';
  const KEEP_DIR = process.env['PRSM_DEMO_DATA_DIR'];
  const signal = interrupt.signal;
  let dataDir: string;
  if (KEEP_DIR === undefined || KEEP_DIR === '') {
    tempDir = mkdtempSync(join(tmpdir(), 'prsm-demo-'));
    const dir = tempDir;
    cleanup.add('temporary directory', () => rmSync(dir, { recursive: true, force: true }));
    dataDir = dir;
  } else {
    dataDir = resolve(KEEP_DIR);
    mkdirSync(dataDir, { recursive: true });
    if (readdirSync(dataDir).length > 0) {
      throw new TypeError(`PRSM_DEMO_DATA_DIR must be empty or absent: ${dataDir}`);
    }
  }
  const db = join(dataDir, 'prsm-monitor.db');
  const auditFile = join(dataDir, 'audit.jsonl');

  console.log(
    `PRSM Monitor demo: ${SECONDS} s of traffic from ${USERS} concurrent visitors against an instrumented\n` +
      'Express service exporting to a PRSM monitoring server; then what the server saw, read back through its REST API.',
  );
  console.log('\n--- Setup ---\n');

  const receiver = await startWebhookReceiver();
  cleanup.add('webhook receiver', () => receiver.close());
  const backend = await startBackend(db, channelTo(receiver, 'server'));
  cleanup.add('monitoring server', () => backend.close());
  const { keys } = backend;
  console.log(
    `data:    ${dataDir} (SQLite prsm-monitor.db, audit log audit.jsonl; ${tempDir === undefined ? 'kept' : 'removed at exit'})`,
  );
  console.log(
    `server:  ${backend.url} (@prsm/server, createServer; alert rules evaluated every 0.5 s)`,
  );
  console.log(
    `keys:    ingest ${keys.ingest.id} (the exporter), admin ${keys.admin.id} (this script), enterprise ${keys.login.id} (for you: below)`,
  );

  const monitor = new Monitor({
    serviceName: 'marketplace-api',
    defaultComponent: MonitoringComponent.MARKETPLACE,
    tracing: true,
    // Every request's trace stays in the service too (about 150 a second), for the waterfall.
    traceStore: { maxTraces: 20_000 },
    // Half-second sub-windows, so the in-process rule can read a half-second window.
    subWindowSeconds: 0.5,
    windows: [60, 300],
    alerting: serviceAlerting(receiver),
    exporters: [restExporter({ url: backend.url, apiKey: keys.ingest.key })],
    exportIntervalSeconds: 1,
    shutdownTimeoutSeconds: 5,
    // The demo's distillation job lasts seconds, not hours: a short half-life for its rate.
    jobs: { halfLifeSeconds: 3 },
    // The spec's cost metrics from unit prices; efficiency periods short enough for a
    // short run to show a trend.
    costs: {
      computePerHour: 0.68,
      inferencePerHour: 1.2,
      storagePerGbMonth: 0.1,
      bandwidthPerGb: 0.05,
      otherPerMonth: 150,
      efficiency: { periodSeconds: Math.max(1, SECONDS / 10), minPeriods: 4 },
    },
    // The audit log: a local JSONL file (the chain's source of truth) and a copy on the
    // server (POST /audit), both verifiable.
    audit: {
      sink: restAuditSink({
        url: backend.url,
        apiKey: keys.ingest.key,
        source: AUDIT_SOURCE,
        local: new JsonlFileSink({ path: auditFile }),
        exportIntervalMs: 1000,
      }),
    },
  });
  setGlobalMonitor(monitor); // what the decorators record on
  cleanup.add('service monitor', () => monitor.shutdown());
  const outcomes = createOutcomes(monitor);
  cleanup.add('business outcomes', () => outcomes.shutdown());
  const service = await startService(monitor, outcomes);
  cleanup.add('service', () => service.close());
  console.log(
    `service: ${service.url} (Express 5 + prsmExpress, @monitorPerformance, @recordBusinessOutcome; REST exporter every 1 s)`,
  );
  console.log(
    `webhook: ${receiver.url} (HMAC-signed notifications from the server and the service)`,
  );

  const created = await backend.client.post<{ alert_id: string }>('/alerts', SERVER_RULE);
  if (created.status !== 201) {
    throw new Error(`POST /alerts: HTTP ${created.status} ${JSON.stringify(created.body)}`);
  }
  const serverRuleId = created.body.alert_id;
  console.log(
    `rule on the server  (POST /alerts -> ${created.status}, id ${serverRuleId}): "${SERVER_RULE.name}": ${SERVER_RULE.condition} for ${SERVER_RULE.duration_seconds} s on ${SERVER_RULE.component} -> webhook`,
  );
  const rule = monitor.alerts.create(SERVICE_RULE);
  console.log(
    `rule in the service (monitor.alerts.create, id ${rule.id}): "${rule.name}": ${rule.condition} over ${rule.windowSeconds} s, for ${rule.durationSeconds} s -> webhook`,
  );

  console.log('\n--- Traffic ---\n');
  // A distillation job alongside the traffic, for about 70% of the run.
  const job = startDistillation(monitor, SECONDS * 0.7);
  cleanup.add('distillation job', () => job.stop());
  monitor.costs.setActiveUsers(USERS);
  const load = new LoadGenerator(service.url, USERS);
  cleanup.add('load generator', () => load.stop());
  const result = await runScenario({
    seconds: SECONDS,
    load,
    controls: service.controls,
    monitor,
    receiver,
    admin: backend.client,
    serverRuleId,
    signal,
  });

  const audit = await printSecurity(monitor);
  await job.done;
  if (existsSync(db)) monitor.costs.setStorage(statSync(db).size / 1e9);
  printMatrix(monitor, job);

  // The slowest successful checkout, by the exemplar of its request duration.
  const checkout = monitor
    .snapshot({ digests: false })
    .series.find(
      (s) =>
        s.name === 'http.server.request.duration' &&
        s.tags['http.route'] === '/api/checkout' &&
        s.tags['http.response.status_code'] === '200',
    );
  const slowest = checkout?.type === 'timer' ? checkout.windows[0]?.exemplars[0] : undefined;
  const layout = layoutOf(
    slowest === undefined ? undefined : monitor.traces.spans(slowest.traceId),
  );

  console.log('\n--- Export ---\n');
  // Shutting the service's monitor down delivers what is queued: the last series and spans.
  await monitor.shutdown();
  signal.throwIfAborted();
  for (const s of monitor.exportStats()) {
    const dropped = s.dropped.queueFull + s.dropped.failed + s.dropped.shutdown;
    console.log(
      `${s.name} exporter: ${s.exported} items in ${s.batches} batches to POST /api/v1/monitoring/batch, ${s.retries} retries, ${dropped} dropped`,
    );
  }
  const ingest = apiClient(backend.api, keys.ingest.key);
  const login = apiClient(backend.api, keys.login.key);
  const posted = await sendBusinessMetrics(outcomes, ingest, login);
  console.log(
    posted === 0
      ? 'business metrics: delivered by the exporter'
      : `business metrics: ${posted} KPIs posted to POST /api/v1/monitoring/business-metrics (outcomes.businessMetricBodies())`,
  );
  console.log(
    `audit log: ${audit.records} records in ${auditFile}${audit.verified ? ', verified' : ', NOT verified'}`,
  );
  await printAuditOnServer(backend.client, login, audit);
  console.log(
    `the service monitor's own diagnostics: ${JSON.stringify(monitor.diagnostics.counts())}`,
  );

  signal.throwIfAborted();
  await printHealth(backend.client);
  await printAnalytics(backend.client, [
    MonitoringComponent.MARKETPLACE,
    MonitoringComponent.RECOMMENDATION,
  ]);
  await printBusiness(login);
  await printServerAlerts(backend.client, serverRuleId);
  if (slowest === undefined) {
    console.log('\n--- Trace ---\n\nno exemplar recorded for POST /api/checkout');
  } else {
    await printTrace(
      login,
      slowest.traceId,
      `the slowest successful POST /api/checkout (${slowest.value.toFixed(1)} ms), from the exemplar of its request duration`,
      layout,
    );
  }
  signal.throwIfAborted();

  printLinks(backend.url, backend.api, keys.login, STAY, keys.dashboard);
  if (!result.serverFired || !result.serviceFired || !result.serviceResolved) {
    console.log(
      `\nnote: server rule fired: ${result.serverFired}; service rule fired: ${result.serviceFired}, resolved: ${result.serviceResolved}`,
    );
  }
  if (STAY) {
    await new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let exitCode = 0;
try {
  await main();
} catch (error) {
  if (!interrupt.signal.aborted) {
    console.error(error instanceof TypeError ? `demo: ${error.message}` : error);
    exitCode = 1;
  }
} finally {
  await cleanup.run();
  if (tempDir !== undefined && existsSync(tempDir)) exitCode = 1;
  if (interrupt.signal.aborted) {
    console.log(
      `stopped: service and server closed${tempDir === undefined ? '' : `, ${tempDir} removed`}`,
    );
  }
}
process.exit(exitCode);
