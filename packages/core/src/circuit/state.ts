/** Every state a breaker can be in. `FORCED_OPEN` and `DISABLED` are set only by hand. */
export const CircuitState = Object.freeze({
  CLOSED: 'CLOSED',
  OPEN: 'OPEN',
  HALF_OPEN: 'HALF_OPEN',
  FORCED_OPEN: 'FORCED_OPEN',
  DISABLED: 'DISABLED',
} as const);

export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];
