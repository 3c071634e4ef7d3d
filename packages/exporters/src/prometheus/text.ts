/**
 * The exposition itself: a `MonitorSnapshot` rendered in the Prometheus text format
 * 0.0.4 or in OpenMetrics 1.0. Pure functions of the snapshot, no I/O; the HTTP side
 * lives in handler.ts.
 */
import type { HistogramSnapshot, MonitorSnapshot, SeriesSnapshot } from '@prsm/core';

/**
 * The content type of the Prometheus text format 0.0.4.
 *
 * @example
 * ```ts
 * res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The content type of OpenMetrics 1.0 text.
 *
 * @example
 * ```ts
 * res.setHeader('Content-Type', OPENMETRICS_CONTENT_TYPE);
 * ```
 */
export const OPENMETRICS_CONTENT_TYPE =
  'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * The two exposition formats: `'prometheus'` (text 0.0.4) and `'openmetrics'`
 * (OpenMetrics 1.0, with `# UNIT`, exemplars and `# EOF`).
 *
 * @example
 * ```ts
 * const format: PrometheusFormat = 'openmetrics';
 * ```
 */
export type PrometheusFormat = 'prometheus' | 'openmetrics';

/**
 * Options of {@link toPrometheusText}.
 *
 * @example
 * ```ts
 * const options: PrometheusTextOptions = { windowSeconds: 300, prefix: 'shop_', format: 'openmetrics' };
 * ```
 */
export interface PrometheusTextOptions {
  /**
   * The window the summaries' quantiles are read over: one of the snapshot's
   * `windows`. Default the first (shortest) one.
   */
  readonly windowSeconds?: number;
  /** Put before every metric name (then sanitised with it), such as `shop_`. Default none. */
  readonly prefix?: string;
  /** Default `'prometheus'` (text 0.0.4). */
  readonly format?: PrometheusFormat;
  /**
   * OpenMetrics only: add, after each histogram or timer family, a counter family
   * `<name>_observations` whose `_total` (the cumulative count) carries the window's
   * slowest traced sample as an exemplar (OpenMetrics 1.0 allows exemplars on counter
   * totals and histogram buckets, never on summaries). Default true.
   */
  readonly exemplars?: boolean;
}

/**
 * A metric name Prometheus accepts (`[a-zA-Z_:][a-zA-Z0-9_:]*`): every other
 * character (the dots of `api.latency` included) becomes `_`, a leading digit gets a
 * `_` before it, and a leading `__` (reserved for Prometheus' own use) becomes `_`.
 *
 * @example
 * ```ts
 * sanitizeMetricName('http.server.request-duration'); // 'http_server_request_duration'
 * ```
 */
export function sanitizeMetricName(name: string): string {
  let cleaned = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (cleaned === '') return '_';
  if (/^[0-9]/.test(cleaned)) cleaned = `_${cleaned}`;
  return cleaned.replace(/^__+/, '_');
}

/**
 * A label name Prometheus accepts (`[a-zA-Z_][a-zA-Z0-9_]*`), by the rules of
 * {@link sanitizeMetricName} (colons are not allowed in label names).
 *
 * @example
 * ```ts
 * sanitizeLabelName('prsm.overflow'); // 'prsm_overflow'
 * ```
 */
export function sanitizeLabelName(name: string): string {
  let cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (cleaned === '') return '_';
  if (/^[0-9]/.test(cleaned)) cleaned = `_${cleaned}`;
  return cleaned.replace(/^__+/, '_');
}

const NEEDS_ESCAPE = /[\\"\n]/;

/**
 * A label value escaped for both formats: backslash, double quote and line feed.
 *
 * @example
 * ```ts
 * escapeLabelValue('say "hi"\n'); // 'say \\"hi\\"\\n'
 * ```
 */
export function escapeLabelValue(value: string): string {
  // Most values need nothing: one scan instead of three replaces.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// Text 0.0.4 escapes only backslash and line feed in HELP; OpenMetrics also quotes.
function escapeHelp(text: string, format: PrometheusFormat): string {
  const escaped = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? escaped.replace(/"/g, '\\"') : escaped;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

// OpenMetrics' canonical rendering of quantile label values: Go's %g with `.0` added
// to integers, which for quantiles in [0, 1] is what String() gives otherwise.
function formatQuantile(q: number): string {
  return Number.isInteger(q) ? q.toFixed(1) : String(q);
}

/** Labels our families add themselves: a tag of that name becomes `exported_<name>`. */
const RESERVED_LABELS: ReadonlySet<string> = new Set(['component', 'quantile', 'le']);

/** OpenMetrics caps an exemplar's label names and values at 128 characters together. */
const MAX_EXEMPLAR_LABEL_CHARS = 128;

/** Common UCUM units (what `InstrumentOptions.unit` takes) and their Prometheus names. */
const UNIT_NAMES: Readonly<Record<string, string>> = {
  s: 'seconds',
  ms: 'milliseconds',
  By: 'bytes',
  bytes: 'bytes',
  seconds: 'seconds',
  '1': 'ratio',
  '%': 'percent',
};

type Kind = 'counter' | 'gauge' | 'summary';

interface Family {
  readonly name: string;
  readonly type: SeriesSnapshot['type'];
  readonly series: SeriesSnapshot[];
}

interface Plan {
  readonly family: Family;
  readonly kind: Kind;
  /** The OpenMetrics family name; also the text family name except for counters. */
  readonly base: string;
  /** The unit suffix of `base` (without `_`), for `# UNIT`; '' when unknown. */
  readonly unit: string;
  readonly scale: number;
}

function stripSuffix(name: string, suffixes: readonly string[]): string {
  for (const suffix of suffixes) {
    if (name.length > suffix.length && name.endsWith(suffix)) {
      return name.slice(0, -suffix.length);
    }
  }
  return name;
}

// Every sample and family name a family writes, so a collision is seen before it happens.
function claimedNames(kind: Kind, base: string): string[] {
  switch (kind) {
    case 'counter':
      return [base, `${base}_total`, `${base}_created`];
    case 'gauge':
      return [base];
    case 'summary':
      return [
        base,
        `${base}_sum`,
        `${base}_count`,
        `${base}_created`,
        `${base}_observations`,
        `${base}_observations_total`,
        `${base}_observations_created`,
      ];
  }
}

function plan(family: Family, prefix: string, taken: Set<string>): Plan {
  const sanitized = sanitizeMetricName(prefix + family.name);
  let kind: Kind;
  let stem: string;
  let unit = '';
  let scale = 1;
  switch (family.type) {
    case 'counter':
      kind = 'counter';
      stem = stripSuffix(sanitized, ['_total']);
      break;
    case 'gauge':
      kind = 'gauge';
      stem = sanitized;
      break;
    case 'timer':
      // Timers hold milliseconds; Prometheus and OpenTelemetry want base units.
      kind = 'summary';
      stem = stripSuffix(sanitized, ['_milliseconds', '_seconds', '_ms']);
      unit = 'seconds';
      scale = 1 / 1000;
      break;
    case 'histogram': {
      kind = 'summary';
      stem = sanitized;
      const unitName = UNIT_NAMES[family.series[0]?.unit ?? ''] ?? '';
      if (unitName !== '' && stem.endsWith(`_${unitName}`)) {
        stem = stem.slice(0, -(unitName.length + 1));
        unit = unitName;
      }
      break;
    }
  }
  const suffix = unit === '' ? '' : `_${unit}`;
  // Names that sanitise alike ("api.latency" and "api_latency"), or a family whose
  // suffixed names another one owns ("x" summary and "x_count" gauge): the family
  // sorted first keeps the name, the next gets `_2`, `_3`... before the unit.
  for (let n = 1; ; n++) {
    const base = `${stem}${n === 1 ? '' : `_${n}`}${suffix}`;
    const names = claimedNames(kind, base);
    if (names.every((name) => !taken.has(name))) {
      for (const name of names) taken.add(name);
      return { family, kind, base, unit, scale };
    }
  }
}

/** `{component="...",tag="..."}` inner parts for one series (without braces). */
function seriesLabels(series: SeriesSnapshot): string[] {
  return [...labelMap(series)].map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
}

/** A series' labels, as written between braces, cached per tags object. */
interface CachedLabels {
  readonly component: string;
  /** `component="...",tag="..."` ('' without labels). */
  readonly joined: string;
}

// A series' tags object lives as long as the series and never changes (the monitor
// freezes it), so the rendering of its labels is kept beside it: a scrape of ten
// thousand series then escapes and joins nothing it did the scrape before.
const labelCache = new WeakMap<object, CachedLabels>();

function cachedLabels(series: SeriesSnapshot): string {
  const tags = series.tags;
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = labelCache.get(tags);
    if (hit !== undefined && hit.component === series.component) return hit.joined;
  }
  const joined = seriesLabels(series).join(',');
  if (frozen) labelCache.set(tags, { component: series.component, joined });
  return joined;
}

function labelMap(series: SeriesSnapshot): Map<string, string> {
  const out = new Map<string, string>();
  out.set('component', series.component);
  // Sorted, so which of two tags that sanitise alike wins never depends on order.
  for (const key of Object.keys(series.tags).sort()) {
    const value = series.tags[key]!;
    // An empty value means "no such label" to Prometheus.
    if (value === '') continue;
    let name = sanitizeLabelName(key);
    if (RESERVED_LABELS.has(name)) name = `exported_${name}`;
    if (!out.has(name)) out.set(name, value);
  }
  if (series.component === '') out.delete('component');
  return out;
}

function braces(joined: string): string {
  return joined === '' ? '' : `{${joined}}`;
}

function helpText(plan: Plan): string {
  const described = plan.family.series.find((s) => s.description !== '')?.description;
  const base = described ?? `PRSM Monitor ${plan.family.type} ${plan.family.name}`;
  return plan.family.type === 'timer' ? `${base} (seconds)` : base;
}

/**
 * The snapshot in the Prometheus text format 0.0.4 (default) or OpenMetrics 1.0.
 *
 * - Counters: `<name>_total` (a `_total` already in the name is not doubled).
 * - Gauges: `<name>`.
 * - Histograms and timers: summaries, with a `quantile` sample per snapshot quantile
 *   over `windowSeconds`, and the cumulative `_sum` and `_count` (monotonic, as
 *   summaries require). Timers are converted from milliseconds to seconds and named
 *   `<name>_seconds` (a `_ms`, `_milliseconds` or `_seconds` already there is
 *   replaced). Quantiles of a window without samples are left out in the text format
 *   and written `NaN` in OpenMetrics (which requires it).
 * - Labels: `component`, then the tags (sanitised; a tag named `component`,
 *   `quantile` or `le` becomes `exported_<name>`; empty values dropped). The overflow
 *   series keeps its `prsm_overflow="true"`. Descriptive `labels` are not exposed:
 *   they may change on a series, which Prometheus would take for a new series.
 * - Families whose names sanitise alike are disambiguated, never merged: in order of
 *   their original names, the first keeps the name and the next ones get `_2`, `_3`...
 *   (before a unit suffix). Two series of one family whose labels sanitise alike keep
 *   the first.
 *
 * @example
 * ```ts
 * import { toPrometheusText } from '@prsm/exporters/prometheus';
 *
 * const text = toPrometheusText(monitor.snapshot(), { windowSeconds: 300, prefix: 'shop_' });
 * ```
 */
export function toPrometheusText(
  snapshot: MonitorSnapshot,
  options: PrometheusTextOptions = {},
): string {
  const format = options.format ?? 'prometheus';
  const openMetrics = format === 'openmetrics';
  const windowSeconds = options.windowSeconds ?? snapshot.windows[0];
  const windowIndex = windowSeconds === undefined ? -1 : snapshot.windows.indexOf(windowSeconds);
  if (windowIndex === -1) {
    throw new TypeError(
      `toPrometheusText: options.windowSeconds must be one of the snapshot's windows (${snapshot.windows.join(', ')}), got ${String(windowSeconds)}`,
    );
  }
  const exemplars = openMetrics && options.exemplars !== false;

  const families = new Map<string, Family>();
  for (const series of snapshot.series) {
    const key = `${series.name}\u0000${series.type}`;
    let family = families.get(key);
    if (family === undefined) {
      family = { name: series.name, type: series.type, series: [] };
      families.set(key, family);
    }
    family.series.push(series);
  }
  const ordered = [...families.values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0,
  );

  const taken = new Set<string>();
  // One growing string: V8 joins the pieces lazily, cheaper than an array of lines.
  let text = '';
  const quantileLabels = new Map<number, string>();
  for (const family of ordered) {
    const p = plan(family, options.prefix ?? '', taken);
    const textName = p.kind === 'counter' && !openMetrics ? `${p.base}_total` : p.base;
    const help = escapeHelp(helpText(p), format);
    if (openMetrics) {
      text += `# TYPE ${p.base} ${p.kind}\n`;
      if (p.unit !== '') text += `# UNIT ${p.base} ${p.unit}\n`;
      text += `# HELP ${p.base} ${help}\n`;
    } else {
      text += `# HELP ${textName} ${help}\n# TYPE ${textName} ${p.kind}\n`;
    }

    const seen = new Set<string>();
    let observations = '';
    for (const series of family.series) {
      const labels = cachedLabels(series);
      if (seen.has(labels)) continue;
      seen.add(labels);
      if (series.type === 'counter') {
        text += `${p.base}_total${braces(labels)} ${formatNumber(series.total)}\n`;
      } else if (series.type === 'gauge') {
        text += `${p.base}${braces(labels)} ${formatNumber(series.value)}\n`;
      } else {
        text += summaryLines(p, series, labels, windowIndex, openMetrics, quantileLabels);
        if (exemplars) observations += observationLine(p, series, labels, windowIndex);
      }
    }
    if (exemplars && p.kind === 'summary') {
      const name = `${p.base}_observations`;
      text +=
        `# TYPE ${name} counter\n` +
        `# HELP ${name} ${escapeHelp(`Observations of ${p.base} (its _count), carrying the slowest traced sample of the last ${snapshot.windows[windowIndex]!}s as an exemplar`, format)}\n` +
        observations;
    }
  }
  if (openMetrics) text += '# EOF\n';
  return text;
}

function summaryLines(
  p: Plan,
  series: HistogramSnapshot,
  labels: string,
  windowIndex: number,
  openMetrics: boolean,
  quantileLabels: Map<number, string>,
): string {
  const window = series.windows[windowIndex];
  // The series' labels, then the quantile's.
  const prefix = labels === '' ? `${p.base}{` : `${p.base}{${labels},`;
  let text = '';
  for (const { quantile, value } of window?.quantiles ?? []) {
    if (Number.isNaN(value) && !openMetrics) continue;
    let label = quantileLabels.get(quantile);
    if (label === undefined) {
      label = `quantile="${formatQuantile(quantile)}"} `;
      quantileLabels.set(quantile, label);
    }
    text += `${prefix}${label}${formatNumber(value * p.scale)}\n`;
  }
  const own = braces(labels);
  return (
    text +
    `${p.base}_sum${own} ${formatNumber(series.cumulative.sum * p.scale)}\n` +
    `${p.base}_count${own} ${formatNumber(series.cumulative.count)}\n`
  );
}

function observationLine(
  p: Plan,
  series: HistogramSnapshot,
  labels: string,
  windowIndex: number,
): string {
  const line = `${p.base}_observations_total${braces(labels)} ${formatNumber(series.cumulative.count)}\n`;
  // Slowest first: the one worth following from a latency spike.
  const exemplar = series.windows[windowIndex]?.exemplars[0];
  if (exemplar === undefined) return line;
  if ('trace_id'.length + exemplar.traceId.length > MAX_EXEMPLAR_LABEL_CHARS) return line;
  return `${line.slice(0, -1)} # {trace_id="${escapeLabelValue(exemplar.traceId)}"} ${formatNumber(exemplar.value * p.scale)}\n`;
}
