import { PassThrough } from 'node:stream';
import { CircuitOpenError, CircuitState, Registry } from '@breakwater/core';
import type { Context } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, healthHandler } from '../src/index.js';
import { createApp, majors, mount } from './app.js';
import {
  BIG_ANSWER,
  bigStream,
  CALL_PATHS,
  CYCLE_OPTIONS,
  closeAll,
  cycleBreaker,
  delay,
  expectCutBodiesFailed,
  expectCycle,
  expectRefusalsNotCountedOutside,
  expectSlowReadersNotCounted,
  failingSource,
  flood,
  gate,
  listen,
  ManualClock,
  pipelined,
  recordingLogger,
  rejectionBody,
  request,
  SLOW_READER_OPTIONS,
  until,
  watchConsole,
} from './helpers.js';

afterEach(closeAll);

describe.each(majors)('Koa $major', ({ Koa }) => {
  /** A handler whose status the test sets, counting how often it ran. */
  function statusRoute() {
    const route = { status: 200, entered: 0 };
    const handler = (ctx: Context): void => {
      route.entered++;
      ctx.status = route.status;
      ctx.body = { status: route.status };
    };
    return { route, handler };
  }

  it('passes admitted requests through and counts 2xx as successes', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    mount(app, '/x', circuitBreaker({ name: 'orders', registry }), handler);
    const { url } = await listen(app.callback());

    const answer = await request(`${url}/x`);

    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ status: 200 });
    expect(route.entered).toBe(1);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('works as app-wide middleware and as a named function', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const mw = circuitBreaker({ name: 'everything', registry });
    app.use(mw);
    app.use((ctx) => {
      ctx.body = 'hello';
    });
    const { url } = await listen(app.callback());

    expect((await request(`${url}/any`)).text).toBe('hello');
    expect(mw.name).toBe('breakwater');
    expect(registry.get('everything')?.stats().successes).toBe(1);
  });

  it('refuses with the exact 503 body and a Retry-After from the next attempt, never reaching the handler', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    route.status = 500;
    mount(
      app,
      '/x',
      circuitBreaker({ name: 'orders', registry, clock, failureThreshold: 2, recoveryTimeoutMs: 30_000 }),
      handler,
    );
    const { url } = await listen(app.callback());

    expect((await request(`${url}/x`)).status).toBe(500);
    expect((await request(`${url}/x`)).status).toBe(500);
    const refused = await request(`${url}/x`);

    expect(refused.status).toBe(503);
    expect(refused.text).toBe(rejectionBody('orders', 30));
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(route.entered).toBe(2);

    clock.advance(29_500);
    const later = await request(`${url}/x`);
    expect(later.text).toBe(rejectionBody('orders', 1));
    expect(later.headers.get('retry-after')).toBe('1');
    expect(route.entered).toBe(2);
  });

  it('counts 5xx as failures and 4xx (including an unanswered 404) as successes by default', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    mount(app, '/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 3 }), handler);
    mount(app, '/nothing', circuitBreaker({ name: 'orders', registry }), () => undefined);
    const { url } = await listen(app.callback());

    for (const status of [400, 429, 500, 502]) {
      route.status = status;
      expect((await request(`${url}/x`)).status).toBe(status);
    }
    expect((await request(`${url}/nothing`)).status).toBe(404);

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 3, failures: 2, state: 'CLOSED' });
  });

  it('counts exactly the failureStatusCodes given', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    mount(app, '/x', circuitBreaker({ name: 'orders', registry, failureStatusCodes: [429, 503] }), handler);
    const { url } = await listen(app.callback());

    for (const status of [429, 500, 503, 200]) {
      route.status = status;
      await request(`${url}/x`);
    }

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 2, failures: 2 });
  });

  it('counts thrown errors as failures, but not ctx.throw() with a status that is not one', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const breaker = circuitBreaker({ name: 'orders', registry, failureThreshold: 10 });
    mount(app, '/throw', breaker, async () => {
      await delay(1);
      throw new Error('boom');
    });
    mount(app, '/throw-503', breaker, (ctx) => ctx.throw(503, 'down'));
    mount(app, '/throw-404', breaker, (ctx) => ctx.throw(404, 'no such order'));
    const { url } = await listen(app.callback());

    expect((await request(`${url}/throw`)).status).toBe(500);
    expect((await request(`${url}/throw-503`)).status).toBe(503);
    expect((await request(`${url}/throw-404`)).status).toBe(404);

    expect(registry.get('orders')?.stats()).toMatchObject({ failures: 2, successes: 1 });
  });

  it('always answers with a promise: a throwing key() or next() rejects it, and a throwing next() is a failure', async () => {
    const registry = new Registry();
    const keyFailure = new Error('no tenant');
    const throwingKey = circuitBreaker({
      registry,
      key: () => {
        throw keyFailure;
      },
    });
    const ctx = { res: {} } as unknown as Context;
    const keyed = throwingKey(ctx, async () => {});
    expect(keyed).toBeInstanceOf(Promise);
    await expect(keyed).rejects.toBe(keyFailure);

    const nextFailure = new Error('router broke');
    const middleware = circuitBreaker({ name: 'orders', registry });
    const app = createApp(Koa);
    app.use((context: Context) =>
      middleware(context, () => {
        throw nextFailure;
      }),
    );
    const { url } = await listen(app.callback());

    expect((await request(`${url}/x`)).status).toBe(500);
    expect(registry.get('orders')?.stats()).toMatchObject({ failures: 1, successes: 0 });
  });

  it('lets the isFailure option ignore thrown errors', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const isFailure = (error: unknown): boolean => !(error instanceof RangeError);
    mount(app, '/x', circuitBreaker({ name: 'orders', registry, isFailure }), () => {
      throw new RangeError('bad input');
    });
    const { url } = await listen(app.callback());

    expect((await request(`${url}/x`)).status).toBe(500);

    expect(registry.get('orders')?.stats()).toMatchObject({ failures: 0, ignored: 1 });
  });

  it('counts a thrown error as a failure even when middleware above answers it with a 200', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch {
        ctx.status = 200;
        ctx.body = { from: 'upstream' };
      }
    });
    mount(app, '/x', circuitBreaker({ name: 'orders', registry }), () => {
      throw new Error('boom');
    });
    const { url } = await listen(app.callback());

    const response = await request(`${url}/x`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ from: 'upstream' });
    expect(registry.get('orders')?.stats()).toMatchObject({ failures: 1, successes: 0 });
  });

  it('counts a request whose client went away mid-response as neither success nor failure', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const closed = gate();
    mount(app, '/slow', circuitBreaker({ name: 'orders', registry }), (ctx) => {
      ctx.res.on('close', closed.open);
      const stream = new PassThrough();
      stream.write('partial');
      ctx.type = 'text/plain';
      ctx.body = stream;
    });
    const { url } = await listen(app.callback());

    const controller = new AbortController();
    const response = await fetch(`${url}/slow`, { signal: controller.signal });
    expect(response.status).toBe(200);
    controller.abort();
    await closed.promise;
    await delay(20);

    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
  });

  /** Serves /x through `breaker`, noting the response's `close` listeners and on-finished's queue before and inside it. */
  function watchedApp(breaker: ReturnType<typeof circuitBreaker>, unwatch = false) {
    const app = createApp(Koa);
    const seen: { before: number[]; inside: number[] }[] = [];
    const look = (res: Context['res']): number[] => [
      res.listenerCount('close'),
      (res as { __onFinished?: { queue?: unknown[] } | null }).__onFinished?.queue?.length ?? -1,
    ];
    let status = 200;
    app.use(async (ctx) => {
      // A response nothing watches, as on a server that is not Koa's.
      if (unwatch) (ctx.res as { __onFinished?: unknown }).__onFinished = null;
      const before = look(ctx.res);
      await breaker(ctx, async () => {
        seen.push({ before, inside: look(ctx.res) });
        ctx.status = status;
        ctx.body = { status };
      });
    });
    return { app, seen, fail: () => (status = 502) };
  }

  it("settles through Koa's own on-finished watcher, with no close listener of its own", async () => {
    const registry = new Registry();
    const { app, seen, fail } = watchedApp(circuitBreaker({ name: 'orders', registry }));
    const { url } = await listen(app.callback());

    expect((await request(`${url}/x`)).status).toBe(200);
    fail();
    expect((await request(`${url}/x`)).status).toBe(502);
    await until(() => registry.get('orders')?.stats().totalCalls === 2);

    for (const { before, inside } of seen) {
      expect(before[1]).toBeGreaterThanOrEqual(1);
      expect(inside).toEqual([before[0], (before[1] ?? 0) + 1]);
    }
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 1 });
  });

  it('settles by a close listener of its own on a response that on-finished does not watch', async () => {
    const registry = new Registry();
    const { app, seen, fail } = watchedApp(circuitBreaker({ name: 'orders', registry }), true);
    const { url } = await listen(app.callback());

    expect((await request(`${url}/x`)).status).toBe(200);
    fail();
    expect((await request(`${url}/x`)).status).toBe(502);
    await until(() => registry.get('orders')?.stats().totalCalls === 2);

    for (const { before, inside } of seen) expect(inside).toEqual([(before[0] ?? 0) + 1, -1]);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 1 });
  });

  it('settles timed calls queued behind another response on a connection that drops (pipelining)', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const entered: string[] = [];
    app.use(circuitBreaker({ name: 'orders', registry, timeoutMs: 60_000 }));
    // The first never answers; the second answers while it waits its turn; the third never does.
    app.use(async (ctx) => {
      entered.push(ctx.path);
      if (ctx.path === '/answered') ctx.body = 'ok';
      else await new Promise(() => {});
    });
    const { url } = await listen(app.callback());

    const socket = await pipelined(url, ['/slow', '/answered', '/silent']);
    await until(() => entered.length === 3);
    socket.destroy();

    // Node emits nothing on the two queued responses; the connection's close settles them.
    await until(() => registry.get('orders')?.stats().totalCalls === 1);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 0, timeouts: 0 });
  });

  it('counts a timeout at the deadline, not when the slow response finally ends', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    let answered = false;
    mount(app, '/slow', circuitBreaker({ name: 'orders', registry, timeoutMs: 50 }), async (ctx) => {
      await delay(300);
      answered = true;
      ctx.body = { late: true };
    });
    const { url } = await listen(app.callback());

    const pending = request(`${url}/slow`);
    await until(() => registry.get('orders')?.stats().timeouts === 1);
    expect(answered).toBe(false);
    const answer = await pending;

    expect(answer.status).toBe(200);
    expect(registry.get('orders')?.stats()).toMatchObject({ timeouts: 1, failures: 1, successes: 0 });
  });

  it('does not count what a slow client takes to read an answer as a slow call, nor as a timeout, streamed or not', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const options = { name: 'files', registry, ...SLOW_READER_OPTIONS };
    mount(app, '/file', circuitBreaker(options), (ctx) => {
      ctx.body = BIG_ANSWER;
    });
    mount(app, '/stream', circuitBreaker(options), (ctx) => {
      ctx.type = 'text/plain';
      ctx.body = bigStream();
    });
    const { url } = await listen(app.callback());
    await expectSlowReadersNotCounted(url, () => registry.get('files')?.stats());
  });

  it.each(CALL_PATHS)('counts a body cut short by its failing source as a failure (%s)', async (_path, options) => {
    const registry = new Registry();
    const app = createApp(Koa);
    mount(app, '/export', circuitBreaker({ name: 'export', registry, ...options }), (ctx) => {
      ctx.type = 'text/plain';
      ctx.body = failingSource();
    });
    const { url } = await listen(app.callback());

    await expectCutBodiesFailed(`${url}/export`, () => registry.get('export')?.stats());
  });

  it('keeps the breakers of two routes apart', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const a = statusRoute();
    const b = statusRoute();
    a.route.status = 500;
    mount(app, '/a', circuitBreaker({ name: 'a', registry, failureThreshold: 1 }), a.handler);
    mount(app, '/b', circuitBreaker({ name: 'b', registry, failureThreshold: 1 }), b.handler);
    const { url } = await listen(app.callback());

    await request(`${url}/a`);

    expect((await request(`${url}/a`)).status).toBe(503);
    expect((await request(`${url}/b`)).status).toBe(200);
    expect(registry.get('a')?.state).toBe('OPEN');
    expect(registry.get('b')?.state).toBe('CLOSED');
  });

  it.each([
    { path: 'counted only', gatewayOptions: {} },
    { path: 'holding a permit', gatewayOptions: { timeoutMs: 5_000 } },
  ])("does not count a route breaker's 503s on the app-wide breaker ($path)", async ({ gatewayOptions }) => {
    // One failing dependency opens its route's breaker; the refusals it answers are not the
    // app's failures, or the app-wide breaker would open for every route.
    const registry = new Registry();
    const app = createApp(Koa);
    app.use(circuitBreaker({ name: 'gateway', registry, failureThreshold: 5, ...gatewayOptions }));
    mount(app, '/orders', circuitBreaker({ name: 'orders', registry, failureThreshold: 2 }), (ctx) => {
      ctx.status = 502;
    });
    app.use((ctx) => {
      ctx.body = 'users';
    });
    const { url } = await listen(app.callback());

    await expectRefusalsNotCountedOutside(url, registry);
  });

  it('picks a breaker per request with key(ctx)', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const mw = circuitBreaker({ registry, key: (ctx) => `tenant:${ctx.get('x-tenant')}`, failureThreshold: 1 });
    mount(app, '/x', mw, (ctx) => {
      ctx.status = ctx.get('x-fail') === '' ? 200 : 500;
    });
    const { url } = await listen(app.callback());

    await request(`${url}/x`, { headers: { 'x-tenant': 'a', 'x-fail': '1' } });

    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'a' } })).status).toBe(503);
    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'b' } })).status).toBe(200);
    expect(registry.names().sort()).toEqual(['tenant:a', 'tenant:b']);
  });

  it('caps keyed breakers at maxBreakers without ever evicting an open one', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const mw = circuitBreaker({ registry, key: (ctx) => ctx.get('x-tenant'), maxBreakers: 100, failureThreshold: 1 });
    mount(app, '/x', mw, (ctx) => {
      ctx.status = ctx.get('x-fail') === '' ? 200 : 500;
    });
    const { url } = await listen(app.callback());
    await request(`${url}/x`, { headers: { 'x-tenant': 'sick', 'x-fail': '1' } });

    await flood(2000, 20, (i) => request(`${url}/x`, { headers: { 'x-tenant': `t${i}` } }));

    expect(registry.size).toBeLessThanOrEqual(100);
    expect(registry.get('sick')?.state).toBe('OPEN');
    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'sick' } })).status).toBe(503);
  });

  it('lets at most halfOpenMaxRequests of 50 concurrent requests probe a HALF_OPEN circuit', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = createApp(Koa);
    const release = gate();
    const state = { fail: true, entered: 0, inFlight: 0, maxInFlight: 0 };
    const mw = circuitBreaker({
      name: 'orders',
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxRequests: 3,
      successThreshold: 3,
    });
    mount(app, '/x', mw, async (ctx) => {
      if (state.fail) {
        ctx.status = 500;
        return;
      }
      state.entered++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await release.promise;
      state.inFlight--;
      ctx.body = 'ok';
    });
    const { url } = await listen(app.callback());
    await request(`${url}/x`);
    state.fail = false;
    clock.advance(1_001);

    let refused = 0;
    const answers = Array.from({ length: 50 }, () =>
      request(`${url}/x`).then((answer) => {
        if (answer.status === 503) refused++;
        return answer.status;
      }),
    );
    await until(() => refused === 47 && state.entered === 3);
    release.open();
    const statuses = await Promise.all(answers);

    expect(state.maxInFlight).toBeLessThanOrEqual(3);
    expect(state.entered).toBe(3);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    // The last probe is counted when its response closes on the server, which can trail the client.
    await until(() => registry.get('orders')?.state === CircuitState.CLOSED);
    expect(registry.get('orders')?.state).toBe(CircuitState.CLOSED);
  });

  it('gives the probe permit back when a fallback declared in the registry is invalid, throwing the error', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    route.status = 500;
    mount(
      app,
      '/x',
      circuitBreaker({
        name: 'orders',
        registry,
        clock,
        failureThreshold: 1,
        recoveryTimeoutMs: 1_000,
        halfOpenMaxRequests: 1,
      }),
      handler,
    );
    const { url } = await listen(app.callback());
    expect((await request(`${url}/x`)).status).toBe(500);
    registry.declare('orders', { fallback: { strategy: 'nope' } });
    clock.advance(1_001);

    const first = await request(`${url}/x`);
    const second = await request(`${url}/x`);

    expect([first.status, second.status]).toEqual([500, 500]);
    expect(route.entered).toBe(1);
    expect(registry.get('orders')?.stats()).toMatchObject({ state: CircuitState.HALF_OPEN, halfOpenInFlight: 0 });
  });

  it('serves the health document, degraded while a circuit is open', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const { route, handler } = statusRoute();
    const health = healthHandler({ registry });
    const strict = healthHandler({ registry, degradedStatus: 503 });
    app.use(async (ctx, next) => {
      if (ctx.path === '/health') return health(ctx, next);
      if (ctx.path === '/health-503') return strict(ctx, next);
      return next();
    });
    mount(app, '/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 1 }), handler);
    const { url } = await listen(app.callback());
    await request(`${url}/x`);

    const healthy = await request(`${url}/health`);
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get('content-type')).toMatch(/^application\/json/);
    expect(healthy.json()).toMatchObject({
      status: 'ok',
      circuit_breakers: {
        orders: {
          state: 'CLOSED',
          failure_count: 0,
          success_count: 1,
          last_failure_time: null,
          failure_threshold: 1,
          recovery_timeout: 30_000,
        },
      },
    });

    route.status = 500;
    await request(`${url}/x`);
    const degraded = await request(`${url}/health`);
    expect(degraded.status).toBe(200);
    expect(degraded.json()).toMatchObject({ status: 'degraded', circuit_breakers: { orders: { state: 'OPEN' } } });
    expect((await request(`${url}/health-503`)).status).toBe(503);
  });

  it('calls onOpen with the context and the CircuitOpenError for each refusal', async () => {
    const registry = new Registry();
    const app = createApp(Koa);
    const seen: Array<{ url: string; error: unknown }> = [];
    const { route, handler } = statusRoute();
    route.status = 500;
    const onOpen = (ctx: Context, error: CircuitOpenError): void => {
      seen.push({ url: ctx.url, error });
    };
    mount(app, '/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 1, onOpen }), handler);
    const { url } = await listen(app.callback());

    await request(`${url}/x?a=1`);
    await request(`${url}/x?a=2`);

    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/x?a=2');
    expect(seen[0]?.error).toBeInstanceOf(CircuitOpenError);
  });

  it.each(['console', 'pino', 'none'] as const)(
    'logs a warning when the circuit opens, info when it half-opens and closes (%s-like logger), nothing without one',
    async (kind) => {
      const registry = new Registry();
      const clock = new ManualClock();
      const recording = kind === 'none' ? undefined : recordingLogger(kind);
      const expectConsoleUntouched = watchConsole();
      const app = createApp(Koa);
      const { route, handler } = statusRoute();
      const mw = circuitBreaker({ name: 'orders', registry, clock, logger: recording?.logger, ...CYCLE_OPTIONS });
      mount(app, '/x', mw, handler);
      const { url } = await listen(app.callback());

      await cycleBreaker(route, clock, () => request(`${url}/x`));

      expectCycle(registry, recording);
      expectConsoleUntouched();
    },
  );

  it('leaves no unhandled rejections, warnings or listeners behind after 3000 requests', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = createApp(Koa);
    const mw = circuitBreaker({
      name: 'orders',
      registry,
      clock,
      failureThreshold: 5,
      recoveryTimeoutMs: 1_000,
      successThreshold: 1,
      timeoutMs: 5_000,
      fallback: { strategy: 'cache', ttlMs: 60_000 },
    });
    mount(app, '/x', mw, (ctx) => {
      if (ctx.query.fail === '1') ctx.status = 500;
      else ctx.body = { i: ctx.query.i };
    });
    const { url } = await listen(app.callback());
    const events = ['unhandledRejection', 'uncaughtException', 'warning', 'exit'] as const;
    const before = events.map((event) => process.listenerCount(event));
    const problems: unknown[] = [];
    const onProblem = (problem: unknown): void => {
      problems.push(problem);
    };
    process.on('unhandledRejection', onProblem);
    process.on('warning', onProblem);
    const statuses = new Set<number>();

    try {
      await flood(3000, 25, async (i) => {
        if (i % 100 === 0) clock.advance(1_001);
        const answer = await request(`${url}/x?i=${i % 20}&fail=${i % 3 === 0 ? 0 : 1}`);
        statuses.add(answer.status);
      });
    } finally {
      process.off('unhandledRejection', onProblem);
      process.off('warning', onProblem);
    }

    expect(problems).toEqual([]);
    expect(events.map((event) => process.listenerCount(event))).toEqual(before);
    expect([...statuses].every((status) => [200, 500, 503].includes(status))).toBe(true);
    expect(registry.get('orders')?.stats().rejected).toBeGreaterThan(0);
  });
});

describe('invalid options', () => {
  it.each([
    [{ name: 'x', failureThreshold: -1 }, /failureThreshold/],
    [{ name: 'x', recoveryTimeoutMs: 'soon' }, /recoveryTimeoutMs/],
    [{}, /"name" or a "key"/],
    [{ name: 'x', maxBreakers: 0 }, /maxBreakers/],
    [{ name: 'x', failureStatusCodes: [42] }, /failureStatusCodes/],
    [{ name: 'x', fallback: { strategy: 'nope' } }, /fallback\.strategy/],
    [{ name: 'x', fallback: { strategy: 'custom' } }, /fallback\.handler/],
    [{ name: 'x', logger: {} }, /logger/],
    [{ name: 'x', onOpen: true }, /onOpen/],
    [
      { name: 'x', bogus: 1 },
      /^Unknown option "bogus": got 1, expected one of name, .*, registry, key, failureStatusCodes, fallback, onOpen, logger, maxBreakers$/,
    ],
  ])('circuitBreaker(%j) throws a TypeError at setup', (options, message) => {
    expect(() => circuitBreaker(options as never)).toThrow(TypeError);
    expect(() => circuitBreaker(options as never)).toThrow(message);
  });

  it('healthHandler throws a TypeError for a bad degradedStatus or registry', () => {
    expect(() => healthHandler({ degradedStatus: 42 })).toThrow(/degradedStatus/);
    expect(() => healthHandler({ registry: {} as never })).toThrow(TypeError);
  });
});
