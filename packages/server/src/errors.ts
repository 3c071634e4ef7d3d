/**
 * The one error type for bad input found past the schemas (a type conflict, a bad
 * condition): it carries the HTTP status, a stable code and the offending field, and
 * the server turns it into the `{ "error": { "code", "message", "field" } }` body.
 * Imports nothing.
 */

/**
 * Bad input, with the field to blame. Thrown by the store (inside a transaction, so
 * nothing of the request is kept) and mapped to a 4xx by the server.
 *
 * @example
 * ```ts
 * try {
 *   store.createAlertRule({ ...rule, condition: 'error_rate >' });
 * } catch (error) {
 *   if (error instanceof InputError) console.log(error.status, error.code, error.field);
 * }
 * ```
 */
export class InputError extends Error {
  /** The HTTP status: 400, 404, 409. */
  readonly status: number;
  /** A stable, machine-readable code. */
  readonly code: string;
  /** The offending field (a path such as `metrics[2].value`). */
  readonly field: string;

  constructor(status: number, code: string, field: string, message: string) {
    super(message);
    this.name = 'InputError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}
