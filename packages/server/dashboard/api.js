/* global fetch, sessionStorage */
// The REST API client: the key lives in sessionStorage (this tab only) and goes in
// the Authorization header, never in a URL.
const KEY = 'prsm.apiKey';
export const BASE = '/api/v1/monitoring';

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

/** An answer that is not 2xx: `status`, and the server's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, init = {}) {
  const headers = { accept: 'application/json', ...(init.headers ?? {}) };
  const key = getKey();
  if (key) headers.authorization = `Bearer ${key}`;
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
    throw new ApiError(res.status, e.code ?? 'http_' + res.status, e.message ?? res.statusText);
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
