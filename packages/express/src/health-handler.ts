import { type HealthHandlerOptions, healthResponder, writeResponse } from '@breakwater/core';
import type { Request, RequestHandler, Response } from 'express';

export type { HealthHandlerOptions };

/**
 * Serves the health document of every breaker in the registry:
 * `{"status":"ok"|"degraded","circuit_breakers":{…}}`.
 *
 * @example
 * app.get('/health/circuit-breakers', healthHandler({ registry }));
 */
export function healthHandler(options: HealthHandlerOptions = {}): RequestHandler {
  const respond = healthResponder(options);
  return function breakwaterHealth(_req: Request, res: Response): void {
    writeResponse(res, respond());
  };
}
