import type { RequestInfo } from './types.js';

/** True when a request may have its response cached (and be served one) without the opt-in for private data. */
export function isSharedRequest(info: RequestInfo): boolean {
  return info.headers.authorization === undefined && info.headers.cookie === undefined;
}

function headerText(value: string | string[] | number | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** True when a response says nothing that makes it private to one user. */
export function isSharedResponse(headers: Record<string, string | string[] | number | undefined>): boolean {
  if (headers['set-cookie'] !== undefined) return false;
  const cacheControl = headerText(headers['cache-control']).toLowerCase();
  return !/(^|[\s,])(private|no-store)([\s,=]|$)/.test(cacheControl);
}
