import { gzipSync } from 'node:zlib';
import { CircuitOpenError, CircuitTimeoutError, Registry } from '@breakwater/core';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, type KoaBreakerOptions } from '../src/index.js';
import { createApp, type KoaApp, majors, mount } from './app.js';
import {
  closeAll,
  deferred,
  delay,
  expectFallbackWithoutHandlerHeaders,
  HANDLER_ANSWER_HEADERS,
  listen,
  ManualClock,
  pipelined,
  rejectionBody,
  request,
  until,
} from './helpers.js';

afterEach(closeAll);

/** A real body parser (co-body underneath): JSON and forms (nested with qs), inflated. */
function parseBodies(app: KoaApp, options: Parameters<typeof bodyParser>[0] = {}): void {
  app.use(bodyParser(options) as Parameters<KoaApp['use']>[0]);
}

describe.each(majors)('Koa $major fallbacks', ({ Koa }) => {
  /**
   * An app with one route `/items` under a breaker that opens on the first failure;
   * `route.status` sets what the handler answers, `route.headers` adds headers.
   */
  async function serve(options: Partial<KoaBreakerOptions>, setup?: (app: KoaApp) => void) {
    const registry = new Registry();
    const clock = new ManualClock();
    const route = { status: 200, entered: 0, headers: {} as Record<string, string> };
    const app = createApp(Koa);
    setup?.(app);
    const mw = circuitBreaker({
      name: 'items',
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 60_000,
      ...options,
    });
    mount(app, '/items', mw, (ctx) => {
      route.entered++;
      ctx.set(route.headers);
      ctx.status = route.status;
      ctx.body = { url: ctx.url, n: route.entered };
    });
    const { url } = await listen(app.callback());
    /** Makes the next request fail so that the circuit opens. */
    const open = async (): Promise<void> => {
      route.status = 500;
      await request(`${url}/items?open`);
      route.status = 200;
      expect(registry.get('items')?.state).toBe('OPEN');
    };
    return { registry, clock, route, url, open };
  }

  it('answers with the default response while open', async () => {
    const { url, route, open } = await serve({
      fallback: { strategy: 'default', response: { status: 200, headers: { 'x-degraded': '1' }, body: { items: [] } } },
    });
    await open();
    const entered = route.entered;

    const answer = await request(`${url}/items`);

    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ items: [] });
    expect(answer.headers.get('x-circuit-fallback')).toBe('default');
    expect(answer.headers.get('x-degraded')).toBe('1');
    expect(route.entered).toBe(entered);
  });

  it('sends a binary default body as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const { url, open } = await serve({
      fallback: {
        strategy: 'default',
        response: { headers: { 'content-type': 'application/octet-stream' }, body: bytes },
      },
    });
    await open();

    const response = await fetch(`${url}/items`);

    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('gives a custom handler the Koa context and the CircuitOpenError', async () => {
    const { url, open } = await serve({
      fallback: {
        strategy: 'custom',
        handler: (ctx: Context, error) => ({
          status: 202,
          body: { path: ctx.url, user: ctx.get('x-user'), open: error instanceof CircuitOpenError },
        }),
      },
    });
    await open();

    const answer = await request(`${url}/items?page=2`, { headers: { 'x-user': 'ada' } });

    expect(answer.status).toBe(202);
    expect(answer.json()).toEqual({ path: '/items?page=2', user: 'ada', open: true });
    expect(answer.headers.get('x-circuit-fallback')).toBe('custom');
  });

  it('sends the structured 503 when the fallback handler answers a body with no JSON', async () => {
    const { url, open } = await serve({
      fallback: { strategy: 'custom', handler: () => ({ status: 200, body: Symbol('not JSON') }) },
    });
    await open();

    const answer = await request(`${url}/items`);

    expect(answer.status).toBe(503);
    expect(answer.text).toBe(rejectionBody('items', 60));
  });

  it('sends the structured 503 when the fallback handler throws', async () => {
    const { url, open } = await serve({
      fallback: {
        strategy: 'custom',
        handler: () => {
          throw new Error('fallback broke');
        },
      },
    });
    await open();

    const answer = await request(`${url}/items`);

    expect(answer.status).toBe(503);
    expect(answer.text).toBe(rejectionBody('items', 60));
    expect(answer.headers.get('x-circuit-fallback')).toBeNull();
  });

  describe('cache', () => {
    it('serves the last 2xx response for the URL while open', async () => {
      const { url, open, route } = await serve({ fallback: { strategy: 'cache' } });
      const fresh = await request(`${url}/items?page=1`);
      await open();
      const entered = route.entered;

      const cached = await request(`${url}/items?page=1`);

      expect(cached.status).toBe(200);
      expect(cached.text).toBe(fresh.text);
      expect(cached.headers.get('content-type')).toMatch(/^application\/json/);
      expect(cached.headers.get('x-circuit-fallback')).toBe('cache');
      expect(route.entered).toBe(entered);
      expect((await request(`${url}/items?page=2`)).status).toBe(503);
    });

    it('stops serving an entry older than ttlMs', async () => {
      const { url, open, clock } = await serve({ fallback: { strategy: 'cache', ttlMs: 1_000 } });
      await request(`${url}/items`);
      await open();

      clock.advance(500);
      const young = await request(`${url}/items`);
      clock.advance(1_000);
      const old = await request(`${url}/items`);

      expect(young.status).toBe(200);
      expect(young.headers.get('x-circuit-fallback')).toBe('cache');
      expect(old.status).toBe(503);
    });

    it('keeps at most maxEntries responses, dropping the least recently used', async () => {
      const { url, open } = await serve({ fallback: { strategy: 'cache', maxEntries: 2 } });
      for (const page of [1, 2, 3]) await request(`${url}/items?page=${page}`);
      await open();

      expect((await request(`${url}/items?page=1`)).status).toBe(503);
      expect((await request(`${url}/items?page=2`)).status).toBe(200);
      expect((await request(`${url}/items?page=3`)).status).toBe(200);
    });

    it('does not keep non-2xx responses', async () => {
      const { url, open, route } = await serve({ fallback: { strategy: 'cache' } });
      route.status = 404;
      await request(`${url}/items?missing`);
      route.status = 200;
      await open();

      expect((await request(`${url}/items?missing`)).status).toBe(503);
    });

    it('does not keep responses with Set-Cookie or Cache-Control: private, nor to requests with Authorization', async () => {
      const { url, open, route } = await serve({ fallback: { strategy: 'cache' } });
      route.headers = { 'set-cookie': 'session=1' };
      await request(`${url}/items?cookie`);
      route.headers = { 'cache-control': 'private, max-age=60' };
      await request(`${url}/items?private`);
      route.headers = {};
      await request(`${url}/items?auth`, { headers: { authorization: 'Bearer secret' } });
      await request(`${url}/items?public`);
      await open();

      expect((await request(`${url}/items?cookie`)).status).toBe(503);
      expect((await request(`${url}/items?private`)).status).toBe(503);
      expect((await request(`${url}/items?auth`)).status).toBe(503);
      expect((await request(`${url}/items?auth`, { headers: { authorization: 'Bearer secret' } })).status).toBe(503);
      expect((await request(`${url}/items?public`)).status).toBe(200);
    });

    it('answers HEAD from what GET kept under a cacheKey that reads ctx.method', async () => {
      const { url, open, route } = await serve({
        fallback: { strategy: 'cache', cacheKey: (ctx: Context) => `${ctx.get('x-tenant')} ${ctx.method} ${ctx.url}` },
      });
      const tenant = { 'x-tenant': 't1' };
      await request(`${url}/items`, { headers: tenant });
      await open();
      const entered = route.entered;

      const head = await fetch(`${url}/items`, { method: 'HEAD', headers: tenant });

      expect(head.status).toBe(200);
      expect(head.headers.get('x-circuit-fallback')).toBe('cache');
      expect(route.entered).toBe(entered);
    });

    it('keeps string bodies as sent', async () => {
      const registry = new Registry();
      const app = createApp(Koa);
      let fail = false;
      mount(
        app,
        '/page',
        circuitBreaker({ name: 'page', registry, failureThreshold: 1, fallback: { strategy: 'cache' } }),
        (ctx) => {
          if (fail) ctx.status = 500;
          else ctx.body = '<h1>hello</h1>';
        },
      );
      const { url } = await listen(app.callback());
      await request(`${url}/page`);
      fail = true;
      await request(`${url}/page`);

      const cached = await request(`${url}/page`);

      expect(cached.text).toBe('<h1>hello</h1>');
      expect(cached.headers.get('content-type')).toMatch(/^text\/html/);
    });
  });

  describe('alternative_service', () => {
    async function backup() {
      return listen((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              type: req.headers['content-type'] ?? null,
              ...(req.headers['content-encoding'] === undefined ? {} : { encoding: req.headers['content-encoding'] }),
              body: Buffer.concat(chunks).toString(),
            }),
          );
        });
      });
    }

    it('forwards method, path, query and a parsed JSON body to the backup and relays its answer', async () => {
      const alternate = await backup();
      const { url, open } = await serve(
        { fallback: { strategy: 'alternative_service', url: alternate.url } },
        parseBodies,
      );
      await open();

      const answer = await request(`${url}/items?x=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ a: 1 }),
      });

      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-circuit-fallback')).toBe('alternative_service');
      expect(answer.json()).toEqual({ method: 'POST', url: '/items?x=1', type: 'application/json', body: '{"a":1}' });
    });

    /** POSTs `body` with `headers` on an open circuit, behind a body parser; gives what the backup received. */
    async function forwarded(
      headers: Record<string, string>,
      body: string | Uint8Array,
      parser: Parameters<typeof bodyParser>[0] = {},
    ) {
      const alternate = await backup();
      const fallback = { strategy: 'alternative_service', url: alternate.url } as const;
      const { url, open } = await serve({ fallback }, (app) => parseBodies(app, parser));
      await open();
      const answer = await request(`${url}/items`, { method: 'POST', headers, body });
      expect(answer.headers.get('x-circuit-fallback')).toBe('alternative_service');
      return answer.json();
    }

    it.each(['"hello"', 'null'])('forwards the JSON value %s, as a lenient parser left it, as JSON', async (body) => {
      const got = await forwarded({ 'content-type': 'application/json' }, body, { jsonStrict: false });
      expect(got).toMatchObject({ type: 'application/json', body });
    });

    it('forwards a form its parser nested as JSON, labelled as JSON', async () => {
      const got = await forwarded({ 'content-type': 'application/x-www-form-urlencoded' }, 'a[b]=1&c=2');
      expect(got).toMatchObject({ type: 'application/json', body: '{"a":{"b":"1"},"c":"2"}' });
    });

    it('forwards a body its parser inflated without its Content-Encoding', async () => {
      const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
      const got = await forwarded(headers, gzipSync('{"x":1}'));
      expect(got).toEqual({ method: 'POST', url: '/items', type: 'application/json', body: '{"x":1}' });
    });

    it("keeps a path's dot segments, plain or encoded, under the backup's base path", async () => {
      const alternate = await backup();
      const registry = new Registry();
      registry.getOrCreate('api').forceOpen();
      const app = createApp(Koa);
      app.use(
        circuitBreaker({
          name: 'api',
          registry,
          fallback: { strategy: 'alternative_service', url: `${alternate.url}/v2` },
        }),
      );
      const { url } = await listen(app.callback());

      for (const path of ['/../admin', '/%2e%2e/admin', '/a/%2E%2E/%2e%2e/admin']) {
        // Sent as written: fetch would resolve the dot segments before they left.
        const socket = await pipelined(url, [path]);
        let answer = '';
        socket.on('data', (chunk: Buffer) => {
          answer += chunk.toString();
        });
        await until(() => answer.includes('"url"'));
        socket.destroy();
        expect(JSON.parse(answer.slice(answer.indexOf('{')))).toMatchObject({ url: '/v2/admin' });
      }
    });

    it('forwards a body no parser has read, byte for byte', async () => {
      const alternate = await backup();
      const { url, open } = await serve({ fallback: { strategy: 'alternative_service', url: `${alternate.url}/v2` } });
      await open();

      const answer = await request(`${url}/items`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hello backup',
      });

      expect(answer.json()).toEqual({ method: 'POST', url: '/v2/items', type: 'text/plain', body: 'hello backup' });
    });

    it("answers HEAD with the backup's Content-Length, not that of the empty body", async () => {
      const alternate = await listen((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
        res.end(req.method === 'HEAD' ? undefined : 'hello');
      });
      const { url, open } = await serve({ fallback: { strategy: 'alternative_service', url: alternate.url } });
      await open();

      const answer = await fetch(`${url}/items`, { method: 'HEAD' });

      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-circuit-fallback')).toBe('alternative_service');
      expect(answer.headers.get('content-length')).toBe('5');
      expect((await request(`${url}/items`)).text).toBe('hello');
    });

    it('sends the structured 503 when the backup is down', async () => {
      const alternate = await backup();
      const { url, open } = await serve({ fallback: { strategy: 'alternative_service', url: alternate.url } });
      await alternate.close();
      await open();

      const answer = await request(`${url}/items`);

      expect(answer.status).toBe(503);
      expect(answer.text).toBe(rejectionBody('items', 60));
    });
  });

  describe('on timeout', () => {
    async function slowApp(options: Partial<KoaBreakerOptions>, late: (ctx: Context) => void | Promise<void>) {
      const registry = new Registry();
      const app = createApp(Koa);
      const errors: unknown[] = [];
      app.on('error', (error: unknown) => errors.push(error));
      const route = { slow: true, finished: false };
      mount(app, '/slow', circuitBreaker({ name: 'slow', registry, timeoutMs: 50, ...options }), async (ctx) => {
        if (route.slow) await delay(250);
        try {
          await late(ctx);
        } finally {
          route.finished = true;
        }
      });
      const { url } = await listen(app.callback());
      return { registry, route, url, errors };
    }

    it("sends the handler's answer as soon as it comes while the fallback is being made, and does not count that fallback", async () => {
      const ready = deferred();
      const slowFallback = async () => {
        await ready.promise;
        return { body: 'fallback' };
      };
      const { registry, url } = await slowApp(
        { fallback: { strategy: 'custom', handler: slowFallback, timeoutMs: 10_000 } },
        (ctx) => {
          ctx.body = 'handler';
        },
      );

      const answer = await request(`${url}/slow`, { signal: AbortSignal.timeout(2_000) });
      const events: unknown[] = [];
      registry.get('slow')?.on('fallback', (event) => events.push(event));
      ready.resolve();
      await delay(20);

      expect(answer.text).toBe('handler');
      expect(registry.get('slow')?.stats().timeouts).toBe(1);
      expect(registry.get('slow')?.stats().fallbacks).toEqual({});
      expect(events).toEqual([]);
    });

    it("answers a timed-out HEAD with the backup's Content-Length", async () => {
      const alternate = await listen((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
        res.end(req.method === 'HEAD' ? undefined : 'hello');
      });
      const { url } = await slowApp({ fallback: { strategy: 'alternative_service', url: alternate.url } }, (ctx) => {
        ctx.body = 'late';
      });

      const answer = await fetch(`${url}/slow`, { method: 'HEAD' });

      expect(answer.headers.get('x-circuit-fallback')).toBe('alternative_service');
      expect(answer.headers.get('content-length')).toBe('5');
    });

    it('sends the fallback without the headers the handler set about its own answer', async () => {
      const registry = new Registry();
      const app = createApp(Koa);
      app.use(async (ctx, next) => {
        ctx.set('access-control-allow-origin', '*');
        ctx.set('content-security-policy', "default-src 'self'");
        await next();
      });
      const fallback = { strategy: 'default', response: { body: { degraded: true } } } as const;
      mount(app, '/report', circuitBreaker({ name: 'report', registry, timeoutMs: 50, fallback }), async (ctx) => {
        ctx.set(HANDLER_ANSWER_HEADERS);
        await delay(250);
        ctx.body = 'late';
      });
      const { url } = await listen(app.callback());

      const answer = await request(`${url}/report`);
      expect(answer.json()).toEqual({ degraded: true });
      expectFallbackWithoutHandlerHeaders((name) => answer.headers.get(name));
    });

    it('sends the fallback at the deadline and never writes the late answer', async () => {
      const { registry, route, url, errors } = await slowApp(
        { fallback: { strategy: 'default', response: { body: { fallback: true } } } },
        (ctx) => {
          ctx.set('x-late', '1');
          ctx.status = 201;
          ctx.body = { late: true };
        },
      );

      const answer = await request(`${url}/slow`);
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual({ fallback: true });
      expect(answer.headers.get('x-circuit-fallback')).toBe('default');
      expect(answer.headers.get('x-late')).toBeNull();
      await until(() => route.finished);
      await delay(20);

      expect(errors).toEqual([]);
      expect(registry.get('slow')?.stats()).toMatchObject({ timeouts: 1, successes: 0 });
      route.slow = false;
      const fast = await request(`${url}/slow`);
      expect(fast.status).toBe(201);
      expect(fast.json()).toEqual({ late: true });
      expect(registry.get('slow')?.stats()).toMatchObject({ timeouts: 1, successes: 1 });
    });

    it('swallows a late error and late raw writes without unhandled rejections', async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown): void => {
        rejections.push(reason);
      };
      process.on('unhandledRejection', onRejection);
      try {
        let calls = 0;
        const { route, url, errors } = await slowApp(
          { fallback: { strategy: 'default', response: { body: 'fallback' } } },
          (ctx) => {
            calls++;
            if (calls === 1) throw new Error('late failure');
            ctx.respond = false;
            ctx.res.write('raw ');
            ctx.res.end('late');
          },
        );

        expect((await request(`${url}/slow`)).text).toBe('fallback');
        await until(() => route.finished);
        route.finished = false;
        expect((await request(`${url}/slow`)).text).toBe('fallback');
        await until(() => route.finished);
        await delay(20);

        expect(errors).toEqual([]);
        expect(rejections).toEqual([]);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });

    it('sends a 503 at the deadline when the fallback fails, and discards the late answer', async () => {
      const { route, url, errors } = await slowApp(
        {
          fallback: {
            strategy: 'custom',
            handler: () => {
              throw new Error('fallback broke');
            },
          },
        },
        (ctx) => {
          ctx.body = { late: true };
        },
      );

      const answer = await request(`${url}/slow`);
      await until(() => route.finished);

      expect(answer.status).toBe(503);
      expect(answer.json()).toMatchObject({
        error: 'Service Unavailable',
        message: 'Service slow is temporarily unavailable',
      });
      expect(errors).toEqual([]);
    });

    it('hands a custom fallback the CircuitTimeoutError', async () => {
      const { url } = await slowApp(
        {
          fallback: {
            strategy: 'custom',
            handler: (ctx: Context, error) => ({
              body: { url: ctx.url, timeout: error instanceof CircuitTimeoutError },
            }),
          },
        },
        (ctx) => {
          ctx.body = { late: true };
        },
      );

      const answer = await request(`${url}/slow`);

      expect(answer.json()).toEqual({ url: '/slow', timeout: true });
      expect(answer.headers.get('x-circuit-fallback')).toBe('custom');
    });
  });
});
