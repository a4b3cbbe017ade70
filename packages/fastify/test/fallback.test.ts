import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CircuitOpenError, CircuitState, Registry } from '@breakwater/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import compress4 from 'fastify-compress4';
import compress5 from 'fastify-compress5';
import { afterEach, describe, expect, it } from 'vitest';
import { breakwater, type FastifyBreakerOptions } from '../src/index.js';
import {
  capturedLogger,
  delay,
  expectFallbackWithoutHandlerHeaders,
  frameworks,
  gate,
  HANDLER_ANSWER_HEADERS,
  type LogLine,
  listenNode,
  ManualClock,
  type Running,
  until,
} from './helpers.js';

/** Web streams that were cancelled, by `watchCancel`. */
const cancelled = new WeakSet<object>();

/** `body`, noting in `cancelled` when it (or a Response's body) is cancelled. */
function watchCancel<T>(body: T): T {
  const stream = body instanceof Response ? body.body : body;
  if (stream instanceof ReadableStream) {
    const cancel = stream.cancel.bind(stream);
    stream.cancel = (reason?: unknown) => {
      cancelled.add(stream);
      return cancel(reason);
    };
  }
  return body;
}

describe.each(frameworks)('%s fallbacks', (_label, fastify) => {
  let app: FastifyInstance;
  let registry: Registry;
  let backup: Running | undefined;
  let failing: boolean;
  let entries: number;

  afterEach(async () => {
    await app?.close();
    await backup?.close();
    backup = undefined;
  });

  /** `/items/:id` answers 200 JSON while healthy and 500 while `failing`; `/private` sets a cookie. */
  async function build(options: FastifyBreakerOptions, logs?: LogLine[]): Promise<void> {
    registry = new Registry();
    failing = false;
    entries = 0;
    app = fastify(logs === undefined ? {} : capturedLogger(logs));
    await app.register(breakwater, { registry, failureThreshold: 1, ...options });
    app.get<{ Params: { id: string } }>('/items/:id', async (request, reply) => {
      entries++;
      if (failing) return reply.code(500).send({ error: 'down' });
      return { id: request.params.id, fresh: true };
    });
    app.get<{ Params: { code: string } }>('/status/:code', async (request, reply) => {
      entries++;
      return reply.code(failing ? 500 : Number(request.params.code)).send({ code: request.params.code });
    });
    app.get('/private', async (_request, reply) => {
      entries++;
      if (failing) return reply.code(500).send('down');
      return reply.header('set-cookie', 'session=abc').send({ mine: true });
    });
  }

  /** Makes the breaker of `url`'s route open with one failing request. */
  async function open(url: string): Promise<void> {
    failing = true;
    expect((await app.inject(url)).statusCode).toBe(500);
    expect(registry.get(`GET ${routeOf(url)}`)?.state).toBe(CircuitState.OPEN);
  }

  /** Expects `url` answered from the cache, with the body of the `fresh` answer. */
  async function expectCachedCopy(url: string, fresh: { body: string }): Promise<void> {
    const cached = await app.inject(url);
    expect(cached.statusCode).toBe(200);
    expect(cached.body).toBe(fresh.body);
    expect(cached.headers['x-circuit-fallback']).toBe('cache');
  }

  function routeOf(url: string): string {
    if (url.startsWith('/items/')) return '/items/:id';
    if (url.startsWith('/status/')) return '/status/:code';
    return url.split('?')[0] ?? url;
  }

  it('default: answers refusals with the fixed response, marked x-circuit-fallback: default', async () => {
    await build({
      fallback: {
        strategy: 'default',
        response: { status: 200, headers: { 'X-Degraded': 'yes' }, body: { items: [] } },
      },
    });
    await open('/items/1');
    const before = entries;
    const response = await app.inject('/items/1');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [] });
    expect(response.headers['x-circuit-fallback']).toBe('default');
    expect(response.headers['x-degraded']).toBe('yes');
    expect(entries).toBe(before);
  });

  it('custom: the handler gets the Fastify request and the CircuitOpenError', async () => {
    const seen: { url: string; route: string | undefined; id: string; error: unknown }[] = [];
    await build({
      fallback: {
        strategy: 'custom',
        handler: (request: FastifyRequest, error) => {
          seen.push({ url: request.url, route: request.routeOptions.url, id: String(request.id), error });
          return { status: 202, body: `queued ${request.url}` };
        },
      },
    });
    await open('/items/7');
    const response = await app.inject('/items/7?x=1');
    expect(response.statusCode).toBe(202);
    expect(response.body).toBe('queued /items/7?x=1');
    expect(response.headers['x-circuit-fallback']).toBe('custom');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ url: '/items/7?x=1', route: '/items/:id' });
    expect(seen[0]?.id).not.toBe('');
    expect(seen[0]?.error).toBeInstanceOf(CircuitOpenError);
  });

  it('cache: serves the last 2xx response for the URL, marked x-circuit-fallback: cache', async () => {
    await build({ fallback: { strategy: 'cache' } });
    const fresh = await app.inject('/items/1');
    expect(fresh.json()).toEqual({ id: '1', fresh: true });
    await open('/items/1');
    const cached = await app.inject('/items/1');
    expect(cached.statusCode).toBe(200);
    expect(cached.body).toBe(fresh.body);
    expect(cached.headers['content-type']).toBe(fresh.headers['content-type']);
    expect(cached.headers['x-circuit-fallback']).toBe('cache');
    expect(cached.headers.age).toBe('0');
    const uncached = await app.inject('/items/2');
    expect(uncached.statusCode).toBe(503);
    expect(uncached.json()).toMatchObject({ error: 'Service Unavailable', circuitBreakerState: 'OPEN' });
  });

  it("cache: a route's own cache fallback keeps and serves responses when the plugin has none", async () => {
    await build({});
    app.get('/own', { config: { circuitBreaker: { fallback: { strategy: 'cache' } } } }, async () => {
      entries++;
      if (failing) throw new Error('down');
      return { own: true };
    });
    const fresh = await app.inject('/own');
    failing = true;
    expect((await app.inject('/own')).statusCode).toBe(500);
    await expectCachedCopy('/own', fresh);
  });

  it.each([
    ['before the plugin is registered (as config files do)', true],
    ['after the plugin is registered, before its routes', false],
  ])('cache: a fallback declared in the registry %s keeps and serves responses', async (_when, early) => {
    const shared = new Registry();
    const declare = () => shared.declare('GET /declared', { fallback: { strategy: 'cache' } });
    if (early) declare();
    app = fastify();
    await app.register(breakwater, { registry: shared, failureThreshold: 1 });
    if (!early) declare();
    let down = false;
    app.get('/declared', async (_request, reply) => (down ? reply.code(500).send('down') : { declared: true }));
    const fresh = await app.inject('/declared');
    down = true;
    expect((await app.inject('/declared')).statusCode).toBe(500);
    await expectCachedCopy('/declared', fresh);
  });

  it('cache: keeps the answer as it was before a compression plugin registered after it encoded it', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, { registry, failureThreshold: 1, fallback: { strategy: 'cache' } });
    await app.register(_label === 'fastify 4' ? compress4 : compress5, { threshold: 0, encodings: ['gzip'] });
    let up = true;
    app.get('/items', async (_request, reply) => (up ? { items: [1, 2] } : reply.code(500).send({ down: true })));
    const headers = { 'accept-encoding': 'gzip' };
    const fresh = await app.inject({ url: '/items', headers });
    expect(fresh.headers['content-encoding']).toBe('gzip');
    up = false;
    await app.inject({ url: '/items', headers });
    expect(registry.get('GET /items')?.state).toBe(CircuitState.OPEN);

    const cached = await app.inject({ url: '/items', headers });
    expect(cached.statusCode).toBe(200);
    expect(cached.headers['x-circuit-fallback']).toBe('cache');
    // Encoded again on its way out, by the same plugin.
    expect(cached.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(cached.rawPayload).toString())).toEqual({ items: [1, 2] });
    const plain = await app.inject({ url: '/items', headers: { 'accept-encoding': 'identity' } });
    expect(plain.json()).toEqual({ items: [1, 2] });
  });

  it('cache: stops serving an entry older than ttlMs (injected clock)', async () => {
    const clock = new ManualClock();
    await build({ clock, recoveryTimeoutMs: 120_000, fallback: { strategy: 'cache', ttlMs: 60_000 } });
    await app.inject('/items/1');
    await open('/items/1');
    clock.advance(59_000);
    const young = await app.inject('/items/1');
    expect(young.statusCode).toBe(200);
    expect(young.headers.age).toBe('59');
    clock.advance(2_000);
    expect((await app.inject('/items/1')).statusCode).toBe(503);
  });

  it('cache: keeps at most maxEntries responses, dropping the least recently used', async () => {
    await build({ fallback: { strategy: 'cache', maxEntries: 2 } });
    await app.inject('/items/1');
    await app.inject('/items/2');
    await app.inject('/items/3');
    await open('/items/4');
    expect((await app.inject('/items/1')).statusCode).toBe(503);
    expect((await app.inject('/items/2')).headers['x-circuit-fallback']).toBe('cache');
    expect((await app.inject('/items/3')).headers['x-circuit-fallback']).toBe('cache');
  });

  it('cache: does not keep non-2xx responses', async () => {
    await build({ fallback: { strategy: 'cache' } });
    expect((await app.inject('/status/404')).statusCode).toBe(404);
    expect((await app.inject('/status/204')).statusCode).toBe(204);
    await open('/status/500');
    expect((await app.inject('/status/404')).statusCode).toBe(503);
    expect((await app.inject('/status/204')).headers['x-circuit-fallback']).toBe('cache');
  });

  it('cache: does not keep private responses (Set-Cookie, or a request with Authorization)', async () => {
    await build({ fallback: { strategy: 'cache' } });
    await app.inject('/private');
    await app.inject({ url: '/items/1', headers: { authorization: 'Bearer secret' } });
    failing = true;
    await app.inject('/private');
    await app.inject('/items/9');
    expect((await app.inject('/private')).statusCode).toBe(503);
    expect((await app.inject('/items/1')).statusCode).toBe(503);
    expect((await app.inject({ url: '/items/1', headers: { authorization: 'Bearer secret' } })).statusCode).toBe(503);
  });

  it('alternative_service: forwards method, path, query and body to the backup and relays its answer', async () => {
    const received: { method?: string; url?: string; body: string; headers: IncomingHttpHeaders }[] = [];
    backup = await listenNode((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          method: req.method,
          url: req.url,
          body: Buffer.concat(chunks).toString(),
          headers: req.headers,
        });
        res.writeHead(201, { 'content-type': 'application/json', 'x-served-by': 'backup' });
        res.end(JSON.stringify({ accepted: true }));
      });
    });
    await build({ fallback: { strategy: 'alternative_service', url: `${backup.url}/v2` } });
    app.post('/orders', async (_request, reply) => reply.code(500).send('down'));
    expect((await app.inject({ method: 'POST', url: '/orders', payload: { n: 0 } })).statusCode).toBe(500);
    const response = await app.inject({
      method: 'POST',
      url: '/orders?priority=high',
      headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
      payload: JSON.stringify({ sku: 'A-1', quantity: 2 }),
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ accepted: true });
    expect(response.headers['x-circuit-fallback']).toBe('alternative_service');
    expect(response.headers['x-served-by']).toBe('backup');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      method: 'POST',
      url: '/v2/orders?priority=high',
      body: JSON.stringify({ sku: 'A-1', quantity: 2 }),
    });
    expect(received[0]?.headers['x-request-id']).toBe('r-1');
    expect(received[0]?.headers['content-type']).toBe('application/json');
  });

  /** POSTs to `/in`, which fails, then again on the open circuit; what the backup received. */
  async function forwarded(
    headers: Record<string, string>,
    payload: string | Buffer,
    setup?: () => void | Promise<void>,
  ) {
    const received: { body: Buffer; headers: IncomingHttpHeaders }[] = [];
    backup = await listenNode((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks), headers: req.headers });
        res.end('ok');
      });
    });
    await build({ fallback: { strategy: 'alternative_service', url: backup.url } });
    await setup?.();
    app.post('/in', async (_request, reply) => reply.code(500).send('down'));
    const send = () => app.inject({ method: 'POST', url: '/in', headers, payload });
    expect((await send()).statusCode).toBe(500);
    expect((await send()).headers['x-circuit-fallback']).toBe('alternative_service');
    expect(received).toHaveLength(1);
    return received[0] as { body: Buffer; headers: IncomingHttpHeaders };
  }

  it('alternative_service: forwards bytes a parser kept with their Content-Encoding (Fastify inflates nothing)', async () => {
    const headers = { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' };
    const got = await forwarded(headers, gzipSync('hello world'), () =>
      app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
        done(null, body),
      ),
    );
    expect(got.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(got.body).toString()).toBe('hello world');
  });

  it('alternative_service: forwards bytes that @fastify/compress inflated without the Content-Encoding they lost', async () => {
    const headers = { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' };
    const got = await forwarded(headers, gzipSync('hello world'), async () => {
      await app.register(_label === 'fastify 4' ? compress4 : compress5, { encodings: ['gzip'] });
      app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
        done(null, body),
      );
    });
    expect(got.headers['content-encoding']).toBeUndefined();
    expect(got.body.toString()).toBe('hello world');
  });

  it('alternative_service: forwards JSON that a parser kept as raw text (to check a signature) as it came', async () => {
    const payload = '{"a":1}';
    const got = await forwarded({ 'content-type': 'application/json' }, payload, () => {
      app.removeContentTypeParser('application/json');
      app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    });
    expect(got.body.toString()).toBe(payload);
  });

  it('alternative_service: forwards a JSON body that parsed to a string or null as JSON', async () => {
    for (const payload of ['"hello"', 'null']) {
      const got = await forwarded({ 'content-type': 'application/json' }, payload);
      expect({ body: got.body.toString(), type: got.headers['content-type'] }).toEqual({
        body: payload,
        type: 'application/json',
      });
      await app.close();
      await backup?.close();
    }
    backup = undefined;
  });

  it('alternative_service: answers the structured 503 when the backup is down', async () => {
    backup = await listenNode((_req, res) => res.end());
    const url = backup.url;
    await backup.close();
    backup = undefined;
    await build({ fallback: { strategy: 'alternative_service', url, timeoutMs: 2_000 } });
    await open('/items/1');
    const response = await app.inject('/items/1');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      error: 'Service Unavailable',
      message: 'Service GET /items/:id is temporarily unavailable',
      circuitBreakerState: 'OPEN',
    });
    expect(response.headers['retry-after']).toBe('30');
  });

  it('a failing fallback handler gives the structured 503 and is counted as a failed fallback', async () => {
    const logs: LogLine[] = [];
    await build(
      {
        fallback: {
          strategy: 'custom',
          handler: () => {
            throw new Error('fallback broke');
          },
        },
      },
      logs,
    );
    await open('/items/1');
    const response = await app.inject('/items/1');
    expect(response.statusCode).toBe(503);
    expect(response.headers['x-circuit-fallback']).toBeUndefined();
    expect(response.json()).toEqual({
      error: 'Service Unavailable',
      message: 'Service GET /items/:id is temporarily unavailable',
      circuitBreakerState: 'OPEN',
      retryAfter: 30,
    });
    expect(registry.get('GET /items/:id')?.stats().fallbacks.custom).toEqual({ served: 0, failed: 1 });
    expect(logs.some((line) => line.level === 50 && line.error === 'fallback broke')).toBe(true);
  });

  it.each([
    ['returns a value', 'return'],
    ['calls reply.send', 'send'],
  ])(
    'timeout: serves the fallback at timeoutMs and quietly drops the handler output when it %s late',
    async (_what, style) => {
      const logs: LogLine[] = [];
      await build(
        {
          failureThreshold: 5,
          timeoutMs: 50,
          fallback: { strategy: 'default', response: { status: 200, body: 'fallback answer' } },
        },
        logs,
      );
      const release = gate();
      let finished = false;
      app.get('/slow', async (_request, reply) => {
        await release.promise;
        finished = true;
        if (style === 'send') return reply.code(201).send('late answer');
        return 'late answer';
      });
      const response = await app.inject('/slow');
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe('fallback answer');
      expect(response.headers['x-circuit-fallback']).toBe('default');
      expect(registry.get('GET /slow')?.stats()).toMatchObject({ timeouts: 1, failures: 1 });
      release.open();
      await until(() => finished);
      await delay(20);
      expect(logs.filter((line) => line.level >= 40)).toEqual([]);
      expect(registry.get('GET /slow')?.stats()).toMatchObject({ totalCalls: 1, successes: 0 });
    },
  );

  it("timeout: sends the handler's answer that overtakes a slow fallback, and does not count that fallback", async () => {
    const fallbackReady = gate();
    const slowFallback = async () => {
      await fallbackReady.promise;
      return { body: 'fallback' };
    };
    await build({ timeoutMs: 50, fallback: { strategy: 'custom', handler: slowFallback, timeoutMs: 10_000 } });
    app.get('/slow', async () => {
      await delay(120);
      return 'handler';
    });
    const response = await app.inject('/slow');
    const events: unknown[] = [];
    registry.get('GET /slow')?.on('fallback', (event) => events.push(event));
    fallbackReady.open();
    await delay(20);

    expect(response.body).toBe('handler');
    expect(registry.get('GET /slow')?.stats().timeouts).toBe(1);
    expect(registry.get('GET /slow')?.stats().fallbacks).toEqual({});
    expect(events).toEqual([]);
  });

  it('timeout: sends the fallback without the headers the handler set about its own answer', async () => {
    registry = new Registry();
    app = fastify();
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('access-control-allow-origin', '*');
      reply.header('content-security-policy', "default-src 'self'");
    });
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { body: { degraded: true } } },
    });
    app.get('/report', async (_request, reply) => {
      reply.headers(HANDLER_ANSWER_HEADERS);
      reply.raw.setHeader('content-language', 'en');
      await delay(250);
      return 'late';
    });
    const response = await app.inject('/report');
    expect(response.json()).toEqual({ degraded: true });
    expectFallbackWithoutHandlerHeaders((name) => response.headers[name] as string | undefined);
    expect(response.headers['content-language']).toBeUndefined();
  });

  it("timeout: sends no fallback over an answer that the app's own async onSend hook still holds back", async () => {
    const logs: LogLine[] = [];
    registry = new Registry();
    app = fastify(capturedLogger(logs));
    app.addHook('onSend', async (_request, _reply, payload) => {
      await delay(80);
      return payload;
    });
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { status: 503, body: { fallback: true } } },
    });
    app.get('/signed', async (_request, reply) => {
      await delay(10);
      return reply.type('text/plain').send('real answer');
    });
    const response = await app.inject('/signed');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('real answer');
    expect(response.headers['x-circuit-fallback']).toBeUndefined();
    await delay(20);
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('timeout: an onSend hook that fails on the fallback still gets the error answered', async () => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { status: 200, body: { degraded: true } } },
    });
    app.addHook('onSend', async (_request, _reply, payload) => {
      if (String(payload).includes('degraded')) throw new Error('signing failed');
      return payload;
    });
    app.get('/slow', async () => {
      await delay(150);
      return 'late';
    });
    const answered = app.inject('/slow').then((response) => response.statusCode);
    expect(await Promise.race([answered, delay(2_000).then(() => 'no answer')])).toBe(500);
  });

  it("timeout: a handler that fails after the fallback went out, while the app's async onSend hook holds it, changes nothing", async () => {
    const logs: LogLine[] = [];
    registry = new Registry();
    app = fastify(capturedLogger(logs));
    app.addHook('onSend', async (_request, _reply, payload) => {
      await delay(60);
      return payload;
    });
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { status: 200, body: { degraded: true } } },
    });
    let failed = false;
    app.get('/slow', async () => {
      await delay(70);
      failed = true;
      throw new Error('late failure');
    });
    const response = await app.inject('/slow');
    expect(failed).toBe(true);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ degraded: true });
    expect(response.headers['x-circuit-fallback']).toBe('default');
    await delay(20);
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
    expect(registry.get('GET /slow')?.stats()).toMatchObject({ totalCalls: 1, timeouts: 1 });
  });

  it("timeout: an onSend hook that fails on the fallback gets the app's error handler's answer, whatever it sends", async () => {
    const logs: LogLine[] = [];
    registry = new Registry();
    app = fastify(capturedLogger(logs));
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { status: 200, body: { degraded: true } } },
    });
    app.setErrorHandler((error: Error, _request, reply) => reply.code(502).send({ problem: error.message }));
    app.addHook('onSend', async (_request, _reply, payload) => {
      if (String(payload).includes('degraded')) throw new Error('signing failed');
      return payload;
    });
    let finished = false;
    app.get('/slow', async () => {
      await delay(150);
      finished = true;
      return 'late';
    });
    const answered = app.inject('/slow').then((response) => `${response.statusCode} ${response.body}`);
    expect(await Promise.race([answered, delay(2_000).then(() => 'no answer')])).toBe(
      '502 {"problem":"signing failed"}',
    );
    // The handler's late answer, after that one, is dropped quietly too.
    await until(() => finished);
    await delay(20);
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
  });

  it.each([
    ['a Node stream', () => new Readable({ read() {} }), (body: unknown) => (body as Readable).destroyed],
    ['a web stream', () => new ReadableStream({ pull() {} }), (body: unknown) => cancelled.has(body as object)],
    [
      'a fetch Response',
      () => new Response(new ReadableStream({ pull() {} })),
      (body: unknown) => cancelled.has((body as Response).body as object),
    ],
  ])('timeout: closes %s that the handler sends after the fallback went out', async (_what, make, closed) => {
    registry = new Registry();
    app = fastify();
    await app.register(breakwater, {
      registry,
      timeoutMs: 50,
      fallback: { strategy: 'default', response: { status: 200, body: 'fallback answer' } },
    });
    let late: unknown;
    app.get('/download', async (_request, reply) => {
      await delay(100);
      late = watchCancel(make());
      return reply.type('text/plain').send(late);
    });
    const response = await app.inject('/download');
    expect(response.body).toBe('fallback answer');
    await until(() => late !== undefined);
    // An open file, or an upstream's socket, that nothing will ever read or close otherwise.
    await until(() => closed(late), 1_000);
  });

  it('cache: a route declared before the plugin loaded keeps and serves responses with its own cache fallback', async () => {
    registry = new Registry();
    app = fastify();
    let down = false;
    app.get('/early', { config: { circuitBreaker: { fallback: { strategy: 'cache' } } } }, async (_request, reply) =>
      down ? reply.code(500).send('down') : { early: true },
    );
    await app.register(breakwater, { registry, failureThreshold: 1 });
    const fresh = await app.inject('/early');
    down = true;
    expect((await app.inject('/early')).statusCode).toBe(500);
    await expectCachedCopy('/early', fresh);
  });

  it('timeout: does not put a timed-out response in the cache', async () => {
    await build({ timeoutMs: 50, failureThreshold: 5, fallback: { strategy: 'cache' } });
    let slow = true;
    app.get('/sometimes-slow', async () => {
      if (slow) await delay(100);
      return { slow };
    });
    expect((await app.inject('/sometimes-slow')).statusCode).toBe(503);
    slow = false;
    registry.get('GET /sometimes-slow')?.forceOpen();
    expect((await app.inject('/sometimes-slow')).statusCode).toBe(503);
  });
});
