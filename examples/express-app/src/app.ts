/**
 * A small bookstore API on Express 5, instrumented in one line (`prsmExpress`):
 * nested routers with parameters (`/api/v1/authors/:authorId/books`), a bearer-token
 * check on the admin routes (401 without a token, 403 for a reader), a fixed-window
 * rate limit that sends `RateLimit-*` headers (429 past the quota), and a report route
 * that fails. The catalogue lookup is an `instrument()`ed function, so its span nests
 * under the request's server span.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { MonitoringComponent } from '@prsm/core';
import { instrument } from '@prsm/decorators';
import { prsmExpress, prsmExpressErrors } from '@prsm/express';

interface Book {
  readonly id: string;
  readonly title: string;
  readonly authorId: string;
}

const BOOKS: readonly Book[] = [
  { id: '1', title: 'The Left Hand of Darkness', authorId: 'le-guin' },
  { id: '2', title: 'A Wizard of Earthsea', authorId: 'le-guin' },
  { id: '3', title: 'Kindred', authorId: 'butler' },
];

const TOKENS: Readonly<Record<string, { user: string; role: 'admin' | 'reader' }>> = {
  'admin-token': { user: 'ada', role: 'admin' },
  'reader-token': { user: 'rex', role: 'reader' },
};

/** The catalogue lookup: a plain function, timed and traced by @prsm/decorators. */
const findBooks = instrument(
  async (authorId?: string): Promise<Book[]> => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return BOOKS.filter((b) => authorId === undefined || b.authorId === authorId);
  },
  { component: 'catalogue', operation: 'find_books' },
);

type Authed = Request & { user?: { user: string; role: 'admin' | 'reader' } };

function requireRole(role: 'admin' | 'reader') {
  return (req: Authed, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const session = TOKENS[header.replace(/^Bearer /, '')];
    if (session === undefined) {
      res.status(401).json({ error: 'authentication required' });
      return;
    }
    req.user = session;
    if (role === 'admin' && session.role !== 'admin') {
      res.status(403).json({ error: 'admins only' });
      return;
    }
    next();
  };
}

/** A fixed-window limiter per client address, announcing its quota in `RateLimit-*` headers. */
function rateLimit(limit: number, windowMs: number) {
  const windows = new Map<string, { start: number; used: number }>();
  return (req: Request, res: Response, next: NextFunction): void => {
    const key = req.ip ?? 'unknown';
    const now = Date.now();
    let w = windows.get(key);
    if (w === undefined || now - w.start >= windowMs) {
      w = { start: now, used: 0 };
      windows.set(key, w);
    }
    w.used++;
    res.setHeader('RateLimit-Limit', String(limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, limit - w.used)));
    if (w.used > limit) {
      res.status(429).json({ error: 'too many requests' });
      return;
    }
    next();
  };
}

/** The bookstore app. `searchLimit`: searches per client per minute. */
export function createApp(options: { searchLimit?: number } = {}): express.Express {
  const app = express();
  app.use(
    prsmExpress({
      component: MonitoringComponent.API_GATEWAY,
      ignorePaths: ['/healthz'],
      user: (req) => (req as Authed).user?.user,
      traceResponseHeader: true,
    }),
  );
  app.use(express.json());

  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });

  const books = express.Router();
  books.get('/', async (_req, res) => {
    res.json(await findBooks());
  });
  books.get('/:id', async (req, res) => {
    const book = (await findBooks()).find((b) => b.id === req.params['id']);
    if (book === undefined) res.status(404).json({ error: 'no such book' });
    else res.json({ ...book, traceId: res.locals['prsmTraceId'] as string | undefined });
  });

  const authorBooks = express.Router({ mergeParams: true });
  authorBooks.get('/books', async (req: Request<{ authorId: string }>, res) => {
    res.json(await findBooks(req.params.authorId));
  });

  const admin = express.Router();
  admin.post('/books', requireRole('admin'), (req: Request, res) => {
    res.status(201).json({ created: (req.body as { title?: string }).title ?? 'untitled' });
  });
  admin.get('/reports/daily', requireRole('reader'), async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    throw new Error('report store unavailable');
  });

  const v1 = express.Router();
  v1.use('/books', books);
  v1.use('/authors/:authorId', authorBooks);
  v1.use('/admin', admin);
  v1.get('/search', rateLimit(options.searchLimit ?? 60, 60_000), async (req, res) => {
    const q = typeof req.query['q'] === 'string' ? req.query['q'].toLowerCase() : '';
    res.json((await findBooks()).filter((b) => b.title.toLowerCase().includes(q)));
  });
  app.use('/api/v1', v1);

  app.use(prsmExpressErrors());
  app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}
