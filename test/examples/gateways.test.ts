import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from '@breakwater/core';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript example.
import { createGateway as expressGateway } from '../../examples/express-gateway/gateway.mjs';
// @ts-expect-error: plain JavaScript example.
import { createGateway as fastifyGateway } from '../../examples/fastify-gateway/gateway.mjs';
// @ts-expect-error: plain JavaScript example.
import { createGateway as koaGateway } from '../../examples/koa-gateway/gateway.mjs';
// @ts-expect-error: the examples are plain JavaScript modules without types.
import { createUpstream } from '../../examples/shared/upstream.mjs';

type Kind = 'express' | 'koa' | 'fastify';
type Closer = () => Promise<void>;
const closers: Closer[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** The name each example gives the breaker on `/api/products`: Fastify names a route's breaker after the route. */
const productsBreaker: Record<Kind, string> = { express: 'products', koa: 'products', fastify: 'GET /api/products' };

async function listen(app: { listen: (port: number, host: string, ready: () => void) => Server }): Promise<number> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/**
 * Starts an example as its index.mjs does: the simulated upstream, and the gateway in front of it
 * with the route that switches the upstream's mode (unless `simulator` is false), on an ephemeral
 * port on 127.0.0.1.
 */
async function start(kind: Kind, { simulator = true } = {}) {
  const upstream = createUpstream();
  const upstreamPort: number = await upstream.listen();
  closers.push(() => upstream.close());
  const registry = new Registry();
  const options = {
    upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
    registry,
    simulator: simulator ? upstream : undefined,
  };
  let port: number;
  if (kind === 'fastify') {
    const app = await fastifyGateway(options);
    closers.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  } else {
    port = await listen(kind === 'express' ? expressGateway(options) : koaGateway(options));
  }
  const base = `http://127.0.0.1:${port}`;
  const switchUpstream = async (mode: string) => {
    const res = await fetch(`${base}/__upstream/${mode}`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ mode });
  };
  const health = async () => {
    const res = await fetch(`${base}/health/circuit-breakers`);
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; circuit_breakers: Record<string, { state: string }> };
  };
  return { upstream, registry, base, switchUpstream, health };
}

describe.each<Kind>(['express', 'koa', 'fastify'])('%s example gateway, end to end', (kind) => {
  const name = productsBreaker[kind];

  it('opens on a failing upstream (cache for seen URLs, the structured 503 for others) and recovers', async () => {
    const { upstream, base, switchUpstream, health } = await start(kind);

    const fresh = await fetch(`${base}/api/products?page=1`);
    expect(fresh.status).toBe(200);
    const cachedBody = await fresh.json();
    expect(cachedBody).toMatchObject({ page: 1, products: ['kettle', 'teapot', 'mug'] });
    expect(await health()).toMatchObject({ status: 'ok', circuit_breakers: { [name]: { state: 'CLOSED' } } });

    await switchUpstream('failing');
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/api/products?page=2`);
      expect(res.status).toBe(502);
      // The upstream's error body (a stack trace) is never passed on.
      expect(await res.json()).toEqual({ error: 'Bad Gateway' });
    }
    expect(await health()).toMatchObject({ status: 'degraded', circuit_breakers: { [name]: { state: 'OPEN' } } });

    const fromCache = await fetch(`${base}/api/products?page=1`);
    expect(fromCache.status).toBe(200);
    expect(fromCache.headers.get('x-circuit-fallback')).toBe('cache');
    expect(await fromCache.json()).toEqual(cachedBody);

    const callsBefore: number = upstream.calls;
    const refused = await fetch(`${base}/api/products?page=3`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2); // recoveryTimeoutMs 2 000
    const body = await refused.json();
    expect(body).toEqual({
      error: 'Service Unavailable',
      message: `Service ${name} is temporarily unavailable`,
      circuitBreakerState: 'OPEN',
      retryAfter,
    });
    expect(upstream.calls).toBe(callsBefore); // refused without calling the upstream

    await switchUpstream('healthy');
    await sleep(retryAfter * 1_000);
    // Two probes succeed (successThreshold 2) and close the circuit: fresh answers, no fallback.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/api/products?page=3`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-circuit-fallback')).toBeNull();
      expect(await res.json()).toMatchObject({ page: 3, products: ['kettle', 'teapot', 'mug'] });
    }
    expect(await health()).toMatchObject({ status: 'ok', circuit_breakers: { [name]: { state: 'CLOSED' } } });
    const again = await fetch(`${base}/api/products?page=4`);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-circuit-fallback')).toBeNull();
  });

  it('answers an unknown upstream mode with a 400 naming the modes, and keeps the mode', async () => {
    const { base, upstream } = await start(kind);
    const res = await fetch(`${base}/__upstream/broken`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'unknown mode "broken"',
      modes: ['healthy', 'failing', 'slow', 'flaky'],
    });
    expect(upstream.mode).toBe('healthy');
  });

  it('has no route to switch the upstream unless given the simulator', async () => {
    const { base, upstream } = await start(kind, { simulator: false });
    expect((await fetch(`${base}/__upstream/failing`, { method: 'POST' })).status).toBe(404);
    expect(upstream.mode).toBe('healthy');
  });
});

describe('fallbacks of the other routes', () => {
  it('koa: /api/products/featured answers with the default fallback while the upstream is down', async () => {
    const { registry, base, switchUpstream } = await start('koa');
    await switchUpstream('failing');
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/api/products/featured`)).status).toBe(502);
    expect(registry.get('featured')?.state).toBe('OPEN');
    const res = await fetch(`${base}/api/products/featured`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-circuit-fallback')).toBe('default');
    expect(await res.json()).toEqual({ products: [], degraded: true });
  });

  it('fastify: protects each route, serves the custom fallback, leaves /api/ping unprotected', async () => {
    const { registry, base, switchUpstream, health } = await start('fastify');
    await switchUpstream('failing');
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/api/products/featured`)).status).toBe(502);
    expect(registry.get('GET /api/products/featured')?.state).toBe('OPEN');
    expect(registry.get('GET /api/products')?.state).toBe('CLOSED');
    const res = await fetch(`${base}/api/products/featured`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-circuit-fallback')).toBe('custom');
    expect(await res.json()).toEqual({ featured: [], for: '/api/products/featured' });
    expect(await (await fetch(`${base}/api/ping`)).json()).toEqual({ pong: true });
    expect((await health()).status).toBe('degraded');
  });
});
