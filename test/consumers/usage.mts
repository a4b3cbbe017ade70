import { CircuitBreaker, type CircuitState, defaultRegistry, isCircuitOpenError } from '@breakwater/core';

const breaker = new CircuitBreaker({ name: 'esm-consumer', failureThreshold: 3 });
const state: CircuitState = breaker.state;
const value: Promise<number> = breaker.execute(async () => 42);
defaultRegistry.getOrCreate('esm-consumer-2');

export { isCircuitOpenError, state, value };
