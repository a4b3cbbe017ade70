import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { routeKeys } from '../src/route-key.js';
import { frameworks } from './helpers.js';

describe.each(frameworks)('routeKeys on %s', (_label, fastify) => {
  it("finds Fastify's own route context: one object per route, the same for every request of it", async () => {
    const routeKey = routeKeys();
    const seen: { url: string; key: object | undefined; config: unknown }[] = [];
    const app = fastify();
    app.addHook('onRequest', (request: FastifyRequest, _reply, next) => {
      seen.push({ url: request.url, key: routeKey(request), config: request.routeOptions.config });
      next();
    });
    app.get('/a', async () => 'a');
    app.get('/b', { config: { note: 'b' } }, async () => 'b');
    for (const url of ['/a', '/b', '/a', '/b', '/nowhere']) await app.inject(url);
    await app.close();
    const [a1, b1, a2, b2, missing] = seen.map((entry) => entry.key);
    expect(a1).toBeDefined();
    expect(a2).toBe(a1);
    expect(b2).toBe(b1);
    expect(b1).not.toBe(a1);
    expect(missing).not.toBe(a1);
    // Fastify's context object, not the config stand-in: it holds the route's config.
    expect((b1 as { config?: unknown }).config).toBe(seen[1]?.config);
    expect(b1).not.toBe(seen[1]?.config);
  });
});

describe('routeKeys without Fastify’s context symbol', () => {
  it("falls back to the route's config object from routeOptions", () => {
    const routeKey = routeKeys();
    const config = { url: '/x' };
    const request = { routeOptions: { config } } as unknown as FastifyRequest;
    expect(routeKey(request)).toBe(config);
    expect(routeKey({ routeOptions: { config: undefined } } as unknown as FastifyRequest)).toBeUndefined();
  });

  it('falls back for a request that lacks the symbol found on an earlier one', () => {
    const routeKey = routeKeys();
    const context = { config: { url: '/y' } };
    const first = { [Symbol('fastify.context')]: context, routeOptions: { config: context.config } };
    expect(routeKey(first as unknown as FastifyRequest)).toBe(context);
    const other = { url: '/z' };
    expect(routeKey({ routeOptions: { config: other } } as unknown as FastifyRequest)).toBe(other);
  });
});
