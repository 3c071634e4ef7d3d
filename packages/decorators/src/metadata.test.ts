import 'reflect-metadata';
import { Monitor, setGlobalMonitor } from '@prsm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  instrument,
  MONITOR_PERFORMANCE_METADATA,
  type MonitorPerformanceMetadata,
} from './index.js';
import { calls, loadMetadataFixtures, methodOf, MODES } from './test-support.js';

/**
 * Registers a test only in the mode it applies to (prototype + key metadata such as
 * `design:*` types exists only under legacy decorators), rather than skipping it.
 */
function itWhere(applies: boolean): (name: string, fn: () => Promise<void>) => void {
  return applies
    ? (name, fn) => {
        it(name, fn);
      }
    : () => {};
}

describe.each(MODES)('reflect-metadata, compiled as %s decorators', (mode) => {
  let monitor: Monitor;

  beforeEach(() => {
    monitor = new Monitor();
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    await monitor.shutdown();
  });

  it('keeps metadata stored on the method by decorators applied after ours', async () => {
    const { Controller } = await loadMetadataFixtures(mode);
    const handler = methodOf(Controller.prototype, 'ourFirst');
    expect(Reflect.getMetadata('route', handler)).toBe('/first');
    expect(new Controller().ourFirst('1')).toBe('first 1');
    expect(calls(monitor, 'Controller.ourFirst')).toBe(1);
  });

  it('carries metadata stored on the original method by decorators applied before ours', async () => {
    const { Controller } = await loadMetadataFixtures(mode);
    const handler = methodOf(Controller.prototype, 'ourLast');
    expect(Reflect.getOwnMetadata('route', handler)).toBe('/last');
    expect(new Controller().ourLast('2')).toBe('last 2');
    expect(calls(monitor, 'Controller.ourLast')).toBe(1);
  });

  it('exposes its own options under MONITOR_PERFORMANCE_METADATA', async () => {
    const { Controller } = await loadMetadataFixtures(mode);
    const meta = Reflect.getMetadata(
      MONITOR_PERFORMANCE_METADATA,
      methodOf(Controller.prototype, 'ourLast'),
    ) as MonitorPerformanceMetadata;
    expect({ ...meta }).toEqual({
      component: 'fixtures',
      operation: 'Controller.ourLast',
      method: 'ourLast',
      tags: undefined,
      slowThresholdMs: 250,
      trace: true,
    });
  });

  it('under @monitored, carries the metadata of every method it wraps', async () => {
    const { MonitoredController } = await loadMetadataFixtures(mode);
    const handler = methodOf(MonitoredController.prototype, 'handle');
    expect(Reflect.getMetadata('route', handler)).toBe('/monitored');
    expect(
      (Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, handler) as MonitorPerformanceMetadata)
        .operation,
    ).toBe('MonitoredController.handle');
    expect(
      Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, MonitoredController.prototype, 'handle'),
    ).toBe(Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, handler));
    expect(new MonitoredController().handle(3)).toBe(3);
    expect(calls(monitor, 'MonitoredController.handle')).toBe(1);
  });

  itWhere(mode === 'legacy')(
    'keeps prototype + key metadata (guards, design types) in either order, ours included',
    async () => {
      const { Controller } = await loadMetadataFixtures(mode);
      for (const key of ['ourFirst', 'ourLast']) {
        expect(Reflect.getMetadata('guards', Controller.prototype, key)).toEqual(['auth']);
        expect(Reflect.getMetadata('design:paramtypes', Controller.prototype, key)).toEqual([
          String,
        ]);
        expect(Reflect.getMetadata('design:returntype', Controller.prototype, key)).toBe(String);
        expect(Reflect.getMetadata('design:type', Controller.prototype, key)).toBe(Function);
        expect(Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, Controller.prototype, key)).toBe(
          Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, methodOf(Controller.prototype, key)),
        );
      }
    },
  );
});

describe('instrument() and reflect-metadata', () => {
  it('carries the function metadata to the wrapper', () => {
    function handler(): string {
      return 'ok';
    }
    Reflect.defineMetadata('route', '/fn', handler);
    const wrapped = instrument(handler, { component: 'fixtures' });
    expect(Reflect.getMetadata('route', wrapped)).toBe('/fn');
    expect(
      (Reflect.getMetadata(MONITOR_PERFORMANCE_METADATA, wrapped) as MonitorPerformanceMetadata)
        .operation,
    ).toBe('handler');
  });
});
