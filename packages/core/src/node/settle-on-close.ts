import { EventEmitter } from 'node:events';
import { OutgoingMessage, type ServerResponse } from 'node:http';
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
function hasEnded(res: ServerResponse): boolean {
  return writableEnded !== undefined && res instanceof OutgoingMessage ? writableEnded.call(res) : res.writableEnded;
}

/**
 * Settles `call` for a response that is over (closed, or finished): by the status it finished
 * with, or as neither success nor failure (`abort`) when the connection went away before it was
 * ended. Returns whether it was counted by its status.
 */
export function settleEnded(res: ServerResponse, call: HttpCall): boolean {
  if (!hasEnded(res)) {
    call.abort();
    return false;
  }
  call.complete(res.statusCode);
  return true;
}

/**
 * Settles `call` when `res` closes (see `settleEnded`). Node emits `close` once on every server
 * response, after `finish` as well as on a lost connection, so this one listener stands in for
 * on-finished's four (and its async resource) at a fraction of the cost. `finished` runs after a
 * finished response was counted.
 */
export function settleOnClose(res: ServerResponse, call: HttpCall, finished?: () => void): void {
  on.call(res, 'close', () => {
    if (settleEnded(res, call)) finished?.();
  });
}
