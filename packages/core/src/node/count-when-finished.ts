import { subscribe } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { HttpCall } from '../http/http-guard.js';
import { settleCut, settleOnClose, statusOf } from './settle-on-close.js';

/** Taken from Node's own prototype: see `settleOnClose`. */
const on = EventEmitter.prototype.on;

/** Published by Node's HTTP server on every response that finishes (Node 16.18+). */
const FINISH_CHANNEL = 'http.server.response.finish';

/**
 * The watched calls of one connection, oldest first; each call holds the response it waits for
 * (`HttpCall.response`). HTTP/1.1 finishes a connection's responses in order, so the one that
 * finishes is nearly always the first, watched by one call: that case has fields of its own,
 * reused from one response to the next, so watching allocates nothing. Any others (a response
 * two breakers watch) wait in `more`.
 */
class Watched {
  call: HttpCall | undefined;
  /** Whether `call.response` may be read with plain property reads (see `countWhenFinished`). */
  plain: boolean;
  more: HttpCall[] | undefined;

  constructor(call: HttpCall, plain: boolean) {
    this.call = call;
    this.plain = plain;
    this.more = undefined;
  }

  add(call: HttpCall, plain: boolean): void {
    if (this.call === undefined) {
      this.call = call;
      this.plain = plain;
    } else {
      this.more ??= [];
      this.more.push(call);
    }
  }

  /**
   * The connection closed: the responses still watched will never finish, so their calls are
   * settled as neither success nor failure (their client went away), or as failures when the
   * server's side cut them with an error (see `settleCut`). One listener per
   * connection, added with its record, stands for a listener per response.
   */
  abandon(): void {
    const waiting = this.call === undefined ? [] : [this.call, ...(this.more ?? [])];
    this.call = undefined;
    this.more = undefined;
    for (const call of waiting) {
      const response = call.response as ServerResponse;
      call.response = undefined;
      settleCut(response, call);
    }
  }

  /**
   * Takes out the calls that watch `response`, and those of the responses before it, which will
   * never finish (an upgraded or hijacked response): those are settled as neither.
   */
  take(response: ServerResponse): HttpCall[] {
    const waiting = [this.call as HttpCall, ...(this.more ?? [])];
    let last = waiting.length - 1;
    while (last >= 0 && (waiting[last] as HttpCall).response !== response) last--;
    if (last < 0) return [];
    const calls: HttpCall[] = [];
    for (const call of waiting.slice(0, last + 1)) {
      const mine = call.response === response;
      call.response = undefined;
      if (mine) calls.push(call);
      // Settled as neither, so that its breaker does not look busy for ever.
      else call.abort();
    }
    const rest = waiting.slice(last + 1);
    this.call = rest[0];
    this.more = rest.length > 1 ? rest.slice(1) : undefined;
    return calls;
  }
}

/**
 * Where a connection keeps its `Watched` record: a property of the socket, under a symbol of
 * ours, so that it goes with the connection. Set once per connection, it is then a plain
 * property read per request, where a WeakMap keyed by the socket cost two hash lookups.
 */
const kWatched = Symbol('breakwater.watched');
type WatchedSocket = Socket & { [kWatched]?: Watched };
let subscribed = false;

function onFinish(message: unknown): void {
  const { response, socket } = message as { response?: ServerResponse; socket?: Socket };
  if (response === undefined || socket === undefined) return;
  const watched = (socket as WatchedSocket)[kWatched];
  if (watched === undefined) return;
  const call = watched.call;
  if (call === undefined) return;
  if (call.response === response && watched.more === undefined) {
    watched.call = undefined;
    call.response = undefined;
    call.complete(watched.plain ? response.statusCode : statusOf(response), response);
    return;
  }
  const calls = watched.take(response);
  if (calls.length === 0) return;
  const status = statusOf(response);
  for (const call of calls) call.complete(status, response);
}

/**
 * Counts `call` by the status its response finished with, or not at all when the response never
 * finishes (the client went away first): for a call that holds no permit (see `HttpCall`), this
 * is all there is to settling it. It learns of the finish from Node's own
 * `http.server.response.finish` diagnostics channel, with one subscriber for the process, instead
 * of a listener on the response. Adding a listener costs Node's event emitter ~0.7k instructions
 * (its table of events is a dictionary), and on Express, which gives each response a hidden class
 * of its own, it misses V8's inline caches at every step. The call waits in a record kept per
 * connection (see `Watched` and `kWatched`), which lives as long as the connection: a WeakMap
 * keyed by the response would take a new key every request (about 1,100 instructions, most in
 * V8's write barrier for weak tables). Koa watches every response already, and keeps its own watcher.
 *
 * `socket` is the response's connection, given by a caller that reads it cheaply (a framework
 * whose responses keep their hidden class, such as Fastify): the response is then read with plain
 * property reads. Without it, reads go through `Reflect.get`, for Express (see `statusOf`).
 *
 * A call that holds a permit must give it back on every path, and a response that no Node HTTP
 * server serves (an injected one, HTTP/2's compatibility API) is never published: both are
 * settled by `settleOnClose` instead, and so is a pipelined response still waiting for the
 * connection.
 */
export function countWhenFinished(res: ServerResponse, call: HttpCall, socket?: unknown): void {
  const plain = socket !== undefined;
  if (call.holdsPermit || !(res instanceof ServerResponse)) {
    settleOnClose(res, call);
    return;
  }
  const connection = plain ? socket : Reflect.get(res, 'socket');
  if (!(connection instanceof Socket)) {
    settleOnClose(res, call);
    return;
  }
  if (!subscribed) {
    subscribe(FINISH_CHANNEL, onFinish);
    subscribed = true;
  }
  call.response = res;
  const watched = (connection as WatchedSocket)[kWatched];
  if (watched !== undefined) {
    watched.add(call, plain);
    return;
  }
  const created = new Watched(call, plain);
  (connection as WatchedSocket)[kWatched] = created;
  on.call(connection, 'close', () => created.abandon());
}
