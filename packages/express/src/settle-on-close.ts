import { EventEmitter } from 'node:events';
import { OutgoingMessage, type ServerResponse } from 'node:http';
import type { HttpCall } from '@breakwater/core';

const on = EventEmitter.prototype.on;
const writableFinished = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'writableFinished')?.get as
  | ((this: ServerResponse) => boolean)
  | undefined;

/** `res.writableFinished`, read from Node's own getter without looking it up through Express's prototypes. */
function hasFinished(res: ServerResponse): boolean {
  return writableFinished !== undefined && res instanceof OutgoingMessage
    ? writableFinished.call(res)
    : res.writableFinished;
}

/**
 * Core's `settleOnClose` for Express responses. Express swaps the prototype of every request and
 * response, and V8 gives an object changed after such a swap a hidden class of its own: every
 * `res` has a different shape, so every property read on it misses the inline caches and costs a
 * full lookup through Express's prototype chain (about 0.5–1 µs each; on-finished made a dozen).
 * This reads as little as it can: EventEmitter's `on` and Node's `writableFinished` getter are
 * taken once, and only `statusCode` is looked up per request.
 */
export function settleOnClose(res: ServerResponse, call: HttpCall, finished?: () => void): void {
  on.call(res, 'close', () => {
    if (!hasFinished(res)) {
      call.abort();
      return;
    }
    call.complete(res.statusCode);
    finished?.();
  });
}
