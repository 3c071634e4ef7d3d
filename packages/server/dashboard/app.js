/* global document, performance, setTimeout, clearTimeout, Node, history, location, window */
// The PRSM Monitor dashboard: plain ES modules, no framework. Every panel polls its
// endpoint of the REST API every POLL_MS while the tab is visible and redraws in place;
// a panel whose endpoint fails shows why and the others carry on. The service selector
// scopes every panel with a service dimension (health, the component charts, top
// operations, analytics) to one service or the whole fleet; it is kept in the page's
// state and in the URL's hash (`#service=<name>`, never the key).
import { api, ApiError, clearSession, explain, getSession, login } from './api.js';
import { lineChart } from './charts.js';

/** How often the panels refresh (ms). Documented in the page footer and the README. */
export const POLL_MS = 10_000;

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
const $ = (sel, root = document) => root.querySelector(sel);

/** An element: h('li', { class: 'x', dataset: { value: 1 } }, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function num(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function bytes(v) {
  if (!Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${num(v, 1)} ${units[i]}`;
}

function time(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '–' : d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

function label(key) {
  return key.replace(/[_.]+/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function setMsg(section, text, attr = 'data-msg') {
  const el = section.querySelector(`[${attr}]`);
  if (el === null) return;
  el.textContent = text ?? '';
  el.classList.toggle('shown', Boolean(text));
}

/** How many components the analytics table reads (the busiest of the window). */
const MAX_ANALYTICS = 6;

/**
 * What the series and analytics show (service and window): an answer to a request made
 * for another scope is dropped (the selection changed while it was on its way).
 */
function scopeKey() {
  return `${state.service}\u0000${state.window}`;
}

/** `?service=` (or `&service=`) of the selected service; '' for the fleet. */
function svc(sep) {
  return state.service === '' ? '' : `${sep}service=${encodeURIComponent(state.service)}`;
}

function quoted(name) {
  return `\u201c${name}\u201d`;
}

/** True when `error` is the API's 404 for a service that never sent a batch. */
function unknownService(error) {
  return error instanceof ApiError && error.status === 404 && error.field === 'service';
}

const NO_SERVICE = (name) =>
  `Service ${quoted(name)} has sent no data (no process of it sent a batch).`;

const state = {
  window: '1h',
  /** The selected service; '' is the whole fleet. */
  service: '',
  /** The services `GET /health` of the fleet lists (JSON, to redraw only on change). */
  servicesKey: '',
  timer: 0,
  running: false,
  firstPaint: false,
  charts: new Map(),
};

// ---- panels --------------------------------------------------------------------

/** Fills the service selector from the fleet's `services` (keeps the selection). */
function showServices(services) {
  const names = [...new Set(services.map((s) => s.service).filter((n) => n !== ''))].sort();
  const stale = new Set(services.filter((s) => s.stale).map((s) => s.service));
  const key = JSON.stringify([names, [...stale].sort(), state.service]);
  if (key === state.servicesKey) return;
  state.servicesKey = key;
  const select = $('#service');
  const options = [h('option', { value: '' }, 'All services (fleet)')];
  for (const name of names) {
    options.push(
      h('option', { value: name }, stale.has(name) ? `${name} (stopped sending)` : name),
    );
  }
  if (state.service !== '' && !names.includes(state.service)) {
    options.push(h('option', { value: state.service }, `${state.service} (no data)`));
  }
  select.replaceChildren(...options);
  select.value = state.service;
  select.dataset.count = String(names.length);
}

function clearHealth() {
  const out = $('#health-score');
  out.textContent = '–';
  out.className = '';
  delete out.dataset.value;
  $('#gauges').replaceChildren();
}

async function loadHealth() {
  const section = $('#health');
  const service = state.service;
  try {
    // The selector's list comes from the fleet's answer: of one service, read both.
    const [body, fleet] = await Promise.all([
      api('/health' + svc('?')).catch((error) => {
        if (unknownService(error)) return null;
        throw error;
      }),
      state.service === '' ? null : api('/health').catch(() => null),
    ]);
    if (service !== state.service) return;
    const list = (fleet ?? body)?.services;
    if (Array.isArray(list)) showServices(list);
    else showServices([]);
    section.dataset.service = state.service;
    if (body === null) {
      clearHealth();
      setMsg(section, NO_SERVICE(state.service));
      return;
    }
    setMsg(section, '');
    const score = body.overall_health_score;
    const out = $('#health-score');
    out.textContent = num(score, 1);
    out.dataset.value = String(score);
    out.className = score >= 80 ? 'good' : score >= 50 ? 'warn' : 'bad';
    const m = body.system_metrics ?? {};
    const gauges = $('#gauges');
    gauges.replaceChildren();
    for (const [key, name] of [
      ['cpu_usage', 'CPU'],
      ['memory_usage', 'Memory'],
      ['disk_usage', 'Disk'],
    ]) {
      const v = m[key];
      const id = `gauge-${key}`;
      gauges.append(
        h(
          'div',
          { class: 'gauge' },
          h('dt', { id: `${id}-label` }, name),
          h(
            'dd',
            {},
            h('meter', {
              min: 0,
              max: 100,
              low: 70,
              high: 90,
              optimum: 0,
              value: Number.isFinite(v) ? v : 0,
              'aria-labelledby': `${id}-label`,
            }),
            h(
              'span',
              { class: 'gauge-value', id, dataset: { value: String(v) } },
              `${num(v, 1)}\u00a0%`,
            ),
          ),
        ),
      );
    }
    const io = m.network_io ?? {};
    gauges.append(
      h(
        'div',
        { class: 'gauge' },
        h('dt', {}, 'Network'),
        h(
          'dd',
          {
            id: 'gauge-network',
            dataset: { sent: String(io.bytes_sent), recv: String(io.bytes_recv) },
          },
          `↑ ${bytes(io.bytes_sent)} ↓ ${bytes(io.bytes_recv)}`,
        ),
      ),
    );
    if (!state.firstPaint) {
      state.firstPaint = true;
      performance.mark('prsm:health-painted');
    }
  } catch (error) {
    if (handleAuth(error)) return;
    setMsg(section, explain(error, 'Health'));
  }
}

async function loadAlerts() {
  const section = $('#alerts');
  try {
    const body = await api('/alerts');
    setMsg(section, '');
    const active = [...(body.active_alerts ?? [])].sort(
      (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity),
    );
    const counts = $('#severity-counts');
    counts.replaceChildren(
      ...SEVERITIES.map((s) => {
        const n = active.filter((a) => a.severity === s).length;
        return h(
          'li',
          { class: `sev sev-${s}`, dataset: { severity: s, count: String(n) } },
          `${label(s)}: ${n}`,
        );
      }),
    );
    const list = $('#alert-list');
    if (active.length === 0) {
      list.replaceChildren(h('li', { class: 'empty' }, 'No active alerts.'));
      return;
    }
    list.replaceChildren(
      ...active.map((a) => {
        const acked = a.acknowledged_at !== null && a.acknowledged_at !== undefined;
        const status = h(
          'span',
          { class: 'ack-state' },
          acked ? `Acknowledged by ${a.acknowledged_by}` : '',
        );
        const button = acked
          ? null
          : h(
              'button',
              {
                type: 'button',
                'aria-label': `Acknowledge ${a.name}`,
                onclick: async (event) => {
                  const b = event.currentTarget;
                  b.disabled = true;
                  try {
                    await api(`/alerts/${encodeURIComponent(a.rule_id)}/acknowledge`, {
                      method: 'POST',
                      headers: { 'content-type': 'application/json' },
                      body: '{}',
                    });
                    status.textContent = 'Acknowledged';
                    await loadAlerts();
                  } catch (error) {
                    b.disabled = false;
                    status.textContent = explain(error, 'Acknowledge');
                  }
                },
              },
              'Acknowledge',
            );
        return h(
          'li',
          {
            class: `alert sev-${a.severity}`,
            dataset: { alertId: a.alert_id, ruleId: a.rule_id, severity: a.severity },
          },
          h('span', { class: 'badge' }, a.severity),
          h('span', { class: 'alert-name' }, a.name),
          h(
            'span',
            { class: 'alert-meta' },
            `${a.component} · ${a.state} since ${time(a.triggered_at ?? a.active_at)}`,
            a.value === null || a.value === undefined ? '' : ` · value ${num(a.value, 4)}`,
          ),
          button,
          status,
        );
      }),
    );
  } catch (error) {
    if (handleAuth(error)) return;
    setMsg(section, explain(error, 'Alerts'));
  }
}

function pct(values) {
  return values.map((v) => (v === null ? null : v * 100));
}

function componentCard(c) {
  let entry = state.charts.get(c.component);
  if (entry === undefined) {
    const id = `comp-${c.component.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
    const summary = h('p', { class: 'summary' });
    const lat = h('div', {
      class: 'chart linked',
      role: 'img',
      'aria-label': `${c.component} latency p50, p95 and p99 in milliseconds; click a minute to open the trace of its slowest exemplar`,
    });
    const thr = h('div', {
      class: 'chart',
      role: 'img',
      'aria-label': `${c.component} throughput per minute and error rate`,
    });
    const card = h(
      'article',
      { class: 'component', id, 'aria-labelledby': `${id}-t`, dataset: { component: c.component } },
      h('h3', { id: `${id}-t` }, c.component),
      summary,
      lat,
      thr,
    );
    $('#components').append(card);
    entry = {
      card,
      summary,
      exemplars: [],
      latency: lineChart(lat, {
        onPoint: (i) => {
          const ex = entry.exemplars[i];
          if (ex) void openTrace(ex.trace_id);
        },
        series: [
          { label: 'p50', unit: ' ms' },
          { label: 'p95', unit: ' ms' },
          { label: 'p99', unit: ' ms' },
        ],
        axes: [{ scale: 'ms', format: (v) => `${+v.toFixed(1)} ms` }],
      }),
      throughput: lineChart(thr, {
        series: [
          { label: 'calls/min', scale: 'n' },
          { label: 'errors %', scale: '%', unit: ' %' },
        ],
        axes: [{ scale: 'n' }, { scale: '%', format: (v) => `${+v.toFixed(1)}%` }],
      }),
    };
    state.charts.set(c.component, entry);
  }
  const last = (xs) => [...xs].reverse().find((v) => v !== null) ?? null;
  entry.summary.replaceChildren(
    h('span', { dataset: { calls: String(c.calls) } }, `${num(c.calls, 0)} calls`),
    ' · ',
    h('span', { dataset: { errors: String(c.errors) } }, `${num(c.errors, 0)} errors`),
    ' · ',
    h('span', { dataset: { p99: String(last(c.p99)) } }, `latest p99 ${num(last(c.p99))} ms`),
    ...exemplarLink(slowest(c.exemplars ?? []), 'slowest exemplar'),
  );
  entry.exemplars = c.exemplars ?? [];
  entry.latency.update(c.t, c.p50, c.p95, c.p99);
  entry.throughput.update(c.t, c.throughput, pct(c.error_rate));
  return c.component;
}

let resourceChart;

/** The slowest of a component's per-step exemplars, or null. */
function slowest(exemplars) {
  let best = null;
  for (const e of exemplars) if (e && (best === null || e.value > best.value)) best = e;
  return best;
}

/** A button opening the trace of an exemplar (` · label: 12 ms`), or nothing. */
function exemplarLink(e, text) {
  if (!e) return [];
  return [
    ' · ',
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        dataset: { exemplar: e.trace_id },
        title: `trace ${e.trace_id}`,
        onclick: () => openTrace(e.trace_id),
      },
      `${text} ${num(e.value)} ms`,
    ),
  ];
}

/** The components of the window, busiest first: what the analytics table reads; null on error. */
async function loadSeries() {
  const perf = $('#performance');
  const ops = $('#operations');
  const scope = scopeKey();
  try {
    const body = await api(`/dashboard/series?window=${state.window}${svc('&')}`);
    if (scope !== scopeKey()) return null;
    perf.dataset.service = state.service;
    ops.dataset.service = state.service;
    setMsg(
      perf,
      body.components.length === 0
        ? state.service === ''
          ? 'No latency data in this window.'
          : `No latency data from service ${quoted(state.service)} in this window.`
        : '',
    );
    setMsg(ops, '');
    const seen = new Set(body.components.map(componentCard));
    for (const [name, entry] of state.charts) {
      if (seen.has(name)) continue;
      entry.latency.destroy();
      entry.throughput.destroy();
      entry.card.remove();
      state.charts.delete(name);
    }
    const r = body.resources;
    resourceChart ??= lineChart($('#resource-chart'), {
      series: [
        { label: 'CPU %', unit: ' %' },
        { label: 'Memory %', unit: ' %' },
        { label: 'Disk %', unit: ' %' },
        { label: 'Net sent B/s', scale: 'B' },
        { label: 'Net recv B/s', scale: 'B' },
      ],
      axes: [
        { scale: '%', range: [0, 100], format: (v) => `${v}%`, size: 48 },
        { scale: 'B', format: (v) => `${bytes(v)}/s`, size: 88 },
      ],
      height: 160,
    });
    resourceChart.update(
      r.t,
      pct(r.cpu_usage),
      pct(r.memory_usage),
      pct(r.disk_usage),
      r.network_sent,
      r.network_recv,
    );

    const tbody = $('#ops-table tbody');
    tbody.replaceChildren(
      ...body.top_operations.map((o) =>
        h(
          'tr',
          { dataset: { operation: o.operation, component: o.component } },
          h('th', { scope: 'row' }, o.operation),
          h('td', {}, o.component),
          h('td', { class: 'num', dataset: { value: String(o.calls) } }, num(o.calls, 0)),
          h('td', { class: 'num', dataset: { value: String(o.avg_ms) } }, num(o.avg_ms)),
          h('td', { class: 'num', dataset: { value: String(o.p99_ms) } }, num(o.p99_ms)),
          h(
            'td',
            {},
            o.trace_id === null && !o.exemplar ? '–' : null,
            o.trace_id === null
              ? null
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'link',
                    dataset: { trace: o.trace_id },
                    onclick: () => openTrace(o.trace_id),
                  },
                  `${num(o.trace_duration_ms)} ms`,
                ),
            ...exemplarLink(o.exemplar, 'exemplar'),
          ),
        ),
      ),
    );
    if (body.top_operations.length === 0) {
      tbody.append(
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: 6, class: 'empty' },
            state.service === ''
              ? 'No operations in this window.'
              : `No operations of service ${quoted(state.service)} in this window.`,
          ),
        ),
      );
    }
    $('#slow-traces').replaceChildren(
      ...body.slow_traces.map((t) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'link',
              dataset: { trace: t.trace_id },
              onclick: () => openTrace(t.trace_id),
            },
            t.name,
          ),
          ` ${t.component ?? ''} · ${num(t.duration_ms)} ms · ${t.status}`,
        ),
      ),
    );
    const exemplars = body.exemplars ?? [];
    $('#exemplars').replaceChildren(
      ...exemplars.map((e) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'link',
              dataset: { exemplar: e.trace_id, operation: e.operation },
              onclick: () => openTrace(e.trace_id),
            },
            e.operation,
          ),
          ` ${e.component} · ${num(e.value)} ms · ${time(e.timestamp)}${e.trace_stored ? '' : ' · trace not stored'}`,
        ),
      ),
    );
    if (exemplars.length === 0) {
      $('#exemplars').append(h('li', { class: 'empty' }, 'No exemplars in this window.'));
    }
    performance.mark('prsm:series-painted');
    return [...body.components]
      .sort((a, b) => b.calls - a.calls)
      .slice(0, MAX_ANALYTICS)
      .map((c) => c.component);
  } catch (error) {
    if (scope !== scopeKey() || handleAuth(error)) return null;
    setMsg(perf, explain(error, 'Series'));
    setMsg(ops, explain(error, 'Operations'));
    return null;
  }
}

function describe(item) {
  if (typeof item === 'string') return item;
  if (item === null || typeof item !== 'object') return String(item);
  return (
    item.summary ??
    item.description ??
    item.message ??
    item.recommendation ??
    item.name ??
    item.operation ??
    JSON.stringify(item)
  );
}

function rate(v) {
  return Number.isFinite(v) ? `${num(v * 100, 2)}\u00a0%` : '–';
}

/**
 * `GET /analytics` of each component the series showed (of the selected service, or
 * the fleet): the table of requests, error rate and percentiles, and the bottlenecks
 * and recommendations of them all. `components` null: the series failed.
 */
async function loadAnalytics(components) {
  const section = $('#operations');
  const scope = scopeKey();
  const tbody = $('#analytics-table tbody');
  const list = (sel, items) =>
    $(sel).replaceChildren(
      ...(items.length === 0
        ? [h('li', { class: 'empty' }, 'None found.')]
        : items.map((i) => h('li', {}, i))),
    );
  if (components === null) return;
  if (components.length === 0) {
    section.dataset.analyticsService = state.service;
    setMsg(section, '', 'data-msg-analytics');
    tbody.replaceChildren(
      h(
        'tr',
        {},
        h(
          'td',
          { colspan: 6, class: 'empty' },
          state.service === ''
            ? 'No component has data in this window.'
            : `No component of service ${quoted(state.service)} has data in this window.`,
        ),
      ),
    );
    list('#bottlenecks', []);
    list('#recommendations', []);
    return;
  }
  const answers = await Promise.all(
    components.map((c) =>
      api(`/analytics?window=${state.window}&component=${encodeURIComponent(c)}${svc('&')}`).then(
        (body) => ({ component: c, body }),
        (error) => ({ component: c, error }),
      ),
    ),
  );
  if (scope !== scopeKey()) return;
  const failed = answers.filter((a) => a.error !== undefined);
  for (const a of failed) if (handleAuth(a.error)) return;
  setMsg(
    section,
    failed.length === 0
      ? ''
      : failed.some((a) => unknownService(a.error))
        ? NO_SERVICE(state.service)
        : explain(failed[0].error, `Analytics of ${failed[0].component}`),
    'data-msg-analytics',
  );
  const ok = answers.filter((a) => a.body !== undefined);
  const cell = (v, text) => h('td', { class: 'num', dataset: { value: String(v) } }, text);
  tbody.replaceChildren(
    ...ok.map(({ component, body }) => {
      const p = body.latency_percentiles ?? {};
      const s = body.summary ?? {};
      return h(
        'tr',
        { dataset: { component, service: body.service ?? '' } },
        h('th', { scope: 'row' }, component),
        cell(s.total_requests, num(s.total_requests, 0)),
        cell(s.error_rate, rate(s.error_rate)),
        cell(p.p50, num(p.p50)),
        cell(p.p95, num(p.p95)),
        cell(p.p99, num(p.p99)),
      );
    }),
  );
  section.dataset.analyticsService = state.service;
  const each = (key) =>
    ok.flatMap(({ component, body }) =>
      (body[key] ?? []).map((i) => `${component}: ${describe(i)}`),
    );
  list('#bottlenecks', each('bottlenecks'));
  list('#recommendations', each('recommendations'));
}

const TREND = { increasing: '▲ increasing', decreasing: '▼ decreasing', stable: '▶ stable' };

async function loadBusiness() {
  const section = $('#business');
  try {
    const body = await api('/business-dashboard');
    setMsg(
      section,
      Object.keys(body.kpis).length === 0 && Object.keys(body.targets).length === 0
        ? 'No business metrics yet.'
        : '',
    );
    const names = [...new Set([...Object.keys(body.kpis), ...Object.keys(body.targets)])];
    $('#kpi-table tbody').replaceChildren(
      ...names.map((name) => {
        const t = body.targets[name];
        const value = body.kpis[name] ?? t?.current;
        const a = t?.achievement;
        return h(
          'tr',
          { dataset: { kpi: name } },
          h('th', { scope: 'row' }, label(name)),
          h('td', { class: 'num', dataset: { value: String(value) } }, num(value, 4)),
          h('td', { class: 'num' }, t === undefined ? '–' : num(t.target, 4)),
          h(
            'td',
            {},
            a === undefined
              ? '–'
              : h(
                  'span',
                  { class: 'bar' },
                  h('meter', {
                    min: 0,
                    max: 1,
                    low: 0.5,
                    high: 0.9,
                    optimum: 1,
                    value: Math.max(0, Math.min(1, a)),
                    'aria-label': `${label(name)} achievement`,
                  }),
                  h('span', { dataset: { achievement: String(a) } }, `${num(a * 100, 1)}\u00a0%`),
                ),
          ),
          h('td', { class: `trend ${body.trends[name] ?? ''}` }, TREND[body.trends[name]] ?? '–'),
        );
      }),
    );
    const groups = ['user_metrics', 'revenue_metrics', 'growth_metrics', 'quality_metrics'];
    $('#kpi-groups').replaceChildren(
      ...groups
        .filter((g) => Object.keys(body[g] ?? {}).length > 0)
        .map((g) =>
          h(
            'div',
            { class: 'kpi-group' },
            h('h3', {}, label(g)),
            h(
              'dl',
              {},
              ...Object.entries(body[g]).flatMap(([k, v]) => [
                h('dt', {}, label(k)),
                h('dd', { dataset: { value: String(v) } }, num(v, 4)),
              ]),
            ),
          ),
        ),
    );
  } catch (error) {
    if (handleAuth(error)) return;
    setMsg(section, explain(error, 'Business dashboard'));
  }
}

async function loadAudit() {
  const section = $('#audit');
  try {
    const body = await api('/audit?limit=50');
    setMsg(section, '');
    const entries = Array.isArray(body) ? body : (body.entries ?? body.audit ?? body.items ?? []);
    const rows = entries.map((e) => e.audit_log_entry ?? e);
    $('#audit-table tbody').replaceChildren(
      ...(rows.length === 0
        ? [h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No audit entries.'))]
        : rows.map((e) =>
            h(
              'tr',
              { dataset: { action: e.action } },
              h('td', {}, time(e.timestamp)),
              h('td', {}, e.user_id ?? '–'),
              h('th', { scope: 'row' }, e.action),
              h('td', {}, [e.resource_type, e.resource_id].filter(Boolean).join(' ')),
              h('td', { class: e.outcome === 'success' ? '' : 'bad-text' }, e.outcome ?? '–'),
            ),
          )),
    );
    const incidents = rows.filter(
      (e) =>
        (e.outcome !== undefined && e.outcome !== 'success') ||
        /^security[._]/.test(e.action ?? ''),
    );
    $('#incidents').replaceChildren(
      ...(incidents.length === 0
        ? [h('li', { class: 'empty' }, 'No security incidents among the latest entries.')]
        : incidents.map((e) =>
            h(
              'li',
              { dataset: { action: e.action } },
              `${time(e.timestamp)} · ${e.action} · ${e.user_id ?? '–'} · ${e.outcome ?? ''}`,
            ),
          )),
    );
  } catch (error) {
    if (handleAuth(error)) return;
    setMsg(section, explain(error, 'Audit trail'));
  }
  try {
    const v = await api('/audit/verify');
    const broken = (v.sources ?? []).find((x) => x.ok === false);
    const el = $('#audit-verify');
    el.dataset.ok = String(v.ok);
    el.textContent =
      v.ok === true
        ? `Audit chain verified: intact (${(v.sources ?? []).map((x) => `${x.source}: ${x.records} records`).join(', ')}).`
        : v.ok === false
          ? `Audit chain broken: ${broken ? `${broken.source}: ${broken.first_break?.message ?? 'see GET /audit/verify'}` : 'see GET /audit/verify'}`
          : '';
  } catch {
    $('#audit-verify').textContent = '';
  }
}

async function openTrace(id) {
  const section = $('#trace');
  $('#trace-id').value = id;
  const view = $('#trace-view');
  try {
    const [trace, fall] = await Promise.all([
      api(`/traces/${encodeURIComponent(id)}`),
      api(`/dashboard/waterfall/${encodeURIComponent(id)}`).catch(() => null),
    ]);
    setMsg(section, '');
    const total = fall?.total_ms ?? trace.total_duration_ms;
    const spans = fall?.spans ?? trace.spans.map((s) => ({ ...s, offset_ms: 0, depth: 1 }));
    view.replaceChildren(
      h(
        'p',
        { class: 'trace-head', dataset: { traceId: trace.trace_id } },
        h('strong', {}, trace.operation),
        ` · ${trace.component} · ${num(trace.total_duration_ms)} ms · `,
        h('span', { class: trace.success ? '' : 'bad-text' }, trace.success ? 'success' : 'failed'),
        ` · ${time(trace.timestamp)}`,
      ),
      h(
        'ol',
        { class: 'waterfall', 'aria-label': `Spans of trace ${trace.trace_id}` },
        ...spans.map((s) => {
          const bar = h('span', { class: `span-bar ${s.status === 'error' ? 'err' : ''}` });
          // CSSOM writes are allowed by the page's CSP (style attributes are not).
          bar.style.marginLeft = `${total > 0 ? (s.offset_ms / total) * 100 : 0}%`;
          bar.style.width = `${Math.max(0.5, total > 0 ? (s.duration_ms / total) * 100 : 100)}%`;
          const name = h('span', { class: 'span-name' }, s.name);
          name.style.paddingLeft = `${Math.min(s.depth, 8) * 0.75}rem`;
          return h(
            'li',
            { class: 'span-row', dataset: { span: s.name, duration: String(s.duration_ms) } },
            name,
            h('span', { class: 'span-track' }, bar),
            h(
              'span',
              { class: 'span-ms' },
              `${num(s.duration_ms)} ms${s.status === 'error' ? ' (error)' : ''}`,
            ),
          );
        }),
      ),
    );
    section.scrollIntoView({ block: 'start' });
    view.focus();
  } catch (error) {
    if (handleAuth(error)) return;
    view.replaceChildren();
    setMsg(section, explain(error, `Trace ${id}`));
  }
}

// ---- login and polling -----------------------------------------------------------

function handleAuth(error) {
  if (error instanceof ApiError && error.status === 401) {
    logout('Your session ended or its key was refused (401): log in again.');
    return true;
  }
  return false;
}

async function refresh() {
  const started = performance.now();
  await Promise.all([
    loadHealth(),
    loadAlerts(),
    loadSeries().then(loadAnalytics),
    loadBusiness(),
    loadAudit(),
  ]);
  if (!state.running) return;
  $('#live').textContent =
    `Updated ${new Date().toLocaleTimeString('en-GB')} (every ${POLL_MS / 1000} s)`;
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded ?? 0) + 1);
  if (document.body.dataset.loaded === '1') {
    performance.mark('prsm:overview-painted');
    performance.measure('prsm:first-refresh', { start: started });
  }
}

function schedule() {
  clearTimeout(state.timer);
  if (!state.running) return;
  state.timer = setTimeout(async () => {
    if (!document.hidden) await refresh();
    schedule();
  }, POLL_MS);
}

function show(loggedIn) {
  $('#login').hidden = loggedIn;
  $('#main').hidden = !loggedIn;
  $('#controls').hidden = !loggedIn;
}

async function start() {
  state.running = true;
  show(true);
  await refresh();
  schedule();
}

function logout(message = '') {
  state.running = false;
  clearTimeout(state.timer);
  clearSession();
  show(false);
  $('#login-error').textContent = message;
  $('#api-key').focus();
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('#api-key');
  const key = input.value.trim();
  if (key === '') return;
  input.value = '';
  try {
    await login(key);
  } catch (error) {
    $('#login-error').textContent =
      error instanceof ApiError && error.status === 401
        ? 'This key is not valid (a one-time key works once).'
        : error instanceof ApiError && error.status === 403
          ? `This key may not read: ${error.message}.`
          : explain(error, 'Log in');
    return;
  }
  $('#login-error').textContent = '';
  await start();
});

$('#logout').addEventListener('click', () => logout());

$('#window').addEventListener('change', async (event) => {
  state.window = event.currentTarget.value;
  await loadSeries().then(loadAnalytics);
});

/** The service named by the URL's hash (`#service=<name>`), '' for none; undefined: another hash. */
function hashService() {
  const hash = location.hash;
  if (hash === '' || hash === '#') return '';
  if (!hash.startsWith('#service=')) return undefined;
  try {
    return decodeURIComponent(hash.slice('#service='.length)).trim();
  } catch {
    return undefined;
  }
}

function showScope() {
  const el = $('#scope');
  el.dataset.service = state.service;
  el.textContent =
    state.service === ''
      ? 'Showing all services (the fleet: digests merged). Alerts, business KPIs and the audit trail are always the fleet\u2019s.'
      : `Showing service ${quoted(state.service)}: health, component charts, operations and analytics. Alerts, business KPIs and the audit trail are the fleet\u2019s.`;
}

/** Scopes the panels to `name` ('' for the fleet) and reloads those it changes. */
async function selectService(name, updateHash) {
  if (name === state.service) return;
  state.service = name;
  $('#service').value = name;
  if ($('#service').value !== name) state.servicesKey = ''; // an option to add: redraw
  if (updateHash) {
    const url =
      name === '' ? location.pathname + location.search : `#service=${encodeURIComponent(name)}`;
    history.replaceState(null, '', url);
  }
  showScope();
  if (!state.running) return;
  await Promise.all([loadHealth(), loadSeries().then(loadAnalytics)]);
}

$('#service').addEventListener('change', (event) => {
  void selectService(event.currentTarget.value, true);
});

window.addEventListener('hashchange', () => {
  const name = hashService();
  if (name !== undefined) void selectService(name, false);
});

$('#trace-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('#trace-id').value.trim();
  if (id !== '') void openTrace(id);
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.running) void refresh();
});

state.service = hashService() ?? '';
showScope();
if (getSession()) void start();
else $('#api-key').focus();
