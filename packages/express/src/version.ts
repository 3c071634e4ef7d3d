/**
 * The package version, reported as the OpenTelemetry tracer (instrumentation scope)
 * version. A test keeps it equal to package.json's.
 *
 * @example
 * ```ts
 * import { VERSION } from '@prsm/express';
 * console.log(`@prsm/express ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';
