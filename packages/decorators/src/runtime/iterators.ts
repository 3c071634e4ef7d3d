import { type Context, context, type Span } from '@opentelemetry/api';
import {
  activeContext,
  type AnyFunction,
  type Handles,
  type Operation,
  tracerFor,
} from './operation.js';

/** %IteratorPrototype% and %AsyncIteratorPrototype%: iterator helpers work on our wrappers. */
const ITERATOR_PROTOTYPE = Object.getPrototypeOf(
  Object.getPrototypeOf(function* () {}.prototype),
) as object;
const ASYNC_ITERATOR_PROTOTYPE = Object.getPrototypeOf(
  Object.getPrototypeOf(async function* () {}.prototype),
) as object;

const NEXT = 0;
const RETURN = 1;
const THROW = 2;
type Step = typeof NEXT | typeof RETURN | typeof THROW;
const STEP_NAMES = ['next', 'return', 'throw'] as const;

const NOT_STARTED = 0;
const RUNNING = 1;
const DONE = 2;

function callIn(fn: AnyFunction, self: unknown, value: unknown): unknown {
  return fn.call(self, value);
}

/**
 * One run of a generator: timed (and spanned) from the first `next`, `return` or
 * `throw` to completion, a `return`, or an error out of the generator. Every step
 * runs in the span's context, so calls made by the generator body are its children.
 */
class Iteration {
  readonly #op: Operation;
  readonly #h: Handles;
  readonly #inner: Record<string, unknown>;
  readonly #async: boolean;
  #args: readonly unknown[] | undefined;
  #state = NOT_STARTED;
  #start = 0;
  #span: Span | undefined;
  #ctx: Context | undefined;

  constructor(op: Operation, h: Handles, inner: object, args: readonly unknown[], async: boolean) {
    this.#op = op;
    this.#h = h;
    this.#inner = inner as Record<string, unknown>;
    this.#args = args;
    this.#async = async;
  }

  step(step: Step, value: unknown): unknown {
    if (this.#state === NOT_STARTED) this.#begin();
    const inner = this.#inner;
    let result: unknown;
    try {
      const method = inner[STEP_NAMES[step]];
      if (typeof method === 'function') {
        const ctx = this.#ctx;
        result =
          ctx === undefined
            ? (method as AnyFunction).call(inner, value)
            : context.with(ctx, callIn, undefined, method as AnyFunction, inner, value);
      } else {
        // The iterator protocol without return/throw: return completes, throw throws.
        if (step === THROW) throw value;
        const done = { value, done: true };
        result = this.#async ? Promise.resolve(done) : done;
      }
    } catch (error) {
      this.#end(error, true);
      throw error;
    }
    if (this.#state === RUNNING) {
      if (this.#async) this.#observe(result);
      else this.#check(result);
    }
    return result;
  }

  #begin(): void {
    this.#state = RUNNING;
    const op = this.#op;
    const h = this.#h;
    if (op.settings.trace) {
      const tracer = tracerFor(h);
      if (tracer !== undefined) {
        const parent = activeContext(h);
        const span = op.startSpan(h, tracer, this.#args ?? [], parent);
        this.#span = span;
        if (span !== undefined) this.#ctx = op.contextFor(h, span, parent);
      }
    }
    this.#args = undefined;
    this.#start = op.now(h);
  }

  #end(error: unknown, failed: boolean): void {
    if (this.#state !== RUNNING) return;
    this.#state = DONE;
    const span = this.#span;
    this.#span = undefined;
    this.#ctx = undefined;
    this.#op.finish(this.#h, this.#start, span, error, failed);
  }

  #check(result: unknown): void {
    try {
      if ((result as { done?: unknown } | null)?.done === true) this.#end(undefined, false);
    } catch (error) {
      this.#h.report(error);
    }
  }

  /** Observes an async step's promise with handlers that never throw (see `Operation`). */
  #observe(result: unknown): void {
    try {
      const then = (result as { then?: unknown } | null)?.then;
      if (typeof then !== 'function') return;
      Reflect.apply(then, result, [
        (r: unknown): void => {
          try {
            if ((r as { done?: unknown } | null)?.done === true) this.#end(undefined, false);
          } catch (error) {
            this.#h.report(error);
          }
        },
        (error: unknown): void => {
          this.#end(error, true);
        },
      ]);
    } catch (error) {
      this.#h.report(error);
    }
  }
}

/**
 * What a decorated generator method returns: an iterator over the original
 * generator, delegating `next`, `return` and `throw`.
 *
 * @internal
 */
export class InstrumentedIterator {
  readonly #run: Iteration;

  constructor(op: Operation, h: Handles, inner: object, args: readonly unknown[]) {
    this.#run = new Iteration(op, h, inner, args, false);
  }

  next(value?: unknown): unknown {
    return this.#run.step(NEXT, value);
  }

  return(value?: unknown): unknown {
    return this.#run.step(RETURN, value);
  }

  throw(error?: unknown): unknown {
    return this.#run.step(THROW, error);
  }

  [Symbol.iterator](): this {
    return this;
  }
}
Object.setPrototypeOf(InstrumentedIterator.prototype, ITERATOR_PROTOTYPE);

/**
 * What a decorated async generator method returns: an async iterator over the
 * original, delegating `next`, `return` and `throw` (each returns the original's
 * promise).
 *
 * @internal
 */
export class InstrumentedAsyncIterator {
  readonly #run: Iteration;

  constructor(op: Operation, h: Handles, inner: object, args: readonly unknown[]) {
    this.#run = new Iteration(op, h, inner, args, true);
  }

  next(value?: unknown): unknown {
    return this.#run.step(NEXT, value);
  }

  return(value?: unknown): unknown {
    return this.#run.step(RETURN, value);
  }

  throw(error?: unknown): unknown {
    return this.#run.step(THROW, error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
Object.setPrototypeOf(InstrumentedAsyncIterator.prototype, ASYNC_ITERATOR_PROTOTYPE);
