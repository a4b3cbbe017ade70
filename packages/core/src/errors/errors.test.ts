import { describe, expect, it } from 'vitest';
import { BreakwaterError, isBreakwaterError } from './breakwater-error.js';
import { CircuitOpenError, isCircuitOpenError } from './circuit-open-error.js';
import { CircuitTimeoutError, isCircuitTimeoutError } from './circuit-timeout-error.js';

/** What an error from a second installed copy of the package looks like: same brand, other classes. */
function fromSecondCopy(code: string): Error {
  class ForeignBreakwaterError extends Error {
    readonly code = code;
    constructor(message: string) {
      super(message);
      (this as unknown as Record<symbol, boolean>)[Symbol.for('breakwater.error')] = true;
    }
  }
  return new ForeignBreakwaterError('from another copy');
}

describe('Breakwater errors', () => {
  it('CircuitOpenError carries code, breaker, state, retryAfterMs and reason', () => {
    const error = new CircuitOpenError('payments', 'OPEN', 1_500, 'open');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({
      name: 'CircuitOpenError',
      code: 'ECIRCUITOPEN',
      breaker: 'payments',
      state: 'OPEN',
      retryAfterMs: 1_500,
      reason: 'open',
      message: 'Circuit breaker "payments" is OPEN: call rejected',
    });
  });

  it('CircuitTimeoutError carries code, breaker and timeoutMs', () => {
    const error = new CircuitTimeoutError('payments', 2_000);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({
      name: 'CircuitTimeoutError',
      code: 'ETIMEDOUT',
      breaker: 'payments',
      timeoutMs: 2_000,
      message: 'Call through circuit breaker "payments" timed out after 2000 ms',
    });
  });

  it('names itself like a built-in error: in String(), the stack header and util.inspect', async () => {
    const { inspect, types } = await import('node:util');
    const open = new CircuitOpenError('payments', 'OPEN', 1_500, 'open');
    const timeout = new CircuitTimeoutError('payments', 2_000);
    expect(String(open)).toBe('CircuitOpenError: Circuit breaker "payments" is OPEN: call rejected');
    expect(timeout.stack?.split('\n')[0]).toBe(
      'CircuitTimeoutError: Call through circuit breaker "payments" timed out after 2000 ms',
    );
    expect(inspect(open)).toContain('CircuitOpenError: Circuit breaker "payments" is OPEN');
    expect(inspect(open)).toContain("code: 'ECIRCUITOPEN'");
    // Real errors, not look-alikes: loggers and error trackers recognise them.
    expect(types.isNativeError(open)).toBe(true);
    expect(Object.prototype.toString.call(timeout)).toBe('[object Error]');
  });

  it('guards recognise errors of this copy', () => {
    const open = new CircuitOpenError('a', 'HALF_OPEN', 0, 'half_open_full');
    const timeout = new CircuitTimeoutError('a', 10);
    expect(isBreakwaterError(open)).toBe(true);
    expect(isBreakwaterError(timeout)).toBe(true);
    expect(isCircuitOpenError(open)).toBe(true);
    expect(isCircuitOpenError(timeout)).toBe(false);
    expect(isCircuitTimeoutError(timeout)).toBe(true);
    expect(isCircuitTimeoutError(open)).toBe(false);
  });

  it('guards recognise errors of a second installed copy by their global-symbol brand', () => {
    const open = fromSecondCopy('ECIRCUITOPEN');
    const timeout = fromSecondCopy('ETIMEDOUT');
    expect(open).not.toBeInstanceOf(BreakwaterError);
    expect(isBreakwaterError(open)).toBe(true);
    expect(isCircuitOpenError(open)).toBe(true);
    expect(isCircuitTimeoutError(open)).toBe(false);
    expect(isCircuitTimeoutError(timeout)).toBe(true);
    expect(isCircuitOpenError(timeout)).toBe(false);
  });

  it('guards reject look-alikes without the brand, and non-errors', () => {
    const lookAlike = Object.assign(new Error('x'), { code: 'ECIRCUITOPEN' });
    const nodeTimeout = Object.assign(new Error('x'), { code: 'ETIMEDOUT' });
    for (const value of [lookAlike, nodeTimeout, new Error('x'), null, undefined, 'ECIRCUITOPEN', 42, {}]) {
      expect(isBreakwaterError(value)).toBe(false);
      expect(isCircuitOpenError(value)).toBe(false);
      expect(isCircuitTimeoutError(value)).toBe(false);
    }
    expect(isBreakwaterError({ [Symbol.for('breakwater.error')]: 'yes' })).toBe(false);
  });
});
