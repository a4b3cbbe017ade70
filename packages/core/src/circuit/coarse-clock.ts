/**
 * A cheap reading of `Date.now()` for counting successes into the rolling window, where a bucket
 * is seconds wide. Reading the system clock is a call into V8's runtime (about 230 instructions,
 * measured with callgrind: about as much as the rest of counting a success), so it is read once
 * and reused until a ticker marks it stale every {@link PERIOD_MS}, or until {@link REUSES}
 * further readings, whichever comes first. A loop of calls that never yields to the event loop
 * therefore still sees time move.
 *
 * The ticker (an unref'd interval) runs only while readings are taken: a tick that finds no
 * reading since the last one stops it, so an idle process has no timer within two periods of
 * its last call. An earlier version marked the value stale with a `setImmediate` on every turn
 * of the event loop that read it; an HTTP server settles a few responses a turn, and that cost
 * more than reading the clock for each.
 *
 * Never used for anything that needs the exact time: state changes, deadlines, call durations,
 * failures and the slow-call rule read the breaker's clock itself; breakers whose buckets are
 * narrow read it for successes too (see `CircuitBreaker`).
 */
export const PERIOD_MS = 10;
const REUSES = 64;

/** Taken at load, as `systemClock` takes it, so the two agree even if `Date.now` is replaced later. */
const dateNow = Date.now;
/** Taken at load too: a test's fake timers installed later would never tick, nor stop. */
const startTicker = globalThis.setInterval;
const stopTicker = globalThis.clearInterval;

let cached = 0;
let fresh = false;
let reuses = 0;
/** True when a reading was taken since the last tick. */
let read = false;
let ticker: ReturnType<typeof setInterval> | undefined;

function tick(): void {
  fresh = false;
  if (read) {
    read = false;
    return;
  }
  stopTicker(ticker);
  ticker = undefined;
}

/** `Date.now()`, at most {@link PERIOD_MS} and a loop turn (or {@link REUSES} readings) old. */
export function coarseNow(): number {
  read = true;
  if (fresh && ++reuses < REUSES) return cached;
  if (ticker === undefined) {
    ticker = startTicker(tick, PERIOD_MS);
    (ticker as { unref?: () => void }).unref?.();
  }
  fresh = true;
  reuses = 0;
  cached = dateNow();
  return cached;
}

/** @internal Whether the ticker runs (an unref'd timer is not in `getActiveResourcesInfo`). */
export function ticking(): boolean {
  return ticker !== undefined;
}
