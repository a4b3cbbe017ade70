import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import type { FallbackEvent } from '../circuit/events.js';
import { CircuitState } from '../circuit/state.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { Registry } from '../registry/registry.js';
import { FALLBACK_HEADER, FallbackEngine, validateFallback } from './fallback-engine.js';
import type { CachedResponse, CacheStore, FallbackOptions, RequestInfo } from './types.js';

/** A tiny real store: a Map that honours the TTL it is given, on the same clock as the breaker. */
function mapStore(clock: { now(): number } = { now: () => 0 }) {
  const map = new Map<string, { value: CachedResponse; expires: number }>();
  const ttls: number[] = [];
  const store: CacheStore = {
    get(key) {
      const entry = map.get(key);
      if (entry === undefined || entry.expires < clock.now()) return undefined;
      return entry.value;
    },
    set(key, value, ttlMs) {
      ttls.push(ttlMs);
      map.set(key, { value, expires: clock.now() + ttlMs });
    },
  };
  return { store, map, ttls };
}

interface Req {
  user?: string;
}

const registry = new Registry();
const get = (url: string, headers: RequestInfo['headers'] = {}): RequestInfo => ({ method: 'GET', url, headers });
const ok = (body: string | Uint8Array, headers: Record<string, string | string[]> = {}) => ({
  status: 200,
  headers,
  body,
});

function setup(name: string) {
  const clock = { t: 1_000_000, now: () => clock.t };
  const breaker = new CircuitBreaker({ name, clock });
  const events: FallbackEvent[] = [];
  breaker.on('fallback', (event) => events.push(event));
  const error = new CircuitOpenError(name, CircuitState.OPEN, 5_000, 'open');
  return { clock, breaker, events, error };
}

describe('validateFallback', () => {
  it.each([
    [null, /Invalid option "fallback": got null, expected an object with a "strategy"/],
    [{}, /"fallback.strategy": got undefined, expected cache, default, alternative_service, custom/],
    [{ strategy: 'default', response: {}, timeoutMs: 0 }, /"fallback.timeoutMs": got 0, expected a positive number/],
    [{ strategy: 'custom', handler: () => ({}), timeoutMs: 'soon' }, /"fallback.timeoutMs": got "soon"/],
    [{ strategy: 'cache', ttlMs: -1 }, /"fallback.ttlMs": got -1/],
    [{ strategy: 'cache', maxEntries: 0 }, /"fallback.maxEntries": got 0/],
    [{ strategy: 'cache', maxEntryBytes: Number.POSITIVE_INFINITY }, /"fallback.maxEntryBytes": got Infinity/],
    [{ strategy: 'cache', cacheKey: 'url' }, /"fallback.cacheKey": got "url", expected a function/],
    [{ strategy: 'cache', methods: 'GET' }, /"fallback.methods": got "GET", expected an array of HTTP methods/],
    [{ strategy: 'cache', methods: ['GET', 1] }, /"fallback.methods"/],
    [{ strategy: 'cache', cachePrivate: 'yes' }, /"fallback.cachePrivate": got "yes", expected true or false/],
    [
      { strategy: 'cache', store: { get: () => undefined } },
      /"fallback.store": got an object, expected a store with get/,
    ],
    [{ strategy: 'default' }, /"fallback.response": got undefined, expected a response/],
    [{ strategy: 'default', response: 'hi' }, /"fallback.response": got "hi"/],
    [{ strategy: 'default', response: { status: 700 } }, /"fallback.response.status": got 700, expected an integer/],
    [{ strategy: 'alternative_service' }, /"fallback.url": got undefined, expected an absolute http\(s\) URL/],
    [{ strategy: 'alternative_service', url: '/relative' }, /"fallback.url": got "\/relative"/],
    [{ strategy: 'alternative_service', url: 'file:///etc/passwd' }, /"fallback.url": got "file:/],
    [
      { strategy: 'alternative_service', url: 'http://b', breaker: { failureThreshold: -1 } },
      /Invalid option "fallback.breaker.failureThreshold": got -1/,
    ],
    [
      { strategy: 'alternative_service', url: 'http://b', breaker: { retries: 3 } },
      /Unknown option "fallback.breaker.retries"/,
    ],
    [{ strategy: 'custom' }, /"fallback.handler": got undefined, expected a function \(req, error\) => response/],
    [
      { strategy: 'cache', ttl: 60_000 },
      /Unknown option "fallback.ttl": got 60000, expected one of strategy, timeoutMs, ttlMs/,
    ],
    [{ strategy: 'custom', handle: () => ({}) }, /Unknown option "fallback.handle": got a function/],
    [{ strategy: 'default', response: {}, url: 'http://b' }, /Unknown option "fallback.url"/],
    [{ strategy: 'cache', maxEntries: 1.5 }, /"fallback.maxEntries": got 1.5, expected an integer from 1 to 1000000/],
    [{ strategy: 'cache', maxEntries: 2 ** 31 }, /"fallback.maxEntries": got 2147483648, expected an integer from 1/],
    [{ strategy: 'cache', methods: ['G ET'] }, /"fallback.methods"/],
    [
      { strategy: 'default', response: { body: () => 1 } },
      /"fallback.response.body": got a function, expected a string/,
    ],
    [{ strategy: 'default', response: { headers: 'x' } }, /"fallback.response.headers": got "x", expected an object/],
    [{ strategy: 'default', response: { headers: { 'a b': '1' } } }, /"fallback.response.headers": got "a b"/],
    [{ strategy: 'default', response: { headers: { x: 'a\nb' } } }, /"fallback.response.headers.x": got "a\\nb"/],
    [
      { strategy: 'alternative_service', url: 'http://b/api?v=2' },
      /"fallback.url": got "http:\/\/b\/api\?v=2", expected .* without credentials, query or fragment/,
    ],
    [{ strategy: 'alternative_service', url: 'http://u:p@b' }, /"fallback.url": got "http:\/\/u:p@b"/],
  ])('rejects %j with a TypeError naming the field', (options, message) => {
    expect(() => validateFallback(options)).toThrow(TypeError);
    expect(() => validateFallback(options)).toThrow(message);
  });

  it('accepts a valid option of every strategy', () => {
    expect(() => validateFallback({ strategy: 'cache', ttlMs: 1, cachePrivate: true, methods: ['GET'] })).not.toThrow();
    expect(() => validateFallback({ strategy: 'default', response: { status: 200, body: { a: 1 } } })).not.toThrow();
    expect(() =>
      validateFallback({ strategy: 'alternative_service', url: 'https://backup.example/api', breaker: {} }),
    ).not.toThrow();
    expect(() => validateFallback({ strategy: 'custom', handler: () => ({}), timeoutMs: 100 })).not.toThrow();
  });

  it("checks the backup's breaker options over the registry defaults they are merged with", () => {
    const defaults = { slowCallDurationMs: 500, slowCallRateThreshold: 0.5 };
    const options = { strategy: 'alternative_service', url: 'http://b', breaker: { slowCallRateThreshold: 0.9 } };
    expect(() => validateFallback(options, defaults)).not.toThrow();
    expect(() => validateFallback(options)).toThrow(/"fallback.breaker.slowCallDurationMs": got undefined/);
    const registry = new Registry({ defaults });
    expect(() => new FallbackEngine(options as FallbackOptions, { registry })).not.toThrow();
  });

  it('is what the engine runs at construction', () => {
    expect(() => new FallbackEngine({ strategy: 'custom' } as never, { registry })).toThrow(/fallback.handler/);
  });
});

describe('default strategy', () => {
  it('answers the fixed response with x-circuit-fallback: default', async () => {
    const { breaker, error } = setup('default-fixed');
    const engine = new FallbackEngine(
      {
        strategy: 'default',
        response: { status: 200, headers: { 'X-Source': 'static' }, body: { products: [], degraded: true } },
      },
      { registry },
    );
    expect(engine.strategy).toBe('default');
    expect(await engine.respond(get('/products'), {}, error, breaker)).toEqual({
      status: 200,
      headers: {
        'x-source': 'static',
        'content-type': 'application/json; charset=utf-8',
        [FALLBACK_HEADER]: 'default',
      },
      body: '{"products":[],"degraded":true}',
    });
  });

  it('defaults the status to 200', async () => {
    const { breaker, error } = setup('default-status');
    const engine = new FallbackEngine({ strategy: 'default', response: { body: 'sorry' } }, { registry });
    expect((await engine.respond(get('/'), {}, error, breaker))?.status).toBe(200);
  });
});

describe('custom strategy', () => {
  it('gets the framework request and the reason, and may be async', async () => {
    const { breaker, error } = setup('custom-async');
    const seen: [Req, Error][] = [];
    const engine = new FallbackEngine<Req>(
      {
        strategy: 'custom',
        handler: async (req, reason) => {
          seen.push([req, reason]);
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { status: 202, body: `hello ${req.user}` };
        },
      },
      { registry },
    );
    const wire = await engine.respond(get('/'), { user: 'ada' }, error, breaker);
    expect(wire).toEqual({
      status: 202,
      headers: { 'content-type': 'text/plain; charset=utf-8', [FALLBACK_HEADER]: 'custom' },
      body: 'hello ada',
    });
    expect(seen).toEqual([[{ user: 'ada' }, error]]);
    const timeout = new CircuitTimeoutError('custom-async', 100);
    await engine.respond(get('/'), { user: 'bob' }, timeout, breaker);
    expect(seen[1]?.[1]).toBe(timeout);
  });

  it('answers undefined and counts a failed custom fallback when the handler throws', async () => {
    const { breaker, error, events } = setup('custom-throws');
    const engine = new FallbackEngine(
      {
        strategy: 'custom',
        handler: () => {
          throw new Error('boom');
        },
      },
      { registry },
    );
    expect(await engine.respond(get('/'), {}, error, breaker)).toBeUndefined();
    expect(breaker.stats().fallbacks).toEqual({ custom: { served: 0, failed: 1 } });
    expect(events).toEqual([{ name: 'custom-throws', strategy: 'custom', served: false }]);
  });

  it('answers undefined when the handler gives a header Node would refuse to send, before anything is written', async () => {
    const { breaker, error } = setup('custom-bad-header');
    for (const headers of [{ 'x-profile-name': 'Ωmega' }, { 'x-line': 'a\r\nb' }, { 'bad name': 'x' }]) {
      const engine = new FallbackEngine({ strategy: 'custom', handler: () => ({ headers, body: 'x' }) }, { registry });
      expect(await engine.respond(get('/'), {}, error, breaker)).toBeUndefined();
    }
    expect(breaker.stats().fallbacks).toEqual({ custom: { served: 0, failed: 3 } });
  });

  it('answers undefined when the handler returns something that is not a response', async () => {
    const { breaker, error } = setup('custom-invalid');
    const engine = new FallbackEngine({ strategy: 'custom', handler: () => ({ status: 42 }) as never }, { registry });
    expect(await engine.respond(get('/'), {}, error, breaker)).toBeUndefined();
    const nothing = new FallbackEngine({ strategy: 'custom', handler: () => undefined as never }, { registry });
    expect(await nothing.respond(get('/'), {}, error, breaker)).toBeUndefined();
    expect(breaker.stats().fallbacks.custom).toEqual({ served: 0, failed: 2 });
  });

  it('answers undefined once timeoutMs passes when the handler hangs', async () => {
    const { breaker, error } = setup('custom-hangs');
    const lines: unknown[] = [];
    const logger = { warn: () => {}, info: () => {}, error: (m: unknown) => void lines.push(m) };
    const engine = new FallbackEngine(
      { strategy: 'custom', timeoutMs: 30, handler: () => new Promise<never>(() => {}) },
      { registry, logger },
    );
    expect(await engine.respond(get('/'), {}, error, breaker)).toBeUndefined();
    expect(breaker.stats().fallbacks.custom).toEqual({ served: 0, failed: 1 });
    expect(String(lines[0])).toMatch(/fallback "custom" failed .*took longer than 30 ms/);
  });
});

describe('cache strategy: what is kept', () => {
  it('wants responses to GET and HEAD only, by default', () => {
    const engine = new FallbackEngine({ strategy: 'cache', store: mapStore().store }, { registry });
    expect(engine.wantsResponse(get('/'))).toBe(true);
    expect(engine.wantsResponse({ method: 'HEAD', url: '/', headers: {} })).toBe(true);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      expect(engine.wantsResponse({ method, url: '/', headers: {} })).toBe(false);
    }
  });

  it('wants the methods listed in methods, whatever their case', () => {
    const engine = new FallbackEngine(
      { strategy: 'cache', store: mapStore().store, methods: ['get', 'post'] },
      { registry },
    );
    expect(engine.wantsResponse({ method: 'POST', url: '/search', headers: {} })).toBe(true);
    expect(engine.wantsResponse({ method: 'get', url: '/', headers: {} })).toBe(true);
    expect(engine.wantsResponse({ method: 'HEAD', url: '/', headers: {} })).toBe(false);
  });

  it('does not want requests with Authorization or Cookie unless cachePrivate', () => {
    const shared = new FallbackEngine({ strategy: 'cache', store: mapStore().store }, { registry });
    expect(shared.wantsResponse(get('/', { authorization: 'Bearer x' }))).toBe(false);
    expect(shared.wantsResponse(get('/', { cookie: 'sid=1' }))).toBe(false);
    const open = new FallbackEngine({ strategy: 'cache', store: mapStore().store, cachePrivate: true }, { registry });
    expect(open.wantsResponse(get('/', { authorization: 'Bearer x' }))).toBe(true);
    expect(open.wantsResponse(get('/', { cookie: 'sid=1' }))).toBe(true);
  });

  it('keeps only 2xx responses', () => {
    const { store, map } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    for (const status of [100, 199, 200, 204, 299, 300, 304, 404, 500]) {
      engine.remember(get(`/${status}`), {}, { status, headers: {}, body: 'x' }, 0);
    }
    expect([...map.keys()]).toEqual(['GET /200', 'GET /204', 'GET /299']);
  });

  it('does not keep a part of a resource (206, or an answer to a Range request), nor another fallback', () => {
    const { store, map } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    engine.remember(
      get('/partial'),
      {},
      { status: 206, headers: { 'content-range': 'bytes 0-4/35' }, body: 'HELLO' },
      0,
    );
    engine.remember(get('/ranged', { range: 'bytes=0-' }), {}, ok('whole, but asked for in part'), 0);
    engine.remember(get('/placeholder'), {}, ok('{"items":[]}', { 'x-circuit-fallback': 'default' }), 0);
    engine.remember(get('/real'), {}, ok('{"items":[1]}'), 0);
    expect([...map.keys()]).toEqual(['GET /real']);
  });

  it('does not keep an answer that varies with request headers the key does not hold', () => {
    const { store, map } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    engine.remember(get('/language'), {}, ok('Bonjour', { vary: 'Accept-Language' }), 0);
    engine.remember(get('/format'), {}, ok('x', { vary: ['Origin', 'Accept'] }), 0);
    engine.remember(get('/anything'), {}, ok('x', { vary: '*' }), 0);
    engine.remember(get('/cors'), {}, ok('x', { vary: 'Origin, Accept-Encoding' }), 0);
    engine.remember(get('/plain'), {}, ok('x'), 0);
    expect([...map.keys()]).toEqual(['GET /cors', 'GET /plain']);
  });

  it('does not keep responses with Set-Cookie or Cache-Control private/no-store unless cachePrivate', () => {
    const privateHeaders: Record<string, string | string[]>[] = [
      { 'set-cookie': ['sid=1; HttpOnly'] },
      { 'cache-control': 'private' },
      { 'cache-control': 'max-age=60, Private' },
      { 'cache-control': 'private="x-user"' },
      { 'cache-control': 'no-store' },
      { 'cache-control': ['public', 'no-store'] },
    ];
    const shared = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store: shared.store }, { registry });
    for (const [i, headers] of privateHeaders.entries()) engine.remember(get(`/p${i}`), {}, ok('x', headers), 0);
    engine.remember(get('/public'), {}, ok('x', { 'cache-control': 'public, max-age=60, no-cache' }), 0);
    expect([...shared.map.keys()]).toEqual(['GET /public']);

    const opted = mapStore();
    const open = new FallbackEngine({ strategy: 'cache', store: opted.store, cachePrivate: true }, { registry });
    for (const [i, headers] of privateHeaders.entries()) open.remember(get(`/p${i}`), {}, ok('x', headers), 0);
    expect(opted.map.size).toBe(privateHeaders.length);
  });

  it('does not keep encoded bodies, which it would replay without their Content-Encoding', () => {
    const { store, map } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store, cachePrivate: true }, { registry });
    engine.remember(get('/gzip'), {}, ok(new Uint8Array([0x1f, 0x8b, 8]), { 'content-encoding': 'gzip' }), 0);
    engine.remember(get('/br'), {}, ok('x', { 'content-encoding': ['br'] }), 0);
    engine.remember(get('/identity'), {}, ok('x', { 'content-encoding': ' Identity ' }), 0);
    engine.remember(get('/plain'), {}, ok('x'), 0);
    expect([...map.keys()]).toEqual(['GET /identity', 'GET /plain']);
  });

  it('does not keep bodies above maxEntryBytes, counting bytes rather than characters', () => {
    const { store, map } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store, maxEntryBytes: 4 }, { registry });
    engine.remember(get('/fits'), {}, ok('1234'), 0);
    engine.remember(get('/too-long'), {}, ok('12345'), 0);
    engine.remember(get('/multibyte'), {}, ok('ééé'), 0);
    engine.remember(get('/bytes'), {}, ok(new Uint8Array(5)), 0);
    expect([...map.keys()]).toEqual(['GET /fits']);
  });

  it('keeps the content-type but no other header, with the TTL and the time given', () => {
    const { store, map, ttls } = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store, ttlMs: 60_000 }, { registry });
    engine.remember(get('/a'), {}, ok('{}', { 'content-type': 'application/json', etag: '"1"', 'x-user': 'ada' }), 42);
    expect(map.get('GET /a')?.value).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      binary: false,
      storedAt: 42,
    });
    expect(ttls).toEqual([60_000]);
  });

  it('stores with the default TTL of five minutes', () => {
    const { store, ttls } = mapStore();
    new FallbackEngine({ strategy: 'cache', store }, { registry }).remember(get('/'), {}, ok('x'), 0);
    expect(ttls).toEqual([300_000]);
  });

  it("builds the in-memory store from the adapter's factory with maxEntries", () => {
    const sizes: number[] = [];
    const factory = (size: number) => {
      sizes.push(size);
      return mapStore().store;
    };
    new FallbackEngine({ strategy: 'cache' }, { registry, memoryStore: factory });
    new FallbackEngine({ strategy: 'cache', maxEntries: 5 }, { registry, memoryStore: factory });
    expect(sizes).toEqual([1000, 5]);
  });

  it('logs a store that fails to write, without throwing', async () => {
    const lines: unknown[] = [];
    const logger = { warn: () => {}, info: () => {}, error: (m: unknown) => void lines.push(m) };
    const throwing = new FallbackEngine(
      {
        strategy: 'cache',
        store: {
          get: () => undefined,
          set: () => {
            throw new Error('disk full');
          },
        },
      },
      { registry, logger },
    );
    expect(() => throwing.remember(get('/'), {}, ok('x'), 0)).not.toThrow();
    const rejecting = new FallbackEngine(
      { strategy: 'cache', store: { get: () => undefined, set: () => Promise.reject(new Error('redis down')) } },
      { registry, logger },
    );
    rejecting.remember(get('/'), {}, ok('x'), 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map(String)).toEqual([
      expect.stringMatching(/fallback "cache" failed .*"stage":"store".*disk full/),
      expect.stringMatching(/fallback "cache" failed .*redis down/),
    ]);
  });
});

describe('cache strategy: what is served', () => {
  it('serves a hit with its age and x-circuit-fallback: cache, and counts it', async () => {
    const { clock, breaker, error, events } = setup('cache-hit');
    const { store } = mapStore(clock);
    const engine = new FallbackEngine({ strategy: 'cache', store, ttlMs: 60_000 }, { registry });
    engine.remember(get('/items?page=2'), {}, ok('[1,2]', { 'content-type': 'application/json' }), clock.now());
    clock.t += 12_500;
    expect(await engine.respond(get('/items?page=2'), {}, error, breaker)).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', age: '12', [FALLBACK_HEADER]: 'cache' },
      body: '[1,2]',
    });
    expect(breaker.stats().fallbacks).toEqual({ cache: { served: 1, failed: 0 } });
    expect(events).toEqual([{ name: 'cache-hit', strategy: 'cache', served: true }]);
  });

  it('keys by method and full URL, query included', async () => {
    const { clock, breaker, error } = setup('cache-key');
    const engine = new FallbackEngine({ strategy: 'cache', store: mapStore(clock).store }, { registry });
    engine.remember(get('/items?page=1'), {}, ok('page 1'), clock.now());
    expect(await engine.respond(get('/items?page=2'), {}, error, breaker)).toBeUndefined();
    expect(await engine.respond({ method: 'POST', url: '/items?page=1', headers: {} }, {}, error, breaker)).toBe(
      undefined,
    );
    expect((await engine.respond(get('/items?page=1'), {}, error, breaker))?.body).toBe('page 1');
  });

  it('keeps no answer to HEAD, which has no body, and answers HEAD with what GET kept', async () => {
    const { clock, breaker, error } = setup('cache-head');
    const engine = new FallbackEngine(
      { strategy: 'cache', store: mapStore(clock).store, cacheKey: (req: { path: string }) => req.path },
      { registry },
    );
    const head = { method: 'HEAD', url: '/items', headers: {} };
    engine.remember(get('/items'), { path: '/items' }, ok('[1,2]'), clock.now());
    engine.remember(head, { path: '/items' }, ok(''), clock.now());
    expect((await engine.respond(get('/items'), { path: '/items' }, error, breaker))?.body).toBe('[1,2]');
    expect((await engine.respond(head, { path: '/items' }, error, breaker))?.body).toBe('[1,2]');
    const byDefault = new FallbackEngine({ strategy: 'cache', store: mapStore(clock).store }, { registry });
    byDefault.remember(get('/items'), {}, ok('[1,2]'), clock.now());
    expect((await byDefault.respond(head, {}, error, breaker))?.body).toBe('[1,2]');
  });

  it("answers HEAD with what GET kept under a custom cacheKey that reads the request's method", async () => {
    const { clock, breaker, error } = setup('cache-head-method');
    const engine = new FallbackEngine(
      {
        strategy: 'cache',
        store: mapStore(clock).store,
        cacheKey: (req: { method: string; tenant: string; get(): string }) =>
          `${req.tenant} ${req.method} ${req.get()}`,
      },
      { registry },
    );
    const req = (method: string) => ({ method, tenant: 't1', get: () => '/items' });
    engine.remember(get('/items'), req('GET'), ok('[1,2]'), clock.now());
    const head = { method: 'HEAD', url: '/items', headers: {} };
    expect((await engine.respond(head, req('HEAD'), error, breaker))?.body).toBe('[1,2]');
  });

  it('answers undefined on a miss and counts a failed cache fallback', async () => {
    const { clock, breaker, error, events } = setup('cache-miss');
    const engine = new FallbackEngine({ strategy: 'cache', store: mapStore(clock).store }, { registry });
    expect(await engine.respond(get('/never'), {}, error, breaker)).toBeUndefined();
    expect(breaker.stats().fallbacks).toEqual({ cache: { served: 0, failed: 1 } });
    expect(events).toEqual([{ name: 'cache-miss', strategy: 'cache', served: false }]);
  });

  it('logs a miss as a warning naming the request', async () => {
    const { clock, breaker, error } = setup('cache-miss-log');
    const lines: [string, unknown][] = [];
    const logger = {
      warn: (m: unknown) => void lines.push(['warn', m]),
      info: () => {},
      error: (m: unknown) => void lines.push(['error', m]),
    };
    const engine = new FallbackEngine({ strategy: 'cache', store: mapStore(clock).store }, { registry, logger });
    await engine.respond(get('/missing?x=1'), {}, error, breaker);
    await engine.respond({ method: 'POST', url: '/orders', headers: {} }, {}, error, breaker);
    expect(lines).toEqual([
      ['warn', expect.stringMatching(/fallback "cache" failed .*nothing cached for GET \/missing\?x=1/)],
      ['warn', expect.stringMatching(/POST \/orders is not served from the cache/)],
    ]);
  });

  it("stops serving an entry older than ttlMs on the breaker's clock, even if the store still has it", async () => {
    const { clock, breaker, error } = setup('cache-ttl');
    const forever = { map: new Map<string, CachedResponse>() };
    const store: CacheStore = { get: (k) => forever.map.get(k), set: (k, v) => void forever.map.set(k, v) };
    const engine = new FallbackEngine({ strategy: 'cache', store, ttlMs: 10_000 }, { registry });
    engine.remember(get('/a'), {}, ok('fresh'), clock.now());
    clock.t += 10_000;
    expect((await engine.respond(get('/a'), {}, error, breaker))?.headers.age).toBe('10');
    clock.t += 1;
    expect(await engine.respond(get('/a'), {}, error, breaker)).toBeUndefined();
    expect(forever.map.size).toBe(1);
  });

  it('round-trips binary bodies byte for byte', async () => {
    const { clock, breaker, error } = setup('cache-binary');
    const { store, map } = mapStore(clock);
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    engine.remember(get('/logo.png'), {}, ok(bytes, { 'content-type': 'image/png' }), clock.now());
    expect(map.get('GET /logo.png')?.value).toMatchObject({
      binary: true,
      body: Buffer.from(bytes).toString('base64'),
    });
    const hit = await engine.respond(get('/logo.png'), {}, error, breaker);
    expect(hit?.body).toBeInstanceOf(Uint8Array);
    expect(hit?.body).toEqual(bytes);
    expect(hit?.headers['content-type']).toBe('image/png');
  });

  it('serves under the cacheKey option, built from the framework request', async () => {
    const { clock, breaker, error } = setup('cache-custom-key');
    const { store, map } = mapStore(clock);
    const engine = new FallbackEngine<Req>(
      { strategy: 'cache', store, cacheKey: (req) => `user:${req.user}` },
      { registry },
    );
    engine.remember(get('/profile?v=1'), { user: 'ada' }, ok('ada profile'), clock.now());
    expect([...map.keys()]).toEqual(['user:ada']);
    expect((await engine.respond(get('/profile?v=2'), { user: 'ada' }, error, breaker))?.body).toBe('ada profile');
    expect(await engine.respond(get('/profile?v=1'), { user: 'bob' }, error, breaker)).toBeUndefined();
  });

  it('does not serve a request with Authorization unless cachePrivate', async () => {
    const { clock, breaker, error } = setup('cache-private');
    const { store } = mapStore(clock);
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    engine.remember(get('/a'), {}, ok('public'), clock.now());
    expect(await engine.respond(get('/a', { authorization: 'Bearer t' }), {}, error, breaker)).toBeUndefined();
    const open = new FallbackEngine({ strategy: 'cache', store, cachePrivate: true }, { registry });
    expect((await open.respond(get('/a', { authorization: 'Bearer t' }), {}, error, breaker))?.body).toBe('public');
  });

  it('works with an async store, and answers undefined when the store fails to read', async () => {
    const { clock, breaker, error } = setup('cache-async');
    const inner = mapStore(clock);
    const asyncStore: CacheStore = {
      get: async (key) => inner.store.get(key),
      set: async (key, value, ttl) => inner.store.set(key, value, ttl),
    };
    const engine = new FallbackEngine({ strategy: 'cache', store: asyncStore }, { registry });
    engine.remember(get('/a'), {}, ok('async'), clock.now());
    expect((await engine.respond(get('/a'), {}, error, breaker))?.body).toBe('async');
    const broken = new FallbackEngine(
      { strategy: 'cache', store: { get: () => Promise.reject(new Error('down')), set: () => {} } },
      { registry },
    );
    expect(await broken.respond(get('/a'), {}, error, breaker)).toBeUndefined();
    expect(breaker.stats().fallbacks.cache).toEqual({ served: 1, failed: 1 });
  });
});

describe('fallback stats', () => {
  it('counts served and failed per strategy on the breaker, and emits one fallback event each', async () => {
    const { clock, breaker, error, events } = setup('stats');
    const fixed = new FallbackEngine({ strategy: 'default', response: { body: 'x' } }, { registry });
    const cache = new FallbackEngine({ strategy: 'cache', store: mapStore(clock).store }, { registry });
    const failing = new FallbackEngine(
      { strategy: 'custom', handler: () => Promise.reject(new Error()) },
      { registry },
    );
    await fixed.respond(get('/'), {}, error, breaker);
    await fixed.respond(get('/'), {}, error, breaker);
    await cache.respond(get('/'), {}, error, breaker);
    await failing.respond(get('/'), {}, error, breaker);
    expect(breaker.stats().fallbacks).toEqual({
      default: { served: 2, failed: 0 },
      cache: { served: 0, failed: 1 },
      custom: { served: 0, failed: 1 },
    });
    expect(events.map((e) => `${e.strategy}:${e.served}`)).toEqual([
      'default:true',
      'default:true',
      'cache:false',
      'custom:false',
    ]);
    breaker.reset();
    expect(breaker.stats().fallbacks).toEqual({});
  });
});
