import type { ServerResponse } from 'node:http';
import { type HttpCall, settleEnded, settleOnClose } from '@breakwater/core';

/**
 * The listener that on-finished (2.x) keeps on a response it watches, with the callbacks it
 * calls, once each, as `callback(error, response)` when the response finished or its connection
 * went away.
 */
interface WatchedResponse {
  __onFinished?: { queue?: unknown } | null;
}

/** A callback on on-finished's queue: called with the response it watched. */
export type FinishCallback = (error: unknown, res: ServerResponse) => void;

/**
 * The queue of callbacks on-finished calls when `res` is over, when `call` may join it. Koa 2
 * and 3 already watch every response with on-finished (`onFinished(res, ctx.onerror)`) before
 * the first middleware runs, so a callback joins that watcher's queue: one array push, where a
 * `close` listener of our own costs about 600 more instructions per request (measured with
 * callgrind), and on-finished's own `onFinished()` about 1,400 more (it wraps each callback in
 * an async resource). Undefined for a response without that queue (another server, an
 * on-finished that keeps it elsewhere), for a call that holds a permit, and for a response
 * queued behind another on its connection (pipelining): those also need the connection watched
 * (see core's `onResponseOver`), which on-finished does not do for a queued response; such
 * calls are the rarer ones.
 */
export function finishQueue(res: ServerResponse, call: HttpCall): FinishCallback[] | undefined {
  // A response queued behind another on its connection has no socket yet: see core's `onResponseOver`.
  if (call.holdsPermit || !res.socket) return undefined;
  const queue = (res as WatchedResponse).__onFinished?.queue;
  return Array.isArray(queue) ? queue : undefined;
}

/**
 * Settles `call` once `res` is over (see core's `settleEnded`), through on-finished's queue
 * where it may (see `finishQueue`), else through a listener of its own. `finished` runs after a
 * finished response was counted.
 */
export function settleWhenFinished(
  res: ServerResponse,
  call: HttpCall,
  finished?: () => void,
  body?: () => unknown,
): void {
  const queue = finishQueue(res, call);
  if (queue !== undefined) queue.push(() => settleEnded(res, call, finished, body));
  else settleOnClose(res, call, finished, body);
}
