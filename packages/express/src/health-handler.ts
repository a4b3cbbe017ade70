import { defaultRegistry, type Registry } from '@breakwater/core';
import type { Request, RequestHandler, Response } from 'express';

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
 * Serves the health document of every breaker in the registry:
 * `{"status":"ok"|"degraded","circuit_breakers":{…}}`.
 *
 * @example
 * app.get('/health/circuit-breakers', healthHandler({ registry }));
 */
export function healthHandler(options: HealthHandlerOptions = {}): RequestHandler {
  const { registry, degradedStatus } = resolve(options);
  return function breakwaterHealth(_req: Request, res: Response): void {
    const document = registry.health();
    const body = JSON.stringify(document);
    res.statusCode = document.status === 'ok' ? 200 : degradedStatus;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  };
}
