import { parse } from 'acorn';
import type { Options } from 'tsup';

/** A tsup plugin (tsup does not export the type by name). */
type TsupPlugin = NonNullable<Options['plugins']>[number];

/** What {@link keepConst} did to one chunk. */
export interface KeepConstResult {
  /** The chunk's code, its top-level `var`s that are never reassigned now `const`. */
  readonly code: string;
  /** How many declarations became `const`. */
  readonly changed: number;
  /** How many top-level `var` declarations stayed (reassigned, uninitialised, declared twice). */
  readonly kept: number;
}

/** The parts of an ESTree node this file reads. */
interface Node {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: unknown;
}

function isNode(value: unknown): value is Node {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

/** Every node of the tree, parents before children. */
function* nodes(root: Node): Generator<Node> {
  const stack: Node[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    yield node;
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (Array.isArray(value)) {
        for (const child of value) if (isNode(child)) stack.push(child);
      } else if (isNode(value)) {
        stack.push(value);
      }
    }
  }
}

/** The names a pattern (an assignment's left side, a binding) writes. */
function patternNames(pattern: unknown, into: Set<string>): void {
  if (!isNode(pattern)) return;
  switch (pattern.type) {
    case 'Identifier':
      into.add(pattern['name'] as string);
      return;
    case 'ObjectPattern':
      for (const property of pattern['properties'] as Node[]) {
        patternNames(
          property.type === 'RestElement' ? property['argument'] : property['value'],
          into,
        );
      }
      return;
    case 'ArrayPattern':
      for (const element of pattern['elements'] as unknown[]) patternNames(element, into);
      return;
    case 'AssignmentPattern':
      patternNames(pattern['left'], into);
      return;
    case 'RestElement':
      patternNames(pattern['argument'], into);
      return;
    default:
      return; // a member expression writes no variable
  }
}

/** The top-level declaration statement a `var` is in, when it is one. */
function topLevelVar(statement: Node): Node | undefined {
  const declaration =
    statement.type === 'ExportNamedDeclaration' ? statement['declaration'] : statement;
  return isNode(declaration) &&
    declaration.type === 'VariableDeclaration' &&
    declaration['kind'] === 'var'
    ? declaration
    : undefined;
}

/**
 * Turns a bundle's top-level `var` declarations back into `const` where the name is
 * never written again.
 *
 * esbuild, when it bundles, declares every top-level `const` of the sources with `var`
 * (on purpose: esbuild#623). V8 (Node 20) compiles a function reading a module-level
 * `const` with the value built in: a scratch `Float64Array` read in a loop then costs no
 * load of the variable, of its buffer or of its length. Read from a `var`, each of them
 * is loaded again, and the loops over the sketch's scratch arrays run 2 to 4 times
 * slower (the radix sort of 60 values: 5.8 against 1.5 µs; a timer's `record` plus a
 * counter's `inc`: 56 against 43 ns).
 *
 * A declaration is changed only when it is safe to: it initialises every name it
 * declares, and no name it declares is assigned, updated or declared again anywhere in
 * the chunk (names compared across all scopes: a shadowing inner variable that is
 * written keeps the outer `var` too). The sources declared these names with `const`
 * (or with a `let` never written, or a class) in modules that esbuild keeps in their
 * evaluation order, so a read before the declaration would have thrown there too.
 *
 * The code keeps its length and its lines: `var name = ` becomes `const name=`, so the
 * chunk's source map stays right (the declared name is two columns off). A declaration
 * written otherwise is kept.
 *
 * @example
 * ```ts
 * keepConstInChunk('var scratch = new Float64Array(8);\nexport { scratch };\n', 'module').code;
 * // 'const scratch=new Float64Array(8);\nexport { scratch };\n'
 * ```
 */
export function keepConstInChunk(code: string, sourceType: 'module' | 'script'): KeepConstResult {
  const program = parse(code, {
    ecmaVersion: 'latest',
    sourceType,
    allowHashBang: true,
  }) as unknown as Node;
  const written = new Set<string>();
  for (const node of nodes(program)) {
    if (node.type === 'AssignmentExpression') patternNames(node['left'], written);
    else if (node.type === 'UpdateExpression') patternNames(node['argument'], written);
    else if (
      (node.type === 'ForInStatement' || node.type === 'ForOfStatement') &&
      isNode(node['left']) &&
      node['left'].type !== 'VariableDeclaration'
    ) {
      patternNames(node['left'], written);
    }
  }
  // Names declared more than once at the top (two `var`s, a function and a `var`) stay.
  const declared = new Map<string, number>();
  const body = program['body'] as Node[];
  for (const statement of body) {
    const names = new Set<string>();
    const declaration =
      statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportDefaultDeclaration'
        ? statement['declaration']
        : statement;
    if (!isNode(declaration)) continue;
    if (declaration.type === 'VariableDeclaration') {
      for (const declarator of declaration['declarations'] as Node[]) {
        patternNames(declarator['id'], names);
      }
    } else if (
      (declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') &&
      isNode(declaration['id'])
    ) {
      patternNames(declaration['id'], names);
    }
    for (const name of names) declared.set(name, (declared.get(name) ?? 0) + 1);
  }
  const edits: number[] = [];
  let kept = 0;
  for (const statement of body) {
    const declaration = topLevelVar(statement);
    if (declaration === undefined) continue;
    const declarators = declaration['declarations'] as Node[];
    const first = declarators[0];
    const safe =
      first !== undefined &&
      declarators.every((declarator) => {
        const id = declarator['id'];
        return (
          isNode(id) &&
          id.type === 'Identifier' &&
          isNode(declarator['init']) &&
          !written.has(id['name'] as string) &&
          declared.get(id['name'] as string) === 1
        );
      }) &&
      code.startsWith('var ', declaration.start) &&
      code.startsWith(' = ', (first['id'] as Node).end);
    if (safe) edits.push(declaration.start, (first['id'] as Node).end);
    else kept++;
  }
  let out = '';
  let at = 0;
  for (let i = 0; i < edits.length; i += 2) {
    const start = edits[i]!;
    const idEnd = edits[i + 1]!;
    out += code.slice(at, start) + 'const ' + code.slice(start + 4, idEnd) + '=';
    at = idEnd + 3;
  }
  out += code.slice(at);
  return { code: out, changed: edits.length / 2, kept };
}

/**
 * The tsup plugin that runs {@link keepConstInChunk} on every JavaScript chunk it
 * writes (ESM as a module, CommonJS as a script).
 *
 * @example
 * ```ts
 * // tsup.config.base.ts
 * export default { entry: ['src/index.ts'], plugins: [keepConst()] };
 * ```
 */
export function keepConst(): TsupPlugin {
  return {
    name: 'prsm-keep-const',
    renderChunk(code, chunk) {
      if (!/\.[cm]?js$/.test(chunk.path)) return undefined;
      const sourceType = this.format === 'esm' ? 'module' : 'script';
      return { code: keepConstInChunk(code, sourceType).code };
    },
  };
}
