/**
 * Shared by the tests of this package (not exported, not bundled): loading the
 * fixtures compiled by test-fixtures/compile.ts, reading what a monitor recorded,
 * and a real OpenTelemetry tracer provider.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Monitor, Tags } from '@prsm/core';
import type * as Metadata from '../test-fixtures/shared/metadata.js';
import type * as Misuse from '../test-fixtures/shared/misuse.js';
import type * as Services from '../test-fixtures/shared/services.js';

/** The two decorator standards every fixture is compiled under. */
export const MODES = ['tc39', 'legacy'] as const;
export type Mode = (typeof MODES)[number];

export interface Fixtures {
  readonly services: typeof Services;
  readonly misuse: typeof Misuse;
  /** Mode-specific misuse: an auto-accessor (TC39), a get/set pair and a parameter (legacy). */
  readonly only: {
    decorateAccessor(): unknown;
    decorateParameter?(): unknown;
  };
}

async function load<T>(path: string): Promise<T> {
  return (await import(/* @vite-ignore */ path)) as T;
}

/** The fixtures as compiled (by the vitest global setup) under `mode`. */
export async function loadFixtures(mode: Mode): Promise<Fixtures> {
  const base = `../build/fixtures/${mode}`;
  return {
    services: await load<typeof Services>(`${base}/shared/services.js`),
    misuse: await load<typeof Misuse>(`${base}/shared/misuse.js`),
    only: await load<Fixtures['only']>(`${base}/${mode}/accessor.js`),
  };
}

/** The reflect-metadata fixtures (loading them installs the reflect-metadata polyfill). */
export async function loadMetadataFixtures(mode: Mode): Promise<typeof Metadata> {
  return load<typeof Metadata>(`../build/fixtures/${mode}/shared/metadata.js`);
}

/** A method of a prototype, as the function object (for metadata reads). */
export function methodOf(proto: object, key: PropertyKey): object {
  const value = Object.getOwnPropertyDescriptor(proto, key)?.value as unknown;
  if (typeof value !== 'function') throw new Error(`no method ${String(key)}`);
  return value;
}

/** The cumulative total of a counter series (0 when it does not exist). */
export function total(monitor: Monitor, name: string, tags: Tags, component = 'fixtures'): number {
  return monitor.getRates(name, { component, tags, windowSeconds: 'cumulative' })?.count ?? 0;
}

/** Calls recorded for an operation: `operation.calls` and the timer's count, which must agree. */
export function calls(
  monitor: Monitor,
  operation: string,
  tags: Tags = {},
  component = 'fixtures',
): number {
  const all = { ...tags, operation };
  const counted = total(monitor, 'operation.calls', all, component);
  const timed =
    monitor.getStats('operation.duration', { component, tags: all, windowSeconds: 'cumulative' })
      ?.count ?? 0;
  if (counted !== timed) throw new Error(`operation.calls ${counted} != timer count ${timed}`);
  return counted;
}

/** Errors of an operation by type. */
export function errors(
  monitor: Monitor,
  operation: string,
  type: string,
  tags: Tags = {},
  component = 'fixtures',
): number {
  return total(monitor, 'operation.errors', { ...tags, operation, 'error.type': type }, component);
}

/** The timer statistics of an operation, cumulative. */
export function durations(
  monitor: Monitor,
  operation: string,
  tags: Tags = {},
  component = 'fixtures',
): { count: number; errors: number; max: number; sum: number } {
  const stats = monitor.getStats('operation.duration', {
    component,
    tags: { ...tags, operation },
    windowSeconds: 'cumulative',
  });
  return {
    count: stats?.count ?? 0,
    errors: stats?.errors ?? 0,
    max: stats?.max ?? NaN,
    sum: stats?.sum ?? 0,
  };
}

/** A registered SDK 2.x tracer provider with an in-memory exporter. */
export interface Tracing {
  readonly exporter: InMemorySpanExporter;
  readonly provider: BasicTracerProvider;
  spans(): ReadableSpan[];
  /** The one finished span named `name`; throws unless there is exactly one. */
  span(name: string): ReadableSpan;
}

export function installTracing(): Tracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return {
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans(),
    span: (name) => {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`${found.length} spans named ${name}`);
      return found[0]!;
    },
  };
}

export async function uninstallTracing(tracing: Tracing | undefined): Promise<void> {
  trace.disable();
  context.disable();
  await tracing?.provider.shutdown();
}

/** Lets pending promise jobs and a few macrotasks run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
