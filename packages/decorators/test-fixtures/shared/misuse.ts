/**
 * Decorators put where they do not belong. Each class is defined inside a function,
 * so the TypeError thrown at class definition reaches the test that calls it. Each use
 * is also a compile error in both decorator modes (the `@ts-expect-error` lines fail
 * the fixture build if one compiles): the overloads accept methods only.
 */
import { monitored, monitorPerformance } from '@prsm/decorators';

export function decorateField(): unknown {
  class WithField {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    name = 'field';
  }
  return WithField;
}

export function decorateGetter(): unknown {
  class WithGetter {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    get name(): string {
      return 'getter';
    }
  }
  return WithGetter;
}

export function decorateSetter(): unknown {
  class WithSetter {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    set name(_value: string) {}
  }
  return WithSetter;
}

export function decorateStaticGetter(): unknown {
  class WithStaticGetter {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    static get version(): string {
      return '1';
    }
  }
  return WithStaticGetter;
}

export function decorateClass(): unknown {
  // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
  @monitorPerformance('fixtures')
  class Decorated {}
  return Decorated;
}

export function monitoredOnMethod(): unknown {
  class WithMonitoredMethod {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitored('fixtures')
    run(): void {}
  }
  return WithMonitoredMethod;
}
