/**
 * The package version. A test keeps it equal to package.json's.
 *
 * @example
 * ```ts
 * import { VERSION } from '@prsm/business-outcomes';
 * console.log(`@prsm/business-outcomes ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';
