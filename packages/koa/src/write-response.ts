import type { ServerResponse } from 'node:http';
import type { WireResponse } from '@breakwater/core';
import type { Context } from 'koa';

const BODILESS = new Set([204, 205, 304]);

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Answers through Koa: upstream middleware still see (and may decorate) the response. */
export function setResponse(ctx: Context, wire: WireResponse): void {
  ctx.status = wire.status;
  for (const [name, value] of Object.entries(wire.headers)) ctx.set(name, value);
  ctx.body = typeof wire.body === 'string' ? wire.body : toBuffer(wire.body);
}

/** Writes a wire response straight to Node's response, past Koa. */
export function writeResponse(res: ServerResponse, wire: WireResponse): void {
  res.statusCode = wire.status;
  for (const [name, value] of Object.entries(wire.headers)) res.setHeader(name, value);
  if (BODILESS.has(wire.status) || wire.status < 200) {
    res.end();
    return;
  }
  res.setHeader('content-length', typeof wire.body === 'string' ? Buffer.byteLength(wire.body) : wire.body.byteLength);
  res.end(wire.body);
}

function callbackOf(args: unknown[]): (() => void) | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as () => void) : undefined;
}

/**
 * Turns every later header or body write on `res` into a no-op, so a handler that answers after
 * a fallback was sent finishes quietly instead of failing with "headers already sent" or
 * "write after end".
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
}
