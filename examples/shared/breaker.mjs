/**
 * The breaker every example gateway puts in front of the products service, so that the three
 * behave alike: 5 failures in a row, or 50% of at least 10 calls in 10 s, open it; a call taking
 * over 800 ms is a timeout; after 2 s two probes are let through and two successes close it.
 * While it is open, the last good answer per URL is served from cache (`x-circuit-fallback:
 * cache`), and a URL never seen before gets the structured 503 with `Retry-After`.
 */
export const productsBreaker = {
  failureThreshold: 5,
  failureRateThreshold: 0.5,
  minimumRequests: 10,
  metricsWindowMs: 10_000,
  timeoutMs: 800,
  recoveryTimeoutMs: 2_000,
  successThreshold: 2,
  halfOpenMaxRequests: 2,
  fallback: { strategy: 'cache', ttlMs: 60_000 },
};
