import { once } from 'node:events';
import { CircuitOpenError, FallbackEngine, Registry, type RequestInfo, validateFallback } from '@breakwater/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCacheStore } from '../src/index.js';
import { sleep } from './instances.js';
import { freePort, type RedisServer, startRedisServer } from './redis-server.js';

let redis: RedisServer;
let clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.kill();
});

afterEach(() => {
  for (const client of clients) client.disconnect();
  clients = [];
});

function client(port = redis.port): Redis {
  const created = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
  created.on('error', () => {});
  clients.push(created);
  return created;
}

async function connected(): Promise<Redis> {
  const created = client();
  await once(created, 'ready');
  return created;
}

const entry = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"ok":true}',
  binary: false,
  storedAt: 1,
};

describe('RedisCacheStore', () => {
  it('shares entries between instances', async () => {
    const a = new RedisCacheStore({ client: await connected(), prefix: 'cache1:' });
    const b = new RedisCacheStore({ client: await connected(), prefix: 'cache1:' });
    await a.set('GET /users/1', entry, 10_000);
    expect(await b.get('GET /users/1')).toEqual(entry);
    expect(await b.get('GET /users/2')).toBeUndefined();
  });

  it('works from the start, while the client is still connecting', async () => {
    const fresh = client();
    expect(fresh.status).toBe('connecting');
    const store = new RedisCacheStore({ client: fresh, prefix: 'cache5:' });
    await store.set('k', entry, 10_000);
    expect(await store.get('k')).toEqual(entry);
  });

  it('lets entries expire after their ttl', async () => {
    const store = new RedisCacheStore({ client: await connected(), prefix: 'cache2:' });
    await store.set('k', entry, 50);
    expect(await store.get('k')).toEqual(entry);
    await sleep(120);
    expect(await store.get('k')).toBeUndefined();
  });

  it('keeps keys apart whatever characters they hold', async () => {
    const store = new RedisCacheStore({ client: await connected(), prefix: 'cache3:' });
    const keys = ['GET /a b', 'GET /a%20b', '\ud800', '\ufffd', 'GET /ü'];
    for (const [i, key] of keys.entries()) await store.set(key, { ...entry, status: 200 + i }, 10_000);
    for (const [i, key] of keys.entries()) expect((await store.get(key))?.status).toBe(200 + i);
  });

  it('answers a miss at once, and warns once, when Redis is unreachable', async () => {
    const warnings: unknown[] = [];
    // A lookup that waited for Redis would take the whole 2 s timeout; "at once" is far below it,
    // with room for a loaded CI machine.
    const store = new RedisCacheStore({
      client: client(await freePort()),
      timeoutMs: 2_000,
      logger: { warn: (m: unknown) => warnings.push(m), info: () => {} },
    });
    await sleep(100);
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect(await store.get('k')).toBeUndefined();
      await store.set('k', entry, 1000);
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(warnings).toHaveLength(1);
  });

  it('warns once, and still serves lookups, while Redis answers but refuses writes (maxmemory reached)', async () => {
    const admin = await connected();
    const warnings: unknown[] = [];
    const infos: unknown[] = [];
    const store = new RedisCacheStore({
      client: await connected(),
      prefix: 'oom:',
      logger: { warn: (m: unknown) => warnings.push(m), info: (m: unknown) => infos.push(m) },
    });
    await store.set('kept', entry, 60_000);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      for (let i = 0; i < 10; i++) {
        await store.set(`GET /${i}`, entry, 60_000);
        expect(await store.get('kept')).toEqual(entry);
      }
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    expect(warnings).toEqual([expect.stringContaining('Redis refuses to store fallback responses (OOM')]);
    expect(infos).toEqual([]);
    await store.set('GET /after', entry, 60_000);
    expect(await store.get('GET /after')).toEqual(entry);
  });

  it('stores an entry for any ttlMs the cache fallback accepts, however long', async () => {
    const warnings: unknown[] = [];
    const store = new RedisCacheStore({
      client: await connected(),
      prefix: 'long-ttl:',
      logger: { warn: (m: unknown) => warnings.push(m), info: () => {} },
    });
    expect(() => validateFallback({ strategy: 'cache', ttlMs: 1e20 })).not.toThrow();
    await store.set('k', entry, 1e20);
    expect(await store.get('k')).toEqual(entry);
    expect(warnings).toEqual([]);
  });

  it('serves the cache fallback on one instance from a response another instance stored', async () => {
    const registry = new Registry();
    const fallback = { strategy: 'cache' as const, ttlMs: 60_000 };
    const a = new FallbackEngine(
      { ...fallback, store: new RedisCacheStore({ client: await connected(), prefix: 'cache4:' }) },
      {
        registry,
      },
    );
    const b = new FallbackEngine(
      { ...fallback, store: new RedisCacheStore({ client: await connected(), prefix: 'cache4:' }) },
      {
        registry,
      },
    );
    const info: RequestInfo = { method: 'GET', url: '/prices?currency=eur', headers: {} };
    a.remember(
      info,
      undefined,
      { status: 200, headers: { 'content-type': 'application/json' }, body: '[1,2]' },
      Date.now(),
    );
    await sleep(50);

    const breaker = registry.getOrCreate('prices');
    breaker.forceOpen();
    const response = await b.respond(info, undefined, breaker.rejectionError(), breaker);
    expect(response?.status).toBe(200);
    expect(response?.body).toBe('[1,2]');
    expect(response?.headers['x-circuit-fallback']).toBe('cache');
    expect(breaker.rejectionError()).toBeInstanceOf(CircuitOpenError);
  });

  it('rejects invalid options with a TypeError naming the option', () => {
    const lazy = new Redis({ lazyConnect: true });
    expect(() => new RedisCacheStore({ client: lazy, timeoutMs: 0 })).toThrow(/Invalid option "timeoutMs": got 0/);
    expect(() => new RedisCacheStore({ client: 'redis://x' as never })).toThrow(/Invalid option "client"/);
    // Reads alone would do for a lookup, but every write would then fail as an "outage".
    expect(() => new RedisCacheStore({ client: { get: () => null } as never })).toThrow(/Invalid option "client"/);
    const warnOnly = { warn: () => {} } as never;
    expect(() => new RedisCacheStore({ client: lazy, logger: warnOnly })).toThrow(/Invalid option "logger"/);
    expect(() => new RedisCacheStore({ client: lazy, ttl: 5 } as never)).toThrow(
      /Unknown option "ttl": got 5, expected one of client, prefix, timeoutMs, logger/,
    );
    lazy.disconnect();
  });
});
