/**
 * The delivery machinery every channel shares: option checks, the retry loop
 * (exponential backoff with full jitter, `Retry-After`, a per-notification time
 * budget), one HTTP attempt over the global `fetch`, counters, and the wrapper that
 * makes `send()` unable to throw or reject. Channels describe one attempt; this
 * module decides whether and when to make another. Imports only `@prsm/core` types
 * and Node built-ins.
 */
import type {
  AlertNotification,
  Clock,
  DeliveryReport,
  DiagnosticLogger,
  NotificationChannel,
} from '@prsm/core';

/**
 * How a channel retries a delivery that may succeed later: timeouts, refused or
 * reset connections, HTTP 429 and 5xx (SMTP: connection errors and 4xx replies).
 * Anything else (another 4xx, an SMTP 5xx) is given up at once.
 *
 * The wait before retry `n` (1-based) is a random duration between 0 and
 * `min(maxBackoffMs, initialBackoffMs * 2^(n-1))` ("full jitter"), or exactly the
 * server's `Retry-After` on a 429 or 503 that sends one. A delivery stops when it has
 * made `maxAttempts` requests, or when the next wait would end past `budgetMs` after
 * `send()` was called.
 *
 * @example
 * ```ts
 * const slack = slackChannel({
 *   webhookUrl,
 *   retry: { maxAttempts: 3, initialBackoffMs: 1000, budgetMs: 60_000 },
 * });
 * ```
 */
export interface RetryOptions {
  /** Requests made at most for one delivery, the first included. Default 6. */
  readonly maxAttempts?: number;
  /** Upper bound of the first backoff, in milliseconds; doubles each retry. Default 500. */
  readonly initialBackoffMs?: number;
  /** Largest backoff upper bound, in milliseconds. Default 30 000. */
  readonly maxBackoffMs?: number;
  /** Time from `send()` after which no retry starts, in milliseconds. Default 300 000 (5 min). */
  readonly budgetMs?: number;
}

/**
 * Options every channel takes besides its own: timeouts, retries, injectable time
 * for tests, a logger and a callback per delivery.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(Date.now());
 * const channel = webhookChannel({
 *   url: 'https://ops.example/hook',
 *   timeoutMs: 5000,
 *   clock,
 *   sleep: async (ms) => clock.advance(ms), // retries without waiting, in tests
 *   logger: console,
 *   onDelivery: (report, notification) => {
 *     if (!report.ok) console.warn(`notification ${notification.id}: ${report.error}`);
 *   },
 * });
 * ```
 */
export interface DeliveryOptions {
  /** Time allowed for one request (connect, send, response), in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
  /** Retry policy; see {@link RetryOptions}. */
  readonly retry?: RetryOptions;
  /** Where the retry budget's time comes from. Default the system clock. */
  readonly clock?: Clock;
  /** Waits between attempts. Default a real `setTimeout` that does not hold the process open. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Gets one warning per notification that failed. Secrets never appear in it. Default silent. */
  readonly logger?: DiagnosticLogger;
  /** Called after every `send()` with its report; an exception it throws is logged and ignored. */
  readonly onDelivery?: (report: DeliveryReport, notification: AlertNotification) => void;
}

/**
 * A channel's delivery counters since it was created.
 *
 * `delivered` and `failed` count notifications (`send()` calls); `givenUp` counts
 * the failed ones abandoned for good (a permanent rejection, or retries exhausted),
 * the rest of `failed` being cut short by `shutdown()`. `attempts` and `retries`
 * count requests: a PagerDuty notification with three alerts is three requests at
 * least, an SMS to two numbers two.
 *
 * @example
 * ```ts
 * const { delivered, failed, retries } = slack.stats();
 * ```
 */
export interface NotifierStats {
  /** Notifications the provider accepted. */
  readonly delivered: number;
  /** Notifications not (fully) delivered. */
  readonly failed: number;
  /** Failed notifications given up for good. */
  readonly givenUp: number;
  /** Requests repeated after a retryable failure. */
  readonly retries: number;
  /** Requests made in all, retries included. */
  readonly attempts: number;
}

/**
 * A {@link NotificationChannel} from this package: the core contract plus delivery
 * counters.
 *
 * @example
 * ```ts
 * const channel: NotifierChannel = webhookChannel({ url: 'https://ops.example/hook' });
 * await channel.send(notification);
 * console.log(channel.stats().delivered);
 * ```
 */
export interface NotifierChannel extends NotificationChannel {
  /** A snapshot of the channel's counters. */
  stats(): NotifierStats;
}

/** The result of one request, as a channel describes it to the retry loop. */
export interface AttemptResult {
  readonly ok: boolean;
  /** HTTP status or SMTP reply code. */
  readonly status?: number;
  readonly error?: string;
  /** Whether another attempt may succeed. */
  readonly retryable?: boolean;
  /** The server's own wait before a retry, when it sent one. */
  readonly retryAfterMs?: number;
}

/** The result of one request after its retries. */
export interface RequestOutcome {
  readonly ok: boolean;
  readonly attempts: number;
  readonly status?: number;
  readonly error?: string;
  readonly givenUp: boolean;
}

/** Options resolved to their defaults and checked. */
export interface ResolvedDelivery {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly budgetMs: number;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly logger: DiagnosticLogger | undefined;
  readonly onDelivery: DeliveryOptions['onDelivery'];
}

/** What a channel's delivery function gets for one notification. */
export interface DeliveryContext {
  /** Runs `attempt` with retries, within the notification's budget. */
  request(attempt: () => Promise<AttemptResult>): Promise<RequestOutcome>;
  /** The resolved options. */
  readonly options: ResolvedDelivery;
}

const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

const systemClock: Clock = { now: () => Date.now() };

/** Thrown by the option checks: a `TypeError` that names the factory and the option. */
export function optionError(factory: string, option: string, problem: string): TypeError {
  return new TypeError(`${factory}: options.${option} ${problem}`);
}

/** Checks that `options` is an object at all. */
export function checkOptionsObject(factory: string, options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${factory}: options must be an object`);
  }
}

/** A non-empty string, else a `TypeError`. */
export function checkString(factory: string, option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw optionError(factory, option, 'must be a non-empty string');
  }
  return value;
}

/** An optional non-empty string. */
export function checkOptionalString(
  factory: string,
  option: string,
  value: unknown,
): string | undefined {
  return value === undefined ? undefined : checkString(factory, option, value);
}

/** A non-empty list of non-empty strings. */
export function checkStringList(factory: string, option: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw optionError(factory, option, 'must be a non-empty array of strings');
  }
  return value.map((item: unknown, i) => checkString(factory, `${option}[${i}]`, item));
}

/**
 * An absolute http(s) URL, without a trailing slash. The value is never echoed in
 * the error: webhook URLs often carry a secret.
 */
export function checkUrl(factory: string, option: string, value: unknown): URL {
  if (typeof value !== 'string') throw optionError(factory, option, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw optionError(factory, option, 'must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw optionError(factory, option, 'must be an absolute http:// or https:// URL');
  }
  return url;
}

/**
 * `fetch` refuses URLs with credentials: they become an `Authorization: Basic` header
 * and the URL loses them.
 */
export function splitCredentials(url: URL): { url: string; headers: Record<string, string> } {
  if (url.username === '' && url.password === '') return { url: url.href, headers: {} };
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return {
    url: bare.href,
    headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
  };
}

/** Extra request headers: string values, names valid for HTTP. */
export function checkHeaders(
  factory: string,
  option: string,
  value: unknown,
): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(factory, option, 'must be an object of header names to string values');
  }
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw optionError(factory, `${option}.${name}`, 'must be a valid header with a string value');
    }
    // Lower-cased, so the channel's own headers replace a user's instead of joining them.
    headers[name.toLowerCase()] = v;
  }
  return headers;
}

function checkNumber(
  factory: string,
  option: string,
  value: unknown,
  fallback: number,
  {
    min,
    integer = false,
    exclusiveMin = false,
  }: { min: number; integer?: boolean; exclusiveMin?: boolean },
): number {
  if (value === undefined) return fallback;
  const bad =
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    (exclusiveMin ? value <= min : value < min);
  if (bad) {
    const kind = integer ? 'an integer' : 'a finite number';
    throw optionError(
      factory,
      option,
      `must be ${kind} ${exclusiveMin ? '>' : '>='} ${min}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

/** A positive finite number of seconds or milliseconds, with a default. */
export function checkPositive(
  factory: string,
  option: string,
  value: unknown,
  fallback: number,
): number {
  return checkNumber(factory, option, value, fallback, { min: 0, exclusiveMin: true });
}

function checkFunction<T>(factory: string, option: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError(factory, option, 'must be a function');
  return value as T;
}

/** Checks the shared options and fills in the defaults. */
export function resolveDelivery(factory: string, options: DeliveryOptions): ResolvedDelivery {
  const retry: RetryOptions = options.retry ?? {};
  if (typeof retry !== 'object' || retry === null) {
    throw optionError(factory, 'retry', 'must be an object');
  }
  const timeoutMs = checkPositive(factory, 'timeoutMs', options.timeoutMs, 10_000);
  const maxAttempts = checkNumber(factory, 'retry.maxAttempts', retry.maxAttempts, 6, {
    min: 1,
    integer: true,
  });
  const initialBackoffMs = checkNumber(
    factory,
    'retry.initialBackoffMs',
    retry.initialBackoffMs,
    500,
    { min: 0 },
  );
  const maxBackoffMs = checkNumber(
    factory,
    'retry.maxBackoffMs',
    retry.maxBackoffMs,
    Math.max(30_000, initialBackoffMs),
    { min: initialBackoffMs },
  );
  const budgetMs = checkPositive(factory, 'retry.budgetMs', retry.budgetMs, 300_000);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw optionError(factory, 'clock', 'must have a now() method');
  }
  const logger = options.logger;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')
  ) {
    throw optionError(factory, 'logger', 'must have a warn() method');
  }
  return {
    timeoutMs,
    maxAttempts,
    initialBackoffMs,
    maxBackoffMs,
    budgetMs,
    clock,
    sleep: checkFunction(factory, 'sleep', options.sleep) ?? realSleep,
    random: checkFunction(factory, 'random', options.random) ?? Math.random,
    logger,
    onDelivery: checkFunction(factory, 'onDelivery', options.onDelivery),
  };
}

/** Describes any thrown value in one line, whatever it is. */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
    return String(error);
  } catch {
    return 'unprintable error';
  }
}

/**
 * Replaces every occurrence of the given secrets in `text`. Used on everything a
 * channel reports: errors, response bodies quoted in them.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date. `undefined`
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

interface MutableStats {
  delivered: number;
  failed: number;
  givenUp: number;
  retries: number;
  attempts: number;
}

/** What a channel's factory hands to {@link createChannel}. */
export interface ChannelSpec {
  /** The channel's kind, also the name used in errors and logs. */
  readonly kind: string;
  readonly mode?: 'grouped' | 'stream';
  /** Where the notification goes, for logs: never a secret (an origin, not a full URL). */
  readonly endpoint: string;
  /** Strings never to let out in a report or a log. */
  readonly secrets: readonly string[];
  /** Delivers one notification, making its requests through `context.request`. */
  deliver(notification: AlertNotification, context: DeliveryContext): Promise<DeliveryReport>;
  /** Releases the channel's own resources (an SMTP transport). */
  close?(): Promise<void> | void;
}

/**
 * Builds a {@link NotifierChannel} around a channel's delivery function: counters,
 * the retry loop, `shutdown()`, the `onDelivery` callback, logging, and a last
 * catch so `send()` always resolves to a report.
 */
export function createChannel(spec: ChannelSpec, options: ResolvedDelivery): NotifierChannel {
  const stats: MutableStats = { delivered: 0, failed: 0, givenUp: 0, retries: 0, attempts: 0 };
  const inFlight = new Set<Promise<DeliveryReport>>();
  let shutDown = false;
  let wakeOnShutdown: () => void = () => {};
  const shutdownSignal = new Promise<void>((resolve) => {
    wakeOnShutdown = resolve;
  });
  let shutdownPromise: Promise<void> | undefined;

  const request = async (
    attempt: () => Promise<AttemptResult>,
    deadline: number,
  ): Promise<RequestOutcome> => {
    let attempts = 0;
    for (;;) {
      attempts++;
      stats.attempts++;
      if (attempts > 1) stats.retries++;
      let result: AttemptResult;
      try {
        result = await attempt();
      } catch (error) {
        result = { ok: false, retryable: false, error: describeError(error) };
      }
      if (result.ok) return { ok: true, attempts, status: result.status, givenUp: false };
      const fail = (why: string | undefined, givenUp: boolean): RequestOutcome => ({
        ok: false,
        attempts,
        status: result.status,
        error:
          why === undefined ? (result.error ?? 'failed') : `${result.error ?? 'failed'}; ${why}`,
        givenUp,
      });
      if (result.retryable !== true) return fail(undefined, true);
      if (attempts >= options.maxAttempts) {
        return fail(`gave up after ${attempts} attempts`, true);
      }
      if (shutDown) return fail('not retried: the channel is shutting down', false);
      const ceiling = Math.min(
        options.maxBackoffMs,
        options.initialBackoffMs * 2 ** Math.min(attempts - 1, 52),
      );
      const delay = result.retryAfterMs ?? Math.floor(randomUnit(options.random) * ceiling);
      if (options.clock.now() + delay > deadline) {
        return fail(
          result.retryAfterMs === undefined
            ? `retry budget of ${options.budgetMs} ms exhausted after ${attempts} attempts`
            : `Retry-After of ${delay} ms is beyond the retry budget of ${options.budgetMs} ms`,
          true,
        );
      }
      await Promise.race([safeSleep(options.sleep, delay), shutdownSignal]);
      if (shutDown) return fail('not retried: the channel is shutting down', false);
    }
  };

  const report = (notification: AlertNotification, delivery: DeliveryReport): DeliveryReport => {
    const clean: DeliveryReport =
      delivery.error === undefined
        ? delivery
        : { ...delivery, error: redact(delivery.error, spec.secrets) };
    if (clean.ok) {
      stats.delivered++;
    } else {
      stats.failed++;
      if (clean.givenUp === true) stats.givenUp++;
      safeLog(
        options.logger,
        `@prsm/exporters ${spec.kind}: ${clean.givenUp === true ? 'gave up on' : 'did not deliver'} notification ${notification.id} after ${clean.attempts} attempt(s): ${clean.error ?? 'failed'}`,
        {
          kind: spec.kind,
          endpoint: spec.endpoint,
          channel: notification.channel,
          notificationId: notification.id,
          attempts: clean.attempts,
          status: clean.status,
        },
      );
    }
    if (options.onDelivery !== undefined) {
      try {
        options.onDelivery(clean, notification);
      } catch (error) {
        safeLog(
          options.logger,
          `@prsm/exporters ${spec.kind}: onDelivery threw ${redact(describeError(error), spec.secrets)}`,
          { kind: spec.kind, notificationId: notification.id },
        );
      }
    }
    return clean;
  };

  const run = async (notification: AlertNotification): Promise<DeliveryReport> => {
    let result: DeliveryReport;
    try {
      const deadline = options.clock.now() + options.budgetMs;
      result = await spec.deliver(notification, {
        options,
        request: (attempt) => request(attempt, deadline),
      });
    } catch (error) {
      result = { ok: false, attempts: 0, error: describeError(error), givenUp: true };
    }
    return report(notification, result);
  };

  return {
    kind: spec.kind,
    ...(spec.mode === undefined ? {} : { mode: spec.mode }),
    send(notification: AlertNotification): Promise<DeliveryReport> {
      if (shutDown) {
        return Promise.resolve(
          report(notification, { ok: false, attempts: 0, error: 'the channel is shut down' }),
        );
      }
      const promise = run(notification).catch((error: unknown): DeliveryReport => ({
        ok: false,
        attempts: 0,
        error: redact(describeError(error), spec.secrets),
        givenUp: true,
      }));
      inFlight.add(promise);
      void promise.finally(() => inFlight.delete(promise));
      return promise;
    },
    shutdown(): Promise<void> {
      if (shutdownPromise === undefined) {
        shutDown = true;
        wakeOnShutdown();
        shutdownPromise = (async () => {
          await Promise.allSettled([...inFlight]);
          try {
            await spec.close?.();
          } catch {
            // Closing an SMTP transport that already failed must not fail shutdown.
          }
        })();
      }
      return shutdownPromise;
    },
    stats(): NotifierStats {
      return { ...stats };
    },
  };
}

function randomUnit(random: () => number): number {
  try {
    const r = random();
    return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 1;
  } catch {
    return 1;
  }
}

async function safeSleep(sleep: (ms: number) => Promise<void>, ms: number): Promise<void> {
  try {
    await sleep(ms);
  } catch {
    // A failing injected sleep only shortens the wait.
  }
}

function safeLog(
  logger: DiagnosticLogger | undefined,
  message: string,
  context: Record<string, unknown>,
): void {
  if (logger === undefined) return;
  try {
    logger.warn(message, context);
  } catch {
    // A broken logger must not break delivery.
  }
}

/** One HTTP request, as a channel describes it. */
export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const USER_AGENT = 'prsm-monitor-notifier';

/**
 * Makes one POST with the global `fetch`, bounded by `timeoutMs`, and classifies the
 * outcome: 2xx is success; 429 and 5xx, timeouts and connection errors are
 * retryable; every other status (redirects included: they are not followed, so a
 * secret header never goes to another host) is not.
 */
export async function httpAttempt(
  request: HttpRequest,
  timeoutMs: number,
  now: () => number,
): Promise<AttemptResult> {
  let response: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'user-agent': USER_AGENT, ...request.headers },
      body: request.body,
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    return fetchFailure(error, timeoutMs);
  }
  let text = '';
  try {
    text = await response.text();
  } catch {
    // A body cut short (or timed out) after the status arrived: the status decides.
  }
  const status = response.status;
  if (status >= 200 && status < 300) return { ok: true, status };
  const retryable = status === 429 || status >= 500;
  const retryAfterMs =
    status === 429 || status === 503
      ? parseRetryAfter(response.headers.get('retry-after'), now())
      : undefined;
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return {
    ok: false,
    status,
    retryable,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    error: `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}${snippet === '' ? '' : `: ${snippet}`}`,
  };
}

function fetchFailure(error: unknown, timeoutMs: number): AttemptResult {
  const name = error instanceof Error || error instanceof DOMException ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { ok: false, retryable: true, error: `timed out after ${timeoutMs} ms` };
  }
  if (error instanceof TypeError) {
    // undici: TypeError('fetch failed') with the socket error as its cause.
    const cause: unknown = error.cause;
    const detail = cause instanceof Error ? cause.message : error.message;
    return { ok: false, retryable: true, error: `connection failed: ${detail}` };
  }
  return { ok: false, retryable: false, error: describeError(error) };
}

/**
 * Folds the outcomes of a notification's requests (one per PagerDuty alert, one per
 * SMS recipient) into one report: ok only if all were, attempts added up, the first
 * failure's status and every failure's error.
 */
export function combineOutcomes(outcomes: readonly RequestOutcome[]): DeliveryReport {
  const attempts = outcomes.reduce((sum, o) => sum + o.attempts, 0);
  const failures = outcomes.filter((o) => !o.ok);
  if (failures.length === 0) {
    const status = outcomes[outcomes.length - 1]?.status;
    return { ok: true, attempts, ...(status === undefined ? {} : { status }) };
  }
  const first = failures[0]!;
  const error =
    outcomes.length === 1
      ? (first.error ?? 'failed')
      : `${failures.length} of ${outcomes.length} requests failed: ${failures
          .map((f) => f.error ?? 'failed')
          .join(' | ')}`;
  return {
    ok: false,
    attempts,
    ...(first.status === undefined ? {} : { status: first.status }),
    error,
    givenUp: failures.every((f) => f.givenUp),
  };
}

/** Runs `fn` over `items` with at most `limit` running at once, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
