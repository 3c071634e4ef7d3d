import type { Settings } from '../options.js';
import { carryMetadata } from './metadata.js';
import { type AnyFunction, classNameOf, Operation } from './operation.js';
import { createWrapper, kindOf, operationOf, renderKey } from './wrap.js';

/** The part of a TC39 decorator context both decorators read. */
export interface DecoratorContextLike {
  readonly kind: string;
  readonly name?: string | symbol;
  readonly static?: boolean;
  readonly private?: boolean;
  addInitializer?(initializer: (this: unknown) => void): void;
}

/**
 * A TC39 decorator is called with `(value, context)`, the context an object with a
 * `kind`; a legacy (experimentalDecorators) one with `(target, key, descriptor)` or
 * `(constructor)`.
 *
 * @internal
 */
export function isDecoratorContext(
  argc: number,
  context: unknown,
): context is DecoratorContextLike {
  return (
    argc === 2 &&
    typeof context === 'object' &&
    context !== null &&
    typeof (context as { kind?: unknown }).kind === 'string'
  );
}

const KIND_WORDS: Record<string, string> = {
  field: 'a field',
  getter: 'a getter',
  setter: 'a setter',
  accessor: 'an accessor',
  class: 'a class',
  method: 'a method',
};

/** "`name` is a getter" for a TC39 context. @internal */
export function describeMember(context: DecoratorContextLike): string {
  const name = context.name === undefined ? '(anonymous)' : renderKey(context.name);
  return `\`${name}\` is ${KIND_WORDS[context.kind] ?? `a ${context.kind}`}`;
}

/** "`name` is a getter" for a legacy decorator's arguments. @internal */
export function describeLegacyMember(target: unknown, key: unknown, descriptor: unknown): string {
  if (key === undefined) return `\`${classNameOf(target) ?? '(anonymous)'}\` is a class`;
  const name =
    typeof key === 'symbol' || typeof key === 'string' ? renderKey(key) : `(${typeof key})`;
  if (typeof descriptor === 'number') return `a parameter of \`${name}\` was given`;
  if (descriptor === undefined || descriptor === null || typeof descriptor !== 'object') {
    return `\`${name}\` is a field`;
  }
  const d = descriptor as PropertyDescriptor & { initializer?: unknown };
  if (d.get !== undefined && d.set !== undefined) return `\`${name}\` is an accessor`;
  if (d.get !== undefined) return `\`${name}\` is a getter`;
  if (d.set !== undefined) return `\`${name}\` is a setter`;
  if ('initializer' in d) return `\`${name}\` is a field`;
  return typeof d.value === 'function' ? `\`${name}\` is a method` : `\`${name}\` is not a method`;
}

function constructorOf(proto: object): unknown {
  const d = Object.getOwnPropertyDescriptor(proto, 'constructor');
  return d?.value as unknown;
}

/**
 * The class a TC39-decorated method belongs to, from its `this`: the object (a
 * prototype, or a constructor for static methods) holding our wrapper under `key`,
 * else the first holding `key`, else `this`'s own class.
 */
function owningClass(
  self: unknown,
  key: string | symbol,
  wrapper: AnyFunction,
  isStatic: boolean,
  isPrivate: boolean,
): unknown {
  if (self === null || (typeof self !== 'object' && typeof self !== 'function')) return undefined;
  if (isPrivate) return isStatic ? self : constructorOf(Object.getPrototypeOf(self) as object);
  let holder: object | undefined;
  for (let o: object | null = self; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d === undefined) continue;
    if (d.value === wrapper) return isStatic ? o : constructorOf(o);
    holder ??= o;
  }
  const found: unknown = holder ?? (isStatic ? self : Object.getPrototypeOf(self));
  return isStatic ? found : found === null ? undefined : constructorOf(found as object);
}

/**
 * Instruments a TC39 method: returns the replacement. The class is not known to a
 * TC39 method decorator, so the operation learns its class name from an initializer
 * (static: the class at definition; instance: the first instance constructed), from
 * `@monitored`, or from the first call's `this`.
 *
 * @internal
 */
export function decorateTc39Method(
  value: unknown,
  context: DecoratorContextLike,
  settings: Settings,
): AnyFunction {
  const key = context.name;
  if (typeof value !== 'function' || key === undefined) {
    throw new TypeError(
      `@monitorPerformance can only decorate methods; ${describeMember(context)}`,
    );
  }
  const original = value as AnyFunction;
  const op = new Operation(settings, renderKey(key), undefined, kindOf(original));
  const wrapper = createWrapper(original, op);
  carryMetadata(original, wrapper, op.metadata);
  const isStatic = context.static === true;
  const isPrivate = context.private === true;
  op.resolveOwner = (self) => owningClass(self, key, wrapper, isStatic, isPrivate);
  if (typeof context.addInitializer === 'function') {
    context.addInitializer(function (this: unknown): void {
      if (op.hasOwner) return;
      try {
        op.adoptOwner(op.resolveOwner?.(this));
      } catch {
        // The first call tries again.
      }
    });
  }
  return wrapper;
}

/**
 * Instruments a legacy (experimentalDecorators) method: replaces the descriptor's
 * value, keeping its other attributes.
 *
 * @internal
 */
export function decorateLegacyMethod(
  target: object,
  key: string | symbol,
  descriptor: PropertyDescriptor,
  settings: Settings,
): PropertyDescriptor {
  const original = descriptor.value as AnyFunction;
  // Static members are decorated with the constructor as target, instance members
  // with the prototype.
  const owner = typeof target === 'function' ? target : constructorOf(target);
  const op = new Operation(settings, renderKey(key), owner, kindOf(original));
  const wrapper = createWrapper(original, op);
  carryMetadata(original, wrapper, op.metadata, target, key);
  descriptor.value = wrapper;
  return descriptor;
}

/**
 * Instruments every own prototype method of a class (not the constructor, accessors
 * or methods already instrumented), in place.
 *
 * @internal
 */
export function instrumentClass(ctor: object, settings: Settings): void {
  const proto = (ctor as { prototype?: unknown }).prototype;
  if (proto === null || typeof proto !== 'object') return;
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor') continue;
    const method = renderKey(key);
    if (settings.exclude.has(method)) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (d === undefined || typeof d.value !== 'function') continue;
    const existing = operationOf(d.value);
    if (existing !== undefined) {
      existing.adoptOwner(ctor);
      continue;
    }
    if (d.configurable !== true && d.writable !== true) continue;
    const original = d.value as AnyFunction;
    const op = new Operation(settings, method, ctor, kindOf(original));
    const wrapper = createWrapper(original, op);
    carryMetadata(original, wrapper, op.metadata, proto, key);
    if (d.configurable === true) Object.defineProperty(proto, key, { ...d, value: wrapper });
    else (proto as Record<string | symbol, unknown>)[key] = wrapper;
  }
}
