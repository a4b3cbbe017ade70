import { Registry } from '@breakwater/core';
import { circuitBreaker, healthHandler } from '@breakwater/koa';
import Koa from 'koa';

/** The Koa flavour of the gateway: `/api/products` forwarded upstream under a breaker with a default fallback. */
export function createGateway({ upstreamUrl, registry = new Registry(), logger } = {}) {
  const app = new Koa();
  const health = healthHandler({ registry });
  const products = circuitBreaker({
    name: 'products',
    registry,
    logger,
    failureThreshold: 5,
    timeoutMs: 800,
    recoveryTimeoutMs: 2_000,
    fallback: { strategy: 'default', response: { status: 200, body: { products: [], degraded: true } } },
  });
  app.use(async (ctx, next) => {
    if (ctx.path === '/health/circuit-breakers') return health(ctx, next);
    if (!ctx.path.startsWith('/api/products')) return next();
    return products(ctx, async () => {
      const upstream = await fetch(`${upstreamUrl}${ctx.url.replace('/api', '')}`);
      ctx.status = upstream.status >= 500 ? 502 : upstream.status;
      ctx.body = upstream.status >= 500 ? { error: 'Bad Gateway' } : await upstream.json();
    });
  });
  return app;
}
