import { definePackageConfig } from '../../tsup.config.base.js';

export default definePackageConfig({
  entry: [
    'src/index.ts',
    'src/notifiers/index.ts',
    'src/prometheus/index.ts',
    'src/rest/index.ts',
    'src/console/index.ts',
    'src/otlp/index.ts',
  ],
});
