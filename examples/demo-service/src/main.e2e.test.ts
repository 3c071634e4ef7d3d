/**
 * `npm run demo`, run as it runs (Node, tsx, the @prsm/source condition) in a child
 * process with a smaller workload: it exits 0 on its own, prints both tables, and its
 * alerting section shows the local webhook receiving the rule's notifications, each
 * with a valid HMAC signature: firing, acknowledged, resolved.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const demoDir = fileURLToPath(new URL('..', import.meta.url));

describe('npm run demo', () => {
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    // execFile rejects on a non-zero exit code or a timeout.
    const result = await promisify(execFile)(
      process.execPath,
      ['--conditions=@prsm/source', '--import', 'tsx', 'src/main.ts'],
      {
        cwd: demoDir,
        env: { ...process.env, DEMO_CALLS: '3000', DEMO_REQUESTS: '160' },
        timeout: 25_000,
      },
    );
    stdout = result.stdout;
    stderr = result.stderr;
  }, 30_000);

  it('exits 0 after both tables, with no error output and no diagnostics', () => {
    expect(stderr).toBe('');
    expect(stdout).toContain('PRSM Monitor demo: 3000 calls over 3 operations');
    expect(stdout).toContain('@monitorPerformance: 160 requests');
    expect(stdout).toContain("the monitor's own diagnostics: {}");
    // The business section: decorated outcomes, sessions and a KPI with its target.
    expect(stdout).toMatch(/600 visitors; KPIs: .*purchase_revenue \d+\.\d\d/);
    expect(stdout).toContain(
      'target monthly_recurring_revenue: 125000 of 150000 (achievement 0.83)',
    );
    expect(stdout).toMatch(
      /user metrics: \{"session_duration_avg":1\.66+\d*,"pages_per_session":2,"bounce_rate":0\.4,/,
    );
    // The security section: the burst raises an incident and its alert; the trail verifies.
    expect(stdout).toContain('incident: [high] brute_force_user: 5 failed logins for user_admin');
    expect(stdout).toContain('alert firing: Security incident (high, component security)');
    expect(stdout).toMatch(/audit trail: 27 records, hash chain verified/);
    expect(stdout).not.toContain('letmein');
    // The health section: the spec's score and the sampled machine.
    expect(stdout).toMatch(/overall health score: \d+(\.\d)? \/ 100/);
    expect(stdout).toMatch(/system: cpu [\d.]+%, memory [\d.]+%, disk [\d.]+%/);
    // The Prometheus section: a scrape endpoint, scraped once, with summary quantiles.
    expect(stdout).toMatch(/scrape endpoint: http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(stdout).toMatch(
      /^ {2}checkout_seconds\{component="marketplace",region="eu-west",quantile="0\.99"\} \d/m,
    );
  });

  it('the webhook gets a signed firing notification for the rule, then the acknowledgement and the resolution', () => {
    const section = stdout.slice(stdout.indexOf('--- Alerting ---'));
    expect(section).toMatch(
      /rule "Recommendation Error Rate High" \(high, component recommendation\): error_rate > 10%/,
    );
    // The rule watched the whole run and stayed quiet until the incident.
    expect(section).toMatch(/after the traffic above: inactive .*, 0 notifications/);

    const line = (status: string): RegExpMatchArray => {
      const match = new RegExp(
        `webhook <- ${status} \\(reason (\\w+), signature verified\\): Recommendation Error Rate High \\[high\\] status=(\\w+) value=([\\d.]+)%(.*)`,
      ).exec(section);
      expect(match, `a ${status} notification in:\n${section}`).not.toBeNull();
      return match!;
    };
    const firing = line('FIRING');
    expect(firing[1]).toBe('group');
    expect(firing[2]).toBe('firing');
    expect(Number(firing[3])).toBeGreaterThan(10); // above the rule's threshold

    const acknowledged = line('ACKNOWLEDGED');
    expect(acknowledged[1]).toBe('acknowledgement');
    expect(acknowledged[4]).toContain('acknowledged_by=demo-oncall');

    const resolved = line('RESOLVED');
    expect(resolved[2]).toBe('resolved');
    expect(Number(resolved[3])).toBeLessThanOrEqual(10);

    expect(section.indexOf(firing[0])).toBeLessThan(section.indexOf(acknowledged[0]));
    expect(section.indexOf(acknowledged[0])).toBeLessThan(section.indexOf(resolved[0]));
    expect(section).not.toContain('REJECTED');
    expect(section).toMatch(
      /alert history: .*pending .*-> firing .*-> acknowledged by demo-oncall .*-> resolved/,
    );
    expect(section).toContain(
      'webhook: 3 requests received, 3 with a valid signature; engine: 3 sent, 3 delivered, 0 failed, 0 dropped',
    );
  });
});
