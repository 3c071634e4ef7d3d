import { monitorPerformance } from '@prsm/decorators';

/** TC39 only: an auto-accessor (`accessor` keyword). */
export function decorateAccessor(): unknown {
  class WithAccessor {
    // @ts-expect-error -- the types refuse this use; the run-time TypeError is tested
    @monitorPerformance('fixtures')
    accessor name = 'accessor';
  }
  return WithAccessor;
}
