import type { CircuitOpenError } from '@breakwater/core';
import fastify, { type FastifyContextConfig, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import breakwater, { type FastifyBreakerOptions, type RouteBreakerOptions } from '../src/index.js';

// Checked by `tsc` (the package's typecheck covers test/); at run time these assertions are no-ops.
describe('types', () => {
  it('types the plugin with its options', () => {
    expectTypeOf(breakwater).toEqualTypeOf<FastifyPluginAsync<FastifyBreakerOptions>>();
    expectTypeOf<FastifyBreakerOptions['key']>().toEqualTypeOf<((req: FastifyRequest) => string) | undefined>();
    expectTypeOf<FastifyBreakerOptions['onOpen']>().toEqualTypeOf<
      ((req: FastifyRequest, error: CircuitOpenError) => void) | undefined
    >();
    expectTypeOf<FastifyBreakerOptions['health']>().toEqualTypeOf<
      boolean | { path?: string; degradedStatus?: number } | undefined
    >();
  });

  it('adds circuitBreaker to every route config', () => {
    expectTypeOf<FastifyContextConfig['circuitBreaker']>().toEqualTypeOf<RouteBreakerOptions | boolean | undefined>();
    expectTypeOf<RouteBreakerOptions>().not.toHaveProperty('health');
  });

  it('accepts valid registrations and route configs, and rejects invalid ones', async () => {
    const app = fastify();
    await app.register(breakwater, {
      failureThreshold: 3,
      key: (request) => request.ip,
      fallback: { strategy: 'custom', handler: (request) => ({ body: request.url }) },
      health: { path: '/breakers' },
    });
    app.get('/a', { config: { circuitBreaker: { timeoutMs: 500 } } }, async () => 'a');
    app.get('/b', { config: { circuitBreaker: false } }, async () => 'b');
    // Never called: only the compiler looks at these.
    const invalid = () => {
      // @ts-expect-error failureThreshold is a number
      app.register(breakwater, { failureThreshold: '3' });
      // @ts-expect-error health belongs to the plugin, not to a route
      const plugInOnly: FastifyContextConfig = { circuitBreaker: { health: true } };
      // @ts-expect-error no such option
      const unknown: FastifyContextConfig = { circuitBreaker: { retries: 2 } };
      // @ts-expect-error timeoutMs is a number
      app.get('/e', { config: { circuitBreaker: { timeoutMs: '1s' } } }, async () => 'e');
      return [plugInOnly, unknown];
    };
    expectTypeOf(invalid).toBeFunction();
    await app.close();
  });
});
