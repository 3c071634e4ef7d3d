/**
 * Alert rules of a `@prsm/core` monitor as a Prometheus alerting-rules file: each
 * rule's condition translated to PromQL over the series our exposition (text.ts)
 * writes, or skipped with the reason when it has no faithful PromQL form. Pure
 * functions, no I/O, no YAML dependency.
 */
import {
  type AlertRule,
  type ConditionNode,
  type MonitorSnapshot,
  parseCondition,
} from '@prsm/core';

import { sanitizeLabelName, sanitizeMetricName } from './text.js';

/**
 * What a metric is, as {@link toPrometheusRules} needs to know to name its series
 * and scale its values (timers are milliseconds in the monitor, seconds in
 * Prometheus).
 *
 * @example
 * ```ts
 * const kind: PrometheusRuleMetricType = 'timer';
 * ```
 */
export type PrometheusRuleMetricType = 'timer' | 'histogram' | 'counter' | 'gauge';

/**
 * Options of {@link toPrometheusRules}.
 *
 * @example
 * ```ts
 * const options: PrometheusRulesOptions = {
 *   metrics: { 'api.latency': 'timer', db_connections: 'gauge', 'orders.failed': 'counter' },
 *   windowSeconds: 60,
 * };
 * ```
 */
export interface PrometheusRulesOptions {
  /**
   * The type of every metric the conditions read, by name as written in them. Takes
   * precedence over `snapshot`. A rule reading a metric of unknown type is skipped.
   */
  readonly metrics?: Readonly<Record<string, PrometheusRuleMetricType>>;
  /** A snapshot of the monitor to infer the metrics' types from (and their units). */
  readonly snapshot?: MonitorSnapshot;
  /**
   * The `windowSeconds` the exposition is rendered with (its summaries' quantiles
   * are over it): quantile conditions read over another window are skipped. Default
   * the snapshot's first window, else 60.
   */
  readonly windowSeconds?: number;
  /** The quantiles the exposition carries. Default `[0.5, 0.9, 0.95, 0.99, 0.999]`. */
  readonly quantiles?: readonly number[];
  /** The exposition's `prefix`, if it has one. Default none. */
  readonly prefix?: string;
  /** Put before the component in each group's name. Default `'prsm-'`. */
  readonly groupPrefix?: string;
}

/**
 * A rule {@link toPrometheusRules} could not translate, and why.
 *
 * @example
 * ```ts
 * const skipped: SkippedPrometheusRule = {
 *   ruleId: 'api-errors',
 *   name: 'High API Error Rate',
 *   reason: 'error_rate is built in: the exposition does not carry error counts',
 * };
 * ```
 */
export interface SkippedPrometheusRule {
  /** The rule's id. */
  readonly ruleId: string;
  /** The rule's name. */
  readonly name: string;
  /** Why it has no PromQL form. */
  readonly reason: string;
}

/**
 * What {@link toPrometheusRules} returns.
 *
 * @example
 * ```ts
 * const { yaml, skipped, converted }: PrometheusRulesResult = toPrometheusRules(rules, options);
 * ```
 */
export interface PrometheusRulesResult {
  /** The rules file: `groups:`, one group per component. */
  readonly yaml: string;
  /** The rules left out, with the reason. */
  readonly skipped: readonly SkippedPrometheusRule[];
  /** How many rules are in `yaml`. */
  readonly converted: number;
}

const DEFAULT_QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99, 0.999];
const BUILT_INS: Readonly<Record<string, string>> = {
  error_rate: 'error_rate is built in: the exposition does not carry error counts',
  throughput:
    'throughput is built in (calls per second over every histogram and timer of the component): no single PromQL series',
  cpu_usage:
    'cpu_usage is built in (the component gauge, else the system component one): give its type to convert it as a gauge',
  memory_usage:
    'memory_usage is built in (the component gauge, else the system component one): give its type to convert it as a gauge',
};

class Skip extends Error {}

/**
 * A translated number-valued node: `expr` is PromQL; Prometheus' value is ours ×
 * 1000^`scale` (timers: −1, as they are exposed in seconds). A constant has no
 * expression yet: it is written at the scale of what it meets.
 */
type Translated =
  | { readonly constant: true; readonly value: number }
  | { readonly constant: false; readonly expr: string; readonly scale: number };

interface Context {
  readonly rule: AlertRule;
  readonly types: (name: string) => PrometheusRuleMetricType | undefined;
  readonly windowSeconds: number;
  readonly quantiles: readonly number[];
  readonly prefix: string;
}

/** A PromQL / Prometheus duration: `5m`, `1h30m`... (`500ms` below a second). */
function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds)) return `${Math.round(seconds * 1000)}ms`;
  if (seconds === 0) return '0s';
  let rest = seconds;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

function formatNumber(value: number): string {
  return String(value);
}

function scaled(value: number, scale: number): number {
  // Dividing by 1000 rather than multiplying by 0.001: 500 / 1000 is exactly 0.5.
  return scale < 0 ? value / 1000 ** -scale : value * 1000 ** scale;
}

/** A PromQL string literal (double-quoted, Go escapes). */
function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function metricName(ctx: Context, name: string, type: PrometheusRuleMetricType): string {
  const sanitized = sanitizeMetricName(ctx.prefix + name);
  switch (type) {
    case 'counter':
      return `${sanitized.length > 6 && sanitized.endsWith('_total') ? sanitized.slice(0, -6) : sanitized}_total`;
    case 'gauge':
    case 'histogram':
      return sanitized;
    case 'timer': {
      let stem = sanitized;
      for (const suffix of ['_milliseconds', '_seconds', '_ms']) {
        if (stem.length > suffix.length && stem.endsWith(suffix)) {
          stem = stem.slice(0, -suffix.length);
          break;
        }
      }
      return `${stem}_seconds`;
    }
  }
}

function selector(ctx: Context, series: string, extra = ''): string {
  return `${series}{component=${promString(ctx.rule.component)}${extra}}`;
}

function typeOf(ctx: Context, name: string): PrometheusRuleMetricType {
  const type = ctx.types(name);
  if (type !== undefined) return type;
  const builtIn = BUILT_INS[name];
  if (builtIn !== undefined) throw new Skip(builtIn);
  throw new Skip(
    `the type of metric ${name} is unknown: give it in options.metrics or options.snapshot`,
  );
}

function windowOf(ctx: Context, windowSeconds: number | undefined): string {
  return formatDuration(windowSeconds ?? ctx.rule.windowSeconds);
}

function leaf(expr: string, scale = 0): Translated {
  return { constant: false, expr, scale };
}

/** Mean of the window's samples: increase of `_sum` over increase of `_count`. */
function histogramMean(ctx: Context, base: string, w: string, scale: number): Translated {
  return leaf(
    `(sum by (component) (increase(${selector(ctx, `${base}_sum`)}[${w}])) / sum by (component) (increase(${selector(ctx, `${base}_count`)}[${w}])))`,
    scale,
  );
}

function translateNumber(ctx: Context, node: ConditionNode): Translated {
  switch (node.kind) {
    case 'number':
      return { constant: true, value: node.value };
    case 'negate': {
      const inner = translateNumber(ctx, node.operand);
      return inner.constant
        ? { constant: true, value: -inner.value }
        : leaf(`-(${inner.expr})`, inner.scale);
    }
    case 'arithmetic':
      return translateArithmetic(ctx, node.op, node.left, node.right);
    case 'signal': {
      const type = typeOf(ctx, node.name);
      const base = metricName(ctx, node.name, type);
      const w = windowOf(ctx, node.windowSeconds);
      switch (type) {
        case 'gauge':
          return leaf(`sum by (component) (${selector(ctx, base)})`);
        case 'counter':
          return leaf(`sum by (component) (increase(${selector(ctx, base)}[${w}]))`);
        case 'histogram':
          return histogramMean(ctx, base, w, 0);
        case 'timer':
          return histogramMean(ctx, base, w, -1);
      }
      break;
    }
    case 'call': {
      if (node.fn === 'anomaly') {
        throw new Skip(
          `anomaly(${node.name}): the score is the monitor's own (median/MAD over its minute history), with no PromQL form`,
        );
      }
      const type = typeOf(ctx, node.name);
      const base = metricName(ctx, node.name, type);
      const w = windowOf(ctx, node.windowSeconds);
      const fn = node.fn;
      const summary = type === 'histogram' || type === 'timer';
      const scale = type === 'timer' ? -1 : 0;
      if (fn === 'p50' || fn === 'p95' || fn === 'p99' || fn === 'quantile') {
        if (!summary)
          throw new Skip(`${fn}(${node.name}): ${node.name} is a ${type}, which has no quantiles`);
        const q = fn === 'quantile' ? node.quantile! : Number(fn.slice(1)) / 100;
        if (!ctx.quantiles.includes(q)) {
          throw new Skip(
            `quantile ${q} of ${node.name} is not exposed (the exposition carries ${ctx.quantiles.join(', ')})`,
          );
        }
        const seconds = node.windowSeconds ?? ctx.rule.windowSeconds;
        if (seconds !== ctx.windowSeconds) {
          throw new Skip(
            `quantile of ${node.name} over ${seconds}s: the exposition's quantiles are over ${ctx.windowSeconds}s`,
          );
        }
        const label = Number.isInteger(q) ? q.toFixed(1) : String(q);
        return leaf(
          `max by (component) (${selector(ctx, base, `,quantile=${promString(label)}`)})`,
          scale,
        );
      }
      switch (type) {
        case 'gauge':
          if (fn === 'rate')
            throw new Skip(`rate(${node.name}): ${node.name} is a gauge, which has no rate`);
          return leaf(`${fn} by (component) (${selector(ctx, base)})`);
        case 'counter':
          if (fn === 'rate') return leaf(`sum by (component) (rate(${selector(ctx, base)}[${w}]))`);
          if (fn === 'sum' || fn === 'count') {
            return leaf(`sum by (component) (increase(${selector(ctx, base)}[${w}]))`);
          }
          throw new Skip(`${fn}(${node.name}): ${node.name} is a counter, which has no ${fn}`);
        case 'histogram':
        case 'timer':
          switch (fn) {
            case 'rate':
              return leaf(`sum by (component) (rate(${selector(ctx, `${base}_count`)}[${w}]))`);
            case 'count':
              return leaf(`sum by (component) (increase(${selector(ctx, `${base}_count`)}[${w}]))`);
            case 'sum':
              return leaf(
                `sum by (component) (increase(${selector(ctx, `${base}_sum`)}[${w}]))`,
                scale,
              );
            case 'avg':
              return histogramMean(ctx, base, w, scale);
            case 'min':
            case 'max':
              throw new Skip(
                `${fn}(${node.name}): the exposition's summaries carry no ${fn === 'min' ? 'minimum' : 'maximum'}`,
              );
          }
      }
      break;
    }
    case 'boolean':
    case 'compare':
    case 'not':
    case 'logical':
      break;
  }
  throw new Skip(`unexpected ${node.kind} where a number belongs`);
}

/** Both sides at one scale: a constant takes the other's, else both go to 0. */
function align(a: Translated, b: Translated): [string, string, number] {
  if (a.constant && b.constant) throw new Skip('internal: two constants');
  if (a.constant && !b.constant) return [formatNumber(scaled(a.value, b.scale)), b.expr, b.scale];
  if (!a.constant && b.constant) return [a.expr, formatNumber(scaled(b.value, a.scale)), a.scale];
  const x = a as Extract<Translated, { constant: false }>;
  const y = b as Extract<Translated, { constant: false }>;
  if (x.scale === y.scale) return [x.expr, y.expr, x.scale];
  const rescale = (t: typeof x): string =>
    t.scale === 0 ? t.expr : `(${t.expr} * ${formatNumber(scaled(1, -t.scale))})`;
  return [rescale(x), rescale(y), 0];
}

function translateArithmetic(
  ctx: Context,
  op: '+' | '-' | '*' | '/',
  leftNode: ConditionNode,
  rightNode: ConditionNode,
): Translated {
  const left = translateNumber(ctx, leftNode);
  const right = translateNumber(ctx, rightNode);
  if (left.constant && right.constant) {
    const value =
      op === '+'
        ? left.value + right.value
        : op === '-'
          ? left.value - right.value
          : op === '*'
            ? left.value * right.value
            : left.value / right.value;
    if (!Number.isFinite(value))
      throw new Skip(
        'a constant part of the condition has no value (division by zero or overflow)',
      );
    return { constant: true, value };
  }
  if (op === '+' || op === '-') {
    const [l, r, scale] = align(left, right);
    return leaf(`(${l} ${op} ${r})`, scale);
  }
  // × and ÷: scales add and subtract; constants are taken as written.
  const l = left.constant ? formatNumber(left.value) : left.expr;
  const r = right.constant ? formatNumber(right.value) : right.expr;
  const ls = left.constant ? 0 : left.scale;
  const rs = right.constant ? 0 : right.scale;
  return leaf(`(${l} ${op} ${r})`, op === '*' ? ls + rs : ls - rs);
}

const NEGATED = { '>': '<=', '>=': '<', '<': '>=', '<=': '>', '==': '!=', '!=': '==' } as const;

/**
 * A boolean node as a PromQL filter: non-empty exactly when true. `not` is pushed
 * down (De Morgan, inverted comparisons), which keeps the three-valued logic: a
 * comparison without data is empty both ways, as `no_data` never fires.
 */
function translateBoolean(ctx: Context, node: ConditionNode, negated: boolean): string {
  switch (node.kind) {
    case 'not':
      return translateBoolean(ctx, node.operand, !negated);
    case 'logical': {
      const op = (node.op === 'and') !== negated ? 'and' : 'or';
      return `(${translateBoolean(ctx, node.left, negated)}) ${op} (${translateBoolean(ctx, node.right, negated)})`;
    }
    case 'compare': {
      const op = negated ? NEGATED[node.op] : node.op;
      const left = translateNumber(ctx, node.left);
      const right = translateNumber(ctx, node.right);
      if (left.constant && right.constant) {
        throw new Skip('a comparison of two constants has no series for Prometheus to alert on');
      }
      const [l, r] = align(left, right);
      return `${l} ${op} ${r}`;
    }
    case 'boolean':
      throw new Skip('true/false literals have no series for Prometheus to alert on');
    default:
      throw new Skip(`unexpected ${node.kind} where a comparison belongs`);
  }
}

/** A YAML double-quoted scalar: every string in the file is written so. */
function yamlString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\t') out += '\\t';
    else if (char === '\r') out += '\\r';
    else if (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0x2028 ||
      code === 0x2029 ||
      code === 0xfeff
    ) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += '\\ufffd'; // a lone surrogate: no UTF-8 for it
    } else out += char;
  }
  return `${out}"`;
}

/** Prometheus expands labels and annotations as Go templates: `{{` must stay text. */
function templateText(value: string): string {
  return value.replace(/\{\{/g, '{{ "{{" }}');
}

function comment(text: string): string {
  return text.replace(/[\r\n\u2028\u2029\u0085]+/g, ' ');
}

function typeResolver(
  options: PrometheusRulesOptions,
): (component: string) => (name: string) => PrometheusRuleMetricType | undefined {
  const byName = new Map<string, Map<string, Set<PrometheusRuleMetricType>>>();
  for (const series of options.snapshot?.series ?? []) {
    let components = byName.get(series.name);
    if (components === undefined)
      byName.set(series.name, (components = new Map<string, Set<PrometheusRuleMetricType>>()));
    let types = components.get(series.component);
    if (types === undefined)
      components.set(series.component, (types = new Set<PrometheusRuleMetricType>()));
    types.add(series.type);
  }
  return (component) => (name) => {
    const given = options.metrics?.[name];
    if (given !== undefined) return given;
    const components = byName.get(name);
    if (components === undefined) return undefined;
    const types =
      components.get(component) ?? new Set([...components.values()].flatMap((t) => [...t]));
    if (types.size > 1) {
      throw new Skip(
        `metric ${name} has several types (${[...types].sort().join(', ')}): give it in options.metrics`,
      );
    }
    return [...types][0];
  };
}

interface Converted {
  readonly rule: AlertRule;
  readonly expr: string;
}

/**
 * The alert rules (`monitor.alerts.list()`) as a Prometheus alerting-rules file over
 * the series of our exposition (see `toPrometheusText`): one group per component,
 * named `prsm-<component>`, each rule with `alert`, `expr`, `for` (from
 * `durationSeconds`), `keep_firing_for` (Prometheus ≥ 2.42), `labels` (the rule's
 * and `severity`) and `annotations` (the rule's, `description`, `condition`,
 * `threshold`). Rules without a faithful PromQL form are left out and listed in
 * `skipped`, with the reason, and as comments in the file.
 *
 * - Gauges: bare, `sum`, `avg`, `min`, `max`, `count` → that aggregation `by
 *   (component)` of `<name>{component="c"}`.
 * - Counters: bare, `sum`, `count` → `sum by (component) (increase(<name>_total[w]))`;
 *   `rate` → `rate(...)`.
 * - Histograms and timers (summaries): `p50`/`p95`/`p99`/`quantile(q, m)` →
 *   `max by (component) (<name>{quantile="q"})` when q is exposed and the window is
 *   the exposition's (the largest per tag set: an upper bound of the quantile over all
 *   of them, which the monitor computes); `count`, `rate`, `sum` from `_count` and
 *   `_sum`; bare and `avg` → their increases' ratio; `min`/`max` are skipped.
 * - Timers are seconds in Prometheus: durations compared with them are converted
 *   (`p99(api.latency) > 500ms` → `... > 0.5`).
 * - `error_rate` and `throughput` are skipped (no such series); `cpu_usage` and
 *   `memory_usage` are converted only when typed as gauges (the component's own).
 * - `not` is pushed down to the comparisons (`not a > 1` → `a <= 1`), `and`/`or` are
 *   PromQL's: missing data never fires, as in the monitor.
 * - A metric of unknown type (not in `options.metrics` nor `options.snapshot`) skips
 *   the rule.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { toPrometheusRules } from '@prsm/exporters/prometheus';
 *
 * const { yaml, skipped } = toPrometheusRules(monitor.alerts.list(), {
 *   snapshot: monitor.snapshot(),
 * });
 * writeFileSync('prsm-rules.yml', yaml); // then: promtool check rules prsm-rules.yml
 * for (const s of skipped) console.warn(`not exported: ${s.name}: ${s.reason}`);
 * ```
 */
export function toPrometheusRules(
  rules: readonly AlertRule[],
  options: PrometheusRulesOptions = {},
): PrometheusRulesResult {
  const windowSeconds = options.windowSeconds ?? options.snapshot?.windows[0] ?? 60;
  const quantiles = options.quantiles ?? DEFAULT_QUANTILES;
  const groupPrefix = options.groupPrefix ?? 'prsm-';
  const resolver = typeResolver(options);
  const skipped: SkippedPrometheusRule[] = [];
  const groups = new Map<string, Converted[]>();

  for (const rule of rules) {
    try {
      const ctx: Context = {
        rule,
        types: resolver(rule.component),
        windowSeconds,
        quantiles,
        prefix: options.prefix ?? '',
      };
      let ast: ConditionNode;
      try {
        ast = parseCondition(rule.condition).ast;
      } catch (error) {
        throw new Skip(`the condition does not parse: ${(error as Error).message}`);
      }
      const expr = translateBoolean(ctx, ast, false);
      let group = groups.get(rule.component);
      if (group === undefined) groups.set(rule.component, (group = []));
      group.push({ rule, expr });
    } catch (error) {
      if (!(error instanceof Skip)) throw error;
      skipped.push({ ruleId: rule.id, name: rule.name, reason: error.message });
    }
  }

  const lines: string[] = [
    '# Prometheus alerting rules generated by @prsm/exporters from PRSM Monitor alert rules.',
  ];
  for (const s of skipped)
    lines.push(`# skipped ${comment(s.name)} (${comment(s.ruleId)}): ${comment(s.reason)}`);
  if (groups.size === 0) {
    lines.push('groups: []');
  } else {
    lines.push('groups:');
    for (const [component, converted] of groups) {
      lines.push(`  - name: ${yamlString(groupPrefix + component)}`, '    rules:');
      for (const { rule, expr } of converted) writeRule(lines, rule, expr);
    }
  }
  let count = 0;
  for (const group of groups.values()) count += group.length;
  return { yaml: `${lines.join('\n')}\n`, skipped, converted: count };
}

function writeMap(lines: string[], key: string, entries: ReadonlyMap<string, string>): void {
  if (entries.size === 0) return;
  lines.push(`        ${key}:`);
  for (const [name, value] of entries) {
    lines.push(`          ${yamlString(name)}: ${yamlString(templateText(value))}`);
  }
}

function writeRule(lines: string[], rule: AlertRule, expr: string): void {
  lines.push(`      - alert: ${yamlString(rule.name)}`, `        expr: ${yamlString(expr)}`);
  if (rule.durationSeconds > 0)
    lines.push(`        for: ${yamlString(formatDuration(rule.durationSeconds))}`);
  if (rule.keepFiringForSeconds > 0) {
    lines.push(`        keep_firing_for: ${yamlString(formatDuration(rule.keepFiringForSeconds))}`);
  }
  const labels = new Map<string, string>();
  for (const [name, value] of Object.entries(rule.labels)) {
    const label = sanitizeLabelName(name);
    // alertname and component come from the rule itself; empty means unset.
    if (label === 'alertname' || label === 'component' || label === 'severity' || value === '')
      continue;
    if (!labels.has(label)) labels.set(label, value);
  }
  labels.set('severity', rule.severity);
  writeMap(lines, 'labels', labels);
  const annotations = new Map<string, string>();
  for (const [name, value] of Object.entries(rule.annotations)) {
    const key = sanitizeLabelName(name);
    if (!annotations.has(key)) annotations.set(key, value);
  }
  if (rule.description !== '') annotations.set('description', rule.description);
  annotations.set('condition', rule.condition);
  if (rule.threshold !== undefined) annotations.set('threshold', String(rule.threshold));
  writeMap(lines, 'annotations', annotations);
}
