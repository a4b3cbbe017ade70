import { markAnswered, type WireResponse } from '@breakwater/core';
import type { Context } from 'koa';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Answers through Koa: upstream middleware still see (and may decorate) the response. Marked as
 * Breakwater's own answer (see core's `answeredByBreakwater`).
 */
export function setResponse(ctx: Context, wire: WireResponse): void {
  markAnswered(ctx.res);
  ctx.status = wire.status;
  for (const [name, value] of Object.entries(wire.headers)) ctx.set(name, value);
  ctx.body = typeof wire.body === 'string' ? wire.body : toBuffer(wire.body);
  // An answer to HEAD that gives its length (a backup's) keeps it: Koa measured the empty body.
  const length = wire.headers['content-length'];
  if (ctx.method === 'HEAD' && length !== undefined) ctx.set('content-length', length);
}
