/**
 * Vitest global setup: compiles the fixture classes with the real TypeScript
 * compiler, once as TC39 decorators and once as legacy experimentalDecorators with
 * emitDecoratorMetadata, into packages/decorators/build/fixtures/{tc39,legacy}. A
 * type error fails the run. Skipped when the output is newer than every fixture, every
 * source of this package and of @prsm/core, and tsconfig.base.json.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = dirname(here);
const outRoot = join(packageDir, 'build', 'fixtures');
const MODES = ['tc39', 'legacy'] as const;

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

function removeStale(dir: string, keep: ReadonlySet<string>): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) removeStale(path, keep);
    else if (!keep.has(resolve(path))) rmSync(path);
  }
}

function compile(mode: (typeof MODES)[number]): void {
  const configPath = join(here, mode, 'tsconfig.json');
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
    // Files are overwritten in place (a module loader never sees one missing), and
    // outputs of deleted fixtures removed afterwards.
    const emitted = new Set<string>();
    const result = program.emit(undefined, (path, text) => {
      emitted.add(resolve(path));
      ts.sys.writeFile(path, text);
    });
    diagnostics.push(...result.diagnostics);
    removeStale(join(outRoot, mode), emitted);
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

export default function setup(): void {
  const stamp = join(outRoot, '.stamp');
  // The fixtures are type-checked against both packages' sources and the base config.
  const root = dirname(dirname(packageDir));
  const inputs = Math.max(
    newest(here),
    newest(join(packageDir, 'src')),
    newest(join(root, 'packages', 'core', 'src')),
    statSync(join(root, 'tsconfig.base.json')).mtimeMs,
  );
  if (existsSync(stamp) && statSync(stamp).mtimeMs > inputs) return;
  for (const mode of MODES) compile(mode);
  mkdirSync(outRoot, { recursive: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
