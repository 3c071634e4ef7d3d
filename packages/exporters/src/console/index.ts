/**
 * `@prsm/exporters/console`: the console exporter, for development.
 *
 * @example
 * ```ts
 * import { consoleExporter } from '@prsm/exporters/console';
 *
 * const monitor = new Monitor({ exporters: [consoleExporter()] });
 * ```
 *
 * @packageDocumentation
 */
export { consoleExporter } from './console.js';
export type { ConsoleExporterOptions } from './console.js';
