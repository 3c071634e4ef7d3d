/* global fetch, sessionStorage */
// The REST API client. Logging in exchanges the key (an API key, or a one-time login
// key, spent by it) for a session token (POST /dashboard/session): the token, never
// the key, lives in sessionStorage (this tab only) and goes in the Authorization
// header, never in a URL.
const SESSION = 'prsm.session';
export const BASE = '/api/v1/monitoring';

export function getSession() {
  return sessionStorage.getItem(SESSION);
}

export function clearSession() {
  const token = getSession();
  sessionStorage.removeItem(SESSION);
  if (token) {
    // Ends it on the server too; nothing to do if that fails (it ends when unused).
    void fetch(BASE + '/dashboard/session', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => undefined);
  }
}

/** Exchanges `key` for a session (kept in sessionStorage); throws an ApiError. */
export async function login(key) {
  const body = await api('/dashboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  sessionStorage.setItem(SESSION, body.session);
  return body;
}

/** An answer that is not 2xx: `status`, and the server's error code, message and field. */
export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export async function api(path, init = {}) {
  const headers = { accept: 'application/json', ...(init.headers ?? {}) };
  const token = getSession();
  if (token && !headers.authorization) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(BASE + path, { ...init, headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  const text = await res.text();
  let body = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error ? body.error : {};
    throw new ApiError(
      res.status,
      e.code ?? 'http_' + res.status,
      e.message ?? res.statusText,
      e.field ?? null,
    );
  }
  return body;
}

/** A short, human sentence for a failed panel. */
export function explain(error, what) {
  if (!(error instanceof ApiError)) return `${what}: ${String(error && error.message)}`;
  switch (error.status) {
    case 0:
      return `${what}: the server cannot be reached; retrying.`;
    case 403:
      return `${what}: your key's role does not allow this (${error.message}).`;
    case 404:
      return `${what}: this server does not offer it (404).`;
    case 429:
      return `${what}: rate limited; retrying at the next update.`;
    case 503:
      return `${what}: unavailable (${error.message}).`;
    default:
      return `${what}: ${error.message} (${error.status}).`;
  }
}
