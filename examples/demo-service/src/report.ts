/**
 * The demo's report, read back from the monitoring server through its REST API
 * (`/api/v1/monitoring/...`), never from the service's own monitor: health,
 * analytics, the business dashboard, the alerts, one trace as a waterfall, and the
 * URLs to look at. A route the server does not answer is said so in one line.
 */
import type { StoredSpan } from '@prsm/core';
import type { ApiClient, ApiResponse } from './backend.js';

type Json = Record<string, unknown>;

const num = (value: unknown, digits = 2): string =>
  typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : String(value);

const pct = (value: unknown): string =>
  typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(2)}%` : 'n/a';

function unavailable(route: string, r: ApiResponse<unknown>): void {
  const error = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  console.log(
    `GET ${route}: HTTP ${r.status}${error === undefined ? '' : ` (${error.code}: ${error.message})`}; this server does not answer it`,
  );
}

/** `GET /health`: the score, the system, recent performance, alerts and status. */
export async function printHealth(client: ApiClient): Promise<void> {
  console.log('\n--- Health (GET /api/v1/monitoring/health) ---\n');
  const r = await client.get<Json>('/health');
  if (r.status !== 200) return unavailable('/health', r);
  const h = r.body;
  console.log(`overall health score: ${num(h['overall_health_score'], 1)} / 100`);
  const system = (h['system_metrics'] ?? {}) as Json;
  const network = (system['network_io'] ?? {}) as Json;
  console.log(
    `system: cpu ${num(system['cpu_usage'], 1)}%, memory ${num(system['memory_usage'], 1)}%, disk ${num(system['disk_usage'], 1)}%, ` +
      `network ${num(network['bytes_sent'], 0)} B sent / ${num(network['bytes_recv'], 0)} B received`,
  );
  const recent = (h['recent_performance'] ?? {}) as Json;
  console.log(
    `recent: ${num(recent['total_metrics'], 0)} measurements (${num(recent['metrics_per_minute'], 0)}/min), ` +
      `${num(recent['error_count'], 0)} errors, mean ${num(recent['performance_average'])} ms`,
  );
  const alerts = (h['active_alerts'] ?? []) as Json[];
  console.log(
    `active alerts: ${alerts.length === 0 ? 'none' : alerts.map((a) => `${String(a['name'])} [${String(a['severity'])}, ${String(a['component'])}]`).join('; ')}`,
  );
  const status = (h['monitoring_status'] ?? {}) as Json;
  console.log(
    `monitoring status: ${num(status['metrics_collected'], 0)} metrics collected, ${num(status['active_traces'], 0)} traces, ${num(status['configured_alerts'], 0)} alert rules`,
  );
}

/** `GET /analytics?component=`: summary, bottlenecks, recommendations, top operations. */
export async function printAnalytics(
  client: ApiClient,
  components: readonly string[],
): Promise<void> {
  console.log('\n--- Analytics (GET /api/v1/monitoring/analytics) ---');
  for (const component of components) {
    const route = `/analytics?component=${component}`;
    console.log(`\n${component}:`);
    const r = await client.get<Json>(route);
    if (r.status !== 200) {
      unavailable(route, r);
      continue;
    }
    const a = r.body;
    const s = (a['summary'] ?? {}) as Json;
    console.log(
      `summary: ${num(s['total_requests'], 0)} requests, average ${num(s['average_response_time'])} ms, ` +
        `error rate ${pct(s['error_rate'])}, ${num(s['throughput_per_minute'], 1)}/min`,
    );
    const trends = (a['trends'] ?? {}) as Json;
    console.log(
      `trends: response time ${String(trends['response_time_trend'])}, error rate ${String(trends['error_rate_trend'])}`,
    );
    const bottlenecks = (a['bottlenecks'] ?? []) as string[];
    console.log(`bottlenecks: ${bottlenecks.length === 0 ? 'none' : bottlenecks.join(', ')}`);
    for (const recommendation of (a['recommendations'] ?? []) as string[]) {
      console.log(`recommendation: ${recommendation}`);
    }
    const top = (a['top_operations'] ?? []) as Json[];
    if (top.length > 0) {
      console.table(
        top.map((o) => ({
          operation: o['operation'],
          'avg ms': num(o['avg_duration_ms']),
          requests: o['request_count'],
        })),
      );
    }
  }
}

/** `GET /business-dashboard` with the enterprise key: KPIs, targets and the groups. */
export async function printBusiness(client: ApiClient): Promise<void> {
  console.log('\n--- Business dashboard (GET /api/v1/monitoring/business-dashboard) ---\n');
  const r = await client.get<Json>('/business-dashboard');
  if (r.status !== 200) return unavailable('/business-dashboard', r);
  const d = r.body;
  const kpis = (d['kpis'] ?? {}) as Record<string, number>;
  const trends = (d['trends'] ?? {}) as Record<string, string>;
  console.log(
    `KPIs: ${Object.entries(kpis)
      .map(
        ([name, value]) =>
          `${name} ${num(value)}${trends[name] === undefined ? '' : ` (${trends[name]})`}`,
      )
      .join(', ')}`,
  );
  const targets = (d['targets'] ?? {}) as Record<string, Json>;
  for (const [name, t] of Object.entries(targets)) {
    console.log(
      `target ${name}: ${String(t['current'])} of ${String(t['target'])} (achievement ${String(t['achievement'])})`,
    );
  }
  for (const group of ['user_metrics', 'revenue_metrics', 'growth_metrics', 'quality_metrics']) {
    const values = d[group];
    if (values !== undefined && Object.keys(values as Json).length > 0) {
      console.log(`${group.replace('_', ' ')}: ${JSON.stringify(values)}`);
    }
  }
}

interface RuleRow {
  readonly alert_id: string;
  readonly name: string;
  readonly severity: string;
  readonly component: string;
  readonly condition: string;
  readonly state?: string;
  readonly acknowledged_by: string | null;
}

interface ActiveRow {
  readonly name: string;
  readonly state: string;
  readonly active_at: string;
  readonly triggered_at: string | null;
  readonly value: number | null;
  readonly acknowledged_by: string | null;
}

interface HistoryRow {
  readonly rule_id: string;
  readonly event: string;
  readonly by: string | null;
}

/** `GET /alerts`: the server-side rules' states, the active alerts and the rule's history. */
export async function printServerAlerts(client: ApiClient, ruleId: string): Promise<void> {
  console.log('\n--- Alerts (GET /api/v1/monitoring/alerts) ---\n');
  const r = await client.get<{
    alerts?: RuleRow[];
    active_alerts?: ActiveRow[];
    history?: HistoryRow[];
  }>('/alerts');
  if (r.status !== 200) return unavailable('/alerts', r);
  const by = (who: string | null): string => (who === null ? '' : `, acknowledged by ${who}`);
  for (const rule of r.body.alerts ?? []) {
    console.log(
      `rule ${rule.alert_id} "${rule.name}" (${rule.severity}, component ${rule.component}): ${rule.condition} -> ${rule.state ?? 'unknown'}${by(rule.acknowledged_by)}`,
    );
  }
  for (const a of r.body.active_alerts ?? []) {
    console.log(
      `active: ${a.name} ${a.state} since ${a.triggered_at ?? a.active_at}, value ${pct(a.value)}${by(a.acknowledged_by)}`,
    );
  }
  const history = (r.body.history ?? []).filter((e) => e.rule_id === ruleId).reverse();
  if (history.length > 0) {
    console.log(
      `history: ${history.map((e) => `${e.event}${e.by === null ? '' : ` by ${e.by}`}`).join(' -> ')}`,
    );
  }
}

interface TraceSpan {
  readonly name: string;
  readonly duration_ms: number;
  readonly status: string;
  readonly metadata?: Json;
}

/** Where each span of a trace starts (ms after the root) and how deep it nests. */
export interface SpanLayout {
  readonly offsetMs: number;
  readonly depth: number;
}

/**
 * The layout of a trace's spans from the service's own copy of it (`monitor.traces`),
 * in the trace object's order (start order, the root left out): the spec's trace
 * object carries each span's duration, not its start or parent.
 */
export function layoutOf(
  spans: readonly StoredSpan[] | undefined,
): { readonly names: readonly string[]; readonly layout: readonly SpanLayout[] } | undefined {
  if (spans === undefined || spans.length === 0) return undefined;
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depthOf = (s: StoredSpan): number => {
    let d = 0;
    for (
      let p = byId.get(s.parentSpanId ?? '');
      p !== undefined && d < 64;
      p = byId.get(p.parentSpanId ?? '')
    )
      d++;
    return d;
  };
  const ordered = [...spans].sort((a, b) => a.startMs - b.startMs || depthOf(a) - depthOf(b));
  const root = ordered.find((s) => depthOf(s) === 0)!;
  const rest = ordered.filter((s) => s !== root);
  return {
    names: rest.map((s) => s.name),
    layout: rest.map((s) => ({ offsetMs: s.startMs - root.startMs, depth: depthOf(s) })),
  };
}

function attributes(metadata: Json | undefined): string {
  if (metadata === undefined) return '';
  const shown = Object.entries(metadata)
    .filter(([key]) => !key.startsWith('code.') && !key.startsWith('prsm.'))
    .slice(0, 4)
    .map(([key, value]) => `${key}=${String(value)}`);
  return shown.length === 0 ? '' : `  ${shown.join(' ')}`;
}

/**
 * `GET /traces/{id}` drawn as a waterfall: one bar per span, to the root's scale,
 * placed and indented by `local` (the service's copy of the same trace) when its
 * spans are the server's.
 */
export async function printTrace(
  client: ApiClient,
  traceId: string,
  why: string,
  local: ReturnType<typeof layoutOf>,
): Promise<void> {
  console.log(`\n--- Trace (GET /api/v1/monitoring/traces/${traceId}) ---\n`);
  console.log(why);
  const r = await client.get<Json>(`/traces/${traceId}`);
  if (r.status !== 200) return unavailable(`/traces/${traceId}`, r);
  const t = r.body;
  const total = Number(t['total_duration_ms']);
  const spans = (t['spans'] ?? []) as TraceSpan[];
  const placed =
    local !== undefined &&
    local.names.length === spans.length &&
    local.names.every((name, i) => name === spans[i]!.name)
      ? local.layout
      : undefined;
  console.log(
    `${String(t['operation'])} (component ${String(t['component'])}): ${num(total, 1)} ms, ${t['success'] === true ? 'success' : 'failed'}, at ${String(t['timestamp'])}\n`,
  );
  const width = 40;
  const label = (name: string, depth: number): string => `${'  '.repeat(depth)}${name}`;
  const nameWidth = Math.max(
    10,
    String(t['operation']).length,
    ...spans.map((s, i) => label(s.name, placed?.[i]?.depth ?? 1).length),
  );
  const bar = (start: number, duration: number): string => {
    const from = Math.max(0, Math.min(width - 1, Math.floor((start / total) * width)));
    const length = Math.min(width - from, Math.max(1, Math.round((duration / total) * width)));
    return `|${' '.repeat(from)}${'█'.repeat(length)}${' '.repeat(width - from - length)}|`;
  };
  const row = (name: string, ms: number, start: number, status: string, meta: string): string =>
    `${name.padEnd(nameWidth)} ${num(ms, 1).padStart(7)} ms ${bar(start, ms)} ${status}${meta}`;
  console.log(row(String(t['operation']), total, 0, t['success'] === true ? 'ok' : 'error', ''));
  spans.forEach((s, i) => {
    const at = placed?.[i];
    console.log(
      row(
        label(s.name, at?.depth ?? 1),
        s.duration_ms,
        at?.offsetMs ?? 0,
        s.status === 'success' ? 'ok' : 'error',
        attributes(s.metadata),
      ),
    );
  });
  console.log(
    placed === undefined
      ? '(spans in start order; the trace object has durations, not start times: bars start at 0)'
      : "(names, durations, statuses and attributes from the server; starts and nesting from the service's own copy of the trace: the spec's trace object has no start times)",
  );
}

/** The URLs to look at, with the login key. */
export function printLinks(
  url: string,
  api: string,
  loginKey: { id: string; key: string },
  staying: boolean,
  dashboardKey?: { id: string; key: string },
): void {
  console.log('\n--- Look around ---\n');
  console.log(
    dashboardKey === undefined
      ? `dashboard:  ${url}/  (log in with the key below)`
      : `dashboard:  ${url}/  (log in with the one-time key below: it works once, the page keeps a session)`,
  );
  console.log(`API:        ${api}  (Authorization: Bearer <key>)`);
  console.log(`Prometheus: ${api}/metrics`);
  console.log(`OpenAPI:    ${api}/openapi.json`);
  if (dashboardKey !== undefined) {
    console.log(
      `one-time login key (${dashboardKey.id}, role enterprise, spent by the first login):`,
    );
    console.log(`  ${dashboardKey.key}`);
  }
  console.log(
    `login key (${loginKey.id}, role enterprise: read + business dashboard, made for this run):`,
  );
  console.log(`  ${loginKey.key}`);
  console.log(`  curl -H 'Authorization: Bearer ${loginKey.key}' ${api}/business-dashboard`);
  console.log(
    staying
      ? '\nThe server stays up for you to look: press Ctrl-C to stop it and remove its files.'
      : '\nThe server stops now and its files are removed (PRSM_DEMO_STAY=1 keeps it up until Ctrl-C).',
  );
}
