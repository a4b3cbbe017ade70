import { describe, expect, it } from 'vitest';
import type { CircuitBreakerOptions } from '../options.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { Permit } from './permit.js';

function fixture(options: Omit<CircuitBreakerOptions, 'name' | 'clock'> = {}) {
  const clock = { t: 0, now: () => clock.t };
  const breaker = new CircuitBreaker({ name: 'permits', clock, ...options });
  const acquire = (): Permit => {
    const permit = breaker.tryAcquire();
    if (permit === undefined) throw new Error(`expected a permit in ${breaker.state}`);
    return permit;
  };
  return { breaker, clock, acquire };
}

function halfOpen(options: Omit<CircuitBreakerOptions, 'name' | 'clock'> = {}) {
  const f = fixture({ failureThreshold: 1, failureRateThreshold: 0, recoveryTimeoutMs: 100, ...options });
  f.acquire().failure();
  f.clock.t += 100;
  expect(f.breaker.state).toBe('HALF_OPEN');
  return f;
}

describe('Permit', () => {
  it('settles once: the first outcome counts and later calls are no-ops', () => {
    const { breaker, acquire } = fixture({ failureThreshold: 1 });
    const permit = acquire();
    expect(permit.settled).toBe(false);
    permit.success();
    expect(permit.settled).toBe(true);
    permit.failure(new Error('late'));
    permit.timeout();
    permit.release();
    permit[Symbol.dispose]();
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats()).toMatchObject({ totalCalls: 1, successes: 1, failures: 0, timeouts: 0 });
  });

  it('counts a failure once even when settled again', () => {
    const { breaker, acquire } = fixture({ failureThreshold: 2 });
    const permit = acquire();
    permit.failure();
    permit.failure();
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats()).toMatchObject({ failures: 1, consecutiveFailures: 1 });
  });

  it('is released when a `using` declaration disposes of it unsettled', () => {
    const { breaker, acquire } = halfOpen({ halfOpenMaxRequests: 1 });
    {
      using permit = acquire();
      expect(permit.isProbe).toBe(true);
      expect(breaker.tryAcquire()).toBeUndefined();
    }
    expect(breaker.stats()).toMatchObject({ halfOpenInFlight: 0, totalCalls: 1 });
    expect(breaker.state).toBe('HALF_OPEN');
    expect(acquire().isProbe).toBe(true);
  });

  it('keeps its outcome when disposed after settling', () => {
    const { breaker } = halfOpen({ successThreshold: 1 });
    {
      using permit = breaker.tryAcquire();
      permit?.success();
    }
    expect(breaker.state).toBe('CLOSED');
  });

  it('does not count when settled after the breaker changed state', () => {
    const { breaker, clock, acquire } = fixture({
      failureThreshold: 1,
      recoveryTimeoutMs: 100,
      successThreshold: 1,
    });
    const old = acquire();
    acquire().failure();
    expect(breaker.state).toBe('OPEN');
    clock.t += 100;
    expect(breaker.state).toBe('HALF_OPEN');
    old.success();
    expect(breaker.state).toBe('HALF_OPEN');
    expect(breaker.stats()).toMatchObject({ successes: 0, totalCalls: 1 });
  });

  it('does not count a probe settled after the breaker re-opened and came back', () => {
    const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 2, successThreshold: 1 });
    const first = acquire();
    acquire().failure();
    clock.t += 100;
    expect(breaker.state).toBe('HALF_OPEN');
    first.success();
    expect(breaker.state).toBe('HALF_OPEN');
    expect(breaker.stats().halfOpenInFlight).toBe(0);
  });

  it('does not count when settled after reset()', () => {
    const { breaker, acquire } = fixture({ failureThreshold: 1 });
    const old = acquire();
    breaker.reset();
    old.failure(new Error('from before the reset'));
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().failures).toBe(0);
  });

  it('does not count when settled after disable() and enable()', () => {
    const { breaker, acquire } = fixture({ failureThreshold: 1 });
    const old = acquire();
    breaker.disable();
    breaker.enable();
    old.failure();
    expect(breaker.state).toBe('CLOSED');
  });

  it('records the time it was issued', () => {
    const { clock, acquire } = fixture();
    clock.t = 1234;
    expect(acquire().startedAt).toBe(1234);
  });

  describe('with isFailure', () => {
    const notFound = Object.assign(new Error('not found'), { status: 404 });
    const isFailure = (error: unknown) => (error as { status?: number }).status !== 404;

    it('lets an error that isFailure rejects pass uncounted', () => {
      const { breaker, acquire } = fixture({ failureThreshold: 2, isFailure });
      acquire().failure(new Error('down'));
      acquire().failure(notFound);
      expect(breaker.stats()).toMatchObject({ failures: 1, ignored: 1, consecutiveFailures: 1, totalCalls: 1 });
      acquire().failure(new Error('down'));
      expect(breaker.state).toBe('OPEN');
    });

    it('counts the error when isFailure throws', () => {
      const { breaker, acquire } = fixture({
        failureThreshold: 1,
        isFailure: () => {
          throw new Error('bad predicate');
        },
      });
      acquire().failure(new Error('down'));
      expect(breaker.state).toBe('OPEN');
    });

    it('still rejects execute() with the uncounted error', async () => {
      const { breaker } = fixture({ failureThreshold: 1, isFailure });
      await expect(
        breaker.execute(() => {
          throw notFound;
        }),
      ).rejects.toBe(notFound);
      expect(breaker.state).toBe('CLOSED');
      expect(breaker.stats()).toMatchObject({ failures: 0, ignored: 1 });
    });

    it('is not consulted for timeouts', () => {
      const { breaker, acquire } = fixture({ failureThreshold: 1, isFailure: () => false });
      acquire().timeout();
      expect(breaker.state).toBe('OPEN');
    });
  });
});
