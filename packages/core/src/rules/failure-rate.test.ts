import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import type { StateChangeEvent } from '../circuit/events.js';
import type { CircuitBreakerOptions } from '../options.js';
import { FailureRateRule } from './failure-rate.js';

function breakerWith(options: Omit<CircuitBreakerOptions, 'name' | 'clock'>) {
  const clock = { t: 0, now: () => clock.t };
  const breaker = new CircuitBreaker({ name: 'rate', clock, failureThreshold: 0, ...options });
  const changes: StateChangeEvent[] = [];
  breaker.on('stateChange', (event) => changes.push(event));
  const calls = (pattern: string) => {
    for (const outcome of pattern) {
      const permit = breaker.tryAcquire();
      if (permit === undefined) throw new Error(`expected a permit in ${breaker.state}`);
      if (outcome === 'S') permit.success();
      else permit.failure(new Error('boom'));
    }
  };
  return { breaker, clock, changes, calls };
}

describe('FailureRateRule', () => {
  it('needs minimumRequests calls and a ratio at or above the threshold', () => {
    const rule = new FailureRateRule(0.5, 4);
    const input = (calls: number, failures: number) => ({
      window: { calls, failures, slow: 0, timeouts: 0 },
      consecutiveFailures: 0,
    });
    expect(rule.shouldOpen(input(3, 3))).toBe(false);
    expect(rule.shouldOpen(input(4, 1))).toBe(false);
    expect(rule.shouldOpen(input(4, 2))).toBe(true);
    expect(rule.shouldOpen(input(10, 6))).toBe(true);
    expect(rule.reason).toBe('failure_rate');
  });

  it('trips at a ratio exactly at the threshold, whatever floating point makes of threshold × calls', () => {
    const input = (calls: number, failures: number) => ({
      window: { calls, failures, slow: 0, timeouts: 0 },
      consecutiveFailures: 0,
    });
    // 0.28 × 25, 0.55 × 100 and 0.07 × 100 all come out just above the whole number.
    expect(new FailureRateRule(0.28, 1).shouldOpen(input(25, 7))).toBe(true);
    expect(new FailureRateRule(0.55, 1).shouldOpen(input(100, 55))).toBe(true);
    expect(new FailureRateRule(0.07, 1).shouldOpen(input(100, 7))).toBe(true);
    expect(new FailureRateRule(0.28, 1).shouldOpen(input(25, 6))).toBe(false);
  });

  it('does not trip before minimumRequests calls, even when every call fails', () => {
    const { breaker, changes, calls } = breakerWith({ failureRateThreshold: 0.5, minimumRequests: 5 });
    calls('FFFF');
    expect(breaker.state).toBe('CLOSED');
    calls('F');
    expect(breaker.state).toBe('OPEN');
    expect(changes).toMatchObject([{ to: 'OPEN', reason: 'failure_rate' }]);
  });

  it('opens when the failure ratio in the window reaches failureRateThreshold', () => {
    const { breaker, calls } = breakerWith({ failureRateThreshold: 0.5, minimumRequests: 4 });
    calls('SFS');
    expect(breaker.state).toBe('CLOSED');
    calls('F');
    expect(breaker.state).toBe('OPEN');
    expect(breaker.stats().window).toMatchObject({ calls: 4, failures: 2 });
  });

  it('stays CLOSED while the ratio is below the threshold', () => {
    const { breaker, calls } = breakerWith({ failureRateThreshold: 0.5, minimumRequests: 4 });
    calls('SSFSSFSSFSSF');
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().failureRate).toBeCloseTo(1 / 3);
  });

  it('can open on the success that brings the window to minimumRequests', () => {
    const { breaker, changes, calls } = breakerWith({ failureRateThreshold: 0.5, minimumRequests: 3 });
    calls('FF');
    expect(breaker.state).toBe('CLOSED');
    calls('S');
    expect(breaker.state).toBe('OPEN');
    expect(changes).toMatchObject([{ to: 'OPEN', reason: 'failure_rate' }]);
  });

  it('is off with failureRateThreshold 0', () => {
    const { breaker, calls } = breakerWith({ failureRateThreshold: 0, minimumRequests: 1 });
    calls('F'.repeat(50));
    expect(breaker.state).toBe('CLOSED');
  });

  it('forgets failures older than metricsWindowMs', () => {
    const { breaker, clock, calls } = breakerWith({
      failureRateThreshold: 0.5,
      minimumRequests: 4,
      metricsWindowMs: 1_000,
    });
    calls('FF');
    clock.t += 1_000;
    calls('SSFS');
    // 3 of 6 calls failed in all, but only 1 of the 4 recent ones.
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().window).toMatchObject({ calls: 4, failures: 1 });
  });

  it('counts failures still inside the window', () => {
    const { breaker, clock, calls } = breakerWith({
      failureRateThreshold: 0.5,
      minimumRequests: 4,
      metricsWindowMs: 1_000,
    });
    calls('FF');
    clock.t += 800;
    calls('SF');
    expect(breaker.state).toBe('OPEN');
  });

  it('uses the defaults: 50% of at least 10 calls', () => {
    const clock = { now: () => 0 };
    const breaker = new CircuitBreaker({ name: 'defaults', clock, failureThreshold: 0 });
    for (let i = 0; i < 9; i++) breaker.tryAcquire()?.[i % 2 === 0 ? 'failure' : 'success']();
    expect(breaker.state).toBe('CLOSED');
    breaker.tryAcquire()?.success();
    expect(breaker.stats().window).toMatchObject({ calls: 10, failures: 5 });
    expect(breaker.state).toBe('OPEN');
  });
});
