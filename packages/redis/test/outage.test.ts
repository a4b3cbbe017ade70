import { type BreakerDefaults, CircuitOpenError, CircuitState } from '@breakwater/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { createInstance, freePortInstance, type Instance, sleep, waitFor } from './instances.js';
import { partition } from './proxy.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

let redis: RedisServer;
let instances: Instance[] = [];
let testNumber = 0;
let prefix = '';

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.kill();
});

beforeEach(() => {
  prefix = `outage${++testNumber}:`;
});

afterEach(async () => {
  await Promise.all(instances.map((i) => i.close()));
  instances = [];
});

async function instance(defaults: BreakerDefaults, commandTimeoutMs = 1000): Promise<Instance> {
  const created = createInstance(redis.port, prefix, defaults, { commandTimeoutMs });
  instances.push(created);
  created.breaker();
  expect(await created.store.synced()).toBe(true);
  return created;
}

async function fail(inst: Instance, name = 'payments'): Promise<void> {
  await inst
    .breaker(name)
    .execute(async () => {
      throw new Error('downstream failed');
    })
    .catch(() => {});
}

/** Successful calls through `name` on every instance, one after another per instance, until stopped. */
function traffic(all: Instance[], name = 'payments') {
  const result = { ok: 0, failed: 0, maxLatencyMs: 0 };
  let running = true;
  const loops = all.map(async (inst) => {
    while (running) {
      const started = performance.now();
      try {
        await inst.breaker(name).execute(async () => 'ok');
        result.ok++;
      } catch {
        result.failed++;
      }
      result.maxLatencyMs = Math.max(result.maxLatencyMs, performance.now() - started);
      await sleep(1);
    }
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}

async function reconnected(all: Instance[]): Promise<void> {
  await waitFor(() => all.every((i) => i.client.status === 'ready'), 'the clients to reconnect', 5000);
  for (const inst of all) expect(await inst.store.synced()).toBe(true);
}

describe('RedisStore when Redis is down, slow or restarted', () => {
  it('keeps traffic flowing with local breaking while Redis is killed and restarted, and warns once', async () => {
    const a = await instance({ failureThreshold: 2 });
    const b = await instance({ failureThreshold: 2 });
    a.breaker('orders');
    b.breaker('orders');
    const load = traffic([a, b]);
    await sleep(200);

    await redis.kill();
    await sleep(300);
    // Local breaking goes on: A's "orders" opens here, B does not hear of it yet.
    await fail(a, 'orders');
    await fail(a, 'orders');
    expect(a.breaker('orders').state).toBe(CircuitState.OPEN);
    expect(b.breaker('orders').state).toBe(CircuitState.CLOSED);
    await sleep(300);

    await redis.start();
    await reconnected([a, b]);
    // What changed during the outage reaches the others once Redis is back (it lost every key).
    await waitFor(() => b.breaker('orders').state === CircuitState.OPEN, 'B to learn that "orders" opened');
    await sleep(100);
    const { ok, failed, maxLatencyMs } = await load.stop();

    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(50);
    // No call waited on Redis (its command timeout here is 1000 ms).
    expect(maxLatencyMs).toBeLessThan(500);
    expect(a.warnings).toHaveLength(1);
    expect(b.warnings).toHaveLength(1);
    expect(a.warnings[0]).toMatch(/Redis unavailable/);
    expect(a.infos).toHaveLength(1);
    expect(b.infos).toHaveLength(1);

    // And sharing works again: a trip on B reaches A.
    await fail(b);
    await fail(b);
    await waitFor(() => a.breaker().state === CircuitState.OPEN, 'A to open after B tripped');
  });

  it('keeps an open circuit across a Redis restart that lost every key', async () => {
    const defaults = { failureThreshold: 1, recoveryTimeoutMs: 30_000 };
    const a = await instance(defaults);
    const b = await instance(defaults);
    await fail(a);
    await waitFor(() => b.breaker().state === CircuitState.OPEN, 'B to open');
    const { nextAttemptTime } = a.breaker().stats();

    await redis.kill();
    await redis.start();
    await reconnected([a, b]);
    await waitFor(
      async () => (await a.client.hget(`${prefix}{payments}:state`, 's')) === 'OPEN',
      'the open state to be stored again',
    );

    const late = await instance(defaults);
    expect(late.breaker().state).toBe(CircuitState.OPEN);
    expect(late.breaker().stats().nextAttemptTime).toBe(nextAttemptTime);
  });

  it('stores again what the instances know when Redis comes back with older data (an older snapshot)', async () => {
    const defaults = { failureThreshold: 1, recoveryTimeoutMs: 30_000 };
    const a = await instance(defaults);
    const b = await instance(defaults);
    const key = `${prefix}{payments}:state`;
    await fail(a);
    await waitFor(() => b.breaker().state === CircuitState.OPEN, 'B to open');
    a.breaker().reset();
    await waitFor(() => b.breaker().state === CircuitState.CLOSED, 'B to close');
    // A snapshot of the CLOSED state; then the circuit opens again.
    const snapshot = await a.client.hgetall(key);
    await fail(b);
    await waitFor(() => a.breaker().state === CircuitState.OPEN, 'A to open again');
    const openEpoch = Number(await a.client.hget(key, 'e'));

    // Redis restarts from the snapshot: the older CLOSED state, and every connection dropped.
    await a.client.del(key);
    await a.client.hset(key, snapshot);
    await a.client.client('KILL', 'TYPE', 'normal');
    await a.client.client('KILL', 'TYPE', 'pubsub');
    await reconnected([a, b]);

    // The open circuit is not lost, and Redis holds it again, under a newer epoch than any seen.
    await waitFor(async () => (await a.client.hget(key, 's')) === 'OPEN', 'the open state to be stored again');
    expect(Number(await a.client.hget(key, 'e'))).toBeGreaterThan(openEpoch);
    expect([a.breaker().state, b.breaker().state]).toEqual([CircuitState.OPEN, CircuitState.OPEN]);
    await expect(b.breaker().execute(async () => 'ok')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('does not let a trip made during a partition re-open a circuit the others have since seen recover', async () => {
    const defaults = { failureThreshold: 2, recoveryTimeoutMs: 1_000, successThreshold: 1, halfOpenMaxRequests: 1 };
    const cutOff = await partition(redis.port);
    try {
      const a = createInstance(cutOff.port, prefix, defaults, { commandTimeoutMs: 200 });
      instances.push(a);
      expect(await a.store.synced()).toBe(true);
      const b = await instance(defaults);
      const c = await instance(defaults);
      await cutOff.cut();

      // The dependency fails: B trips the cluster; A, cut off, trips on its own a little later.
      await fail(b);
      await fail(b);
      await waitFor(() => c.breaker().state === CircuitState.OPEN, 'C to open');
      await sleep(700);
      await fail(a);
      await fail(a);
      expect(a.breaker().state).toBe(CircuitState.OPEN);
      // The cluster's open time passes and its probe succeeds: CLOSED again, while A's own open
      // time still has most of a second to run.
      await waitFor(async () => {
        await b
          .breaker()
          .execute(async () => 'ok')
          .catch(() => {});
        return b.breaker().state === CircuitState.CLOSED && c.breaker().state === CircuitState.CLOSED;
      }, 'the cluster to recover');

      await cutOff.heal();
      await waitFor(() => a.breaker().state === CircuitState.CLOSED, 'A to take the recovered state');
      await sleep(200);
      expect([b.breaker().state, c.breaker().state]).toEqual([CircuitState.CLOSED, CircuitState.CLOSED]);
    } finally {
      await cutOff.close();
    }
  });

  it('treats a Redis that stops answering like one that is down: calls go on, one warning, then re-sync', async () => {
    const a = await instance({ failureThreshold: 2 }, 100);
    const b = await instance({ failureThreshold: 2 }, 100);
    const load = traffic([a, b], 'catalog');
    await sleep(100);

    const frozen = redis.freeze(800);
    await sleep(150);
    await fail(a);
    await fail(a);
    expect(a.breaker().state).toBe(CircuitState.OPEN);
    await frozen;

    await waitFor(() => b.breaker().state === CircuitState.OPEN, 'B to open once Redis answers again');
    const { ok, failed, maxLatencyMs } = await load.stop();
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(50);
    // Nothing waited on the frozen server: calls went on during its 800 ms.
    expect(maxLatencyMs).toBeLessThan(500);
    await waitFor(() => a.infos.length === 1 && b.infos.length === 1, 'both stores to note that Redis is back');
    expect(a.warnings).toHaveLength(1);
    expect(b.warnings).toHaveLength(1);
  });

  it('notes that a frozen Redis is back without waiting for traffic, and shares again', async () => {
    const a = await instance({ failureThreshold: 1 }, 100);
    const b = await instance({ failureThreshold: 1 }, 100);
    const frozen = redis.freeze(600);
    await sleep(50);
    // One call while Redis is frozen: its count waits for the command timeout, which starts the outage.
    await a.breaker().execute(() => 'ok');
    await waitFor(() => a.warnings.length === 1, 'A to notice the outage');
    await frozen;
    // No traffic from here on: A asks Redis itself.
    await waitFor(() => a.infos.length === 1, 'A to note that Redis is back', 2_000);
    await fail(a);
    await waitFor(() => b.breaker().state === CircuitState.OPEN, "B to hear of A's trip");
  });

  it('keeps the counts recorded once an outage was noticed local: a frozen Redis does not replay them when it wakes', async () => {
    // Counts only: no rule can trip.
    const defaults = { failureThreshold: 0, failureRateThreshold: 0, metricsWindowMs: 60_000 };
    const a = await instance(defaults, 100);
    const b = await instance(defaults, 100);
    const call = async (): Promise<void> => {
      await a.breaker().execute(async () => 'ok');
      await sleep(10);
    };

    const frozen = redis.freeze(1200);
    await sleep(20);
    // Counts sent before anyone can know Redis froze; then A notices the outage.
    let before = 0;
    while (a.warnings.length === 0) {
      await call();
      before++;
    }
    let during = 0;
    for (const until = Date.now() + 700; Date.now() < until; during++) await call();
    await frozen;
    let after = 0;
    await waitFor(async () => {
      await call();
      after++;
      return a.infos.length === 1;
    }, 'A to note that Redis is back');
    await sleep(300);

    expect(during).toBeGreaterThan(20);
    expect(b.breaker().stats().window.calls).toBeLessThanOrEqual(before + after);
  });

  it('warns once, not once per reconnection attempt, when only the pub/sub connection cannot come back', async () => {
    const a = await instance({ failureThreshold: 0, failureRateThreshold: 0 });
    const connected = Number(/connected_clients:(\d+)/.exec(String(await a.client.info('clients')))?.[1]);
    // Redis is full (maxclients): the command connection stays, the pub/sub one cannot reconnect.
    await a.client.config('SET', 'maxclients', String(connected - 1));
    try {
      await a.client.client('KILL', 'TYPE', 'pubsub');
      for (const until = Date.now() + 1000; Date.now() < until; ) {
        await a.breaker().execute(async () => 'ok');
        await sleep(10);
      }
    } finally {
      await a.client.config('SET', 'maxclients', '10000');
    }
    await waitFor(() => a.infos.length === 1, 'the pub/sub connection to come back');
    expect(a.warnings).toHaveLength(1);
  });

  it('breaks locally, warning once, while Redis answers but refuses writes (maxmemory reached), then shares again', async () => {
    const a = await instance({ failureThreshold: 1, recoveryTimeoutMs: 300, successThreshold: 1 }, 100);
    const b = await instance({ failureThreshold: 1, recoveryTimeoutMs: 300, successThreshold: 1 }, 100);
    await a.client.config('SET', 'maxmemory-policy', 'noeviction');
    await a.client.config('SET', 'maxmemory', '1');
    try {
      // The trip is refused (OOM), and no traffic follows for a while.
      await fail(a);
      expect(a.breaker().state).toBe(CircuitState.OPEN);
      await waitFor(() => a.warnings.length === 1, 'the outage to be told');
      await sleep(1_000);
      expect(a.warnings).toEqual([expect.stringContaining('OOM')]);
      expect(a.infos).toEqual([]);
      // Local breaking goes on: past the recovery time a probe is admitted, and closes the circuit.
      await a.breaker().execute(() => 'ok');
      expect(a.breaker().state).toBe(CircuitState.CLOSED);
    } finally {
      await a.client.config('SET', 'maxmemory', '0');
    }
    await waitFor(() => a.infos.length === 1, 'A to note that Redis takes writes again', 2_000);
    await fail(a);
    await waitFor(() => b.breaker().state === CircuitState.OPEN, "B to hear of A's trip");
    expect(a.warnings).toHaveLength(1);
  });

  it('starts with local breaking when Redis is unreachable, and never throws', async () => {
    const dead = await freePortInstance(prefix, { failureThreshold: 1 });
    instances.push(dead);
    const breaker = dead.breaker();
    await expect(breaker.execute(async () => 'ok')).resolves.toBe('ok');
    await fail(dead);
    expect(breaker.state).toBe(CircuitState.OPEN);
    expect(await dead.store.synced(100)).toBe(false);
    await waitFor(() => dead.warnings.length === 1, 'one warning');
    await sleep(200);
    expect(dead.warnings).toHaveLength(1);
  });

  it('checks the time synced() may wait: Infinity waits without limit', async () => {
    const a = await instance({});
    expect(() => a.store.synced(Number.NaN)).toThrow(/Invalid option "timeoutMs": got NaN/);
    expect(() => a.store.synced(-1)).toThrow(TypeError);
    await expect(a.store.synced(Number.POSITIVE_INFINITY)).resolves.toBe(true);
  });

  it('rejects invalid options with a TypeError naming the option', () => {
    const client = new Redis({ lazyConnect: true });
    expect(() => new RedisStore({ client, prefix: 'a{b' })).toThrow(/Invalid option "prefix": got "a\{b"/);
    expect(() => new RedisStore({ client, flushIntervalMs: 0 })).toThrow(/Invalid option "flushIntervalMs": got 0/);
    expect(() => new RedisStore({ client, commandTimeoutMs: -1 })).toThrow(TypeError);
    expect(() => new RedisStore({ client: {} as Redis })).toThrow(/Invalid option "client"/);
    expect(() => new RedisStore({ client, nope: 1 } as never)).toThrow(
      /Unknown option "nope": got 1, expected one of /,
    );
    expect(() => new RedisStore(undefined as never)).toThrow(TypeError);
    client.disconnect();
  });
});
