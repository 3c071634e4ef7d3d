/**
 * Property tests of the alert lifecycle and notifications under random sequences of
 * values, clock jumps, acknowledgements and silences, on a ManualClock. The oracle is
 * a plain model of Prometheus's rule states, written independently of the engine.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertingMonitor, RecordingChannel } from './engine-test-support.js';

type Step =
  | { readonly kind: 'set'; readonly rule: number; readonly value: number | null }
  | { readonly kind: 'advance'; readonly seconds: number }
  | { readonly kind: 'ack'; readonly rule: number }
  | { readonly kind: 'silence'; readonly rule: number; readonly seconds: number };

const RULES = 3;

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    rule: fc.integer({ min: 0, max: RULES - 1 }),
    value: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 20 })),
  }),
  fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('ack' as const), rule: fc.integer({ min: 0, max: RULES - 1 }) }),
  fc.record({
    kind: fc.constant('silence' as const),
    rule: fc.integer({ min: 0, max: RULES - 1 }),
    seconds: fc.integer({ min: 1, max: 900 }),
  }),
);

interface ModelRule {
  state: 'inactive' | 'pending' | 'firing';
  activeAt: number;
  lastTrue: number;
}

describe('alert lifecycle under random operations (fast-check)', () => {
  it('matches the Prometheus state model, never throws, and resolves every notified alert', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.constantFrom(0, 60, 120),
        fc.constantFrom(0, 30, 90),
        async (steps, durationSeconds, keepFiringForSeconds) => {
          const slack = new RecordingChannel();
          const pager = new RecordingChannel();
          const { monitor, clock } = alertingMonitor({
            channels: { slack, pager },
            groupWaitSeconds: 10,
            groupIntervalSeconds: 60,
            repeatIntervalSeconds: 600,
            inhibitRules: [],
          });
          const gauges = Array.from({ length: RULES }, (_, i) =>
            monitor.gauge(`v${i}`, { component: `c${i}` }).bind(),
          );
          const ids = gauges.map(
            (_, i) =>
              monitor.alerts.create({
                name: `rule${i}`,
                severity: 'high',
                component: `c${i}`,
                condition: `v${i} > 10`,
                durationSeconds,
                keepFiringForSeconds,
                notificationChannels: ['slack'],
                escalationPolicy: { steps: [{ afterSeconds: 300, channels: ['pager'] }] },
                noData: 'keep',
              }).id,
          );
          // Gauges keep their last value: "no data" only before the first set.
          const values: (number | null)[] = ids.map(() => null);
          const model: ModelRule[] = ids.map(() => ({
            state: 'inactive',
            activeAt: 0,
            lastTrue: 0,
          }));
          const evaluate = (): void => {
            const now = clock.now();
            monitor.alerts.evaluate();
            model.forEach((m, i) => {
              const v = values[i];
              if (v === null || v === undefined) return; // noData: keep
              if (v > 10) {
                m.lastTrue = now;
                if (m.state === 'inactive') {
                  m.state = 'pending';
                  m.activeAt = now;
                }
                if (m.state === 'pending' && now - m.activeAt >= durationSeconds * 1000)
                  m.state = 'firing';
              } else if (m.state === 'pending') m.state = 'inactive';
              else if (m.state === 'firing' && now - m.lastTrue >= keepFiringForSeconds * 1000) {
                m.state = 'inactive';
              }
              expect(monitor.alerts.get(ids[i]!)?.state).toBe(m.state);
            });
          };
          for (const s of steps) {
            if (s.kind === 'set') {
              // null: no new value (a gauge keeps its last one; no data until the first).
              if (s.value !== null) {
                values[s.rule] = s.value;
                gauges[s.rule]!.set(s.value);
              }
            } else if (s.kind === 'advance') {
              clock.advance(s.seconds * 1000);
            } else if (s.kind === 'ack') {
              const alert = monitor.alerts.active().find((a) => a.ruleId === ids[s.rule]);
              if (alert !== undefined) monitor.alerts.acknowledge(alert.alertId, 'fuzz');
            } else {
              monitor.alerts.silence({
                matchers: [{ name: 'alertname', value: `rule${s.rule}` }],
                durationSeconds: s.seconds,
                createdBy: 'fuzz',
              });
            }
            evaluate();
            // Deliveries settle between ticks, as they do with a real tick: a channel
            // holds at most maxInFlightPerChannel (8) in flight and queues the rest.
            await monitor.alerts.flush();
          }
          // An acknowledged alert never escalates after its acknowledgement.
          for (const n of pager.received) {
            for (const a of n.alerts) {
              if (n.reason === 'escalation' && a.acknowledgedAt !== undefined) {
                expect(a.acknowledgedAt).toBeGreaterThan(n.timestamp);
              }
            }
          }
          // Everything clears: every alert any channel was told about gets a resolution there.
          gauges.forEach((g, i) => {
            g.set(0);
            values[i] = 0;
          });
          for (let i = 0; i < 4; i++) {
            clock.advance(1000 * Math.max(60, keepFiringForSeconds));
            evaluate();
            await monitor.alerts.flush();
          }
          expect(monitor.alerts.active()).toEqual([]);
          for (const channel of [slack, pager]) {
            const told = new Set<string>();
            const resolved = new Set<string>();
            for (const n of channel.received) {
              for (const a of n.alerts) {
                if (a.status === 'firing') told.add(a.alertId);
                if (a.status === 'resolved') resolved.add(a.alertId);
              }
            }
            expect([...told].filter((id) => !resolved.has(id))).toEqual([]);
          }
          // Grouped notifications to one group never repeat an unchanged content
          // within the repeat interval.
          const last = new Map<string, { content: string; at: number }>();
          for (const n of slack.received) {
            if (n.reason !== 'group' && n.reason !== 'repeat') continue;
            const content = n.alerts.map((a) => `${a.alertId}:${a.status}`).join(',');
            const previous = last.get(n.groupKey);
            if (previous !== undefined && previous.content === content) {
              expect(n.timestamp - previous.at).toBeGreaterThanOrEqual(600_000);
            }
            last.set(n.groupKey, { content, at: n.timestamp });
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a seed CI failed on (2026-11-28): nine notifications in one synchronous run, the ninth queued behind eight in flight', async () => {
    // Without flush() between evaluations nothing settles: the test saw only eight
    // of the nine notifications sent to slack. With it, the queued one is delivered.
    const slack = new RecordingChannel();
    const { monitor, clock } = alertingMonitor({
      channels: { slack },
      groupWaitSeconds: 10,
      groupIntervalSeconds: 60,
      repeatIntervalSeconds: 600,
    });
    const gauges = [0, 1, 2].map((i) => monitor.gauge(`v${i}`, { component: `c${i}` }).bind());
    for (const i of [0, 1, 2]) {
      monitor.alerts.create({
        name: `rule${i}`,
        severity: 'high',
        component: `c${i}`,
        condition: `v${i} > 10`,
        notificationChannels: ['slack'],
      });
    }
    for (const g of gauges) g.set(11);
    for (const seconds of [0, 10, 210, 390]) {
      clock.advance(seconds * 1000);
      monitor.alerts.evaluate();
    }
    for (const g of gauges) g.set(0);
    clock.advance(60_000);
    monitor.alerts.evaluate();
    expect(slack.received).toHaveLength(8); // 3 group, 3 repeat, 2 of 3 resolutions
    await monitor.alerts.flush();
    expect(slack.summary().slice(6)).toEqual([
      'resolved group [rule0:resolved]',
      'resolved group [rule1:resolved]',
      'resolved group [rule2:resolved]',
    ]);
    await monitor.shutdown();
  });
});
