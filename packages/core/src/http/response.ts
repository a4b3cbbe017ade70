import type { CircuitOpenError } from '../errors/circuit-open-error.js';
import { showValue } from '../errors/invalid-option.js';

/** Header values as Node's `OutgoingHttpHeaders` holds them. */
export type HeaderValue = string | number | readonly string[];

/** A response, independent of any framework: adapters write these out. */
export interface ResponseDescriptor {
  /** Default 200. */
  status?: number;
  headers?: Record<string, HeaderValue | undefined>;
  /** A string or bytes (`Uint8Array`, `ArrayBuffer`, any typed array) are sent as they are; anything else as JSON. */
  body?: unknown;
}

/** A descriptor ready to write: lower-case headers, a string or byte body. */
export interface WireResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array;
}

/** Normalises a descriptor: JSON-encodes object bodies (setting `content-type`), lower-cases header names. */
export function toWire(descriptor: ResponseDescriptor, extraHeaders?: Record<string, string>): WireResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(descriptor.headers ?? {})) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
  }
  let body: string | Uint8Array;
  const raw = descriptor.body;
  if (raw === undefined || raw === null) body = '';
  else if (typeof raw === 'string' || raw instanceof Uint8Array) body = raw;
  else if (raw instanceof ArrayBuffer) body = new Uint8Array(raw);
  else if (ArrayBuffer.isView(raw)) body = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  else {
    body = JSON.stringify(raw);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  if (typeof body === 'string' && headers['content-type'] === undefined) {
    headers['content-type'] = 'text/plain; charset=utf-8';
  }
  if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
  const status = descriptor.status ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`Invalid response status: got ${showValue(status)}, expected an integer from 100 to 599`);
  }
  return { status, headers, body };
}

/** The 503 body every adapter sends when a breaker refuses a request. */
export interface RejectionBody {
  error: 'Service Unavailable';
  message: string;
  circuitBreakerState: string;
  retryAfter: number;
}

/** Whole seconds (at least 1) until the breaker may permit calls again. */
export function retryAfterSeconds(error: CircuitOpenError): number {
  return Math.max(1, Math.ceil(error.retryAfterMs / 1000));
}

/**
 * The structured 503 for a refused request: JSON body, `Retry-After`, nothing of any upstream
 * error. A breaker refused by its group reports `OPEN`, the state its callers experience.
 */
export function rejectionResponse(error: CircuitOpenError): WireResponse {
  const retryAfter = retryAfterSeconds(error);
  const body: RejectionBody = {
    error: 'Service Unavailable',
    message: `Service ${error.breaker} is temporarily unavailable`,
    circuitBreakerState: error.reason === 'group' ? 'OPEN' : error.state,
    retryAfter,
  };
  return {
    status: 503,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'retry-after': String(retryAfter),
      'cache-control': 'no-store',
    },
    body: JSON.stringify(body),
  };
}
