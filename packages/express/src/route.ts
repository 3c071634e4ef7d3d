/**
 * The route template of an Express request: the mount paths of the routers it went
 * through plus `req.route.path`. `req.baseUrl` holds the *matched* mount path
 * (`/users/42`), and is reset when an error leaves a router, so the app's router tree
 * is walked to find the templates (`/users/:id`): Express 5 layers keep theirs (`rawPath`); Express 4 layers
 * only their regexp and keys, so the matched path is turned back into one by putting
 * each key's name where its value was. Reads Express's objects by duck type only.
 */

interface KeyLike {
  readonly name?: unknown;
}

interface LayerLike {
  readonly handle?: unknown;
  readonly route?: unknown;
  readonly rawPath?: unknown;
  readonly keys?: readonly (KeyLike | string)[];
  readonly params?: Readonly<Record<string, unknown>>;
  readonly path?: unknown;
  /** Express 4 and router 2.2 set `path`/`params` and return a boolean; later routers return the match. */
  match?(path: string): unknown;
}

interface MatchLike {
  readonly path?: unknown;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly pattern?: unknown;
}

/** What the middleware reads from an Express request. */
export interface RouteSource {
  readonly baseUrl?: string;
  readonly originalUrl?: string;
  readonly url?: string;
  readonly route?: { readonly path?: unknown } | undefined;
  readonly app?: unknown;
}

/** `req.route.path` as a string (arrays and RegExps of Express routes included). */
export function routePath(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(routePath).join('|');
  if (path instanceof RegExp) return String(path);
  return '';
}

function stackOf(handle: unknown): readonly LayerLike[] | undefined {
  if (typeof handle !== 'function') return undefined;
  const stack = (handle as { stack?: unknown }).stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

/** The top router of an app: `app._router` (Express 4) or `app.router` (Express 5). */
function routerStack(app: unknown): readonly LayerLike[] | undefined {
  if (app === null || (typeof app !== 'function' && typeof app !== 'object')) return undefined;
  const a = app as { _router?: unknown; router?: unknown };
  // Express 4's `app.router` getter throws: `_router` first.
  if ('_router' in a) {
    const r = a._router as { stack?: unknown } | undefined;
    return Array.isArray(r?.stack) ? (r.stack as LayerLike[]) : undefined;
  }
  const r = a.router as { stack?: unknown } | undefined;
  return Array.isArray(r?.stack) ? (r.stack as LayerLike[]) : undefined;
}

function keyName(key: KeyLike | string): string {
  return typeof key === 'string' ? key : String(key.name);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The template of a mount layer that just matched (`m`: what it matched). */
function mountPiece(layer: LayerLike, m: MatchLike): string | undefined {
  let piece: string;
  if (typeof m.pattern === 'string') piece = m.pattern;
  else if (typeof layer.rawPath === 'string') piece = layer.rawPath;
  else if (layer.rawPath instanceof RegExp) piece = String(layer.rawPath);
  else {
    const matched = m.path;
    if (typeof matched !== 'string') return undefined;
    const segments = matched.split('/');
    const params = m.params ?? {};
    const used = new Set<number>();
    for (const key of layer.keys ?? []) {
      const name = keyName(key);
      const value = params[name];
      if (typeof value !== 'string') continue;
      const i = segments.findIndex(
        (s, index) => !used.has(index) && (s === value || safeDecode(s) === value),
      );
      if (i < 0) return undefined;
      used.add(i);
      segments[i] = `:${name}`;
    }
    piece = segments.join('/');
  }
  if (piece === '/') return '';
  return piece.endsWith('/') ? piece.slice(0, -1) : piece;
}

/**
 * Templates of routes declared on an app's own router (`app.get(...)`), which has one
 * place only: found once, then read from here. Routes of routers are walked to each
 * time (a router may be mounted at several paths).
 */
const ROOT_ROUTES = new WeakMap<object, string>();
/** Routes found directly in an app's top router stack by the last walk. */
const ROOT_ROUTES_DIRECT = new WeakSet<object>();

/** The mount-path template leading to `target` in `stack`, given the path left to match. */
function findMount(
  stack: readonly LayerLike[],
  path: string,
  target: unknown,
  depth: number,
): string | undefined {
  if (depth > 32) return undefined;
  for (const layer of stack) {
    if (layer.route !== undefined) {
      if (layer.route === target) {
        if (depth === 0 && typeof target === 'object' && target !== null) {
          ROOT_ROUTES_DIRECT.add(target);
        }
        return '';
      }
      continue;
    }
    const inner = stackOf(layer.handle);
    if (inner === undefined || typeof layer.match !== 'function') continue;
    // Express reads a layer's match results synchronously right after matching, so
    // matching again here, synchronously, cannot disturb a request in flight.
    const result = layer.match(path);
    if (result === false || result === null || result === undefined) continue;
    const m: MatchLike =
      typeof result === 'object' ? result : { path: layer.path, params: layer.params };
    const matched = typeof m.path === 'string' ? m.path : '';
    let rest = path.slice(matched.length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
    const piece = mountPiece(layer, m);
    if (piece === undefined) continue;
    const found = findMount(inner, rest, target, depth + 1);
    if (found !== undefined) return piece + found;
  }
  return undefined;
}

function pathname(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Mount paths of the sub-apps the request is in (`app.mountpath`), outermost first. */
function appPrefix(app: unknown): string {
  let prefix = '';
  let current = app as { mountpath?: unknown; parent?: unknown } | undefined;
  for (let i = 0; i < 16 && current !== undefined && current.parent !== undefined; i++) {
    const m = current.mountpath;
    const piece = typeof m === 'string' && m !== '/' ? m.replace(/\/$/, '') : '';
    prefix = piece + prefix;
    current = current.parent as typeof current;
  }
  return prefix;
}

/**
 * The route template of a request, with its mount paths; undefined when no route
 * matched it.
 */
export function expressRoute(req: RouteSource): string | undefined {
  const route = req.route;
  if (route === undefined || route === null) return undefined;
  const cached = ROOT_ROUTES.get(route);
  if (cached !== undefined) return cached;
  const own = routePath(route.path);
  const app = req.app as { parent?: unknown } | undefined;
  let mount: string | undefined;
  // Walked even when `req.baseUrl` is empty: routers reset it when an error leaves them,
  // so an app-level error handler sees an empty one for a route deep inside.
  if (app?.parent === undefined) {
    const stack = routerStack(req.app);
    if (stack !== undefined) {
      mount = findMount(stack, pathname(req.originalUrl ?? req.url ?? '/'), route, 0);
    }
  }
  // A sub-app, or a tree we could not follow: the sub-apps' mount paths and the route's own.
  const prefix = mount ?? appPrefix(req.app);
  // A router's own root (`router.get('/')` under `/books`) is the mount path itself.
  const t = prefix !== '' && own === '/' ? prefix : prefix + own;
  const template = t === '' ? '/' : t;
  if (mount === '' && ROOT_ROUTES_DIRECT.has(route)) ROOT_ROUTES.set(route, template);
  return template;
}
