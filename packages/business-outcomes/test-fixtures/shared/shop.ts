/**
 * Fixture classes for the decorator tests, compiled by real `tsc` twice (by
 * src/test-support.ts): as TC39 decorators (../tc39/tsconfig.json) and as legacy
 * experimentalDecorators (../legacy/tsconfig.json). Both builds must type-check:
 * that is the test of the decorator's two call signatures, including the
 * `@ts-expect-error` lines, which must be errors under both.
 */
import { type BusinessOutcomes, recordBusinessOutcome } from '../../src/index.js';

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

export interface Receipt {
  readonly total: number;
  readonly status: 'paid' | 'pending';
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Shop {
  factor = 2;

  @recordBusinessOutcome('sync_outcome')
  scale(a: number, b?: number): number {
    return (a + (b ?? 0)) * this.factor;
  }

  @recordBusinessOutcome('self_outcome')
  self(): this {
    return this;
  }

  @recordBusinessOutcome('receiver_outcome')
  receiver(): unknown {
    return this;
  }

  @recordBusinessOutcome('failing_outcome')
  fail(error: unknown): never {
    throw error;
  }

  @recordBusinessOutcome('async_outcome', { dimension: ['hourly', 'daily', 'weekly', 'monthly'] })
  async later(value: number, gate?: Promise<void>): Promise<number> {
    await (gate ?? tick());
    return value * this.factor;
  }

  @recordBusinessOutcome('rejecting_outcome')
  async reject(error: unknown): Promise<never> {
    await tick();
    throw error;
  }

  @recordBusinessOutcome('purchase_revenue', {
    value: (receipt: Receipt) => receipt.total,
    when: (receipt: Receipt) => receipt.status === 'paid',
  })
  checkout(total: number, status: Receipt['status']): Receipt {
    return { total, status };
  }

  @recordBusinessOutcome('tagged_outcome', {
    metadata: (receipt: Receipt, args) => ({ status: receipt.status, args: args.length }),
  })
  async tagged(total: number): Promise<Receipt> {
    await tick();
    return { total, status: 'paid' };
  }

  @recordBusinessOutcome('bad_hook', {
    value: (): number => {
      throw new Error('hook failed');
    },
  })
  hooked(): string {
    return 'kept';
  }

  @recordBusinessOutcome('nan_value', { value: (): number => NaN })
  nanValue(): string {
    return 'nan';
  }

  @recordBusinessOutcome('static_outcome')
  static create(): string {
    return 'static';
  }
}

/** A class whose decorator names its `BusinessOutcomes` instead of the global one. */
export function boundShop(outcomes: BusinessOutcomes): { run(x: number): number } {
  class Bound {
    @recordBusinessOutcome('bound_outcome', { outcomes })
    run(x: number): number {
      return x + 1;
    }
  }
  return new Bound();
}

/** Misuse the types refuse, so the run-time TypeError is tested. */
export function decorateField(): unknown {
  class WithField {
    // @ts-expect-error -- a field is not a method: refused by the types under both standards
    @recordBusinessOutcome('field_outcome')
    field = 1;
  }
  return WithField;
}

/** A value hook typed for `Receipt` on a method returning a string: a type error. */
export function mistypedHook(): unknown {
  class Mistyped {
    // @ts-expect-error -- the hook's parameter type does not match the method's result
    @recordBusinessOutcome('mistyped', { value: (receipt: Receipt) => receipt.total })
    run(): string {
      return 'not a receipt';
    }
  }
  return Mistyped;
}
