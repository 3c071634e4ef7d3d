import { definePackageConfig } from '../../tsup.config.base.js';

export default definePackageConfig({
  entry: ['src/index.ts', 'src/cli.ts', 'src/fastify.ts', 'src/express.ts'],
  // The dashboard's files are found from import.meta.url: shimmed in the CommonJS build.
  shims: true,
});
