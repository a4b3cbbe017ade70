import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { Registry } from '../registry/registry.js';
import { FallbackEngine, validateFallback } from './fallback-engine.js';
import type { CachedResponse, CacheStore, RequestInfo } from './types.js';

function mapStore(): CacheStore & { map: Map<string, CachedResponse> } {
  const map = new Map<string, CachedResponse>();
  return { map, get: (key) => map.get(key), set: (key, value) => map.set(key, value) };
}

const clock = {
  t: 0,
  now() {
    return this.t;
  },
};
const get = (url: string, headers: RequestInfo['headers'] = {}): RequestInfo => ({ method: 'GET', url, headers });
const error = new Error('circuit open');

describe('validateFallback', () => {
  it.each([
    [{ strategy: 'nope' }, /fallback\.strategy": got "nope", expected cache, default, alternative_service, custom/],
    [{ strategy: 'cache', ttlMs: 0 }, /fallback\.ttlMs": got 0/],
    [{ strategy: 'default' }, /fallback\.response"/],
    [
      { strategy: 'alternative_service', url: 'ftp://x' },
      /fallback\.url": got "ftp:\/\/x", expected an absolute http\(s\) URL/,
    ],
    [{ strategy: 'custom', handler: 'x' }, /fallback\.handler"/],
  ])('rejects %j', (options, message) => {
    expect(() => validateFallback(options)).toThrow(TypeError);
    expect(() => validateFallback(options)).toThrow(message);
  });
});

describe('FallbackEngine', () => {
  const registry = new Registry();
  const breaker = new CircuitBreaker({ name: 'b', clock });

  it('caches 2xx responses per method + URL and serves them with age and x-circuit-fallback', async () => {
    const store = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', ttlMs: 10_000, store }, { registry });
    engine.remember(
      get('/a?x=1'),
      {},
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
      0,
    );
    engine.remember(get('/b'), {}, { status: 500, headers: {}, body: 'no' }, 0);
    expect([...store.map.keys()]).toEqual(['GET /a?x=1']);
    clock.t = 3_000;
    const hit = await engine.respond(get('/a?x=1'), {}, error, breaker);
    expect(hit).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', age: '3', 'x-circuit-fallback': 'cache' },
      body: '{"a":1}',
    });
    clock.t = 10_001;
    expect(await engine.respond(get('/a?x=1'), {}, error, breaker)).toBeUndefined();
  });

  it('never keeps what may be private unless cachePrivate is on', () => {
    const store = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store }, { registry });
    const ok = { status: 200, headers: {}, body: 'x' };
    expect(engine.wantsResponse(get('/p', { authorization: 'Bearer t' }))).toBe(false);
    expect(engine.wantsResponse(get('/p', { cookie: 'sid=1' }))).toBe(false);
    expect(engine.wantsResponse({ method: 'POST', url: '/p', headers: {} })).toBe(false);
    engine.remember(get('/1'), {}, { ...ok, headers: { 'set-cookie': 'sid=2' } }, 0);
    engine.remember(get('/2'), {}, { ...ok, headers: { 'cache-control': 'private, max-age=60' } }, 0);
    engine.remember(get('/3'), {}, { ...ok, headers: { 'cache-control': 'no-store' } }, 0);
    expect(store.map.size).toBe(0);
    const open = new FallbackEngine({ strategy: 'cache', store, cachePrivate: true }, { registry });
    expect(open.wantsResponse(get('/p', { authorization: 'Bearer t' }))).toBe(true);
  });

  it('does not keep responses above maxEntryBytes, and round-trips binary bodies', async () => {
    const store = mapStore();
    const engine = new FallbackEngine({ strategy: 'cache', store, maxEntryBytes: 4 }, { registry });
    engine.remember(get('/big'), {}, { status: 200, headers: {}, body: '12345' }, clock.t);
    engine.remember(get('/bin'), {}, { status: 200, headers: {}, body: new Uint8Array([0, 255, 7]) }, clock.t);
    expect([...store.map.keys()]).toEqual(['GET /bin']);
    const hit = await engine.respond(get('/bin'), {}, error, breaker);
    expect(hit?.body).toEqual(new Uint8Array([0, 255, 7]));
  });

  it('answers undefined and counts a failure when a custom handler throws or hangs', async () => {
    const counted = new CircuitBreaker({ name: 'counted' });
    const throws = new FallbackEngine(
      {
        strategy: 'custom',
        handler: () => {
          throw new Error('bad');
        },
      },
      { registry },
    );
    expect(await throws.respond(get('/'), {}, error, counted)).toBeUndefined();
    const hangs = new FallbackEngine(
      { strategy: 'custom', timeoutMs: 30, handler: () => new Promise(() => {}) },
      { registry },
    );
    expect(await hangs.respond(get('/'), {}, error, counted)).toBeUndefined();
    const serves = new FallbackEngine({ strategy: 'default', response: { body: { ok: true } } }, { registry });
    const events: unknown[] = [];
    counted.on('fallback', (event) => events.push(event));
    expect((await serves.respond(get('/'), {}, error, counted))?.headers['x-circuit-fallback']).toBe('default');
    expect(counted.stats().fallbacks).toEqual({ custom: { served: 0, failed: 2 }, default: { served: 1, failed: 0 } });
    expect(events).toEqual([{ name: 'counted', strategy: 'default', served: true }]);
  });

  it('logs a failing fallback through the logger, without throwing', async () => {
    const lines: string[] = [];
    const logger = { warn: () => {}, info: () => {}, error: (m: unknown) => void lines.push(String(m)) };
    const engine = new FallbackEngine(
      { strategy: 'custom', handler: () => Promise.reject(new Error('handler broke')) },
      { registry, logger },
    );
    expect(await engine.respond(get('/'), {}, error, breaker)).toBeUndefined();
    expect(lines[0]).toMatch(/fallback "custom" failed .*handler broke/);
  });
});
