import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../packages/', import.meta.url));

interface Manifest {
  name: string;
  exports?: Record<string, string | Record<string, unknown>>;
}

const manifests: { dir: string; manifest: Manifest }[] = readdirSync(packagesDir, {
  withFileTypes: true,
})
  .filter((entry) => entry.isDirectory() && existsSync(`${packagesDir}${entry.name}/package.json`))
  .map((entry) => ({
    dir: `${packagesDir}${entry.name}/`,
    manifest: JSON.parse(
      readFileSync(`${packagesDir}${entry.name}/package.json`, 'utf8'),
    ) as Manifest,
  }));

describe('workspace scaffolding', () => {
  it('resolves @prsm/core to its TypeScript source, so tests need no build', async () => {
    const viaPackageName = await import('@prsm/core');
    const viaSourcePath = await import('../packages/core/src/index.js');

    // One module instance: the package name and the source path load the same
    // module only when the "@prsm/source" condition resolved the package to
    // packages/core/src/index.ts rather than to dist/.
    expect(viaPackageName).toBe(viaSourcePath);
  });

  it.each(manifests.map(({ dir, manifest }) => [manifest.name, dir, manifest] as const))(
    '%s maps every code export to an existing source file under the "@prsm/source" condition',
    (_name, dir, manifest) => {
      const codeExports = Object.entries(manifest.exports ?? {}).filter(
        ([subpath]) => subpath !== './package.json',
      );
      expect(codeExports.length).toBeGreaterThan(0);

      for (const [subpath, target] of codeExports) {
        expect(typeof target, `exports["${subpath}"] must be a conditions object`).toBe('object');
        const conditions = target as Record<string, unknown>;
        // Node, TypeScript and Vite take the first matching condition, so the
        // source condition must come before "import" and "require".
        expect(Object.keys(conditions)[0], `exports["${subpath}"]`).toBe('@prsm/source');
        const source = conditions['@prsm/source'];
        expect(source, `exports["${subpath}"]`).toMatch(/^\.\/src\/.+\.ts$/);
        expect(existsSync(`${dir}${String(source)}`), `${String(source)} exists`).toBe(true);
      }
    },
  );
});
