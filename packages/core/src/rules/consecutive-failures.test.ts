import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import type { StateChangeEvent } from '../circuit/events.js';
import { ConsecutiveFailuresRule } from './consecutive-failures.js';

const EMPTY = { calls: 0, failures: 0, slow: 0, timeouts: 0 };

function breakerWith(failureThreshold: number) {
  let now = 0;
  const breaker = new CircuitBreaker({
    name: 'consecutive',
    clock: { now: () => now },
    failureThreshold,
    failureRateThreshold: 0,
  });
  const changes: StateChangeEvent[] = [];
  breaker.on('stateChange', (event) => changes.push(event));
  const call = (ok: boolean) => {
    now += 1;
    const permit = breaker.tryAcquire();
    if (permit === undefined) throw new Error('expected a permit');
    if (ok) permit.success();
    else permit.failure(new Error('boom'));
  };
  return { breaker, changes, call };
}

describe('ConsecutiveFailuresRule', () => {
  it('asks to open once the run of failures reaches the threshold', () => {
    const rule = new ConsecutiveFailuresRule(3);
    expect(rule.shouldOpen({ window: EMPTY, consecutiveFailures: 2 })).toBe(false);
    expect(rule.shouldOpen({ window: EMPTY, consecutiveFailures: 3 })).toBe(true);
    expect(rule.reason).toBe('consecutive_failures');
  });

  it('opens the breaker at failureThreshold failures in a row, not before', () => {
    const { breaker, changes, call } = breakerWith(3);
    call(false);
    call(false);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().consecutiveFailures).toBe(2);
    call(false);
    expect(breaker.state).toBe('OPEN');
    expect(changes).toMatchObject([{ from: 'CLOSED', to: 'OPEN', reason: 'consecutive_failures' }]);
  });

  it('starts counting again after a success', () => {
    const { breaker, call } = breakerWith(3);
    call(false);
    call(false);
    call(true);
    expect(breaker.stats().consecutiveFailures).toBe(0);
    call(false);
    call(false);
    expect(breaker.state).toBe('CLOSED');
    call(false);
    expect(breaker.state).toBe('OPEN');
  });

  it('is off with failureThreshold 0', () => {
    const { breaker, call } = breakerWith(0);
    for (let i = 0; i < 100; i++) call(false);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().consecutiveFailures).toBe(100);
  });

  it('opens on the first failure with failureThreshold 1', () => {
    const { breaker, call } = breakerWith(1);
    call(false);
    expect(breaker.state).toBe('OPEN');
  });
});
