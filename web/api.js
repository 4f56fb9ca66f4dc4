// The console's calls to /api/v1 (docs/api.md): JSON in and out, the session cookie sent
// by the browser (same origin only), the CSRF token on every request that changes
// something, errors as ApiError with the server's {"error": {"code", "message"}}.

const BASE = '/api/v1';
let csrf = null;
let onUnauthenticated = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function setCsrf(token) { csrf = token || null; }
// Called when a request (other than signing in) answers 401: the session is gone.
export function whenUnauthenticated(fn) { onUnauthenticated = fn; }

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function call(method, path, { body, query, signIn = false } = {}) {
  let url = BASE + path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
    const s = qs.toString();
    if (s) url += `?${s}`;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (CHANGES.has(method) && !signIn && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code || statusCode(res.status), err.message || res.statusText);
    e.data = data; // the whole answer (a 502 of restore says why per message)
    if (res.status === 401 && !signIn) onUnauthenticated(e);
    throw e;
  }
  return data;
}

function statusCode(status) {
  return ({ 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found',
    409: 'failed_precondition', 423: 'locked', 429: 'too_many_requests', 500: 'internal',
    503: 'unavailable' })[status] || 'generic';
}

export const api = {
  session: () => call('GET', '/session'),
  signIn: (name, password, totp) =>
    call('POST', '/session', { body: totp ? { name, password, totp } : { name, password }, signIn: true }),
  signOut: () => call('DELETE', '/session'),
  search: (q, limit = 50) => call('GET', '/archive/search', { query: { q, limit } }),
  message: (id) => call('GET', `/archive/messages/${encodeURIComponent(id)}`),
  audit: (since, limit) => call('GET', '/audit', { query: { since, limit } }),
  accounts: () => call('GET', '/accounts'),
  vaults: () => call('GET', '/vaults'),
  vault: (name) => call('GET', `/vaults/${encodeURIComponent(name)}`),
  snapshots: (name) => call('GET', `/vaults/${encodeURIComponent(name)}/snapshots`),
  drills: (name) => call('GET', `/vaults/${encodeURIComponent(name)}/drills`),
  backup: (name, paths) => call('POST', `/vaults/${encodeURIComponent(name)}/backups`, { body: { paths } }),
  drill: (name, body) => call('POST', `/vaults/${encodeURIComponent(name)}/drills`, { body }),
  job: (id) => call('GET', `/jobs/${encodeURIComponent(id)}`),
};

export const emlUrl = (id) => `${BASE}/archive/messages/${encodeURIComponent(id)}/eml`;
export const attachmentUrl = (id, index) =>
  `${BASE}/archive/messages/${encodeURIComponent(id)}/attachments/${encodeURIComponent(index)}`;
