import { Registry } from '@breakwater/core';
import { switchAnswer } from '@breakwater/example-upstream';
import { productsBreaker } from '@breakwater/example-upstream/breaker';
import { breakwater } from '@breakwater/fastify';
import Fastify from 'fastify';

/**
 * The Fastify flavour: a breaker per route, with the Express gateway's settings (cache fallback,
 * else the structured 503); a custom fallback on one route; health on /health/circuit-breakers.
 * Given the simulated upstream as `simulator`, `POST /__upstream/:mode` switches it (`healthy`,
 * `failing`, `slow`, `flaky`).
 */
export async function createGateway({ upstreamUrl, registry = new Registry(), logger = false, simulator } = {}) {
  const app = Fastify({ logger });
  await app.register(breakwater, { registry, health: true, ...productsBreaker });
  const forward = async (request, reply) => {
    const upstream = await fetch(`${upstreamUrl}${request.url.replace('/api', '')}`);
    // Pass the status on, never the upstream's error body: it may carry internals.
    if (upstream.status >= 500) return reply.code(502).send({ error: 'Bad Gateway' });
    return reply
      .code(upstream.status)
      .type('application/json')
      .send(await upstream.text());
  };
  app.get('/api/products', forward);
  app.get(
    '/api/products/featured',
    {
      config: {
        circuitBreaker: {
          fallback: {
            strategy: 'custom',
            handler: (request) => ({ status: 200, body: { featured: [], for: request.url } }),
          },
        },
      },
    },
    forward,
  );
  app.get('/api/ping', { config: { circuitBreaker: false } }, async () => ({ pong: true }));
  if (simulator) {
    app.post('/__upstream/:mode', { config: { circuitBreaker: false } }, async (request, reply) => {
      const { status, body } = switchAnswer(simulator, request.params.mode);
      return reply.code(status).send(body);
    });
  }
  return app;
}
