/**
 * Fixture of audited.test.ts, compiled by the test with the TypeScript compiler under
 * both decorator standards (TC39, and legacy `experimentalDecorators`). It imports
 * nothing at run time: the test hands it `audited` and the log, so the compiled copy
 * shares the test's module instances.
 */
import type { AuditLog } from './audit.js';
import type { audited as Audited } from './audited.js';

export class NotFound extends Error {
  override name = 'NotFound';
}

export function makeJobs(audited: typeof Audited, log: AuditLog) {
  class Jobs {
    prefix = 'job';

    @audited('create_job', {
      resourceType: 'jobs',
      resourceId: (args, result) => (typeof result === 'string' ? result : String(args[0])),
      tags: ['SOC2'],
      log,
    })
    create(name: string): string {
      return `${this.prefix}_${name}`;
    }

    @audited('delete_job', { resourceType: 'jobs', resourceId: (args) => String(args[0]), log })
    remove(id: string): void {
      throw new NotFound(id);
    }

    @audited('load_job', { resourceType: 'jobs', log })
    async load(id: string): Promise<{ id: string; self: unknown }> {
      await Promise.resolve();
      return { id, self: this };
    }

    @audited('load_missing', { resourceType: 'jobs', log })
    async loadMissing(id: string): Promise<never> {
      await Promise.resolve();
      throw new NotFound(id);
    }

    @audited('ping', { resourceType: 'health' })
    static ping(a: number, b: number): string {
      return `pong ${a + b}`;
    }
  }
  return Jobs;
}

/** Decorating a field: must throw a TypeError when the class is defined. */
export function makeMisuse(audited: typeof Audited): unknown {
  const loose = audited('x', { resourceType: 'y' }) as unknown as (...args: unknown[]) => void;
  class Misused {
    @loose
    field = 1;
  }
  return Misused;
}
