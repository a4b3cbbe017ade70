import { subscribe } from 'node:diagnostics_channel';
import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { HttpCall } from '../http/http-guard.js';
import { settleOnClose } from './settle-on-close.js';

/** Published by Node's HTTP server on every response that finishes (Node 16.18+). */
const FINISH_CHANNEL = 'http.server.response.finish';

/** Calls to count when their response finishes, by response (two when two breakers watch one response). */
const watched = new WeakMap<ServerResponse, HttpCall | HttpCall[]>();
let subscribed = false;

function onFinish(message: unknown): void {
  const response = (message as { response?: ServerResponse }).response;
  if (response === undefined) return;
  const calls = watched.get(response);
  if (calls === undefined) return;
  watched.delete(response);
  const status = response.statusCode;
  if (Array.isArray(calls)) for (const call of calls) call.complete(status);
  else calls.complete(status);
}

/**
 * Counts `call` by the status its response finished with, or not at all when the response never
 * finishes (the client went away first): for a call that holds no permit (see `HttpCall`), this
 * is all there is to settling it. It learns of the finish from Node's own
 * `http.server.response.finish` diagnostics channel, with one subscriber for the process, instead
 * of a listener on the response. Express swaps the prototype of every response, which gives each
 * a hidden class of its own, so adding and running a listener there misses V8's inline caches at
 * every step; the channel costs a WeakMap entry instead. Measured with callgrind, Breakwater's
 * overhead on Express fell from 14.2k to 8.8k instructions a request. On Koa and Fastify, whose
 * responses keep their hidden class, the channel costs more than their watchers, so they keep those.
 *
 * A call that holds a permit must give it back on every path, and a response that no Node HTTP
 * server serves (an injected one, HTTP/2's compatibility API) is never published: both are
 * settled by `settleOnClose` instead.
 */
export function countWhenFinished(res: ServerResponse, call: HttpCall): void {
  if (call.holdsPermit || !(res instanceof ServerResponse) || !(res.socket instanceof Socket)) {
    settleOnClose(res, call);
    return;
  }
  if (!subscribed) {
    subscribe(FINISH_CHANNEL, onFinish);
    subscribed = true;
  }
  const known = watched.get(res);
  watched.set(res, known === undefined ? call : Array.isArray(known) ? [...known, call] : [known, call]);
}
