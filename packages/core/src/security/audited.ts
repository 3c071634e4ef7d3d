/**
 * `@audited`: a method decorator (TC39 and legacy `experimentalDecorators` alike)
 * that records an audit entry for every call, `success` or `failure`, and the
 * request context (`user_id`, `ip_address`, `session_id`...) it reads from
 * `withAuditContext`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditLog, AuditOutcome } from './audit.js';

/**
 * Who and where, for the entries `@audited` records: middleware sets it once per
 * request with {@link withAuditContext}.
 *
 * @example
 * ```ts
 * const context: AuditRequestContext = { user_id: 'user_123', ip_address: '192.168.1.100', request_id: 'req_1' };
 * ```
 */
export interface AuditRequestContext {
  readonly user_id?: string;
  readonly ip_address?: string;
  readonly user_agent?: string;
  readonly session_id?: string;
  readonly request_id?: string;
}

const storage = new AsyncLocalStorage<AuditRequestContext>();
let defaultLog: AuditLog | undefined;

/**
 * Runs `fn` with `context` as the audit context of everything it calls, across
 * `await`s (AsyncLocalStorage). Returns what `fn` returns.
 *
 * @example
 * ```ts
 * app.use((req, _res, next) =>
 *   withAuditContext({ user_id: req.user?.id, ip_address: req.ip, request_id: req.id }, next),
 * );
 * ```
 */
export function withAuditContext<T>(context: AuditRequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The audit context of the current call, if one is set.
 *
 * @example
 * ```ts
 * const who = currentAuditContext()?.user_id ?? 'anonymous';
 * ```
 */
export function currentAuditContext(): AuditRequestContext | undefined {
  return storage.getStore();
}

/**
 * Sets the log `@audited` writes to when its options name none (the Monitor sets its
 * `monitor.audit` here); `undefined` unsets it.
 *
 * @example
 * ```ts
 * setDefaultAuditLog(monitor.audit);
 * ```
 */
export function setDefaultAuditLog(log: AuditLog | undefined): void {
  defaultLog = log;
}

/**
 * The log `@audited` writes to by default.
 *
 * @example
 * ```ts
 * getDefaultAuditLog()?.record(entry);
 * ```
 */
export function getDefaultAuditLog(): AuditLog | undefined {
  return defaultLog;
}

/**
 * Options of {@link audited}.
 *
 * @example
 * ```ts
 * const options: AuditedOptions<[string], Job> = {
 *   resourceType: 'distillation_jobs',
 *   resourceId: (args, result) => result?.id ?? args[0],
 *   tags: ['SOC2'],
 * };
 * ```
 */
export interface AuditedOptions<A extends readonly unknown[] = readonly unknown[], R = unknown> {
  /** The entry's `resource_type`. */
  readonly resourceType: string;
  /**
   * The entry's `resource_id`, from the call's arguments and (on success) its result
   * (the resolved value of a promise); `undefined` leaves it out. An exception from
   * it is reported, never thrown.
   */
  readonly resourceId?: (args: A, result: Awaited<R> | undefined) => string | undefined;
  /** The entry's `compliance_tags`. */
  readonly tags?: readonly string[];
  /** Extra metadata (redacted like any other). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The log; default the one set by {@link setDefaultAuditLog}. None: nothing is recorded. */
  readonly log?: AuditLog | (() => AuditLog | undefined);
  /** The context; default the one set by {@link withAuditContext}. */
  readonly context?: () => AuditRequestContext | undefined;
}

/**
 * The decorator `@audited(...)` returns: TC39 `(method, context)` and legacy
 * `(target, key, descriptor)` signatures, so one import type-checks under both.
 *
 * @example
 * ```ts
 * const audit: AuditedDecorator = audited('delete_model', { resourceType: 'models' });
 * ```
 */
export interface AuditedDecorator {
  /** TC39 decorators: returns the replacement method. */
  <This, T>(value: T, context: ClassMethodDecoratorContext<This>): T;
  /** Legacy decorators: returns the descriptor. */
  <T extends (...args: never) => unknown>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorName(error: unknown): string {
  try {
    if (error instanceof Error) return error.name;
    return typeof error;
  } catch {
    return 'unknown';
  }
}

/**
 * Audits a method: every call records an entry with `action`, the options'
 * `resource_type`, `resource_id` and tags, the context's `user_id`, `ip_address`,
 * `user_agent`, `session_id` and `request_id`, and `outcome` `success` when it
 * returns (or its promise resolves) or `failure` when it throws (or rejects), with
 * the error's name in `metadata.error`.
 *
 * - The same value is returned (a promise: the very object), the same error thrown,
 *   with the same `this`; sync stays sync. `name` and `length` are kept.
 * - Recording never throws into the caller: entries go through
 *   `AuditLog.tryRecord`, so a call without a user in context is recorded incomplete
 *   (counted by completeness), not refused.
 * - Works under TC39 decorators and legacy `experimentalDecorators`, detected from
 *   the arguments. Decorating anything but a method throws a `TypeError` when the
 *   class is defined.
 *
 * @example
 * ```ts
 * import { audited } from '@prsm/core';
 *
 * class Jobs {
 *   @audited('create_distillation_job', {
 *     resourceType: 'distillation_jobs',
 *     resourceId: (_args, job) => job?.id,
 *     tags: ['SOC2'],
 *   })
 *   async create(spec: JobSpec): Promise<Job> { return this.store.insert(spec); }
 * }
 * ```
 */
export function audited<A extends readonly unknown[] = readonly unknown[], R = unknown>(
  action: string,
  options: AuditedOptions<A, R>,
): AuditedDecorator {
  if (typeof action !== 'string' || action === '') {
    throw new TypeError('@audited: action must be a non-empty string');
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError('@audited: options must be an object with resourceType');
  }
  if (typeof options.resourceType !== 'string' || options.resourceType === '') {
    throw new TypeError('@audited: resourceType must be a non-empty string');
  }
  if (options.resourceId !== undefined && typeof options.resourceId !== 'function') {
    throw new TypeError('@audited: resourceId must be a function (args, result) => string');
  }
  const tags = options.tags === undefined ? undefined : [...options.tags];
  const logOf = (): AuditLog | undefined => {
    const l = options.log;
    return typeof l === 'function' ? l() : (l ?? defaultLog);
  };
  const contextOf = options.context ?? currentAuditContext;

  const record = (
    log: AuditLog,
    args: unknown[],
    outcome: AuditOutcome,
    result: unknown,
    error: unknown,
    context: AuditRequestContext | undefined,
  ): void => {
    try {
      let resourceId: string | undefined;
      let metadata: Record<string, unknown> | undefined =
        options.metadata === undefined ? undefined : { ...options.metadata };
      if (options.resourceId !== undefined) {
        try {
          resourceId = options.resourceId(args as unknown as A, result as Awaited<R> | undefined);
        } catch (e) {
          metadata = { ...metadata, resource_id_error: errorName(e) };
        }
      }
      if (outcome === 'failure') metadata = { ...metadata, error: errorName(error) };
      log.tryRecord({
        ...(context?.user_id !== undefined && { user_id: context.user_id }),
        ...(context?.ip_address !== undefined && { ip_address: context.ip_address }),
        ...(context?.user_agent !== undefined && { user_agent: context.user_agent }),
        ...(context?.session_id !== undefined && { session_id: context.session_id }),
        ...(context?.request_id !== undefined && { request_id: context.request_id }),
        action,
        resource_type: options.resourceType,
        ...(typeof resourceId === 'string' && resourceId !== '' && { resource_id: resourceId }),
        outcome,
        ...(metadata !== undefined && { metadata }),
        ...(tags !== undefined && { compliance_tags: tags }),
      });
    } catch {
      // tryRecord never throws; a hostile context object might.
    }
  };

  const wrap = (original: AnyFunction): AnyFunction => {
    const holder = {
      wrapped(this: unknown, ...args: unknown[]): unknown {
        let log: AuditLog | undefined;
        let context: AuditRequestContext | undefined;
        try {
          log = logOf();
          context = log === undefined ? undefined : contextOf();
        } catch {
          log = undefined;
        }
        if (log === undefined) return Reflect.apply(original, this, args);
        let result: unknown;
        try {
          result = Reflect.apply(original, this, args);
        } catch (error) {
          record(log, args, 'failure', undefined, error, context);
          throw error;
        }
        if (isThenable(result)) {
          const l = log;
          try {
            result.then(
              (value) => record(l, args, 'success', value, undefined, context),
              (error: unknown) => record(l, args, 'failure', undefined, error, context),
            );
          } catch {
            // A thenable whose then throws: the caller sees it when they await.
          }
          return result;
        }
        record(log, args, 'success', result, undefined, context);
        return result;
      },
    };
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a method on purpose: not constructible, no prototype
    const wrapper = holder.wrapped;
    Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
    return wrapper;
  };

  function decorate(...decoratorArgs: unknown[]): unknown {
    const [target, context, descriptor] = decoratorArgs;
    if (
      decoratorArgs.length === 2 &&
      typeof context === 'object' &&
      context !== null &&
      typeof (context as { kind?: unknown }).kind === 'string'
    ) {
      const kind = (context as { kind: string }).kind;
      if (kind !== 'method' || typeof target !== 'function') {
        throw new TypeError(`@audited can only decorate methods, not a ${kind}`);
      }
      return wrap(target as AnyFunction);
    }
    if (
      decoratorArgs.length === 3 &&
      target !== null &&
      (typeof target === 'object' || typeof target === 'function') &&
      (typeof context === 'string' || typeof context === 'symbol') &&
      descriptor !== null &&
      typeof descriptor === 'object' &&
      typeof (descriptor as PropertyDescriptor).value === 'function'
    ) {
      const d = descriptor as PropertyDescriptor;
      d.value = wrap(d.value as AnyFunction);
      return d;
    }
    throw new TypeError('@audited can only decorate methods');
  }
  return decorate as AuditedDecorator;
}
