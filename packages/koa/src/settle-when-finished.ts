import type { ServerResponse } from 'node:http';
import { type HttpCall, settleEnded, settleOnClose } from '@breakwater/core';

/**
 * The listener that on-finished (2.x) keeps on a response it watches, with the callbacks it
 * calls, once each, when the response finished or its connection went away.
 */
interface WatchedResponse {
  __onFinished?: { queue?: unknown } | null;
}

/**
 * Settles `call` once `res` is over (see core's `settleEnded`). Koa 2 and 3 already watch every
 * response with on-finished (`onFinished(res, ctx.onerror)`) before the first middleware runs,
 * so the callback joins that watcher's queue: one array push, where a `close` listener of our
 * own costs about 600 more instructions per request (measured with callgrind), and on-finished's
 * own `onFinished()` about 1,400 more (it wraps each callback in an async resource). A response
 * without that queue (another server, an on-finished that keeps it elsewhere) gets the listener,
 * and so does a call that holds a permit.
 * `finished` runs after a finished response was counted.
 */
export function settleWhenFinished(res: ServerResponse, call: HttpCall, finished?: () => void): void {
  // A call that holds a permit also needs the connection watched (see `onResponseOver`), which
  // on-finished does not do for a response queued behind another; such calls are the rarer ones.
  const queue = call.holdsPermit ? undefined : (res as WatchedResponse).__onFinished?.queue;
  if (Array.isArray(queue)) queue.push(() => settleEnded(res, call, finished));
  else settleOnClose(res, call, finished);
}
