import { Registry } from '@breakwater/core';
import { breakwater } from '@breakwater/fastify';
import Fastify from 'fastify';

/** The Fastify flavour: a breaker per route, health on /health/circuit-breakers, a custom fallback on one route. */
export async function createGateway({ upstreamUrl, registry = new Registry(), logger = false } = {}) {
  const app = Fastify({ logger });
  await app.register(breakwater, {
    registry,
    health: true,
    failureThreshold: 5,
    timeoutMs: 800,
    recoveryTimeoutMs: 2_000,
  });
  const forward = async (request, reply) => {
    const upstream = await fetch(`${upstreamUrl}${request.url.replace('/api', '')}`);
    if (upstream.status >= 500) return reply.code(502).send({ error: 'Bad Gateway' });
    return reply.code(upstream.status).send(await upstream.json());
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
  return app;
}
