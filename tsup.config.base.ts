import type { Options } from 'tsup';
import { keepConst } from './tsup.keep-const.js';

/**
 * The one tsup configuration every publishable `@prsm/*` package builds with.
 *
 * Each package's `tsup.config.ts` calls this, passing only what differs (extra
 * `entry` points for subpath exports, for instance). Output goes to `dist/`:
 * ESM (`.js`), CommonJS (`.cjs`) and a declaration file for each
 * (`.d.ts`, `.d.cts`), matching the `exports` map in the package's package.json.
 *
 * @example
 * ```ts
 * // packages/exporters/tsup.config.ts
 * import { definePackageConfig } from '../../tsup.config.base.js';
 *
 * export default definePackageConfig({ entry: ['src/index.ts', 'src/otlp/index.ts'] });
 * ```
 */
export function definePackageConfig(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    outDir: 'dist',
    // tsup's declaration build rejects `composite` projects (TS6307, tsup#1364).
    dts: { compilerOptions: { composite: false } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    tsconfig: 'tsconfig.json',
    // esbuild declares the sources' top-level `const`s with `var`; V8 runs the sketch's
    // loops over module-level scratch arrays 2 to 4 times slower so (see keepConst).
    plugins: [keepConst()],
    ...overrides,
  };
}
