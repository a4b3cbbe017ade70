import { describe, expect, it } from 'vitest';
import { deferred } from '../../../../test/support/index.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitBreaker } from './circuit-breaker.js';

describe('a HALF_OPEN breaker under concurrent load', () => {
  it('lets exactly halfOpenMaxRequests of 500 concurrent calls through, then closes after successThreshold', async () => {
    const clock = { t: 0, now: () => clock.t };
    const breaker = new CircuitBreaker({
      name: 'burst',
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxRequests: 3,
      successThreshold: 3,
    });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    clock.t += 1_000;
    expect(breaker.state).toBe('HALF_OPEN');

    const gate = deferred();
    let reached = 0;
    const calls = Array.from({ length: 500 }, (_, i) =>
      breaker.execute(async () => {
        reached++;
        await gate.promise;
        return i;
      }),
    );
    const settled = Promise.allSettled(calls);
    // Let every call get as far as it can before the probes are released.
    await new Promise((resolve) => setImmediate(resolve));
    expect(reached).toBe(3);
    expect(breaker.stats()).toMatchObject({ state: 'HALF_OPEN', halfOpenInFlight: 3, rejected: 497 });

    gate.resolve();
    const results = await settled;
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled.map((r) => r.value)).toEqual([0, 1, 2]);
    expect(rejected).toHaveLength(497);
    for (const { reason } of rejected) {
      expect(reason).toBeInstanceOf(CircuitOpenError);
      expect(reason).toMatchObject({ reason: 'half_open_full', state: 'HALF_OPEN' });
    }
    expect(reached).toBe(3);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats()).toMatchObject({ successes: 3, halfOpenInFlight: 0 });
  });

  it('stays HALF_OPEN when fewer probes than successThreshold succeed, and admits more as slots free', async () => {
    const clock = { t: 0, now: () => clock.t };
    const breaker = new CircuitBreaker({
      name: 'waves',
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxRequests: 2,
      successThreshold: 4,
    });
    breaker.tryAcquire()?.failure();
    clock.t += 1_000;
    let reached = 0;
    for (let wave = 0; wave < 2; wave++) {
      const gate = deferred();
      const calls = Array.from({ length: 200 }, () =>
        breaker.execute(async () => {
          reached++;
          await gate.promise;
        }),
      );
      const settled = Promise.allSettled(calls);
      await new Promise((resolve) => setImmediate(resolve));
      gate.resolve();
      const results = await settled;
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      expect(breaker.state).toBe(wave === 0 ? 'HALF_OPEN' : 'CLOSED');
    }
    expect(reached).toBe(4);
  });
});
