import type { CircuitState } from '../circuit/state.js';
import { BreakwaterError, isBreakwaterError, nameErrorClass } from './breakwater-error.js';

/** Why a call was refused: the breaker's own state, or its group being tripped. */
export type RejectionReason = 'open' | 'half_open_full' | 'forced_open' | 'group';

/**
 * Thrown (or returned to adapters) when a breaker does not permit a call.
 * Created without a stack trace: rejections are frequent and the trace carries no information.
 */
export class CircuitOpenError extends BreakwaterError {
  declare readonly code: 'ECIRCUITOPEN';
  declare readonly breaker: string;
  declare readonly state: CircuitState;
  declare readonly retryAfterMs: number;
  declare readonly reason: RejectionReason;

  constructor(breaker: string, state: CircuitState, retryAfterMs: number, reason: RejectionReason) {
    super('ECIRCUITOPEN', `Circuit breaker "${breaker}" is ${state}: call rejected`);
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
    this.reason = reason;
  }
}

nameErrorClass(CircuitOpenError, 'CircuitOpenError');

export function isCircuitOpenError(value: unknown): value is CircuitOpenError {
  return isBreakwaterError(value) && value.code === 'ECIRCUITOPEN';
}
