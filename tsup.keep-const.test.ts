import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire, SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepConst, keepConstInChunk } from './tsup.keep-const.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prsm-keep-const-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The top-level declarations' keywords, in order, of a chunk. */
function keywords(code: string): string[] {
  return [...code.matchAll(/^(var|const|let) (\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
}

describe('keepConstInChunk', () => {
  it('makes a never-written top-level var const, keeping the code length and lines', async () => {
    const code = [
      'var scratch = new Float64Array(4);',
      'var LIMIT = 4, NAME = "x";',
      'var pure = /* @__PURE__ */ new Set(["a"]);',
      'function fill(v) { for (let i = 0; i < LIMIT; i++) scratch[i] = v; return scratch; }',
      'export { fill, NAME, pure };',
      '',
    ].join('\n');
    const result = keepConstInChunk(code, 'module');
    expect(keywords(result.code)).toEqual(['const scratch', 'const LIMIT', 'const pure']);
    expect(result).toMatchObject({ changed: 3, kept: 0 });
    expect(result.code.length).toBe(code.length);
    expect(result.code.split('\n').map((line) => line.length)).toEqual(
      code.split('\n').map((line) => line.length),
    );
    // Each line's initialiser starts in the same column as before.
    expect(result.code.indexOf('new Float64Array')).toBe(code.indexOf('new Float64Array'));
    expect(result.code.indexOf('/* @__PURE__ */')).toBe(code.indexOf('/* @__PURE__ */'));
    const file = join(dir, 'module.mjs');
    await writeFile(file, result.code);
    const loaded = (await import(pathToFileURL(file).href)) as {
      fill(v: number): Float64Array;
      NAME: string;
      pure: Set<string>;
    };
    expect([...loaded.fill(2)]).toEqual([2, 2, 2, 2]);
    expect(loaded.NAME).toBe('x');
    expect(loaded.pure.has('a')).toBe(true);
  });

  it('keeps every var that is written, uninitialised or declared twice', () => {
    const code = [
      'var assigned = 1;',
      'var updated = 0;',
      'var compound = 1;',
      'var swappedA = 1;',
      'var swappedB = 2;',
      'var fromObject = 1;',
      'var iterated = 0;',
      'var enumerated = "";',
      'var uninitialised;',
      'var twice = 1;',
      'var twice = 2;',
      'var alsoFunction = 1;',
      'function alsoFunction() {}',
      'var mixed = 1, mixedWritten = 2;',
      'var shadowed = 1;',
      'var untouched = [];',
      'function writes() {',
      '  assigned = 2; updated++; compound += 1;',
      '  [swappedA, swappedB] = [swappedB, swappedA];',
      '  ({ key: fromObject } = { key: 3 });',
      '  for (iterated of [1, 2]) {}',
      '  for (enumerated in { a: 1 }) {}',
      '  mixedWritten = 3;',
      '  { let shadowed = 0; shadowed = 1; }',
      '  var local = 1;',
      '  untouched.push(local);',
      '}',
      'writes();',
    ].join('\n');
    // A script: a module may not declare a function and a var of one name.
    const result = keepConstInChunk(code, 'script');
    expect(keywords(result.code).filter((k) => k.startsWith('const'))).toEqual(['const untouched']);
    // `local` is not top-level: untouched whatever it is.
    expect(result.code).toContain('  var local = 1;');
    expect(result).toMatchObject({ changed: 1, kept: 14 });
  });

  it('reads a CommonJS chunk as a script', async () => {
    const code = [
      '"use strict";',
      'var __defProp = Object.defineProperty;',
      'var src_exports = {};',
      'var table = new Int32Array(3);',
      'module.exports = { bump(i) { table[i]++; return table[i]; } };',
      '',
    ].join('\n');
    const result = keepConstInChunk(code, 'script');
    expect(keywords(result.code)).toEqual(['const __defProp', 'const src_exports', 'const table']);
    const file = join(dir, 'chunk.cjs');
    await writeFile(file, result.code);
    const loaded = createRequire(import.meta.url)(file) as { bump(i: number): number };
    expect(loaded.bump(1)).toBe(1);
    expect(loaded.bump(1)).toBe(2);
  });

  it('changes nothing in a chunk without top-level vars', () => {
    const code = 'export const a = 1;\nlet b = 2;\nexport { b };\n';
    expect(keepConstInChunk(code, 'module')).toEqual({ code, changed: 0, kept: 0 });
  });
});

describe('keepConst as tsup bundles', () => {
  it("restores the sources' const in both formats, runs, and keeps the source map right", async () => {
    await writeFile(
      join(dir, 'scratch.ts'),
      [
        'const SIZE = 8;',
        'const scratch = new Float64Array(SIZE);',
        'let calls = 0;',
        'export function sum(values: readonly number[]): number {',
        '  calls++;',
        '  let total = 0;',
        '  for (let i = 0; i < values.length; i++) scratch[i % SIZE] = values[i]!;',
        '  for (let i = 0; i < SIZE; i++) total += scratch[i]!;',
        '  return total;',
        '}',
        'export const callCount = (): number => calls;',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'entry.ts'),
      "export { sum, callCount } from './scratch.js';\nexport const VERSION = '1';\n",
    );
    const options = {
      entry: [join(dir, 'entry.ts')],
      outDir: join(dir, 'dist'),
      format: ['esm', 'cjs'] as ('esm' | 'cjs')[],
      sourcemap: true,
      target: 'node20',
      platform: 'node' as const,
      silent: true,
      config: false,
    };
    // Without the plugin, esbuild declares the sources' consts with var.
    await build({ ...options, outDir: join(dir, 'plain') });
    const plain = await readFile(join(dir, 'plain', 'entry.js'), 'utf8');
    expect(keywords(plain)).toEqual(
      expect.arrayContaining(['var SIZE', 'var scratch', 'var calls', 'var VERSION']),
    );

    await build({ ...options, plugins: [keepConst()] });
    const esm = await readFile(join(dir, 'dist', 'entry.js'), 'utf8');
    const cjs = await readFile(join(dir, 'dist', 'entry.cjs'), 'utf8');
    for (const code of [esm, cjs]) {
      expect(keywords(code)).toEqual(
        expect.arrayContaining(['const SIZE', 'const scratch', 'var calls', 'const VERSION']),
      );
    }
    const viaImport = (await import(pathToFileURL(join(dir, 'dist', 'entry.js')).href)) as {
      sum(values: readonly number[]): number;
      callCount(): number;
    };
    const viaRequire = createRequire(import.meta.url)(join(dir, 'dist', 'entry.cjs')) as {
      sum(values: readonly number[]): number;
      VERSION: string;
    };
    expect(viaImport.sum([1, 2, 3])).toBe(6);
    expect(viaImport.callCount()).toBe(1);
    expect(viaRequire.sum([4, 5])).toBe(9);
    expect(viaRequire.VERSION).toBe('1');

    // The initialiser of `scratch` still maps to its place in scratch.ts.
    const map = new SourceMap(
      JSON.parse(
        await readFile(join(dir, 'dist', 'entry.js.map'), 'utf8'),
      ) as ConstructorParameters<typeof SourceMap>[0],
    );
    const lines = esm.split('\n');
    const line = lines.findIndex((l) => l.startsWith('const scratch='));
    const column = lines[line]!.indexOf('new Float64Array');
    const entry = map.findEntry(line, column) as {
      originalSource?: string;
      originalLine?: number;
      originalColumn?: number;
    };
    expect(entry.originalSource).toMatch(/scratch\.ts$/);
    expect(entry.originalLine).toBe(1);
    expect(entry.originalColumn).toBe('const scratch = '.length);
  });
});
