import { type BreakerDefaults, CircuitOpenError, CircuitState } from '@breakwater/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChildInstance,
  createInstance,
  type Instance,
  preciseNow,
  sleep,
  spawnInstance,
  waitFor,
} from './instances.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

let redis: RedisServer;
let instances: Instance[] = [];
let children: ChildInstance[] = [];
let testNumber = 0;
let prefix = '';

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.kill();
});

afterEach(async () => {
  await Promise.all([...instances.map((i) => i.close()), ...children.map((c) => c.close())]);
  instances = [];
  children = [];
});

function instance(defaults: BreakerDefaults): Instance {
  const created = createInstance(redis.port, prefix, defaults);
  instances.push(created);
  return created;
}

async function child(defaults: BreakerDefaults): Promise<ChildInstance> {
  const created = await spawnInstance(redis.port, prefix, 'payments', defaults);
  children.push(created);
  return created;
}

/** Runs calls one after another: `true` fails, `false` succeeds. */
async function run(inst: Instance, outcomes: boolean[]): Promise<void> {
  for (const fail of outcomes) {
    await inst
      .breaker()
      .execute(async () => {
        if (fail) throw new Error('downstream failed');
      })
      .catch(() => {});
  }
}

describe('RedisStore: three instances sharing one breaker', () => {
  beforeEach(() => {
    prefix = `shared${++testNumber}:`;
  });

  it('counts failures from every instance toward the failure-rate rule', async () => {
    const defaults = { failureThreshold: 0, failureRateThreshold: 0.5, minimumRequests: 12 };
    const a = instance(defaults);
    const b = instance(defaults);
    a.breaker();
    b.breaker();
    const c = await child(defaults);
    await a.store.synced();
    await b.store.synced();

    await run(a, [false, true, false, true]);
    await run(b, [false, true, false, true]);
    // 8 calls cluster-wide: below minimumRequests, so nobody trips, but each instance sees all 8.
    await waitFor(() => a.breaker().stats().window.calls === 8, 'instance A to see 8 calls in its window');
    await waitFor(() => b.breaker().stats().window.calls === 8, 'instance B to see 8 calls in its window');
    await waitFor(async () => (await c.stats()).window.calls === 8, 'the child to see 8 calls');
    expect(a.breaker().state).toBe(CircuitState.CLOSED);
    expect(b.breaker().state).toBe(CircuitState.CLOSED);

    // Four more in the child make 12 calls, 6 failed: 50% trips, though no instance saw more than 4 of its own.
    expect(await c.execute([false, true, false, true])).toEqual(['ok', 'failed', 'ok', 'failed']);
    await waitFor(() => a.breaker().state === CircuitState.OPEN, 'instance A to open');
    await waitFor(() => b.breaker().state === CircuitState.OPEN, 'instance B to open');
    expect((await c.stats()).state).toBe(CircuitState.OPEN);
    expect(a.breaker().stats().totalCalls).toBe(4);
  });

  it('counts consecutive failures across instances toward failureThreshold, and a success anywhere restarts the run', async () => {
    const defaults = { failureThreshold: 4, failureRateThreshold: 0 };
    const a = instance(defaults);
    const b = instance(defaults);
    await a.store.synced();
    await b.store.synced();
    await run(a, [true, true]);
    await waitFor(() => b.breaker().stats().consecutiveFailures === 2, "B to count A's failures");
    await run(b, [false]);
    await waitFor(() => a.breaker().stats().consecutiveFailures === 0, "A to see B's success end the run");
    await run(a, [true, true]);
    await waitFor(() => b.breaker().stats().consecutiveFailures === 2, "B to count A's new failures");
    await run(b, [true]);
    expect(b.breaker().state).toBe(CircuitState.CLOSED);
    await run(b, [true]);
    expect(b.breaker().state).toBe(CircuitState.OPEN);
    await waitFor(() => a.breaker().state === CircuitState.OPEN, 'A to open');
  });

  it("gives a new instance the window's counts so far", async () => {
    const defaults = { failureThreshold: 0, failureRateThreshold: 0.5, minimumRequests: 10 };
    const a = instance(defaults);
    await a.store.synced();
    await run(a, [false, true, false, true, true, true]);
    await sleep(100);
    const late = instance(defaults);
    late.breaker();
    expect(await late.store.synced()).toBe(true);
    expect(late.breaker().stats().window).toMatchObject({ calls: 6, failures: 4 });
    // Four more calls anywhere reach minimumRequests: 10 calls, 6 failed (60%).
    await run(late, [false, false, false, true]);
    expect(late.breaker().state).toBe(CircuitState.OPEN);
    await waitFor(() => a.breaker().state === CircuitState.OPEN, 'A to open');
  });

  it('stops sharing after close(): breakers go on locally, the pub/sub connection is closed', async () => {
    const a = instance({ failureThreshold: 1 });
    const b = instance({ failureThreshold: 1 });
    await a.store.synced();
    await b.store.synced();
    const subscribers = async () =>
      String(await b.client.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => / sub=1 /.test(line)).length;
    const before = await subscribers();
    await a.store.close();
    await waitFor(async () => (await subscribers()) === before - 1, "A's subscriber connection to close");
    expect(a.client.status).toBe('ready');
    await run(a, [true]);
    expect(a.breaker().state).toBe(CircuitState.OPEN);
    await sleep(100);
    expect(b.breaker().state).toBe(CircuitState.CLOSED);
    await expect(b.breaker().execute(async () => 'still here')).resolves.toBe('still here');
  });

  it('propagates a trip to the other instances within 250 ms, in-process and in another process', async () => {
    const defaults = { failureThreshold: 3, failureRateThreshold: 0, recoveryTimeoutMs: 30_000 };
    const a = instance(defaults);
    const b = instance(defaults);
    const c = await child(defaults);
    await a.store.synced();
    await b.store.synced();
    const opened = new Map<string, number>();
    a.breaker().on('stateChange', (e) => e.to === CircuitState.OPEN && opened.set('a', preciseNow()));
    b.breaker().on('stateChange', (e) => e.to === CircuitState.OPEN && opened.set('b', preciseNow()));

    await run(a, [true, true, true]);
    expect(a.breaker().state).toBe(CircuitState.OPEN);
    await waitFor(() => opened.has('b'), 'instance B to open');
    const childOpened = await c.waitForEvent((e) => e.event === 'stateChange' && e.to === 'OPEN', 'OPEN');

    const inProcessMs = (opened.get('b') as number) - (opened.get('a') as number);
    const otherProcessMs = (childOpened.at as number) - (opened.get('a') as number);
    console.log(
      `trip propagation: ${inProcessMs.toFixed(2)} ms in-process, ${otherProcessMs.toFixed(2)} ms to another process`,
    );
    expect(inProcessMs).toBeLessThan(250);
    expect(otherProcessMs).toBeLessThan(250);

    let called = false;
    await expect(
      b.breaker().execute(async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(false);
    expect(await c.execute([false])).toEqual(['rejected']);
  });

  it('starts a restarted or new instance in the cluster state, open period included', async () => {
    const defaults = { failureThreshold: 2, recoveryTimeoutMs: 30_000 };
    const a = instance(defaults);
    await a.store.synced();
    await run(a, [true, true]);
    expect(a.breaker().state).toBe(CircuitState.OPEN);
    const { nextAttemptTime, openCount } = a.breaker().stats();
    await sleep(50);
    await a.close();
    instances = instances.filter((i) => i !== a);

    const restarted = instance(defaults);
    restarted.breaker();
    expect(await restarted.store.synced()).toBe(true);
    expect(restarted.breaker().state).toBe(CircuitState.OPEN);
    expect(restarted.breaker().stats().nextAttemptTime).toBe(nextAttemptTime);
    expect(restarted.breaker().stats().openCount).toBe(openCount);
    await expect(restarted.breaker().execute(async () => 'x')).rejects.toBeInstanceOf(CircuitOpenError);

    const other = await child(defaults);
    // It reads the stored state before it reports ready: it never admitted a call while CLOSED.
    expect(other.events.find((e) => e.event === 'ready')).toMatchObject({ state: 'OPEN' });
    expect(await other.execute([false])).toEqual(['rejected']);
  });

  it('makes two instances that trip at the same moment agree on one open period', async () => {
    const defaults = {
      failureThreshold: 1,
      recoveryTimeoutMs: 10_000,
      recoveryJitter: 1,
      maxRecoveryTimeoutMs: 60_000,
    };
    const a = instance(defaults);
    const b = instance(defaults);
    await a.store.synced();
    await b.store.synced();
    const watcher = a.client.duplicate();
    const stored: string[] = [];
    watcher.on('message', (_channel: string, text: string) => {
      const message = JSON.parse(text) as { k: string; s: string };
      if (message.k === 's') stored.push(message.s);
    });
    await watcher.subscribe(`${prefix}events`);
    // Both fail in the same tick: each opens locally with its own jittered open time.
    const fail = async () => {
      throw new Error('downstream failed');
    };
    await Promise.all([
      a
        .breaker()
        .execute(fail)
        .catch(() => {}),
      b
        .breaker()
        .execute(fail)
        .catch(() => {}),
    ]);
    expect(a.breaker().state).toBe(CircuitState.OPEN);
    expect(b.breaker().state).toBe(CircuitState.OPEN);
    await waitFor(
      () => a.breaker().stats().nextAttemptTime === b.breaker().stats().nextAttemptTime,
      'both instances to agree on when to probe',
    );
    const epoch = await a.client.hget(`${prefix}{payments}:state`, 'e');
    await sleep(50);
    expect(a.breaker().stats().nextAttemptTime).toBe(b.breaker().stats().nextAttemptTime);
    expect(await a.client.hget(`${prefix}{payments}:state`, 'e')).toBe(epoch);
    expect(await a.client.hget(`${prefix}{payments}:state`, 'n')).toBe(String(a.breaker().stats().nextAttemptTime));
    // One transition was stored; the other instance's was refused and it adopted the first.
    expect(stored).toEqual(['OPEN']);
    watcher.disconnect();
  });

  it('shares a breaker a configuration file made, once code gave it options of its own', async () => {
    const a = instance({ failureThreshold: 10, failureRateThreshold: 0 });
    const b = instance({ failureThreshold: 10, failureRateThreshold: 0 });
    for (const inst of [a, b]) {
      inst.registry.declare('orders', { options: { failureThreshold: 10 } });
      inst.registry.createDeclared('orders');
    }
    await a.store.synced();
    await b.store.synced();
    // Bound again to Redis with the options given in code (as an adapter's first lookup does).
    const orders = a.registry.getOrCreate('orders', { failureThreshold: 2, metricsWindowMs: 30_000 });
    expect(orders.options.failureThreshold).toBe(2);
    await a.store.synced();
    for (let i = 0; i < 2; i++) await orders.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(orders.state).toBe(CircuitState.OPEN);
    await waitFor(() => b.breaker('orders').state === CircuitState.OPEN, 'B to open orders');
  });

  it("does not count the stored failures twice when code's options bind a file's breaker again", async () => {
    const a = instance({ failureThreshold: 100, failureRateThreshold: 0 });
    await a.store.synced();
    for (let i = 0; i < 3; i++)
      await a
        .breaker('orders')
        .execute(() => Promise.reject(new Error('down')))
        .catch(() => {});
    const b = instance({});
    b.registry.declare('orders', { options: { failureThreshold: 5, failureRateThreshold: 0 } });
    const orders = b.registry.createDeclared('orders');
    await b.store.synced();
    await waitFor(() => orders.stats().consecutiveFailures === 3, "B to read A's three failures");

    b.registry.getOrCreate('orders', { timeoutMs: 1_000 });
    await b.store.synced();
    await sleep(100);
    expect({ state: orders.state, consecutive: orders.stats().consecutiveFailures }).toEqual({
      state: CircuitState.CLOSED,
      consecutive: 3,
    });
  });

  it("applies code's options to a file's breaker that has seen no call, though it took an open state from Redis", async () => {
    const a = instance({ failureThreshold: 1 });
    await a.store.synced();
    await a
      .breaker('orders')
      .execute(() => Promise.reject(new Error('down')))
      .catch(() => {});
    const b = instance({});
    b.registry.declare('orders', { options: { failureThreshold: 10 } });
    const orders = b.registry.createDeclared('orders');
    await b.store.synced();
    await waitFor(() => orders.state === CircuitState.OPEN, 'B to take the open state');
    b.registry.getOrCreate('orders', { timeoutMs: 1_234, failureThreshold: 2 });
    expect(orders.options).toMatchObject({ timeoutMs: 1_234, failureThreshold: 2 });
    expect(orders.state).toBe(CircuitState.OPEN);
  });

  it('shares manual changes: forceOpen, disable and reset reach every instance', async () => {
    const a = instance({});
    const b = instance({});
    await a.store.synced();
    await b.store.synced();
    a.breaker().forceOpen();
    await waitFor(() => b.breaker().state === CircuitState.FORCED_OPEN, 'B to be forced open');
    b.breaker().disable();
    await waitFor(() => a.breaker().state === CircuitState.DISABLED, 'A to be disabled');
    a.breaker().reset();
    await waitFor(() => b.breaker().state === CircuitState.CLOSED, 'B to be closed');
  });

  it('makes a reset in a CLOSED circuit forget the counts on every instance', async () => {
    const defaults = { failureThreshold: 3, failureRateThreshold: 0 };
    const a = instance(defaults);
    const b = instance(defaults);
    await a.store.synced();
    await b.store.synced();
    await run(a, [true]);
    await run(b, [true]);
    await waitFor(() => b.breaker().stats().consecutiveFailures === 2, 'B to count both failures');

    a.breaker().reset();
    await waitFor(() => b.breaker().stats().consecutiveFailures === 0, 'B to forget its counts');
    expect(b.breaker().stats().window).toMatchObject({ calls: 0, failures: 0 });
    await run(b, [true]);
    expect(b.breaker().state).toBe(CircuitState.CLOSED);
    // A new instance loads no counts from before the reset either.
    const late = instance(defaults);
    await late.store.synced();
    expect(late.breaker().stats().window.failures).toBeLessThanOrEqual(1);
  });

  it('keeps breakers with any name apart, braces and odd characters included', async () => {
    const names = ['a{b}c', 'a%7Bb%7Dc', '{}', 'näme with spaces', '\ud800lone', 'x:state', 'x'];
    const a = instance({ failureThreshold: 1 });
    const b = instance({ failureThreshold: 1 });
    for (const name of names) {
      a.breaker(name);
      b.breaker(name);
    }
    await a.store.synced();
    await b.store.synced();
    await a
      .breaker('a{b}c')
      .execute(async () => {
        throw new Error('x');
      })
      .catch(() => {});
    await a
      .breaker('\ud800lone')
      .execute(async () => {
        throw new Error('x');
      })
      .catch(() => {});
    await waitFor(() => b.breaker('a{b}c').state === CircuitState.OPEN, 'B\'s "a{b}c" to open');
    await waitFor(() => b.breaker('\ud800lone').state === CircuitState.OPEN, "B's lone-surrogate breaker to open");
    await sleep(50);
    for (const name of names.filter((n) => n !== 'a{b}c' && n !== '\ud800lone')) {
      expect(b.breaker(name).state, name).toBe(CircuitState.CLOSED);
    }
  });
});
