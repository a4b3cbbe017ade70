import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { CircuitOpenError, CircuitTimeoutError, Registry } from '@breakwater/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, type ExpressBreakerOptions } from '../src/index.js';
import {
  closeAll,
  deferred,
  delay,
  expectFallbackWithoutHandlerHeaders,
  HANDLER_ANSWER_HEADERS,
  listen,
  ManualClock,
  rejectionBody,
  request,
  until,
} from './helpers.js';

afterEach(closeAll);

const majors = [
  { major: 4, express: express4 },
  { major: 5, express: express5 },
] as const;

describe.each(majors)('Express $major fallbacks', ({ express }) => {
  /**
   * An app with one GET/POST route `/items` under a breaker that opens on the first failure;
   * `route.status` sets what the handler answers, `route.headers` adds headers.
   */
  async function serve(options: Partial<ExpressBreakerOptions>, setup?: (app: ReturnType<typeof express>) => void) {
    const registry = new Registry();
    const clock = new ManualClock();
    const route = { status: 200, entered: 0, headers: {} as Record<string, string> };
    const app = express();
    setup?.(app);
    const mw = circuitBreaker({
      name: 'items',
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 60_000,
      ...options,
    });
    const handler = (req: Request, res: Response): void => {
      route.entered++;
      res.set(route.headers);
      res.status(route.status).json({ url: req.originalUrl, n: route.entered });
    };
    app.get('/items', mw, handler);
    app.post('/items', mw, handler);
    // Headers given to writeHead only: with no header set before (no X-Powered-By), Node sends
    // them without res.getHeaders() ever seeing them.
    app.get('/raw', mw, (_req: Request, res: Response): void => {
      route.entered++;
      res.writeHead(route.status, { 'Content-Type': 'application/json', ...route.headers });
      res.end(JSON.stringify({ n: route.entered }));
    });
    const { url } = await listen(app);
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

  it('gives a custom handler the Express request and the CircuitOpenError', async () => {
    const { url, open } = await serve({
      fallback: {
        strategy: 'custom',
        handler: (req, error) => ({
          status: 202,
          body: { path: req.originalUrl, user: req.get('x-user'), open: error instanceof CircuitOpenError },
        }),
      },
    });
    await open();

    const answer = await request(`${url}/items?page=2`, { headers: { 'x-user': 'ada' } });

    expect(answer.status).toBe(202);
    expect(answer.json()).toEqual({ path: '/items?page=2', user: 'ada', open: true });
    expect(answer.headers.get('x-circuit-fallback')).toBe('custom');
  });

  it.each([
    ['a body with no JSON', () => ({ status: 200, body: Symbol('not JSON') })],
    ['a 1xx, which is no final answer', () => ({ status: 103, body: 'x' })],
  ])('sends the structured 503 when the fallback handler answers %s', async (_what, handler) => {
    const { url, open } = await serve({ fallback: { strategy: 'custom', handler } });
    await open();

    const answer = await request(`${url}/items`, { signal: AbortSignal.timeout(2_000) });

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

    it('does not let the bodiless answer to HEAD replace what GET kept under a key without the method', async () => {
      const { url, open } = await serve({
        fallback: { strategy: 'cache', cacheKey: (req: Request) => req.path },
      });
      const fresh = await request(`${url}/items`);
      const head = await fetch(`${url}/items`, { method: 'HEAD' });
      await open();

      const cached = await request(`${url}/items`);
      const cachedHead = await fetch(`${url}/items`, { method: 'HEAD' });

      expect(cached.status).toBe(200);
      expect(cached.text).toBe(fresh.text);
      expect(cachedHead.headers.get('x-circuit-fallback')).toBe('cache');
      expect(cachedHead.headers.get('content-length')).toBe(head.headers.get('content-length'));
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

    it('keeps answers up to the maxEntryBytes of a cache fallback declared in the registry', async () => {
      const registry = new Registry();
      registry.declare('big', { fallback: { strategy: 'cache', maxEntryBytes: 4 * 1024 * 1024 } });
      const route = { status: 200 };
      const app = express();
      app.get(
        '/big',
        circuitBreaker({ name: 'big', registry, failureThreshold: 1 }),
        (_req: Request, res: Response) => {
          res
            .status(route.status)
            .type('text')
            .send('a'.repeat(2 * 1024 * 1024));
        },
      );
      const { url } = await listen(app);
      await request(`${url}/big`);
      route.status = 500;
      await request(`${url}/big?open`);

      const cached = await request(`${url}/big`);

      expect(cached.status).toBe(200);
      expect(cached.headers.get('x-circuit-fallback')).toBe('cache');
      expect(cached.text).toHaveLength(2 * 1024 * 1024);
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

    it('reads the headers given to writeHead: a private or encoded answer is not replayed, a public one keeps its type', async () => {
      const { url, open, route } = await serve({ fallback: { strategy: 'cache' } }, (app) =>
        app.disable('x-powered-by'),
      );
      route.headers = { 'Cache-Control': 'private, no-store', 'Set-Cookie': 'sid=alice' };
      await request(`${url}/raw?private`);
      route.headers = { 'Content-Encoding': 'gzip' };
      await request(`${url}/raw?gzip`).catch(() => undefined);
      route.headers = { 'X-Note': 'kept out' };
      await request(`${url}/raw?public`);
      await open();

      expect((await request(`${url}/raw?private`)).status).toBe(503);
      expect((await request(`${url}/raw?gzip`)).status).toBe(503);
      const cached = await request(`${url}/raw?public`);
      expect(cached.status).toBe(200);
      expect(cached.headers.get('x-circuit-fallback')).toBe('cache');
      expect(cached.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(cached.text)).toEqual({ n: 3 });
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
      const { url, open } = await serve({ fallback: { strategy: 'alternative_service', url: alternate.url } }, (app) =>
        app.use(express.json()),
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

    /** POSTs `body` with `headers` on an open circuit, behind `parser`; gives what the backup received. */
    async function forwarded(
      parser: RequestHandler,
      headers: Record<string, string>,
      body: string | Uint8Array | ReadableStream<Uint8Array>,
    ) {
      const alternate = await backup();
      const { url, open } = await serve({ fallback: { strategy: 'alternative_service', url: alternate.url } }, (app) =>
        app.use(parser),
      );
      await open();
      // A stream goes out chunked, without a Content-Length.
      const chunked = body instanceof ReadableStream ? { duplex: 'half' } : {};
      const answer = await request(`${url}/items`, { method: 'POST', headers, body, ...chunked } as RequestInit);
      expect(answer.headers.get('x-circuit-fallback')).toBe('alternative_service');
      return answer.json();
    }

    it('forwards a parsed empty JSON object', async () => {
      const got = await forwarded(express.json(), { 'content-type': 'application/json' }, '{}');
      expect(got).toMatchObject({ type: 'application/json', body: '{}' });
    });

    it.each(['"hello"', 'null', '42'])(
      'forwards the JSON value %s, as a lenient parser left it, as JSON',
      async (body) => {
        const got = await forwarded(express.json({ strict: false }), { 'content-type': 'application/json' }, body);
        expect(got).toMatchObject({ type: 'application/json', body });
      },
    );

    it('forwards a JSON string value that holds JSON itself as that string, sent chunked or encoded', async () => {
      const lenient = express.json({ strict: false });
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('"123"'));
          controller.close();
        },
      });
      const json = { 'content-type': 'application/json' };
      const sent = await forwarded(lenient, json, chunked);
      expect(sent).toMatchObject({ type: 'application/json', body: '"123"' });
      const gzipped = await forwarded(lenient, { ...json, 'content-encoding': 'gzip' }, gzipSync('"{\\"a\\":1}"'));
      expect(gzipped).toMatchObject({ type: 'application/json', body: '"{\\"a\\":1}"' });
    });

    it('forwards JSON a text parser kept raw as it came', async () => {
      const got = await forwarded(express.text({ type: '*/*' }), { 'content-type': 'application/json' }, '"hello"');
      expect(got).toMatchObject({ type: 'application/json', body: '"hello"' });
    });

    it('forwards a form its parser nested as JSON, labelled as JSON', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const got = await forwarded(express.urlencoded({ extended: true }), form, 'a[b]=1&c=2');
      expect(got).toMatchObject({ type: 'application/json', body: '{"a":{"b":"1"},"c":"2"}' });
    });

    it('forwards a body its parser inflated without its Content-Encoding', async () => {
      const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
      const got = await forwarded(express.json(), headers, gzipSync('{"x":1}'));
      expect(got).toEqual({ method: 'POST', url: '/items', type: 'application/json', body: '{"x":1}' });
    });

    it('forwards text its parser decoded from another charset as UTF-8, labelled so', async () => {
      const headers = { 'content-type': 'text/plain; charset=iso-8859-1' };
      const got = await forwarded(express.text(), headers, Buffer.from('café', 'latin1'));
      expect(got).toMatchObject({ type: 'text/plain; charset=utf-8', body: 'café' });
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

    /**
     * A POST route whose handler reads the raw body itself (no parser) and then hangs: at the
     * deadline, the body is no longer there to forward, in full (`full`) or in part.
     */
    async function consumingApp(full: boolean) {
      const alternate = await backup();
      let forwarded = 0;
      alternate.server.prependListener('request', () => forwarded++);
      const registry = new Registry();
      const app = express();
      // A JSON parser that skips the request's type (Express 4's leaves an empty req.body).
      app.use(express.json());
      const fallback = { strategy: 'alternative_service', url: alternate.url } as const;
      app.post('/pay', circuitBreaker({ name: 'pay', registry, timeoutMs: 100, fallback }), (req: Request) => {
        req.on('data', () => undefined);
        if (full) req.on('end', () => undefined);
      });
      const { url } = await listen(app);
      return { url, forwarded: () => forwarded };
    }

    it('does not forward a body its handler consumed: the structured 503 goes out at the deadline', async () => {
      const { url, forwarded } = await consumingApp(true);

      const answer = await request(`${url}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'amount=5',
      });

      expect(answer.status).toBe(503);
      expect(answer.json()).toMatchObject({
        error: 'Service Unavailable',
        message: 'Service pay is temporarily unavailable',
      });
      expect(forwarded()).toBe(0);
    });

    it('does not forward the part of a body its handler has read so far', async () => {
      const { url, forwarded } = await consumingApp(false);
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      socket.write('POST /pay HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nhalf a bod');
      await until(() => received.includes('\r\n\r\n{'));
      socket.destroy();

      expect(received).toMatch(/^HTTP\/1\.1 503/);
      expect(forwarded()).toBe(0);
    });

    it("takes the backups' breakers of the breakers key() evicts out of the registry with them", async () => {
      const alternate = await listen((_req, res) => res.end('backup'));
      const registry = new Registry();
      const app = express();
      const fallback = { strategy: 'alternative_service', url: alternate.url } as const;
      const key = (req: Request) => `tenant-${req.path.slice(1)}`;
      const mw = circuitBreaker({ key, maxBreakers: 2, registry, failureThreshold: 1, fallback });
      app.get('/:tenant', mw, (_req: Request, res: Response) => res.status(500).send('down'));
      const { url } = await listen(app);
      for (let i = 0; i < 10; i++) {
        // Opens tenant-i, whose next request goes to the backup; then tenant-i recovers, idle.
        await request(`${url}/${i}`);
        expect((await request(`${url}/${i}`)).text).toBe('backup');
        registry.get(`tenant-${i}`)?.reset();
      }
      const names = Object.keys(registry.health().circuit_breakers).sort();
      expect(names).toEqual(['tenant-8', 'tenant-8:alternative', 'tenant-9', 'tenant-9:alternative']);
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
    async function slowApp(options: Partial<ExpressBreakerOptions>, late: (res: Response) => void) {
      const registry = new Registry();
      const app = express();
      const route = { slow: true, finished: false, lateError: undefined as unknown };
      app.get('/slow', circuitBreaker({ name: 'slow', registry, timeoutMs: 50, ...options }), async (_req, res) => {
        if (route.slow) await delay(250);
        try {
          late(res);
        } catch (error) {
          route.lateError = error;
        }
        route.finished = true;
      });
      const { url } = await listen(app);
      return { registry, route, url };
    }

    it('sends the fallback at the deadline and quietly discards the late answer', async () => {
      const { registry, route, url } = await slowApp(
        { fallback: { strategy: 'default', response: { body: { fallback: true } } } },
        (res) => {
          res.setHeader('x-late', '1');
          res.status(200).json({ late: true });
        },
      );

      const answer = await request(`${url}/slow`);
      expect(answer.json()).toEqual({ fallback: true });
      expect(answer.headers.get('x-circuit-fallback')).toBe('default');
      expect(answer.headers.get('x-late')).toBeNull();
      await until(() => route.finished);
      await delay(20);

      expect(route.lateError).toBeUndefined();
      expect(registry.get('slow')?.stats()).toMatchObject({ timeouts: 1, successes: 0 });
      route.slow = false;
      const fast = await request(`${url}/slow`);
      expect(fast.json()).toEqual({ late: true });
      expect(registry.get('slow')?.stats()).toMatchObject({ timeouts: 1, successes: 1 });
    });

    it("sends the handler's answer as soon as it comes while the fallback is being made, and does not count that fallback", async () => {
      const ready = deferred();
      const slowFallback = async () => {
        await ready.promise;
        return { body: 'fallback' };
      };
      const { registry, url } = await slowApp(
        { fallback: { strategy: 'custom', handler: slowFallback, timeoutMs: 10_000 } },
        (res) => {
          res.send('handler');
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

    it('sends the fallback without the headers the handler set about its own answer', async () => {
      const registry = new Registry();
      const app = express();
      app.use((_req: Request, res: Response, next: NextFunction) => {
        res.setHeader('access-control-allow-origin', '*');
        res.setHeader('content-security-policy', "default-src 'self'");
        next();
      });
      const fallback = { strategy: 'default', response: { body: { degraded: true } } } as const;
      app.get('/report', circuitBreaker({ name: 'report', registry, timeoutMs: 50, fallback }), async (_req, res) => {
        for (const [name, value] of Object.entries(HANDLER_ANSWER_HEADERS)) res.setHeader(name, value);
        await delay(250);
        res.send('late');
      });
      const { url } = await listen(app);

      const answer = await request(`${url}/report`);
      expect(answer.json()).toEqual({ degraded: true });
      expectFallbackWithoutHandlerHeaders((name) => answer.headers.get(name));
    });

    it('keeps the keep-alive connection when the handler forwards an error after the fallback', async () => {
      const registry = new Registry();
      const app = express();
      const breaker = circuitBreaker({
        name: 'slow',
        registry,
        timeoutMs: 50,
        fallback: { strategy: 'default', response: { body: { degraded: true } } },
      });
      app.get('/slow', breaker, (_req: Request, _res: Response, next: (error?: unknown) => void) => {
        setTimeout(() => next(new Error('upstream failed late')), 150);
      });
      app.get('/other', (_req: Request, res: Response) => {
        res.json({ other: true });
      });
      // The error handler Express's guide recommends: hand over to the default one once headers are sent.
      app.use((error: Error, _req: Request, res: Response, next: (error?: unknown) => void) => {
        if (res.headersSent) return next(error);
        res.status(500).json({ error: 'late' });
      });
      const { url } = await listen(app);
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let received = '';
      let closed = false;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      socket.on('close', () => {
        closed = true;
      });
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received.includes('degraded'));
      await delay(200);
      socket.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received.includes('other') || closed);
      socket.destroy();

      expect([...received.matchAll(/HTTP\/1\.1 (\d+)/g)].map((match) => match[1])).toEqual(['200', '200']);
      expect(registry.get('slow')?.stats()).toMatchObject({ timeouts: 1, successes: 0 });
    });

    it('discards a late streamed answer written with write() and end()', async () => {
      const { route, url } = await slowApp(
        { fallback: { strategy: 'default', response: { body: 'fallback' } } },
        (res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('late ');
          res.end('answer');
        },
      );

      const answer = await request(`${url}/slow`);
      await until(() => route.finished);
      await delay(20);

      expect(answer.text).toBe('fallback');
      expect(route.lateError).toBeUndefined();
    });

    it('sends a 503 at the deadline when the fallback fails, and discards the late answer', async () => {
      const { route, url } = await slowApp(
        {
          fallback: {
            strategy: 'custom',
            handler: () => {
              throw new Error('fallback broke');
            },
          },
        },
        (res) => res.json({ late: true }),
      );

      const answer = await request(`${url}/slow`);
      await until(() => route.finished);

      expect(answer.status).toBe(503);
      expect(answer.json()).toMatchObject({
        error: 'Service Unavailable',
        message: 'Service slow is temporarily unavailable',
      });
      expect(route.lateError).toBeUndefined();
    });

    it('hands a custom fallback the CircuitTimeoutError', async () => {
      const { url } = await slowApp(
        {
          fallback: {
            strategy: 'custom',
            handler: (req, error) => ({
              body: { url: req.originalUrl, timeout: error instanceof CircuitTimeoutError },
            }),
          },
        },
        (res) => res.json({ late: true }),
      );

      const answer = await request(`${url}/slow`);

      expect(answer.json()).toEqual({ url: '/slow', timeout: true });
      expect(answer.headers.get('x-circuit-fallback')).toBe('custom');
    });
  });
});
