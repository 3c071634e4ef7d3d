/**
 * What each entry point loads, read from the sources' import graph: `@prsm/server`
 * and `@prsm/server/fastify` never import express (an optional peer dependency, only
 * `@prsm/server/express` does), and the mountable entry points never import SQLite.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every package (not relative) module the file imports, following relative imports. */
function packagesImportedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)';/gms)) {
      const spec = m[1]!;
      if (/^import type\s/.test(m[0]) || /^export type\s/.test(m[0])) continue;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(resolve(SRC, entry));
  return packages;
}

describe('entry points', () => {
  it('@prsm/server does not load express', () => {
    const loaded = packagesImportedBy('index.ts');
    expect(loaded).toContain('better-sqlite3');
    expect(loaded).toContain('fastify');
    expect(loaded).not.toContain('express');
  });

  it('@prsm/server/fastify loads neither express nor SQLite', () => {
    const loaded = packagesImportedBy('fastify.ts');
    expect(loaded).toContain('@prsm/exporters/prometheus');
    expect(loaded).not.toContain('express');
    expect(loaded).not.toContain('better-sqlite3');
  });

  it('@prsm/server/express loads express but not SQLite', () => {
    const loaded = packagesImportedBy('express.ts');
    expect(loaded).toContain('express');
    expect(loaded).not.toContain('better-sqlite3');
  });
});
