import { describe, expect, it } from 'vitest';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { BreakerGroup } from './group.js';
import { Registry } from './registry.js';

function setup(threshold: number, members = ['a', 'b', 'c', 'd']) {
  const clock = { t: 0, now: () => clock.t };
  const registry = new Registry({
    defaults: { clock, failureThreshold: 1, failureRateThreshold: 0, recoveryTimeoutMs: 1_000, successThreshold: 1 },
  });
  const group = registry.defineGroup('backends', { members, threshold });
  const breakers = members.map((name) => registry.getOrCreate(name));
  const trip = (...names: string[]) => {
    for (const name of names) registry.get(name)?.tryAcquire()?.failure(new Error('down'));
  };
  return { clock, registry, group, breakers, trip };
}

describe('breaker groups', () => {
  it('do not block while no more than the threshold share of members is OPEN', () => {
    const { registry, trip } = setup(0.5);
    trip('a', 'b');
    expect(registry.get('c')?.tryAcquire()).toBeDefined();
    expect(registry.get('d')?.state).toBe('CLOSED');
  });

  it('compare the share of OPEN members exactly: 57 of 100 is not more than 0.57', () => {
    const names = Array.from({ length: 100 }, (_, i) => `m${i}`);
    const { registry, trip } = setup(0.57, names);
    trip(...names.slice(0, 57));
    expect(registry.get('m99')?.tryAcquire()).toBeDefined();
    trip('m57');
    expect(registry.get('m99')?.tryAcquire()).toBeUndefined();
  });

  it('make every CLOSED member reject with reason "group" once more than the threshold is OPEN', async () => {
    const { registry, group, trip } = setup(0.5);
    trip('a', 'b', 'c');
    expect(group.openMembers()).toEqual(['a', 'b', 'c']);
    const d = registry.get('d');
    let called = false;
    const error = await d
      ?.execute(() => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ breaker: 'd', reason: 'group', code: 'ECIRCUITOPEN', retryAfterMs: 1_000 });
    expect(d?.state).toBe('CLOSED');
    expect(d?.stats().rejected).toBe(1);
  });

  it('heal when members recover: OPEN members move on with the clock and the group lets calls through', () => {
    const { registry, clock, trip } = setup(0.5);
    trip('a', 'b', 'c');
    const d = registry.get('d');
    clock.t += 999;
    expect(d?.tryAcquire()).toBeUndefined();
    expect(d?.rejectionError('group').retryAfterMs).toBe(1);
    clock.t += 1;
    // a, b and c are due to probe (HALF_OPEN), so fewer than half are OPEN.
    expect(d?.tryAcquire()).toBeDefined();
    expect(registry.get('a')?.state).toBe('HALF_OPEN');
    registry.get('a')?.tryAcquire()?.success();
    expect(registry.get('a')?.state).toBe('CLOSED');
  });

  it('notice, when the time comes, a member whose hung probe expired and re-opened it', () => {
    const { registry, clock, trip } = setup(0.5);
    trip('c');
    clock.t = 1_000;
    expect(registry.get('c')?.tryAcquire()?.isProbe).toBe(true);
    clock.t = 1_500;
    trip('a', 'b');
    const d = registry.get('d');
    expect(d?.tryAcquire()).toBeDefined();
    // c's probe is never settled: at 2000 it expires and c is OPEN again, the third of four.
    clock.t = 1_999;
    expect(d?.tryAcquire()).toBeDefined();
    clock.t = 2_000;
    expect(d?.tryAcquire()).toBeUndefined();
    expect(d?.rejectionError()).toMatchObject({ reason: 'group', retryAfterMs: 500 });
  });

  it('block again when members re-open', () => {
    const { registry, clock, trip } = setup(0.5);
    trip('a', 'b', 'c');
    clock.t += 1_000;
    expect(registry.get('d')?.tryAcquire()).toBeDefined();
    for (const name of ['a', 'b', 'c']) registry.get(name)?.tryAcquire()?.failure();
    expect(registry.get('d')?.tryAcquire()).toBeUndefined();
  });

  it('follow manual resets of members at once', () => {
    const { registry, trip } = setup(0.5);
    trip('a', 'b', 'c');
    expect(registry.get('d')?.tryAcquire()).toBeUndefined();
    registry.reset('a');
    expect(registry.get('d')?.tryAcquire()).toBeDefined();
  });

  it('count FORCED_OPEN members as open', () => {
    const { registry } = setup(0.5);
    for (const name of ['a', 'b', 'c']) registry.get(name)?.forceOpen();
    expect(registry.get('d')?.tryAcquire()).toBeUndefined();
    // Forced open members never probe: the wait they suggest (their recoveryTimeoutMs), not 0.
    expect(registry.get('d')?.rejectionError()).toMatchObject({ reason: 'group', retryAfterMs: 1_000 });
  });

  it('with threshold 0 block as soon as one member is OPEN', () => {
    const { registry, trip } = setup(0);
    trip('a');
    for (const name of ['b', 'c', 'd']) expect(registry.get(name)?.tryAcquire()).toBeUndefined();
  });

  it('leave DISABLED members alone', () => {
    const { registry, trip } = setup(0.5);
    registry.get('d')?.disable();
    trip('a', 'b', 'c');
    expect(registry.get('d')?.tryAcquire()).toBeDefined();
  });

  it('count members that do not exist yet, and attach them when created', () => {
    const clock = { t: 0, now: () => clock.t };
    const registry = new Registry({ defaults: { clock, failureThreshold: 1 } });
    registry.getOrCreate('a');
    registry.defineGroup('g', { members: ['a', 'b', 'c'], threshold: 0.5 });
    registry.get('a')?.tryAcquire()?.failure();
    // 1 of 3 is not more than half.
    const b = registry.getOrCreate('b');
    expect(b.tryAcquire()).toBeDefined();
    b.tryAcquire()?.failure();
    expect(registry.getOrCreate('c').tryAcquire()).toBeUndefined();
    expect(registry.toJSON().circuit_breakers.c?.groups).toEqual(['g']);
    expect(registry.group('g')?.memberNames).toEqual(new Set(['a', 'b', 'c']));
    expect(registry.groupNames()).toEqual(['g']);
  });

  it('stop applying to a deleted member', () => {
    const { registry, trip } = setup(0.5);
    const d = registry.get('d');
    registry.delete('d');
    trip('a', 'b', 'c');
    expect(d?.tryAcquire()).toBeDefined();
    expect(d?.groups).toBeUndefined();
  });

  it('reject invalid definitions with a TypeError', () => {
    const registry = new Registry();
    registry.defineGroup('g', { members: ['a'], threshold: 0.5 });
    expect(() => registry.defineGroup('g', { members: ['b'], threshold: 0.5 })).toThrow(
      new TypeError('Invalid group: the name "g" is already defined'),
    );
    expect(() => new BreakerGroup('h', { members: ['a'], threshold: 1 })).toThrow(
      new TypeError('Invalid option "threshold" of group "h": got 1, expected a number from 0 to below 1'),
    );
    expect(() => new BreakerGroup('h', { members: ['a'], threshold: -0.1 })).toThrow(/"threshold".*got -0.1/);
    expect(() => new BreakerGroup('h', { members: [], threshold: 0.5 })).toThrow(
      new TypeError('Invalid option "members" of group "h": got an array, expected a non-empty array of breaker names'),
    );
    expect(() => new BreakerGroup('h', { members: 'a' as never, threshold: 0.5 })).toThrow(/"members".*got "a"/);
    expect(() => new BreakerGroup('h', null as never)).toThrow(/"members" of group "h": got undefined/);
    // Objects are shown by their kind only: an error never echoes what they hold.
    const secret = { token: 's3cret' };
    for (const make of [
      () => new BreakerGroup('h', { members: [secret as never], threshold: 0.5 }),
      () => new BreakerGroup('h', { members: ['a'], threshold: secret as never }),
      () => new BreakerGroup(secret as never, { members: ['a'], threshold: 0.5 }),
    ]) {
      expect(make).toThrow(/got an object/);
      expect(make).not.toThrow(/s3cret/);
    }
    expect(() => new BreakerGroup('h', { members: [''], threshold: 0.5 })).toThrow(/got "", expected breaker names/);
    expect(() => new BreakerGroup('', { members: ['a'], threshold: 0.5 })).toThrow(/Invalid group name: got ""/);
  });
});
