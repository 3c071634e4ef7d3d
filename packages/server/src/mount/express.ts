/**
 * The spec's read endpoints over an in-process `Monitor` as an Express 5 router, with
 * the server's schemas (compiled by the same Ajv compiler and options), body parsing
 * (JSON only, optionally gzip, within the limit) and error shape. May import from
 * mount/ and http/; express is an optional peer dependency, loaded only through the
 * `@prsm/server/express` subpath.
 */
import type { IncomingMessage } from 'node:http';

import { Router, type Request, type Response } from 'express';
import { prometheusHandler } from '@prsm/exporters/prometheus';

import { decodeBody, parseJson } from '../http/body.js';
import { errorBody, errorReply, HttpError } from '../http/errors.js';
import { validatorCompiler, type Validate } from '../http/validation.js';
import {
  monitorRoutes,
  resolveRoutesOptions,
  type PrsmMonitorRoutesOptions,
} from './monitor-routes.js';

/** Reads the raw body, refusing it past `limit` bytes (413). */
function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(Object.assign(new Error('body too large'), { statusCode: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

/** The request's JSON body, `undefined` when there is none. */
async function jsonBody(req: Request, limit: number): Promise<unknown> {
  const parsed: unknown = (req as { body?: unknown }).body;
  // An app-level express.json() already read it.
  if (parsed !== undefined && req.readableEnded) return parsed;
  const raw = await readRaw(req, limit);
  if (raw.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'content-type',
      'the body must be application/json',
    );
  }
  const encoding = req.headers['content-encoding'];
  return parseJson(decodeBody(raw, typeof encoding === 'string' ? encoding : undefined, limit));
}

function check(validate: Validate | undefined, data: unknown, context: string): void {
  if (validate === undefined || validate(data)) return;
  throw Object.assign(new Error('invalid request'), {
    validation: validate.errors ?? [],
    validationContext: context,
  });
}

/**
 * An Express 5 router serving, over `options.monitor`: `GET /health` (`monitor.health()`),
 * `GET /analytics?component=` (`monitor.analytics({ component })`), `GET /traces/{trace_id}`,
 * `GET /alerts`, `POST /alerts`, `POST /alerts/{id}/acknowledge`,
 * `DELETE /alerts/{id}` and `GET /metrics` (Prometheus), with the standalone
 * server's schemas and `{ "error": { code, message, field } }` answers. No API keys:
 * put your app's own auth middleware before it.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { Monitor } from '@prsm/core';
 * import { prsmMonitorExpress } from '@prsm/server/express';
 *
 * const monitor = new Monitor();
 * const app = express();
 * app.use('/api/v1/monitoring', prsmMonitorExpress({ monitor }));
 * app.listen(3000);
 * ```
 */
export function prsmMonitorExpress(options: PrsmMonitorRoutesOptions): Router {
  const resolved = resolveRoutesOptions(options, 'prsmMonitorExpress');
  const compile = validatorCompiler();
  const router = Router();
  const fail = (res: Response, error: unknown): void => {
    const { status, body } = errorReply(error, resolved.bodyLimit, resolved.onError);
    res.status(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
  };
  for (const route of monitorRoutes(resolved)) {
    const part = (
      schema: Record<string, unknown> | undefined,
      httpPart: string,
    ): Validate | undefined =>
      schema === undefined
        ? undefined
        : compile({ schema, method: route.method, url: route.url, httpPart });
    const params = part(route.schema.params, 'params');
    const query = part(route.schema.querystring, 'querystring');
    const body = part(route.schema.body, 'body');
    const handler = async (req: Request, res: Response): Promise<void> => {
      try {
        const input = route.method === 'POST' ? await jsonBody(req, resolved.bodyLimit) : undefined;
        const q = { ...(req.query as Record<string, string | undefined>) };
        check(params, req.params, 'params');
        check(query, q, 'querystring');
        if (route.method === 'POST') {
          if (input === undefined && !route.optionalBody) {
            throw new HttpError(400, 'empty_body', 'body', 'the body must not be empty');
          }
          if (input !== undefined) check(body, input, 'body');
        }
        const out = route.handle({
          params: req.params as Record<string, string>,
          query: q,
          body: input,
        });
        res
          .status(out.status)
          .type('application/json; charset=utf-8')
          .send(JSON.stringify(out.body));
      } catch (error) {
        fail(res, error);
      }
    };
    const method = route.method === 'GET' ? 'get' : route.method === 'POST' ? 'post' : 'delete';
    router[method](route.url, (req, res) => void handler(req, res));
  }
  router.get('/metrics', prometheusHandler({ ...resolved.prometheus, monitor: resolved.monitor }));
  router.use((_req: Request, res: Response) => {
    res
      .status(404)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(errorBody('not_found', 'no such route', 'path')));
  });
  return router;
}
