/**
 * A SignalSource over fixed values, for tests. A fake is legitimate here: SignalSource
 * is our own seam (the engine will implement it over the Monitor), so these tests
 * exercise the language alone. Not bundled: the bench runner skips test-support.ts.
 */
import type { SignalSource } from './signal-source.js';

/** Values by key: `name`, `q:<q>:name`, `<fn>:name`, optionally suffixed `@<window>`. */
export type FakeValues = Readonly<Record<string, number | undefined>>;

export interface FakeSource extends SignalSource {
  /** Every call, as `kind:name:component:window`, for assertions. */
  readonly calls: string[];
}

export function fakeSource(values: FakeValues): FakeSource {
  const calls: string[] = [];
  const read = (key: string, window: number): number | undefined =>
    values[`${key}@${window}`] ?? values[key];
  return {
    calls,
    signal(name, component, windowSeconds) {
      calls.push(`signal:${name}:${component}:${windowSeconds}`);
      return read(name, windowSeconds);
    },
    quantile(name, component, q, windowSeconds) {
      calls.push(`quantile(${q}):${name}:${component}:${windowSeconds}`);
      return read(`q:${q}:${name}`, windowSeconds);
    },
    aggregate(fn, name, component, windowSeconds) {
      calls.push(`${fn}:${name}:${component}:${windowSeconds}`);
      return read(`${fn}:${name}`, windowSeconds);
    },
  };
}
