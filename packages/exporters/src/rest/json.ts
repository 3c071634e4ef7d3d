/**
 * The REST batch body written straight to JSON as UTF-8: the bytes of
 * `JSON.stringify(toRestBatch(...))`, without building the body's objects first. A
 * body of thousands of series spent about as long building those objects as the
 * snapshot took, and `JSON.stringify` then walked each of them again. Imports
 * `./body.js`, `../utf8-sink.js` and `@prsm/core` types only.
 */
import type {
  DistributionSnapshot,
  ExportItem,
  HistogramSnapshot,
  SeriesSnapshot,
  SubWindowSnapshot,
} from '@prsm/core';
import { Buffer } from 'node:buffer';

import { Utf8Sink } from '../utf8-sink.js';
import {
  centroidsBase64,
  isoTime,
  quantileKey,
  type RestSource,
  subWindowStart,
  TRACE_ID,
  toRestAlertEvent,
  toRestBatch,
  toRestMetric,
  toRestSpan,
} from './body.js';

/**
 * Thrown inside the writer when a field is not of its declared type (never for what a
 * monitor's snapshot holds): the series is then written by `JSON.stringify` of its
 * body object, which decides what such a value becomes.
 */
const MISMATCH = new Error('rest json: a field not of its declared type');

/** What `JSON.stringify` escapes in a string: `"`, `\`, control characters, surrogates. */
// eslint-disable-next-line no-control-regex -- the control characters are what is searched for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON. */
function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function str(value: unknown): string {
  if (typeof value !== 'string') throw MISMATCH;
  return quote(value);
}

/** A number as JSON: what `JSON.stringify` writes (`null` for NaN and the infinities). */
function num(value: unknown): string {
  if (typeof value !== 'number') throw MISMATCH;
  return Number.isFinite(value) ? String(value) : 'null';
}

function bool(value: unknown): string {
  if (typeof value !== 'boolean') throw MISMATCH;
  return value ? 'true' : 'false';
}

/**
 * The JSON of a series' tags or labels. A series keeps the same frozen object for its
 * life, so its text is kept with it (and goes when it does); any other object is
 * written by `JSON.stringify` each time.
 */
const OBJECTS = new WeakMap<object, string>();

function record(value: unknown): string {
  if (typeof value !== 'object' || value === null) throw MISMATCH;
  let text = OBJECTS.get(value);
  if (text !== undefined) return text;
  text = JSON.stringify(value);
  if (Object.isFrozen(value) && Object.values(value).every((v) => typeof v === 'string')) {
    OBJECTS.set(value, text);
  }
  return text;
}

/** `,"key":value` when the value is a finite number, else nothing (as `toRestBatch`). */
function finiteField(key: string, value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${key}${String(value)}` : '';
}

function counterWindows(series: SeriesSnapshot & { type: 'counter' }): string {
  let out = '';
  for (const w of series.windows) {
    if (typeof w.windowSeconds !== 'number') continue;
    out +=
      `${out === '' ? '' : ','}{"window_seconds":${num(w.windowSeconds)},"count":${num(w.count)}` +
      `,"per_second":${num(w.perSecond)},"per_minute":${num(w.perMinute)}}`;
  }
  return out;
}

/** The quantiles of a window as `toRestBatch` keys them (a repeated key: by its object). */
function quantiles(w: DistributionSnapshot): string {
  let out = '';
  let keys = '|';
  for (const { quantile, value } of w.quantiles) {
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const key = quantileKey(quantile);
    if (keys.includes(`|${key}|`)) return quantilesByObject(w);
    keys += `${key}|`;
    out += `${out === '' ? '' : ','}"${key}":${String(value)}`;
  }
  return `{${out}}`;
}

function quantilesByObject(w: DistributionSnapshot): string {
  const object: Record<string, number> = {};
  for (const { quantile, value } of w.quantiles) {
    if (Number.isFinite(value)) object[quantileKey(quantile)] = value;
  }
  return JSON.stringify(object);
}

function distributionWindows(series: HistogramSnapshot): string {
  let out = '';
  for (const w of series.windows) {
    if (typeof w.windowSeconds !== 'number') continue;
    out +=
      `${out === '' ? '' : ','}{"window_seconds":${num(w.windowSeconds)},"count":${num(w.count)}` +
      `,"sum":${num(w.sum)}${finiteField(',"min":', w.min)}${finiteField(',"max":', w.max)}` +
      `${finiteField(',"mean":', w.mean)},"error_rate":${num(w.errorRate)}` +
      `,"per_second":${num(w.perSecond)},"quantiles":${quantiles(w)}}`;
  }
  return out;
}

function subWindow(w: SubWindowSnapshot): string {
  if (typeof w.startMs !== 'number' || !(w.centroids instanceof Float32Array)) throw MISMATCH;
  let out =
    `{"start_time":${quote(subWindowStart(w.startMs))},"seconds":${num(w.seconds)}` +
    `,"partial":${bool(w.open)},"count":${num(w.count)},"sum":${num(w.sum)}` +
    `,"min":${num(w.min)},"max":${num(w.max)},"error_count":${num(w.errors)}` +
    // Base64 has nothing JSON escapes.
    `,"centroids":"${centroidsBase64(w.centroids)}"`;
  const exemplar = w.exemplar;
  if (exemplar !== undefined && TRACE_ID.test(exemplar.traceId)) {
    // A trace id that passed the test has nothing to escape either.
    out += `,"exemplars":[{"value":${num(exemplar.value)},"trace_id":"${exemplar.traceId}"}]`;
  }
  return `${out}}`;
}

/** A series' head (its fields up to `timestamp`), with what it was written from. */
interface Head {
  readonly name: string;
  readonly component: string;
  readonly labels: object;
  readonly text: string;
}

/**
 * The heads of series, by their tags object: a series keeps its name, component, tags
 * and labels for its life, so its head is written once (a head whose tags or labels
 * are not kept in {@link OBJECTS} is written each time).
 */
const HEADS = new WeakMap<object, Head>();

/** The fields every metric begins with, up to its `metric_type`'s value. */
function head(series: SeriesSnapshot, timestamp: string): string {
  const { name, component, tags, labels } = series;
  const known = typeof tags === 'object' && tags !== null ? HEADS.get(tags) : undefined;
  if (
    known !== undefined &&
    known.name === name &&
    known.component === component &&
    known.labels === labels
  ) {
    return known.text + timestamp;
  }
  const text =
    `{"metric_name":${str(name)},"component":${str(component)}` +
    `,"tags":${record(tags)},"labels":${record(labels)},"timestamp":`;
  if (OBJECTS.has(tags) && OBJECTS.has(labels)) {
    HEADS.set(tags, { name, component, labels, text });
  }
  return text + timestamp;
}

/** One metric, as `JSON.stringify(toRestMetric(series, ...))` writes it. */
function metric(series: SeriesSnapshot, timestamp: string): string {
  switch (series.type) {
    case 'counter':
      return (
        `${head(series, timestamp)},"metric_type":"counter","value":${num(series.total)}` +
        `,"windows":[${counterWindows(series)}]}`
      );
    case 'gauge':
      return `${head(series, timestamp)},"metric_type":"gauge","value":${num(series.value)}}`;
    case 'histogram':
    case 'timer': {
      const c = series.cumulative;
      let out =
        `${head(series, timestamp)},"metric_type":"${series.type}"` +
        `,"value":${typeof c.mean === 'number' && Number.isFinite(c.mean) ? String(c.mean) : '0'}` +
        `,"unit":${str(series.unit)},"count":${num(c.count)},"sum":${num(c.sum)}` +
        `,"windows":[${distributionWindows(series)}]` +
        `${finiteField(',"min":', c.min)}${finiteField(',"max":', c.max)}`;
      const subWindows = series.subWindows;
      if (subWindows !== undefined) {
        if (!Array.isArray(subWindows)) throw MISMATCH;
        let list = '';
        for (const w of subWindows as readonly SubWindowSnapshot[]) {
          list += `${list === '' ? '' : ','}${subWindow(w)}`;
        }
        out += `,"sub_windows":[${list}]`;
      }
      return `${out}}`;
    }
    default:
      throw MISMATCH;
  }
}

/** Writes, comma-separated, `JSON.stringify` of what `convert` makes of each item it takes. */
function writeEach(
  sink: Utf8Sink,
  items: readonly ExportItem[],
  convert: (item: ExportItem) => object | false,
): void {
  let first = true;
  for (const item of items) {
    const converted = convert(item);
    if (converted === false) continue;
    const text = JSON.stringify(converted);
    sink.write(first ? text : `,${text}`);
    first = false;
  }
}

/** The bytes of the last body written: the next one's first buffer is sized from it. */
let lastSize = 0;

/**
 * The JSON of one REST batch body as UTF-8: exactly the bytes of
 * `JSON.stringify(toRestBatch(batch, sentAt, source))`, written into one buffer without
 * building the body's objects (what the REST exporter sends: a body of 512 series is
 * written in well under the time of building and serialising its objects). Throws what
 * `JSON.stringify` would throw (a `bigint` attribute, a cycle).
 *
 * @example
 * ```ts
 * import { restBatchJson } from '@prsm/exporters/rest';
 *
 * const body = restBatchJson({ id: 'b-1', items: [{ kind: 'alert', event }] }, Date.now());
 * await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
 * ```
 */
export function restBatchJson(
  batch: { readonly id: string; readonly items: readonly ExportItem[] },
  sentAt: number,
  source?: RestSource,
): Buffer {
  // What no body of the monitor has: written by JSON.stringify, which decides.
  if (typeof batch.id !== 'string') {
    return Buffer.from(JSON.stringify(toRestBatch(batch, sentAt, source)));
  }
  const sink = new Utf8Sink(lastSize);
  sink.write(`{"batch_id":${quote(batch.id)}`);
  if (source !== undefined) sink.write(`,"source":${JSON.stringify(source)}`);
  sink.write(`,"sent_at":${quote(isoTime(sentAt))},"metrics":[`);
  const { items } = batch;
  let spans = false;
  let alerts = false;
  // A batch's series share their snapshot's time: format it once.
  let lastTime = NaN;
  let lastIso = '';
  let lastJson = '';
  let first = true;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.kind !== 'series') {
      if (item.kind === 'span') spans = true;
      else if (item.kind === 'alert') alerts = true;
      continue;
    }
    if (item.timestamp !== lastTime) {
      lastTime = item.timestamp;
      lastIso = isoTime(item.timestamp);
      lastJson = quote(lastIso);
    }
    let text: string;
    try {
      text = metric(item.series, lastJson);
    } catch (error) {
      if (error !== MISMATCH) throw error;
      // As an array element: what JSON.stringify writes for nothing.
      text = JSON.stringify(toRestMetric(item.series, lastIso)) ?? 'null';
    }
    sink.write(first ? text : `,${text}`);
    first = false;
  }
  sink.write('],"traces":[');
  if (spans) writeEach(sink, items, (item) => item.kind === 'span' && toRestSpan(item.span));
  sink.write('],"alerts":[');
  if (alerts) {
    writeEach(sink, items, (item) => item.kind === 'alert' && toRestAlertEvent(item.event));
  }
  sink.write(']}');
  const bytes = sink.bytes();
  lastSize = bytes.length;
  return bytes;
}
