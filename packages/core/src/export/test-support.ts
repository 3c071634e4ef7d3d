/**
 * Test support for the export pipeline: a real HTTP receiver on 127.0.0.1 that keeps a
 * batch the first time it accepts its id (as a real one should) and records what it
 * saw. The exporter posting to it is in ./test-support-exporter.ts.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/** How the receiver answers request `n` (0-based): write a status, or never answer. */
export type Behaviour = (
  n: number,
) => { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  /** Every request's batch id, in arrival order (duplicates included). */
  ids: string[];
  /** Items of every accepted batch, each batch once. */
  items: unknown[];
  maxConcurrent: number;
  behave(b: Behaviour): void;
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

export async function receiver(
  behaviour: Behaviour = () => ({ status: 200 }),
  port = 0,
): Promise<Receiver> {
  const accepted = new Set<string>();
  let count = 0;
  let concurrent = 0;
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['x-batch-id']);
      state.ids.push(id);
      concurrent++;
      state.maxConcurrent = Math.max(state.maxConcurrent, concurrent);
      res.on('close', () => concurrent--);
      const answer = behaviour(count++);
      if (answer === 'hang') return;
      const send = (): void => {
        if (answer.status < 300 && !accepted.has(id)) {
          accepted.add(id);
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { items: unknown[] };
          state.items.push(...body.items);
        }
        res.writeHead(answer.status, answer.headers).end();
      };
      if (answer.delayMs === undefined) send();
      else setTimeout(send, answer.delayMs);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const state: Receiver = {
    port: (server.address() as AddressInfo).port,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`,
    ids: [],
    items: [],
    maxConcurrent: 0,
    behave(b) {
      behaviour = b;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return state;
}

export { httpExporter } from './test-support-exporter.js';
