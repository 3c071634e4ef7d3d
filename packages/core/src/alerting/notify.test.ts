import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import { Monitor } from '../monitor.js';
import { alertingMonitor, RecordingChannel, T0 } from './engine-test-support.js';

const SEC = 1000;
const MIN = 60_000;

/** A gauge-driven rule per name, so tests switch conditions by hand. */
function switches(monitor: Monitor, component = 'api_gateway') {
  return (name: string, on: boolean) =>
    monitor
      .gauge(`${name}.on`, { component })
      .bind()
      .set(on ? 1 : 0);
}

describe('grouping, deduplication and repeats (Alertmanager model)', () => {
  it('waits groupWait, batches a component, sends changes every groupInterval and repeats unchanged ones', () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 30,
      groupIntervalSeconds: 300,
      repeatIntervalSeconds: 3600,
    });
    const set = switches(monitor);
    for (const n of ['a', 'b', 'c']) {
      monitor.alerts.create({
        name: n,
        severity: 'high',
        component: 'api_gateway',
        condition: `${n}.on > 0`,
      });
    }
    set('a', true);
    monitor.alerts.evaluate();
    clock.advance(10 * SEC);
    set('b', true);
    monitor.alerts.evaluate();
    expect(slack.received).toEqual([]); // still within group_wait
    clock.advance(20 * SEC);
    monitor.alerts.evaluate();
    expect(slack.summary()).toEqual(['firing group [a:firing, b:firing]']);
    expect(slack.received[0]).toMatchObject({
      channel: 'slack',
      groupKey: '{component="api_gateway"}',
      groupLabels: { component: 'api_gateway' },
      commonLabels: { component: 'api_gateway', severity: 'high' },
      severity: 'high',
      timestamp: T0 + 30 * SEC,
    });
    // Unchanged: nothing more (deduplicated), however often we evaluate.
    for (let i = 0; i < 10; i++) {
      clock.advance(10 * SEC);
      monitor.alerts.evaluate();
    }
    expect(slack.received).toHaveLength(1);
    // A new alert joins: sent at the next group interval, not before.
    set('c', true);
    clock.advance(10 * SEC); // T0 + 140 s
    monitor.alerts.evaluate();
    expect(slack.received).toHaveLength(1);
    clock.set(T0 + 330 * SEC);
    monitor.alerts.evaluate();
    expect(slack.summary()[1]).toBe('firing group [a:firing, b:firing, c:firing]');
    // A resolution goes out with the group at its next interval.
    set('a', false);
    clock.set(T0 + 400 * SEC);
    monitor.alerts.evaluate();
    expect(slack.received).toHaveLength(2);
    clock.set(T0 + 630 * SEC);
    monitor.alerts.evaluate();
    expect(slack.summary()[2]).toBe('firing group [b:firing, c:firing, a:resolved]');
    // Unchanged for repeatInterval: repeated.
    clock.set(T0 + 630 * SEC + 3600 * SEC);
    monitor.alerts.evaluate();
    expect(slack.summary()[3]).toBe('firing repeat [b:firing, c:firing]');
    set('b', false);
    set('c', false);
    clock.advance(300 * SEC);
    monitor.alerts.evaluate();
    expect(slack.summary()[4]).toBe('resolved group [b:resolved, c:resolved]');
    clock.advance(3 * 3600 * SEC);
    monitor.alerts.evaluate();
    expect(slack.received).toHaveLength(5);
  });

  it('groups by component and the configured labels, separately per channel', () => {
    const slack = new RecordingChannel();
    const email = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack, email },
      groupBy: ['team'],
      groupWaitSeconds: 0,
    });
    const rules = [
      { n: 'a', component: 'api', team: 'core' },
      { n: 'b', component: 'api', team: 'core' },
      { n: 'c', component: 'api', team: 'growth' },
      { n: 'd', component: 'db', team: 'core' },
    ];
    for (const r of rules) {
      monitor.gauge(`${r.n}.on`, { component: r.component }).bind().set(1);
      monitor.alerts.create({
        name: r.n,
        severity: 'medium',
        component: r.component,
        condition: `${r.n}.on > 0`,
        labels: { team: r.team },
        notificationChannels: r.n === 'd' ? ['email'] : ['slack', 'email'],
      });
    }
    monitor.alerts.evaluate();
    clock.advance(SEC);
    const keys = (ch: RecordingChannel) =>
      ch.received.map((n) => `${n.groupKey} ${n.alerts.map((a) => a.name).join('')}`).sort();
    expect(keys(slack)).toEqual([
      '{component="api",team="core"} ab',
      '{component="api",team="growth"} c',
    ]);
    expect(keys(email)).toEqual([
      '{component="api",team="core"} ab',
      '{component="api",team="growth"} c',
      '{component="db",team="core"} d',
    ]);
  });

  it('routes a rule without channels by its severity: configured routes, or the defaults that exist', () => {
    const pagerduty = new RecordingChannel();
    const slack = new RecordingChannel();
    const webhook = new RecordingChannel();
    const { monitor } = alertingMonitor({
      channels: { pagerduty, slack, webhook },
      groupWaitSeconds: 0,
      routes: { info: [] },
    });
    const set = switches(monitor);
    const sev = ['critical', 'high', 'low', 'info'] as const;
    for (const s of sev) {
      monitor.alerts.create({
        name: s,
        severity: s,
        component: 'api_gateway',
        condition: `${s}.on > 0`,
      });
      set(s, true);
    }
    monitor.alerts.create({
      name: 'pinned',
      severity: 'critical',
      component: 'other',
      condition: 'pinned.on > 0',
      notificationChannels: ['webhook'],
    });
    monitor.gauge('pinned.on', { component: 'other' }).bind().set(1);
    monitor.alerts.evaluate();
    const names = (ch: RecordingChannel) =>
      ch.received.flatMap((n) => n.alerts.map((a) => a.name)).sort();
    // critical → pagerduty, sms (absent), slack, email (absent), webhook; high → slack, webhook;
    // low → webhook; info → none (configured empty). The critical alert inhibits high and low.
    expect(names(pagerduty)).toEqual(['critical']);
    expect(names(slack)).toEqual(['critical']);
    expect(names(webhook)).toEqual(['critical', 'pinned']);
    expect(monitor.alerts.active().find((a) => a.name === 'high')?.inhibitedBy).toHaveLength(1);
  });
});

describe('inhibition and silences', () => {
  it('a firing critical mutes lower severities on its component only, until it resolves', () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 0,
      groupIntervalSeconds: 60,
    });
    const set = switches(monitor);
    monitor.alerts.create({
      name: 'outage',
      severity: 'critical',
      component: 'api_gateway',
      condition: 'outage.on > 0',
    });
    monitor.alerts.create({
      name: 'slow',
      severity: 'high',
      component: 'api_gateway',
      condition: 'slow.on > 0',
    });
    monitor.alerts.create({
      name: 'db-slow',
      severity: 'high',
      component: 'database',
      condition: 'dbslow.on > 0',
    });
    monitor.gauge('dbslow.on', { component: 'database' }).bind().set(1);
    set('outage', true);
    set('slow', true);
    monitor.alerts.evaluate();
    const outage = monitor.alerts.active().find((a) => a.name === 'outage')!;
    expect(monitor.alerts.active().find((a) => a.name === 'slow')?.inhibitedBy).toEqual([
      outage.alertId,
    ]);
    expect(monitor.alerts.active().find((a) => a.name === 'db-slow')?.inhibitedBy).toEqual([]);
    expect(slack.summary().sort()).toEqual([
      'firing group [db-slow:firing]',
      'firing group [outage:firing]',
    ]);
    set('outage', false);
    clock.advance(MIN);
    monitor.alerts.evaluate();
    expect(slack.summary()[2]).toBe('firing group [slow:firing, outage:resolved]');
  });

  it('custom inhibit rules; an empty list disables inhibition', () => {
    const slack = new RecordingChannel();
    const { monitor } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 0,
      inhibitRules: [],
    });
    const set = switches(monitor);
    monitor.alerts.create({
      name: 'outage',
      severity: 'critical',
      component: 'api_gateway',
      condition: 'outage.on > 0',
    });
    monitor.alerts.create({
      name: 'slow',
      severity: 'high',
      component: 'api_gateway',
      condition: 'slow.on > 0',
    });
    set('outage', true);
    set('slow', true);
    monitor.alerts.evaluate();
    expect(slack.summary()).toEqual(['firing group [outage:firing, slow:firing]']);
  });

  it('silences mute matching alerts until they expire; validation names the field', () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 0,
      groupIntervalSeconds: 60,
    });
    const set = switches(monitor, 'database');
    monitor.alerts.create({
      name: 'replica lag',
      severity: 'medium',
      component: 'database',
      condition: 'lag.on > 0',
      escalationPolicy: { steps: [{ afterSeconds: 0, channels: ['slack'] }] },
    });
    const silence = monitor.alerts.silence({
      matchers: [
        { name: 'component', value: 'database' },
        { name: 'severity', type: '=~', value: 'medium|low' },
      ],
      durationSeconds: 600,
      createdBy: 'ana',
      comment: 'planned failover',
    });
    expect(silence).toMatchObject({
      startsAt: T0,
      endsAt: T0 + 600 * SEC,
      createdBy: 'ana',
      comment: 'planned failover',
    });
    expect(monitor.alerts.silences()).toEqual([silence]);
    set('lag', true);
    monitor.alerts.evaluate();
    expect(monitor.alerts.active()[0]).toMatchObject({
      state: 'firing',
      silencedBy: [silence.id],
      escalationStep: -1,
    });
    expect(slack.received).toEqual([]);
    clock.advance(600 * SEC);
    monitor.alerts.evaluate();
    expect(monitor.alerts.silences()).toEqual([]);
    expect(slack.summary()).toEqual([
      'firing group [replica lag:firing]',
      'firing escalation [replica lag:firing]',
    ]);

    // expireSilence ends one early.
    const s2 = monitor.alerts.silence({
      matchers: [{ name: 'alertname', value: 'x' }],
      endsAt: T0 + 10_000 * SEC,
      createdBy: 'bo',
    });
    expect(monitor.alerts.expireSilence(s2.id)).toBe(true);
    expect(monitor.alerts.expireSilence(s2.id)).toBe(false);

    const bad: [unknown, RegExp][] = [
      [{ matchers: [], durationSeconds: 1, createdBy: 'a' }, /matchers must be a non-empty array/],
      [
        { matchers: [{ name: 'a', value: 'b', type: '~' }], durationSeconds: 1, createdBy: 'a' },
        /matchers\[0\].type must be one of/,
      ],
      [
        { matchers: [{ name: 'a', value: 'b' }], createdBy: 'a' },
        /needs endsAt or durationSeconds/,
      ],
      [
        { matchers: [{ name: 'a', value: 'b' }], endsAt: T0, createdBy: 'a' },
        /endsAt must be a time in ms after startsAt/,
      ],
      [
        { matchers: [{ name: 'a', value: 'b' }], durationSeconds: 5 },
        /createdBy must be a non-empty string/,
      ],
    ];
    for (const [input, error] of bad) {
      // @ts-expect-error -- deliberately malformed input
      expect(() => monitor.alerts.silence(input)).toThrow(error);
    }
  });
});

describe('escalation and acknowledgement', () => {
  it('climbs the steps while unacknowledged, stops on acknowledge, and resolves to every notified channel', () => {
    const slack = new RecordingChannel();
    const pagerduty = new RecordingChannel();
    const sms = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack, pagerduty, sms },
      groupWaitSeconds: 0,
      groupIntervalSeconds: 60,
      escalationPolicies: {
        oncall: {
          steps: [
            { afterSeconds: 600, channels: ['pagerduty'] },
            { afterSeconds: 1800, channels: ['sms'] },
          ],
        },
      },
    });
    const set = switches(monitor);
    const rule = monitor.alerts.create({
      name: 'down',
      severity: 'critical',
      component: 'api_gateway',
      condition: 'down.on > 0',
      notificationChannels: ['slack'],
      escalationPolicy: 'oncall',
    });
    set('down', true);
    monitor.alerts.evaluate();
    expect(slack.received).toHaveLength(1);
    clock.advance(599 * SEC);
    monitor.alerts.evaluate();
    expect(pagerduty.received).toEqual([]);
    clock.advance(SEC);
    monitor.alerts.evaluate();
    expect(pagerduty.summary()).toEqual(['firing escalation [down:firing]']);
    expect(pagerduty.received[0]?.escalationStep).toBe(0);
    const [alert] = monitor.alerts.active();
    expect(alert?.escalationStep).toBe(0);
    const acked = monitor.alerts.acknowledge(alert!.alertId, 'ana');
    expect(acked).toMatchObject({ acknowledgedBy: 'ana', acknowledgedAt: T0 + 600 * SEC });
    expect(monitor.alerts.acknowledge(alert!.alertId, 'bo')?.acknowledgedBy).toBe('ana');
    expect(monitor.alerts.acknowledge('no-such-alert', 'ana')).toBeUndefined();
    expect(() => monitor.alerts.acknowledge(alert!.alertId, '')).toThrow(/by must be/);
    expect(slack.summary()[1]).toBe('acknowledged acknowledgement [down:acknowledged]');
    expect(pagerduty.summary()[1]).toBe('acknowledged acknowledgement [down:acknowledged]');
    clock.advance(3600 * SEC);
    monitor.alerts.evaluate();
    expect(sms.received).toEqual([]); // acknowledged: no further step
    set('down', false);
    clock.advance(MIN);
    monitor.alerts.evaluate();
    expect(slack.summary().at(-1)).toBe('resolved group [down:resolved]');
    expect(pagerduty.summary().at(-1)).toBe('resolved resolution [down:resolved]');
    expect(sms.received).toEqual([]);
    expect(monitor.alerts.history({ ruleId: rule.id }).map((e) => e.event)).toEqual([
      'pending',
      'firing',
      'escalated',
      'acknowledged',
      'resolved',
    ]);
  });

  it('reaches every step when nobody acknowledges, in order, even across one long gap', () => {
    const a = new RecordingChannel();
    const b = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({ channels: { a, b }, routes: { high: [] } });
    switches(monitor)('x', true);
    monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
      escalationPolicy: {
        steps: [
          { afterSeconds: 0, channels: ['a'] },
          { afterSeconds: 60, channels: ['b'] },
          { afterSeconds: 120, channels: ['a', 'b'] },
        ],
      },
    });
    monitor.alerts.evaluate();
    expect(a.received.map((n) => n.escalationStep)).toEqual([0]);
    clock.advance(10 * MIN);
    monitor.alerts.evaluate();
    expect(a.received.map((n) => n.escalationStep)).toEqual([0, 2]);
    expect(b.received.map((n) => n.escalationStep)).toEqual([1, 2]);
    expect(
      monitor.alerts
        .history()
        .filter((e) => e.event === 'escalated')
        .map((e) => e.escalationStep),
    ).toEqual([0, 1, 2]);
  });

  it('deleting a firing rule resolves it to the channels that were told', () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 0,
      groupIntervalSeconds: 60,
    });
    switches(monitor)('x', true);
    const rule = monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
    });
    monitor.alerts.evaluate();
    monitor.alerts.delete(rule.id);
    expect(monitor.alerts.active()).toEqual([]);
    clock.advance(MIN);
    monitor.alerts.evaluate();
    expect(slack.summary()).toEqual(['firing group [x:firing]', 'resolved group [x:resolved]']);
    expect(monitor.alerts.history().map((e) => e.event)).toEqual([
      'pending',
      'firing',
      'rule_deleted',
    ]);
  });
});

describe('stream channels (Alertmanager)', () => {
  it('gets every firing alert at once and every resendInterval, and each resolution once', () => {
    const am = new RecordingChannel('stream');
    const { monitor, clock } = alertingMonitor({
      channels: { alertmanager: am },
      resendIntervalSeconds: 60,
    });
    const set = switches(monitor);
    monitor.alerts.create({
      name: 'a',
      severity: 'high',
      component: 'api_gateway',
      condition: 'a.on > 0',
    });
    monitor.alerts.create({
      name: 'b',
      severity: 'low',
      component: 'api_gateway',
      condition: 'b.on > 0',
    });
    set('a', true);
    monitor.alerts.evaluate();
    expect(am.summary()).toEqual(['firing group [a:firing]']);
    clock.advance(30 * SEC);
    set('b', true);
    monitor.alerts.evaluate();
    expect(am.summary()[1]).toBe('firing group [b:firing]');
    clock.advance(30 * SEC);
    monitor.alerts.evaluate();
    expect(am.summary()[2]).toBe('firing group [a:firing]');
    set('a', false);
    clock.advance(10 * SEC);
    monitor.alerts.evaluate();
    expect(am.summary()[3]).toBe('resolved resolution [a:resolved]');
    expect(am.received[3]?.alerts[0]?.endsAt).toBe(T0 + 70 * SEC);
    clock.advance(10 * SEC);
    monitor.alerts.evaluate();
    expect(am.received).toHaveLength(4);
  });
});

describe('faulty channels never hold up the engine', () => {
  it('a throwing, rejecting or hanging channel delays nothing else; failures and drops are counted', async () => {
    const good = new RecordingChannel();
    const throws = new RecordingChannel();
    throws.behaviour = 'throw';
    const rejects = new RecordingChannel();
    rejects.behaviour = 'reject';
    const fails = new RecordingChannel();
    fails.behaviour = 'fail';
    const hangs = new RecordingChannel();
    hangs.behaviour = 'hang';
    const warnings: string[] = [];
    const { monitor, clock } = alertingMonitor(
      {
        channels: { good, throws, rejects, fails, hangs },
        groupWaitSeconds: 0,
        groupIntervalSeconds: 1,
        maxInFlightPerChannel: 2,
        maxQueuedPerChannel: 10,
      },
      { logger: { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) } },
    );
    const channels = ['good', 'throws', 'rejects', 'fails', 'hangs'];
    for (let i = 0; i < 12; i++) {
      monitor.alerts.create({
        name: `r${i}`,
        severity: 'high',
        component: `c${i}`,
        condition: `r${i}.on > 0`,
        notificationChannels: channels,
      });
      monitor
        .gauge(`r${i}.on`, { component: `c${i}` })
        .bind()
        .set(1);
    }
    const summary = monitor.alerts.evaluate();
    expect(summary.firing).toBe(12);
    expect(summary.notifications).toBe(60);
    await new Promise((r) => setImmediate(r));
    let stats = monitor.alerts.deliveryStats();
    expect(stats['good']).toEqual({
      sent: 12,
      delivered: 12,
      failed: 0,
      dropped: 0,
      inFlight: 0,
      queued: 0,
    });
    // Two in flight forever, the other ten waiting: nothing lost yet.
    expect(stats['hangs']).toEqual({
      sent: 2,
      delivered: 0,
      failed: 0,
      dropped: 0,
      inFlight: 2,
      queued: 10,
    });
    // Acknowledging every alert sends twelve more to each channel: the hanging one's queue is full.
    for (const alert of monitor.alerts.active()) monitor.alerts.acknowledge(alert.alertId, 'ana');
    await new Promise((r) => setImmediate(r));
    stats = monitor.alerts.deliveryStats();
    expect(stats['good']).toEqual({
      sent: 24,
      delivered: 24,
      failed: 0,
      dropped: 0,
      inFlight: 0,
      queued: 0,
    });
    for (const bad of ['throws', 'rejects', 'fails']) {
      expect(stats[bad]).toEqual({
        sent: 24,
        delivered: 0,
        failed: 24,
        dropped: 0,
        inFlight: 0,
        queued: 0,
      });
    }
    expect(stats['hangs']).toEqual({
      sent: 2,
      delivered: 0,
      failed: 0,
      dropped: 12,
      inFlight: 2,
      queued: 10,
    });
    expect(good.received).toHaveLength(24);
    expect(monitor.diagnostics.count(DiagnosticCode.NOTIFICATION_FAILED)).toBe(72);
    expect(monitor.diagnostics.count(DiagnosticCode.NOTIFICATION_DROPPED)).toBe(12);
    // The logger gets the first failure (then every 10th, 100th...: rate-limited).
    expect(warnings[0]).toMatch(
      /^\[PRSM_NOTIFICATION_FAILED\] channel \w+ \(recording\): notification [0-9a-f-]{36} not delivered after \d attempt\(s\): /,
    );
    const total = (channel: string, outcome: string): number => {
      const s = monitor
        .snapshot()
        .series.find(
          (x) =>
            x.name === 'prsm.alerts.notifications' &&
            x.tags['channel'] === channel &&
            x.tags['outcome'] === outcome,
        );
      return s?.type === 'counter' ? s.total : 0;
    };
    expect(total('good', 'delivered')).toBe(24);
    expect(total('rejects', 'failed')).toBe(24);
    expect(total('hangs', 'dropped')).toBe(12);
    // The engine goes on evaluating.
    clock.advance(SEC);
    expect(() => monitor.alerts.evaluate()).not.toThrow();
  });

  it('shutdown stops the tick, waits for deliveries, shuts channels down, and drops later sends', async () => {
    const slow = new RecordingChannel();
    const { monitor } = alertingMonitor({ channels: { slow }, groupWaitSeconds: 0 });
    switches(monitor)('x', true);
    monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
      notificationChannels: ['slow'],
    });
    monitor.alerts.evaluate();
    await monitor.shutdown();
    expect(slow.shutdowns).toBe(1);
    expect(monitor.alerts.deliveryStats()['slow']).toMatchObject({ delivered: 1, inFlight: 0 });
    monitor.alerts.acknowledge(monitor.alerts.active()[0]!.alertId, 'ana');
    expect(monitor.alerts.deliveryStats()['slow']).toMatchObject({ dropped: 1 });
  });
});

describe('shutdown and deletion deliver what is owed', () => {
  it('a channel that never answers delays shutdown only by shutdownTimeoutSeconds plus its own shutdown', async () => {
    const hangs = new RecordingChannel();
    hangs.behaviour = 'hang';
    const { monitor } = alertingMonitor({
      channels: { hangs },
      groupWaitSeconds: 0,
      shutdownTimeoutSeconds: 0.05,
    });
    switches(monitor)('x', true);
    monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
      notificationChannels: ['hangs'],
    });
    monitor.alerts.evaluate();
    await monitor.shutdown(); // would never end if it waited for the delivery
    expect(hangs.shutdowns).toBe(1);
    expect(monitor.alerts.deliveryStats()['hangs']).toMatchObject({ sent: 1, inFlight: 1 });
  });

  it('delivers notifications still queued at shutdown, and the resolutions groups hold', async () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 0,
      maxInFlightPerChannel: 1,
    });

    for (const n of ['a', 'b', 'c']) {
      monitor.alerts.create({
        name: n,
        severity: 'high',
        component: `c-${n}`,
        condition: `${n}.on > 0`,
      });
      monitor
        .gauge(`${n}.on`, { component: `c-${n}` })
        .bind()
        .set(1);
    }
    monitor.alerts.evaluate(); // three groups: one in flight, two queued
    expect(monitor.alerts.deliveryStats()['slack']).toMatchObject({ inFlight: 1, queued: 2 });
    monitor.gauge('a.on', { component: 'c-a' }).bind().set(0);
    clock.advance(1000);
    monitor.alerts.evaluate(); // resolved; its group interval (300 s) has not passed
    await monitor.shutdown();
    expect(slack.summary().sort()).toEqual([
      'firing group [a:firing]',
      'firing group [b:firing]',
      'firing group [c:firing]',
      'resolved resolution [a:resolved]',
    ]);
    expect(monitor.alerts.deliveryStats()['slack']).toMatchObject({
      sent: 4,
      delivered: 4,
      dropped: 0,
    });
  });

  it('shutdown never rejects, even when the clock throws while groups still hold resolutions', async () => {
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({ channels: { slack }, groupWaitSeconds: 0 });
    const set = switches(monitor);
    monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
    });
    set('x', true);
    monitor.alerts.evaluate();
    set('x', false);
    clock.advance(1000);
    monitor.alerts.evaluate(); // resolved, held by its group
    clock.now = () => {
      throw new Error('clock broke');
    };
    await expect(monitor.shutdown()).resolves.toBeUndefined();
    expect(monitor.diagnostics.count(DiagnosticCode.INTERNAL_ERROR)).toBeGreaterThan(0);
    expect(slack.shutdowns).toBe(1);
  });

  it('deleting a firing rule sends its resolution to stream channels at once', async () => {
    const am = new RecordingChannel('stream');
    const { monitor } = alertingMonitor({ channels: { alertmanager: am } });
    switches(monitor)('x', true);
    const rule = monitor.alerts.create({
      name: 'x',
      severity: 'high',
      component: 'api_gateway',
      condition: 'x.on > 0',
    });
    monitor.alerts.evaluate();
    monitor.alerts.delete(rule.id);
    await monitor.alerts.flush();
    expect(am.summary()).toEqual(['firing group [x:firing]', 'resolved resolution [x:resolved]']);
  });
});

describe('the evaluation tick', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('evaluates every evaluationIntervalSeconds on an unref’d timer once a rule exists, until shutdown', async () => {
    // Fake timers drive setInterval only; the monitor's own clock is a ManualClock.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { monitor } = alertingMonitor({ evaluationIntervalSeconds: 10 });
    monitor.gauge('x.on', { component: 'c' }).bind().set(1);
    expect(vi.getTimerCount()).toBe(0);
    const rule = monitor.alerts.create({
      name: 'x',
      severity: 'low',
      component: 'c',
      condition: 'x.on > 0',
    });
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(9_999);
    expect(monitor.alerts.get(rule.id)?.state).toBe('inactive');
    vi.advanceTimersByTime(1);
    expect(monitor.alerts.get(rule.id)?.state).toBe('firing');
    await monitor.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('defaults to a 10 s tick; 0 turns it off', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    // The alert tick alone.
    const m = new Monitor({
      health: { resources: false },
      analytics: { sampleEveryMinute: false },
    });
    m.alerts.create({ name: 'x', severity: 'low', condition: 'throughput > 1' });
    expect(vi.getTimerCount()).toBe(1);
    await m.shutdown();
    const off = alertingMonitor({ evaluationIntervalSeconds: 0 }).monitor;
    off.alerts.create({ name: 'x', severity: 'low', condition: 'throughput > 1' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps history bounded and counts what it drops', () => {
    const { monitor, clock } = alertingMonitor({ maxHistory: 5 });
    const set = switches(monitor);
    monitor.alerts.create({
      name: 'x',
      severity: 'low',
      component: 'api_gateway',
      condition: 'x.on > 0',
    });
    for (let i = 0; i < 10; i++) {
      set('x', i % 2 === 0);
      clock.advance(SEC);
      monitor.alerts.evaluate();
    }
    const history = monitor.alerts.history();
    expect(history).toHaveLength(5);
    expect(history.at(-1)?.at).toBe(T0 + 10 * SEC);
    expect(monitor.diagnostics.count(DiagnosticCode.ALERT_HISTORY_DROPPED)).toBe(10);
    expect(monitor.alerts.history({ limit: 2 })).toEqual(history.slice(3));
  });
});
