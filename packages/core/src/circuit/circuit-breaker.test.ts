import { describe, expect, it } from 'vitest';
import { BreakwaterError } from '../errors/breakwater-error.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import type { CircuitBreakerOptions } from '../options.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { StateChangeEvent } from './events.js';
import type { Permit } from './permit.js';

const START = 1_700_000_000_000;

function fixture(options: Omit<CircuitBreakerOptions, 'name' | 'clock'> = {}) {
  const clock = { t: START, now: () => clock.t };
  const breaker = new CircuitBreaker({ name: 'svc', clock, ...options });
  const changes: StateChangeEvent[] = [];
  breaker.on('stateChange', (event) => changes.push(event));
  const acquire = (): Permit => {
    const permit = breaker.tryAcquire();
    if (permit === undefined) throw new Error(`expected a permit in ${breaker.state}`);
    return permit;
  };
  const fail = (times = 1) => {
    for (let i = 0; i < times; i++) acquire().failure(new Error('boom'));
  };
  const succeed = (times = 1) => {
    for (let i = 0; i < times; i++) acquire().success();
  };
  return { breaker, clock, changes, acquire, fail, succeed };
}

/** A breaker that has just opened: failureThreshold 1, no rate rule. */
function opened(options: Omit<CircuitBreakerOptions, 'name' | 'clock'> = {}) {
  const f = fixture({ failureThreshold: 1, failureRateThreshold: 0, recoveryTimeoutMs: 1_000, ...options });
  f.fail();
  expect(f.breaker.state).toBe('OPEN');
  return f;
}

/** A breaker that is HALF_OPEN, with no probe taken yet. */
function halfOpen(options: Omit<CircuitBreakerOptions, 'name' | 'clock'> = {}) {
  const f = opened(options);
  f.clock.t += f.breaker.options.recoveryTimeoutMs;
  expect(f.breaker.state).toBe('HALF_OPEN');
  f.changes.length = 0;
  return f;
}

describe('CircuitBreaker', () => {
  it('starts CLOSED and permits calls', () => {
    const { breaker, acquire } = fixture();
    expect(breaker.name).toBe('svc');
    expect(breaker.state).toBe('CLOSED');
    const permit = acquire();
    expect(permit.isProbe).toBe(false);
    expect(permit.startedAt).toBe(START);
  });

  describe('OPEN', () => {
    it('rejects every call until recoveryTimeoutMs has passed', () => {
      const { breaker, clock } = opened();
      clock.t += 999;
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.state).toBe('OPEN');
      expect(breaker.stats().rejected).toBe(1);
    });

    it('moves to HALF_OPEN when the state is read after the recovery time, with no timer', () => {
      const { breaker, clock, changes } = opened();
      changes.length = 0;
      clock.t += 1_000;
      expect(changes).toEqual([]);
      expect(breaker.state).toBe('HALF_OPEN');
      expect(changes).toEqual([
        { name: 'svc', from: 'OPEN', to: 'HALF_OPEN', reason: 'recovery_timeout', at: START + 1_000 },
      ]);
    });

    it('moves to HALF_OPEN when a call arrives after the recovery time and admits it as a probe', () => {
      const { breaker, clock, changes } = opened();
      clock.t += 5_000;
      const permit = breaker.tryAcquire();
      expect(permit?.isProbe).toBe(true);
      expect(changes.at(-1)).toMatchObject({ from: 'OPEN', to: 'HALF_OPEN' });
      expect(breaker.stats().halfOpenInFlight).toBe(1);
    });

    it('reports when the next probe may happen', () => {
      const { breaker, clock } = opened();
      clock.t += 400;
      expect(breaker.stats().nextAttemptTime).toBe(START + 1_000);
      expect(breaker.retryAfterMs()).toBe(600);
      expect(breaker.rejectionError().retryAfterMs).toBe(600);
    });

    it('stays OPEN for its recovery time, not for the size of a step back of the clock on top', () => {
      const { breaker, clock } = opened();
      clock.t -= 3_600_000;
      // Asked before anything else noticed the step: never more than the open time itself.
      expect(breaker.retryAfterMs()).toBe(1_000);
      expect(breaker.state).toBe('OPEN');
      clock.t += 999;
      expect(breaker.tryAcquire()).toBeUndefined();
      clock.t += 1;
      expect(breaker.state).toBe('HALF_OPEN');
    });
  });

  describe('HALF_OPEN', () => {
    it('admits at most halfOpenMaxRequests probes at once and rejects the rest', () => {
      const { breaker, acquire } = halfOpen({ halfOpenMaxRequests: 2 });
      const rejections: CircuitOpenError[] = [];
      breaker.on('reject', (event) => rejections.push(event.error));
      expect(acquire().isProbe).toBe(true);
      expect(acquire().isProbe).toBe(true);
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(rejections).toHaveLength(1);
      expect(rejections[0]).toMatchObject({ reason: 'half_open_full', state: 'HALF_OPEN' });
      expect(breaker.state).toBe('HALF_OPEN');
    });

    it('frees a probe slot when a probe settles', () => {
      const { breaker, acquire } = halfOpen({ halfOpenMaxRequests: 1, successThreshold: 2 });
      acquire().success();
      expect(breaker.state).toBe('HALF_OPEN');
      expect(acquire().isProbe).toBe(true);
    });

    it('closes after successThreshold successful probes and forgets the old counts', () => {
      const { breaker, acquire, changes } = halfOpen({ successThreshold: 3, halfOpenMaxRequests: 3 });
      const probes = [acquire(), acquire(), acquire()];
      probes[0]?.success();
      probes[1]?.success();
      expect(breaker.state).toBe('HALF_OPEN');
      probes[2]?.success();
      expect(breaker.state).toBe('CLOSED');
      expect(changes).toMatchObject([{ from: 'HALF_OPEN', to: 'CLOSED', reason: 'probes_succeeded' }]);
      const stats = breaker.stats();
      expect(stats.consecutiveFailures).toBe(0);
      expect(stats.window.calls).toBe(0);
      expect(stats.openCount).toBe(0);
    });

    it('re-opens on any failed probe, even after successful ones', () => {
      const { breaker, acquire, changes } = halfOpen({ successThreshold: 3, halfOpenMaxRequests: 3 });
      const probes = [acquire(), acquire(), acquire()];
      probes[0]?.success();
      probes[1]?.success();
      probes[2]?.failure(new Error('still down'));
      expect(breaker.state).toBe('OPEN');
      expect(changes).toMatchObject([{ from: 'HALF_OPEN', to: 'OPEN', reason: 'probe_failed' }]);
    });

    it('re-opens on a timed-out probe', () => {
      const { breaker, acquire, changes } = halfOpen();
      acquire().timeout();
      expect(breaker.state).toBe('OPEN');
      expect(changes).toMatchObject([{ to: 'OPEN', reason: 'probe_timeout' }]);
      expect(breaker.stats()).toMatchObject({ timeouts: 1, failures: 2 });
    });

    it('counts a released probe as nothing and frees its slot', () => {
      const { breaker, acquire } = halfOpen({ halfOpenMaxRequests: 1, successThreshold: 1 });
      acquire().release();
      expect(breaker.state).toBe('HALF_OPEN');
      expect(breaker.stats()).toMatchObject({ totalCalls: 1, halfOpenInFlight: 0 });
      acquire().success();
      expect(breaker.state).toBe('CLOSED');
    });

    it('counts a probe whose error isFailure rejects as nothing and frees its slot', () => {
      const ignored = new Error('404');
      const { breaker, acquire } = halfOpen({ halfOpenMaxRequests: 1, isFailure: (e) => e !== ignored });
      acquire().failure(ignored);
      expect(breaker.state).toBe('HALF_OPEN');
      expect(breaker.stats()).toMatchObject({ ignored: 1, halfOpenInFlight: 0 });
      expect(acquire().isProbe).toBe(true);
    });

    it('does not let a slow but successful probe re-open', () => {
      const { breaker, clock, acquire } = halfOpen({
        successThreshold: 1,
        slowCallDurationMs: 10,
        slowCallRateThreshold: 0.5,
        minimumRequests: 1,
      });
      const probe = acquire();
      clock.t += 50;
      probe.success();
      expect(breaker.state).toBe('CLOSED');
    });
  });

  describe('probe expiry', () => {
    it('expires a probe never settled after recoveryTimeoutMs, as a timeout failure that re-opens', () => {
      const { breaker, clock, acquire, changes } = halfOpen({ halfOpenMaxRequests: 1 });
      const timeouts: unknown[] = [];
      breaker.on('timeout', (event) => timeouts.push(event));
      acquire();
      clock.t += 999;
      expect(breaker.state).toBe('HALF_OPEN');
      expect(breaker.tryAcquire()).toBeUndefined();
      clock.t += 1;
      expect(breaker.state).toBe('OPEN');
      expect(changes.at(-1)).toMatchObject({ from: 'HALF_OPEN', to: 'OPEN', reason: 'probe_expired' });
      expect(timeouts).toEqual([{ name: 'svc', durationMs: 1_000, slow: false }]);
      expect(breaker.stats()).toMatchObject({ timeouts: 1, failures: 2, lastFailureTime: clock.t });
    });

    it('uses timeoutMs as the deadline when it is set', () => {
      const { breaker, clock, acquire } = halfOpen({ timeoutMs: 200, halfOpenMaxRequests: 1 });
      acquire();
      clock.t += 199;
      expect(breaker.state).toBe('HALF_OPEN');
      clock.t += 1;
      expect(breaker.state).toBe('OPEN');
    });

    it('does not wedge: after the next recovery time it probes again', () => {
      const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 1, successThreshold: 1 });
      acquire();
      clock.t += 1_000;
      expect(breaker.state).toBe('OPEN');
      clock.t += 1_000;
      const probe = acquire();
      expect(probe.isProbe).toBe(true);
      probe.success();
      expect(breaker.state).toBe('CLOSED');
    });

    it('re-opens as of the deadline, however late the expiry is noticed', () => {
      const { breaker, clock, acquire, changes } = halfOpen({ halfOpenMaxRequests: 1 });
      const probeAt = clock.t;
      acquire();
      clock.t += 1_000 + 1_000;
      // Expired at probeAt + 1000, open for 1000 ms: HALF_OPEN again by now.
      expect(breaker.state).toBe('HALF_OPEN');
      expect(changes).toMatchObject([
        { to: 'OPEN', reason: 'probe_expired', at: probeAt + 1_000 },
        { to: 'HALF_OPEN', reason: 'recovery_timeout' },
      ]);
      expect(acquire().isProbe).toBe(true);
    });

    it('counts a probe settled after its deadline as expired, not by its late outcome', () => {
      const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 1, successThreshold: 1 });
      const probe = acquire();
      clock.t += 1_000;
      probe.success();
      expect(breaker.state).toBe('OPEN');
      expect(breaker.stats()).toMatchObject({ successes: 0, timeouts: 1 });
    });

    it('expires a probe once when a timeout listener reads the breaker', () => {
      const { breaker, clock, acquire, changes } = halfOpen({ halfOpenMaxRequests: 1 });
      const seen: string[] = [];
      breaker.on('timeout', () => {
        // A logging listener; stop short of a stack overflow should it be called again and again.
        if (seen.length < 50) seen.push(breaker.stats().state);
      });
      acquire();
      clock.t += 1_500;
      expect(breaker.state).toBe('OPEN');
      expect(seen).toHaveLength(1);
      expect(changes.map((change) => change.reason)).toEqual(['probe_expired']);
      expect(breaker.stats()).toMatchObject({ timeouts: 1, failures: 2, consecutiveFailures: 2 });
    });

    it('holds a probe slot for the probe limit, not for the size of a step back of the clock on top', () => {
      const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 1 });
      acquire();
      clock.t -= 3_600_000;
      // Asked before anything else noticed the step: never more than the probe limit itself.
      expect(breaker.retryAfterMs(clock.t, 'half_open_full')).toBe(1_000);
      expect(breaker.state).toBe('HALF_OPEN');
      expect(breaker.tryAcquire()).toBeUndefined();
      clock.t += 1_000;
      expect(breaker.state).toBe('OPEN');
    });

    it('expires the oldest of several probes first', () => {
      const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 2, successThreshold: 1 });
      acquire();
      clock.t += 500;
      const young = acquire();
      clock.t += 500;
      young.success();
      expect(breaker.state).toBe('OPEN');
    });
  });

  describe('exponential backoff', () => {
    function openTimes(options: Omit<CircuitBreakerOptions, 'name' | 'clock'>, reopens: number): number[] {
      const { breaker, clock, acquire } = opened({ recoveryTimeoutMs: 1_000, ...options });
      const times = [(breaker.stats().nextAttemptTime as number) - clock.t];
      for (let i = 0; i < reopens; i++) {
        clock.t = breaker.stats().nextAttemptTime as number;
        acquire().failure();
        times.push((breaker.stats().nextAttemptTime as number) - clock.t);
      }
      return times;
    }

    it('multiplies each re-open by backoffMultiplier, capped at maxRecoveryTimeoutMs', () => {
      expect(openTimes({ exponentialBackoff: true, backoffMultiplier: 2, maxRecoveryTimeoutMs: 5_000 }, 5)).toEqual([
        1_000, 2_000, 4_000, 5_000, 5_000, 5_000,
      ]);
      expect(openTimes({ exponentialBackoff: true, backoffMultiplier: 3, maxRecoveryTimeoutMs: 100_000 }, 3)).toEqual([
        1_000, 3_000, 9_000, 27_000,
      ]);
    });

    it('keeps every open at recoveryTimeoutMs without exponentialBackoff', () => {
      expect(openTimes({ backoffMultiplier: 4 }, 3)).toEqual([1_000, 1_000, 1_000, 1_000]);
    });

    it('starts again from recoveryTimeoutMs after the circuit closes', () => {
      const { breaker, clock, acquire, fail } = opened({
        exponentialBackoff: true,
        successThreshold: 1,
        halfOpenMaxRequests: 1,
      });
      clock.t += 1_000;
      acquire().failure();
      expect(breaker.retryAfterMs()).toBe(2_000);
      clock.t += 2_000;
      acquire().success();
      expect(breaker.state).toBe('CLOSED');
      fail();
      expect(breaker.retryAfterMs()).toBe(1_000);
      expect(breaker.stats().openCount).toBe(1);
    });

    it('starts again from recoveryTimeoutMs after enable() and after reset()', () => {
      for (const leave of ['enable', 'reset'] as const) {
        const { breaker, clock, acquire, fail } = opened({ exponentialBackoff: true });
        clock.t += 1_000;
        acquire().failure();
        expect(breaker.retryAfterMs()).toBe(2_000);
        breaker.forceOpen();
        breaker[leave]();
        fail();
        expect(breaker.retryAfterMs()).toBe(1_000);
      }
    });
  });

  describe('manual controls', () => {
    it('forceOpen() rejects every call, for good, until enable()', () => {
      const { breaker, clock, changes, acquire } = fixture();
      breaker.forceOpen();
      expect(breaker.state).toBe('FORCED_OPEN');
      expect(changes).toMatchObject([{ from: 'CLOSED', to: 'FORCED_OPEN', reason: 'manual_force_open' }]);
      clock.t += 10 * 24 * 3_600_000;
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.state).toBe('FORCED_OPEN');
      const error = breaker.rejectionError();
      expect(error).toMatchObject({ state: 'FORCED_OPEN', reason: 'forced_open', retryAfterMs: 30_000 });
      breaker.enable();
      expect(breaker.state).toBe('CLOSED');
      expect(changes.at(-1)).toMatchObject({ from: 'FORCED_OPEN', to: 'CLOSED', reason: 'manual_enable' });
      expect(acquire().isProbe).toBe(false);
    });

    it('disable() permits every call and records it, but never trips', () => {
      const { breaker, fail, changes } = fixture({ failureThreshold: 2 });
      breaker.disable();
      expect(breaker.state).toBe('DISABLED');
      expect(changes).toMatchObject([{ to: 'DISABLED', reason: 'manual_disable' }]);
      fail(100);
      expect(breaker.state).toBe('DISABLED');
      expect(breaker.stats()).toMatchObject({ failures: 100, consecutiveFailures: 100, rejected: 0 });
    });

    it('enable() leaves DISABLED for CLOSED with the counts forgotten', () => {
      const { breaker, fail } = fixture({ failureThreshold: 3 });
      breaker.disable();
      fail(10);
      breaker.enable();
      expect(breaker.state).toBe('CLOSED');
      expect(breaker.stats()).toMatchObject({ consecutiveFailures: 0, window: { calls: 0 } });
      fail(2);
      expect(breaker.state).toBe('CLOSED');
      fail(1);
      expect(breaker.state).toBe('OPEN');
    });

    it('enable() does nothing in CLOSED, OPEN or HALF_OPEN', () => {
      const { breaker, changes } = fixture();
      breaker.enable();
      expect(changes).toEqual([]);
      const open = opened();
      open.changes.length = 0;
      open.breaker.enable();
      expect(open.breaker.state).toBe('OPEN');
      expect(open.changes).toEqual([]);
      const half = halfOpen();
      half.breaker.enable();
      expect(half.breaker.state).toBe('HALF_OPEN');
    });

    it('reset() closes the circuit and zeroes every count', () => {
      const { breaker, changes, clock } = opened();
      changes.length = 0;
      clock.t += 10;
      breaker.reset();
      expect(breaker.state).toBe('CLOSED');
      expect(changes).toEqual([{ name: 'svc', from: 'OPEN', to: 'CLOSED', reason: 'manual_reset', at: clock.t }]);
      expect(breaker.stats()).toMatchObject({
        totalCalls: 0,
        failures: 0,
        rejected: 0,
        consecutiveFailures: 0,
        lastFailureTime: null,
        nextAttemptTime: null,
        openCount: 0,
      });
    });

    it('reset() in HALF_OPEN drops the probes in flight', () => {
      const { breaker, acquire } = halfOpen({ successThreshold: 1 });
      const probe = acquire();
      breaker.reset();
      expect(breaker.stats().halfOpenInFlight).toBe(0);
      probe.failure();
      expect(breaker.state).toBe('CLOSED');
      expect(breaker.stats().failures).toBe(0);
    });
  });

  describe('stats()', () => {
    it('is a plain snapshot of totals, window counts, rates and times', () => {
      const { breaker, clock, acquire } = fixture({ failureThreshold: 3, failureRateThreshold: 0, timeoutMs: 5_000 });
      acquire().success();
      clock.t += 10;
      acquire().failure(new Error('boom'));
      acquire().timeout();
      const failedAt = clock.t;
      acquire().success();
      const held = acquire();
      expect(breaker.stats()).toEqual({
        name: 'svc',
        state: 'CLOSED',
        totalCalls: 4,
        successes: 2,
        failures: 2,
        timeouts: 1,
        slowCalls: 0,
        rejected: 0,
        ignored: 0,
        window: { calls: 4, failures: 2, slow: 0, timeouts: 1, windowMs: 60_000 },
        failureRate: 0.5,
        slowCallRate: 0,
        consecutiveFailures: 0,
        lastFailureTime: failedAt,
        lastStateChangeTime: START,
        nextAttemptTime: null,
        halfOpenInFlight: 0,
        openCount: 0,
        fallbacks: {},
      });
      held.release();
    });

    it('counts slow calls with slowCallDurationMs alone, without any rule tripping on them', () => {
      const { breaker, clock, acquire } = fixture({ slowCallDurationMs: 100, minimumRequests: 1 });
      for (let i = 0; i < 10; i++) {
        const permit = acquire();
        clock.t += 150;
        permit.success();
      }
      expect(breaker.stats()).toMatchObject({ state: 'CLOSED', slowCalls: 10, slowCallRate: 1 });
    });

    it('reports OPEN details and rejections', () => {
      const { breaker, clock } = opened();
      breaker.tryAcquire();
      breaker.tryAcquire();
      breaker.noteFallback('cache', true);
      breaker.noteFallback('cache', false);
      const stats = breaker.stats();
      expect(stats).toMatchObject({
        state: 'OPEN',
        rejected: 2,
        openCount: 1,
        nextAttemptTime: clock.t + 1_000,
        lastStateChangeTime: clock.t,
        fallbacks: { cache: { served: 1, failed: 1 } },
      });
      stats.fallbacks.cache = { served: 99, failed: 99 };
      expect(breaker.stats().fallbacks.cache).toEqual({ served: 1, failed: 1 });
    });

    it('lets window counts fall out after metricsWindowMs', () => {
      const { breaker, clock, fail, succeed } = fixture({ metricsWindowMs: 10_000, failureThreshold: 0 });
      fail(3);
      succeed(2);
      expect(breaker.stats().window).toMatchObject({ calls: 5, failures: 3 });
      clock.t += 10_000;
      expect(breaker.stats().window).toMatchObject({ calls: 0, failures: 0 });
      expect(breaker.stats()).toMatchObject({ totalCalls: 5, failures: 3, failureRate: 0 });
    });
  });

  describe('rejection errors', () => {
    it('are CircuitOpenErrors with code, breaker, state, retryAfterMs and reason', async () => {
      const { breaker, clock } = opened();
      clock.t += 250;
      const error = await breaker.execute(() => 'never').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect(error).toBeInstanceOf(BreakwaterError);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({
        name: 'CircuitOpenError',
        code: 'ECIRCUITOPEN',
        breaker: 'svc',
        state: 'OPEN',
        retryAfterMs: 750,
        reason: 'open',
        message: 'Circuit breaker "svc" is OPEN: call rejected',
      });
    });

    it('carry no stack frames', () => {
      const { breaker } = opened();
      const error = breaker.rejectionError();
      expect(error.stack?.split('\n')).toHaveLength(1);
      expect(error.stack).toContain('Circuit breaker "svc" is OPEN: call rejected');
    });

    it('in HALF_OPEN tell how long until the oldest probe is due', () => {
      const { breaker, clock, acquire } = halfOpen({ halfOpenMaxRequests: 1, timeoutMs: 300 });
      acquire();
      clock.t += 100;
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.rejectionError()).toMatchObject({ reason: 'half_open_full', retryAfterMs: 200 });
    });
  });

  describe('idle resources', () => {
    it('holds no timers: a thousand breakers with calls leave no Timeout behind', async () => {
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      const before = timers();
      const clock = { t: 0, now: () => clock.t };
      const breakers = Array.from(
        { length: 1_000 },
        (_, i) => new CircuitBreaker({ name: `b${i}`, clock, failureThreshold: 2, recoveryTimeoutMs: 1_000 }),
      );
      for (const [i, breaker] of breakers.entries()) {
        await breaker.execute(() => i);
        await breaker.execute(async () => i);
        if (i % 2 === 0) {
          await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
          breaker.tryAcquire()?.failure();
        }
        breaker.tryAcquire()?.release();
      }
      clock.t += 1_000;
      for (const breaker of breakers) void breaker.state;
      expect(breakers.filter((b) => b.state === 'HALF_OPEN')).toHaveLength(500);
      expect(timers()).toBe(before);
    });
  });
});
