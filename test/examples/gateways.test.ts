import type { AddressInfo } from 'node:net';
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

type Closer = () => Promise<void>;
const closers: Closer[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function start(kind: 'express' | 'koa') {
  const upstream = createUpstream();
  const upstreamPort: number = await upstream.listen();
  closers.push(() => upstream.close());
  const registry = new Registry();
  const options = { upstreamUrl: `http://127.0.0.1:${upstreamPort}`, registry };
  const app = kind === 'express' ? expressGateway(options) : koaGateway(options);
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { upstream, registry, base };
}

describe('example gateways', () => {
  it('express: serves the last good answer from cache once the upstream fails, 503 for unseen URLs', async () => {
    const { upstream, registry, base } = await start('express');
    const fresh = await fetch(`${base}/api/products?page=1`);
    expect(fresh.status).toBe(200);
    const cachedBody = await fresh.json();

    upstream.setMode('failing');
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/api/products?page=2`)).status).toBe(502);
    expect(registry.get('products')?.state).toBe('OPEN');

    const fromCache = await fetch(`${base}/api/products?page=1`);
    expect(fromCache.headers.get('x-circuit-fallback')).toBe('cache');
    expect(await fromCache.json()).toEqual(cachedBody);

    const unseen = await fetch(`${base}/api/products?page=3`);
    expect(unseen.status).toBe(503);
    const body = await unseen.json();
    expect(body).toMatchObject({ error: 'Service Unavailable', circuitBreakerState: 'OPEN' });
    expect(JSON.stringify(body)).not.toContain('database');

    const health = (await (await fetch(`${base}/health/circuit-breakers`)).json()) as { status: string };
    expect(health.status).toBe('degraded');
  });

  it('koa: answers with the default fallback while the upstream is down', async () => {
    const { upstream, registry, base } = await start('koa');
    upstream.setMode('failing');
    for (let i = 0; i < 5; i++) await (await fetch(`${base}/api/products`)).arrayBuffer();
    expect(registry.get('products')?.state).toBe('OPEN');
    const res = await fetch(`${base}/api/products`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-circuit-fallback')).toBe('default');
    expect(await res.json()).toEqual({ products: [], degraded: true });
  });
});

describe('fastify example gateway', () => {
  it('protects each route, serves the custom fallback, leaves /api/ping unprotected', async () => {
    const upstream = createUpstream();
    const upstreamPort: number = await upstream.listen();
    closers.push(() => upstream.close());
    const registry = new Registry();
    const app = await fastifyGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, registry });
    closers.push(() => app.close());
    upstream.setMode('failing');
    for (let i = 0; i < 5; i++) await app.inject('/api/products/featured');
    expect(registry.get('GET /api/products/featured')?.state).toBe('OPEN');
    expect(registry.get('GET /api/products')?.state).toBe('CLOSED');
    const res = await app.inject('/api/products/featured');
    expect(res.headers['x-circuit-fallback']).toBe('custom');
    expect(res.json()).toEqual({ featured: [], for: '/api/products/featured' });
    expect((await app.inject('/api/ping')).json()).toEqual({ pong: true });
    expect((await app.inject('/health/circuit-breakers')).json().status).toBe('degraded');
  });
});
