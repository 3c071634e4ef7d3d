/** Helpers of this package's tests: real servers on 127.0.0.1, snapshot reads. */
import { createServer, type RequestListener, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Monitor, SeriesSnapshot } from '@prsm/core';

export interface Running {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function listen(handler: RequestListener): Promise<Running> {
  const server = createServer(handler);
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function series(monitor: Monitor, name: string): SeriesSnapshot[] {
  return monitor.snapshot({ digests: false }).series.filter((s) => s.name === name);
}

/** Total count of a timer/histogram or counter series set (cumulative). */
export function countOf(s: SeriesSnapshot): number {
  if (s.type === 'counter') return s.total;
  if (s.type === 'gauge') return s.value;
  return s.cumulative.count;
}

export async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends a request and destroys it once the server has it (a client disconnect). */
export function abortAfterSend(
  url: string,
  path: string,
  onSent: () => Promise<void>,
): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}${path}`);
    req.on('error', () => resolve());
    req.end();
    void onSent().then(() => {
      req.destroy();
      resolve();
    });
  });
}
