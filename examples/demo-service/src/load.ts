/**
 * The load generator: `users` concurrent visitors against the service over HTTP
 * (keep-alive `fetch`), each visit a session: log in, search one to three times, get
 * recommendations, now and then click one, add to the cart and check out, log out,
 * with a little think time between requests. Seeded, so every run draws the same
 * visits. It counts every answer per route; an attacker's burst of failed logins is
 * a separate call.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_PASSWORD, seededRandom } from './service.js';

/** What one route was answered. */
export interface RouteStats {
  requests: number;
  /** Answers by status code (0: no answer). */
  readonly statuses: Record<number, number>;
}

const QUERIES = ['desk', 'keyboard', 'mouse', 'lamp', 'dock', 'arm', 'webcam', 'headphones'];

/** Visitors against `url` until {@link LoadGenerator.stop}. */
export class LoadGenerator {
  readonly #url: string;
  readonly #users: number;
  readonly #random = seededRandom(20240115);
  readonly #routes = new Map<string, RouteStats>();
  #running = false;
  #visits = 0;
  #workers: Promise<void>[] = [];

  constructor(url: string, users: number) {
    this.#url = url;
    this.#users = users;
  }

  /** Requests sent so far. */
  get requests(): number {
    let n = 0;
    for (const r of this.#routes.values()) n += r.requests;
    return n;
  }

  /** Visits started so far. */
  get visits(): number {
    return this.#visits;
  }

  /** Per route (`METHOD /path`), in the order first seen. */
  get routes(): ReadonlyMap<string, RouteStats> {
    return this.#routes;
  }

  start(): void {
    this.#running = true;
    this.#workers = Array.from({ length: this.#users }, (_, worker) => this.#worker(worker));
  }

  /** Lets every visit in flight finish, then resolves. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  /** `attempts` failed logins for `user` from `ip`, one after the other; the statuses. */
  async loginBurst(user: string, ip: string, attempts: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < attempts; i++) {
      statuses.push(
        await this.#send(
          'POST',
          '/api/login',
          { 'x-forwarded-for': ip },
          {
            user,
            password: `guess-${i}`,
          },
        ),
      );
    }
    return statuses;
  }

  async #worker(worker: number): Promise<void> {
    while (this.#running) {
      const visit = this.#visits++;
      const user = `user_${visit % 97}`;
      const headers = {
        'x-user-id': user,
        'x-session-id': `session_${visit}`,
        'x-forwarded-for': `10.0.${worker}.${1 + (visit % 250)}`,
      };
      await this.#send('POST', '/api/login', headers, { user, password: DEMO_PASSWORD });
      const searches = 1 + Math.floor(this.#random() * 3);
      for (let i = 0; i < searches; i++) {
        await this.#think();
        const q = QUERIES[Math.floor(this.#random() * QUERIES.length)]!;
        await this.#send('GET', `/api/search?q=${q}`, headers);
      }
      await this.#think();
      await this.#send('GET', '/api/recommendations', headers);
      if (this.#random() < 1 / 3) {
        await this.#think();
        await this.#send('POST', '/api/recommendations/click', headers, {});
        await this.#send('POST', '/api/cart', headers, {});
        if (this.#random() < 0.5) {
          await this.#think();
          await this.#send('POST', '/api/checkout', headers, {
            items: 1 + Math.floor(this.#random() * 4),
          });
        }
      }
      await this.#send('POST', '/api/logout', headers, {});
    }
  }

  #think(): Promise<void> {
    return sleep(10 + this.#random() * 20);
  }

  async #send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<number> {
    const name = `${method} ${path.replace(/\?.*$/, '')}`;
    let stats = this.#routes.get(name);
    if (stats === undefined) {
      stats = { requests: 0, statuses: {} };
      this.#routes.set(name, stats);
    }
    stats.requests++;
    let status = 0;
    try {
      const response = await fetch(`${this.#url}${path}`, {
        method,
        headers: {
          ...headers,
          'user-agent': 'prsm-demo-load/1.0',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      await response.arrayBuffer();
      status = response.status;
    } catch {
      // No answer (the service is stopping): counted as status 0.
    }
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    return status;
  }
}
