/**
 * OpenAPI 3.0 from the routes' own schemas: an `onRoute` hook records each route's
 * method, URL, schemas and required permission; `build` turns them into a document.
 * The schemas use only OpenAPI 3.0 keywords, so they are copied as they are (minus
 * Ajv's `discriminator` when it has no mapping: OpenAPI takes it as is).
 */

/** What the hook records of a route. @internal */
export interface RouteDoc {
  readonly method: string;
  readonly url: string;
  readonly summary: string;
  readonly description?: string;
  readonly permission: string | null;
  readonly body?: unknown;
  readonly params?: unknown;
  readonly querystring?: unknown;
  readonly response?: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parameters(schema: unknown, where: 'path' | 'query'): Json[] {
  if (!isObject(schema) || !isObject(schema['properties'])) return [];
  const required = Array.isArray(schema['required']) ? (schema['required'] as string[]) : [];
  return Object.entries(schema['properties']).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.includes(name),
    schema: s,
  }));
}

function responseOf(schema: unknown): Json {
  if (!isObject(schema)) return { description: 'OK' };
  const { description, ...rest } = schema;
  return {
    description: typeof description === 'string' ? description : 'OK',
    content: { 'application/json': { schema: rest } },
  };
}

/** The OpenAPI document of the recorded routes. @internal */
export function buildOpenApi(routes: readonly RouteDoc[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const operation: Json = {
      summary: r.summary,
      ...(r.description === undefined ? {} : { description: r.description }),
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(r.permission === null
        ? { security: [] }
        : {
            security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
            'x-prsm-permission': r.permission,
          }),
    };
    const params = [...parameters(r.params, 'path'), ...parameters(r.querystring, 'query')];
    if (params.length > 0) operation['parameters'] = params;
    if (r.body !== undefined) {
      const body = isObject(r.body) && isObject(r.body['content']) ? r.body['content'] : undefined;
      const schema = body === undefined ? r.body : (body['application/json'] as Json)['schema'];
      operation['requestBody'] = {
        required: body === undefined,
        content: { 'application/json': { schema } },
      };
    }
    const responses: Json = {};
    for (const [status, schema] of Object.entries(r.response ?? {})) {
      if (isObject(schema) && schema['type'] === 'string' && schema['contentType'] !== undefined) {
        const { contentType, description, ...rest } = schema;
        responses[status] = {
          description: typeof description === 'string' ? description : 'OK',
          content: {
            [typeof contentType === 'string' ? contentType : 'text/plain']: { schema: rest },
          },
        };
      } else {
        responses[status] = responseOf(schema);
      }
    }
    operation['responses'] = responses;
    (paths[path] ??= {})[r.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'PRSM Monitor server',
      version,
      description:
        'The monitoring REST API of PRSM Monitor. Every 4xx/5xx body is `{ "error": { "code", "message", "field" } }`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: '`Authorization: Bearer prsm_...`',
        },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
    paths,
  };
}
