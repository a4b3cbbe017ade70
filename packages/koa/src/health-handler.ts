import { defaultRegistry, type Registry } from '@breakwater/core';
import type { Context, Next } from 'koa';

export interface HealthHandlerOptions {
  /** Whose breakers to report; default `defaultRegistry`. */
  registry?: Registry;
  /** Status sent while the document says `degraded`; default 200 (a load balancer may want 503). */
  degradedStatus?: number;
}

function resolve(options: HealthHandlerOptions): { registry: Registry; degradedStatus: number } {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Invalid options: got ${String(options)}, expected an object`);
  }
  const registry = options.registry ?? defaultRegistry;
  if (typeof (registry as Partial<Registry>).health !== 'function') {
    throw new TypeError('Invalid option "registry": expected a Registry (an object with a health() method)');
  }
  const degradedStatus = options.degradedStatus ?? 200;
  if (!Number.isInteger(degradedStatus) || degradedStatus < 200 || degradedStatus > 599) {
    throw new TypeError(
      `Invalid option "degradedStatus": got ${JSON.stringify(degradedStatus)}, expected an integer from 200 to 599`,
    );
  }
  return { registry, degradedStatus };
}

/**
 * Koa middleware that answers with the health document of every breaker in the registry:
 * `{"status":"ok"|"degraded","circuit_breakers":{…}}`. It ends the chain; mount it on the path
 * you want (with a router, or by checking `ctx.path`).
 *
 * @example
 * router.get('/health/circuit-breakers', healthHandler({ registry }));
 */
export function healthHandler(options: HealthHandlerOptions = {}): (ctx: Context, next?: Next) => Promise<void> {
  const { registry, degradedStatus } = resolve(options);
  return async function breakwaterHealth(ctx: Context): Promise<void> {
    const document = registry.health();
    ctx.status = document.status === 'ok' ? 200 : degradedStatus;
    ctx.set('cache-control', 'no-store');
    ctx.body = document;
  };
}
