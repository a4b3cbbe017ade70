import { subscribe } from 'node:diagnostics_channel';
import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { HttpCall } from '../http/http-guard.js';
import { settleOnClose } from './settle-on-close.js';

/** Published by Node's HTTP server on every response that finishes (Node 16.18+). */
const FINISH_CHANNEL = 'http.server.response.finish';

/**
 * The watched responses of one connection, oldest first. HTTP/1.1 finishes a connection's
 * responses in order, so the one that finishes is nearly always the first, watched by one call:
 * that case has fields of its own, reused from one response to the next, so watching allocates
 * nothing. Any others (a response two breakers watch) wait in `more`, as pairs: response, call.
 */
class Watched {
  response: ServerResponse | undefined;
  call: HttpCall | undefined;
  /** Whether `response` may be read with plain property reads (see `countWhenFinished`). */
  plain: boolean;
  more: Array<ServerResponse | HttpCall> | undefined;

  constructor(response: ServerResponse, call: HttpCall, plain: boolean) {
    this.response = response;
    this.call = call;
    this.plain = plain;
    this.more = undefined;
  }

  add(response: ServerResponse, call: HttpCall, plain: boolean): void {
    if (this.response === undefined) {
      this.response = response;
      this.call = call;
      this.plain = plain;
    } else {
      this.more ??= [];
      this.more.push(response, call);
    }
  }

  /**
   * Takes out the calls that watch `response`, and those of the responses before it, which will
   * never finish (an upgraded or hijacked response) and are dropped uncounted.
   */
  take(response: ServerResponse): HttpCall[] {
    const pairs = [this.response, this.call, ...(this.more ?? [])] as Array<ServerResponse | HttpCall>;
    const last = pairs.lastIndexOf(response);
    if (last < 0) return [];
    const calls: HttpCall[] = [];
    for (let i = 0; i <= last; i += 2) if (pairs[i] === response) calls.push(pairs[i + 1] as HttpCall);
    const rest = pairs.slice(last + 2);
    this.response = rest[0] as ServerResponse | undefined;
    this.call = rest[1] as HttpCall | undefined;
    this.more = rest.length > 2 ? rest.slice(2) : undefined;
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
  if (watched === undefined || watched.response === undefined) return;
  if (watched.response === response && watched.more === undefined) {
    const call = watched.call as HttpCall;
    watched.response = undefined;
    watched.call = undefined;
    call.complete(watched.plain ? response.statusCode : statusOf(response));
    return;
  }
  const calls = watched.take(response);
  if (calls.length === 0) return;
  const status = statusOf(response);
  for (const call of calls) call.complete(status);
}

/**
 * A property of a response, read without an inline cache. Express gives every response a hidden
 * class of its own (it swaps their prototype), so a plain `res.statusCode` misses V8's inline
 * cache and goes through the runtime, which updates the cache for a class that will never be
 * seen again: about 1,300 instructions a read, measured with callgrind. `Reflect.get` compiles to
 * a plain property lookup.
 */
function statusOf(response: ServerResponse): number {
  return Reflect.get(response, 'statusCode') as number;
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
  const watched = (connection as WatchedSocket)[kWatched];
  if (watched === undefined) (connection as WatchedSocket)[kWatched] = new Watched(res, call, plain);
  else watched.add(res, call, plain);
}
