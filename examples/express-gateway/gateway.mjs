import { Registry } from '@breakwater/core';
import { circuitBreaker, healthHandler } from '@breakwater/express';
import express from 'express';

/**
 * An API gateway in front of the products service: `/api/products` is forwarded upstream under
 * a breaker; while the circuit is open, the last good answer per URL is served from cache, and
 * a URL never seen before gets the structured 503.
 */
export function createGateway({ upstreamUrl, registry = new Registry(), logger } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health/circuit-breakers', healthHandler({ registry }));
  app.get(
    '/api/products',
    circuitBreaker({
      name: 'products',
      registry,
      logger,
      failureThreshold: 5,
      failureRateThreshold: 0.5,
      minimumRequests: 10,
      metricsWindowMs: 10_000,
      timeoutMs: 800,
      recoveryTimeoutMs: 2_000,
      successThreshold: 2,
      halfOpenMaxRequests: 2,
      fallback: { strategy: 'cache', ttlMs: 60_000 },
    }),
    async (req, res, next) => {
      try {
        const upstream = await fetch(`${upstreamUrl}${req.originalUrl.replace('/api', '')}`);
        // Pass the status on, never the upstream's error body: it may carry internals.
        if (upstream.status >= 500) return res.status(502).json({ error: 'Bad Gateway' });
        res
          .status(upstream.status)
          .type('application/json')
          .send(await upstream.text());
      } catch (error) {
        next(error);
      }
    },
  );
  return app;
}
