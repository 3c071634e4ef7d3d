/**
 * Stacking with NestJS-style metadata decorators, with the real reflect-metadata.
 * `SetMetadata` stores on the method function (as NestJS's `SetMetadata`, `@Get()`
 * and `@UseInterceptors()` do); `UseGuards` stores on prototype + key (legacy
 * decorators only: a TC39 method decorator is never given the prototype).
 */
import 'reflect-metadata';
import { monitored, monitorPerformance } from '@prsm/decorators';

type Loose = (...args: unknown[]) => void;

export function SetMetadata(key: string, value: unknown): Loose {
  return (...args: unknown[]): void => {
    // TC39: (method, context); legacy: (prototype, key, descriptor).
    const method = args.length === 2 ? args[0] : ((args[2] as PropertyDescriptor).value as unknown);
    Reflect.defineMetadata(key, value, method as object);
  };
}

export function UseGuards(...guards: string[]): Loose {
  return (...args: unknown[]): void => {
    if (args.length === 3) {
      Reflect.defineMetadata('guards', guards, args[0] as object, args[1] as string | symbol);
    }
  };
}

export class Controller {
  // Decorators apply bottom-up: ours first, then the others on our wrapper.
  @SetMetadata('route', '/first')
  @UseGuards('auth')
  @monitorPerformance('fixtures')
  ourFirst(id: string): string {
    return `first ${id}`;
  }

  // The others first, on the original; ours last, carrying their metadata over.
  @monitorPerformance('fixtures', { slowThresholdMs: 250 })
  @SetMetadata('route', '/last')
  @UseGuards('auth')
  ourLast(id: string): string {
    return `last ${id}`;
  }
}

@monitored('fixtures')
export class MonitoredController {
  @SetMetadata('route', '/monitored')
  handle(id: number): number {
    return id;
  }
}
