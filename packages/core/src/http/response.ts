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

/** Headers about an answer itself: see `isAnswerHeader`. */
const ANSWER_HEADERS = new Set([
  'accept-ranges',
  'age',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'location',
  'refresh',
  'retry-after',
  'set-cookie',
  'trailer',
  'transfer-encoding',
]);

/**
 * Whether a header describes the answer it was set on (its body, caching, cookies): what a
 * handler set before it timed out must not go out with the fallback that answers instead (a
 * placeholder cached by a CDN for a day, a file name, a session cookie). Headers that middleware
 * set for every answer (CORS, security such as `Content-Security-Policy`, a request id, `Vary`) stay.
 */
export function isAnswerHeader(name: string): boolean {
  return ANSWER_HEADERS.has(name.toLowerCase());
}

/** A header name as HTTP allows it (RFC 9110's token), as Node checks it. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters Node refuses in a header value: controls but tab, and anything past one byte. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function headerValue(name: string, value: unknown): string {
  const text = String(value);
  if (BAD_HEADER_VALUE.test(text)) {
    throw new TypeError(
      `Invalid response header "${name}": its value has a character HTTP does not allow in a header (encode it first)`,
    );
  }
  return text;
}

/**
 * Normalises a descriptor: JSON-encodes object bodies (setting `content-type`), lower-cases
 * header names. Throws a `TypeError` for a header that Node would refuse to send, so that a
 * fallback that builds one fails as a whole (the 503 goes out) before anything was written.
 */
/** What `isFinalStatus` takes, for error messages. */
export const FINAL_STATUS = 'an integer from 200 to 599';

/**
 * Whether `status` can be an answer's status: a 1xx is no final answer (written as one, the
 * client waits on for the response that never comes).
 */
export function isFinalStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599;
}

export function toWire(descriptor: ResponseDescriptor, extraHeaders?: Record<string, string>): WireResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(descriptor.headers ?? {})) {
    if (value === undefined) continue;
    if (!HEADER_NAME.test(name)) {
      throw new TypeError(`Invalid response header name: got ${showValue(name)}, expected an HTTP token`);
    }
    headers[name.toLowerCase()] = Array.isArray(value)
      ? value.map((item: unknown) => headerValue(name, item))
      : headerValue(name, value);
  }
  let body: string | Uint8Array;
  const raw = descriptor.body;
  if (raw === undefined || raw === null) body = '';
  else if (typeof raw === 'string' || raw instanceof Uint8Array) body = raw;
  else if (raw instanceof ArrayBuffer) body = new Uint8Array(raw);
  else if (ArrayBuffer.isView(raw)) body = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  else {
    const json: string | undefined = JSON.stringify(raw);
    // A function or a symbol has no JSON: it would reach the adapter as no body at all, which
    // fails while the answer is written (a 500 from the framework, not the structured 503).
    if (json === undefined) {
      throw new TypeError(`Invalid response body: got ${showValue(raw)}, expected a string, bytes or a JSON value`);
    }
    body = json;
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  if (typeof body === 'string' && headers['content-type'] === undefined) {
    headers['content-type'] = 'text/plain; charset=utf-8';
  }
  if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
  const status = descriptor.status ?? 200;
  if (!isFinalStatus(status)) {
    throw new TypeError(`Invalid response status: got ${showValue(status)}, expected ${FINAL_STATUS}`);
  }
  return { status, headers, body };
}

/** The 503 body every adapter sends when a breaker refuses a request. */
export interface RejectionBody {
  error: 'Service Unavailable';
  message: string;
  circuitBreakerState: 'OPEN';
  retryAfter: number;
}

/** Whole seconds (at least 1) until the breaker may permit calls again. */
export function retryAfterSeconds(error: CircuitOpenError): number {
  return Math.max(1, Math.ceil(error.retryAfterMs / 1000));
}

/**
 * The structured 503 for a refused request: JSON body, `Retry-After`, nothing of any upstream
 * error. `circuitBreakerState` is `"OPEN"`, the body the SPEC fixes, whatever refused the request
 * (an open circuit, a full HALF_OPEN, `forceOpen()`, the breaker's group, a timeout): the state
 * its callers experience. Code that needs to tell those apart has the `CircuitOpenError`'s
 * `state` and `reason`.
 */
export function rejectionResponse(error: CircuitOpenError): WireResponse {
  const retryAfter = retryAfterSeconds(error);
  const body: RejectionBody = {
    error: 'Service Unavailable',
    message: `Service ${error.breaker} is temporarily unavailable`,
    circuitBreakerState: 'OPEN',
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
