import { markAnswered, type WireResponse } from '@breakwater/core';
import type { FastifyReply } from 'fastify';

function bytes(body: string | Uint8Array): string | Buffer {
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Sends a wire response through `reply`, so the route's `onSend` and `onResponse` hooks still
 * run. With `final`, every later `reply.send` (a handler that answers after a timeout fallback)
 * becomes a quiet no-op instead of a "Reply was already sent" warning or a second response.
 * Marked as Breakwater's own answer (see core's `answeredByBreakwater`).
 */
export function sendWire(reply: FastifyReply, wire: WireResponse, final = false): void {
  markAnswered(reply.raw);
  reply.code(wire.status);
  for (const [name, value] of Object.entries(wire.headers)) reply.header(name, value);
  const send = reply.send;
  if (final) (reply as { send: unknown }).send = () => reply;
  send.call(reply, bytes(wire.body));
}
