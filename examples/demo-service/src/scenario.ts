/**
 * The demo's timeline, under load: healthy traffic; an incident (the model server
 * times out on every other call) during which an attacker tries passwords against
 * one account; recovery. The two error-rate rules fire (the service's within a
 * second, the server's once the exported minutes hold enough failures); on-call
 * acknowledges each (the service's in process, the server's with
 * `POST /alerts/{id}/acknowledge`); the service's resolves after the recovery. Every
 * notification the webhook receives is printed as it arrives.
 *
 * Phases are shares of `seconds`; the incident lasts until both rules fired and the
 * recovery until the service's rule resolved (each within a bounded wait), so a
 * short or slow run still shows the whole story.
 */
import type { Monitor } from '@prsm/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeWebhook, SERVICE_RULE, type WebhookReceiver } from './alerting.js';
import type { ApiClient } from './backend.js';
import { HEALTHY_TIMEOUT_EVERY } from './decorated-service.js';
import type { LoadGenerator } from './load.js';
import type { ServiceControls } from './service.js';

/** The attacker. */
export const ATTACKER = { user: 'user_admin', ip: '203.0.113.7', attempts: 6 } as const;

/** What happened. */
export interface ScenarioResult {
  readonly seconds: number;
  readonly serviceFired: boolean;
  readonly serverFired: boolean;
  readonly serviceResolved: boolean;
}

/** What the scenario needs. */
export interface ScenarioContext {
  readonly seconds: number;
  readonly load: LoadGenerator;
  readonly controls: ServiceControls;
  readonly monitor: Monitor;
  readonly receiver: WebhookReceiver;
  /** The REST API with the admin key. */
  readonly admin: ApiClient;
  readonly serverRuleId: string;
  /** Aborted on Ctrl-C. */
  readonly signal: AbortSignal;
}

/** Runs the timeline and prints it. */
export async function runScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { seconds, load, controls, monitor, receiver, admin, serverRuleId, signal } = ctx;
  const start = Date.now();
  const since = (at = Date.now()): string => `+${((at - start) / 1000).toFixed(1)} s`.padEnd(9);
  const log = (message: string, at?: number): void => console.log(`${since(at)} ${message}`);
  const elapsed = (): number => (Date.now() - start) / 1000;
  const until = async (done: () => boolean, atSeconds: number): Promise<boolean> => {
    while (!done() && elapsed() < atSeconds) await sleep(50, undefined, { signal });
    return done();
  };

  let serviceFired = false;
  let serverFired = false;
  let serviceResolved = false;
  const acknowledgements: Promise<void>[] = [];
  let over = false;
  receiver.onReceive((r) => {
    // What arrives after the timeline (during the report, or while the server stays up) is not printed.
    if (over) return;
    log(describeWebhook(r), r.at);
    const firing = r.payload?.status === 'firing' ? r.payload.alerts[0] : undefined;
    if (r.source === 'service' && firing !== undefined && firing.rule_id === SERVICE_RULE.id) {
      if (!serviceFired) {
        serviceFired = true;
        monitor.alerts.acknowledge(firing.alert_id, 'demo-oncall');
        log('service alert acknowledged by demo-oncall (monitor.alerts.acknowledge)');
      }
    } else if (
      r.source === 'server' &&
      firing !== undefined &&
      firing.rule_id === serverRuleId &&
      !serverFired
    ) {
      serverFired = true;
      acknowledgements.push(
        admin.post(`/alerts/${serverRuleId}/acknowledge`, { by: 'demo-oncall' }).then(
          (ack) =>
            log(
              `server alert acknowledged by demo-oncall (POST /alerts/{id}/acknowledge: ${ack.status})`,
            ),
          // Only when the demo is interrupted and the server closes first.
          (error: unknown) => log(`server alert not acknowledged: ${String(error)}`),
        ),
      );
    }
    if (r.source === 'service' && r.payload?.status === 'resolved') {
      serviceResolved ||= r.payload.alerts.some((a) => a.rule_id === SERVICE_RULE.id);
    }
  });

  load.start();
  log(`healthy traffic: the model server times out on 1 call in ${HEALTHY_TIMEOUT_EVERY}`);
  await until(() => false, seconds * 0.3);

  controls.setIncident(true);
  log(
    `incident: the model server times out on every other call (${load.requests} requests so far)`,
  );
  await until(() => false, seconds * 0.45);

  const statuses = await load.loginBurst(ATTACKER.user, ATTACKER.ip, ATTACKER.attempts);
  log(
    `attack: ${ATTACKER.attempts} failed logins for ${ATTACKER.user} from ${ATTACKER.ip}, answered ${statuses.join(' ')}`,
  );
  if (controls.locked.has(ATTACKER.user)) {
    log(`${ATTACKER.user} locked by security-bot after the brute-force incident (audited)`);
  }

  // Both rules must have fired before the recovery, within a bounded wait.
  await until(() => false, seconds * 0.7);
  if (!(await until(() => serviceFired && serverFired, seconds * 0.7 + 30))) {
    log(
      `no more waiting (30 s past the incident's share): ${serviceFired ? '' : 'the service rule did not fire; '}${serverFired ? '' : 'the server rule did not fire'}`,
    );
  }
  controls.setIncident(false);
  log(`recovery: the model server is healthy again (${load.requests} requests so far)`);

  await until(() => false, seconds);
  await until(() => serviceResolved, Math.max(seconds, elapsed()) + 15);
  await load.stop();
  await Promise.all(acknowledgements);
  over = true;
  log(`load stopped: ${load.requests} requests in ${load.visits} visits`);

  console.log('');
  console.table(
    [...load.routes].map(([route, s]) => ({
      route,
      requests: s.requests,
      answers: Object.entries(s.statuses)
        .map(([status, n]) => `${status === '0' ? 'none' : status} x${n}`)
        .join(', '),
    })),
  );
  return { seconds: elapsed(), serviceFired, serverFired, serviceResolved };
}
