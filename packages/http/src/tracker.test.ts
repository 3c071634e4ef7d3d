/**
 * The request tracker on real Node HTTP servers on 127.0.0.1, driven by real clients
 * and raw sockets (pipelined requests, a client that goes away).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type TrackedRequest,
  trackedRequest,
  type TrackedRequestOwner,
  trackerFailures,
  watchServer,
} from './tracker.js';
import { pipelined, sleep, waitFor } from './test-support.js';

interface Ended {
  readonly url: string | undefined;
  readonly aborted: boolean;
  readonly followed: boolean;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/** An owner that lists what ended, claiming every request its server sees. */
function claimingOwner(): {
  owner: TrackedRequestOwner;
  ended: Ended[];
  errors: unknown[];
  claim: (req: IncomingMessage, res: ServerResponse) => TrackedRequest | undefined;
} {
  const ended: Ended[] = [];
  const errors: unknown[] = [];
  const owner: TrackedRequestOwner = {
    ended(tracked, aborted) {
      ended.push({ url: tracked.request.url, aborted, followed: tracked.followed });
    },
    failed(error) {
      errors.push(error);
    },
  };
  return {
    owner,
    ended,
    errors,
    claim: (req, res) => {
      const tracked = trackedRequest(req, res);
      if (tracked !== undefined) tracked.owner = owner;
      return tracked;
    },
  };
}

describe('request tracker (node:diagnostics_channel)', () => {
  it('follows a watched server only, from its next request; ends each request once at its finish', async () => {
    const { ended, claim } = claimingOwner();
    const claimed: (boolean | undefined)[] = [];
    const { server, url } = await serve((req, res) => {
      claimed.push(claim(req, res)?.followed);
      res.end('ok');
    });
    const other = await serve((req, res) => {
      claimed.push(trackedRequest(req, res)?.followed);
      res.end('other');
    });
    await (await fetch(`${url}/before`)).text();
    watchServer(server);
    watchServer(server); // idempotent
    watchServer(null);
    watchServer('not a server');
    for (const path of ['/a', '/b?x=1']) await (await fetch(url + path)).text();
    await (await fetch(`${other.url}/c`)).text();
    await waitFor(() => ended.length === 2);
    await sleep(20);
    expect(claimed).toEqual([undefined, true, true, undefined]);
    expect(ended).toEqual([
      { url: '/a', aborted: false, followed: true },
      { url: '/b?x=1', aborted: false, followed: true },
    ]);
  });

  it('ends pipelined requests in order, each with its own response', async () => {
    const { ended, claim } = claimingOwner();
    const seen: string[] = [];
    const { server, port } = await serve((req, res) => {
      const tracked = claim(req, res);
      seen.push(`${req.url} ${String(tracked?.response === res)}`);
      // Answered out of order: the second first. Node still sends them in order.
      setTimeout(() => res.end(req.url), req.url === '/1' ? 30 : 1);
    });
    watchServer(server);
    const text = await pipelined(port, ['/1', '/2', '/3']);
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(3);
    await waitFor(() => ended.length === 3);
    expect(seen).toEqual(['/1 true', '/2 true', '/3 true']);
    expect(ended.map((e) => [e.url, e.aborted])).toEqual([
      ['/1', false],
      ['/2', false],
      ['/3', false],
    ]);
  });

  it('ends what a closed connection had in flight as aborted, once, and a late answer adds nothing', async () => {
    const { ended, claim } = claimingOwner();
    const answers: (() => void)[] = [];
    const { server, port } = await serve((req, res) => {
      claim(req, res);
      answers.push(() => res.end('late'));
    });
    watchServer(server);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => answers.length === 1);
    socket.destroy();
    await waitFor(() => ended.length === 1);
    for (const answer of answers) answer();
    await sleep(30);
    expect(ended).toEqual([{ url: '/slow', aborted: true, followed: true }]);
  });

  it('counts an owner that throws and tells it, and goes on following', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const owner: TrackedRequestOwner = {
      ended() {
        calls++;
        throw new Error('owner bug');
      },
      failed(error) {
        errors.push(error);
      },
    };
    const { server, url } = await serve((req, res) => {
      const tracked = trackedRequest(req, res);
      if (tracked !== undefined) tracked.owner = owner;
      res.end('ok');
    });
    watchServer(server);
    const before = trackerFailures();
    for (let i = 0; i < 3; i++) expect(await (await fetch(url)).text()).toBe('ok');
    await waitFor(() => calls === 3);
    expect(trackerFailures() - before).toBe(3);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'owner bug',
      'owner bug',
      'owner bug',
    ]);
  });

  it('leaves requests no one claimed, and holds nothing once they end', async () => {
    const responses: ServerResponse[] = [];
    const { server, url } = await serve((req, res) => {
      responses.push(res);
      res.end('ok');
    });
    watchServer(server);
    for (let i = 0; i < 5; i++) await (await fetch(url)).text();
    await sleep(20);
    // Each has ended: the tracker finds none of them any more.
    expect(responses.map((res) => trackedRequest(undefined, res))).toEqual(
      responses.map(() => undefined),
    );
  });
});

describe('watchServer(server, prepare)', () => {
  it('calls prepare with each request before the server sees it; a prepare that throws is counted and the request is still followed', async () => {
    const seen: string[] = [];
    let fail = false;
    const { server, url } = await serve((req, res) => {
      seen.push(`${req.url} handler sees ${String((req as { prepared?: unknown }).prepared)}`);
      res.end(String(trackedRequest(req, res) !== undefined));
    });
    watchServer(server, (req) => {
      if (fail) throw new Error('prepare failed');
      (req as { prepared?: unknown }).prepared = req.url;
    });
    // The first prepare given for a server stays.
    watchServer(server, () => {
      throw new Error('never called');
    });
    const before = trackerFailures();
    expect(await (await fetch(`${url}/a`)).text()).toBe('true');
    fail = true;
    expect(await (await fetch(`${url}/b`)).text()).toBe('true');
    expect(seen).toEqual(['/a handler sees /a', '/b handler sees undefined']);
    expect(trackerFailures()).toBe(before + 1);
  });
});
