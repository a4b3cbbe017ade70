import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import type { StateChangeEvent } from '../circuit/events.js';
import { SlowCallRateRule } from './slow-call-rate.js';

function breakerWith(slowCallRateThreshold: number, minimumRequests: number) {
  const clock = { t: 0, now: () => clock.t };
  const breaker = new CircuitBreaker({
    name: 'slow',
    clock,
    failureThreshold: 0,
    failureRateThreshold: 0,
    slowCallDurationMs: 100,
    slowCallRateThreshold,
    minimumRequests,
  });
  const changes: StateChangeEvent[] = [];
  breaker.on('stateChange', (event) => changes.push(event));
  const succeedAfter = (durationMs: number) => {
    const permit = breaker.tryAcquire();
    if (permit === undefined) throw new Error(`expected a permit in ${breaker.state}`);
    clock.t += durationMs;
    permit.success();
  };
  return { breaker, changes, succeedAfter };
}

describe('SlowCallRateRule', () => {
  it('needs minimumRequests calls and a slow ratio at or above the threshold', () => {
    const rule = new SlowCallRateRule(0.5, 2);
    const input = (calls: number, slow: number) => ({
      window: { calls, failures: 0, slow, timeouts: 0 },
      consecutiveFailures: 0,
    });
    expect(rule.shouldOpen(input(1, 1))).toBe(false);
    expect(rule.shouldOpen(input(4, 1))).toBe(false);
    expect(rule.shouldOpen(input(4, 2))).toBe(true);
    expect(rule.reason).toBe('slow_call_rate');
  });

  it('trips at a slow ratio exactly at the threshold (7 of 25 against 0.28)', () => {
    const input = (calls: number, slow: number) => ({
      window: { calls, failures: 0, slow, timeouts: 0 },
      consecutiveFailures: 0,
    });
    expect(new SlowCallRateRule(0.28, 1).shouldOpen(input(25, 7))).toBe(true);
    expect(new SlowCallRateRule(0.28, 1).shouldOpen(input(25, 6))).toBe(false);
  });

  it('opens when slow successful calls reach slowCallRateThreshold', () => {
    const { breaker, changes, succeedAfter } = breakerWith(0.5, 4);
    succeedAfter(150);
    succeedAfter(10);
    succeedAfter(10);
    expect(breaker.state).toBe('CLOSED');
    succeedAfter(101);
    expect(breaker.state).toBe('OPEN');
    expect(changes).toMatchObject([{ to: 'OPEN', reason: 'slow_call_rate' }]);
    expect(breaker.stats()).toMatchObject({ slowCalls: 2, failures: 0, slowCallRate: 0.5 });
  });

  it('does not count a call of exactly slowCallDurationMs as slow', () => {
    const { breaker, succeedAfter } = breakerWith(0.5, 2);
    succeedAfter(100);
    succeedAfter(100);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().slowCalls).toBe(0);
  });

  it('is off unless both slowCallDurationMs and slowCallRateThreshold are set', () => {
    const clock = { t: 0, now: () => clock.t };
    const breaker = new CircuitBreaker({ name: 'fast', clock, failureThreshold: 0, minimumRequests: 1 });
    for (let i = 0; i < 20; i++) {
      const permit = breaker.tryAcquire();
      clock.t += 60_000;
      permit?.success();
    }
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().slowCalls).toBe(0);
  });
});
