/**
 * Requests that come from no Node server: light-my-request's `inject()`, whose request
 * and response classes are what serverless adapters and test tools call an app with.
 * A file of its own: `inject()` sets the prototype of Express's `request` and
 * `response` objects to its own classes, for good, which would break the real
 * servers of the other tests in the same module graph.
 */
import express5 from 'express';
import express4 from 'express4';
import inject from 'light-my-request';
import { describe, expect, it } from 'vitest';
import { prsmExpress } from './middleware.js';
import {
  countOf,
  durations,
  series,
  settled,
  testResources,
  valuesByRoute,
} from '@prsm/http/test-support';

const resources = testResources();

describe.each([
  ['express 5', express5],
  ['express 4', express4],
] as const)('%s', (_name, express) => {
  it('records inject() requests once each, with their status and body size', async () => {
    const { monitor } = resources.monitor({ tracing: false });
    const app = express();
    app.use(prsmExpress({ monitor }));
    app.get('/in/:id', (req, res) => {
      res.send(`item ${String(req.params['id'])}`);
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    const listener = app as unknown as Parameters<typeof inject>[0];
    const answered = await inject(listener, { method: 'GET', url: '/in/7' });
    expect([answered.statusCode, answered.payload]).toEqual([200, 'item 7']);
    expect((await inject(listener, { method: 'GET', url: '/boom' })).statusCode).toBe(500);
    await settled(monitor, 2);
    expect(
      durations(monitor)
        .map((s) => [s.tags['http.route'], s.tags['http.response.status_code']])
        .sort(),
    ).toEqual([
      ['/boom', '500'],
      ['/in/:id', '200'],
    ]);
    // Counted once: light-my-request's `end` writes its chunk through `this.write`.
    expect(valuesByRoute(monitor, 'http.server.response.body.size')['/in/:id']).toBe(6);
    expect(series(monitor, 'http.server.aborted_requests').map(countOf)).toEqual([]);
    expect(series(monitor, 'http.server.active_requests').map(countOf)).toEqual([0]);
  });
});
