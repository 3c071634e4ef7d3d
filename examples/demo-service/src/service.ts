/**
 * The demo service: a small marketplace API on Express 5, instrumented three ways.
 * `prsmExpress` times every request by route template and opens its server span;
 * `@monitorPerformance` times and traces the operations below (search, the
 * recommendation engine, checkout and its two dependencies); `@recordBusinessOutcome`
 * counts revenue and recommendations. Logins feed `monitor.security` and the audit
 * log; visitors' sessions and the view → cart → purchase funnel feed
 * `BusinessOutcomes`.
 *
 * The inventory API is the slow dependency (one call in six takes 60-120 ms, one in
 * forty times out); the model server is the one the demo's incident degrades.
 */
import { trace } from '@opentelemetry/api';
import { type BusinessOutcomes, recordBusinessOutcome } from '@prsm/business-outcomes';
import { MonitoringComponent, type Monitor } from '@prsm/core';
import { monitorPerformance } from '@prsm/decorators';
import { prsmExpress, prsmExpressErrors } from '@prsm/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEALTHY_TIMEOUT_EVERY, ModelTimeout, RecommendationService } from './decorated-service.js';

const ITEMS = [
  'mechanical keyboard',
  'noise cancelling headphones',
  'standing desk',
  'monitor arm',
  'usb-c dock',
  'ergonomic mouse',
  'desk lamp',
  'webcam',
];

/** A deterministic source of randomness, so every run draws the same workload. */
export function seededRandom(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class SearchUnavailable extends Error {
  override name = 'SearchUnavailable';
}

class InventoryTimeout extends Error {
  override name = 'InventoryTimeout';
}

class Catalogue {
  readonly #random = seededRandom(7);

  @monitorPerformance(MonitoringComponent.MARKETPLACE, 'marketplace_search', {
    attributes: ([query]) => ({ query_length: String(query).length }),
  })
  async search(query: string): Promise<string[]> {
    await sleep(2 + this.#random() * 6);
    if (this.#random() < 0.01) throw new SearchUnavailable('search index unavailable');
    return ITEMS.filter((item) => item.includes(query));
  }
}

/** The slow dependency: an external inventory API with a long tail. */
class InventoryApi {
  #calls = 0;

  @monitorPerformance(MonitoringComponent.MARKETPLACE, 'inventory_api_call', {
    slowThresholdMs: 50,
    attributes: ([items]) => ({ 'peer.service': 'inventory-api', items: Number(items) }),
  })
  async reserve(items: number): Promise<string> {
    const call = ++this.#calls;
    await sleep(call % 6 === 0 ? 50 + (call % 5) * 10 + items * 5 : 8);
    if (call % 40 === 0) throw new InventoryTimeout('inventory API timed out');
    return `reservation-${call}`;
  }
}

class PaymentGateway {
  #payments = 0;

  @monitorPerformance(MonitoringComponent.MARKETPLACE, 'payment_authorization')
  async authorize(amount: number): Promise<'paid' | 'declined'> {
    const payment = ++this.#payments;
    trace.getActiveSpan()?.setAttributes({ amount, currency: 'USD' });
    await sleep(5);
    // One card in eleven is declined: no revenue counted for it.
    return payment % 11 === 0 ? 'declined' : 'paid';
  }
}

/** What a checkout returns. */
export interface Receipt {
  readonly total: number;
  readonly status: 'paid' | 'declined';
  readonly reservation: string;
}

class Shop {
  readonly #inventory = new InventoryApi();
  readonly #payments = new PaymentGateway();

  @recordBusinessOutcome('purchase_revenue', {
    dimension: ['daily', 'monthly'],
    value: (receipt: Receipt) => receipt.total,
    when: (receipt: Receipt) => receipt.status === 'paid',
  })
  @monitorPerformance(MonitoringComponent.MARKETPLACE, 'checkout')
  async checkout(items: number): Promise<Receipt> {
    const reservation = await this.#inventory.reserve(items);
    const total = 19.5 * items;
    const status = await this.#payments.authorize(total);
    return { total, status, reservation };
  }
}

/** The one password every demo user has; anything else is a failed login. */
export const DEMO_PASSWORD = 'correct horse battery staple';

/** The handles the demo's script turns. */
export interface ServiceControls {
  /** The incident: the model server times out on every other call (`true`) or is healthy. */
  setIncident(on: boolean): void;
  /** Accounts locked after a brute-force incident. */
  readonly locked: ReadonlySet<string>;
}

/** A running service. */
export interface DemoService {
  readonly url: string;
  readonly controls: ServiceControls;
  close(): Promise<void>;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

/** Express 5 passes a rejected handler to the error middleware; spelt out for Express 4 readers. */
const route =
  (handler: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    Promise.resolve(handler(req, res)).catch(next);
  };

/** Builds the Express app on `monitor` and `outcomes`. */
export function createMarketplace(
  monitor: Monitor,
  outcomes: BusinessOutcomes,
): { app: express.Express; controls: ServiceControls } {
  const catalogue = new Catalogue();
  const recommendations = new RecommendationService();
  const shop = new Shop();
  const sessions = new Set<string>();
  const locked = new Set<string>();

  const app = express();
  // The load generator says who the visitor is with X-Forwarded-For, as a proxy would.
  app.set('trust proxy', 'loopback');
  app.use(
    prsmExpress({
      monitor,
      component: MonitoringComponent.API_GATEWAY,
      ignorePaths: ['/healthz'],
      user: (req) => req.headers['x-user-id']?.toString(),
    }),
  );
  app.use(express.json());
  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });

  // A visitor's first request starts a session (and the funnel's first step); each
  // further one is a page view.
  app.use((req, _res, next) => {
    const session = req.header('x-session-id');
    if (session !== undefined) {
      if (sessions.has(session)) outcomes.pageView(session);
      else {
        sessions.add(session);
        outcomes.startSession(session, req.header('x-user-id'));
        outcomes.funnelStep('marketplace', 'view');
        monitor.marketplace.browse();
      }
    }
    next();
  });

  app.post(
    '/api/login',
    route((req, res) => {
      const { user, password } = req.body as { user?: string; password?: string };
      const userId = String(user ?? 'anonymous');
      const ip = req.ip ?? 'unknown';
      const common = {
        user_id: userId,
        action: 'login',
        resource_type: 'session',
        ip_address: ip,
        user_agent: req.header('user-agent') ?? 'unknown',
        request_id: trace.getActiveSpan()?.spanContext().traceId ?? 'none',
      };
      if (locked.has(userId)) {
        monitor.audit.record({ ...common, outcome: 'denied', compliance_tags: ['SOC2'] });
        res.status(423).json({ error: 'account locked' });
        return;
      }
      const success = password === DEMO_PASSWORD;
      monitor.security.authAttempt({
        userId,
        ip,
        success,
        mfa: success && userId.endsWith('1'),
        ...(success ? {} : { reason: 'bad_password' }),
      });
      monitor.audit.record({
        ...common,
        outcome: success ? 'success' : 'failure',
        // The attempted password: masked by the monitor's redaction before it is stored.
        ...(success ? {} : { metadata: { password: String(password) } }),
        compliance_tags: success ? ['SOC2'] : ['SOC2', 'ISO27001'],
      });
      if (success) {
        res.json({ ok: true });
        return;
      }
      // The detector raised a brute-force incident on this account: lock it.
      const attacked = monitor.security
        .incidents()
        .some((i) => i.kind === 'brute_force_user' && i.subject.userId === userId);
      if (attacked && !locked.has(userId)) {
        locked.add(userId);
        monitor.audit.record({
          user_id: 'security-bot',
          action: 'account_locked',
          resource_type: 'user',
          resource_id: userId,
          outcome: 'success',
          metadata: { reason: 'brute_force_user' },
          compliance_tags: ['SOC2'],
        });
      }
      res.status(401).json({ error: 'invalid credentials' });
    }),
  );

  app.get(
    '/api/search',
    route(async (req, res) => {
      const query = typeof req.query['q'] === 'string' ? req.query['q'] : '';
      res.json(await catalogue.search(query));
    }),
  );

  app.get(
    '/api/recommendations',
    route(async (req, res) => {
      const userId = req.header('x-user-id') ?? 'anonymous';
      // The component matrix's recommendation metrics: inference latency (the whole
      // inference, the preference cache included: users ending in 7 are cached; the
      // model call alone is the decorated recommendation_model_scoring), predictions
      // (the cost per prediction's volume), impressions for the click-through rate.
      const started = performance.now();
      const cacheHit = userId.endsWith('7');
      let picks: string[];
      try {
        picks = await recommendations.generate(userId);
      } catch (error) {
        monitor.recommendation.inference({
          latencyMs: performance.now() - started,
          cacheHit,
          error: true,
        });
        throw error;
      }
      monitor.recommendation.inference({
        latencyMs: performance.now() - started,
        cacheHit,
        predictions: picks.length,
      });
      monitor.recommendation.interaction({ impressions: picks.length });
      outcomes.recordImpression('recommendation', picks.length);
      res.json(picks);
    }),
  );

  app.post('/api/recommendations/click', (_req, res) => {
    monitor.recommendation.interaction({ clicks: 1 });
    outcomes.recordClick('recommendation');
    res.status(204).end();
  });

  app.post('/api/cart', (_req, res) => {
    outcomes.funnelStep('marketplace', 'cart');
    res.status(204).end();
  });

  app.post(
    '/api/checkout',
    route(async (req, res) => {
      const items = Number((req.body as { items?: unknown }).items ?? 1);
      const receipt = await shop.checkout(Number.isInteger(items) && items > 0 ? items : 1);
      if (receipt.status === 'paid') outcomes.funnelStep('marketplace', 'purchase');
      // The component matrix's transaction analysis (success, failures by reason).
      monitor.marketplace.transaction(
        receipt.status === 'paid' ? { success: true } : { success: false, reason: receipt.status },
      );
      res.status(receipt.status === 'paid' ? 200 : 402).json(receipt);
    }),
  );

  app.post('/api/logout', (req, res) => {
    const session = req.header('x-session-id');
    if (session !== undefined && sessions.delete(session)) outcomes.endSession(session);
    res.status(204).end();
  });

  app.use(prsmExpressErrors());
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // A dependency that failed or timed out: 503, so clients may retry.
    const dependency =
      error instanceof InventoryTimeout ||
      error instanceof ModelTimeout ||
      error instanceof SearchUnavailable;
    res.status(dependency ? 503 : 500).json({ error: dependency ? error.name : 'internal error' });
  });

  return {
    app,
    controls: {
      setIncident: (on) => recommendations.setModelTimeouts(on ? 2 : HEALTHY_TIMEOUT_EVERY),
      locked,
    },
  };
}

/** Starts the service on 127.0.0.1, on a free port. */
export async function startService(
  monitor: Monitor,
  outcomes: BusinessOutcomes,
): Promise<DemoService> {
  const { app, controls } = createMarketplace(monitor, outcomes);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    controls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
