/**
 * The spec's read endpoints over an in-process `Monitor` as a Fastify plugin, with
 * the server's schemas, validation, body parsing and error shape. Register it with
 * a prefix; it is encapsulated (its validator, parser and error handler apply to its
 * routes only). May import from mount/ and http/.
 */
import type { FastifyPluginAsync, FastifySchemaCompiler } from 'fastify';
import { prometheusHandler } from '@prsm/exporters/prometheus';

import { useJsonBodies } from '../http/body.js';
import { errorBody, errorReply } from '../http/errors.js';
import { validatorCompiler } from '../http/validation.js';
import {
  monitorRoutes,
  resolveRoutesOptions,
  type PrsmMonitorRoutesOptions,
} from './monitor-routes.js';

/**
 * A Fastify plugin serving, over `options.monitor`: `GET /health` (`monitor.health()`),
 * `GET /analytics?component=` (`monitor.analytics({ component })`), `GET /traces/{trace_id}`,
 * `GET /alerts`, `POST /alerts`, `POST /alerts/{id}/acknowledge`,
 * `DELETE /alerts/{id}` and `GET /metrics` (Prometheus), with the standalone
 * server's schemas and `{ "error": { code, message, field } }` answers. No API keys:
 * protect the prefix with your app's own auth (an `onRequest` hook).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { Monitor } from '@prsm/core';
 * import { prsmMonitorFastify } from '@prsm/server/fastify';
 *
 * const monitor = new Monitor();
 * const app = Fastify();
 * await app.register(prsmMonitorFastify, { prefix: '/api/v1/monitoring', monitor });
 * await app.listen({ port: 3000 });
 * ```
 */
export const prsmMonitorFastify: FastifyPluginAsync<PrsmMonitorRoutesOptions> = async (
  app,
  options,
) => {
  const resolved = resolveRoutesOptions(options, 'prsmMonitorFastify');
  app.setValidatorCompiler(validatorCompiler() as unknown as FastifySchemaCompiler<unknown>);
  useJsonBodies(app, resolved.bodyLimit);
  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = errorReply(error, resolved.bodyLimit, resolved.onError);
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody('not_found', 'no such route', 'path')),
  );
  for (const route of monitorRoutes(resolved)) {
    app.route({
      method: route.method,
      url: route.url,
      schema: {
        ...route.schema,
        ...(route.schema.body !== undefined && {
          body: route.optionalBody
            ? { content: { 'application/json': { schema: route.schema.body } } }
            : route.schema.body,
        }),
      },
      handler: (request, reply) => {
        const out = route.handle({
          params: request.params as Record<string, string>,
          query: request.query as Record<string, string | undefined>,
          body: request.body,
        });
        return reply.code(out.status).send(out.body);
      },
    });
  }
  const metrics = prometheusHandler({ ...resolved.prometheus, monitor: resolved.monitor });
  app.get('/metrics', { schema: { response: {} } }, (request, reply) => {
    reply.hijack();
    metrics(request.raw, reply.raw);
  });
  await Promise.resolve();
};
