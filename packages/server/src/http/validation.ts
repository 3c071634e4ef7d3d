/**
 * The request validation every route shares, the server's and the mountable ones:
 * Ajv 8 through Fastify's own compiler (`@fastify/ajv-compiler`), with no type
 * coercion, no silent removal and no defaults, so a body the server refuses is
 * refused the same way by a mounted router. Imports nothing of the package.
 */
import AjvCompiler from '@fastify/ajv-compiler';

/** Ajv's options on every route. @internal */
export const AJV_OPTIONS = {
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  strict: true,
  strictNumbers: true,
  strictRequired: false,
  discriminator: true,
} as const;

/** One Ajv error, as {@link validationBody} reads it. @internal */
export interface ValidationIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/** A compiled schema: true, or false with `errors` set. @internal */
export interface Validate {
  (data: unknown): boolean;
  errors?: readonly ValidationIssue[] | null;
}

/**
 * A Fastify validator compiler with {@link AJV_OPTIONS}: for `setValidatorCompiler`
 * in a plugin, and to compile schemas for Express. @internal
 */
export function validatorCompiler(): (route: {
  schema: Record<string, unknown>;
  method: string;
  url: string;
  httpPart?: string;
}) => Validate {
  const factory = AjvCompiler();
  const compile = factory({}, { customOptions: AJV_OPTIONS });
  return (route) => compile(route);
}
