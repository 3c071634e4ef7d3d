/**
 * The error funnel: every failure becomes `{ "error": { "code", "message", "field" } }`.
 * Ajv's validation errors name the field (instancePath, missingProperty,
 * additionalProperty); Fastify's coded errors keep their status; anything else is a
 * generic 500 without details. Imports nothing from the rest of the server but
 * InputError.
 */
import { InputError } from '../errors.js';

/** The error body. @internal */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly field: string | null;
  };
}

/** A problem found by the server itself, with status and field. @internal */
export class HttpError extends InputError {}

/** Builds an error body. @internal */
export function errorBody(code: string, message: string, field: string | null): ErrorBody {
  return { error: { code, message, field } };
}

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

/** `/metrics/0/value` -> `metrics[0].value` (JSON pointer unescaped). */
export function pointerToField(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

function join(base: string, name: string): string {
  return base === '' ? name : `${base}.${name}`;
}

const CODES: Readonly<Record<string, string>> = {
  required: 'missing_field',
  additionalProperties: 'unknown_field',
  type: 'invalid_type',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
  exclusiveMinimum: 'out_of_range',
  exclusiveMaximum: 'out_of_range',
  pattern: 'invalid_format',
  format: 'invalid_format',
  enum: 'invalid_value',
  minLength: 'invalid_length',
  maxLength: 'invalid_length',
  minItems: 'invalid_length',
  maxItems: 'invalid_length',
  maxProperties: 'too_many_fields',
  discriminator: 'invalid_value',
  anyOf: 'invalid_type',
};

/**
 * Of a `oneOf`'s errors, those of the branch that got furthest (deepest instance
 * path; on a tie the first branch), so `{ "metrics": [{ "value": "x" }] }` is blamed
 * on `metrics[0].value`, not on a missing `name`.
 */
function bestErrors(errors: readonly AjvError[]): readonly AjvError[] {
  const branches = new Map<string, AjvError[]>();
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const m = /^(.*?\/(?:oneOf|anyOf)\/\d+)\//.exec(e.schemaPath);
    const key = m?.[1] ?? '';
    let list = branches.get(key);
    if (list === undefined) branches.set(key, (list = []));
    list.push(e);
  }
  let best: AjvError[] | undefined;
  let depth = -1;
  for (const list of branches.values()) {
    const d = Math.max(...list.map((e) => e.instancePath.split('/').length));
    if (d > depth) {
      depth = d;
      best = list;
    }
  }
  return best ?? errors;
}

/** The 400 body for Fastify's validation errors. @internal */
export function validationBody(
  errors: readonly AjvError[],
  context: string | undefined,
): { code: string; message: string; field: string } {
  const chosen = bestErrors(errors);
  let e = chosen[0] ?? errors[0];
  // A value matching none of an anyOf's types: blame the value, not the first branch.
  const union = errors.find((x) => x.keyword === 'anyOf');
  if (union !== undefined && e !== undefined && e.instancePath === union.instancePath) e = union;
  if (e === undefined) return { code: 'invalid_value', message: 'invalid request', field: 'body' };
  let field = pointerToField(e.instancePath);
  if (e.keyword === 'required' && typeof e.params['missingProperty'] === 'string') {
    field = join(field, e.params['missingProperty']);
  } else if (
    e.keyword === 'additionalProperties' &&
    typeof e.params['additionalProperty'] === 'string'
  ) {
    field = join(field, e.params['additionalProperty']);
  } else if (e.keyword === 'discriminator' && typeof e.params['tag'] === 'string') {
    field = join(field, e.params['tag']);
  }
  if (field === '') field = context === 'querystring' ? 'query' : (context ?? 'body');
  const what =
    e.keyword === 'additionalProperties'
      ? 'is not a known field'
      : e.keyword === 'required'
        ? 'is required'
        : e.keyword === 'anyOf'
          ? 'has a type not allowed here (a string, number, boolean or null; no nesting)'
          : e.keyword === 'discriminator'
            ? 'must be one of counter, gauge, histogram, timer'
            : (e.message ?? 'is invalid');
  const allowed =
    e.keyword === 'enum' && Array.isArray(e.params['allowedValues'])
      ? `: ${(e.params['allowedValues'] as unknown[]).map(String).join(', ')}`
      : '';
  return {
    code: CODES[e.keyword] ?? 'invalid_value',
    message: `${field} ${what}${allowed}`,
    field,
  };
}

/**
 * Any error thrown on a route, as the status and body to answer: Ajv's validation
 * errors (Fastify's `validation` and `validationContext`, or a mounted router's), an
 * {@link InputError}, Fastify's coded 4xx errors; anything else is reported to
 * `onError` and answered as a bare 500. Shared by the server and the mountable
 * routes so they answer alike. @internal
 */
export function errorReply(
  error: unknown,
  bodyLimit: number,
  onError: (error: unknown) => void,
): { status: number; body: ErrorBody } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    validation?: unknown;
    validationContext?: string;
    statusCode?: number;
    code?: string;
  };
  if (Array.isArray(e.validation)) {
    const body = validationBody(e.validation as AjvError[], e.validationContext);
    return { status: 400, body: errorBody(body.code, body.message, body.field) };
  }
  if (error instanceof InputError) {
    return { status: error.status, body: errorBody(error.code, error.message, error.field) };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) {
    return {
      status,
      body: errorBody('payload_too_large', `the body exceeds ${bodyLimit} bytes`, 'body'),
    };
  }
  if (status === 415) {
    return {
      status,
      body: errorBody(
        'unsupported_media_type',
        'the body must be application/json',
        'content-type',
      ),
    };
  }
  if (status >= 400 && status < 500) {
    return {
      status,
      body: errorBody(
        e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'empty_body' : 'bad_request',
        'the request is not valid',
        'body',
      ),
    };
  }
  onError(error);
  return { status: 500, body: errorBody('internal_error', 'internal server error', null) };
}
