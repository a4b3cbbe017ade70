/**
 * A cheap reading of `Date.now()` for counting calls into the rolling window, where a bucket is
 * seconds wide. Reading the system clock costs 20–50 ns on common servers (more than the rest
 * of a closed-circuit call), so the value is read once and reused until the event loop turns
 * (a `setImmediate` marks it stale, armed only while calls are being counted, so an idle
 * process has no timer) or until {@link REUSES} further readings, whichever comes first. A
 * loop of calls that never yields to the event loop therefore still sees time move.
 *
 * Never used for anything that needs the exact time: state changes, deadlines, call durations
 * and the slow-call rule read the breaker's clock itself.
 */
const REUSES = 64;

/** Taken at load, as `systemClock` takes it, so the two agree even if `Date.now` is replaced later. */
const dateNow = Date.now;

let cached = 0;
let fresh = false;
let reuses = 0;

const schedule: (callback: () => void) => unknown =
  typeof globalThis.setImmediate === 'function'
    ? globalThis.setImmediate
    : (callback) => globalThis.setTimeout(callback, 0);

function expire(): void {
  fresh = false;
}

/** `Date.now()`, at most one event-loop turn (or {@link REUSES} readings) old. */
export function coarseNow(): number {
  if (fresh) {
    if (++reuses < REUSES) return cached;
  } else {
    fresh = true;
    schedule(expire);
  }
  reuses = 0;
  cached = dateNow();
  return cached;
}
