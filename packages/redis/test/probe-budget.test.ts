import { type BreakerDefaults, CircuitState } from '@breakwater/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInstance, type Instance, sleep, waitFor } from './instances.js';
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
  prefix = `probe${++testNumber}:`;
});

afterEach(async () => {
  await Promise.all(instances.map((i) => i.close()));
  instances = [];
});

async function cluster(size: number, defaults: BreakerDefaults, probeLeaseMs?: number): Promise<Instance[]> {
  const created: Instance[] = [];
  for (let i = 0; i < size; i++) {
    const inst = createInstance(redis.port, prefix, defaults, probeLeaseMs === undefined ? {} : { probeLeaseMs });
    inst.breaker();
    created.push(inst);
  }
  instances.push(...created);
  for (const inst of created) expect(await inst.store.synced()).toBe(true);
  return created;
}

async function trip(inst: Instance): Promise<void> {
  await inst
    .breaker()
    .execute(async () => {
      throw new Error('downstream failed');
    })
    .catch(() => {});
}

/** Which instance holds the HALF_OPEN probe lease, read from Redis. */
async function leaseOwner(all: Instance[]): Promise<Instance | undefined> {
  const owner = (await all[0]!.client.hget(`${prefix}{payments}:state`, 'w')) ?? '';
  return all.find((i) => owner.startsWith(`${i.store.instanceId}#`));
}

describe('RedisStore: the HALF_OPEN probe budget is cluster-wide', () => {
  it('admits at most halfOpenMaxRequests probes across all instances under concurrent requests', async () => {
    // timeoutMs: a probe held at the gate must not expire (the probe deadline is timeoutMs, else recoveryTimeoutMs).
    const defaults = {
      failureThreshold: 1,
      recoveryTimeoutMs: 300,
      timeoutMs: 10_000,
      halfOpenMaxRequests: 2,
      successThreshold: 2,
    };
    const all = await cluster(3, defaults);
    await trip(all[0]!);
    for (const inst of all) await waitFor(() => inst.breaker().state !== CircuitState.CLOSED, 'every instance to open');

    let admitted = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const settled: Promise<unknown>[] = [];
    let rejected = 0;
    // Waves of concurrent requests on every instance, from before the recovery time to well after it.
    for (let wave = 0; wave < 40; wave++) {
      for (const inst of all) {
        for (let i = 0; i < 5; i++) {
          settled.push(
            inst
              .breaker()
              .execute(async () => {
                admitted++;
                await gate;
              })
              .catch(() => {
                rejected++;
              }),
          );
        }
      }
      await sleep(10);
    }
    expect(admitted).toBe(2);
    expect(rejected).toBe(settled.length - 2);
    for (const inst of all) expect(inst.breaker().state).toBe(CircuitState.HALF_OPEN);

    release();
    await Promise.all(settled);
    // Two successful probes close the circuit everywhere.
    for (const inst of all)
      await waitFor(() => inst.breaker().state === CircuitState.CLOSED, 'every instance to close');
  });

  it('lets another instance take over the probes when the lease holder gets no traffic', async () => {
    const defaults = { failureThreshold: 1, recoveryTimeoutMs: 200, halfOpenMaxRequests: 1, successThreshold: 1 };
    const all = await cluster(2, defaults, 300);
    await trip(all[0]!);
    await waitFor(() => all[1]!.breaker().state === CircuitState.OPEN, 'the second instance to open');
    let owner: Instance | undefined;
    await waitFor(async () => {
      owner = await leaseOwner(all);
      return owner !== undefined;
    }, 'an instance to claim the probe lease');
    const idle = owner as Instance;
    const busy = all.find((i) => i !== idle) as Instance;
    const firstTry = await busy
      .breaker()
      .execute(async () => 'probed')
      .catch((error: Error) => error.name);
    expect(firstTry).toBe('CircuitOpenError');

    // The holder never probes, so its lease lapses and the busy instance takes the probe.
    await waitFor(
      async () =>
        (await busy
          .breaker()
          .execute(async () => 'probed')
          .catch(() => 'rejected')) === 'probed',
      'the busy instance to be allowed a probe',
    );
    await waitFor(() => idle.breaker().state === CircuitState.CLOSED, 'the idle instance to close too');
    expect(await leaseOwner(all)).toBeUndefined();
  });

  it('lets the lease holder probe even when its first call comes long after the open time', async () => {
    const defaults = { failureThreshold: 1, recoveryTimeoutMs: 100, halfOpenMaxRequests: 1, successThreshold: 1 };
    const all = await cluster(2, defaults, 100);
    await trip(all[0]!);
    let owner: Instance | undefined;
    await waitFor(async () => {
      owner = await leaseOwner(all);
      return owner !== undefined;
    }, 'an instance to claim the probe lease');
    await sleep(400);
    await expect(owner!.breaker().execute(async () => 'probed')).resolves.toBe('probed');
    for (const inst of all)
      await waitFor(() => inst.breaker().state === CircuitState.CLOSED, 'every instance to close');
  });

  it('shares the open-time backoff: a failed probe re-opens everywhere with the doubled open time', async () => {
    const defaults = {
      failureThreshold: 1,
      recoveryTimeoutMs: 200,
      exponentialBackoff: true,
      backoffMultiplier: 2,
      halfOpenMaxRequests: 1,
    };
    const all = await cluster(3, defaults);
    await trip(all[1]!);
    for (const inst of all) await waitFor(() => inst.breaker().state === CircuitState.OPEN, 'every instance to open');
    const first = all[2]!.breaker().stats();
    const firstOpened = Number(await all[0]!.client.hget(`${prefix}{payments}:state`, 'o'));
    expect((first.nextAttemptTime as number) - firstOpened).toBe(200);
    expect(first.openCount).toBe(1);

    // After the open time, every instance tries; only the lease holder's probe runs, and it fails.
    await waitFor(async () => {
      for (const inst of all) await trip(inst);
      return all.every((i) => i.breaker().stats().openCount === 2);
    }, 'a failed probe to re-open every instance');
    const stats = all.map((i) => i.breaker().stats());
    for (const s of stats) {
      expect(s.state).toBe(CircuitState.OPEN);
      expect(s.nextAttemptTime).toBe(stats[0]!.nextAttemptTime);
    }
    const opened = Number(await all[0]!.client.hget(`${prefix}{payments}:state`, 'o'));
    expect((stats[0]!.nextAttemptTime as number) - opened).toBe(400);
  });
});
