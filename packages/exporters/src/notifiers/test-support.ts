/**
 * Test helpers for the channels' tests: sample notifications, a real HTTP server on
 * 127.0.0.1 that records what it receives and answers as a test scripts it, a port
 * nothing listens on, and a sleep that records instead of waiting. Not exported from
 * the package.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';

import type { AlertNotification, NotifiedAlert } from '@prsm/core';

export const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);

export function makeAlert(overrides: Partial<NotifiedAlert> = {}): NotifiedAlert {
  const base: NotifiedAlert = {
    alertId: 'a-1',
    ruleId: 'api-error-rate',
    name: 'API Error Rate Critical',
    description: 'More than 10% of API requests fail',
    severity: 'critical',
    component: 'api_gateway',
    status: 'firing',
    condition: 'error_rate > 0.1',
    threshold: 0.1,
    value: 0.12,
    labels: {
      alertname: 'API Error Rate Critical',
      severity: 'critical',
      component: 'api_gateway',
    },
    annotations: {
      description: 'More than 10% of API requests fail',
      condition: 'error_rate > 0.1',
    },
    startsAt: T0 - 60_000,
  };
  return { ...base, ...overrides };
}

export function makeNotification(
  overrides: Partial<AlertNotification> = {},
  alerts: readonly NotifiedAlert[] = [makeAlert()],
): AlertNotification {
  return {
    id: 'n-1',
    channel: 'test',
    status: 'firing',
    groupKey: '{component="api_gateway"}',
    groupLabels: { component: 'api_gateway' },
    commonLabels: { component: 'api_gateway', severity: 'critical' },
    commonAnnotations: {},
    severity: 'critical',
    alerts,
    reason: 'group',
    timestamp: T0,
    ...overrides,
  };
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly rawBody: Buffer;
}

export type Responder = (request: Received, response: ServerResponse, index: number) => void;

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly requests: Received[];
  /** Replaces the responder. */
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** Answers `status` with `body` (default 200, "ok"). */
export function reply(status = 200, body = 'ok', headers: Record<string, string> = {}): Responder {
  return (_request, response) => {
    response.writeHead(status, headers).end(body);
  };
}

/** Answers each request with the next responder of the list, the last one for the rest. */
export function sequence(...responders: Responder[]): Responder {
  return (request, response, index) => {
    const responder = responders[Math.min(index, responders.length - 1)]!;
    responder(request, response, index);
  };
}

export async function startServer(responder: Responder = reply()): Promise<TestServer> {
  const requests: Received[] = [];
  let current = responder;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const received: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: rawBody.toString('utf8'),
        rawBody,
      };
      requests.push(received);
      current(received, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    requests,
    respond(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that was free a moment ago: connecting to it is refused. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

/** A sleep that records the delays asked for and returns at once (optionally moving a clock). */
export function recordingSleep(onSleep?: (ms: number) => void): {
  delays: number[];
  sleep: (ms: number) => Promise<void>;
} {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      onSleep?.(ms);
      return Promise.resolve();
    },
  };
}

/** A logger that keeps its lines. */
export function recordingLogger(): {
  lines: { message: string; context?: Record<string, unknown> }[];
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
} {
  const lines: { message: string; context?: Record<string, unknown> }[] = [];
  return {
    lines,
    warn: (message, context) => {
      lines.push({ message, ...(context === undefined ? {} : { context }) });
    },
    error: (message, context) => {
      lines.push({ message, ...(context === undefined ? {} : { context }) });
    },
  };
}
