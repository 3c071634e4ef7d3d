/**
 * The exposition itself: a `MonitorSnapshot` rendered in the Prometheus text format
 * 0.0.4 or in OpenMetrics 1.0. Pure functions of the snapshot, no I/O; the HTTP side
 * lives in handler.ts.
 */
import type {
  DistributionReading,
  DistributionSnapshot,
  MonitorSnapshot,
  SeriesSnapshot,
  SeriesVisitor,
  VisitedSeries,
} from '@prsm/core';

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

/** A family as the writer plans it: its name, type and unit. */
interface Family {
  readonly name: string;
  readonly type: SeriesSnapshot['type'];
  readonly unit: string;
}

interface Plan {
  readonly family: Family;
  readonly kind: Kind;
  /** The OpenMetrics family name; also the text family name except for counters. */
  readonly base: string;
  /** The unit suffix of `base` (without `_`), for `# UNIT`; '' when unknown. */
  readonly unit: string;
  /**
   * What values are divided by: 1000 for timers (milliseconds to seconds; a division,
   * which rounds once, where multiplying by 0.001 would round twice: 12345 ms is
   * `12.345`, not `12.345000000000001`), else 1.
   */
  readonly divisor: number;
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
  let divisor = 1;
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
      divisor = 1000;
      break;
    case 'histogram': {
      kind = 'summary';
      stem = sanitized;
      const unitName = UNIT_NAMES[family.unit] ?? '';
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
      return { family, kind, base, unit, divisor };
    }
  }
}

/** A series' labels as written between braces, and whether writing them lost anything. */
interface RenderedLabels {
  /** `component="...",tag="..."` ('' without labels). */
  readonly joined: string;
  /**
   * True when a tag was renamed (sanitised, or reserved) or left out (empty, or a
   * name taken): only then can two series of one family be labelled alike.
   */
  readonly lossy: boolean;
}

function renderLabels(series: VisitedSeries): RenderedLabels {
  const out = new Map<string, string>();
  let lossy = false;
  out.set('component', series.component);
  // Sorted, so which of two tags that sanitise alike wins never depends on order.
  for (const key of Object.keys(series.tags).sort()) {
    const value = series.tags[key]!;
    // An empty value means "no such label" to Prometheus.
    if (value === '') {
      lossy = true;
      continue;
    }
    let name = sanitizeLabelName(key);
    if (RESERVED_LABELS.has(name)) name = `exported_${name}`;
    if (name !== key || out.has(name)) lossy = true;
    if (!out.has(name)) out.set(name, value);
  }
  if (series.component === '') out.delete('component');
  const joined = [...out].map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',');
  return { joined, lossy };
}

/** A series' rendered labels, cached per tags object (for series read from snapshots). */
interface CachedLabels extends RenderedLabels {
  readonly component: string;
}

// A series' tags object lives as long as the series and never changes (the monitor
// freezes it), so the rendering of its labels is kept beside it: a scrape of ten
// thousand series then escapes and joins nothing it did the scrape before.
const labelCache = new WeakMap<object, CachedLabels>();

function cachedLabels(series: VisitedSeries): RenderedLabels {
  const tags = series.tags;
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = labelCache.get(tags);
    if (hit !== undefined && hit.component === series.component) return hit;
  }
  const { joined, lossy } = renderLabels(series);
  const cached: CachedLabels = { component: series.component, joined, lossy };
  if (frozen) labelCache.set(tags, cached);
  return cached;
}

/**
 * What the last live scrape wrote of each series, by the series' place in it: a
 * monitor's series come in the same order from one scrape to the next, so a scrape
 * finds each one's rendering at its place, read in order, where a lookup by tags object
 * (a hash, then objects spread over the heap) missed the processor's caches at every
 * series. Per place: the series and its labels; and `width` slots (the quantiles asked
 * for) of the quantile values written and their text, since most answers are the ones
 * of the scrape before (a few new samples move few of them) and are then not formatted
 * again; and the quantile labels' ends last made. Holds the last scrape's, no more.
 */
const lastScrape = {
  series: [] as VisitedSeries[],
  labels: [] as RenderedLabels[],
  lines: [] as SeriesLines[],
  width: 0,
  values: new Float64Array(0),
  texts: [] as string[],
  /** The quantiles the labels' ends in `tails` were made for (see {@link quantileTails}). */
  tailsFor: [] as readonly number[],
  tails: [] as readonly string[],
};

/**
 * What is kept only to keep it: a character of each string {@link flat} reads (so
 * that no compiler can take the read away), the last finished writer (see
 * {@link PrometheusWriter.bytes}) and the last snapshot's reading of
 * {@link toPrometheusText}, emptied.
 */
const kept: {
  sink: number;
  writer: PrometheusWriter | undefined;
  reading: SnapshotReading | undefined;
} = {
  sink: 0,
  writer: undefined,
  reading: undefined,
};

/**
 * `text`, made one run of characters. V8 keeps a string built by `+` or a template
 * as a tree of its parts, and walks that tree again whenever a longer string holding
 * it is copied out (as the text is encoded); reading one of its characters flattens
 * it in place. Strings kept from one scrape to the next are made flat once, so a
 * scrape copies each as one run instead of walking its parts: in a probe (`.tmp`)
 * writing 42,000 lines from kept heads, 5.9 to 8.6 ms (medians of three runs) became
 * 3.6 to 5.0 ms with the heads flat. Same string either way; elsewhere than V8 a read
 * of one character.
 */
function flat(text: string): string {
  kept.sink ^= text.charCodeAt(0);
  return text;
}

/**
 * The quantile labels' ends (`quantile="0.5"} `) for `quantiles`, made when they are
 * not the last ones asked for (compared by value: a reading may reuse its array). The
 * array returned is the same one while the quantiles are, which a series' kept block
 * of quantile lines is checked by.
 */
function quantileTails(quantiles: readonly number[]): readonly string[] {
  const memo = lastScrape;
  const known = memo.tailsFor;
  let same = known.length === quantiles.length;
  for (let i = 0; same && i < known.length; i++) same = known[i] === quantiles[i];
  if (!same) {
    memo.tailsFor = [...quantiles];
    memo.tails = quantiles.map((q) => flat(`quantile="${formatQuantile(q)}"} `));
  }
  return memo.tails;
}

/**
 * The constant heads of a series' lines, made once and kept at its place in
 * {@link lastScrape}: a counter's or gauge's `name{labels} ` (`head`), a summary's
 * quantile lines' `name{labels,` (`head`; the quantile label follows) and its
 * `name_sum{labels} ` and `name_count{labels} `. Made for the family name `base`, the
 * series' type and its rendered `labels` (valid while all three are the same).
 *
 * And the lines last written from them, reused while their numbers are the same (an
 * idle series' are, from one scrape to the next; a busy one's quantiles mostly are): a
 * counter's or gauge's whole line for `value`; a summary's quantile lines together
 * (`quantileLines`, for the labels' ends `quantileTails` and the values in
 * {@link lastScrape}'s slots), and its `_sum` and `_count` lines (`totalLines`) for
 * `totalSum` and `totalCount`. All flat (see {@link flat}). What a scrape keeps in all
 * (these, the labels and the values' texts) measured 9.3 to 9.8 MB of heap between
 * scrapes of 10,000 series (6,000 summaries of 5 quantiles; a 3.7 MB exposition),
 * against 5.1 to 5.3 MB before the lines were kept (`.tmp` probe, heap after full
 * collections).
 */
interface SeriesLines {
  readonly base: string;
  readonly type: SeriesSnapshot['type'];
  readonly labels: string;
  readonly head: string;
  readonly sum: string;
  readonly count: string;
  value: number;
  line: string;
  quantileTails: readonly string[] | undefined;
  quantileLines: string;
  totalSum: number;
  totalCount: number;
  totalLines: string;
}

/** The fewest quantile slots {@link lastScrape} keeps its values' array cut back to. */
const MIN_VALUES = 1024;

/** The first quantile slot of `place` in {@link lastScrape}, emptied when `fresh` (another series' before). */
function numberSlots(place: number, width: number, fresh: boolean): number {
  const memo = lastScrape;
  if (memo.width !== width) {
    memo.width = width;
    memo.values = new Float64Array(0);
    memo.texts = [];
  }
  const at = place * width;
  if (memo.values.length < at + width) {
    const values = new Float64Array(Math.max(2 * memo.values.length, at + width)).fill(NaN);
    values.set(memo.values);
    memo.values = values;
  }
  if (fresh) memo.values.fill(NaN, at, at + width);
  return at;
}

function braces(joined: string): string {
  return joined === '' ? '' : `{${joined}}`;
}

function helpText(plan: Plan, description: string): string {
  const base =
    description !== '' ? description : `PRSM Monitor ${plan.family.type} ${plan.family.name}`;
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
  const windowSeconds = options.windowSeconds ?? snapshot.windows[0];
  const windowIndex = windowSeconds === undefined ? -1 : snapshot.windows.indexOf(windowSeconds);
  if (windowIndex === -1) {
    throw new TypeError(
      `toPrometheusText: options.windowSeconds must be one of the snapshot's windows (${snapshot.windows.join(', ')}), got ${String(windowSeconds)}`,
    );
  }
  const writer = new PrometheusWriter({
    ...options,
    windowSeconds: snapshot.windows[windowIndex]!,
  });
  // Families in order of name (then type), each one's series together, as a monitor's
  // `visitSeries` hands them over.
  const families = new Map<string, SeriesSnapshot[]>();
  for (const series of snapshot.series) {
    const key = `${series.name}\u0000${series.type}`;
    let list = families.get(key);
    if (list === undefined) {
      list = [];
      families.set(key, list);
    }
    list.push(series);
  }
  const ordered = [...families.values()].sort((a, b) => {
    const x = a[0]!;
    const y = b[0]!;
    return x.name < y.name
      ? -1
      : x.name > y.name
        ? 1
        : x.type < y.type
          ? -1
          : x.type > y.type
            ? 1
            : 0;
  });
  const reading = new SnapshotReading();
  for (const list of ordered) {
    writer.describeNextFamily(list.find((s) => s.description !== '')?.description ?? '');
    for (const series of list) {
      if (series.type === 'counter') writer.counter(series, series.total);
      else if (series.type === 'gauge') writer.gauge(series, series.value);
      else writer.distribution(series, reading.of(series, windowIndex));
    }
  }
  // Kept emptied, as the writer is (see `PrometheusWriter.bytes`): the writer's code
  // reads this class's objects too.
  kept.reading = reading.emptied();
  return writer.finish();
}

/**
 * A snapshot's histogram read as `visitSeries` reads one: the window's quantiles and
 * statistics and the cumulative count and sum (one object, overwritten per series).
 */
class SnapshotReading implements DistributionReading {
  type: 'histogram' | 'timer' = 'histogram';
  quantiles: number[] = [];
  values = new Float64Array(0);
  exemplar: DistributionReading['exemplar'] = undefined;
  totalCount = 0;
  totalSum = 0;
  #series: Extract<SeriesSnapshot, { type: 'histogram' | 'timer' }> | undefined = undefined;
  #window: DistributionSnapshot | undefined = undefined;

  // What the writer does not read is read from the snapshot only when asked for (each
  // number there is an object of its own: a scrape would pay a cache miss per field).
  get windowSeconds(): number {
    const seconds = this.#window?.windowSeconds;
    return typeof seconds === 'number' ? seconds : 0;
  }
  get coveredSeconds(): number {
    return this.#window?.coveredSeconds ?? 0;
  }
  get count(): number {
    return this.#window?.count ?? 0;
  }
  get sum(): number {
    return this.#window?.sum ?? 0;
  }
  get min(): number {
    return this.#window?.min ?? NaN;
  }
  get max(): number {
    return this.#window?.max ?? NaN;
  }
  get errors(): number {
    return this.#window?.errors ?? 0;
  }
  get totalErrors(): number {
    return this.#series?.cumulative.errors ?? 0;
  }

  /** Lets go of the last series read (and its snapshot). */
  emptied(): this {
    this.#series = undefined;
    this.#window = undefined;
    this.exemplar = undefined;
    return this;
  }

  of(series: Extract<SeriesSnapshot, { type: 'histogram' | 'timer' }>, windowIndex: number): this {
    const window = series.windows[windowIndex];
    this.#series = series;
    this.#window = window;
    const quantiles = window?.quantiles ?? [];
    if (this.values.length !== quantiles.length) {
      this.values = new Float64Array(quantiles.length);
      this.quantiles = new Array<number>(quantiles.length).fill(NaN);
    }
    for (let i = 0; i < quantiles.length; i++) {
      const { quantile, value } = quantiles[i]!;
      if (this.quantiles[i] !== quantile) this.quantiles[i] = quantile;
      this.values[i] = value;
    }
    this.type = series.type;
    this.exemplar = window?.exemplars[0];
    this.totalCount = series.cumulative.count;
    this.totalSum = series.cumulative.sum;
    return this;
  }
}

/** Characters of text gathered before they are encoded into the buffer. */
const PENDING_CHARS = 16 * 1024;
const NO_BYTES = Buffer.alloc(0);
/** The smallest buffer a writer starts with. */
const MIN_SIZE = 16 * 1024;
/** The size of the last exposition written: the next writer starts a little above it. */
let lastSize = MIN_SIZE;

/** Options of a {@link PrometheusWriter}: the text options with the window settled. */
type WriterOptions = PrometheusTextOptions & { readonly windowSeconds: number };

/**
 * Renders series as a monitor's `visitSeries` hands them over (families in order, each
 * one's series together) into the exposition, written as UTF-8 as it goes; `bytes()`
 * returns it (`finish()` as a string). Both
 * `toPrometheusText` and the handler write through it, so a snapshot and a visit
 * render alike.
 *
 * @internal
 */
export class PrometheusWriter implements SeriesVisitor {
  readonly #openMetrics: boolean;
  readonly #format: PrometheusFormat;
  readonly #prefix: string;
  readonly #exemplars: boolean;
  readonly #windowSeconds: number;
  readonly #live: boolean;
  /** Whether the text is encoded as it goes (for `bytes()`), or kept as a string (`finish()`). */
  readonly #toBytes: boolean;
  readonly #taken = new Set<string>();
  // The text not yet encoded (all of it, for `finish()`); with `toBytes`, encoded ~16 KB
  // at a time (each encoding is a native call) into one buffer as it is made: what the
  // handler sends, with no string of it all to flatten and encode (a scrape of ten
  // thousand series is ~4 MB).
  #pending = '';
  #out: Buffer = NO_BYTES;
  #at = 0;
  // The family being written: its plan (made, and its HELP and TYPE written, at its
  // first series), the labels of its series so far (in a set once one of them lost
  // something in the writing: until then no two can be alike), its exemplar counter's
  // lines (written after it).
  #family: Family | undefined = undefined;
  #plan: Plan | undefined = undefined;
  #written: string[] = [];
  #seen: Set<string> | undefined = undefined;
  #observations = '';
  /** The description of the next family, when its first series may lack one (a snapshot's). */
  #nextDescription: string | undefined = undefined;
  /** How many series a live writer has been handed (each one's place in {@link lastScrape}). */
  #place = 0;
  /** Whether the series at the current place was another one at the last scrape. */
  #fresh = true;

  /**
   * `live`: the series handed over are a monitor's own records (from `visitSeries`), no
   * two of one family with the same component and tags; a snapshot's may repeat.
   * `toBytes`: the text is encoded into a buffer as it goes, for `bytes()`; else it
   * stays one string, for `finish()`.
   */
  constructor(options: WriterOptions, live = false, toBytes = live) {
    this.#toBytes = toBytes;
    this.#format = options.format ?? 'prometheus';
    this.#openMetrics = this.#format === 'openmetrics';
    this.#prefix = options.prefix ?? '';
    this.#exemplars = this.#openMetrics && options.exemplars !== false;
    this.#windowSeconds = options.windowSeconds;
    this.#live = live;
  }

  counter(series: VisitedSeries, total: number): void {
    this.#scalar(series, 'counter', total);
  }

  gauge(series: VisitedSeries, value: number): void {
    this.#scalar(series, 'gauge', value);
  }

  #scalar(series: VisitedSeries, type: 'counter' | 'gauge', value: number): void {
    const p = this.#enter(series, type);
    const labels = this.#labels(series);
    if (labels === undefined) return;
    const lines = this.#lines(p, labels, type);
    // A live series' line is kept (NaN is never the same: its line is made anew).
    if (this.#live && lines.value === value) {
      this.#write(lines.line);
      return;
    }
    const line = `${lines.head}${formatNumber(value)}\n`;
    if (this.#live) {
      lines.value = value;
      lines.line = flat(line);
    }
    this.#write(line);
  }

  distribution(series: VisitedSeries, reading: DistributionReading): void {
    const p = this.#enter(series, reading.type);
    const labels = this.#labels(series);
    if (labels === undefined) return;
    const lines = this.#lines(p, labels, reading.type);
    const tails = quantileTails(reading.quantiles);
    if (this.#live) this.#write(this.#quantileLines(lines, tails, reading.values, p.divisor));
    else {
      const values = reading.values;
      for (let i = 0; i < tails.length; i++) {
        const value = values[i]!;
        if (Number.isNaN(value) && !this.#openMetrics) continue;
        // The series' labels, then the quantile's.
        this.#write(`${lines.head}${tails[i]!}${formatNumber(value / p.divisor)}\n`);
      }
    }
    this.#write(this.#totalLines(lines, reading.totalSum, reading.totalCount, p.divisor));
    if (this.#exemplars) this.#observations += observationLine(p, braces(labels), reading);
  }

  /** A series' `_sum` and `_count` lines: a live series' kept ones while both are the same. */
  #totalLines(lines: SeriesLines, sum: number, count: number, divisor: number): string {
    if (this.#live && lines.totalSum === sum && lines.totalCount === count) {
      return lines.totalLines;
    }
    const text = `${lines.sum}${formatNumber(sum / divisor)}\n${lines.count}${formatNumber(count)}\n`;
    if (this.#live) {
      lines.totalSum = sum;
      lines.totalCount = count;
      lines.totalLines = flat(text);
    }
    return text;
  }

  /**
   * A live series' quantile lines: the last scrape's when they were made with the same
   * labels' ends and every value is the same as then (its values are kept in
   * {@link lastScrape}'s slots at the series' place), else made from the values' texts,
   * a value's formatted again only when it moved.
   */
  #quantileLines(
    lines: SeriesLines,
    tails: readonly string[],
    values: Float64Array,
    divisor: number,
  ): string {
    const width = tails.length;
    const at = numberSlots(this.#place - 1, width, this.#fresh);
    const memo = lastScrape;
    let same = lines.quantileTails === tails;
    for (let i = 0; i < width; i++) {
      const scaled = values[i]! / divisor;
      // NaN is never the same: the lines are made anew, as the format wants them.
      if (memo.values[at + i] !== scaled) {
        same = false;
        memo.values[at + i] = scaled;
        memo.texts[at + i] = formatNumber(scaled);
      }
    }
    if (same) return lines.quantileLines;
    let text = '';
    for (let i = 0; i < width; i++) {
      if (Number.isNaN(memo.values[at + i]) && !this.#openMetrics) continue;
      // The series' labels, then the quantile's.
      text += `${lines.head}${tails[i]!}${memo.texts[at + i]!}\n`;
    }
    lines.quantileTails = tails;
    lines.quantileLines = flat(text);
    return text;
  }

  /**
   * The HELP text of the next family, for a source whose series of one family may not
   * all carry its description (a snapshot's: the first non-empty one is taken).
   */
  describeNextFamily(description: string): void {
    this.#nextDescription = description;
  }

  /**
   * The whole exposition as UTF-8: every family written, then (OpenMetrics) `# EOF`.
   * Once: the writer lets go of its text then.
   *
   * The writer is then kept, emptied, until the next one finishes, only so that an
   * object of the writer's hidden class stays alive between scrapes. V8's optimised
   * code of the writer's methods, and of the monitor's visit that calls them, checks
   * objects against that class, and a full garbage collection that finds no object of
   * it alive throws all of that code away: every scrape after one ran unoptimised for
   * much of its length. Measured with a recorded visit replayed into the writer (`.tmp`
   * probe, 30 scrapes each way, medians): 45.2 ms after a full collection against 22.1
   * ms after none; the same code with its last writer kept, 14.1 against 19.1 ms, and
   * the 366 deoptimisations of 90 scrapes became 9.
   */
  bytes(): Buffer {
    this.#end();
    if (this.#live) {
      // The places past this scrape's last series hold nothing of it.
      lastScrape.series.length = this.#place;
      lastScrape.labels.length = this.#place;
      lastScrape.lines.length = this.#place;
      const slots = this.#place * lastScrape.width;
      if (lastScrape.texts.length > slots) lastScrape.texts.length = slots;
      // The values' array is grown by doubling: cut back once it is four times what
      // this scrape used (series were removed), so it holds no more than a scrape needs.
      if (lastScrape.values.length > 4 * Math.max(slots, MIN_VALUES)) {
        lastScrape.values = lastScrape.values.slice(0, 2 * Math.max(slots, MIN_VALUES));
      }
    }
    this.#encode();
    lastSize = Math.max(MIN_SIZE, this.#at);
    const bytes = this.#out.subarray(0, this.#at);
    // Done: kept (see above) with nothing of its text or names.
    this.#out = NO_BYTES;
    this.#at = 0;
    this.#taken.clear();
    kept.writer = this;
    return bytes;
  }

  /**
   * The whole exposition as a string (for a writer made for bytes, decoded from them).
   * Once, as `bytes()`.
   */
  finish(): string {
    if (this.#toBytes) return this.bytes().toString('utf8');
    this.#end();
    const text = this.#pending;
    // Done: kept as `bytes()` keeps a writer, with nothing of its text or names.
    this.#pending = '';
    this.#taken.clear();
    kept.writer = this;
    return text;
  }

  /** Closes the last family and, in OpenMetrics, writes `# EOF`. */
  #end(): void {
    this.#close();
    if (this.#openMetrics) this.#write('# EOF\n');
  }

  #write(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= PENDING_CHARS && this.#toBytes) this.#encode();
  }

  #encode(): void {
    const text = this.#pending;
    this.#pending = '';
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.#at + 3 * text.length > this.#out.length) {
      // The first buffer a little above the last exposition's size, then doubled.
      let size = this.#out.length === 0 ? Math.ceil(lastSize * 1.125) : 2 * this.#out.length;
      while (size < this.#at + 3 * text.length) size *= 2;
      const out = Buffer.allocUnsafe(size);
      this.#out.copy(out, 0, 0, this.#at);
      this.#out = out;
    }
    this.#at += this.#out.write(text, this.#at);
  }

  /**
   * The heads of the series' lines (see {@link SeriesLines}): a live writer's from the
   * last scrape at the series' place when its family name, type and labels are the
   * same, else made (and kept there).
   */
  #lines(p: Plan, labels: string, type: SeriesSnapshot['type']): SeriesLines {
    if (this.#live) {
      const kept = lastScrape.lines[this.#place - 1];
      if (
        kept !== undefined &&
        kept.labels === labels &&
        kept.type === type &&
        kept.base === p.base
      ) {
        return kept;
      }
    }
    const own = braces(labels);
    let head: string;
    let sum = '';
    let count = '';
    if (type === 'counter' || type === 'gauge') {
      head = `${type === 'counter' ? `${p.base}_total` : p.base}${own} `;
    } else {
      head = labels === '' ? `${p.base}{` : `${p.base}{${labels},`;
      sum = `${p.base}_sum${own} `;
      count = `${p.base}_count${own} `;
    }
    // Kept ones are made flat (a snapshot's are used once: copying them would not pay).
    const live = this.#live;
    const lines: SeriesLines = {
      base: p.base,
      type,
      labels,
      head: live ? flat(head) : head,
      sum: live ? flat(sum) : sum,
      count: live ? flat(count) : count,
      value: NaN,
      line: '',
      quantileTails: undefined,
      quantileLines: '',
      totalSum: NaN,
      totalCount: NaN,
      totalLines: '',
    };
    if (live) lastScrape.lines[this.#place - 1] = lines;
    return lines;
  }

  /**
   * The plan of the series' family; at its first series, the one before is closed and
   * its HELP and TYPE lines are written.
   */
  #enter(series: VisitedSeries, type: SeriesSnapshot['type']): Plan {
    const current = this.#family;
    if (current !== undefined && current.name === series.name && current.type === type) {
      return this.#plan!;
    }
    this.#close();
    const family: Family = { name: series.name, type, unit: series.unit };
    const p = plan(family, this.#prefix, this.#taken);
    this.#family = family;
    this.#plan = p;
    const format = this.#format;
    const help = escapeHelp(helpText(p, this.#nextDescription ?? series.description), format);
    this.#nextDescription = undefined;
    if (this.#openMetrics) {
      const unit = p.unit === '' ? '' : `# UNIT ${p.base} ${p.unit}\n`;
      this.#write(`# TYPE ${p.base} ${p.kind}\n${unit}# HELP ${p.base} ${help}\n`);
    } else {
      const textName = p.kind === 'counter' ? `${p.base}_total` : p.base;
      this.#write(`# HELP ${textName} ${help}\n# TYPE ${textName} ${p.kind}\n`);
    }
    return p;
  }

  /** The series' labels, or undefined when its family already has a series labelled alike. */
  #labels(series: VisitedSeries): string | undefined {
    let rendered: RenderedLabels;
    if (this.#live) {
      const place = this.#place++;
      const byPlace = lastScrape;
      this.#fresh = byPlace.series[place] !== series;
      if (!this.#fresh) rendered = byPlace.labels[place]!;
      else {
        rendered = cachedLabels(series);
        byPlace.series[place] = series;
        byPlace.labels[place] = rendered;
      }
    } else rendered = cachedLabels(series);
    const labels = rendered.joined;
    // A monitor's series differ in component or tags: alike only if a rendering lost
    // something. A snapshot's may repeat one another: every label set is checked.
    let seen = this.#seen;
    if (seen === undefined && (rendered.lossy || !this.#live)) {
      seen = new Set(this.#written);
      this.#seen = seen;
    }
    if (seen === undefined) this.#written.push(labels);
    else {
      if (seen.has(labels)) return undefined;
      seen.add(labels);
    }
    return labels;
  }

  /** Ends the family being written: its exemplar counter (OpenMetrics) follows it. */
  #close(): void {
    const p = this.#plan;
    if (p === undefined) return;
    if (this.#exemplars && p.kind === 'summary') {
      const name = `${p.base}_observations`;
      this.#write(
        `# TYPE ${name} counter\n` +
          `# HELP ${name} ${escapeHelp(`Observations of ${p.base} (its _count), carrying the slowest traced sample of the last ${this.#windowSeconds}s as an exemplar`, this.#format)}\n` +
          this.#observations,
      );
    }
    this.#family = undefined;
    this.#plan = undefined;
    this.#written = [];
    this.#seen = undefined;
    this.#observations = '';
  }
}

function observationLine(p: Plan, own: string, reading: DistributionReading): string {
  const line = `${p.base}_observations_total${own} ${formatNumber(reading.totalCount)}`;
  // Slowest first: the one worth following from a latency spike.
  const exemplar = reading.exemplar;
  if (exemplar === undefined) return `${line}\n`;
  if ('trace_id'.length + exemplar.traceId.length > MAX_EXEMPLAR_LABEL_CHARS) return `${line}\n`;
  return `${line} # {trace_id="${escapeLabelValue(exemplar.traceId)}"} ${formatNumber(exemplar.value / p.divisor)}\n`;
}
