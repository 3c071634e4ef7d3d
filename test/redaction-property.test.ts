/**
 * Redaction, as a property (issue 10 point 6): whatever the secret and wherever it
 * is put (under a sensitive key, a configured custom key, or inline as
 * `password=...`, `Bearer ...`, `"token":"..."`), in span attributes and status,
 * alert annotations and descriptions, business metadata or audit metadata, it never
 * reaches what an exporter sends: the REST exporter's bodies (`/batch`,
 * `/business-metrics`, `/audit`), OTLP traces and metrics (decoded as sent to a
 * local receiver, protobuf and JSON), the Prometheus exposition, the console
 * exporter's text, and what the webhook, Slack, PagerDuty and Alertmanager channels send. Every receiver is a real
 * HTTP server on 127.0.0.1; fast-check generates the cases.
 */
import { BusinessOutcomes } from '@prsm/business-outcomes';
import { DEFAULT_REDACTED_KEYS, ManualClock, Monitor } from '@prsm/core';
import { consoleExporter } from '@prsm/exporters/console';
import {
  alertmanagerChannel,
  pagerDutyChannel,
  slackChannel,
  webhookChannel,
} from '@prsm/exporters/notifiers';
import { otlpMetricExporter, otlpTraceExporter } from '@prsm/exporters/otlp';
import { toPrometheusText } from '@prsm/exporters/prometheus';
import { restAuditSink, restExporter } from '@prsm/exporters/rest';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeMetrics, decodeTraces } from '../packages/exporters/src/otlp/test-support-otlp.js';
import { startServer, type TestServer } from '../packages/exporters/src/notifiers/test-support.js';

const REDACTION = { keys: [...DEFAULT_REDACTED_KEYS, 'ssn'] };

/** Secrets in the alphabet a token is written in (what inline masking delimits). */
const secretArb = fc
  .tuple(
    fc.constantFrom('Qz', 'Xk', 'Vw'),
    fc.stringMatching(/^[A-Za-z0-9._~+-]{8,28}$/),
    fc.integer({ min: 100, max: 999 }),
  )
  .map(([a, b, c]) => `${a}${b}${c}`);
/** Keys whose value is masked: default ones in several spellings and the configured `ssn`. */
const keyArb = fc.constantFrom(
  'password',
  'db_password',
  'api_token',
  'X-API-Key',
  'client_secret',
  'Authorization',
  'session_cookie',
  'cardNumber',
  'ssn',
  'customer_ssn',
);
/** Ways a secret is written inside free text. */
const inlineArb = fc.constantFrom(
  (s: string) => `login failed: password=${s}`,
  (s: string) => `upstream said Bearer ${s} was refused`,
  (s: string) => `{"token":"${s}","ok":false}`,
  (s: string) => `retry with secret: ${s}`,
  (s: string) => `url https://x.example/cb?api_key=${s}&a=1`,
);

let rest: TestServer;
let otlp: TestServer;
let hook: TestServer;

beforeAll(async () => {
  [rest, otlp, hook] = await Promise.all([
    startServer((_r, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')),
    startServer(),
    startServer((_r, res) => res.writeHead(204).end()),
  ]);
});

afterAll(async () => {
  await Promise.all([rest?.close(), otlp?.close(), hook?.close()]);
});

describe('no configured secret reaches an exporter', () => {
  it('holds for generated secrets, keys and inline forms', async () => {
    await fc.assert(
      fc.asyncProperty(
        secretArb,
        keyArb,
        inlineArb,
        fc.constantFrom('json' as const, 'protobuf' as const),
        async (secret, key, inline, protocol) => {
          for (const server of [rest, otlp, hook]) server.requests.length = 0;
          const consoleText: string[] = [];
          const clock = new ManualClock(Date.UTC(2026, 2, 15, 12));
          const monitor = new Monitor({
            clock,
            tracing: true,
            redaction: REDACTION,
            exporters: [
              restExporter({ url: rest.url, gzip: false }),
              otlpTraceExporter({ url: `${otlp.url}/v1/traces`, protocol }),
              otlpMetricExporter({ url: `${otlp.url}/v1/metrics`, protocol }),
              consoleExporter({ write: (text) => consoleText.push(text) }),
            ],
            alerting: {
              evaluationIntervalSeconds: 0,
              groupWaitSeconds: 0,
              channels: {
                ops: webhookChannel({ url: `${hook.url}/hook` }),
                slack: slackChannel({ webhookUrl: `${hook.url}/slack` }),
                pager: pagerDutyChannel({ routingKey: 'R0123456789', url: `${hook.url}/pd` }),
                am: alertmanagerChannel({ url: `${hook.url}/am` }),
              },
            },
            audit: { sink: restAuditSink({ url: rest.url, gzip: false, exportIntervalMs: 0 }) },
          });
          const outcomes = new BusinessOutcomes({ monitor, publishIntervalSeconds: 0 });
          try {
            // Business metadata.
            outcomes.recordMetric({
              metricName: 'monthly_recurring_revenue',
              value: 125_000,
              metadata: { [key]: secret, note: inline(secret), currency: 'USD' },
            });
            // Span attributes and status.
            trace.getTracer('prop').startActiveSpan('checkout', (span) => {
              span.setAttribute(key, secret);
              span.setAttribute('note', inline(secret));
              span.setStatus({ code: SpanStatusCode.ERROR, message: inline(secret) });
              span.end();
            });
            // Alert annotations and description, through a firing rule and a channel.
            monitor.alerts.create({
              id: 'errors',
              name: 'Checkout errors',
              description: inline(secret),
              severity: 'high',
              component: 'checkout',
              condition: 'error_rate > 5%',
              notificationChannels: ['ops', 'slack', 'pager', 'am'],
              annotations: { [key]: secret, runbook: inline(secret) },
            });
            const timer = monitor.timer('http.server.duration', { component: 'checkout' }).bind();
            for (let i = 0; i < 10; i++) timer.recordError(100);
            monitor.alerts.evaluate();
            clock.advance(1000);
            monitor.alerts.evaluate();
            // Audit metadata.
            monitor.audit.record({
              user_id: 'user_1',
              action: 'login',
              resource_type: 'session',
              outcome: 'failure',
              metadata: { [key]: secret, detail: inline(secret) },
            });

            await monitor.alerts.flush();
            await monitor.forceFlush(10);
            await monitor.audit.flush();
            const prometheus = toPrometheusText(monitor.snapshot());

            const restBodies = rest.requests.map((r) => `${r.url} ${r.body}`);
            const otlpDecoded = otlp.requests.map((r) =>
              JSON.stringify(
                r.url === '/v1/traces' ? decodeTraces(r) : decodeMetrics(r),
                (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
              ),
            );
            const payloads: Record<string, string[]> = {
              rest: restBodies,
              otlpRaw: otlp.requests.map((r) => r.rawBody.toString('latin1')),
              otlp: otlpDecoded,
              prometheus: [prometheus],
              console: consoleText,
              channels: hook.requests.map((r) => `${r.url} ${r.body}`),
            };
            for (const [where, bodies] of Object.entries(payloads)) {
              for (const body of bodies) {
                expect(body.includes(secret), `${where} leaked ${secret}`).toBe(false);
              }
            }
            // Not vacuous: each path carried the redacted values.
            const paths = rest.requests.map((r) => r.url);
            expect(paths).toContain('/api/v1/monitoring/batch');
            expect(paths).toContain('/api/v1/monitoring/business-metrics');
            expect(paths).toContain('/api/v1/monitoring/audit');
            const channelPaths = hook.requests.map((r) => r.url.split('/')[1]);
            expect(new Set(channelPaths)).toEqual(new Set(['hook', 'slack', 'pd', 'am']));
            for (const body of [
              restBodies.join(''),
              otlpDecoded.join(''),
              hook.requests[0]!.body,
            ]) {
              expect(body).toContain('[REDACTED]');
            }
            expect(consoleText.join('')).toContain('checkout');
          } finally {
            outcomes.shutdown();
            await monitor.shutdown();
          }
        },
      ),
      { numRuns: 12, seed: 20_261_128 },
    );
  }, 120_000);
});
