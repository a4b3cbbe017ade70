import { EventEmitter } from 'node:events';
import { OutgoingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { HttpCall } from '../http/http-guard.js';

// Taken once from Node's own prototypes. Express swaps the prototype of every response, and V8
// then gives each one a hidden class of its own: a property looked up on it misses the inline
// caches and walks Express's prototype chain (about 0.5–1 µs per lookup, measured). Calling
// these directly keeps the per-request cost the same whatever the framework did to `res`.
const on = EventEmitter.prototype.on;
const writableEnded = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'writableEnded')?.get as
  | ((this: ServerResponse) => boolean)
  | undefined;

/**
 * Whether the response was ended (`res.end()`), i.e. the upstream answered in full: what the
 * breaker counts. Whether the last bytes then reached a client that was already leaving is the
 * client's affair. One property read, where `writableFinished` takes three.
 */
export function hasEnded(res: ServerResponse): boolean {
  return writableEnded !== undefined && res instanceof OutgoingMessage ? writableEnded.call(res) : res.writableEnded;
}

/**
 * Whether the response is answered as far as the upstream goes: ended, or its headers sent and
 * its body held up by the client (the connection's buffer is full: a streamed body that a slow
 * client reads). Either way the upstream answered in time: a deadline that finds it so counts
 * the call by its status (see `HttpCall.answered`). Read only at a deadline, so plain reads do.
 */
export function isAnswered(res: ServerResponse): boolean {
  return hasEnded(res) || (res.headersSent && res.writableNeedDrain);
}

/**
 * A property of a response, read without an inline cache. Express gives every response a hidden
 * class of its own (it swaps their prototype), so a plain `res.statusCode` misses V8's inline
 * cache and goes through the runtime, which updates the cache for a class that will never be
 * seen again: about 1,300 instructions a read, measured with callgrind. `Reflect.get` compiles to
 * a plain property lookup.
 */
export function statusOf(response: ServerResponse): number {
  return Reflect.get(response, 'statusCode') as number;
}

/**
 * The error a response was destroyed with by the server's side (`res.destroy(error)`: a stream
 * piped into it failed, as `pipeline` reports it), or undefined: a response cut because its
 * client went away carries none, or Node's premature-close error, which says just that.
 */
function cutByError(res: ServerResponse): Error | undefined {
  return failure((res as { errored?: unknown }).errored);
}

/** `error` when it says something failed; undefined for none, or for Node's premature close (a client that left). */
function failure(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined;
  return (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE' ? undefined : error;
}

/**
 * The error a stream failed with (Node's `readable.errored`), or undefined: none, or the
 * premature close of a body whose client left (Koa 3 pipes the body, and so destroys it then).
 */
function streamError(body: unknown): Error | undefined {
  return typeof body === 'object' && body !== null ? failure((body as { errored?: unknown }).errored) : undefined;
}

/**
 * Whether this server cut the response short after its headers went out, without saying why: it
 * destroyed the connection while its client was still there (the connection's read side had
 * neither ended nor failed), and not because it is shutting down. That is what Fastify does when
 * a streamed reply's source fails, and Express's last-resort handler after `next(error)` once
 * the headers are out. A client that left shows on the connection: it ended (the client closed
 * it) or failed (a reset, or a write to a peer that is gone). Not a cut of the server's own
 * making either, nor the upstream's fault: a connection with an idle timeout (`server.timeout`,
 * `res.setTimeout`, Fastify's `connectionTimeout`), which Node ends the same way when it fires
 * (an idle stream, a client that vanished without a word), and a response held up by its client
 * (a slow reader, its buffer full). HTTP/2 is left out: a client cancels one stream there and
 * the connection lives on.
 */
function cutByServer(res: ServerResponse): boolean {
  if (!(res instanceof ServerResponse) || !res.headersSent || res.writableNeedDrain) return false;
  const socket = res.req?.socket;
  if (!(socket instanceof Socket) || socket.readableEnded || socket.errored !== null) return false;
  if ((socket.timeout ?? 0) > 0) return false;
  const server = (socket as { server?: { listening?: unknown } }).server;
  return server?.listening !== false;
}

/** The failure recorded for a response cut short by this server (see `cutByServer`). */
function cutShort(): Error {
  return new Error('the response was cut short by the server after its headers were sent');
}

/**
 * Settles `call` for a response that closed before it was ended: a failure when the server's
 * side cut it with an error (a streamed body whose source failed; see `cutByError`), when
 * `body`, the stream the response was being sent from, failed (a framework that leaves such a
 * response open until its client gives up, as Koa 2 does), or when the server cut it after its
 * headers without an error (see `cutByServer`); else neither success nor failure (the client
 * went away).
 */
export function settleCut(res: ServerResponse, call: HttpCall, body?: unknown): void {
  const error = cutByError(res) ?? streamError(body) ?? (cutByServer(res) ? cutShort() : undefined);
  if (error === undefined) call.abort();
  else call.fail(error);
}

/**
 * Settles `call` for a response that is over (closed, or finished): by the status it finished
 * with, then `finished`, or, when it closed before it was ended, as `settleCut` says (`body`:
 * the stream it was being sent from, if the adapter knows it).
 */
export function settleEnded(res: ServerResponse, call: HttpCall, finished?: () => void, body?: () => unknown): void {
  if (!hasEnded(res)) {
    settleCut(res, call, body?.());
    return;
  }
  call.complete(res.statusCode, res);
  finished?.();
}

/**
 * The connection a response waits for when it is queued behind another one on it (HTTP/1.1
 * pipelining): Node gives such a response its socket only when the one before it finished, and
 * when the connection drops first it emits neither `close` nor `finish` on it.
 */
function queuedOn(res: ServerResponse): Socket | undefined {
  const socket = res.req?.socket;
  return socket instanceof Socket && res.socket !== socket ? socket : undefined;
}

/**
 * The responses a connection's `close` must end, for calls whose response waits behind another
 * on it (see `onResponseOver`): one listener per connection however many wait, so that a burst
 * of pipelined requests does not pass Node's limit of 10 listeners (and its warning). Kept on
 * the socket under a symbol of ours, cleared once nothing waits.
 */
const kQueued = Symbol('breakwater.queued');
type QueuedSocket = Socket & { [kQueued]?: Set<() => void> | undefined };

function onConnectionClose(this: QueuedSocket): void {
  const waiting = this[kQueued];
  if (waiting === undefined) return;
  this[kQueued] = undefined;
  this.removeListener('close', onConnectionClose);
  for (const over of waiting) over();
}

function waitForConnection(socket: QueuedSocket, over: () => void): void {
  let waiting = socket[kQueued];
  if (waiting === undefined) {
    waiting = new Set();
    socket[kQueued] = waiting;
    on.call(socket, 'close', onConnectionClose);
  }
  waiting.add(over);
}

function stopWaiting(socket: QueuedSocket, over: () => void): void {
  const waiting = socket[kQueued];
  if (waiting === undefined || !waiting.delete(over) || waiting.size > 0) return;
  socket[kQueued] = undefined;
  socket.removeListener('close', onConnectionClose);
}

/**
 * Calls `listener` once, when `res` is over: when it closes, which Node emits once on every
 * server response (after `finish`, and on a lost connection). Every call must be settled on
 * every path (a permit given back, a busy breaker known as busy), so for a response queued
 * behind another on its connection (pipelining), the connection's own `close` counts too: Node
 * emits nothing on such a response when the connection drops before its turn.
 */
export function onResponseOver(res: ServerResponse, listener: () => void): void {
  const socket = queuedOn(res);
  if (socket === undefined) {
    on.call(res, 'close', listener);
    return;
  }
  let over = false;
  const responseOver = (): void => {
    if (over) return;
    over = true;
    stopWaiting(socket, responseOver);
    listener();
  };
  on.call(res, 'close', responseOver);
  if (socket.destroyed) responseOver();
  else waitForConnection(socket, responseOver);
}

/**
 * Settles `call` when `res` is over (see `settleEnded` and `onResponseOver`). This one listener
 * stands in for on-finished's four (and its async resource) at a fraction of the cost.
 * `finished` runs when a finished response is over. A call that holds a permit is counted when
 * `res` is ended (`prefinish`), by its status: what a slow client then takes to read it is not
 * the upstream's time, for the deadline, the slow-call rule or a HALF_OPEN probe alike.
 */
export function settleOnClose(res: ServerResponse, call: HttpCall, finished?: () => void, body?: () => unknown): void {
  if (call.holdsPermit) {
    // Its deadline checks whether the response was ended before counting a timeout.
    call.response = res;
    // Node emits `prefinish` when `end()` handed the last of the response to the connection: the
    // call is counted then (see `HttpCall.answered`), not when a slow client has read it all.
    on.call(res, 'prefinish', () => call.answered(res));
  }
  onResponseOver(res, () => {
    // A settled call keeps nothing of its response (a request decoration may outlive it).
    call.response = undefined;
    settleEnded(res, call, finished, body);
  });
}
