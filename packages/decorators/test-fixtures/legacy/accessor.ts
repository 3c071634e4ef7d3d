import { monitorPerformance } from '@prsm/decorators';

/** Legacy decorators see a get/set pair as one accessor descriptor. */
export function decorateAccessor(): unknown {
  class WithAccessor {
    #name = 'accessor';

    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    get name(): string {
      return this.#name;
    }

    set name(value: string) {
      this.#name = value;
    }
  }
  return WithAccessor;
}

/** Legacy only: a parameter decorator. */
export function decorateParameter(): unknown {
  class WithParameter {
    run(
      // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
      @monitorPerformance('fixtures') _value: string,
    ): void {}
  }
  return WithParameter;
}
