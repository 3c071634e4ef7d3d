/**
 * The package version. A test keeps it equal to package.json's.
 *
 * @example
 * ```ts
 * import { VERSION } from '@prsm/http';
 * console.log(`@prsm/http ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';
