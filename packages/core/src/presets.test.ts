import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit/circuit-breaker.js';
import { presets } from './presets.js';
import { Registry } from './registry/registry.js';

const resolved = (options: ConstructorParameters<typeof CircuitBreaker>[0]) => new CircuitBreaker(options).options;

describe('presets', () => {
  it('name an upstream by host and port', () => {
    const options = presets.upstream('10.0.0.5', 8080);
    expect(options.name).toBe('upstream_10.0.0.5_8080');
    expect(() => new CircuitBreaker(options)).not.toThrow();
  });

  it('give a database a breaker that trips sooner and waits longer than a service', () => {
    const service = resolved(presets.service('users'));
    const database = resolved(presets.database('orders-db'));
    expect(service.name).toBe('users');
    expect(database.name).toBe('orders-db');
    expect(database.failureThreshold).toBeLessThan(service.failureThreshold);
    expect(database.recoveryTimeoutMs).toBeGreaterThan(service.recoveryTimeoutMs);
  });

  it('give an external API a breaker that tolerates more failures and waits longest', () => {
    const service = resolved(presets.service('users'));
    const database = resolved(presets.database('orders-db'));
    const external = resolved(presets.externalApi('stripe'));
    expect(external.failureThreshold).toBeGreaterThan(service.failureThreshold);
    expect(external.failureThreshold).toBeGreaterThan(database.failureThreshold);
    expect(external.failureRateThreshold).toBeGreaterThan(service.failureRateThreshold);
    expect(external.recoveryTimeoutMs).toBeGreaterThan(database.recoveryTimeoutMs);
    expect(external.recoveryTimeoutMs).toBeGreaterThan(service.recoveryTimeoutMs);
  });

  it('behave as tuned: the database opens after fewer failures and stays open longer', () => {
    const clock = { now: () => 0 };
    const failuresToOpen = (breaker: CircuitBreaker) => {
      let failures = 0;
      while (breaker.state === 'CLOSED') {
        breaker.tryAcquire()?.failure();
        failures++;
      }
      return failures;
    };
    const service = new CircuitBreaker({ ...presets.service('svc'), clock });
    const database = new CircuitBreaker({ ...presets.database('db'), clock });
    expect(failuresToOpen(database)).toBeLessThan(failuresToOpen(service));
    expect(database.retryAfterMs()).toBeGreaterThan(service.retryAfterMs());
  });

  it('return a fresh object on each call, so spreading and overriding is safe', () => {
    const a = presets.database('db');
    a.failureThreshold = 99;
    expect(presets.database('db').failureThreshold).not.toBe(99);
    const options = resolved({ ...presets.database('db'), timeoutMs: 3_000 });
    expect(options.timeoutMs).toBe(3_000);
  });

  it('offer conservative, aggressive and tolerant profiles that are valid, frozen defaults', () => {
    const { conservative, aggressive, tolerant } = presets;
    for (const profile of [conservative, aggressive, tolerant]) {
      expect(Object.isFrozen(profile)).toBe(true);
      expect(() => new Registry({ defaults: profile })).not.toThrow();
    }
    expect(aggressive.failureThreshold).toBeLessThan(conservative.failureThreshold as number);
    expect(tolerant.failureThreshold).toBeGreaterThan(conservative.failureThreshold as number);
    expect(aggressive.successThreshold).toBeGreaterThan(tolerant.successThreshold as number);
    const registry = new Registry({ defaults: presets.aggressive });
    expect(registry.getOrCreate('x').options).toMatchObject({ failureThreshold: 3, halfOpenMaxRequests: 1 });
  });

  it('are frozen themselves', () => {
    expect(Object.isFrozen(presets)).toBe(true);
  });
});
