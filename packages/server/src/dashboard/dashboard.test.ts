/**
 * The web dashboard end to end: a real `prsm-monitor serve` process on 127.0.0.1 with
 * a real SQLite file, filled with demo data through the real ingest routes, opened in
 * Debian's headless Chromium driven by playwright-core (no browser download). Logs
 * in, checks each panel against what the API answers, acknowledges an alert, opens a
 * trace from a slow operation, switches the window, checks the phone width, saves
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

import { createKeyCli, startServerChild, tempDir, type ServerChild } from '../test-support.js';
import { seedDemo, seedSeries, type DemoSeed } from './demo-data.js';

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
    const db = join(tmp.dir, 'monitor.db');
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

  /** The endpoints a panel may find missing (built by others); their 404s are expected. */
  const missing = new Set<string>();

  it('logs in with an API key kept in sessionStorage, never in the URL', async () => {
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
    expect(await page.evaluate<string | null>("sessionStorage.getItem('prsm.apiKey')")).toBe(
      keys.admin,
    );
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
      expect(await page.textContent('#operations [data-msg-analytics]')).toContain(
        'Bottlenecks and recommendations',
      );
    } else {
      const analytics = await get('/analytics?window=1h');
      const recs = analytics.body['recommendations'] as unknown[];
      expect(await page.locator('#recommendations li').count()).toBe(Math.max(1, recs.length));
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
      // Log out: the key leaves the session.
      await other.click('#logout');
      expect(await other.evaluate<string | null>("sessionStorage.getItem('prsm.apiKey')")).toBe(
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
          (e.text.includes('status of 401') && e.url.endsWith('/alerts')) ||
          (e.text.includes('status of 404') &&
            (e.url.includes('/traces/' + '0'.repeat(32)) ||
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
      '/analytics?window=1h',
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
