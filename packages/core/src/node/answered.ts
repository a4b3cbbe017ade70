/**
 * Marks the responses that Breakwater wrote itself in place of the handler's: a refused
 * request's 503, a fallback, a timeout's answer, a health document. A property under a
 * registered symbol, not a WeakSet of this module's: two copies of core in one process (two
 * adapters built against different versions) see each other's marks. Set on those rare paths
 * only, and read only when a response finished with a failing status (see `HttpCall.complete`).
 */
const kAnswered = Symbol.for('breakwater.answered');

/** Notes that Breakwater answered `res` itself (see `answeredByBreakwater`). */
export function markAnswered(res: object): void {
  (res as { [kAnswered]?: true })[kAnswered] = true;
}

/**
 * Whether Breakwater answered `res` itself: then a breaker that watches the same request from
 * further out (an app-wide breaker around a route's) does not count its failing status, which
 * the breaker that answered has counted already, or which says nothing about the request's own
 * dependency. One route's open breaker must not open the whole app's.
 */
export function answeredByBreakwater(res: object): boolean {
  return (res as { [kAnswered]?: true })[kAnswered] === true;
}
