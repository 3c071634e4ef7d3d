import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run against TypeScript source, never against dist/: every workspace
// package maps the custom export condition "@prsm/source" to ./src/index.ts.
// Since Vite 6, setting `conditions` replaces Vite's defaults instead of adding
// to them, so the defaults are spread back in. Vitest runs Node tests in Vite's
// SSR environment, which reads `ssr.resolve.conditions`; `resolve.conditions`
// covers the client environment (browser-like test environments).
//
// Vitest also hands the SSR conditions to its Node workers as `--conditions` flags,
// which apply to Node's own require() of external CommonJS packages. Vite's default
// "module" condition must not be among them: with it, `require('@opentelemetry/api')`
// inside the OpenTelemetry SDK packages loads the API's bundler-only ESM build
// (extensionless imports), which Node cannot run.
const sourceCondition = '@prsm/source';
const serverConditions = defaultServerConditions.filter((condition) => condition !== 'module');

export default defineConfig({
  resolve: {
    conditions: [sourceCondition, ...defaultClientConditions],
  },
  ssr: {
    resolve: {
      conditions: [sourceCondition, ...serverConditions],
    },
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      // The build's own tools (tsup.keep-const.ts).
      '*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**', '**/build/**'],
    // Compiles the decorator fixtures with tsc, once per run, in both decorator modes.
    globalSetup: ['packages/decorators/test-fixtures/compile.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
