import { connect } from 'node:net';
import { pipeline } from 'node:stream';
import { CircuitOpenError, CircuitState, Registry } from '@breakwater/core';
import type { NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, healthHandler } from '../src/index.js';
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

const majors = [
  { major: 4, express: express4 },
  { major: 5, express: express5 },
] as const;

describe.each(majors)('Express $major', ({ major, express }) => {
  /** A route whose status the test sets, counting how often the handler ran. */
  function statusRoute() {
    const route = { status: 200, entered: 0 };
    const handler = (_req: Request, res: Response): void => {
      route.entered++;
      res.status(route.status).json({ status: route.status });
    };
    return { route, handler };
  }

  it('passes admitted requests through and counts 2xx as successes', async () => {
    const registry = new Registry();
    const app = express();
    const { route, handler } = statusRoute();
    app.get('/x', circuitBreaker({ name: 'orders', registry }), handler);
    const { url } = await listen(app);

    const answer = await request(`${url}/x`);

    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ status: 200 });
    expect(route.entered).toBe(1);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('refuses with the exact 503 body and a Retry-After from the next attempt, never reaching the handler', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = express();
    const { route, handler } = statusRoute();
    route.status = 500;
    app.get(
      '/x',
      circuitBreaker({ name: 'orders', registry, clock, failureThreshold: 2, recoveryTimeoutMs: 30_000 }),
      handler,
    );
    const { url } = await listen(app);

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

  it('counts 5xx as failures and 4xx as successes by default', async () => {
    const registry = new Registry();
    const app = express();
    const { route, handler } = statusRoute();
    app.get('/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 3 }), handler);
    const { url } = await listen(app);

    for (const status of [404, 400, 429, 500, 502]) {
      route.status = status;
      expect((await request(`${url}/x`)).status).toBe(status);
    }

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 3, failures: 2, state: 'CLOSED' });
  });

  it('counts exactly the failureStatusCodes given', async () => {
    const registry = new Registry();
    const app = express();
    const { route, handler } = statusRoute();
    app.get('/x', circuitBreaker({ name: 'orders', registry, failureStatusCodes: [429, 503] }), handler);
    const { url } = await listen(app);

    for (const status of [429, 500, 503, 200]) {
      route.status = status;
      await request(`${url}/x`);
    }

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 2, failures: 2 });
  });

  it('counts thrown errors and errors passed to next() as failures', async () => {
    const registry = new Registry();
    const app = express();
    const breaker = circuitBreaker({ name: 'orders', registry, failureThreshold: 10 });
    app.get('/throw', breaker, () => {
      throw new Error('boom');
    });
    app.get('/next', breaker, (_req: Request, _res: Response, next: NextFunction) => next(new Error('boom')));
    if (major === 5) {
      app.get('/async', breaker, async () => {
        await delay(1);
        throw new Error('boom');
      });
    }
    const { url } = await listen(app);

    expect((await request(`${url}/throw`)).status).toBe(500);
    expect((await request(`${url}/next`)).status).toBe(500);
    if (major === 5) expect((await request(`${url}/async`)).status).toBe(500);

    expect(registry.get('orders')?.stats().failures).toBe(major === 5 ? 3 : 2);
  });

  it('counts an error that an error middleware of the app answers with a 2xx as a success (Express shows it no errors)', async () => {
    const registry = new Registry();
    const app = express();
    app.get('/orders', circuitBreaker({ name: 'orders', registry, failureThreshold: 1 }), () => {
      throw new Error('upstream down');
    });
    app.use((_error: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(200).json({ degraded: true });
    });
    const { url } = await listen(app);

    for (let i = 0; i < 2; i++) expect((await request(`${url}/orders`)).json()).toEqual({ degraded: true });
    await until(() => registry.get('orders')?.stats().totalCalls === 2);
    expect(registry.get('orders')?.stats()).toMatchObject({ state: 'CLOSED', successes: 2, failures: 0 });
  });

  it('counts a request whose client went away mid-response as neither success nor failure', async () => {
    const registry = new Registry();
    const app = express();
    const closed = gate();
    app.get('/slow', circuitBreaker({ name: 'orders', registry }), (_req: Request, res: Response) => {
      res.on('close', closed.open);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const { url } = await listen(app);

    const controller = new AbortController();
    const response = await fetch(`${url}/slow`, { signal: controller.signal });
    expect(response.status).toBe(200);
    controller.abort();
    await closed.promise;
    await delay(20);

    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
  });

  it('settles timed calls queued behind another response on a connection that drops (pipelining)', async () => {
    const registry = new Registry();
    const app = express();
    const entered: string[] = [];
    app.use(circuitBreaker({ name: 'orders', registry, timeoutMs: 60_000 }));
    // The first never answers; the second answers while it waits its turn; the third never does.
    app.use((req: Request, res: Response) => {
      entered.push(req.path);
      if (req.path === '/answered') res.send('ok');
    });
    const { url } = await listen(app);

    const socket = await pipelined(url, ['/slow', '/answered', '/silent']);
    await until(() => entered.length === 3);
    socket.destroy();

    // Node emits nothing on the two queued responses; the connection's close settles them.
    await until(() => registry.get('orders')?.stats().totalCalls === 1);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 0, timeouts: 0 });
  });

  it('counts a timeout at the deadline, not when the slow response finally ends', async () => {
    const registry = new Registry();
    const app = express();
    let answered = false;
    app.get(
      '/slow',
      circuitBreaker({ name: 'orders', registry, timeoutMs: 50 }),
      async (_req: Request, res: Response) => {
        await delay(300);
        answered = true;
        res.json({ late: true });
      },
    );
    const { url } = await listen(app);

    const pending = request(`${url}/slow`);
    await until(() => registry.get('orders')?.stats().timeouts === 1);
    expect(answered).toBe(false);
    const answer = await pending;

    expect(answer.status).toBe(200);
    expect(registry.get('orders')?.stats()).toMatchObject({ timeouts: 1, failures: 1, successes: 0 });
  });

  it('does not count what a slow client takes to read an answer as a slow call, nor as a timeout, streamed or not', async () => {
    const registry = new Registry();
    const app = express();
    const options = { name: 'files', registry, ...SLOW_READER_OPTIONS };
    app.get('/file', circuitBreaker(options), (_req: Request, res: Response) => {
      res.type('text/plain').send(BIG_ANSWER);
    });
    app.get('/stream', circuitBreaker(options), (_req: Request, res: Response) => {
      res.type('text/plain');
      bigStream().pipe(res);
    });
    const { url } = await listen(app);
    await expectSlowReadersNotCounted(url, () => registry.get('files')?.stats());
  });

  it.each(CALL_PATHS)('counts a body cut short by its failing source as a failure (%s)', async (_path, options) => {
    const registry = new Registry();
    const app = express();
    app.get('/export', circuitBreaker({ name: 'export', registry, ...options }), (_req: Request, res: Response) => {
      res.type('text/plain');
      pipeline(failingSource(), res, () => {});
    });
    const { url } = await listen(app);

    await expectCutBodiesFailed(`${url}/export`, () => registry.get('export')?.stats());
  });

  it.each(CALL_PATHS)(
    'counts an error forwarded after the headers went out as a failure (%s)',
    async (_path, options) => {
      // Express's last-resort handler destroys the connection then, without the error.
      const registry = new Registry();
      const app = express();
      app.get(
        '/export',
        circuitBreaker({ name: 'export', registry, ...options }),
        (_req: Request, res: Response, next) => {
          res.type('text/plain');
          res.write('first chunk\n');
          setTimeout(() => next(new Error('upstream connection reset')), 10);
        },
      );
      const { url, server } = await listen(app);
      server.on('clientError', () => {});

      await expectCutBodiesFailed(`${url}/export`, () => registry.get('export')?.stats());
    },
  );

  it.each(CALL_PATHS)(
    "counts a streamed answer cut by the server's idle timeout as neither (%s)",
    async (_path, options) => {
      // A healthy stream with nothing to send for a while, whose client vanished without a word.
      const registry = new Registry();
      const app = express();
      app.get('/feed', circuitBreaker({ name: 'feed', registry, ...options }), (_req: Request, res: Response) => {
        res.type('text/plain');
        res.write('first chunk\n');
      });
      const { url, server } = await listen(app);
      server.setTimeout(100);
      const { hostname, port } = new URL(url);
      const client = connect(Number(port), hostname);
      let closed = false;
      client.on('close', () => {
        closed = true;
      });
      client.write(`GET /feed HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      await new Promise((resolve) => client.once('data', resolve));
      client.pause();
      await until(() => closed);
      await delay(20);

      expect(registry.get('feed')?.stats()).toMatchObject({ totalCalls: 0, failures: 0 });
    },
  );

  it.each(CALL_PATHS)(
    'counts a streamed answer cut by the server shutting down as neither (%s)',
    async (_path, options) => {
      const registry = new Registry();
      const app = express();
      let entered = false;
      app.get('/feed', circuitBreaker({ name: 'feed', registry, ...options }), (_req: Request, res: Response) => {
        res.type('text/plain');
        res.write('first chunk\n');
        entered = true;
      });
      const { url, server } = await listen(app);
      const response = await fetch(`${url}/feed`);
      const reader = response.body?.getReader();
      await reader?.read();
      await until(() => entered);

      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await reader?.read().catch(() => undefined);
      await delay(20);

      expect(registry.get('feed')?.stats()).toMatchObject({ totalCalls: 0, failures: 0 });
    },
  );

  it('keeps the breakers of two routes apart', async () => {
    const registry = new Registry();
    const app = express();
    const a = statusRoute();
    const b = statusRoute();
    a.route.status = 500;
    app.get('/a', circuitBreaker({ name: 'a', registry, failureThreshold: 1 }), a.handler);
    app.get('/b', circuitBreaker({ name: 'b', registry, failureThreshold: 1 }), b.handler);
    const { url } = await listen(app);

    await request(`${url}/a`);

    expect((await request(`${url}/a`)).status).toBe(503);
    expect((await request(`${url}/b`)).status).toBe(200);
    expect(registry.get('a')?.state).toBe('OPEN');
    expect(registry.get('b')?.state).toBe('CLOSED');
  });

  it('counts a request under an app-wide and a route breaker once on each, with no listener on the response', async () => {
    // Calls that hold no permit learn that the response finished from Node's diagnostics
    // channel: a listener on an Express response is dear (see countWhenFinished).
    const registry = new Registry();
    const app = express();
    const listeners: number[] = [];
    app.use(circuitBreaker({ name: 'gateway', registry }));
    app.get('/x', circuitBreaker({ name: 'orders', registry }), (req: Request, res: Response) => {
      listeners.push(res.listenerCount('close'));
      res.sendStatus(req.query.fail === '1' ? 502 : 200);
    });
    const bare = express();
    bare.get('/x', (_req: Request, res: Response) => {
      listeners.push(res.listenerCount('close'));
      res.end();
    });
    const { url } = await listen(app);
    const { url: bareUrl } = await listen(bare);

    await request(`${url}/x`);
    await request(`${url}/x?fail=1`);
    await request(`${bareUrl}/x`);
    await until(() => registry.get('orders')?.stats().totalCalls === 2);

    for (const name of ['gateway', 'orders']) {
      expect(registry.get(name)?.stats()).toMatchObject({ totalCalls: 2, successes: 1, failures: 1 });
    }
    expect(listeners[0]).toBe(listeners[2]);
    expect(listeners[1]).toBe(listeners[2]);
  });

  it.each([
    { path: 'counted only', gatewayOptions: {} },
    { path: 'holding a permit', gatewayOptions: { timeoutMs: 5_000 } },
  ])("does not count a route breaker's 503s on the app-wide breaker ($path)", async ({ gatewayOptions }) => {
    // One failing dependency opens its route's breaker; the refusals it answers are not the
    // app's failures, or the app-wide breaker would open for every route.
    const registry = new Registry();
    const app = express();
    app.use(circuitBreaker({ name: 'gateway', registry, failureThreshold: 5, ...gatewayOptions }));
    app.get('/orders', circuitBreaker({ name: 'orders', registry, failureThreshold: 2 }), (_req, res) => {
      res.sendStatus(502);
    });
    app.get('/users', (_req: Request, res: Response) => {
      res.sendStatus(200);
    });
    const { url } = await listen(app);

    await expectRefusalsNotCountedOutside(url, registry);
  });

  it('picks a breaker per request with key()', async () => {
    const registry = new Registry();
    const app = express();
    const mw = circuitBreaker({ registry, key: (req) => `tenant:${req.get('x-tenant')}`, failureThreshold: 1 });
    app.get('/x', mw, (req: Request, res: Response) => {
      res.sendStatus(req.get('x-fail') === undefined ? 200 : 500);
    });
    const { url } = await listen(app);

    await request(`${url}/x`, { headers: { 'x-tenant': 'a', 'x-fail': '1' } });

    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'a' } })).status).toBe(503);
    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'b' } })).status).toBe(200);
    expect(registry.names().sort()).toEqual(['tenant:a', 'tenant:b']);
  });

  it('caps keyed breakers at maxBreakers without ever evicting an open one', async () => {
    const registry = new Registry();
    const app = express();
    const mw = circuitBreaker({
      registry,
      key: (req) => String(req.get('x-tenant')),
      maxBreakers: 100,
      failureThreshold: 1,
    });
    app.get('/x', mw, (req: Request, res: Response) => {
      res.sendStatus(req.get('x-fail') === undefined ? 200 : 500);
    });
    const { url } = await listen(app);
    await request(`${url}/x`, { headers: { 'x-tenant': 'sick', 'x-fail': '1' } });

    await flood(2000, 20, (i) => request(`${url}/x`, { headers: { 'x-tenant': `t${i}` } }));

    expect(registry.size).toBeLessThanOrEqual(100);
    expect(registry.get('sick')?.state).toBe('OPEN');
    expect((await request(`${url}/x`, { headers: { 'x-tenant': 'sick' } })).status).toBe(503);
  });

  it('stays under maxBreakers when clients go away before their answers', async () => {
    const registry = new Registry();
    const app = express();
    let entered = 0;
    app.get(
      '/x',
      circuitBreaker({ registry, key: (req) => String(req.get('x-tenant')), maxBreakers: 2 }),
      (req, res) => {
        entered++;
        // The first tenants' requests are never answered: their clients give up.
        if (!String(req.get('x-tenant')).startsWith('gone')) res.send('ok');
      },
    );
    const { url } = await listen(app);
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const pending = fetch(`${url}/x`, { headers: { 'x-tenant': `gone${i}` }, signal: controller.signal }).catch(
        () => undefined,
      );
      await until(() => entered === i + 1);
      controller.abort();
      await pending;
    }
    await until(() => [...registry].every((breaker) => breaker.httpInFlight === 0));
    for (let i = 0; i < 10; i++)
      expect((await request(`${url}/x`, { headers: { 'x-tenant': `t${i}` } })).status).toBe(200);
    expect(registry.size).toBeLessThanOrEqual(2);
  });

  it('lets at most halfOpenMaxRequests of 50 concurrent requests probe a HALF_OPEN circuit', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = express();
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
    app.get('/x', mw, async (_req: Request, res: Response) => {
      if (state.fail) {
        res.sendStatus(500);
        return;
      }
      state.entered++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await release.promise;
      state.inFlight--;
      res.send('ok');
    });
    const { url } = await listen(app);
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

  it('gives the probe permit back when a fallback declared in the registry is invalid, passing the error on', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = express();
    const { route, handler } = statusRoute();
    route.status = 500;
    app.get(
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
    const { url } = await listen(app);
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
    const app = express();
    const { route, handler } = statusRoute();
    app.get('/health', healthHandler({ registry }));
    app.get('/health-503', healthHandler({ registry, degradedStatus: 503 }));
    app.get('/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 1 }), handler);
    const { url } = await listen(app);
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

  it('calls onOpen with the request and the CircuitOpenError for each refusal', async () => {
    const registry = new Registry();
    const app = express();
    const seen: Array<{ url: string; error: unknown }> = [];
    const { route, handler } = statusRoute();
    route.status = 500;
    const onOpen = (req: Request, error: CircuitOpenError): void => {
      seen.push({ url: req.originalUrl, error });
    };
    app.get('/x', circuitBreaker({ name: 'orders', registry, failureThreshold: 1, onOpen }), handler);
    const { url } = await listen(app);

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
      const app = express();
      const { route, handler } = statusRoute();
      const mw = circuitBreaker({ name: 'orders', registry, clock, logger: recording?.logger, ...CYCLE_OPTIONS });
      app.get('/x', mw, handler);
      const { url } = await listen(app);

      await cycleBreaker(route, clock, () => request(`${url}/x`));

      expectCycle(registry, recording);
      expectConsoleUntouched();
    },
  );

  it('leaves no unhandled rejections, warnings or listeners behind after 3000 requests', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const app = express();
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
    app.get('/x', mw, (req: Request, res: Response) => {
      if (req.query.fail === '1') res.sendStatus(500);
      else res.json({ i: req.query.i });
    });
    const { url } = await listen(app);
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
    [{ name: 'x', fallback: { strategy: 'alternative_service', url: 'ftp://backup' } }, /fallback\.url/],
    [{ name: 'x', logger: {} }, /logger/],
    [{ name: 'x', key: 'tenant' }, /key/],
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
