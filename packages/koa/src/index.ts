export { circuitBreaker, type KoaBreakerOptions } from './circuit-breaker.js';
export { type HealthHandlerOptions, healthHandler } from './health-handler.js';
