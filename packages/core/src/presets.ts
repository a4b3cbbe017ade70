import type { CircuitBreakerOptions } from './options.js';
import type { BreakerDefaults } from './registry/registry.js';

type Named = CircuitBreakerOptions & { name: string };

const freeze = <T extends object>(value: T): Readonly<T> => Object.freeze(value);

/**
 * Options tuned for common kinds of dependency, and three tuning profiles. Spread them and
 * override what you need: `new CircuitBreaker({ ...presets.database('orders-db'), timeoutMs: 3000 })`.
 */
export const presets = Object.freeze({
  /** One upstream HTTP server (`upstream_<host>_<port>`): the proxy's default. */
  upstream(host: string, port: number): Named {
    return { name: `upstream_${host}_${port}`, failureThreshold: 5, timeoutMs: 5_000, recoveryTimeoutMs: 30_000 };
  },
  /** An internal microservice: fast timeouts, quick recovery. */
  service(name: string): Named {
    return { name, failureThreshold: 5, timeoutMs: 5_000, recoveryTimeoutMs: 30_000, successThreshold: 2 };
  },
  /** A database: trips sooner and waits longer than a service, with longer query timeouts. */
  database(name: string): Named {
    return {
      name,
      failureThreshold: 3,
      timeoutMs: 10_000,
      recoveryTimeoutMs: 60_000,
      successThreshold: 3,
      halfOpenMaxRequests: 2,
    };
  },
  /** A third-party API: tolerates more failures and waits longest, backing off between re-opens. */
  externalApi(name: string): Named {
    return {
      name,
      failureThreshold: 8,
      failureRateThreshold: 0.7,
      timeoutMs: 30_000,
      recoveryTimeoutMs: 120_000,
      exponentialBackoff: true,
      backoffMultiplier: 2,
      maxRecoveryTimeoutMs: 600_000,
    };
  },
  /** Allows some transient errors; the production default. */
  conservative: freeze<BreakerDefaults>({
    failureThreshold: 5,
    successThreshold: 2,
    recoveryTimeoutMs: 60_000,
    halfOpenMaxRequests: 3,
  }),
  /** Fails fast and wants more proof before closing. */
  aggressive: freeze<BreakerDefaults>({
    failureThreshold: 3,
    successThreshold: 3,
    recoveryTimeoutMs: 30_000,
    halfOpenMaxRequests: 1,
  }),
  /** For flaky dependencies: many errors allowed, quick to close again. */
  tolerant: freeze<BreakerDefaults>({
    failureThreshold: 10,
    successThreshold: 1,
    recoveryTimeoutMs: 120_000,
    halfOpenMaxRequests: 5,
  }),
});
