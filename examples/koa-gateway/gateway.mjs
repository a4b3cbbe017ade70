import { Registry } from '@breakwater/core';
import { switchAnswer } from '@breakwater/example-upstream';
import { productsBreaker } from '@breakwater/example-upstream/breaker';
import { circuitBreaker, healthHandler } from '@breakwater/koa';
import Koa from 'koa';

/**
 * The Koa flavour of the gateway: `/api/products` forwarded upstream under the same breaker as
 * the Express one (cache fallback, else the structured 503), `/api/products/featured` under its
 * own breaker with a default fallback. Given the simulated upstream as `simulator`,
 * `POST /__upstream/:mode` switches it (`healthy`, `failing`, `slow`, `flaky`).
 */
export function createGateway({ upstreamUrl, registry = new Registry(), logger, simulator } = {}) {
  const app = new Koa();
  const health = healthHandler({ registry });
  const breakers = {
    '/api/products': circuitBreaker({ name: 'products', registry, logger, ...productsBreaker }),
    '/api/products/featured': circuitBreaker({
      name: 'featured',
      registry,
      logger,
      ...productsBreaker,
      fallback: { strategy: 'default', response: { status: 200, body: { products: [], degraded: true } } },
    }),
  };
  const forward = async (ctx) => {
    const upstream = await fetch(`${upstreamUrl}${ctx.url.replace('/api', '')}`);
    // Pass the status on, never the upstream's error body: it may carry internals.
    ctx.status = upstream.status >= 500 ? 502 : upstream.status;
    ctx.body = upstream.status >= 500 ? { error: 'Bad Gateway' } : await upstream.json();
  };
  app.use((ctx, next) => {
    if (ctx.method !== 'GET') return next();
    if (ctx.path === '/health/circuit-breakers') return health(ctx, next);
    const breaker = breakers[ctx.path];
    return breaker ? breaker(ctx, () => forward(ctx)) : next();
  });
  if (simulator) {
    app.use((ctx, next) => {
      const mode = ctx.method === 'POST' && /^\/__upstream\/([^/]+)$/.exec(ctx.path)?.[1];
      if (!mode) return next();
      const { status, body } = switchAnswer(simulator, mode);
      ctx.status = status;
      ctx.body = body;
    });
  }
  return app;
}
