import type { Diagnostics, DiagnosticCodeValue } from '../diagnostics/diagnostics.js';
import type { Scale } from '../sketch/centroids.js';
import { CounterSeries } from './counter-series.js';
import { GaugeSeries } from './gauge-series.js';
import { HistogramSeries } from './histogram-series.js';
import type { DropSink, SeriesIdentity } from './series-base.js';
import type { SlotTicker } from './ticker.js';
import { copyTags, type Labels, type MetricType, type Tags, tagsKey } from './types.js';

/** Any series the registry holds. @internal */
export type AnySeries = CounterSeries | GaugeSeries | HistogramSeries;

/** The tag every overflow series carries. */
export const OVERFLOW_TAG = 'prsm.overflow';
/** The component of the overflow series for components never seen before the cap. */
export const OVERFLOW_COMPONENT = 'prsm.overflow';
const OVERFLOW_TAGS: Tags = Object.freeze({ [OVERFLOW_TAG]: 'true' });
/** The labels of a series bound without any: one frozen set, like every other one, not an object per series. */
const NO_LABELS: Labels = Object.freeze({});

/**
 * What a metric family needs from the monitor that owns it.
 *
 * @internal
 */
export interface FamilyContext {
  readonly ticker: SlotTicker;
  readonly scale: Scale;
  readonly ringSize: number;
  readonly maxSeriesPerMetric: number;
  readonly diagnostics: Diagnostics;
  /** Called once per new tag set that lands in an overflow series. */
  onOverflow(metric: string): void;
  /** Called for every value a series refuses. */
  onDrop(code: DiagnosticCodeValue): void;
}

/**
 * All series of one metric name, with the cardinality cap.
 *
 * Up to `maxSeriesPerMetric` (component, tags) series are kept. A further tag set goes
 * to the overflow series of its component, tagged `prsm.overflow=true`; a component
 * the metric had never seen before the cap goes to the overflow series of the
 * `prsm.overflow` component, so the overflow series are bounded too. Nothing beyond
 * the cap is stored: a flood of new tag sets leaves the heap flat.
 *
 * @internal
 */
export class MetricFamily implements DropSink {
  readonly name: string;
  readonly type: MetricType;
  readonly unit: string;
  readonly description: string;
  readonly series = new Map<string, AnySeries>();
  readonly overflowSeries = new Map<string, AnySeries>();
  readonly #components = new Set<string>();
  readonly #context: FamilyContext;

  readonly #maxSeries: number;

  /** `maxSeries` overrides the monitor's cap (the SDK's own bounded self-metrics). */
  constructor(
    context: FamilyContext,
    name: string,
    type: MetricType,
    unit: string,
    description: string,
    maxSeries = context.maxSeriesPerMetric,
  ) {
    this.#context = context;
    this.#maxSeries = maxSeries;
    this.name = name;
    this.type = type;
    this.unit = unit;
    this.description = description;
  }

  /**
   * The series for a component and a raw tag object, created if new and under the
   * cap; null when the tags are invalid. Labels must already be validated.
   */
  resolve(component: string, rawTags: unknown, labels: Labels | undefined): AnySeries | null {
    const key = tagsKey(component, rawTags);
    if (key === null) return null;
    let series = this.series.get(key);
    if (series !== undefined) {
      if (labels !== undefined) series.identity.labels = labels;
      return series;
    }
    if (this.series.size < this.#maxSeries) {
      const tags = copyTags(rawTags);
      if (tags === null) return null;
      series = this.#create(component, tags, labels ?? NO_LABELS, false);
      this.series.set(key, series);
      this.#components.add(component);
      return series;
    }
    this.#context.onOverflow(this.name);
    const overflowComponent = this.#components.has(component) ? component : OVERFLOW_COMPONENT;
    series = this.overflowSeries.get(overflowComponent);
    if (series === undefined) {
      series = this.#create(overflowComponent, OVERFLOW_TAGS, NO_LABELS, true);
      this.overflowSeries.set(overflowComponent, series);
    }
    return series;
  }

  /**
   * The series for a component and tag set if it exists (overflow series included);
   * null when the tags are invalid.
   */
  find(component: string, rawTags: unknown): AnySeries | undefined | null {
    const key = tagsKey(component, rawTags);
    if (key === null) return null;
    const series = this.series.get(key);
    if (series !== undefined) return series;
    return key === tagsKey(component, OVERFLOW_TAGS)
      ? this.overflowSeries.get(component)
      : undefined;
  }

  /** Every series, the overflow ones last. */
  *all(): IterableIterator<AnySeries> {
    yield* this.series.values();
    yield* this.overflowSeries.values();
  }

  drop(code: DiagnosticCodeValue, metric: string, value: unknown): void {
    this.#context.diagnostics.report(code, `${metric}: dropped ${describe(value)}`);
    this.#context.onDrop(code);
  }

  #create(component: string, tags: Tags, labels: Labels, overflow: boolean): AnySeries {
    const identity: SeriesIdentity = {
      name: this.name,
      type: this.type,
      component,
      tags,
      labels,
      overflow,
      unit: this.unit,
      description: this.description,
    };
    const c = this.#context;
    switch (this.type) {
      case 'counter':
        return new CounterSeries(c.ticker, identity, this, c.ringSize);
      case 'gauge':
        return new GaugeSeries(c.ticker, identity, this);
      default:
        return new HistogramSeries(c.ticker, identity, this, c.scale, c.ringSize);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  return value === null ? 'null' : `a value of type ${typeof value}`;
}
