/**
 * Requests of Node's own HTTP servers followed through `node:diagnostics_channel`
 * (`http.server.request.start` and `http.server.response.finish`), without a listener
 * or a closure per request: a request's end is its response's `finish`, or the close
 * of its connection first (an abandoned request). Servers are followed once an
 * adapter has seen a request of theirs ({@link watchServer}); requests of other
 * servers cost a property read. Imports only Node and this package's types.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestState } from './metrics.js';
import { rawHeader } from './sizes.js';
import type { RequestSpan } from './tracing.js';

/**
 * Who records a {@link TrackedRequest}: the adapter that claimed it. Called once per
 * request; both methods must not throw (the tracker counts what they throw in
 * {@link trackerFailures} and goes on).
 *
 * @example
 * ```ts
 * const owner: TrackedRequestOwner = {
 *   ended(tracked, aborted) { console.log(tracked.request.url, aborted ? 'aborted' : 'done'); },
 *   failed(error) { console.error(error); },
 * };
 * ```
 */
export interface TrackedRequestOwner {
  /** The request is over: its response finished, or its connection closed first (`aborted`). */
  ended(tracked: TrackedRequest, aborted: boolean): void;
  /** The tracker's own failure while following a request of this owner. */
  failed(error: unknown): void;
}

/**
 * A request of a followed server, from the moment Node parsed its head. An adapter
 * claims it by setting {@link TrackedRequest.owner} and its state; unclaimed requests
 * are dropped at their end unrecorded.
 *
 * @example
 * ```ts
 * const tracked = trackedRequest(req, res);
 * if (tracked !== undefined && tracked.owner === undefined) {
 *   tracked.owner = owner;
 *   tracked.state = metrics.begin(req.method, req.headers['content-length'], tracked.startedAt);
 * }
 * ```
 */
export class TrackedRequest {
  /** The request. */
  readonly request: IncomingMessage;
  /** Its response. */
  readonly response: ServerResponse;
  /** `performance.now()` when Node had parsed the request's head. */
  readonly startedAt: number;
  /** The adapter recording it; undefined until one claims it. */
  owner: TrackedRequestOwner | undefined = undefined;
  /** The adapter's request state. */
  state: RequestState | undefined = undefined;
  /** The request's server span, when it has one. */
  span: RequestSpan | undefined = undefined;
  /** The route label, once the adapter has read it. */
  route: string | undefined = undefined;
  /** The adapter's own object for the request (`@prsm/fastify`: its reply), once claimed. */
  adapter: unknown = undefined;
  /** Whether the adapter wrapped the response's own `write` and `end`. */
  wrapped = false;
  /** Whether a rate-limit header was set on the response (for adapters that see headers set). */
  rateLimitHeaders = false;
  /**
   * Whether the adapter saw every header set on the response: when it did and none was
   * a rate-limit header, the response is not read for a quota.
   */
  headersSeen = false;
  /** Whether it is followed through a socket (false: the adapter ends it itself). */
  readonly followed: boolean;
  /** The request method, as received. */
  readonly method: string | undefined;
  /** The request's `Content-Length` header. */
  readonly contentLength: string | undefined;
  /** Whether the request carries `X-Forwarded-For` (its client is then the framework's to say). */
  readonly forwarded: boolean;
  /** The address of the connection's peer. */
  readonly remoteAddress: string | undefined;

  /**
   * A request that began at `startedAt`. Its method, length and addresses are read
   * now: before a framework changes the request's prototype, Node's requests share
   * one shape, and reading them costs a fraction of what it does afterwards. The peer's
   * address is its socket's unless given (the tracker reads it once a connection).
   */
  constructor(
    request: IncomingMessage,
    response: ServerResponse,
    startedAt: number,
    followed: boolean,
    remoteAddress: string | undefined = request.socket?.remoteAddress,
  ) {
    this.request = request;
    this.response = response;
    this.startedAt = startedAt;
    this.followed = followed;
    this.method = request.method;
    const raw = request.rawHeaders as readonly string[] | undefined;
    this.contentLength = rawHeader(raw, 'content-length');
    this.forwarded = rawHeader(raw, 'x-forwarded-for') !== undefined;
    this.remoteAddress = remoteAddress;
  }

  /**
   * The client's address: the framework's `req.ip` (Express's `trust proxy`, Fastify's
   * `trustProxy`), which parses `X-Forwarded-For`, when the request carries one; else
   * the connection's peer, read when the request arrived.
   */
  clientAddress(req: { readonly ip?: string | undefined }): string | undefined {
    if (!this.forwarded) return this.remoteAddress;
    return req.ip ?? this.remoteAddress;
  }
}

const WATCHED = Symbol('prsm.http.watched');
const QUEUE = Symbol('prsm.http.requests');
const PREPARE = Symbol('prsm.http.prepare');

/**
 * Called with each request of a followed server and its response as Node's server
 * reports the request's start, before the server's `request` listener (the framework)
 * sees them. It must not throw (the tracker counts what it throws in
 * {@link trackerFailures} and goes on).
 *
 * @example
 * ```ts
 * const prepare: RequestPreparer = (req, res) => {
 *   res.setHeader('X-Served-By', 'api-1');
 * };
 * watchServer(server, prepare);
 * ```
 */
export type RequestPreparer = (request: IncomingMessage, response: ServerResponse) => void;

interface Watchable {
  [WATCHED]?: boolean;
  [PREPARE]?: RequestPreparer;
}
/** What the tracker keeps on a followed connection. */
class SocketRequests {
  /** The requests in flight, in order (HTTP/1.1 answers them in order). */
  readonly queue: TrackedRequest[] = [];
  /** The peer's address, read once (a getter and a native call on every read). */
  readonly remoteAddress: string | undefined;

  constructor(remoteAddress: string | undefined) {
    this.remoteAddress = remoteAddress;
  }
}

interface Followed {
  [QUEUE]?: SocketRequests;
  readonly remoteAddress?: string;
  on?(event: 'close', listener: (this: Followed) => void): unknown;
}
interface ChannelMessage {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly socket: Followed;
  readonly server: Watchable;
}

let subscribed = false;
/** The request started last: the one a synchronous middleware chain is running for. */
let latest: TrackedRequest | undefined;
let failures = 0;

function failed(tracked: TrackedRequest | undefined, error: unknown): void {
  failures++;
  try {
    tracked?.owner?.failed(error);
  } catch {
    // Counted above.
  }
}

function onStart(message: unknown): void {
  try {
    const m = message as ChannelMessage;
    const server = m.server;
    if (server[WATCHED] !== true) return;
    const prepare = server[PREPARE];
    if (prepare !== undefined) {
      try {
        prepare(m.request, m.response);
      } catch (error) {
        failed(undefined, error);
      }
    }
    const socket = m.socket;
    let followed = socket[QUEUE];
    if (followed === undefined) {
      followed = new SocketRequests(socket.remoteAddress);
      socket[QUEUE] = followed;
      socket.on?.('close', onSocketClose);
    }
    const tracked = new TrackedRequest(
      m.request,
      m.response,
      performance.now(),
      true,
      followed.remoteAddress,
    );
    followed.queue.push(tracked);
    latest = tracked;
  } catch (error) {
    failed(undefined, error);
  }
}

function onFinish(message: unknown): void {
  let tracked: TrackedRequest | undefined;
  try {
    const m = message as ChannelMessage;
    const queue = m.socket[QUEUE]?.queue;
    if (queue === undefined) return;
    const res = m.response;
    const i = queue[0]?.response === res ? 0 : queue.findIndex((t) => t.response === res);
    if (i < 0) return;
    tracked = queue[i]!;
    if (i === 0) queue.shift();
    else queue.splice(i, 1);
    if (latest === tracked) latest = undefined;
    tracked.owner?.ended(tracked, false);
  } catch (error) {
    failed(tracked, error);
  }
}

/** A followed connection closed: what it still had in flight was abandoned. */
function onSocketClose(this: Followed): void {
  const queue = this[QUEUE]?.queue;
  if (queue === undefined) return;
  const abandoned = queue.splice(0);
  for (const tracked of abandoned) {
    if (latest === tracked) latest = undefined;
    try {
      tracked.owner?.ended(tracked, true);
    } catch (error) {
      failed(tracked, error);
    }
  }
}

/**
 * Follows the requests of `server` (an `http.Server` or `https.Server`) from its next
 * request on. Idempotent; a value that is not an object is ignored. `prepare`, when
 * given, is called with each of its requests from then on before the server's
 * `request` listener sees it (the first `prepare` given for a server stays).
 *
 * @example
 * ```ts
 * import { watchServer } from '@prsm/http';
 *
 * watchServer(req.socket.server);
 * ```
 */
export function watchServer(server: unknown, prepare?: RequestPreparer): void {
  if (server === null || typeof server !== 'object') return;
  const s = server as Watchable;
  if (prepare !== undefined && s[PREPARE] === undefined) s[PREPARE] = prepare;
  if (s[WATCHED] === true) return;
  if (!subscribed) {
    subscribe('http.server.request.start', onStart);
    subscribe('http.server.response.finish', onFinish);
    subscribed = true;
  }
  s[WATCHED] = true;
}

/**
 * The followed request of `res`, or undefined (its server is not followed, it began
 * before its server was, or it is not a request of Node's HTTP server).
 *
 * @example
 * ```ts
 * import { trackedRequest } from '@prsm/http';
 *
 * const tracked = trackedRequest(req, res);
 * ```
 */
export function trackedRequest(
  req: IncomingMessage | undefined,
  res: ServerResponse,
): TrackedRequest | undefined {
  const last = latest;
  if (last !== undefined && last.response === res) return last;
  const socket = (req ?? (res as { req?: IncomingMessage }).req)?.socket as Followed | undefined;
  const queue = socket?.[QUEUE]?.queue;
  if (queue === undefined) return undefined;
  for (const tracked of queue) if (tracked.response === res) return tracked;
  return undefined;
}

/**
 * How many times the tracker failed (a channel message it could not read, an owner
 * that threw). Each failure is also handed to the request's owner when it has one.
 *
 * @example
 * ```ts
 * import { trackerFailures } from '@prsm/http';
 *
 * if (trackerFailures() > 0) console.warn('request tracking failed');
 * ```
 */
export function trackerFailures(): number {
  return failures;
}

/**
 * Whether a response that just closed was abandoned: the app never ended it, or its
 * connection went away before what it ended was written. For requests the tracker
 * does not follow, which end on their response's `close`: `writableFinished` alone
 * misreads two of them. An HTTP/2 response whose stream the client reset reads as
 * finished, and a response that never had a socket of Node's (`inject()`, serverless
 * adapters calling the app with request objects of their own) never does.
 *
 * @example
 * ```ts
 * import { abandonedAtClose } from '@prsm/http';
 *
 * res.on('close', () => record(abandonedAtClose(res) ? 499 : res.statusCode));
 * ```
 */
export function abandonedAtClose(res: ServerResponse): boolean {
  if (!res.writableEnded) return true;
  return !res.writableFinished && res.socket?.destroyed === true;
}
