/**
 * Fixture classes for the decorator tests, compiled by real `tsc` twice: as TC39
 * decorators (../tc39/tsconfig.json) and as legacy experimentalDecorators with
 * emitDecoratorMetadata (../legacy/tsconfig.json). Both builds must type-check: that
 * is the test of the decorators' overloads. Types in decorated signatures are
 * declared here (emitDecoratorMetadata under isolatedModules refuses imported classes).
 */
import { monitored, monitorPerformance } from '@prsm/decorators';

export const SYMBOLIC = Symbol('symbolic');
export const NAMELESS = Symbol();

/** Something that moves the monitor's clock (a ManualClock in the tests). */
export interface Advancer {
  advance(ms: number): void;
}

type Executor<T> = (resolve: (value: T) => void, reject: (reason: unknown) => void) => void;

/**
 * A thenable with methods of its own, like a query builder: it must come back from a
 * decorated method as the very same object. It runs its executor on the first `then`
 * and keeps the promise; `thenCalls` counts how often `then` ran.
 */
export class QueryLike<T> {
  readonly clauses: string[] = [];
  thenCalls = 0;
  readonly #executor: Executor<T>;
  #promise: Promise<T> | undefined;

  constructor(executor: Executor<T>) {
    this.#executor = executor;
  }

  where(clause: string): this {
    this.clauses.push(clause);
    return this;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.thenCalls++;
    this.#promise ??= new Promise<T>(this.#executor);
    return this.#promise.then(onFulfilled, onRejected);
  }
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Calculator {
  factor = 2;

  @monitorPerformance('fixtures')
  scale(a: number, b?: number): number {
    return (a + (b ?? 0)) * this.factor;
  }

  @monitorPerformance('fixtures')
  self(): this {
    return this;
  }

  @monitorPerformance('fixtures')
  receiver(): unknown {
    return this;
  }

  @monitorPerformance('fixtures')
  echo<T>(value: T): T {
    return value;
  }

  @monitorPerformance('fixtures')
  fail(value: unknown): never {
    throw value;
  }

  @monitorPerformance('fixtures')
  async echoLater<T>(value: T): Promise<T> {
    await tick();
    return value;
  }

  @monitorPerformance('fixtures')
  async failLater(value: unknown): Promise<never> {
    await tick();
    throw value;
  }

  @monitorPerformance('fixtures')
  pass<T>(thing: T): T {
    return thing;
  }

  @monitorPerformance('fixtures', { thenables: 'promises' })
  passLazy<T>(thing: T): T {
    return thing;
  }

  @monitorPerformance('fixtures')
  *count(n: number): Generator<number, string, number | undefined> {
    let sent = 0;
    for (let i = 0; i < n; i++) {
      const got = yield i * this.factor;
      if (got !== undefined) sent += got;
    }
    return `sent ${sent}`;
  }

  @monitorPerformance('fixtures')
  *countThenFail(n: number): Generator<number, void, unknown> {
    for (let i = 0; i < n; i++) yield i;
    throw new ValidationError('generator failed');
  }

  @monitorPerformance('fixtures')
  async *countLater(n: number): AsyncGenerator<number, string, unknown> {
    for (let i = 0; i < n; i++) {
      await tick();
      yield i * this.factor;
    }
    return 'done';
  }

  @monitorPerformance('fixtures')
  async *countLaterThenFail(n: number): AsyncGenerator<number, void, unknown> {
    for (let i = 0; i < n; i++) yield i;
    await tick();
    throw new ValidationError('async generator failed');
  }

  @monitorPerformance('fixtures')
  static create(factor: number): Calculator {
    const c = new Calculator();
    c.factor = factor;
    return c;
  }

  @monitorPerformance('fixtures')
  static receiver(): unknown {
    return this;
  }

  @monitorPerformance('fixtures')
  [SYMBOLIC](): string {
    return 'symbolic';
  }

  @monitorPerformance('fixtures')
  [NAMELESS](): string {
    return 'nameless';
  }

  @monitorPerformance('fixtures', 'calculator.named', { tags: { tier: 'gold' } })
  named(): string {
    return 'named';
  }

  @monitorPerformance('fixtures', { slowThresholdMs: 10 })
  takes(clock: Advancer, ms: number): number {
    clock.advance(ms);
    return ms;
  }

  @monitorPerformance('fixtures', { slowThresholdMs: 10 })
  async takesLater(clock: Advancer, ms: number): Promise<number> {
    await tick();
    clock.advance(ms);
    return ms;
  }

  @monitorPerformance('fixtures', { trace: false })
  untraced(a: number): number {
    return a + 1;
  }

  @monitorPerformance('fixtures', {
    attributes: (args) => ({ 'args.count': args.length, 'args.first': String(args[0]) }),
  })
  withAttributes(a: string, b: number): string {
    return `${a}${b}`;
  }

  @monitorPerformance('fixtures', {
    attributes: () => {
      throw new Error('attributes hook failed');
    },
  })
  badAttributes(): string {
    return 'still works';
  }
}

export class Scientific extends Calculator {
  override scale(a: number, b?: number): number {
    return super.scale(a, b) + 1;
  }
}

export class Inner {
  @monitorPerformance('fixtures')
  async step(value: number): Promise<number> {
    await tick();
    return value + 1;
  }

  @monitorPerformance('fixtures')
  syncStep(value: number): number {
    return value * 10;
  }

  @monitorPerformance('fixtures')
  async *stream(n: number): AsyncGenerator<number, void, unknown> {
    for (let i = 0; i < n; i++) yield await this.step(i);
  }
}

export class Outer {
  readonly inner = new Inner();

  @monitorPerformance('fixtures')
  async run(): Promise<number[]> {
    await tick();
    const a = await this.inner.step(1);
    await tick();
    const b = this.inner.syncStep(a);
    const streamed: number[] = [];
    for await (const v of this.inner.stream(2)) streamed.push(v);
    const [c, d] = await Promise.all([this.inner.step(10), this.inner.step(20)]);
    return [a, b, ...streamed, c, d];
  }
}

@monitored('fixtures', { exclude: ['skipped'], tags: { layer: 'service' } })
export class Catalog {
  readonly items = ['a', 'b'];

  list(): string[] {
    return this.items;
  }

  async find(id: string): Promise<string | undefined> {
    await tick();
    return this.items.find((item) => item === id);
  }

  *ids(): Generator<string, void, unknown> {
    yield* this.items;
  }

  skipped(): string {
    return 'skipped';
  }

  get size(): number {
    return this.items.length;
  }

  @monitorPerformance('fixtures-own', 'catalog.own')
  own(): string {
    return 'own';
  }

  static make(): Catalog {
    return new Catalog();
  }
}

export class Base {
  @monitorPerformance('fixtures')
  inherited(): string {
    return 'inherited';
  }
}

/** Constructed before any Base: the operation must still be named after Base. */
export class Derived extends Base {}
