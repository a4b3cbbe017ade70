import type { ServerResponse } from 'node:http';
import { isAnswerHeader, type WireResponse } from '../http/response.js';
import { markAnswered } from './answered.js';

const BODILESS = new Set([204, 205, 304]);

/**
 * Writes a wire response with Node's own API (`res.setHeader`, `res.end`), the same under every
 * framework and version, marked as Breakwater's own answer (see `answeredByBreakwater`). An
 * answer to HEAD that gives its `Content-Length` (a backup's, see `relay`) keeps it: it has no
 * body to measure.
 */
export function writeResponse(res: ServerResponse, wire: WireResponse): void {
  markAnswered(res);
  res.statusCode = wire.status;
  for (const [name, value] of Object.entries(wire.headers)) res.setHeader(name, value);
  const headWithLength = res.req?.method === 'HEAD' && wire.headers['content-length'] !== undefined;
  if (BODILESS.has(wire.status) || wire.status < 200 || headWithLength) {
    res.end();
    return;
  }
  res.setHeader('content-length', typeof wire.body === 'string' ? Buffer.byteLength(wire.body) : wire.body.byteLength);
  res.end(wire.body);
}

/**
 * Removes the headers a handler set about its own answer (see `isAnswerHeader`) before a
 * fallback answers in its place, after a timeout.
 */
export function forgetAnswerHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) if (isAnswerHeader(name)) res.removeHeader(name);
}

function callbackOf(args: unknown[]): (() => void) | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as () => void) : undefined;
}

/**
 * Turns every later header or body write on `res` into a no-op, so a handler that answers after
 * a fallback was sent finishes quietly instead of failing with "headers already sent" or
 * "write after end". `res` then reports no headers sent: the fallback is all of the answer, and
 * an error forwarded late (Express's `next(err)`) must not make a framework's last-resort
 * handler, seeing headers sent, destroy a keep-alive connection and the requests waiting on it;
 * what it writes instead is silenced too.
 */
export function silence(res: ServerResponse): void {
  const target = res as unknown as Record<string, unknown>;
  const self = (): ServerResponse => res;
  const nothing = (): void => undefined;
  target.setHeader = self;
  target.appendHeader = self;
  target.writeHead = self;
  target.removeHeader = nothing;
  target.flushHeaders = nothing;
  target.addTrailers = nothing;
  target.write = (...args: unknown[]): boolean => {
    const callback = callbackOf(args);
    if (callback !== undefined) process.nextTick(callback);
    return true;
  };
  target.end = (...args: unknown[]): ServerResponse => {
    const callback = callbackOf(args);
    if (callback !== undefined) process.nextTick(callback);
    return res;
  };
  Object.defineProperty(res, 'headersSent', { configurable: true, get: () => false });
}
