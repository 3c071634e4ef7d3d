/**
 * Request shapes for Express: V8 gives an object a map (hidden class) of its own when
 * a property is added to it after `Object.setPrototypeOf`, so an Express app, which
 * sets the prototypes of every request and response and then adds `res.locals`,
 * `req.next`, `req.baseUrl`, `req.params`... gives each request's objects maps no
 * other request shares. Every property read on them (Express's, Node's, the app's)
 * then misses V8's inline caches and goes through the runtime's lookup. The same
 * properties added before Express changes the prototypes, with the values the objects
 * read without them, keep the maps shared: with the middleware, a hello-world Express 5
 * request counted 595,155 CPU instructions under Cachegrind without this and 190,176
 * with it (the bare app 553,014), and the app answered 2.6× the requests per second
 * (`bench/suites/http.ts`, BENCHMARKS.md).
 * Imports Node only.
 */
import { IncomingMessage, ServerResponse } from 'node:http';

/** What Express (4 and 5) and its router add to a request after its prototype changed. */
const REQUEST_NAMES = ['next', 'baseUrl', 'originalUrl', '_parsedUrl', 'route', 'params', 'query'];
/** What Express and Node add to a response after its prototype changed. */
const RESPONSE_NAMES = ['locals', 'statusCode', 'statusMessage'];
/** The router's (2.3+) symbol of the matched route pattern, found on a routed request. */
const MATCHED_ROUTE = 'router.tracing.matchedRoute';

type Key = string | symbol;

/** The object of `start`'s prototype chain that holds `key`, or null. */
function holderOf(start: object | null, key: Key): object | null {
  for (let o = start; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (Object.hasOwn(o, key)) return o;
  }
  return null;
}

/**
 * The keys to add and the value each reads before it is set: only keys the app's
 * prototypes resolve where Node's do (absent from both, or the same writable data
 * property, such as `ServerResponse.prototype.statusCode`), so that no getter or value
 * of the app's prototypes is shadowed.
 */
function plan(
  keys: readonly Key[],
  appPrototype: object,
  nodePrototype: object,
): { keys: Key[]; values: unknown[] } {
  const out: { keys: Key[]; values: unknown[] } = { keys: [], values: [] };
  for (const key of keys) {
    const holder = holderOf(nodePrototype, key);
    if (holderOf(appPrototype, key) !== holder) continue;
    let value: unknown = undefined;
    if (holder !== null) {
      const descriptor = Object.getOwnPropertyDescriptor(holder, key);
      if (descriptor === undefined || !('value' in descriptor) || descriptor.writable !== true) {
        continue;
      }
      value = descriptor.value;
    }
    out.keys.push(key);
    out.values.push(value);
  }
  return out;
}

function assign(target: object, keys: readonly Key[], values: readonly unknown[]): void {
  const t = target as Record<Key, unknown>;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!Object.hasOwn(t, key)) t[key] = values[i];
  }
}

/**
 * The function giving a request of the app that served `req` and `res` (both past
 * Express's prototype change) the properties Express adds later, or undefined when
 * the app did not change their prototypes from Node's.
 */
export function requestShaper(
  req: IncomingMessage,
  res: ServerResponse,
): ((request: IncomingMessage, response: ServerResponse) => void) | undefined {
  try {
    return shaperOf(req, res);
  } catch {
    // Prototypes we cannot read (a proxy that throws): the requests stay as they are.
    return undefined;
  }
}

function shaperOf(
  req: IncomingMessage,
  res: ServerResponse,
): ((request: IncomingMessage, response: ServerResponse) => void) | undefined {
  const reqPrototype = Object.getPrototypeOf(req) as object | null;
  const resPrototype = Object.getPrototypeOf(res) as object | null;
  if (
    reqPrototype === null ||
    resPrototype === null ||
    (reqPrototype === IncomingMessage.prototype && resPrototype === ServerResponse.prototype)
  ) {
    return undefined;
  }
  const symbols = Object.getOwnPropertySymbols(req).filter((s) => s.description === MATCHED_ROUTE);
  const request = plan([...REQUEST_NAMES, ...symbols], reqPrototype, IncomingMessage.prototype);
  const response = plan(RESPONSE_NAMES, resPrototype, ServerResponse.prototype);
  return (incoming, outgoing) => {
    assign(incoming, request.keys, request.values);
    assign(outgoing, response.keys, response.values);
  };
}
