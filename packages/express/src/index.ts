export { circuitBreaker, type ExpressBreakerOptions } from './circuit-breaker.js';
export { type HealthHandlerOptions, healthHandler } from './health-handler.js';
