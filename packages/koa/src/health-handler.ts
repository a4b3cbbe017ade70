import { type HealthHandlerOptions, healthResponder } from '@breakwater/core';
import type { Context, Next } from 'koa';
import { setResponse } from './set-response.js';

export type { HealthHandlerOptions };

/**
 * Koa middleware that answers with the health document of every breaker in the registry:
 * `{"status":"ok"|"degraded","circuit_breakers":{…}}`. It ends the chain; mount it on the path
 * you want (with a router, or by checking `ctx.path`).
 *
 * @example
 * router.get('/health/circuit-breakers', healthHandler({ registry }));
 */
export function healthHandler(options: HealthHandlerOptions = {}): (ctx: Context, next?: Next) => Promise<void> {
  const respond = healthResponder(options);
  return async function breakwaterHealth(ctx: Context): Promise<void> {
    setResponse(ctx, respond());
  };
}
