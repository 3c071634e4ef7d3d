/**
 * The monitoring server of the demo: `@prsm/server` started in this process
 * (`createServer`) on a fresh SQLite file, on 127.0.0.1 and a free port, with three
 * API keys created for the demo (as `prsm-monitor keys create` does): `ingest` for
 * the service's REST exporter, `admin` for this script (alert rules, acknowledging),
 * and `enterprise` (read plus the business dashboard) printed for you to log in to
 * the dashboard with. Plus a small client of its REST API.
 */
import type { NotificationChannel } from '@prsm/core';
import { API_PREFIX, createServer, type PrsmServer } from '@prsm/server';

/** A key created for the demo: its id (safe to print) and the key (shown once). */
export interface DemoKey {
  readonly id: string;
  readonly key: string;
}

/** The running server, its keys and an API client with the admin key. */
export interface Backend {
  readonly server: PrsmServer;
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  /** `${url}/api/v1/monitoring`. */
  readonly api: string;
  readonly keys: {
    readonly ingest: DemoKey;
    readonly admin: DemoKey;
    readonly login: DemoKey;
    /** A one-time login key for the dashboard (spent by its first login). */
    readonly dashboard: DemoKey;
  };
  /** The REST API as the admin key sees it. */
  readonly client: ApiClient;
  close(): Promise<void>;
}

/** A response of the API: the status and the parsed JSON body (or the text). */
export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** A client of the server's REST API with one key. */
export interface ApiClient {
  get<T>(path: string): Promise<ApiResponse<T>>;
  post<T>(path: string, body?: unknown): Promise<ApiResponse<T>>;
}

/** A client of `api` (the `/api/v1/monitoring` URL) sending `key` as a bearer token. */
export function apiClient(api: string, key: string): ApiClient {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      parsed = JSON.parse(text) as unknown;
    }
    return { status: response.status, body: parsed as T };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
  };
}

/**
 * Starts the server on `db` (a file that must not exist yet) with `webhook` as the
 * channel its rules name `webhook`, evaluating rules every half second.
 */
export async function startBackend(db: string, webhook: NotificationChannel): Promise<Backend> {
  const server = await createServer({
    db,
    port: 0,
    host: '127.0.0.1',
    // The demo's exporter sends a batch a second; the dashboard polls. The default
    // (50 requests a second per key) is for a fleet; a little more room here.
    rateLimit: { perSecond: 200, burst: 400 },
    alerting: { channels: { webhook }, evaluationIntervalMs: 500 },
  });
  try {
    const url = server.url;
    if (url === undefined) throw new Error('the server is not listening');
    const created = (role: 'ingest' | 'admin' | 'enterprise'): DemoKey => {
      const { id, key } = server.store.createKey(role);
      return { id, key };
    };
    const keys = {
      ingest: created('ingest'),
      admin: created('admin'),
      login: created('enterprise'),
      dashboard: (({ id, key }) => ({ id, key }))(server.store.createOneTimeKey('enterprise')),
    };
    const api = `${url}${API_PREFIX}`;
    return {
      server,
      url,
      api,
      keys,
      client: apiClient(api, keys.admin.key),
      close: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
