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
  more: Array<ServerResponse | HttpCall> | undefined;

  constructor(response: ServerResponse, call: HttpCall) {
    this.response = response;
    this.call = call;
    this.more = undefined;
  }

  add(response: ServerResponse, call: HttpCall): void {
    if (this.response === undefined) {
      this.response = response;
      this.call = call;
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

/** Per connection (a connection's entry goes with it). */
const watching = new WeakMap<Socket, Watched>();
let subscribed = false;

function onFinish(message: unknown): void {
  const { response, socket } = message as { response?: ServerResponse; socket?: Socket };
  if (response === undefined || socket === undefined) return;
  const watched = watching.get(socket);
  if (watched === undefined || watched.response === undefined) return;
  if (watched.response === response && watched.more === undefined) {
    const call = watched.call as HttpCall;
    watched.response = undefined;
    watched.call = undefined;
    call.complete(statusOf(response));
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
 * of a listener on the response: Express gives each response a hidden class of its own, so adding
 * and running a listener there misses V8's inline caches at every step. The call waits in a record
 * kept per connection (see `Watched`), which lives as long as the connection: keyed by the response, a WeakMap
 * entry would cost a new key every request (about 1,100 instructions, most in V8's write barrier
 * for weak tables). On Koa and Fastify, whose responses keep their hidden class, their own
 * watchers cost less, so they keep those.
 *
 * A call that holds a permit must give it back on every path, and a response that no Node HTTP
 * server serves (an injected one, HTTP/2's compatibility API) is never published: both are
 * settled by `settleOnClose` instead, and so is a pipelined response still waiting for the
 * connection.
 */
export function countWhenFinished(res: ServerResponse, call: HttpCall): void {
  const socket = res instanceof ServerResponse && !call.holdsPermit ? Reflect.get(res, 'socket') : undefined;
  if (!(socket instanceof Socket)) {
    settleOnClose(res, call);
    return;
  }
  if (!subscribed) {
    subscribe(FINISH_CHANNEL, onFinish);
    subscribed = true;
  }
  const watched = watching.get(socket);
  if (watched === undefined) watching.set(socket, new Watched(res, call));
  else watched.add(res, call);
}
