/**
 * A small bookstore API on Fastify 5, instrumented in one line (`prsmFastify`):
 * encapsulated plugins under prefixes (`/api/v1/authors/:authorId/books`), an
 * `onRequest` bearer-token check in the admin plugin (401 without a token, 403 for a
 * reader), a fixed-window rate limit that sends `RateLimit-*` headers (429 past the
 * quota), a report route that fails, and a health route that opts out with
 * `config: { prsm: false }`. The catalogue lookup is an `instrument()`ed function, so
 * its span nests under the request's server span.
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
} from 'fastify';
import { MonitoringComponent } from '@prsm/core';
import { instrument } from '@prsm/decorators';
import { prsmFastify } from '@prsm/fastify';

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

const users = new WeakMap<FastifyRequest, string>();

/** The bookstore app. `searchLimit`: searches per client per minute. */
export async function createApp(options: { searchLimit?: number } = {}): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(prsmFastify, {
    component: MonitoringComponent.API_GATEWAY,
    user: (request) => users.get(request),
    traceResponseHeader: true,
  });

  // Before the plugins: each copies the error handler it is registered under.
  app.setErrorHandler((_error, _request, reply) =>
    reply.code(500).send({ error: 'internal error' }),
  );
  app.get('/healthz', { config: { prsm: false } }, () => 'ok');

  await app.register(
    async (v1) => {
      await v1.register(
        (books, _options, done) => {
          books.get('/', () => findBooks());
          books.get<{ Params: { id: string } }>('/:id', async (request, reply) => {
            const book = (await findBooks()).find((b) => b.id === request.params.id);
            if (book === undefined) return reply.code(404).send({ error: 'no such book' });
            return { ...book, traceId: request.prsmTraceId };
          });
          done();
        },
        { prefix: '/books' },
      );

      v1.get<{ Params: { authorId: string } }>('/authors/:authorId/books', (request) =>
        findBooks(request.params.authorId),
      );

      await v1.register(
        (admin, _options, done) => {
          admin.addHook(
            'onRequest',
            (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
              const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
              const session = TOKENS[token];
              if (session === undefined) {
                void reply.code(401).send({ error: 'authentication required' });
                return;
              }
              users.set(request, session.user);
              if (request.method !== 'GET' && session.role !== 'admin') {
                void reply.code(403).send({ error: 'admins only' });
                return;
              }
              done();
            },
          );
          admin.post<{ Body: { title?: string } }>('/books', async (request, reply) =>
            reply.code(201).send({ created: request.body.title ?? 'untitled' }),
          );
          admin.get('/reports/daily', async () => {
            await new Promise((resolve) => setTimeout(resolve, 1));
            throw new Error('report store unavailable');
          });
          done();
        },
        { prefix: '/admin' },
      );

      const limit = options.searchLimit ?? 60;
      const windows = new Map<string, { start: number; used: number }>();
      v1.get<{ Querystring: { q?: string } }>('/search', async (request, reply) => {
        const now = Date.now();
        let w = windows.get(request.ip);
        if (w === undefined || now - w.start >= 60_000) {
          w = { start: now, used: 0 };
          windows.set(request.ip, w);
        }
        w.used++;
        void reply
          .header('RateLimit-Limit', limit)
          .header('RateLimit-Remaining', Math.max(0, limit - w.used));
        if (w.used > limit) return reply.code(429).send({ error: 'too many requests' });
        const q = (request.query.q ?? '').toLowerCase();
        return (await findBooks()).filter((b) => b.title.toLowerCase().includes(q));
      });
    },
    { prefix: '/api/v1' },
  );

  return app;
}
