import { markAnswered, type WireResponse } from '@breakwater/core';
import type { FastifyReply } from 'fastify';

function bytes(body: string | Uint8Array): string | Buffer {
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Sends a wire response through `reply`, so the route's `onSend` and `onResponse` hooks still
 * run; through `send` when given (the reply's own, for a reply whose `send` was wrapped).
 * Marked as Breakwater's own answer (see core's `answeredByBreakwater`).
 */
export function sendWire(reply: FastifyReply, wire: WireResponse, send: FastifyReply['send'] = reply.send): void {
  markAnswered(reply.raw);
  reply.code(wire.status);
  for (const [name, value] of Object.entries(wire.headers)) reply.header(name, value);
  send.call(reply, bytes(wire.body));
}
