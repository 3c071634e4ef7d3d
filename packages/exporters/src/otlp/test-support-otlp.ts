/**
 * Test helpers for the OTLP tests: decode what the OpenTelemetry exporters sent to
 * the local receiver, OTLP/JSON directly and protobuf with the generated root of
 * `@opentelemetry/otlp-transformer@0.213.0` (installed as `otlp-transformer-0213`),
 * into one shape: times as bigint nanoseconds, counts as numbers, ids as hex,
 * attributes as plain objects. Not exported from the package.
 */
import root from 'otlp-transformer-0213/build/src/generated/root.js';

import type { Received } from '../notifiers/test-support.js';

interface ProtoType {
  decode(buffer: Uint8Array): object;
  toObject(message: object, options: Record<string, unknown>): unknown;
}

interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: ProtoType } };
        trace: { v1: { ExportTraceServiceRequest: ProtoType } };
      };
    };
  };
}

const generated = root as unknown as GeneratedRoot;

type Long = number | string;

interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Long;
  doubleValue?: number;
  arrayValue?: { values?: RawAnyValue[] };
}
interface RawKeyValue {
  key: string;
  value?: RawAnyValue;
}
interface RawNumberPoint {
  attributes?: RawKeyValue[];
  startTimeUnixNano?: Long;
  timeUnixNano?: Long;
  asDouble?: number;
  asInt?: Long;
}
interface RawBuckets {
  offset?: number;
  bucketCounts?: Long[];
}
interface RawExpPoint {
  attributes?: RawKeyValue[];
  startTimeUnixNano?: Long;
  timeUnixNano?: Long;
  count?: Long;
  sum?: number;
  scale?: number;
  zeroCount?: Long;
  positive?: RawBuckets;
  negative?: RawBuckets;
  min?: number;
  max?: number;
}
interface RawMetric {
  name: string;
  description?: string;
  unit?: string;
  sum?: { dataPoints?: RawNumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  gauge?: { dataPoints?: RawNumberPoint[] };
  exponentialHistogram?: { dataPoints?: RawExpPoint[]; aggregationTemporality?: number };
}
interface RawScope {
  name?: string;
  version?: string;
}
interface RawMetricsRequest {
  resourceMetrics?: {
    resource?: { attributes?: RawKeyValue[] };
    scopeMetrics?: { scope?: RawScope; metrics?: RawMetric[] }[];
  }[];
}
interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano?: Long;
  endTimeUnixNano?: Long;
  attributes?: RawKeyValue[];
  events?: { name: string; timeUnixNano?: Long; attributes?: RawKeyValue[] }[];
  status?: { code?: number; message?: string };
  flags?: number;
}
interface RawTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: RawKeyValue[] };
    scopeSpans?: { scope?: RawScope; spans?: RawSpan[] }[];
  }[];
}

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface NumberPoint {
  readonly attributes: Record<string, AttributeValue>;
  readonly start: bigint;
  readonly time: bigint;
  readonly value: number | undefined;
}

export interface ExpPoint {
  readonly attributes: Record<string, AttributeValue>;
  readonly start: bigint;
  readonly time: bigint;
  readonly count: number;
  readonly sum: number | undefined;
  readonly scale: number;
  readonly zeroCount: number;
  readonly positive: { offset: number; counts: number[] };
  readonly negative: { offset: number; counts: number[] };
  readonly min: number | undefined;
  readonly max: number | undefined;
}

export interface Metric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly type: 'sum' | 'gauge' | 'exponentialHistogram' | 'other';
  readonly temporality: number | undefined;
  readonly monotonic: boolean | undefined;
  readonly points: NumberPoint[];
  readonly expPoints: ExpPoint[];
}

export interface MetricsRequest {
  readonly resource: Record<string, AttributeValue>;
  readonly scopes: string[];
  readonly metrics: Metric[];
}

export interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: number;
  readonly start: bigint;
  readonly end: bigint;
  readonly attributes: Record<string, AttributeValue>;
  readonly events: { name: string; time: bigint }[];
  readonly status: { code: number; message: string | undefined };
  readonly flags: number;
  readonly scope: string;
}

export interface TraceRequest {
  readonly resource: Record<string, AttributeValue>;
  readonly spans: Span[];
}

const TO_OBJECT = { longs: String, enums: Number, bytes: String, defaults: true, arrays: true };

function isProtobuf(request: Received): boolean {
  return request.headers['content-type'] === 'application/x-protobuf';
}

function anyValue(value: RawAnyValue | undefined): AttributeValue {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined && value.stringValue !== '') return value.stringValue;
  if (value.boolValue !== undefined && value.boolValue) return true;
  if (value.doubleValue !== undefined && value.doubleValue !== 0) return value.doubleValue;
  if (value.intValue !== undefined && Number(value.intValue) !== 0) return Number(value.intValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValue);
  // protobuf's defaults: true fills every field, so the set one is the non-default one
  // (or a default: '' / false / 0 / 0.0, which the tests do not send).
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  return 0;
}

function attributes(list: RawKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function nanos(value: Long | undefined): bigint {
  return BigInt(value ?? 0);
}

/** A protobuf `bytes` id (base64) or an OTLP/JSON one (hex) as hex; empty as undefined. */
function id(value: string | undefined, protobuf: boolean): string | undefined {
  if (value === undefined || value === '') return undefined;
  return protobuf ? Buffer.from(value, 'base64').toString('hex') : value;
}

function numberPoint(p: RawNumberPoint): NumberPoint {
  return {
    attributes: attributes(p.attributes),
    start: nanos(p.startTimeUnixNano),
    time: nanos(p.timeUnixNano),
    value: p.asDouble ?? (p.asInt === undefined ? undefined : Number(p.asInt)),
  };
}

function expPoint(p: RawExpPoint): ExpPoint {
  const side = (b: RawBuckets | undefined) => ({
    offset: b?.offset ?? 0,
    counts: (b?.bucketCounts ?? []).map(Number),
  });
  return {
    attributes: attributes(p.attributes),
    start: nanos(p.startTimeUnixNano),
    time: nanos(p.timeUnixNano),
    count: Number(p.count ?? 0),
    sum: p.sum,
    scale: p.scale ?? 0,
    zeroCount: Number(p.zeroCount ?? 0),
    positive: side(p.positive),
    negative: side(p.negative),
    min: p.min,
    max: p.max,
  };
}

/** The metrics request the receiver got, JSON or protobuf by its content type. */
export function decodeMetrics(request: Received): MetricsRequest {
  const raw = (
    isProtobuf(request)
      ? generated.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest.toObject(
          generated.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest.decode(
            request.rawBody,
          ),
          TO_OBJECT,
        )
      : JSON.parse(request.body)
  ) as RawMetricsRequest;
  const resourceMetrics = raw.resourceMetrics ?? [];
  if (resourceMetrics.length !== 1) throw new Error(`${resourceMetrics.length} resources`);
  const rm = resourceMetrics[0]!;
  const metrics: Metric[] = [];
  const scopes: string[] = [];
  for (const sm of rm.scopeMetrics ?? []) {
    scopes.push(sm.scope?.name ?? '');
    for (const m of sm.metrics ?? []) {
      const type = m.sum
        ? 'sum'
        : m.gauge
          ? 'gauge'
          : m.exponentialHistogram
            ? 'exponentialHistogram'
            : 'other';
      metrics.push({
        name: m.name,
        description: m.description ?? '',
        unit: m.unit ?? '',
        type,
        temporality:
          m.sum?.aggregationTemporality ?? m.exponentialHistogram?.aggregationTemporality,
        monotonic: m.sum?.isMonotonic,
        points: (m.sum?.dataPoints ?? m.gauge?.dataPoints ?? []).map(numberPoint),
        expPoints: (m.exponentialHistogram?.dataPoints ?? []).map(expPoint),
      });
    }
  }
  return { resource: attributes(rm.resource?.attributes), scopes, metrics };
}

/** The trace request the receiver got, JSON or protobuf by its content type. */
export function decodeTraces(request: Received): TraceRequest {
  const protobuf = isProtobuf(request);
  const raw = (
    protobuf
      ? generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.toObject(
          generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.decode(
            request.rawBody,
          ),
          TO_OBJECT,
        )
      : JSON.parse(request.body)
  ) as RawTraceRequest;
  const resourceSpans = raw.resourceSpans ?? [];
  if (resourceSpans.length !== 1) throw new Error(`${resourceSpans.length} resources`);
  const rs = resourceSpans[0]!;
  const spans: Span[] = [];
  for (const ss of rs.scopeSpans ?? []) {
    for (const s of ss.spans ?? []) {
      spans.push({
        traceId: id(s.traceId, protobuf)!,
        spanId: id(s.spanId, protobuf)!,
        parentSpanId: id(s.parentSpanId, protobuf),
        name: s.name,
        kind: s.kind ?? 0,
        start: nanos(s.startTimeUnixNano),
        end: nanos(s.endTimeUnixNano),
        attributes: attributes(s.attributes),
        events: (s.events ?? []).map((e) => ({ name: e.name, time: nanos(e.timeUnixNano) })),
        status: {
          code: s.status?.code ?? 0,
          message: s.status?.message === '' ? undefined : s.status?.message,
        },
        flags: s.flags ?? 0,
        scope: ss.scope?.name ?? '',
      });
    }
  }
  return { resource: attributes(rs.resource?.attributes), spans };
}

/** Milliseconds since the epoch as nanoseconds (exact for whole or sub-ms times). */
export function msToNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}
