import { Monitor, setGlobalMonitor } from '@prsm/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { monitored } from './index.js';
import { calls, type Fixtures, loadFixtures, MODES, settle } from './test-support.js';

describe.each(MODES)('@monitored compiled as %s decorators', (mode) => {
  let fx: Fixtures;
  let monitor: Monitor;

  beforeAll(async () => {
    fx = await loadFixtures(mode);
  });

  beforeEach(() => {
    monitor = new Monitor();
    setGlobalMonitor(monitor);
  });

  afterEach(async () => {
    setGlobalMonitor(undefined);
    await monitor.shutdown();
  });

  const layer = { layer: 'service' };

  it('instruments every own prototype method: sync, async and generator', async () => {
    const catalog = new fx.services.Catalog();
    expect(catalog.list()).toBe(catalog.items);
    await expect(catalog.find('b')).resolves.toBe('b');
    expect([...catalog.ids()]).toEqual(['a', 'b']);
    await settle(1);
    expect(calls(monitor, 'Catalog.list', layer)).toBe(1);
    expect(calls(monitor, 'Catalog.find', layer)).toBe(1);
    expect(calls(monitor, 'Catalog.ids', layer)).toBe(1);
  });

  it('leaves the constructor, accessors, statics and excluded methods alone', () => {
    const { Catalog } = fx.services;
    const catalog = Catalog.make();
    expect(catalog.size).toBe(2);
    expect(catalog.skipped()).toBe('skipped');
    const names = monitor
      .snapshot()
      .series.filter((s) => s.name === 'operation.calls')
      .map((s) => s.tags.operation);
    expect(names).toEqual([]);
    expect(Catalog.prototype.constructor).toBe(Catalog);
  });

  it('does not instrument a method decorated with @monitorPerformance twice', () => {
    expect(new fx.services.Catalog().own()).toBe('own');
    expect(calls(monitor, 'catalog.own', {}, 'fixtures-own')).toBe(1);
    expect(calls(monitor, 'Catalog.own', layer)).toBe(0);
  });

  it('keeps name and length of the methods it wraps', () => {
    const proto = fx.services.Catalog.prototype;
    expect([proto.find.name, proto.find.length]).toEqual(['find', 1]);
    expect(proto.ids.name).toBe('ids');
  });
});

describe('monitored() options', () => {
  it('are checked when the decorator is built', () => {
    expect(() => monitored('')).toThrow('@monitored: component must be a non-empty string');
    expect(() => monitored('c', { exclude: 'x' as unknown as string[] })).toThrow(
      '@monitored: exclude must be an array of method names',
    );
    const unknownOption: object = { nope: 1 };
    expect(() => monitored('c', unknownOption)).toThrow('@monitored: unknown option nope');
  });

  it('refuses anything but a class', () => {
    expect((): void => {
      Reflect.apply(monitored('c'), undefined, [{}]);
    }).toThrow('@monitored can only decorate classes');
  });
});
