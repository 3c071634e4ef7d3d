import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run against TypeScript source, never against dist/: every workspace
// package maps the custom export condition "@prsm/source" to ./src/index.ts.
// Since Vite 6, setting `conditions` replaces Vite's defaults instead of adding
// to them, so the defaults are spread back in. Vitest runs Node tests in Vite's
// SSR environment, which reads `ssr.resolve.conditions`; `resolve.conditions`
// covers the client environment (browser-like test environments).
const sourceCondition = '@prsm/source';

export default defineConfig({
  resolve: {
    conditions: [sourceCondition, ...defaultClientConditions],
  },
  ssr: {
    resolve: {
      conditions: [sourceCondition, ...defaultServerConditions],
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/build/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
