/**
 * The web dashboard end to end: a real `prsm-monitor serve` process on 127.0.0.1 with
 * a real SQLite file, filled with demo data through the real ingest routes, opened in
 * Debian's headless Chromium driven by playwright-core (no browser download). Logs
 * in, checks each panel against what the API answers, acknowledges an alert, opens a
 * trace from a slow operation, shows one service or the fleet (two services send the
 * same component), switches the window, checks the phone width, saves
 * screenshots, and reports the page's transfer size and first paints (also with
 * 10,000 series stored). Without /usr/bin/chromium: skipped with a reason, failed
 * under CI=true.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createKeyCli,
  runCli,
  startServerChild,
  tempDir,
  type ServerChild,
} from '../test-support.js';
import { DEMO_SERVICES, seedDemo, seedSeries, type DemoSeed } from './demo-data.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ON_CI = process.env['CI'] === 'true';
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
// The README's screenshot is refreshed on request (PRSM_UPDATE_SCREENSHOTS=1), so a test
// run leaves the working tree as it was; every run writes its own copy under .tmp/.
const SCREENSHOTS =
  process.env['PRSM_UPDATE_SCREENSHOTS'] === '1'
    ? join(ROOT, 'docs', 'screenshots')
    : join(ROOT, '.tmp', 'dashboard');
const ARTIFACTS = join(ROOT, '.tmp', 'dashboard');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

if (!HAVE_CHROMIUM && !ON_CI) {
  console.log(`dashboard.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
}

describe.runIf(!HAVE_CHROMIUM && ON_CI)('dashboard under CI', () => {
  it('needs Debian chromium', () => {
    expect.fail(`${CHROMIUM} is missing: .ci/run installs the chromium package`);
  });
});

interface Json {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

describe.runIf(HAVE_CHROMIUM)('web dashboard in headless Chromium', () => {
  let tmp: { dir: string; remove: () => void };
  let server: ServerChild;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let seed: DemoSeed;
  let db = '';
  const keys: Record<'admin' | 'ingest' | 'read', string> = { admin: '', ingest: '', read: '' };
  const consoleErrors: { text: string; url: string }[] = [];
  const transfer = { bytes: 0, scriptBytes: 0, requests: 0 };

  const get = async (path: string, key = keys.admin): Promise<Json> => {
    const res = await fetch(`${server.api}${path}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    tmp = tempDir();
    db = join(tmp.dir, 'monitor.db');
    const [admin, ingest, read] = await Promise.all(
      ['admin', 'ingest', 'read'].map((role) => createKeyCli(db, role)),
    );
    keys.admin = admin!.key;
    keys.ingest = ingest!.key;
    keys.read = read!.key;
    server = await startServerChild(db, ['--rate', '0', '--eval-interval', '200']);
    seed = await seedDemo(server.api, keys, Date.now());
    // The server evaluates the rules every 200 ms: wait until both fire.
    for (let i = 0; i < 100; i += 1) {
      const alerts = await get('/alerts');
      const active = alerts.body['active_alerts'] as { state: string }[];
      if (active.filter((a) => a.state === 'firing').length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    profile = mkdtempSync(join(tmpdir(), 'prsm-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg: ConsoleMessage) => {
      if (msg.type() === 'error') consoleErrors.push({ text: msg.text(), url: msg.location().url });
    });
    page.on('pageerror', (error) => consoleErrors.push({ text: String(error), url: '' }));
    page.on('requestfinished', (request) => {
      void request.sizes().then((s) => {
        transfer.requests += 1;
        transfer.bytes += s.responseBodySize + s.responseHeadersSize;
        if (request.resourceType() === 'script') transfer.scriptBytes += s.responseBodySize;
      });
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await server?.stop();
    tmp?.remove();
  });

  /** The analytics table's row of `component` shows what `GET /analytics` answered. */
  const expectAnalyticsRow = async (
    component: string,
    service: string,
    body: Record<string, unknown>,
  ): Promise<void> => {
    const row = page.locator(`#analytics-table tr[data-component="${component}"]`);
    expect(await row.getAttribute('data-service')).toBe(service);
    const cells = row.locator('td.num');
    const p = body['latency_percentiles'] as Record<string, number | null>;
    const summary = body['summary'] as Record<string, number>;
    const shown = await cells.evaluateAll((tds) =>
      tds.map((td) => (td as unknown as { dataset: { value: string } }).dataset.value),
    );
    expect(shown).toEqual(
      [summary['total_requests'], summary['error_rate'], p['p50'], p['p95'], p['p99']].map(String),
    );
  };

  /** The endpoints a panel may find missing (built by others); their 404s are expected. */
  const missing = new Set<string>();

  it('logs in with an API key exchanged for a session: the key is kept nowhere', async () => {
    for (const path of ['/health', '/analytics?window=1h', '/audit?limit=50', '/audit/verify']) {
      const r = await get(path);
      if (r.status !== 200) missing.add(path.split('?')[0]!);
    }
    const response = await page.goto(server.url);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await page.locator('#login').waitFor({ state: 'visible', timeout: 5_000 });
    expect(await page.locator('#main').isHidden()).toBe(true);

    await page.fill('#api-key', 'prsm_not-a-valid-key-000000000000000000000000000');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'not valid' }).waitFor();

    await page.fill('#api-key', keys.admin);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
    expect(page.url()).not.toContain(keys.admin);
    expect(await page.evaluate<string | null>("sessionStorage.getItem('prsm.session')")).toMatch(
      /^prsms_/,
    );
    expect(await page.evaluate<string>('JSON.stringify(sessionStorage)')).not.toContain(keys.admin);
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
  });

  it('shows the health score and gauges the API returns (or says why not)', async () => {
    const health = await get('/health');
    if (health.status === 200) {
      const score = health.body['overall_health_score'] as number;
      expect(Number(await page.getAttribute('#health-score', 'data-value'))).toBeCloseTo(score, 6);
      const m = health.body['system_metrics'] as Record<string, number>;
      const cpu = await page.getAttribute('#gauge-cpu_usage', 'data-value');
      expect(Number(cpu)).toBeCloseTo(m['cpu_usage']!, 6);
    } else {
      const msg = await page.textContent('#health [data-msg]');
      expect(msg).toContain('Health');
      expect(msg).toContain(String(health.status));
    }
    // The resource history chart is drawn from the stored gauges.
    expect(await page.locator('#resource-chart canvas').count()).toBe(1);
  });

  it('lists the active alerts by severity, as GET /alerts does', async () => {
    const alerts = await get('/alerts');
    const active = alerts.body['active_alerts'] as { rule_id: string; severity: string }[];
    expect(active.length).toBe(2);
    expect(await page.locator('#alert-list li.alert').count()).toBe(active.length);
    for (const s of ['critical', 'high', 'medium']) {
      const n = active.filter((a) => a.severity === s).length;
      expect(await page.getAttribute(`#severity-counts [data-severity="${s}"]`, 'data-count')).toBe(
        String(n),
      );
    }
    // Most severe first.
    expect(await page.getAttribute('#alert-list li.alert >> nth=0', 'data-severity')).toBe(
      'critical',
    );
  });

  it('draws per-component percentiles, throughput and errors from the stored digests', async () => {
    const series = await get('/dashboard/series?window=1h');
    expect(series.status).toBe(200);
    const components = series.body['components'] as {
      component: string;
      calls: number;
      errors: number;
      p99: (number | null)[];
    }[];
    expect(components.map((c) => c.component).sort()).toEqual(
      ['api_gateway', 'marketplace', 'recommendation'].sort(),
    );
    for (const c of components) {
      const card = page.locator(`article.component[data-component="${c.component}"]`);
      expect(await card.locator('canvas').count()).toBe(2);
      expect(await card.locator('[data-calls]').getAttribute('data-calls')).toBe(String(c.calls));
      expect(await card.locator('[data-errors]').getAttribute('data-errors')).toBe(
        String(c.errors),
      );
      // What was sent: every sample and failure of the component.
      expect(c.calls).toBe(seed.samples.get(c.component)!.length);
      expect(c.errors).toBe(seed.errors.get(c.component));
    }
    const ops = series.body['top_operations'] as {
      operation: string;
      calls: number;
      p99_ms: number;
    }[];
    // recommendation has one operation: its p99 is the p99 of every sample sent for
    // it, merged from 15 minute digests (within the ranks around 0.99).
    const sent = [...seed.samples.get('recommendation')!].sort((a, b) => a - b);
    const p99 = ops.find((o) => o.operation === 'recommendation_generation')!.p99_ms;
    expect(p99).toBeGreaterThanOrEqual(sent[Math.floor(0.985 * sent.length)]!);
    expect(p99).toBeLessThanOrEqual(
      sent[Math.min(sent.length - 1, Math.ceil(0.995 * sent.length))]!,
    );
    const rows = page.locator('#ops-table tbody tr');
    expect(await rows.count()).toBe(ops.length);
    for (const [i, op] of ops.entries()) {
      expect(await rows.nth(i).getAttribute('data-operation')).toBe(op.operation);
      expect(await rows.nth(i).locator('td.num >> nth=0').getAttribute('data-value')).toBe(
        String(op.calls),
      );
    }
    if (missing.has('/analytics')) {
      expect(await page.textContent('#operations [data-msg-analytics]')).toContain('Analytics');
    } else {
      // GET /analytics of each component the series show: the table's values are its answers.
      let recs = 0;
      const table = page.locator('#analytics-table tbody tr[data-component]');
      expect(await table.count()).toBe(components.length);
      for (const c of components) {
        const analytics = await get(`/analytics?window=1h&component=${c.component}`);
        expect(analytics.status).toBe(200);
        await expectAnalyticsRow(c.component, '', analytics.body);
        recs += (analytics.body['recommendations'] as unknown[]).length;
      }
      expect(await page.locator('#recommendations li').count()).toBe(Math.max(1, recs));
    }
  });

  it('shows the business KPIs against their targets', async () => {
    const dash = await get('/business-dashboard');
    expect(dash.status).toBe(200);
    const kpis = dash.body['kpis'] as Record<string, number>;
    const targets = dash.body['targets'] as Record<string, { achievement: number }>;
    expect(Object.keys(targets).length).toBeGreaterThanOrEqual(4);
    for (const [name, value] of Object.entries(kpis)) {
      const row = page.locator(`#kpi-table tr[data-kpi="${name}"]`);
      expect(await row.locator('td.num >> nth=0').getAttribute('data-value')).toBe(String(value));
    }
    for (const [name, t] of Object.entries(targets)) {
      const a = page.locator(`#kpi-table tr[data-kpi="${name}"] [data-achievement]`);
      expect(Number(await a.getAttribute('data-achievement'))).toBeCloseTo(t.achievement, 9);
      expect(await page.locator(`#kpi-table tr[data-kpi="${name}"] meter`).count()).toBe(1);
    }
  });

  it('shows the audit trail, its verification and the security incidents', async () => {
    const audit = await get('/audit?limit=50');
    if (audit.status !== 200) {
      expect(await page.textContent('#audit [data-msg]')).toContain(String(audit.status));
      return;
    }
    const entries = audit.body['entries'] as { action: string; outcome: string }[];
    expect(entries.map((e) => e.action).sort()).toEqual([...seed.auditActions].sort());
    const rows = page.locator('#audit-table tbody tr[data-action]');
    expect(await rows.count()).toBe(entries.length);
    for (const [i, e] of entries.entries()) {
      expect(await rows.nth(i).getAttribute('data-action')).toBe(e.action);
    }
    // The two failed logins are the incidents.
    expect(await page.locator('#incidents li[data-action="login"]').count()).toBe(
      entries.filter((e) => e.outcome !== 'success').length,
    );
    const verify = await get('/audit/verify');
    expect(await page.getAttribute('#audit-verify', 'data-ok')).toBe(String(verify.body['ok']));
    expect(verify.body['ok']).toBe(true);
  });

  it('acknowledges an alert from the page', async () => {
    const item = page.locator('#alert-list li.alert[data-severity="high"]');
    const ruleId = await item.getAttribute('data-rule-id');
    expect(seed.ruleIds).toContain(ruleId);
    await item.getByRole('button', { name: /Acknowledge/ }).click();
    await page
      .locator(`#alert-list li[data-rule-id="${String(ruleId)}"] .ack-state`, {
        hasText: /^Acknowledged/,
      })
      .waitFor();
    const alerts = await get('/alerts');
    const rule = (alerts.body['alerts'] as { alert_id: string; acknowledged_at: unknown }[]).find(
      (r) => r.alert_id === ruleId,
    );
    expect(rule?.acknowledged_at).not.toBeNull();
  });

  it('opens the waterfall of the slowest call of an operation', async () => {
    await page.click(`#ops-table tr[data-operation="marketplace_search"] button[data-trace]`);
    await page.waitForSelector(`#trace-view [data-trace-id="${seed.traceId}"]`);
    const trace = await get(`/traces/${seed.traceId}`);
    expect(trace.status).toBe(200);
    const rows = page.locator('#trace-view li.span-row');
    expect(await rows.count()).toBe(seed.traceSpans);
    expect(await rows.nth(0).getAttribute('data-span')).toBe('marketplace_search');
    expect(await page.inputValue('#trace-id')).toBe(seed.traceId);
    // An unknown trace id: a message, not a broken page.
    await page.fill('#trace-id', '0'.repeat(32));
    await page.press('#trace-id', 'Enter');
    await page.locator('#trace [data-msg]', { hasText: '404' }).waitFor();
    await page.click(`#slow-traces button[data-trace="${seed.traceId}"]`);
    await page.waitForSelector(`#trace-view [data-trace-id="${seed.traceId}"]`);
  });

  it('opens the trace of an exemplar: from the list, an operation and a component', async () => {
    const series = await get('/dashboard/series?window=1h');
    const ops = series.body['top_operations'] as {
      operation: string;
      exemplar: { trace_id: string } | null;
    }[];
    expect(ops.find((o) => o.operation === 'marketplace_checkout')?.exemplar?.trace_id).toBe(
      seed.exemplarTraceId,
    );
    const waterfall = async (): Promise<void> => {
      await page.waitForSelector(`#trace-view [data-trace-id="${seed.exemplarTraceId}"]`);
      expect(await page.locator('#trace-view li.span-row').count()).toBe(seed.exemplarSpans);
      expect(await page.inputValue('#trace-id')).toBe(seed.exemplarTraceId);
    };
    await page.fill('#trace-id', seed.traceId);
    await page.press('#trace-id', 'Enter');
    await page.waitForSelector(`#trace-view [data-trace-id="${seed.traceId}"]`);
    await page.click(`#exemplars button[data-exemplar="${seed.exemplarTraceId}"]`);
    await waterfall();
    expect(await page.locator('#trace-view li.span-row').nth(0).getAttribute('data-span')).toBe(
      'marketplace_checkout',
    );
    await page.click(`#slow-traces button[data-trace="${seed.traceId}"]`);
    await page.waitForSelector(`#trace-view [data-trace-id="${seed.traceId}"]`);
    await page.click(
      `#ops-table tr[data-operation="marketplace_checkout"] button[data-exemplar="${seed.exemplarTraceId}"]`,
    );
    await waterfall();
    await page.click(`#slow-traces button[data-trace="${seed.traceId}"]`);
    await page.waitForSelector(`#trace-view [data-trace-id="${seed.traceId}"]`);
    await page.click(
      `#components [data-component="marketplace"] button[data-exemplar="${seed.exemplarTraceId}"]`,
    );
    await waterfall();
  });

  it('shows one service or the fleet: the selector scopes health, charts, operations and analytics', async () => {
    // The selector lists the services GET /health names (the fleet first).
    const health = await get('/health');
    const names = (health.body['services'] as { service: string }[])
      .map((x) => x.service)
      .filter((n) => n !== '')
      .sort();
    expect(names).toEqual([...DEMO_SERVICES].sort());
    expect(
      await page.evaluate<string[]>(
        "[...document.querySelectorAll('#service option')].map((o) => o.value)",
      ),
    ).toEqual(['', ...names]);
    expect(await page.inputValue('#service')).toBe('');
    expect(await page.textContent('#service option >> nth=0')).toBe('All services (fleet)');

    const p99s: Record<string, number> = {};
    for (const service of DEMO_SERVICES) {
      await page.selectOption('#service', service);
      await page.waitForSelector(`#operations[data-analytics-service="${service}"]`);
      await page.waitForSelector(`#health[data-service="${service}"]`);
      // Kept in the page (and the hash), never the key in the URL.
      expect(page.url()).toMatch(new RegExp(`#service=${service}$`));
      expect(page.url()).not.toContain(keys.admin);
      expect(await page.textContent('#scope')).toContain(service);
      // The analytics table: what GET /analytics?service= answers, component by component.
      const series = await get(`/dashboard/series?window=1h&service=${service}`);
      expect(series.status).toBe(200);
      expect(series.body['service']).toBe(service);
      const comps = series.body['components'] as { component: string; calls: number }[];
      const sent = seed.byService.get(service)!;
      expect(comps.map((c) => c.component).sort()).toEqual([...sent.keys()].sort());
      for (const c of comps) {
        const analytics = await get(
          `/analytics?window=1h&component=${c.component}&service=${service}`,
        );
        expect(analytics.status).toBe(200);
        expect(analytics.body['service']).toBe(service);
        await expectAnalyticsRow(c.component, service, analytics.body);
        // Exactly what this service sent of the component, in the chart's card too.
        const summary = analytics.body['summary'] as { total_requests: number };
        expect(summary.total_requests).toBe(sent.get(c.component)!.length);
        expect(c.calls).toBe(sent.get(c.component)!.length);
        const card = page.locator(`article.component[data-component="${c.component}"]`);
        expect(await card.locator('[data-calls]').getAttribute('data-calls')).toBe(String(c.calls));
        if (c.component === 'marketplace') {
          p99s[service] = (analytics.body['latency_percentiles'] as { p99: number }).p99;
        }
      }
      // Only this service's components have cards.
      expect(await page.locator('article.component').count()).toBe(comps.length);
      const h = await get(`/health?service=${service}`);
      expect(Number(await page.getAttribute('#health-score', 'data-value'))).toBeCloseTo(
        h.body['overall_health_score'] as number,
        6,
      );
    }
    // The two services' marketplace latencies differ (the second is four times slower).
    expect(p99s[DEMO_SERVICES[1]]!).toBeGreaterThan(p99s[DEMO_SERVICES[0]]! * 2);

    // Back to the fleet: both services merged (digests merged, not averaged).
    await page.selectOption('#service', '');
    await page.waitForSelector('#operations[data-analytics-service=""]');
    await page.waitForSelector('#health[data-service=""]');
    expect(page.url()).not.toContain('#service');
    const fleet = await get('/analytics?window=1h&component=marketplace');
    expect(fleet.body['service']).toBeNull();
    await expectAnalyticsRow('marketplace', '', fleet.body);
    const all = [...seed.samples.get('marketplace')!].sort((a, b) => a - b);
    expect((fleet.body['summary'] as { total_requests: number }).total_requests).toBe(all.length);
    expect(all.length).toBe(
      DEMO_SERVICES.reduce(
        (n, s) => n + (seed.byService.get(s)!.get('marketplace')?.length ?? 0),
        0,
      ),
    );
    // The fleet p99 is the p99 of every value both services sent (within the ranks
    // around 0.99), not a mean of the two services' p99s.
    const p99 = (fleet.body['latency_percentiles'] as { p99: number }).p99;
    expect(p99).toBeGreaterThanOrEqual(all[Math.floor(0.985 * all.length)]!);
    expect(p99).toBeLessThanOrEqual(all[Math.min(all.length - 1, Math.ceil(0.995 * all.length))]!);
    expect(await page.locator('article.component').count()).toBe(3);

    // The keyboard reaches the selector (a labelled <select>) and changes it.
    await page.focus('#service');
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector(`#operations[data-analytics-service="${names[0]!}"]`);
    await page.selectOption('#service', '');
    await page.waitForSelector('#operations[data-analytics-service=""]');

    // A service that sent nothing (a hand-made hash): empty panels that say so.
    await page.evaluate("location.hash = '#service=nobody'");
    await page
      .locator('#performance [data-msg]', { hasText: 'service \u201cnobody\u201d' })
      .waitFor();
    await page.locator('#health [data-msg]', { hasText: 'has sent no data' }).waitFor();
    await page.waitForSelector('#operations[data-analytics-service="nobody"]');
    expect(await page.inputValue('#service')).toBe('nobody');
    const none = await get('/dashboard/series?window=1h&service=nobody');
    expect(none.status).toBe(200);
    expect(none.body['components']).toEqual([]);
    expect(await page.locator('article.component').count()).toBe(0);
    expect(await page.locator('#analytics-table tr[data-component]').count()).toBe(0);
    await page.selectOption('#service', '');
    await page.waitForSelector('#operations[data-analytics-service=""]');
    expect(await page.locator('article.component').count()).toBe(3);
  }, 30_000);

  it('logs in once with a one-time key (keys create --one-time); a second login fails', async () => {
    const r = await runCli(['keys', 'create', '--role', 'read', '--one-time', '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    const once = r.stdout.trim().split('\n').at(-1)!.trim();
    const first = await context.newPage();
    const second = await context.newPage();
    try {
      await first.goto(server.url);
      await first.fill('#api-key', once);
      await first.press('#api-key', 'Enter');
      await first.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
      expect(await first.evaluate<string>('JSON.stringify(sessionStorage)')).not.toContain(once);
      // The session keeps working: a reload logs in again without the key.
      await first.reload();
      await first.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
      expect(await first.locator('#main').isVisible()).toBe(true);
      await second.goto(server.url);
      await second.fill('#api-key', once);
      await second.press('#api-key', 'Enter');
      await second.locator('#login-error', { hasText: 'not valid' }).waitFor();
      expect(await second.locator('#main').isHidden()).toBe(true);
      // And never as an API key.
      expect((await get('/alerts', once)).status).toBe(401);
    } finally {
      await first.close();
      await second.close();
    }
  }, 30_000);

  it('switches the window without reloading', async () => {
    const request = page.waitForRequest((r) => r.url().includes('/dashboard/series?window=15m'));
    await page.selectOption('#window', '15m');
    await request;
    await page.locator('#ops-table tbody tr').first().waitFor();
    expect(await page.evaluate<number>("performance.getEntriesByType('navigation').length")).toBe(
      1,
    );
  });

  it('is usable at 375 px and saves screenshots', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 800 });
    await page.waitForTimeout(200); // one resize frame for the charts
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-375.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    // Labels: every form control has a <label for>, every button a name, every
    // section a heading, every chart a text alternative.
    const controls = page.locator('input, select');
    for (let i = 0; i < (await controls.count()); i += 1) {
      const id = await controls.nth(i).getAttribute('id');
      expect(await page.locator(`label[for="${String(id)}"]`).count(), String(id)).toBe(1);
    }
    for (const name of await page.locator('button').allInnerTexts()) {
      expect(name.trim()).not.toBe('');
    }
    const sections = page.locator('section');
    for (let i = 0; i < (await sections.count()); i += 1) {
      const heading = await sections.nth(i).getAttribute('aria-labelledby');
      expect(await page.locator(`#${String(heading)}`).count()).toBe(1);
    }
    expect(await page.locator('.chart:not([aria-label])').count()).toBe(0);
    // Keyboard: the window selector and the buttons are reachable with Tab.
    await page.focus('#window');
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('logout');
  });

  it('shows why a panel is empty when the key may not read it (a read key)', async () => {
    const other = await context.newPage();
    const pageErrors: string[] = [];
    other.on('pageerror', (error) => pageErrors.push(String(error)));
    try {
      await other.goto(server.url);
      await other.fill('#api-key', keys.read);
      await other.press('#api-key', 'Enter');
      await other.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
      const forbidden = await get('/business-dashboard', keys.read);
      expect(forbidden.status).toBe(403);
      expect(await other.textContent('#business [data-msg]')).toContain(
        "your key's role does not allow this",
      );
      // The other panels carry on.
      expect(await other.locator('#alert-list li.alert').count()).toBe(2);
      // Acknowledging needs admin: the page says so and keeps the button.
      const item = other.locator('#alert-list li.alert[data-severity="critical"]');
      await item.getByRole('button', { name: /Acknowledge/ }).click();
      await item.locator('.ack-state', { hasText: 'Acknowledge: ' }).waitFor();
      expect(await item.getByRole('button', { name: /Acknowledge/ }).isEnabled()).toBe(true);
      // Log out: the session leaves the tab (and ends on the server).
      await other.click('#logout');
      expect(await other.evaluate<string | null>("sessionStorage.getItem('prsm.session')")).toBe(
        null,
      );
      expect(await other.locator('#login').isVisible()).toBe(true);
      expect(pageErrors).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('reports the transfer size and has no console errors', () => {
    const unexpected = consoleErrors.filter(
      (e) =>
        !(
          // The browser logs every non-2xx fetch; these are the ones the test provoked
          // (a bad key, an unknown trace) or endpoints not built on this server.
          (e.text.includes('status of 401') && e.url.endsWith('/dashboard/session')) ||
          (e.text.includes('status of 404') &&
            (e.url.includes('/traces/' + '0'.repeat(32)) ||
              e.url.includes('service=nobody') ||
              e.url.includes('/dashboard/waterfall/' + '0'.repeat(32)) ||
              [...missing].some((m) => e.url.includes(`/api/v1/monitoring${m}`))))
        ),
    );
    expect(unexpected).toEqual([]);
    console.log(
      `dashboard: ${transfer.requests} requests, ${(transfer.bytes / 1024).toFixed(1)} KiB transferred ` +
        `(scripts ${(transfer.scriptBytes / 1024).toFixed(1)} KiB gzipped); endpoints missing: ${[...missing].join(', ') || 'none'}`,
    );
    expect(transfer.scriptBytes).toBeGreaterThan(0);
    expect(transfer.scriptBytes).toBeLessThanOrEqual(150 * 1024);
  });

  it('paints the overview within 1 s with 10,000 series stored', async () => {
    await seedSeries(server.api, keys.ingest, 10_000);
    const stored = await get('/dashboard/series?window=1h&component=workers');
    expect(stored.body['series_stored'] as number).toBeGreaterThanOrEqual(10_000);
    // What each endpoint the overview calls takes, from here (the 15 min window is not
    // the one the page asks for, so this does not warm the page's cache).
    const timings: string[] = [];
    for (const path of [
      '/dashboard/series?window=15m',
      '/health',
      '/analytics?window=15m&component=workers',
      '/analytics?window=15m&component=marketplace&service=inventory-service',
      '/alerts',
    ]) {
      const t0 = performance.now();
      await get(path);
      timings.push(`${path} ${(performance.now() - t0).toFixed(0)} ms`);
    }
    console.log(`API with 10,000 more series: ${timings.join(', ')}`);
    const runs: { fcp: number; health: number; overview: number }[] = [];
    for (let i = 0; i < 3; i += 1) {
      await page.reload();
      await page.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
      runs.push(
        await page.evaluate(() => {
          const at = (name: string): number =>
            performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN;
          return {
            fcp: at('first-contentful-paint'),
            health: at('prsm:health-painted'),
            overview: at('prsm:overview-painted'),
          };
        }),
      );
    }
    // The first reload follows the 10,000 series just stored: the server computes the
    // series afresh (its cache is keyed by SQLite's data_version); later ones may reuse it.
    const cold = runs[0]!;
    console.log(
      `dashboard with 10,000 more series, first reload (nothing cached): first contentful paint ` +
        `${cold.fcp.toFixed(0)} ms, health ${cold.health.toFixed(0)} ms, every panel ${cold.overview.toFixed(0)} ms; ` +
        `all runs: ${runs.map((r) => r.overview.toFixed(0)).join(', ')} ms`,
    );
    // The overview's first meaningful paint: the health score and gauges drawn.
    expect(cold.health).toBeLessThanOrEqual(1000);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1]!;
    const fcp = median(runs.map((r) => r.fcp));
    const overview = median(runs.map((r) => r.overview));
    const health = median(runs.map((r) => r.health));
    console.log(
      `dashboard with ${String(stored.body['series_stored'])} series: first contentful paint ${fcp.toFixed(0)} ms, ` +
        `health painted ${Number.isNaN(health) ? 'n/a (no /health)' : `${health.toFixed(0)} ms`}, ` +
        `every panel painted ${overview.toFixed(0)} ms (median of 3 reloads, noisy shared machine)`,
    );
    expect(health).toBeLessThanOrEqual(1000);
    expect(overview).toBeLessThanOrEqual(3000);
  }, 60_000);
});
