import { CircuitState, Registry } from '@breakwater/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import breakwater from '../src/index.js';
import { capturedLogger, frameworks, type LogLine, ManualClock } from './helpers.js';

// Several instances of the plugin in one app: an app-wide one and a scope's own. They stack (each
// breaker counts a request), except on one breaker, which no request is admitted on twice.
describe.each(frameworks)('%s, several plugin instances', (_label, fastify) => {
  let app: FastifyInstance;

  afterEach(async () => {
    await app?.close();
  });

  /** Asks for `path` `times` times in a row; the statuses. */
  async function statuses(path: string, times: number): Promise<number[]> {
    const seen: number[] = [];
    for (let i = 0; i < times; i++) seen.push((await app.inject(path)).statusCode);
    return seen;
  }

  it("guards a scope's routes declared before its own instance, under an app-wide one too", async () => {
    const registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, name: 'app', failureThreshold: 100 });
    await app.register(async (scope) => {
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
      await scope.register(breakwater, { registry, name: 'scope', failureThreshold: 1 });
    });

    expect(await statuses('/x', 2)).toEqual([500, 503]);
    expect(registry.get('scope')?.stats()).toMatchObject({ state: CircuitState.OPEN, failures: 1 });
    // Stacked: the app-wide breaker counted the request the scope's admitted.
    expect(registry.get('app')?.stats()).toMatchObject({ totalCalls: 1, failures: 1 });
  });

  it("counts a request once when a scope's instance names breakers after the route too, with the scope's options", async () => {
    const registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 10 });
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, failureThreshold: 3 });
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    });
    app.get('/y', async () => 'y');

    expect(await statuses('/x', 4)).toEqual([500, 500, 500, 503]);
    expect(registry.get('GET /x')?.stats()).toMatchObject({ totalCalls: 3, failures: 3 });
    expect(registry.get('GET /x')?.options.failureThreshold).toBe(3);
    // The app-wide instance still guards its own routes.
    await statuses('/y', 1);
    expect(registry.get('GET /y')?.stats()).toMatchObject({ totalCalls: 1, successes: 1 });
  });

  it("counts a HEAD request once, on the GET breaker, when a scope's instance names breakers after the route too", async () => {
    const registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 10 });
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, failureThreshold: 2 });
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    });
    const head = async () => (await app.inject({ method: 'HEAD', url: '/x' })).statusCode;

    expect([await head(), await head(), await head()]).toEqual([500, 500, 503]);
    expect(registry.get('GET /x')?.stats()).toMatchObject({ totalCalls: 2, failures: 2 });
    expect(registry.names()).toEqual(['GET /x']);
  });

  it("gives a route's breaker that a configuration file made the nearest instance's options", async () => {
    const registry = new Registry();
    // As createRegistry does for a service named after the route.
    registry.declare('GET /x', { options: { failureThreshold: 10 } });
    const made = registry.createDeclared('GET /x');
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 5 });
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, failureThreshold: 2 });
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    });
    await app.ready();

    expect(registry.get('GET /x')?.options.failureThreshold).toBe(2);
    expect(await statuses('/x', 3)).toEqual([500, 500, 503]);
    // Given back by the outer instance, and configured by the nearer one: still the file's breaker.
    expect(registry.get('GET /x')).toBe(made);
  });

  it('lets a recovered upstream close a circuit that two instances name alike (one probe)', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const options = { registry, clock, failureThreshold: 1, halfOpenMaxRequests: 1, recoveryTimeoutMs: 1_000 };
    app = fastify();
    await app.register(breakwater, options);
    let healthy = false;
    await app.register(async (scope) => {
      await scope.register(breakwater, options);
      scope.get('/x', async (_request, reply) => reply.code(healthy ? 200 : 500).send('x'));
    });

    expect(await statuses('/x', 1)).toEqual([500]);
    expect(registry.get('GET /x')?.state).toBe(CircuitState.OPEN);
    healthy = true;
    clock.advance(1_000);

    expect(await statuses('/x', 2)).toEqual([200, 200]);
    expect(registry.get('GET /x')?.state).toBe(CircuitState.CLOSED);
  });

  it.each(['after', 'before'])(
    'finds the instance on the same breaker under a third one on a breaker of its own (route declared %s them)',
    async (order) => {
      const registry = new Registry();
      const clock = new ManualClock();
      const options = { registry, clock, failureThreshold: 1, halfOpenMaxRequests: 1, recoveryTimeoutMs: 1_000 };
      let healthy = false;
      app = fastify();
      await app.register(breakwater, { ...options, failureThreshold: 10 });
      await app.register(async (scope) => {
        const route = () => scope.get('/x', async (_request, reply) => reply.code(healthy ? 200 : 500).send('x'));
        if (order === 'before') route();
        await scope.register(breakwater, { registry, name: 'scope-wide', failureThreshold: 100 });
        await scope.register(breakwater, options);
        if (order === 'after') route();
      });

      expect(await statuses('/x', 1)).toEqual([500]);
      expect(registry.get('GET /x')?.stats()).toMatchObject({ state: CircuitState.OPEN, totalCalls: 1 });
      expect(registry.get('scope-wide')?.stats()).toMatchObject({ totalCalls: 1 });
      healthy = true;
      clock.advance(1_000);

      expect(await statuses('/x', 2)).toEqual([200, 200]);
      expect(registry.get('GET /x')?.state).toBe(CircuitState.CLOSED);
    },
  );

  it('counts a request once when two instances pick breakers with the same key function', async () => {
    const registry = new Registry();
    const key = () => 'tenant:a';
    app = fastify();
    await app.register(breakwater, { registry, key, failureThreshold: 10 });
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, key, failureThreshold: 10 });
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    });

    await statuses('/x', 3);
    expect(registry.get('tenant:a')?.stats()).toMatchObject({ totalCalls: 3, failures: 3 });
  });

  it('counts a request once when two instances registered after the routes name breakers alike: the last governs', async () => {
    const registry = new Registry();
    app = fastify();
    app.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    await app.register(breakwater, { registry, failureThreshold: 10 });
    await app.register(breakwater, { registry, failureThreshold: 2 });

    expect(await statuses('/x', 3)).toEqual([500, 500, 503]);
    expect(registry.get('GET /x')?.stats()).toMatchObject({ totalCalls: 2, failures: 2 });
  });

  it('leaves a route to the nearer instance when an outer one on the same breaker meets it later', async () => {
    const registry = new Registry();
    app = fastify();
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, failureThreshold: 2 });
      scope.get('/x', async (_request, reply) => reply.code(500).send('boom'));
    });
    // Registered after the scope's route: it guards from a preHandler hook, on the first request.
    await app.register(breakwater, { registry, failureThreshold: 10 });

    expect(await statuses('/x', 3)).toEqual([500, 500, 503]);
    expect(registry.get('GET /x')?.stats()).toMatchObject({ totalCalls: 2, failures: 2 });
  });

  it('stops logging for an app once it closed, when its registry is shared', async () => {
    const registry = new Registry();
    const first: LogLine[] = [];
    for (let i = 0; i < 5; i++) {
      const each = fastify(capturedLogger(i === 0 ? first : []));
      await each.register(breakwater, { registry, failureThreshold: 1 });
      each.get('/x', async () => 'x');
      await each.ready();
      await each.close();
    }
    const breaker = registry.get('GET /x');

    expect(breaker?.listenerCount('stateChange')).toBe(0);
    breaker?.forceOpen();
    expect(first.filter((line) => String(line.msg).includes('circuit breaker'))).toEqual([]);
  });
});
