import { Registry } from '@breakwater/core';
import { switchAnswer } from '@breakwater/example-upstream';
import { productsBreaker } from '@breakwater/example-upstream/breaker';
import { circuitBreaker, healthHandler } from '@breakwater/express';
import express from 'express';

/**
 * An API gateway in front of the products service: `/api/products` is forwarded upstream under
 * a breaker; while the circuit is open, the last good answer per URL is served from cache, and
 * a URL never seen before gets the structured 503. Given the simulated upstream as `simulator`,
 * `POST /__upstream/:mode` switches it (`healthy`, `failing`, `slow`, `flaky`).
 */
export function createGateway({ upstreamUrl, registry = new Registry(), logger, simulator } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health/circuit-breakers', healthHandler({ registry }));
  app.get(
    '/api/products',
    circuitBreaker({ name: 'products', registry, logger, ...productsBreaker }),
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
  if (simulator) {
    app.post('/__upstream/:mode', (req, res) => {
      const { status, body } = switchAnswer(simulator, req.params.mode);
      res.status(status).json(body);
    });
  }
  return app;
}
