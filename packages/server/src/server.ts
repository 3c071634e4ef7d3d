/**
 * The HTTP server: Fastify 5 with strict Ajv validation on every route, API keys and
 * roles checked before a body is read, a token bucket per key, one error funnel
 * (`{ "error": { "code", "message", "field" } }`, never a stack), the spec's routes
 * under `/api/v1/monitoring`, OpenAPI generated from the route schemas, and the store
 * compacted on an interval. May import from store/, auth/ and http/.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Clock } from '@prsm/core';
import type { RestBatchBody, RestSpan } from '@prsm/exporters/rest';

import { ServerAlerting, type ServerAlertingOptions } from './alerting/server-alerting.js';
import { looksLikeKey, roleAllows, type Permission, type Role } from './auth/keys.js';
import { DashboardSessions } from './auth/sessions.js';
import { registerDashboard } from './dashboard/routes.js';
import { InputError } from './errors.js';
import { useJsonBodies } from './http/body.js';
import { errorBody, errorReply, HttpError } from './http/errors.js';
import { buildOpenApi, type RouteDoc } from './http/openapi.js';
import { storedToPrometheus } from './http/prometheus.js';
import { RateLimiter, type RateLimitOptions } from './http/rate-limit.js';
import { AJV_OPTIONS } from './http/validation.js';
import {
  acknowledgeBodySchema,
  alertChangedSchema,
  alertCreatedSchema,
  alertListSchema,
  alertParamsSchema,
  alertRuleBodySchema,
  alertsQuerySchema,
  batchBodySchema,
  batchResponseSchema,
  businessDashboardSchema,
  businessMetricsBodySchema,
  errorResponses,
  healthzSchema,
  metricsBodySchema,
  noQuerySchema,
  recordedSchema,
  traceParamsSchema,
  traceResponseSchema,
  tracesBodySchema,
} from './http/schemas.js';
import { fleetAnalyticsSchema, fleetHealthSchema, readQuerySchema } from './http/schemas.js';
import { FleetReader } from './read/fleet-read.js';
import type { ReadQuery } from './read/types.js';
import { openStore, type MonitorStore, type StoreOptions } from './store/store.js';
import { auditStoreOf } from './store/audit.js';
import { registerAuditRoutes } from './audit/routes.js';
import { registerExportRoutes } from './export/routes.js';
import type { AlertRuleBody, BusinessMetricInput, Severity, SpecMetric } from './store/types.js';

/**
 * The prefix of every route of the spec.
 *
 * @example
 * ```ts
 * await fetch(`${server.url}${API_PREFIX}/healthz`);
 * ```
 */
export const API_PREFIX = '/api/v1/monitoring';

const VERSION = '0.1.0';
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Options of {@link createServer}. A bad value throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * const options: ServerOptions = {
 *   db: './prsm-monitor.db',
 *   port: 7070,
 *   host: '127.0.0.1',
 *   rateLimit: { perSecond: 20, burst: 40 },
 * };
 * ```
 */
export interface ServerOptions {
  /** The SQLite file (default `:memory:`); ignored when `store` is given. */
  readonly db?: string;
  /** A store opened by the caller (not closed by `close()`). */
  readonly store?: MonitorStore;
  /** Options for the store this server opens. */
  readonly storeOptions?: Omit<StoreOptions, 'clock'>;
  /** Listen on this port (0: any free port). Without it the server does not listen: use `app.inject`. */
  readonly port?: number;
  /** The interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Development mode: requests from loopback need no key. Default false. */
  readonly dev?: boolean;
  /** The largest request body, received and inflated, in bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** The per-key rate limit, or `false` for none. Default 50 per second, bursts of 100. */
  readonly rateLimit?: RateLimitOptions | false;
  /** Where time comes from (rate limit, store, compaction). Default `Date.now`. */
  readonly clock?: Clock;
  /** How often the store is compacted (ms); 0 for never. Default 60,000. */
  readonly compactIntervalMs?: number;
  /** Receives unexpected errors (their details never reach a client). Default: none. */
  readonly onError?: (error: unknown) => void;
  /** The evaluation of the stored alert rules: channels, interval, default window. */
  readonly alerting?: ServerAlertingOptions;
}

/**
 * A running (or injectable) server.
 *
 * @example
 * ```ts
 * const server = await createServer({ port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export interface PrsmServer {
  /** The Fastify instance (for `inject`, or to add routes before `listen`). */
  readonly app: FastifyInstance;
  /** The store behind it. */
  readonly store: MonitorStore;
  /** The evaluation of the stored alert rules (`evaluate()` runs one by hand). */
  readonly alerting: ServerAlerting;
  /** `http://host:port` when listening. */
  readonly url: string | undefined;
  /** Stops listening, the compaction timer, and closes the store it opened. */
  close(): Promise<void>;
}

interface Principal {
  readonly keyId: string | null;
  readonly role: Role;
}

interface RouteConfig {
  readonly permission?: Permission | null;
  readonly summary?: string;
  readonly description?: string;
  readonly docResponses?: Record<string, unknown>;
}

function checkPositive(name: string, value: unknown, fallback: number, allowZero = false): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new TypeError(
      `createServer: options.${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`,
    );
  }
  return v;
}

function bearer(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m === null ? '' : m[1];
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  field: string | null,
): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(errorBody(code, message, field));
}

/**
 * Builds the server: opens (or takes) the store, registers the routes, and listens
 * when `port` is given. Rejects with a `TypeError` for bad options.
 *
 * @example
 * ```ts
 * import { createServer } from '@prsm/server';
 *
 * const server = await createServer({ db: './prsm-monitor.db', port: 7070 });
 * console.log(`listening on ${server.url}`);
 * process.on('SIGTERM', () => void server.close());
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<PrsmServer> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('createServer: options must be an object');
  }
  const clock: Clock = options.clock ?? { now: (): number => Date.now() };
  const bodyLimit = checkPositive('bodyLimit', options.bodyLimit, 1024 * 1024);
  const compactIntervalMs = checkPositive(
    'compactIntervalMs',
    options.compactIntervalMs,
    60_000,
    true,
  );
  const dev = options.dev ?? false;
  if (typeof dev !== 'boolean') throw new TypeError('createServer: options.dev must be a boolean');
  const limiter =
    options.rateLimit === false
      ? undefined
      : new RateLimiter(options.rateLimit ?? { perSecond: 50, burst: 100 }, clock);
  const onError = options.onError ?? ((): void => undefined);
  if (
    options.port !== undefined &&
    (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
  ) {
    throw new TypeError('createServer: options.port must be an integer from 0 to 65535');
  }
  const ownStore = options.store === undefined;
  const store =
    options.store ?? openStore(options.db ?? ':memory:', { ...options.storeOptions, clock });
  let alerting: ServerAlerting;
  try {
    alerting = new ServerAlerting(store, clock, options.alerting ?? {}, onError);
  } catch (error) {
    if (ownStore) store.close();
    throw error;
  }

  const app = Fastify({
    logger: false,
    bodyLimit,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: true,
    ajv: { customOptions: { ...AJV_OPTIONS } },
  });

  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as RouteConfig;
    if (config.permission === undefined || route.method === 'HEAD') return;
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    routes.push({
      method: Array.isArray(route.method) ? String(route.method[0]) : String(route.method),
      url: route.url,
      summary: config.summary ?? route.url,
      ...(config.description === undefined ? {} : { description: config.description }),
      permission: config.permission,
      body: schema['body'],
      params: schema['params'],
      querystring: schema['querystring'],
      response: {
        ...(schema['response'] as Record<string, unknown> | undefined),
        ...config.docResponses,
      },
    });
  });

  useJsonBodies(app, bodyLimit);

  const principals = new WeakMap<FastifyRequest, Principal | null>();
  // The dashboard's login sessions (auth/sessions.ts): a token stands for its key.
  const sessions = new DashboardSessions(clock);

  app.addHook('onRequest', async (request, reply) => {
    const permission = (request.routeOptions.config as RouteConfig).permission;
    if (permission === undefined || permission === null) return;
    if (dev && LOOPBACK.has(request.socket.remoteAddress ?? '')) {
      principals.set(request, { keyId: null, role: 'admin' });
      return;
    }
    principals.set(request, null);
    const key = bearer(request);
    if (key === undefined) {
      return sendError(
        reply,
        401,
        'missing_key',
        'an API key is required: Authorization: Bearer <key>',
        'authorization',
      );
    }
    const sessionKey = sessions.find(key);
    const info =
      sessionKey !== undefined
        ? store.keyById(sessionKey)
        : looksLikeKey(key)
          ? store.findKey(key)
          : undefined;
    if (info === undefined) {
      return sendError(reply, 401, 'invalid_key', 'the API key is not valid', 'authorization');
    }
    principals.set(request, { keyId: info.id, role: info.role });
    if (info.revoked_at !== null) {
      return sendError(reply, 401, 'revoked_key', 'the API key has been revoked', 'authorization');
    }
    if (!roleAllows(info.role, permission)) {
      return sendError(
        reply,
        403,
        'forbidden',
        `this route needs the ${permission} permission; the key's role is ${info.role}`,
        'authorization',
      );
    }
    if (limiter !== undefined) {
      const decision = limiter.take(info.id);
      if (!decision.ok) {
        void reply.header('retry-after', String(decision.retryAfterSeconds));
        return sendError(
          reply,
          429,
          'rate_limited',
          `too many requests for this key; retry after ${decision.retryAfterSeconds}s`,
          'authorization',
        );
      }
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const permission = (request.routeOptions.config as RouteConfig).permission;
    if (permission === undefined || permission === null) return;
    try {
      const principal = principals.get(request);
      store.recordKeyUse(
        principal?.keyId ?? null,
        request.method,
        request.routeOptions.url ?? request.url,
        reply.statusCode,
      );
    } catch (error) {
      onError(error);
    }
  });

  app.setErrorHandler((error: FastifyError | InputError, _request, reply) => {
    const { status, body } = errorReply(error, bodyLimit, onError);
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });

  app.setNotFoundHandler((_request, reply) =>
    sendError(reply, 404, 'not_found', 'no such route', 'path'),
  );

  const errors = (...statuses: number[]): Record<string, Record<string, unknown>> =>
    errorResponses(statuses);
  const auth = [401, 403, 429];
  const ingest = [400, ...auth, 413, 415];
  const now = (): string => new Date(clock.now()).toISOString();

  await app.register(
    (api, _opts, next) => {
      api.post<{ Body: SpecMetric | { metrics: SpecMetric[] } }>(
        '/metrics',
        {
          config: { permission: 'ingest', summary: 'Record one metric or a batch of them' },
          schema: {
            body: metricsBodySchema,
            querystring: noQuerySchema,
            response: { 200: recordedSchema, ...errors(...ingest, 409) },
          },
        },
        async (request) => {
          const body = request.body;
          if ('metrics' in body) {
            await store.ingestMetricsGrouped(body.metrics);
            return {
              success: true,
              message: `${body.metrics.length} metrics recorded successfully`,
              recorded: body.metrics.length,
              timestamp: now(),
            };
          }
          await store.ingestMetricsGrouped([body], () => '');
          return {
            success: true,
            message: 'Metric recorded successfully',
            metric_name: body.name,
            recorded: 1,
            timestamp: now(),
          };
        },
      );

      api.get(
        '/metrics',
        {
          config: {
            permission: 'read',
            summary: 'The latest stored values in the Prometheus text format',
            docResponses: {
              200: {
                type: 'string',
                contentType: 'text/plain; version=0.0.4',
                description: 'Prometheus text 0.0.4.',
              },
            },
          },
          schema: { querystring: noQuerySchema, response: errors(400, ...auth) },
        },
        (_request, reply) => {
          void reply
            .type('text/plain; version=0.0.4; charset=utf-8')
            .send(storedToPrometheus(store.latestSeries()));
        },
      );

      api.post<{ Body: RestBatchBody }>(
        '/batch',
        {
          config: {
            permission: 'ingest',
            summary: 'Store a batch of the REST exporter (series, spans, alert events)',
            description:
              'Exactly what `@prsm/exporters/rest` sends. Histogram and timer `sub_windows` are merged into the per-minute digests (the minute of `start_time`); counter totals are kept per `source.instance_id`. A `batch_id` already stored is acknowledged with `duplicate: true` and not stored again. `x-prsm-batch-id`, when sent, must equal `batch_id`.',
          },
          schema: {
            body: batchBodySchema,
            querystring: noQuerySchema,
            response: { 200: batchResponseSchema, ...errors(...ingest, 409) },
          },
        },
        async (request) => {
          const header = request.headers['x-prsm-batch-id'];
          if (header !== undefined && header !== request.body.batch_id) {
            throw new HttpError(
              400,
              'batch_id_mismatch',
              'x-prsm-batch-id',
              'the x-prsm-batch-id header must equal batch_id',
            );
          }
          // Group commit: the batches of one turn share a transaction (one fsync);
          // answered once it is committed. A bad batch fails alone.
          const result = await store.ingestBatchGrouped(request.body);
          return {
            success: true,
            duplicate: result.duplicate,
            batch_id: request.body.batch_id,
            message: result.duplicate ? 'batch already stored; ignored' : 'batch stored',
            stored: { metrics: result.metrics, traces: result.traces, alerts: result.alerts },
          };
        },
      );

      api.post<{
        Body: BusinessMetricInput | { batch_id?: string; metrics: BusinessMetricInput[] };
      }>(
        '/business-metrics',
        {
          config: {
            permission: 'ingest',
            summary: 'Record a business KPI, or a batch of them',
            description:
              'One KPI in the spec shape, or `{ batch_id, metrics: [...] }` (what `@prsm/exporters/rest` sends): a batch is stored in one transaction, and a `batch_id` already stored is acknowledged with `recorded: 0` and not stored again. `x-prsm-batch-id`, when sent with a batch, must equal `batch_id`.',
          },
          schema: {
            body: businessMetricsBodySchema,
            querystring: noQuerySchema,
            response: { 200: recordedSchema, ...errors(...ingest) },
          },
        },
        (request) => {
          const body = request.body;
          if ('metrics' in body) {
            const header = request.headers['x-prsm-batch-id'];
            if (header !== undefined && body.batch_id !== undefined && header !== body.batch_id) {
              throw new HttpError(
                400,
                'batch_id_mismatch',
                'x-prsm-batch-id',
                'the x-prsm-batch-id header must equal batch_id',
              );
            }
            const duplicate = auditStoreOf(store).onceForBatch(body.batch_id, () => {
              for (const metric of body.metrics) store.recordBusinessMetric(metric);
            });
            return {
              success: true,
              message: duplicate
                ? 'batch already stored; ignored'
                : `${body.metrics.length} business metrics recorded successfully`,
              recorded: duplicate ? 0 : body.metrics.length,
              timestamp: now(),
            };
          }
          const at = store.recordBusinessMetric(body);
          return {
            success: true,
            message: 'Business metric recorded successfully',
            metric_name: body.metric_name,
            recorded: 1,
            timestamp: new Date(at).toISOString(),
          };
        },
      );

      api.get(
        '/business-dashboard',
        {
          config: {
            permission: 'enterprise',
            summary: 'The business dashboard (enterprise role)',
            description:
              'Built from the stored business metrics: latest values, the trend of each KPI (a least-squares slope over its last 7 periods, significant at the 5% level and at least a 2% change, as `@prsm/business-outcomes` computes it) and progress towards targets. The spec groups user, revenue, growth and quality metrics by their names (0 until stored).',
          },
          schema: {
            querystring: noQuerySchema,
            response: { 200: businessDashboardSchema, ...errors(400, ...auth) },
          },
        },
        () => store.businessDashboard(),
      );

      api.post<{ Body: { spans: RestSpan[] } }>(
        '/traces',
        {
          config: { permission: 'ingest', summary: 'Record finished spans' },
          schema: {
            body: tracesBodySchema,
            querystring: noQuerySchema,
            response: { 200: recordedSchema, ...errors(...ingest) },
          },
        },
        (request) => {
          store.ingestSpans(request.body.spans);
          return {
            success: true,
            message: `${request.body.spans.length} spans recorded successfully`,
            recorded: request.body.spans.length,
            timestamp: now(),
          };
        },
      );

      api.get<{ Params: { trace_id: string } }>(
        '/traces/:trace_id',
        {
          config: { permission: 'read', summary: 'A trace in the spec shape' },
          schema: {
            params: traceParamsSchema,
            querystring: noQuerySchema,
            response: { 200: traceResponseSchema, ...errors(400, ...auth, 404) },
          },
        },
        (request) => {
          const trace = store.getTrace(request.params.trace_id.toLowerCase());
          if (trace === undefined)
            throw new HttpError(404, 'not_found', 'trace_id', 'no span of this trace is stored');
          return trace;
        },
      );

      api.get<{ Querystring: { severity?: Severity; component?: string } }>(
        '/alerts',
        {
          config: {
            permission: 'read',
            summary: 'The stored alert rules and the latest alert events',
          },
          schema: {
            querystring: alertsQuerySchema,
            response: { 200: alertListSchema, ...errors(400, ...auth) },
          },
        },
        (request) => ({
          alerts: store
            .listAlertRules(request.query)
            .map((rule) => ({ ...rule, state: alerting.stateOf(rule.alert_id) })),
          active_alerts: alerting.active(request.query),
          history: alerting.history(100),
          recent_events: store.alertEvents(100),
          evaluation: 'server',
        }),
      );

      api.post<{ Body: AlertRuleBody }>(
        '/alerts',
        {
          config: {
            permission: 'admin',
            summary: 'Create an alert rule, evaluated by the server',
            description:
              'Stores the rule after parsing its condition. The server evaluates it over the data it stored on its interval (pending, firing after `duration_seconds`, resolved) and notifies the channels it was given that the rule lists.',
          },
          schema: {
            body: alertRuleBodySchema,
            querystring: noQuerySchema,
            response: { 201: alertCreatedSchema, ...errors(...ingest) },
          },
        },
        (request, reply) => {
          const alert = store.createAlertRule(request.body);
          void reply.code(201).send({
            success: true,
            message: 'Alert rule created',
            alert_id: alert.alert_id,
            alert,
          });
        },
      );

      api.post<{ Params: { id: string }; Body: { by?: string } | undefined }>(
        '/alerts/:id/acknowledge',
        {
          config: { permission: 'admin', summary: 'Acknowledge an alert rule' },
          schema: {
            params: alertParamsSchema,
            querystring: noQuerySchema,
            body: { content: { 'application/json': { schema: acknowledgeBodySchema } } },
            response: { 200: alertChangedSchema, ...errors(...ingest, 404) },
          },
        },
        (request) => {
          const by = request.body?.by ?? principals.get(request)?.keyId ?? 'dev';
          const done = alerting.acknowledge(request.params.id, by);
          if (done === undefined)
            throw new HttpError(404, 'not_found', 'id', 'no alert rule with this id');
          return {
            success: true,
            message: 'Alert rule acknowledged',
            alert_id: done.rule.alert_id,
            alert: { ...done.rule, state: alerting.stateOf(done.rule.alert_id) },
            ...(done.alert === undefined ? {} : { active_alert: done.alert }),
          };
        },
      );

      api.delete<{ Params: { id: string } }>(
        '/alerts/:id',
        {
          config: { permission: 'admin', summary: 'Delete an alert rule' },
          schema: {
            params: alertParamsSchema,
            querystring: noQuerySchema,
            response: { 200: alertChangedSchema, ...errors(400, ...auth, 404) },
          },
        },
        (request) => {
          if (!alerting.delete(request.params.id)) {
            throw new HttpError(404, 'not_found', 'id', 'no alert rule with this id');
          }
          return { success: true, message: 'Alert rule deleted', alert_id: request.params.id };
        },
      );

      // ---- GET /health and GET /analytics over the stored data (read/) ----
      const reader = new FleetReader(store, clock, alerting);
      // Any write may change an answer: kept answers are dropped before it is acknowledged.
      api.addHook('onSend', async (request, _reply, payload) => {
        if (request.method !== 'GET' && request.method !== 'HEAD') reader.invalidate();
        return payload;
      });
      const known = (query: ReadQuery): ReadQuery => {
        if (query.service !== undefined && !reader.hasService(query.service)) {
          throw new HttpError(
            404,
            'not_found',
            'service',
            'no process of this service sent a batch',
          );
        }
        if (query.component !== undefined && !reader.hasComponent(query.component, query.service)) {
          throw new HttpError(
            404,
            'not_found',
            'component',
            'no series of this component is stored',
          );
        }
        return query;
      };
      api.get<{ Querystring: ReadQuery }>(
        '/health',
        {
          config: {
            permission: 'read',
            summary: 'System health over the stored data of every service (or one)',
            description:
              "The spec's health object computed from what the services sent: resource gauges (the largest among live processes), traffic and errors over `window`, the server's firing alerts and services that stopped sending, scored with core's `computeHealthScore`. Adds `window`, `service`, `components`, `services` and `resources`. An unknown `component` or `service` is a 404.",
          },
          schema: {
            querystring: readQuerySchema,
            response: { 200: fleetHealthSchema, ...errors(400, ...auth, 404) },
          },
        },
        (request) => reader.health(known(request.query)),
      );
      api.get<{ Querystring: ReadQuery }>(
        '/analytics',
        {
          config: {
            permission: 'read',
            summary: 'Performance analytics of a component over the stored data',
            description:
              "The spec's analytics object from core's analytics engine over what the services sent: timers over `window` (percentiles from the merged per-minute digests of every process), trends and anomalies over the last hour, the usage pattern over 7 days, bottlenecks from stored traces, capacity forecasts and recommendations. Adds `window`, `service`, `latency_percentiles`, `anomalies` and `capacity`. Without `component`: the `default` component. An unknown `component` or `service` is a 404.",
          },
          schema: {
            querystring: readQuerySchema,
            response: { 200: fleetAnalyticsSchema, ...errors(400, ...auth, 404) },
          },
        },
        (request) => reader.analytics(known(request.query)),
      );
      // ---- end of GET /health and GET /analytics ----

      api.get(
        '/healthz',
        {
          config: { permission: null, summary: 'Liveness and storage check (no key needed)' },
          schema: {
            querystring: noQuerySchema,
            response: { 200: healthzSchema, 503: healthzSchema, ...errors(400) },
          },
        },
        (_request, reply) => {
          const ok = store.ping();
          void reply.code(ok ? 200 : 503).send({
            status: ok ? 'ok' : 'degraded',
            storage: ok ? 'ok' : 'unavailable',
            timestamp: now(),
          });
        },
      );

      api.get(
        '/openapi.json',
        {
          config: { permission: null, summary: 'This document' },
          schema: { querystring: noQuerySchema, response: errors(400) },
        },
        () => buildOpenApi(routes, VERSION),
      );
      // Audit copies (issue 10): POST /audit, GET /audit, GET /audit/verify.
      registerAuditRoutes(api, store);
      // BI export (issue 12): GET /export, streamed from the database file (export/).
      registerExportRoutes(api, store.path, {
        roleOf: (request) => principals.get(request)?.role,
      });

      next();
    },
    { prefix: API_PREFIX },
  );

  // The web dashboard: `/` and `/dashboard/*` are public static files (no data in
  // them); its series and waterfall routes under API_PREFIX need the `read` role.
  await registerDashboard(app, { store, clock, prefix: API_PREFIX, sessions });

  const timer =
    compactIntervalMs > 0
      ? setInterval(() => {
          try {
            store.compact(clock.now());
          } catch (error) {
            onError(error);
          }
        }, compactIntervalMs)
      : undefined;
  timer?.unref();

  let url: string | undefined;
  try {
    if (options.port !== undefined) {
      await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
      const address = app.server.address();
      if (address !== null && typeof address === 'object') {
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        url = `http://${host}:${address.port}`;
      }
    } else {
      await app.ready();
    }
  } catch (error) {
    if (timer !== undefined) clearInterval(timer);
    await app.close().catch(() => undefined);
    await alerting.close();
    if (ownStore) store.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    alerting,
    url,
    close(): Promise<void> {
      closing ??= (async (): Promise<void> => {
        if (timer !== undefined) clearInterval(timer);
        await app.close();
        await alerting.close();
        if (ownStore) store.close();
      })();
      return closing;
    },
  };
}
