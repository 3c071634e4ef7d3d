/**
 * Shared by this package's tests (not exported, not bundled): compiles the decorator
 * fixtures (test-fixtures/shared) with the real TypeScript compiler, as TC39
 * decorators and as legacy experimentalDecorators, into build/fixtures/<mode>, and
 * loads them. A type error fails the test run. The fixtures import this package's
 * sources relatively; the emitted import is pointed at src/index.ts itself, so the
 * fixtures and the tests share one module instance. Skipped when the output is newer
 * than every fixture, every source of this package and of @prsm/core.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type * as Shop from '../test-fixtures/shared/shop.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = dirname(here);
const fixturesDir = join(packageDir, 'test-fixtures');
const outRoot = join(packageDir, 'build', 'fixtures');
const sourceIndex = join(packageDir, 'src', 'index.ts');

/** The two decorator standards the fixtures are compiled under. */
export const MODES = ['tc39', 'legacy'] as const;
export type Mode = (typeof MODES)[number];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

function compile(mode: Mode): void {
  const configPath = join(fixturesDir, mode, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (parsed === undefined) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...parsed.errors];
  if (diagnostics.length === 0) {
    const fixtureOut = join(outRoot, mode, 'test-fixtures') + sep;
    const result = program.emit(undefined, (path, text) => {
      const file = resolve(path);
      // The package's own sources are loaded as TypeScript, not as tsc's output.
      if (!file.startsWith(fixtureOut)) return;
      const target = relative(dirname(file), sourceIndex).split(sep).join('/');
      ts.sys.writeFile(file, text.replaceAll(`'../../src/index.js'`, `'${target}'`));
    });
    diagnostics.push(...result.diagnostics);
  }
  if (diagnostics.length > 0) {
    throw new Error(
      `fixtures (${mode}) do not compile:\n${ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => packageDir,
        getNewLine: () => '\n',
      })}`,
    );
  }
}

/** Compiles the fixtures in both modes unless the output is up to date. */
export function compileFixtures(): void {
  const stamp = join(outRoot, '.stamp');
  const root = dirname(dirname(packageDir));
  const inputs = Math.max(
    newest(fixturesDir),
    newest(join(packageDir, 'src')),
    newest(join(root, 'packages', 'core', 'src')),
    statSync(join(root, 'tsconfig.base.json')).mtimeMs,
  );
  if (existsSync(stamp) && statSync(stamp).mtimeMs > inputs) return;
  for (const mode of MODES) compile(mode);
  mkdirSync(outRoot, { recursive: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

/** The fixtures as compiled under `mode`. */
export async function loadShop(mode: Mode): Promise<typeof Shop> {
  const path = `../build/fixtures/${mode}/test-fixtures/shared/shop.js`;
  return (await import(/* @vite-ignore */ path)) as typeof Shop;
}
