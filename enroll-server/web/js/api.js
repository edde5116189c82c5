// The API as the page speaks it: JSON in and out, the session cookie sent
// along, and every failure turned into words. 429 and 503 are waited out
// and retried by themselves (honouring `Retry-After`), as are dropped
// connections; the student is told they are waiting, not shown an error.

import { t, has } from './i18n.js';
import { sleep } from './dom.js';

/** A failed request: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }

  /** What to tell the student. */
  words() {
    if (has(`error.${this.code}`)) return t(`error.${this.code}`);
    if (this.status === 0) return t('error.network');
    if (this.status >= 500) return t('error.server');
    return t('error.generic', { status: this.status });
  }
}

let waitListener = () => {};
/** Called with the seconds to wait (or null when waiting ends). */
export function onWait(fn) {
  waitListener = fn;
}

let unauthenticated = () => {};
/** Called when a request finds the session gone. */
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

/** Seconds to wait from `Retry-After` (seconds or an HTTP date). */
export function retryAfterMs(res) {
  const v = res.headers.get('retry-after');
  if (!v) return null;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

const backoff = (attempt) => Math.min(1000 * 2 ** attempt, 15000);

/**
 * `method path` with an optional JSON body; resolves to the parsed body
 * (or null for 204). Retries 429 and 503 (after `Retry-After`, else a
 * growing pause) and unreachable servers up to `retries` times.
 */
export async function api(method, path, body, { retries = 6 } = {}) {
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(path, {
        method,
        credentials: 'same-origin',
        cache: 'no-store',
        headers: body === undefined ? { accept: 'application/json' }
          : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      if (attempt < retries) {
        await waitOut(backoff(attempt), 'network');
        continue;
      }
      waitListener(null);
      throw new ApiError(0, 'network');
    }
    if ((res.status === 429 || res.status === 503) && attempt < retries) {
      const err = await errorOf(res);
      await waitOut(retryAfterMs(res) ?? backoff(attempt), err.code);
      continue;
    }
    waitListener(null);
    if (res.ok) {
      if (res.status === 204) return null;
      const type = res.headers.get('content-type') || '';
      return type.includes('json') ? res.json() : res.text();
    }
    const err = await errorOf(res);
    if (res.status === 401 && err.code === 'unauthenticated') unauthenticated();
    throw err;
  }
}

async function waitOut(ms, code) {
  waitListener(Math.ceil(ms / 1000), code);
  await sleep(ms);
}

/** The `{"error":{"code","message"}}` body, or one made from the status. */
async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = '';
  try {
    const body = await res.json();
    if (body?.error?.code) ({ code, message } = body.error);
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return new ApiError(res.status, code, message);
}
