/**
 * dashboard/: the web dashboard's routes. `/` and `/dashboard/*` serve the static
 * files of `packages/server/dashboard/` and uPlot's two files from node_modules (read
 * once, kept in memory with their gzip form and an ETag; no key needed: they hold no
 * data), with a strict Content-Security-Policy. `GET /api/v1/monitoring/dashboard/series`
 * (role `read`) gives the series over time the charts draw. `POST /dashboard/session`
 * exchanges a key (an API key, or a one-time login key: spent) for a session token the
 * page keeps instead of the key (auth/sessions.ts). May import from store/, http/,
 * auth/ and this folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '@prsm/core';

import { looksLikeKey, looksLikeOneTimeKey, roleAllows } from '../auth/keys.js';
import type { DashboardSessions } from '../auth/sessions.js';
import { errorBody } from '../http/errors.js';
import { errorResponses, traceParamsSchema } from '../http/schemas.js';
import type { MonitorStore } from '../store/store.js';
import { DashboardSeriesReader, WINDOWS, type DashboardWindow } from './series.js';

/**
 * The page's Content-Security-Policy: scripts, styles and requests only to this
 * origin, no inline script or style attribute, no framing, no forms elsewhere.
 * @internal
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * `import.meta.url` in ESM (source and dist/*.js); in the CommonJS build esbuild leaves
 * `import.meta` empty, and `__dirname` and `require` are the module's own.
 */
const MODULE_URL: string | undefined = (import.meta as { url?: string }).url;

/** The folder of this module: src/dashboard (tsx) or dist (built). */
function moduleDir(): string {
  return typeof MODULE_URL === 'string' ? dirname(fileURLToPath(MODULE_URL)) : __dirname;
}

function findStaticDir(): string | undefined {
  const here = moduleDir();
  for (const candidate of [join(here, '..', '..', 'dashboard'), join(here, '..', 'dashboard')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

function resolveUplot(file: string): string | undefined {
  try {
    const req = typeof MODULE_URL === 'string' ? createRequire(MODULE_URL) : require;
    return join(dirname(req.resolve('uplot/package.json')), 'dist', file);
  } catch {
    return undefined;
  }
}

function asset(path: string, type: string, transform?: (text: string) => string): Asset {
  const raw = readFileSync(path);
  const body = transform === undefined ? raw : Buffer.from(transform(raw.toString('utf8')));
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${hash}"` };
}

/** The static files, keyed by their URL path. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const files = ['app.js', 'charts.js', 'api.js', 'style.css'];
  for (const file of files) {
    if (!existsSync(join(dir, file))) continue;
    const ext = file.slice(file.lastIndexOf('.'));
    assets.set(`/dashboard/${file}`, asset(join(dir, file), TYPES[ext]!));
  }
  const uplotJs = resolveUplot('uPlot.iife.min.js');
  const uplotCss = resolveUplot('uPlot.min.css');
  if (uplotJs !== undefined && existsSync(uplotJs)) {
    assets.set('/dashboard/uplot.js', asset(uplotJs, TYPES['.js']!));
  }
  if (uplotCss !== undefined && existsSync(uplotCss)) {
    assets.set('/dashboard/uplot.css', asset(uplotCss, TYPES['.css']!));
  }
  // index.html names each asset with its hash, so they can be cached for a year.
  const version = (path: string): string => {
    const a = assets.get(path);
    return a === undefined ? path : `${path}?v=${a.etag.slice(1, -1)}`;
  };
  assets.set(
    '/',
    asset(join(dir, 'index.html'), TYPES['.html']!, (text) =>
      text.replace(/(href|src)="(\/dashboard\/[a-z.-]+)"/g, (_m, attr: string, path: string) => {
        return `${attr}="${version(path)}"`;
      }),
    ),
  );
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, a: Asset, immutable: boolean): void {
  void reply
    .header('content-type', a.type)
    .header('etag', a.etag)
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === a.etag) {
    void reply.code(304).send();
    return;
  }
  const accepts = request.headers['accept-encoding'];
  if (typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
    void reply.header('content-encoding', 'gzip').send(a.gzip);
    return;
  }
  void reply.send(a.body);
}

/**
 * Options of {@link registerDashboard}. @internal
 */
export interface DashboardOptions {
  readonly store: MonitorStore;
  readonly clock: Clock;
  readonly prefix: string;
  readonly sessions: DashboardSessions;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1];
}

/**
 * Registers the dashboard's static routes (outside API auth) and its series route
 * (role `read`, under `prefix`). Call before the app is ready. @internal
 */
export async function registerDashboard(
  app: FastifyInstance,
  options: DashboardOptions,
): Promise<void> {
  const dir = findStaticDir();
  const assets = dir === undefined ? new Map<string, Asset>() : loadAssets(dir);
  const reader = new DashboardSeriesReader(options.store.path, options.clock);
  app.addHook('onClose', (_instance, done) => {
    reader.close();
    done();
  });

  const page = assets.get('/');
  app.get('/', (request, reply) => {
    if (page === undefined) {
      void reply
        .code(404)
        .type('application/json; charset=utf-8')
        .send(errorBody('not_found', 'the dashboard files are not installed', 'path'));
      return;
    }
    send(request, reply, page, false);
  });
  app.get<{ Params: { file: string }; Querystring: { v?: string } }>(
    '/dashboard/:file',
    (request, reply) => {
      const a = assets.get(`/dashboard/${request.params.file}`);
      if (a === undefined) {
        void reply
          .code(404)
          .type('application/json; charset=utf-8')
          .send(errorBody('not_found', 'no such file', 'path'));
        return;
      }
      const v = typeof request.query.v === 'string' ? request.query.v : undefined;
      send(request, reply, a, v !== undefined && `"${v}"` === a.etag);
    },
  );

  const { sessions, store } = options;
  await app.register(
    (api, _opts, next) => {
      api.post<{ Body: { key: string } }>(
        '/dashboard/session',
        {
          config: {
            permission: null,
            summary: 'Log in to the web dashboard: a key for a session',
            description:
              'Exchanges a key for a session token the page sends as `Authorization: Bearer` instead of the key (so the page never keeps the key). The key is an API key of a role that may read, or a one-time login key (`prsmo_`..., `prsm-monitor keys create --one-time`): that one is spent by this call, answered 401 if used again, and never accepted as an API key. A session stands for its key (its role; revoking the key ends it), ends at `DELETE /dashboard/session`, after 30 minutes unused or 12 hours after login, and when the server restarts (sessions are kept in memory).',
          },
          schema: {
            body: {
              type: 'object',
              additionalProperties: false,
              required: ['key'],
              properties: { key: { type: 'string', minLength: 1, maxLength: 200 } },
            },
            response: {
              201: {
                type: 'object',
                required: ['session', 'key_id', 'role', 'one_time', 'expires_at'],
                properties: {
                  session: { type: 'string', description: 'The token: `Bearer <session>`.' },
                  key_id: { type: 'string' },
                  role: { type: 'string' },
                  one_time: {
                    type: 'boolean',
                    description: 'The key was a one-time key, now spent.',
                  },
                  expires_at: {
                    type: 'string',
                    format: 'date-time',
                    description: 'The latest end (sooner after 30 minutes unused).',
                  },
                },
              },
              ...errorResponses([400, 401, 403]),
            },
          },
        },
        (request, reply) => {
          const key = request.body.key.trim();
          const oneTime = looksLikeOneTimeKey(key);
          const info = oneTime
            ? store.redeemOneTimeKey(key)
            : looksLikeKey(key)
              ? store.findKey(key)
              : undefined;
          if (info === undefined || info.revoked_at !== null) {
            void reply
              .code(401)
              .type('application/json; charset=utf-8')
              .send(
                errorBody(
                  'invalid_key',
                  oneTime
                    ? 'the one-time key is not valid: unknown, already used or revoked'
                    : 'the key is not valid',
                  'key',
                ),
              );
            return;
          }
          if (!roleAllows(info.role, 'read')) {
            void reply
              .code(403)
              .type('application/json; charset=utf-8')
              .send(
                errorBody(
                  'forbidden',
                  `the dashboard needs the read permission; the key's role is ${info.role}`,
                  'key',
                ),
              );
            return;
          }
          const created = sessions.create(info.id);
          void reply.code(201).send({
            session: created.token,
            key_id: info.id,
            role: info.role,
            one_time: oneTime,
            expires_at: new Date(created.expiresAt).toISOString(),
          });
        },
      );
      api.delete(
        '/dashboard/session',
        {
          config: {
            permission: null,
            summary: 'Log out of the web dashboard',
            description:
              'Ends the session sent as `Authorization: Bearer <session>`; 204 whether or not it was open.',
          },
          schema: { response: errorResponses([400]) },
        },
        (request, reply) => {
          const token = bearerToken(request);
          if (token !== undefined) sessions.end(token);
          void reply.code(204).send();
        },
      );
      api.get<{ Querystring: { window?: DashboardWindow; component?: string; service?: string } }>(
        '/dashboard/series',
        {
          config: {
            permission: 'read',
            summary: "The web dashboard's series over time",
            description:
              'Per component and step (1 minute for `15m` and `1h`, 15 minutes for `24h`): p50/p95/p99 merged from the stored digests, calls per minute and error rate of every histogram and timer (the SDK’s `prsm.*` timings left out), and `exemplars`: the slowest exemplar of each step (`{ trace_id, value }` or null; exemplars are the traced values sent in a batch sub-window’s `exemplars`, at most 4 kept per series and minute, as long as the minute rows); the resource gauges (`cpu_usage`, `memory_usage`, `disk_usage`, averaged over services; `network_io.bytes_*` in bytes per second); the ten operations with the most total time, each with the slowest recent root span of the same name (`trace_id`, `trace_duration_ms`) and its slowest exemplar in the window (`exemplar`: `{ component, metric, operation, value, trace_id, span_id, timestamp, trace_stored }` or null); the ten slowest recent traces (`slow_traces`); the ten slowest exemplars of the window (`exemplars`, one per operation). With `service`: only the series that service sent (series are stored per service, so its values are exact; its resource gauges; its exemplars; slow traces and the slowest calls of the operations among the root spans of its components, as spans are not stored by service), and `service` in the answer; a service that sent nothing gives empty lists, not an error. Without it: the whole fleet, every service merged (digests merged, not averaged). An answer is reused for up to 5 seconds while nothing new is stored. Answers 503 when the store is in memory.',
          },
          schema: {
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: {
                window: { type: 'string', enum: Object.keys(WINDOWS) },
                component: { type: 'string', minLength: 1, maxLength: 100 },
                service: {
                  type: 'string',
                  minLength: 1,
                  maxLength: 200,
                  description:
                    'One service (`service.name` of its batches, as `GET /health` lists them in `services`); absent: the whole fleet. Unknown: empty lists.',
                },
              },
            },
            response: errorResponses([400, 401, 403, 429]),
          },
        },
        (request, reply) => {
          if (!reader.available) {
            void reply
              .code(503)
              .type('application/json; charset=utf-8')
              .send(
                errorBody(
                  'unavailable',
                  'the dashboard series need the server to store to a file (not :memory:)',
                  null,
                ),
              );
            return;
          }
          void reply
            .type('application/json; charset=utf-8')
            .send(
              reader.read(
                request.query.window ?? '1h',
                request.query.component,
                request.query.service,
              ),
            );
        },
      );
      api.get<{ Params: { trace_id: string } }>(
        '/dashboard/waterfall/:trace_id',
        {
          config: {
            permission: 'read',
            summary: "A trace's spans placed in time (the dashboard's waterfall)",
            description:
              "What `GET /traces/{trace_id}` gives, plus what a waterfall needs and the spec shape lacks: each span's id, parent, offset from the trace's first span and depth, in start order (at most 2,000 spans). Answers 503 when the store is in memory.",
          },
          schema: {
            params: traceParamsSchema,
            response: errorResponses([400, 401, 403, 404, 429]),
          },
        },
        (request, reply) => {
          if (!reader.available) {
            void reply
              .code(503)
              .type('application/json; charset=utf-8')
              .send(errorBody('unavailable', 'the waterfall needs a file store', null));
            return;
          }
          const body = reader.waterfall(request.params.trace_id.toLowerCase());
          if (body === undefined) {
            void reply
              .code(404)
              .type('application/json; charset=utf-8')
              .send(errorBody('not_found', 'no span of this trace is stored', 'trace_id'));
            return;
          }
          void reply.type('application/json; charset=utf-8').send(body);
        },
      );
      next();
    },
    { prefix: options.prefix },
  );
}
