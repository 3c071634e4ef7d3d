import { spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express5 from 'express';
import express4 from 'express4';
import type { Request, Response } from 'express';
import { Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { prsmExpress } from './middleware.js';

const majors = [
  ['express 4', express4, '4'],
  ['express 5', express5, '5'],
] as const;

interface Seen {
  readonly own: Record<string, boolean>;
  readonly statusCode: unknown;
}

/** What a subscriber after ours sees of each request at its start, and the answers. */
async function drive(
  app: ReturnType<typeof express5>,
  count: number,
): Promise<{ seen: Seen[]; bodies: string[] }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies: string[] = [];
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: `/users/${i}?q=${i}`, agent }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          bodies.push(body);
          resolve();
        });
      }).on('error', reject);
    });
  const seen: Seen[] = [];
  const names = ['next', 'baseUrl', 'originalUrl', 'params', 'route', 'query', 'locals'];
  const watch = (message: unknown): void => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const own: Record<string, boolean> = {};
    for (const name of names)
      own[name] = Object.hasOwn(name === 'locals' ? response : request, name);
    seen.push({
      own,
      statusCode: Object.hasOwn(response, 'statusCode') ? response.statusCode : 'inherited',
    });
  };
  try {
    // The first request has the middleware find the server (and subscribe the tracker
    // before this test's subscriber, as in an app that has served a request).
    await one(0);
    subscribe('http.server.request.start', watch);
    for (let i = 1; i < count; i++) await one(i);
  } finally {
    unsubscribe('http.server.request.start', watch);
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  return { seen, bodies };
}

function userApp(
  make: typeof express5,
  options: { shapeRequests?: boolean },
): ReturnType<typeof express5> {
  const app = make();
  app.use(prsmExpress({ monitor: new Monitor({ health: { resources: false } }), ...options }));
  app.get('/users/:id', (req: Request, res: Response) => {
    res.locals['user'] = req.params['id'];
    res.json({
      id: req.params['id'],
      q: (req.query as Record<string, unknown>)['q'],
      route: (req.route as { path?: unknown } | undefined)?.path,
      baseUrl: req.baseUrl,
      originalUrl: req.originalUrl,
      locals: res.locals['user'] as unknown,
    });
  });
  return app;
}

describe('shapeRequests', () => {
  for (const [label, make, major] of majors) {
    it(`${label}: requests get Express's properties before the app sees them, and answer the same`, async () => {
      const shaped = await drive(userApp(make, {}), 4);
      const plain = await drive(userApp(make, { shapeRequests: false }), 4);
      // Same answers either way, params, query and locals included.
      expect(shaped.bodies).toEqual(plain.bodies);
      expect(JSON.parse(shaped.bodies[3]!)).toEqual({
        id: '3',
        q: '3',
        route: '/users/:id',
        baseUrl: '',
        originalUrl: '/users/3?q=3',
        locals: '3',
      });
      expect(shaped.seen).toHaveLength(3);
      for (const s of shaped.seen) {
        expect(s.own).toEqual({
          next: true,
          baseUrl: true,
          originalUrl: true,
          params: true,
          route: true,
          // Express 5 reads `req.query` through a getter of its request prototype: not shadowed.
          query: major === '4',
          locals: true,
        });
        // The value the response inherits from Node's prototype, copied.
        expect(s.statusCode).toBe(200);
      }
      for (const s of plain.seen) {
        expect(Object.values(s.own).every((own) => !own)).toBe(true);
        expect(s.statusCode).toBe('inherited');
      }
    });
  }

  it("an accessor of the app's request prototype is never shadowed", async () => {
    const app = userApp(express5, {});
    const stored = new WeakMap<object, unknown>();
    Object.defineProperty(app.request, 'originalUrl', {
      configurable: true,
      get(this: object) {
        return stored.get(this);
      },
      set(this: object, value: unknown) {
        stored.set(this, `seen:${String(value)}`);
      },
    });
    const { seen, bodies } = await drive(app, 3);
    for (const s of seen) {
      expect(s.own['originalUrl']).toBe(false);
      expect(s.own['params']).toBe(true);
    }
    expect((JSON.parse(bodies[2]!) as { originalUrl: string }).originalUrl).toBe(
      'seen:/users/2?q=2',
    );
  });

  it('a value that is not a boolean is a TypeError', () => {
    expect(() => prsmExpress({ shapeRequests: 'yes' as unknown as boolean })).toThrow(
      new TypeError('prsmExpress: shapeRequests must be a boolean'),
    );
  });

  describe('V8 maps (a child Node with --allow-natives-syntax)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/same-maps.mjs', import.meta.url));

    async function sameMaps(major: string, shape: 'on' | 'off'): Promise<boolean[][]> {
      const proc = spawn(
        process.execPath,
        [
          '--allow-natives-syntax',
          '--conditions=@prsm/source',
          '--import',
          'tsx',
          fixture,
          major,
          shape,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
      expect(err).toBe('');
      expect(code).toBe(0);
      return JSON.parse(out) as boolean[][];
    }

    for (const [label, , major] of majors) {
      it(`${label}: two requests in flight share their maps from the server's second request on; without shaping, never`, async () => {
        const shaped = await sameMaps(major, 'on');
        // The first pair includes the server's first request, before the middleware knew the server.
        expect(shaped.slice(1)).toEqual([
          [true, true],
          [true, true],
          [true, true],
        ]);
        const plain = await sameMaps(major, 'off');
        expect(plain).toHaveLength(4);
        for (const pair of plain) expect(pair).toEqual([false, false]);
      }, 60_000);
    }
  });
});
