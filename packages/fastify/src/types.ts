import type { HttpOptions } from '@breakwater/core';
import type { FastifyRequest } from 'fastify';

/** Serves the health document at `path` (default `/health/circuit-breakers`). */
export interface HealthRouteOptions {
  path?: string;
  /** Status sent while the document says `degraded`; default 200 (a load balancer may want 503). */
  degradedStatus?: number;
}

/**
 * Options of the Fastify plugin: every breaker option (`failureThreshold`, `timeoutMs`,
 * `recoveryTimeoutMs`, …) plus `name`, `registry`, `key(request)`, `failureStatusCodes`,
 * `fallback`, `onOpen(request, error)`, `logger` (default: Fastify's own), `maxBreakers`
 * and `health`.
 */
export interface FastifyBreakerOptions extends HttpOptions<FastifyRequest> {
  /** Also serve `GET /health/circuit-breakers` (or `{ path }`) with the registry's health document. */
  health?: boolean | HealthRouteOptions;
}

/**
 * A route's own settings, merged over the plugin's. A route with settings has a breaker of its
 * own (named after the route, or its own `name`/`key`), never the plugin-level `name`. With the
 * plugin's `key` inherited, it shares the breakers that key names with the plugin's other routes.
 */
export type RouteBreakerOptions = Omit<FastifyBreakerOptions, 'health'>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's circuit-breaker settings, or `false` to leave the route unprotected. */
    circuitBreaker?: RouteBreakerOptions | boolean;
  }
}
