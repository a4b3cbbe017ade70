import type { WireResponse } from '../http/response.js';
import type { RequestInfo } from './types.js';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

/**
 * The request's end-to-end headers, for forwarding. `accept-encoding` is left to fetch, which
 * asks only for codings it decodes (`relay` drops `content-encoding` because fetch decoded the body).
 */
export function forwardableHeaders(headers: RequestInfo['headers']): Headers {
  const connection = String(headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((token) => token.trim())
    .filter(Boolean);
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || connection.includes(lower) || lower.startsWith(':')) continue;
    if (lower === 'accept-encoding') continue;
    if (Array.isArray(value)) for (const item of value) out.append(lower, item);
    else out.set(lower, value);
  }
  return out;
}

/**
 * Joins a base URL and a request's path + query: `http://b/api` + `/users?x=1` → `http://b/api/users?x=1`.
 * The path is resolved on its own first, so that its dot segments (`/../admin`, `/%2e%2e/admin`)
 * stop at its root instead of climbing out of the base's path when fetch resolves them.
 */
export function joinUrl(base: string, pathAndQuery: string): string {
  const target = new URL(`http://path${pathAndQuery.startsWith('/') ? '' : '/'}${pathAndQuery}`);
  return base.replace(/\/+$/, '') + target.pathname + target.search;
}

/**
 * A fetch `Response` as a wire response, minus hop-by-hop and encoding headers (fetch has decoded
 * the body). The answer to a `HEAD` keeps its `Content-Length`: it has no body to measure, and the
 * length is that of the body a GET would get.
 */
export async function relay(
  response: Response,
  extraHeaders: Record<string, string>,
  method = 'GET',
): Promise<WireResponse> {
  const headers: Record<string, string | string[]> = {};
  const head = method.toUpperCase() === 'HEAD';
  response.headers.forEach((value, name) => {
    if (head && name === 'content-length' && response.headers.get('content-encoding') === null) {
      headers[name] = value;
      return;
    }
    if (HOP_BY_HOP.has(name) || name === 'content-encoding' || name === 'set-cookie') return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  Object.assign(headers, extraHeaders);
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}
