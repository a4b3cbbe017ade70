import http from 'node:http';
import { Readable } from 'node:stream';
import { CircuitState, Registry } from '@breakwater/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import breakwater from '../src/index.js';
import {
  BIG_ANSWER,
  bigStream,
  CALL_PATHS,
  capturedLogger,
  delay,
  expectCutBodiesFailed,
  expectRefusalsNotCountedOutside,
  failingSource,
  frameworks,
  gate,
  type LogLine,
  listenApp,
  ManualClock,
  pipelined,
  readSlowly,
  SLOW_READER_OPTIONS,
  until,
} from './helpers.js';

const REFUSED_BODY = (name: string, retryAfter: number) =>
  JSON.stringify({
    error: 'Service Unavailable',
    message: `Service ${name} is temporarily unavailable`,
    circuitBreakerState: 'OPEN',
    retryAfter,
  });

describe.each(frameworks)('%s', (_label, fastify) => {
  let app: FastifyInstance;
  let registry: Registry;

  afterEach(async () => {
    app?.server.closeAllConnections();
    await app?.close();
  });

  /** An app whose `/fail` answers 500, `/ok` 200, `/status/:code` that status; the handler entries are counted. */
  async function build(options: Parameters<typeof breakwater>[1] = {}): Promise<{ entries: Map<string, number> }> {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, ...options });
    const entries = new Map<string, number>();
    const enter = (route: string) => entries.set(route, (entries.get(route) ?? 0) + 1);
    app.get('/ok', async () => {
      enter('ok');
      return { ok: true };
    });
    app.get('/fail', async (_request, reply) => {
      enter('fail');
      return reply.code(500).send({ failed: true });
    });
    app.get<{ Params: { code: string } }>('/status/:code', async (request, reply) => {
      enter('status');
      return reply.code(Number(request.params.code)).send({ code: request.params.code });
    });
    return { entries };
  }

  it('refuses with the exact 503 body and Retry-After once the route breaker opens, without reaching the handler', async () => {
    const clock = new ManualClock();
    const { entries } = await build({ failureThreshold: 3, recoveryTimeoutMs: 30_000, clock });
    for (let i = 0; i < 3; i++) expect((await app.inject('/fail')).statusCode).toBe(500);
    expect(registry.get('GET /fail')?.state).toBe(CircuitState.OPEN);

    clock.advance(1_500);
    const refused = await app.inject('/fail');
    expect(refused.statusCode).toBe(503);
    expect(refused.body).toBe(REFUSED_BODY('GET /fail', 29));
    expect(refused.headers['retry-after']).toBe('29');
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(entries.get('fail')).toBe(3);
  });

  it('counts 4xx responses as successes', async () => {
    await build({ failureThreshold: 2 });
    for (let i = 0; i < 5; i++) expect((await app.inject('/status/404')).statusCode).toBe(404);
    const stats = registry.get('GET /status/:code')?.stats();
    expect(stats?.state).toBe(CircuitState.CLOSED);
    expect(stats?.successes).toBe(5);
    expect(stats?.failures).toBe(0);
  });

  it('counts exactly the statuses in failureStatusCodes', async () => {
    await build({ failureThreshold: 2, failureStatusCodes: [429] });
    for (let i = 0; i < 3; i++) await app.inject('/status/500');
    expect(registry.get('GET /status/:code')?.stats().failures).toBe(0);
    await app.inject('/status/429');
    await app.inject('/status/429');
    expect(registry.get('GET /status/:code')?.state).toBe(CircuitState.OPEN);
    expect((await app.inject('/status/200')).statusCode).toBe(503);
  });

  it('counts a thrown error as a failure, with the error itself recorded', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 2 });
    const failures: unknown[] = [];
    app.get('/throws', async () => {
      throw new Error('database down');
    });
    registry.get('GET /throws')?.on('failure', (event) => failures.push(event.error));
    expect((await app.inject('/throws')).statusCode).toBe(500);
    expect((await app.inject('/throws')).statusCode).toBe(500);
    expect(registry.get('GET /throws')?.state).toBe(CircuitState.OPEN);
    expect(failures.map((error) => (error as Error).message)).toEqual(['database down', 'database down']);
    expect((await app.inject('/throws')).statusCode).toBe(503);
  });

  it('does not count a thrown error that the error handler answers with a 4xx, nor a body that fails validation', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    app.get('/missing', async () => {
      throw Object.assign(new Error('no such user'), { statusCode: 404 });
    });
    app.post('/validated', { schema: { body: { type: 'object', required: ['id'] } } }, async () => 'ok');
    for (let i = 0; i < 3; i++) {
      expect((await app.inject('/missing')).statusCode).toBe(404);
      expect((await app.inject({ method: 'POST', url: '/validated', payload: {} })).statusCode).toBe(400);
    }
    expect(registry.get('GET /missing')?.stats()).toMatchObject({ state: 'CLOSED', successes: 3, failures: 0 });
    // Validation runs before the handler, where requests are admitted: those never reached the breaker.
    expect(registry.get('POST /validated')?.stats()).toMatchObject({ state: 'CLOSED', totalCalls: 0, rejected: 0 });
  });

  it('counts an error that an error handler of the app answers with a 2xx as a success (no onError hook runs)', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    app.setErrorHandler((_error, _request, reply) => reply.code(200).send({ degraded: true }));
    app.get('/orders', async () => {
      throw new Error('upstream down');
    });
    for (let i = 0; i < 2; i++) expect((await app.inject('/orders')).json()).toEqual({ degraded: true });
    expect(registry.get('GET /orders')?.stats()).toMatchObject({ state: 'CLOSED', successes: 2, failures: 0 });
  });

  it("admits requests right before the handler: what the route's hooks answer is neither counted nor refused", async () => {
    const { entries } = await build({ failureThreshold: 1 });
    app.get('/private', {
      preHandler: (request, reply, next) => {
        if (request.headers.authorization === undefined) reply.code(401).send({ error: 'log in' });
        else next();
      },
      handler: async (_request, reply) => reply.code(502).send('upstream down'),
    });
    expect((await app.inject('/private')).statusCode).toBe(401);
    expect(registry.get('GET /private')?.stats()).toMatchObject({ totalCalls: 0 });
    const signedIn = { headers: { authorization: 'Bearer x' } };
    expect((await app.inject({ url: '/private', ...signedIn })).statusCode).toBe(502);
    expect((await app.inject({ url: '/private', ...signedIn })).statusCode).toBe(503);
    // Open now, and still the hook answers first.
    expect((await app.inject('/private')).statusCode).toBe(401);
    expect(registry.get('GET /private')?.stats()).toMatchObject({ state: 'OPEN', failures: 1, rejected: 1 });
    expect(entries.size).toBe(0);
  });

  it('does not count what a slow client takes to read an answer as a slow call, nor as a timeout, streamed or not', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, ...SLOW_READER_OPTIONS });
    app.get('/file', async (_request, reply) => reply.type('text/plain').send(BIG_ANSWER));
    app.get('/stream', async (_request, reply) => reply.type('text/plain').send(bigStream()));
    const url = await listenApp(app);
    const stats = () => registry.get('GET /file')?.stats();

    await readSlowly(url, '/file', 600, () => stats()?.totalCalls === 1);
    expect(stats()).toMatchObject({ successes: 1, slowCalls: 0, timeouts: 0 });

    // A streamed answer ends only once the client has read it: still no timeout.
    const streamed = () => registry.get('GET /stream')?.stats();
    await readSlowly(url, '/stream', 600, () => streamed()?.totalCalls === 1);
    expect(streamed()).toMatchObject({ successes: 1, timeouts: 0 });
  });

  it('does not count the time a client takes to send its body toward timeoutMs', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1, timeoutMs: 100 });
    app.post('/orders', async (request) => ({ received: request.body }));
    const url = new URL(await listenApp(app));
    const answer = new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/orders',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': 12 },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode, body }));
        },
      );
      request.on('error', reject);
      request.write('{"sku":');
      setTimeout(() => request.end('"A1"}'), 300);
    });
    expect(await answer).toEqual({ status: 200, body: '{"received":{"sku":"A1"}}' });
    await until(() => registry.get('POST /orders')?.stats().totalCalls === 1);
    expect(registry.get('POST /orders')?.stats()).toMatchObject({ state: 'CLOSED', successes: 1, timeouts: 0 });
  });

  it('guards the handlers of routes declared after it loaded with no hook, and earlier routes with a preHandler hook', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    app.get('/late', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.ready();
    expect(app.printRoutes({ includeHooks: true })).not.toMatch(/onRequest|preHandler/);
    expect((await app.inject('/late')).statusCode).toBe(502);
    expect((await app.inject('/late')).statusCode).toBe(503);
    await app.close();

    registry = new Registry();
    app = fastify();
    app.get('/early', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.register(breakwater, { registry, failureThreshold: 2 });
    app.get('/late', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.ready();
    expect(app.printRoutes({ includeHooks: true, commonPrefix: false })).toMatch(
      /\/early \(GET\)\n.*\(preHandler\) \["guardEarlierRoutes\(\)"\]/,
    );
    // The hook runs for /late too, and leaves it to its guarded handler: each request counts once.
    for (const path of ['/early', '/late']) {
      expect((await app.inject(path)).statusCode).toBe(502);
      expect(registry.get(`GET ${path}`)?.stats()).toMatchObject({ totalCalls: 1, failures: 1 });
      expect((await app.inject(path)).statusCode).toBe(502);
      expect((await app.inject(path)).statusCode).toBe(503);
    }
  });

  it('gives every route its own breaker by default', async () => {
    const { entries } = await build({ failureThreshold: 2 });
    await app.inject('/fail');
    await app.inject('/fail');
    expect((await app.inject('/fail')).statusCode).toBe(503);
    expect((await app.inject('/ok')).statusCode).toBe(200);
    expect(entries.get('ok')).toBe(1);
    expect(registry.names().sort()).toEqual(['GET /fail', 'GET /ok', 'GET /status/:code']);
  });

  it('counts each request on its own route and method when requests alternate between them', async () => {
    await build({ failureThreshold: 100 });
    app.post('/ok', async () => ({ posted: true }));
    app.get('/open', { config: { circuitBreaker: false } }, async () => ({ open: true }));
    // One route, two methods: both requests carry the same route, and each method has its breaker.
    app.route({
      method: ['GET', 'POST'],
      url: '/both',
      handler: async (request, reply) => reply.code(request.method === 'POST' ? 502 : 200).send({}),
    });
    const sequence = [
      'GET /ok',
      'GET /fail',
      'POST /ok',
      'GET /ok',
      'GET /both',
      'POST /both',
      'GET /open',
      'GET /nowhere',
      'GET /fail',
    ];
    for (let round = 0; round < 3; round++) {
      for (const entry of sequence) {
        const [method, url] = entry.split(' ') as ['GET' | 'POST', string];
        await app.inject({ method, url });
      }
    }
    expect(registry.get('GET /ok')?.stats()).toMatchObject({ successes: 6, failures: 0 });
    expect(registry.get('POST /ok')?.stats()).toMatchObject({ successes: 3, failures: 0 });
    expect(registry.get('GET /fail')?.stats()).toMatchObject({ successes: 0, failures: 6 });
    expect(registry.get('GET /both')?.stats()).toMatchObject({ successes: 3, failures: 0 });
    expect(registry.get('POST /both')?.stats()).toMatchObject({ successes: 0, failures: 3 });
    expect(registry.names().sort()).toEqual([
      'GET /both',
      'GET /fail',
      'GET /ok',
      'GET /status/:code',
      'POST /both',
      'POST /ok',
    ]);
  });

  it('shares one breaker across routes when the plugin is given a name', async () => {
    await build({ name: 'users-api', failureThreshold: 2 });
    await app.inject('/fail');
    await app.inject('/fail');
    const refused = await app.inject('/ok');
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ message: 'Service users-api is temporarily unavailable' });
    expect(registry.names()).toEqual(['users-api']);
  });

  it('does not create breakers for 404s', async () => {
    await build({ failureThreshold: 1 });
    const before = registry.names();
    for (let i = 0; i < 3; i++) expect((await app.inject('/nowhere')).statusCode).toBe(404);
    expect(registry.names()).toEqual(before);
    expect(before).not.toContain('GET /nowhere');
  });

  it("creates each route's breaker when the route is declared, so health lists it before any traffic", async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry });
    app.get('/a', async () => 'a');
    app.route({ method: ['POST', 'PUT'], url: '/b', handler: async () => 'b' });
    app.get('/c', { config: { circuitBreaker: false } }, async () => 'c');
    app.get('/d', { config: { circuitBreaker: { key: (request) => request.ip } } }, async () => 'd');
    app.register(
      async (child) => {
        child.get('/e', async () => 'e');
      },
      { prefix: '/v1' },
    );
    await app.ready();
    expect(registry.names().sort()).toEqual(['GET /a', 'GET /v1/e', 'POST /b', 'PUT /b']);
  });

  it("counts HEAD requests on the GET route's breaker, and refuses them while it is open", async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 2 });
    let calls = 0;
    app.get('/a', async (_request, reply) => {
      calls++;
      return reply.code(502).send('bad gateway');
    });
    const head = () => app.inject({ method: 'HEAD', url: '/a' });

    expect((await head()).statusCode).toBe(502);
    expect((await app.inject('/a')).statusCode).toBe(502);
    expect(registry.get('GET /a')?.stats()).toMatchObject({ state: CircuitState.OPEN, failures: 2 });
    // The handler, and the dependency it calls, are not reached by HEAD either.
    const refused = await head();
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');
    expect(calls).toBe(2);
    expect(registry.names()).toEqual(['GET /a']);
  });

  it('counts HEAD on GET for a route that declares both, and keeps a HEAD route with a handler of its own apart', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    app.route({ method: ['GET', 'HEAD'], url: '/both', handler: async (_request, reply) => reply.code(500).send() });
    // Declared first: Fastify then adds no HEAD route of its own for the GET route.
    app.head('/h', async (_request, reply) => reply.code(500).send());
    app.get('/h', async () => 'get');
    await app.ready();
    expect(registry.names().sort()).toEqual(['GET /both', 'GET /h', 'HEAD /h']);

    expect((await app.inject({ method: 'HEAD', url: '/both' })).statusCode).toBe(500);
    expect((await app.inject('/both')).statusCode).toBe(503);
    expect((await app.inject({ method: 'HEAD', url: '/h' })).statusCode).toBe(500);
    expect(registry.get('HEAD /h')?.state).toBe(CircuitState.OPEN);
    expect((await app.inject('/h')).statusCode).toBe(200);
    expect(registry.get('GET /h')?.state).toBe(CircuitState.CLOSED);
  });

  it('counts HEAD on the GET breaker for routes declared before the plugin too', async () => {
    registry = new Registry();
    app = fastify();
    app.get('/early', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.register(breakwater, { registry, failureThreshold: 1 });
    await app.ready();
    expect((await app.inject({ method: 'HEAD', url: '/early' })).statusCode).toBe(502);
    expect((await app.inject('/early')).statusCode).toBe(503);
    expect(registry.names()).toEqual(['GET /early']);
  });

  it.each([
    ['after', true],
    ['before', false],
  ])(
    "counts HEAD on the GET breaker of a '/' route under a prefix, at /prefix/ too (declared %s the plugin)",
    async (_when, after) => {
      registry = new Registry();
      app = fastify();
      let calls = 0;
      const routes = async (scope: FastifyInstance) => {
        scope.get('/', async (_request, reply) => {
          calls++;
          return reply.code(502).send('bad gateway');
        });
      };
      if (after) await app.register(breakwater, { registry, failureThreshold: 1 });
      await app.register(routes, { prefix: '/api' });
      if (!after) await app.register(breakwater, { registry, failureThreshold: 1 });
      await app.ready();

      expect((await app.inject('/api')).statusCode).toBe(502);
      // Fastify serves HEAD /api/ with the same handler, through a HEAD route of its own at that URL.
      expect((await app.inject({ method: 'HEAD', url: '/api/' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'HEAD', url: '/api' })).statusCode).toBe(503);
      expect(calls).toBe(1);
      expect(registry.names()).toEqual(['GET /api']);
    },
  );

  it('protects routes declared in the same tick as an un-awaited register', async () => {
    registry = new Registry();
    app = fastify();
    app.register(breakwater, { registry, failureThreshold: 1 });
    app.get('/early', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.ready();
    expect((await app.inject('/early')).statusCode).toBe(502);
    expect((await app.inject('/early')).statusCode).toBe(503);
  });

  it('protects a route declared before the plugin was registered, from its first request on', async () => {
    registry = new Registry();
    app = fastify();
    app.get('/before', async (_request, reply) => reply.code(502).send('bad gateway'));
    await app.register(breakwater, { registry, failureThreshold: 1 });
    await app.ready();
    expect(registry.has('GET /before')).toBe(false);
    expect((await app.inject('/before')).statusCode).toBe(502);
    expect((await app.inject('/before')).statusCode).toBe(503);
    expect(registry.get('GET /before')?.stats()).toMatchObject({ failures: 1, rejected: 1 });
  });

  it("admits a route declared before the plugin after the route's own preHandler hooks, as any other route", async () => {
    registry = new Registry();
    app = fastify();
    let entered = 0;
    app.get(
      '/account',
      {
        preHandler: async (request, reply) => {
          if (request.headers.authorization === undefined) return reply.code(401).send('who are you?');
        },
      },
      async (_request, reply) => {
        entered++;
        return reply.code(502).send('bad gateway');
      },
    );
    await app.register(breakwater, { registry, failureThreshold: 1 });
    const signedIn = { url: '/account', headers: { authorization: 'Bearer t' } };

    // What the route's own hook answers is neither admitted nor counted, from the first request on.
    expect((await app.inject('/account')).statusCode).toBe(401);
    expect(registry.get('GET /account')?.stats().totalCalls ?? 0).toBe(0);
    expect((await app.inject(signedIn)).statusCode).toBe(502);
    expect(registry.get('GET /account')?.state).toBe(CircuitState.OPEN);
    expect((await app.inject('/account')).statusCode).toBe(401);
    expect((await app.inject(signedIn)).statusCode).toBe(503);
    expect(entered).toBe(1);
    expect(registry.get('GET /account')?.stats()).toMatchObject({ totalCalls: 1, failures: 1, rejected: 1 });
  });

  it('gives the probe permit back when a fallback declared in the registry is invalid, answering the error', async () => {
    const clock = new ManualClock();
    const { entries } = await build({ clock, failureThreshold: 1, recoveryTimeoutMs: 1_000, halfOpenMaxRequests: 1 });
    expect((await app.inject('/fail')).statusCode).toBe(500);
    registry.declare('GET /fail', { fallback: { strategy: 'nope' } });
    clock.advance(1_001);

    const first = await app.inject('/fail');
    const second = await app.inject('/fail');

    expect([first.statusCode, second.statusCode]).toEqual([500, 500]);
    expect(entries.get('fail')).toBe(1);
    expect(registry.get('GET /fail')?.stats()).toMatchObject({ state: CircuitState.HALF_OPEN, halfOpenInFlight: 0 });
  });

  it("applies a route's config.circuitBreaker over the plugin options, in a breaker of its own", async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, name: 'shared', failureThreshold: 3 });
    app.get('/strict', { config: { circuitBreaker: { failureThreshold: 1 } } }, async (_r, reply) =>
      reply.code(500).send('x'),
    );
    app.get('/named', { config: { circuitBreaker: { name: 'reports', failureThreshold: 1 } } }, async (_r, reply) =>
      reply.code(500).send('x'),
    );
    app.get('/lenient', async (_r, reply) => reply.code(500).send('x'));
    expect((await app.inject('/strict')).statusCode).toBe(500);
    expect((await app.inject('/strict')).statusCode).toBe(503);
    expect((await app.inject('/named')).statusCode).toBe(500);
    expect((await app.inject('/named')).json()).toMatchObject({
      message: 'Service reports is temporarily unavailable',
    });
    expect((await app.inject('/lenient')).statusCode).toBe(500);
    expect((await app.inject('/lenient')).statusCode).toBe(500);
    expect(registry.get('shared')?.state).toBe(CircuitState.CLOSED);
    expect(registry.names().sort()).toEqual(['GET /strict', 'reports', 'shared']);
  });

  it('leaves a route with config.circuitBreaker: false unprotected', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    let entries = 0;
    app.get('/free', { config: { circuitBreaker: false } }, async (_r, reply) => {
      entries++;
      return reply.code(500).send('x');
    });
    for (let i = 0; i < 5; i++) expect((await app.inject('/free')).statusCode).toBe(500);
    expect(entries).toBe(5);
    expect(registry.size).toBe(0);
  });

  it('rejects an invalid route override when the route is declared, naming the option and the route', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry });
    expect(() =>
      app.get('/bad', { config: { circuitBreaker: { failureThreshold: -1 } } }, async () => 'never'),
    ).toThrow(/Invalid option "failureThreshold".*-1.*\(route GET \/bad\)/);
  });

  it.each([
    { path: 'counted only', gatewayOptions: {} },
    { path: 'holding a permit', gatewayOptions: { timeoutMs: 5_000 } },
  ])("does not count a nested scope's 503s on the app's breaker ($path)", async ({ gatewayOptions }) => {
    // The scope's plugin wraps the handler last, so its breaker admits first: its refusals never
    // reach the app's breaker, which counts only what the handler answered.
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, name: 'gateway', failureThreshold: 5, ...gatewayOptions });
    await app.register(async (scope) => {
      await scope.register(breakwater, { registry, name: 'orders', failureThreshold: 2 });
      scope.get('/orders', async (_request, reply) => reply.code(502).send());
    });
    app.get('/users', async () => 'users');
    const url = await listenApp(app);

    await expectRefusalsNotCountedOutside(url, registry);
  });

  it('picks the breaker with key(request) and calls onOpen with the Fastify request', async () => {
    registry = new Registry();
    app = fastify();
    const opened: { url: string; breaker: string }[] = [];
    await app.register(breakwater, {
      registry,
      failureThreshold: 1,
      key: (request) => `tenant:${String(request.headers['x-tenant'])}`,
      onOpen: (request: FastifyRequest, error) => opened.push({ url: request.url, breaker: error.breaker }),
    });
    app.get('/data', async (request, reply) => reply.code(request.headers['x-tenant'] === 'a' ? 500 : 200).send('x'));
    await app.inject({ url: '/data', headers: { 'x-tenant': 'a' } });
    expect((await app.inject({ url: '/data?again', headers: { 'x-tenant': 'a' } })).statusCode).toBe(503);
    expect((await app.inject({ url: '/data', headers: { 'x-tenant': 'b' } })).statusCode).toBe(200);
    expect(opened).toEqual([{ url: '/data?again', breaker: 'tenant:a' }]);
    expect(registry.names().sort()).toEqual(['tenant:a', 'tenant:b']);
  });

  it('caps keyed breakers at maxBreakers and never evicts an open one', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, {
      registry,
      failureThreshold: 1,
      maxBreakers: 100,
      key: (request) => String(request.headers['x-key']),
    });
    app.get('/k', async (request, reply) => reply.code(request.headers['x-key'] === 'bad' ? 500 : 200).send('x'));
    await app.inject({ url: '/k', headers: { 'x-key': 'bad' } });
    const open = registry.get('bad');
    expect(open?.state).toBe(CircuitState.OPEN);
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      expect((await app.inject({ url: '/k', headers: { 'x-key': `k${i}` } })).statusCode).toBe(200);
      peak = Math.max(peak, registry.size);
    }
    expect(peak).toBeLessThanOrEqual(101);
    expect(registry.get('bad')).toBe(open);
    expect(open?.state).toBe(CircuitState.OPEN);
    expect((await app.inject({ url: '/k', headers: { 'x-key': 'bad' } })).statusCode).toBe(503);
  });

  it('counts a hijacked reply by the status it was written with', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 2 });
    app.get<{ Params: { code: string } }>('/raw/:code', async (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(Number(request.params.code), { 'content-type': 'text/plain' });
      reply.raw.end('raw');
    });
    expect((await app.inject('/raw/200')).statusCode).toBe(200);
    expect((await app.inject('/raw/502')).statusCode).toBe(502);
    expect(registry.get('GET /raw/:code')?.stats()).toMatchObject({ successes: 1, failures: 1, state: 'CLOSED' });
    expect((await app.inject('/raw/502')).statusCode).toBe(502);
    expect((await app.inject('/raw/200')).statusCode).toBe(503);
  });

  it("counts outcomes over a real connection, where untimed calls are counted from Node's finish channel", async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 10 });
    const failures: unknown[] = [];
    const closeListeners: number[] = [];
    app.addHook('onResponse', (_request, reply, done) => {
      closeListeners.push(reply.raw.listenerCount('close'));
      done();
    });
    app.get<{ Params: { code: string } }>('/code/:code', async (request, reply) =>
      reply.code(Number(request.params.code)).send('x'),
    );
    app.get('/throws', async () => {
      throw new Error('database down');
    });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    app.get('/missing', async () => {
      throw Object.assign(new Error('no such user'), { statusCode: 404 });
    });
    app.get<{ Params: { code: string } }>('/raw/:code', async (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(Number(request.params.code), { 'content-type': 'text/plain' });
      reply.raw.end('raw');
    });
    await app.ready();
    // A failure listener makes the breaker time its calls: they hold a permit, settled on close.
    registry.get('GET /throws')?.on('failure', (event) => failures.push(event.error));
    const url = await listenApp(app);

    const statuses: number[] = [];
    const paths = ['/code/200', '/code/503', '/code/404', '/throws', '/boom', '/missing', '/raw/200', '/raw/502'];
    for (const path of paths) {
      statuses.push((await fetch(`${url}${path}`)).status);
    }
    await until(() => registry.get('GET /raw/:code')?.stats().totalCalls === 2);

    expect(statuses).toEqual([200, 503, 404, 500, 500, 404, 200, 502]);
    expect(registry.get('GET /code/:code')?.stats()).toMatchObject({ successes: 2, failures: 1 });
    expect(registry.get('GET /throws')?.stats()).toMatchObject({ successes: 0, failures: 1 });
    expect(failures.map((error) => (error as Error).message)).toEqual(['database down']);
    expect(registry.get('GET /boom')?.stats()).toMatchObject({ successes: 0, failures: 1 });
    expect(registry.get('GET /missing')?.stats()).toMatchObject({ successes: 1, failures: 0 });
    expect(registry.get('GET /raw/:code')?.stats()).toMatchObject({ successes: 1, failures: 1 });
    // Only the timed call had a listener on its response.
    expect(closeListeners).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('counts a response slower than timeoutMs as a timeout at the deadline', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1, timeoutMs: 50 });
    const release = gate();
    app.get('/slow', async () => {
      await release.promise;
      return 'late';
    });
    await app.ready();
    const pending = app.inject('/slow');
    await until(() => registry.get('GET /slow')?.state === CircuitState.OPEN);
    expect(registry.get('GET /slow')?.stats()).toMatchObject({ timeouts: 1, failures: 1 });
    release.open();
    const late = await pending;
    expect(late.statusCode).toBe(200);
    expect(registry.get('GET /slow')?.stats()).toMatchObject({ totalCalls: 1, successes: 0 });
  });

  it('counts a request whose client went away as neither success nor failure', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1 });
    const release = gate();
    let entered = false;
    app.get('/hang', async () => {
      entered = true;
      await release.promise;
      return 'too late';
    });
    const url = await listenApp(app);
    const controller = new AbortController();
    const request = fetch(`${url}/hang`, { signal: controller.signal }).catch((error: Error) => error);
    await until(() => entered);
    controller.abort();
    expect(await request).toBeInstanceOf(Error);
    const breaker = registry.get('GET /hang');
    await delay(50);
    release.open();
    await delay(50);
    expect(breaker?.stats()).toMatchObject({ state: 'CLOSED', totalCalls: 0, successes: 0, failures: 0 });
  });

  it.each(CALL_PATHS)(
    'counts a streamed reply cut short by its failing source as a failure (%s)',
    async (_path, options) => {
      // Fastify destroys such a response without the error once its headers went out.
      registry = new Registry();
      app = fastify();
      await app.register(breakwater, { registry, name: 'export', ...options });
      app.get('/export', (_request, reply) => {
        reply.type('text/plain').send(failingSource());
      });
      const url = await listenApp(app);

      await expectCutBodiesFailed(`${url}/export`, () => registry.get('export')?.stats());
    },
  );

  it.each(CALL_PATHS)(
    'counts a streamed reply whose client went away mid-body as neither (%s)',
    async (_path, options) => {
      registry = new Registry();
      app = fastify();
      await app.register(breakwater, { registry, name: 'feed', ...options });
      let closed = 0;
      app.get('/feed', (request, reply) => {
        const source = new Readable({ read() {} });
        source.push('first chunk\n');
        request.raw.socket.on('close', () => closed++);
        reply.type('text/plain').send(source);
      });
      const url = await listenApp(app);

      for (let i = 0; i < 3; i++) {
        const controller = new AbortController();
        const response = await fetch(`${url}/feed`, { signal: controller.signal });
        const reader = response.body?.getReader();
        await reader?.read();
        controller.abort();
        await until(() => closed === i + 1);
      }
      await delay(50);

      expect(registry.get('feed')?.stats()).toMatchObject({ totalCalls: 0, failures: 0 });
    },
  );

  it('settles timed calls queued behind another response on a connection that drops (pipelining)', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, name: 'pipelined', timeoutMs: 60_000 });
    const entered: string[] = [];
    // The first never answers; the second answers while it waits its turn; the third never does.
    app.get('/:which', (request: FastifyRequest<{ Params: { which: string } }>, reply) => {
      entered.push(request.params.which);
      if (request.params.which === 'answered') reply.send('ok');
    });
    const url = await listenApp(app);

    const socket = await pipelined(url, ['/slow', '/answered', '/silent']);
    await until(() => entered.length === 3);
    socket.destroy();

    // Node emits nothing on the two queued responses; the connection's close settles them.
    await until(() => registry.get('pipelined')?.stats().totalCalls === 1);
    expect(registry.get('pipelined')?.stats()).toMatchObject({ successes: 1, failures: 0, timeouts: 0 });
  });

  it('lets at most halfOpenMaxRequests of 50 concurrent requests probe a HALF_OPEN circuit', async () => {
    registry = new Registry();
    const clock = new ManualClock();
    app = fastify();
    await app.register(breakwater, {
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxRequests: 3,
      successThreshold: 3,
      onOpen: () => {
        refused++;
      },
    });
    let failing = true;
    let inside = 0;
    let peak = 0;
    let entries = 0;
    let refused = 0;
    const release = gate();
    app.get('/probe', async (_request, reply) => {
      if (failing) return reply.code(500).send('down');
      entries++;
      inside++;
      peak = Math.max(peak, inside);
      await release.promise;
      inside--;
      return 'up';
    });
    const url = await listenApp(app);
    expect((await fetch(`${url}/probe`)).status).toBe(500);
    failing = false;
    clock.advance(1_000);
    const answers = Promise.all(
      Array.from({ length: 50 }, () => fetch(`${url}/probe`).then((response) => response.status)),
    );
    // Every request must have reached the breaker before the probes end: once they succeed the
    // circuit closes, and a request that only arrived then would be let in.
    await until(() => entries === 3 && refused === 47);
    release.open();
    const statuses = await answers;
    expect(peak).toBe(3);
    expect(entries).toBe(3);
    expect(statuses.filter((status) => status === 200)).toHaveLength(3);
    expect(statuses.filter((status) => status === 503)).toHaveLength(47);
    // The last probe is counted when its response closes on the server, which can trail the client.
    await until(() => registry.get('GET /probe')?.state === CircuitState.CLOSED);
    expect(registry.get('GET /probe')?.state).toBe(CircuitState.CLOSED);
  });

  it('serves the health document at /health/circuit-breakers, unprotected', async () => {
    await build({ health: true, failureThreshold: 1 });
    await app.inject('/fail');
    const response = await app.inject('/health/circuit-breakers');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const document = response.json();
    expect(document.status).toBe('degraded');
    expect(document.circuit_breakers['GET /fail']).toMatchObject({
      state: 'OPEN',
      failure_count: 1,
      failure_threshold: 1,
      recovery_timeout: 30000,
    });
    expect(Object.keys(document.circuit_breakers).sort()).toEqual(['GET /fail', 'GET /ok', 'GET /status/:code']);
  });

  it('serves the health document at a custom path', async () => {
    await build({ health: { path: '/internal/breakers' } });
    await app.inject('/ok');
    expect((await app.inject('/health/circuit-breakers')).statusCode).toBe(404);
    const response = await app.inject('/internal/breakers');
    expect(response.json()).toMatchObject({ status: 'ok', circuit_breakers: { 'GET /ok': { state: 'CLOSED' } } });
  });

  it('answers the health document with degradedStatus while a circuit is open', async () => {
    await build({ health: { degradedStatus: 503 }, failureThreshold: 1 });
    expect((await app.inject('/health/circuit-breakers')).statusCode).toBe(200);
    await app.inject('/fail');

    const response = await app.inject('/health/circuit-breakers');
    expect(response.statusCode).toBe(503);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toMatchObject({ status: 'degraded', circuit_breakers: { 'GET /fail': { state: 'OPEN' } } });
  });

  it.each([
    [{ failureThreshold: -1 }, /Invalid option "failureThreshold": got -1/],
    [{ health: { path: 'health' } }, /Invalid option "health.path": got "health"/],
    [{ key: 'tenant' }, /Invalid option "key"/],
    [{ fallback: { strategy: 'bogus' } }, /Invalid option "fallback.strategy": got "bogus"/],
    [
      { bogus: 1 },
      /Unknown option "bogus": got 1, expected one of name, .*, registry, key, failureStatusCodes, fallback, onOpen, logger, maxBreakers, health$/,
    ],
    [{ health: { pth: '/x' } }, /Unknown option "health.pth": got "\/x", expected one of path, degradedStatus/],
    [{ health: { degradedStatus: 99 } }, /Invalid option "health.degradedStatus": got 99/],
    [{ registry: {} }, /Invalid option "registry": got an object, expected a Registry/],
  ])('fails app.ready() with a TypeError for invalid options %j', async (options, message) => {
    app = fastify();
    app.register(breakwater, { registry: new Registry(), ...(options as object) });
    const failure = await app.ready().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as Error).message).toMatch(message);
  });

  it("logs transitions through Fastify's logger: warn on open, info on close", async () => {
    const lines: LogLine[] = [];
    const clock = new ManualClock();
    registry = new Registry();
    app = fastify(capturedLogger(lines));
    await app.register(breakwater, {
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      successThreshold: 1,
    });
    let failing = true;
    app.get('/flaky', async (_request, reply) => reply.code(failing ? 500 : 200).send('x'));
    await app.inject('/flaky');
    failing = false;
    clock.advance(1_000);
    await app.inject('/flaky');
    const transitions = lines.filter((line) => line.breaker === 'GET /flaky');
    expect(transitions.map((line) => [line.level, line.to])).toEqual([
      [40, 'OPEN'],
      [30, 'HALF_OPEN'],
      [30, 'CLOSED'],
    ]);
    expect(transitions[0]?.msg).toMatch(/opened/);
  });

  it("uses the logger option instead of Fastify's when given", async () => {
    const warnings: unknown[] = [];
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, {
      registry,
      failureThreshold: 1,
      logger: { warn: (...args: unknown[]) => warnings.push(args), info: () => undefined },
    });
    app.get('/x', async (_request, reply) => reply.code(500).send('x'));
    await app.inject('/x');
    expect(warnings).toHaveLength(1);
  });

  it('leaves no unhandled rejections or listener leaks after 3000 requests', async () => {
    const rejections: unknown[] = [];
    const warnings: Error[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('unhandledRejection', onRejection);
    process.on('warning', onWarning);
    try {
      const clock = new ManualClock();
      registry = new Registry();
      app = fastify();
      await app.register(breakwater, {
        registry,
        clock,
        failureThreshold: 3,
        recoveryTimeoutMs: 100,
        timeoutMs: 1_000,
        fallback: { strategy: 'default', response: { status: 200, body: 'fallback' } },
      });
      let n = 0;
      app.get('/mixed', async (_request, reply) => {
        n++;
        const failing = Math.floor(n / 25) % 2 === 1;
        if (failing && n % 2 === 0) throw new Error('boom');
        return reply.code(failing ? 503 : 200).send('x');
      });
      await app.ready();
      const breaker = () => registry.get('GET /mixed');
      await app.inject('/mixed');
      const listeners = breaker()?.listenerCount('stateChange');
      const statuses = new Set<number>();
      for (let i = 0; i < 3000; i++) {
        if (i % 50 === 0) clock.advance(100);
        statuses.add((await app.inject('/mixed')).statusCode);
      }
      await delay(20);
      expect(rejections).toEqual([]);
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
      expect(breaker()?.listenerCount('stateChange')).toBe(listeners);
      expect(breaker()?.stats().rejected).toBeGreaterThan(0);
      expect([...statuses].sort()).toEqual([200, 500, 503]);
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('warning', onWarning);
    }
  });
});
