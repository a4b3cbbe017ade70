import { BreakwaterError, isBreakwaterError, nameErrorClass } from './breakwater-error.js';

/** The protected call ran longer than `timeoutMs`; its `AbortSignal` has fired. */
export class CircuitTimeoutError extends BreakwaterError {
  declare readonly code: 'ETIMEDOUT';
  declare readonly breaker: string;
  declare readonly timeoutMs: number;

  constructor(breaker: string, timeoutMs: number) {
    super('ETIMEDOUT', `Call through circuit breaker "${breaker}" timed out after ${timeoutMs} ms`);
    this.breaker = breaker;
    this.timeoutMs = timeoutMs;
  }
}

nameErrorClass(CircuitTimeoutError, 'CircuitTimeoutError');

export function isCircuitTimeoutError(value: unknown): value is CircuitTimeoutError {
  return isBreakwaterError(value) && value.code === 'ETIMEDOUT';
}
