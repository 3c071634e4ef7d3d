/**
 * `npm run demo`, run as it runs (Node, tsx, the @prsm/source condition) in a child
 * process with a few seconds of load. Nothing is mocked: the demo starts its own
 * monitoring server, service, webhook receiver and load on 127.0.0.1.
 *
 * The main run keeps its SQLite file and audit log (`PRSM_DEMO_DATA_DIR`) and stays up
 * after its report (`PRSM_DEMO_STAY=1`): the test looks at the printed URLs with the
 * printed key, presses Ctrl-C, checks everything closed, then opens its own server on
 * the SQLite file the demo left and checks each printed section against what the
 * REST API answers it. A second run is interrupted during the load: it must still
 * exit 0, close its server and remove its temporary directory.
 */
import { verifyChain } from '@prsm/core';
import { createServer, type PrsmServer } from '@prsm/server';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const demoDir = fileURLToPath(new URL('..', import.meta.url));

interface DemoRun {
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first match of `pattern` in stdout (waiting for it). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  interrupt(): void;
  readonly exit: Promise<number | null>;
}

function startDemo(env: Record<string, string>): DemoRun {
  const child = spawn(
    process.execPath,
    ['--conditions=@prsm/source', '--import', 'tsx', 'src/main.ts'],
    { cwd: demoDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stdout);
          if (match === null) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no ${String(pattern)} within ${timeoutMs} ms in:\n${stdout}\n${stderr}`),
          );
        }, timeoutMs);
        waiters.add(check);
        void exit.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`the demo exited before ${String(pattern)}:\n${stdout}\n${stderr}`));
          }
        });
        check();
      }),
    interrupt: () => child.kill('SIGINT'),
    exit,
  };
}

/** The text of `--- <title>` up to the next section. */
function section(stdout: string, title: string): string {
  const start = stdout.indexOf(`--- ${title}`);
  expect(start, `section ${title}`).toBeGreaterThanOrEqual(0);
  const end = stdout.indexOf('\n--- ', start + 4);
  return stdout.slice(start, end < 0 ? undefined : end);
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return /ECONNREFUSED/.test(String((error as { cause?: unknown }).cause ?? error));
  }
}

const pct = (value: number): string => `${(value * 100).toFixed(2)}%`;

describe('npm run demo', () => {
  let work = '';
  let data = '';
  let stdout = '';
  let stderr = '';
  let exitCode: number | null = null;
  let serverUrl = '';
  let serviceUrl = '';
  let loginKey = '';
  let oneTimeKey = '';
  const live: Record<string, number> = {};
  let server: PrsmServer | undefined;
  let api = '';
  let adminKey = '';

  const get = async <T>(path: string, key = adminKey): Promise<T> => {
    const response = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status, `GET ${path}`).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'prsm-demo-test-'));
    data = join(work, 'data');
    const run = startDemo({
      PRSM_DEMO_SECONDS: '6',
      PRSM_DEMO_DATA_DIR: data,
      PRSM_DEMO_STAY: '1',
    });
    try {
      await run.waitFor(/press Ctrl-C to stop it/, 120_000);
      stdout = run.stdout();
      serverUrl = /^server: {2}(http:\/\/127\.0\.0\.1:\d+) /m.exec(stdout)![1]!;
      serviceUrl = /^service: (http:\/\/127\.0\.0\.1:\d+) /m.exec(stdout)![1]!;
      loginKey = /^ {2}(prsm_[A-Za-z0-9_-]{43})$/m.exec(stdout)![1]!;
      // A look around while it stays up: the printed URLs with the printed key.
      const bearer = { authorization: `Bearer ${loginKey}` };
      const base = `${serverUrl}/api/v1/monitoring`;
      live['dashboard'] = (await fetch(`${serverUrl}/`)).status;
      live['openapi'] = (await fetch(`${base}/openapi.json`)).status;
      live['metrics'] = (await fetch(`${base}/metrics`, { headers: bearer })).status;
      live['business'] = (await fetch(`${base}/business-dashboard`, { headers: bearer })).status;
      live['health'] = (await fetch(`${base}/health`, { headers: bearer })).status;
      live['anonymous'] = (await fetch(`${base}/business-dashboard`)).status;
      // The printed one-time login key: a dashboard session once, then refused.
      oneTimeKey = /^ {2}(prsmo_[A-Za-z0-9_-]{43})$/m.exec(stdout)![1]!;
      const login = (): Promise<Response> =>
        fetch(`${base}/dashboard/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: oneTimeKey }),
        });
      const first = await login();
      live['one-time login'] = first.status;
      const session = ((await first.json()) as { session?: string }).session ?? '';
      live['one-time session'] = (
        await fetch(`${base}/health`, { headers: { authorization: `Bearer ${session}` } })
      ).status;
      live['one-time login again'] = (await login()).status;
      live['one-time as API key'] = (
        await fetch(`${base}/health`, { headers: { authorization: `Bearer ${oneTimeKey}` } })
      ).status;
    } finally {
      run.interrupt();
      exitCode = await run.exit;
      stdout = run.stdout();
      stderr = run.stderr();
    }
    // A server of the test's own on the SQLite file the demo left, its rules not evaluated.
    server = await createServer({
      db: join(data, 'prsm-monitor.db'),
      port: 0,
      alerting: { evaluationIntervalMs: 0 },
      compactIntervalMs: 0,
    });
    api = `${server.url}/api/v1/monitoring`;
    adminKey = server.store.createKey('admin').key;
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('stays up for a look at the printed URLs, then exits 0 on Ctrl-C with everything closed', async () => {
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/^PRSM Monitor demo: 6 s of traffic from 4 concurrent visitors/);
    expect(stdout).toContain(
      `dashboard:  ${serverUrl}/  (log in with the one-time key below: it works once, the page keeps a session)`,
    );
    expect(stdout).toContain(`\n  ${oneTimeKey}\n`);
    expect(stdout).toContain(`OpenAPI:    ${serverUrl}/api/v1/monitoring/openapi.json`);
    expect(stdout).toContain(`Prometheus: ${serverUrl}/api/v1/monitoring/metrics`);
    expect(live).toEqual({
      dashboard: 200,
      openapi: 200,
      metrics: 200,
      business: 200,
      health: 200,
      anonymous: 401,
      'one-time login': 201,
      'one-time session': 200,
      'one-time login again': 401,
      'one-time as API key': 401,
    });
    expect(stdout).toMatch(
      /SIGINT: stopping the load, the service and the server\nstopped: service and server closed\n?$/,
    );
    expect(await refused(serverUrl)).toBe(true);
    expect(await refused(serviceUrl)).toBe(true);
    // PRSM_DEMO_DATA_DIR: the files stay; the printed key is a real enterprise key in them.
    expect(stdout).toContain(
      `data:    ${data} (SQLite prsm-monitor.db, audit log audit.jsonl; kept)`,
    );
    expect(server!.store.findKey(loginKey)?.role).toBe('enterprise');
    expect(stdout).toContain("the service monitor's own diagnostics: {}");
    expect(stdout).toMatch(/rest exporter: \d+ items in \d+ batches .*, \d+ retries, 0 dropped/);
  });

  it('prints the requests of each route as the server counted them (http.server.requests)', async () => {
    const table = section(stdout, 'Traffic');
    const rows = [...table.matchAll(/│ '(\w+) (\/\S+)'\s+│ (\d+)\s+│ '([^']*)'/g)];
    expect(rows.map((r) => `${r[1]} ${r[2]}`).sort()).toEqual([
      'GET /api/recommendations',
      'GET /api/search',
      'POST /api/cart',
      'POST /api/checkout',
      'POST /api/login',
      'POST /api/logout',
      'POST /api/recommendations/click',
    ]);
    const text = await (
      await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })
    ).text();
    for (const [, method, route, requests, answers] of rows) {
      const counted: Record<string, number> = {};
      for (const m of text.matchAll(/^http_server_requests_total\{([^}]*)\} (\d+)$/gm)) {
        const labels = m[1]!;
        if (!labels.includes(`http_request_method="${method}"`)) continue;
        if (!labels.includes(`http_route="${route}"`)) continue;
        const status = /http_response_status_code="(\d+)"/.exec(labels)![1]!;
        counted[status] = (counted[status] ?? 0) + Number(m[2]);
      }
      const printed = Object.fromEntries(
        answers!.split(', ').map((a) => {
          const [status, n] = a.split(' x');
          return [status!, Number(n)];
        }),
      );
      expect(counted, `${method} ${route}`).toEqual(printed);
      expect(Object.values(counted).reduce((a, b) => a + b, 0)).toBe(Number(requests));
    }
  });

  it('both rules fire and are acknowledged; the service rule resolves after the recovery', () => {
    const traffic = section(stdout, 'Traffic');
    const at = (pattern: RegExp): number => {
      const m = pattern.exec(traffic);
      expect(m, `${String(pattern)} in:\n${traffic}`).not.toBeNull();
      return m!.index;
    };
    const incident = at(/incident: the model server times out on every other call/);
    const serviceFiring = at(
      /service webhook <- FIRING \(reason group, signature verified\): Recommendation Error Rate High \[high\] status=firing value=([\d.]+)%/,
    );
    const serviceAck = at(/service webhook <- ACKNOWLEDGED .*acknowledged_by=demo-oncall/);
    const serverFiring = at(
      /server webhook <- FIRING \(reason group, signature verified\): Recommendation Error Rate High \(fleet\) \[high\] status=firing/,
    );
    const serverAck = at(/server webhook <- ACKNOWLEDGED .*acknowledged_by=demo-oncall/);
    const recovery = at(/recovery: the model server is healthy again/);
    const resolved = at(
      /service webhook <- RESOLVED .*Recommendation Error Rate High \[high\] status=resolved/,
    );
    expect(incident).toBeLessThan(serviceFiring);
    expect(serviceFiring).toBeLessThan(serviceAck);
    expect(serverFiring).toBeLessThan(serverAck);
    expect(Math.max(serviceFiring, serverFiring)).toBeLessThan(recovery);
    expect(recovery).toBeLessThan(resolved);
    expect(traffic).toContain(
      'server alert acknowledged by demo-oncall (POST /alerts/{id}/acknowledge: 200)',
    );
    expect(traffic).not.toContain('REJECTED');
    expect(traffic).not.toContain('no more waiting');
  });

  it('the attack raises an incident and locks the account; both copies of the audit trail verify', async () => {
    expect(section(stdout, 'Traffic')).toContain(
      'attack: 6 failed logins for user_admin from 203.0.113.7, answered 401 401 401 401 401 423',
    );
    const security = section(stdout, 'Security and audit');
    expect(security).toContain('incident: [high] brute_force_user: 5 failed logins for user_admin');
    expect(security).toContain('alert firing: Security incident (high, component security)');
    const printed =
      /audit trail: (\d+) records, hash chain verified \(head ([0-9a-f]{16})…\), completeness 100%/.exec(
        security,
      );
    expect(printed).not.toBeNull();

    // The local file, verified by the test.
    const lines = readFileSync(join(data, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean);
    const local = verifyChain(lines);
    expect(local.ok).toBe(true);
    expect(lines.length).toBe(Number(printed![1]));
    const head = (JSON.parse(lines.at(-1)!) as { hash: string }).hash;
    expect(head.startsWith(printed![2]!)).toBe(true);
    // Every login is there, and the lock; the attempted passwords are masked.
    const login = section(stdout, 'Traffic').match(/'POST \/api\/login'\s+│ (\d+)/)!;
    expect(lines.filter((l) => l.includes('"action":"login"')).length).toBe(Number(login[1]));
    expect(lines.filter((l) => l.includes('"action":"account_locked"')).length).toBe(1);
    expect(lines.join('\n')).not.toContain('guess-');

    // The server's copy.
    const verify = await get<{
      sources: { source: string; ok: boolean; records: number; head_hash: string }[];
    }>('/audit/verify');
    expect(verify.sources).toEqual([
      expect.objectContaining({
        source: 'marketplace-api',
        ok: true,
        records: lines.length,
        head_hash: head,
      }),
    ]);
    const exported = section(stdout, 'Export');
    expect(exported).toContain(
      `audit on the server (GET /audit/verify): ${lines.length} records, hash chain verified (head ${head.slice(0, 16)}…), the same head as the local log`,
    );
    const locks = await get<{
      entries: { user_id: string; resource_id: string; timestamp: string }[];
    }>('/audit?action=account_locked');
    expect(locks.entries).toHaveLength(1);
    expect(exported).toContain(
      `audit on the server (GET /audit?action=account_locked): security-bot locked user_admin at ${locks.entries[0]!.timestamp}`,
    );
    const all = await get<{ entries: unknown[] }>('/audit?limit=1000');
    expect(JSON.stringify(all.entries)).not.toContain('guess-');
  });

  it('health: the printed section is what GET /health answers', async () => {
    const health = section(stdout, 'Health');
    const h = await get<{
      overall_health_score: number;
      active_alerts: { name: string; severity: string; component: string }[];
      monitoring_status: { active_traces: number; configured_alerts: number };
    }>('/health');
    const score = Number(/overall health score: ([\d.]+) \/ 100/.exec(health)![1]);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(100);
    expect(health).toMatch(/system: cpu [\d.]+%, memory [\d.]+%, disk [\d.]+%, network \d+ B sent/);
    expect(health).toContain(
      `active alerts: ${h.active_alerts.map((a) => `${a.name} [${a.severity}, ${a.component}]`).join('; ')}`,
    );
    expect(h.active_alerts.map((a) => a.name)).toContain('Recommendation Error Rate High (fleet)');
    expect(health).toMatch(
      new RegExp(
        `, ${h.monitoring_status.active_traces} traces, ${h.monitoring_status.configured_alerts} alert rules`,
      ),
    );
  });

  it('component matrix: the distillation job, recommendation, caches, costs and efficiency from the service', () => {
    const matrix = section(stdout, 'Component matrix');
    expect(matrix).toMatch(
      /job distill_recsys_v3 \(distillation, multi_teacher\): success after [\d.]+ s, 12000\/12000 steps/,
    );
    expect(matrix).toMatch(/GPU (\d+%|unavailable \(.+\))/);
    expect(matrix).toMatch(/ETA at 50% of the run: ([\d.]+ s|unknown) \(it took [\d.]+ s more\)/);
    expect(matrix).toContain('quality retention 0.96, efficiency gain 3.2x');
    expect(matrix).toContain('distillation component_specific: success rate 1.00, jobs 1 started');
    expect(matrix).toMatch(
      /recommendation component_specific: inference p95 [\d.]+ ms, accuracy 0.87/,
    );
    expect(matrix).toMatch(/cache recommendation\/recommendation: hit rate [\d.]+% of \d+/);
    expect(matrix).toMatch(
      /costs \(USD\): API \$[\d.]+ per request, ML inference \$[\d.]+ per prediction/,
    );
    expect(matrix).toMatch(
      /efficiency api_gateway: [\d.]+ requests per CPU-second \((increasing|decreasing|stable)\)/,
    );
  });

  it('analytics: summary, bottlenecks and recommendations are what GET /analytics answers', async () => {
    const analytics = section(stdout, 'Analytics');
    for (const component of ['marketplace', 'recommendation']) {
      const a = await get<{
        summary: { total_requests: number; average_response_time: number; error_rate: number };
        bottlenecks: string[];
        recommendations: string[];
      }>(`/analytics?component=${component}`);
      const part = analytics.slice(analytics.indexOf(`\n${component}:`));
      expect(part).toContain(
        `summary: ${a.summary.total_requests} requests, average ${a.summary.average_response_time.toFixed(2)} ms, error rate ${pct(a.summary.error_rate)}`,
      );
      expect(part).toContain(`bottlenecks: ${a.bottlenecks.join(', ')}`);
      for (const r of a.recommendations) expect(part).toContain(`recommendation: ${r}`);
    }
    // The slow dependency and the degraded model are what the server points at.
    expect(analytics).toMatch(/marketplace:[\s\S]*bottlenecks: .*external_api_dependencies/);
    expect(analytics).toMatch(
      /recommendation:[\s\S]*bottlenecks: .*recommendation_model_(inference|scoring)/,
    );
  });

  it('business: the KPIs and targets are what GET /business-dashboard answers (enterprise key)', async () => {
    const business = section(stdout, 'Business dashboard');
    const d = await get<{
      kpis: Record<string, number>;
      trends: Record<string, string>;
      targets: Record<string, { current: number; target: number; achievement: number }>;
    }>('/business-dashboard', loginKey);
    expect(Object.keys(d.kpis)).toEqual(
      expect.arrayContaining([
        'purchase_revenue',
        'recommendation_generated',
        'recommendation_click_rate',
        'marketplace_conversion_rate',
        'monthly_recurring_revenue',
      ]),
    );
    for (const [name, value] of Object.entries(d.kpis)) {
      expect(business).toContain(`${name} ${value.toFixed(2)} (${d.trends[name]})`);
    }
    expect(business).toContain(
      'target monthly_recurring_revenue: 125000 of 150000 (achievement 0.83)',
    );
    for (const [name, t] of Object.entries(d.targets)) {
      expect(business).toContain(
        `target ${name}: ${t.current} of ${t.target} (achievement ${t.achievement})`,
      );
    }
    // Revenue the decorated checkout recorded: 19.50 an item, paid orders only.
    expect(d.kpis['purchase_revenue']! % 19.5).toBe(0);
  });

  it('alerts: the server rule is what GET /alerts answers', async () => {
    const alerts = section(stdout, 'Alerts');
    const a = await get<{
      alerts: { alert_id: string; name: string; state: string; acknowledged_by: string | null }[];
      history: { rule_id: string; event: string; by: string | null }[];
    }>('/alerts');
    expect(a.alerts).toHaveLength(1);
    const rule = a.alerts[0]!;
    expect(rule).toMatchObject({
      name: 'Recommendation Error Rate High (fleet)',
      acknowledged_by: 'demo-oncall',
    });
    expect(alerts).toContain(`rule ${rule.alert_id} "${rule.name}"`);
    const history = a.history
      .filter((e) => e.rule_id === rule.alert_id)
      .reverse()
      .map((e) => `${e.event}${e.by === null ? '' : ` by ${e.by}`}`);
    expect(history.slice(0, 3)).toEqual(['pending', 'firing', 'acknowledged by demo-oncall']);
    // Printed while the demo's server still evaluated: what it printed is where the history began.
    const printed = /history: (.*)/.exec(alerts)![1]!;
    expect(history.join(' -> ').startsWith(printed)).toBe(true);
  });

  it('trace: the waterfall is the trace GET /traces/{id} answers, nested', async () => {
    const traceSection = section(stdout, 'Trace');
    const id = /GET \/api\/v1\/monitoring\/traces\/([0-9a-f]{32})/.exec(traceSection)![1]!;
    const t = await get<{
      operation: string;
      total_duration_ms: number;
      spans: { name: string; duration_ms: number; status: string }[];
    }>(`/traces/${id}`);
    expect(t.operation).toBe('POST /api/checkout');
    expect(t.spans.map((s) => s.name)).toEqual([
      'checkout',
      'inventory_api_call',
      'payment_authorization',
    ]);
    expect(traceSection).toMatch(
      new RegExp(`^POST /api/checkout +${t.total_duration_ms.toFixed(1)} ms \\|█{40}\\| ok`, 'm'),
    );
    const depth = { checkout: 1, inventory_api_call: 2, payment_authorization: 2 };
    for (const s of t.spans) {
      const indent = '  '.repeat(depth[s.name as keyof typeof depth]);
      expect(traceSection).toMatch(
        new RegExp(`^${indent}${s.name} +${s.duration_ms.toFixed(1)} ms \\|[ █]{40}\\| ok`, 'm'),
      );
    }
    // Payment starts after the inventory call: its bar starts further right.
    const bar = (name: string): number =>
      new RegExp(`${name} +[\\d.]+ ms \\|( *)█`).exec(traceSection)![1]!.length;
    expect(bar('payment_authorization')).toBeGreaterThan(bar('inventory_api_call'));
  });
});

describe('npm run demo, interrupted during the load', () => {
  it('exits 0 on Ctrl-C, having closed the server and removed its temporary directory', async () => {
    const run = startDemo({ PRSM_DEMO_SECONDS: '30', PRSM_DEMO_STAY: '0' });
    let stdout = '';
    try {
      await run.waitFor(/incident: the model server times out/, 60_000);
    } finally {
      run.interrupt();
      expect(await run.exit).toBe(0);
      stdout = run.stdout();
    }
    const dir = /^data: {4}(\S+) \(/m.exec(stdout)![1]!;
    const serverUrl = /^server: {2}(http:\/\/127\.0\.0\.1:\d+) /m.exec(stdout)![1]!;
    expect(run.stderr()).toBe('');
    expect(stdout).toContain(
      `SIGINT: stopping the load, the service and the server\nstopped: service and server closed, ${dir} removed`,
    );
    expect(stdout).not.toContain('--- Health');
    expect(existsSync(dir)).toBe(false);
    expect(await refused(serverUrl)).toBe(true);
  }, 90_000);
});
