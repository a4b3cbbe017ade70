import { describe, expect, it } from 'vitest';
import { deferred, ManualClock, until } from '../../../../test/support/index.js';
import { Registry } from '../registry/registry.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ticking } from './coarse-clock.js';
import type { CallEvent, FailureEvent } from './events.js';

// A CLOSED breaker with no timeoutMs, no slow-call rule and no success/failure listener runs
// execute() untimed: no permit, fn's own promise handed back, shared outcome handlers.
describe('execute() on an untimed CLOSED circuit', () => {
  it("hands back fn's own promise", async () => {
    const breaker = new CircuitBreaker({ name: 'identity' });
    const promise = Promise.resolve('value');
    expect(breaker.execute(() => promise)).toBe(promise);
    await promise;
  });

  it('counts successes with the coarse clock only when buckets are at least a second wide', async () => {
    // Let a ticker started by an earlier test stop (it does two ticks after its last reading).
    await until(() => !ticking());
    // 5 s window: 500 ms buckets, where a reading 10 ms old would be 2% of a bucket off.
    const narrow = new CircuitBreaker({ name: 'narrow', metricsWindowMs: 5_000 });
    await narrow.execute(async () => 'ok');
    expect(narrow.stats()).toMatchObject({ successes: 1 });
    expect(ticking()).toBe(false);
    const wide = new CircuitBreaker({ name: 'wide' });
    await wide.execute(async () => 'ok');
    expect(wide.stats()).toMatchObject({ successes: 1 });
    expect(ticking()).toBe(true);
  });

  it('has counted the outcome by the time the caller resumes', async () => {
    const breaker = new CircuitBreaker({ name: 'ordering', failureThreshold: 2 });
    await breaker.execute(async () => 'ok');
    expect(breaker.stats()).toMatchObject({ totalCalls: 1, successes: 1 });
    await breaker.execute(async () => Promise.reject(new Error('a'))).catch(() => {});
    expect(breaker.stats()).toMatchObject({ failures: 1, consecutiveFailures: 1 });
    await breaker.execute(async () => Promise.reject(new Error('b'))).catch(() => {});
    expect(breaker.state).toBe('OPEN');
  });

  it('leaves no unhandled rejection behind when the caller handles the failure', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const breaker = new CircuitBreaker({ name: 'handled' });
      for (let i = 0; i < 3; i++) {
        await expect(breaker.execute(async () => Promise.reject(new Error(`no ${i}`)))).rejects.toThrow(`no ${i}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('ignores outcomes of calls that started before the breaker changed state', async () => {
    const breaker = new CircuitBreaker({ name: 'stale', failureThreshold: 1 });
    const before = deferred<string>();
    const call = breaker.execute(() => before.promise);
    breaker.forceOpen();
    breaker.reset();
    before.reject(new Error('late'));
    await expect(call).rejects.toThrow('late');
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().failures).toBe(0);
  });

  it('trips on the failure-rate rule when a success brings the window to minimumRequests', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'rate', failureThreshold: 0, minimumRequests: 4, clock });
    for (let i = 0; i < 3; i++) await breaker.execute(async () => Promise.reject(new Error('x'))).catch(() => {});
    expect(breaker.state).toBe('CLOSED');
    await breaker.execute(async () => 'ok');
    expect(breaker.state).toBe('OPEN');
    expect(breaker.stats().nextAttemptTime).toBe(clock.now() + 30_000);
  });

  it('lets successes fall out of the window with the clock', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'rolling', failureThreshold: 0, minimumRequests: 2, clock });
    for (let i = 0; i < 10; i++) await breaker.execute(async () => 'ok');
    expect(breaker.stats().window.calls).toBe(10);
    clock.advance(61_000);
    expect(breaker.stats().window.calls).toBe(0);
    await breaker.execute(async () => Promise.reject(new Error('x'))).catch(() => {});
    await breaker.execute(async () => 'ok');
    // 1 failure in 2 calls is 50%: the old successes no longer dilute it.
    expect(breaker.state).toBe('OPEN');
  });

  it('applies isFailure to a rejection', async () => {
    const breaker = new CircuitBreaker({
      name: 'filter',
      failureThreshold: 1,
      isFailure: (error) => !(error instanceof RangeError),
    });
    await breaker.execute(async () => Promise.reject(new RangeError('client'))).catch(() => {});
    expect(breaker.stats()).toMatchObject({ ignored: 1, failures: 0, state: 'CLOSED' });
    await breaker.execute(async () => Promise.reject(new Error('server'))).catch(() => {});
    expect(breaker.state).toBe('OPEN');
  });

  it('counts a synchronous throw and a non-promise thenable', async () => {
    const breaker = new CircuitBreaker({ name: 'shapes', failureThreshold: 5 });
    await expect(
      breaker.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    // biome-ignore lint/suspicious/noThenProperty: the point is a thenable that is not a Promise
    const thenable = { then: (resolve: (value: number) => void) => resolve(7) } as unknown as PromiseLike<number>;
    await expect(breaker.execute(() => thenable)).resolves.toBe(7);
    expect(breaker.stats()).toMatchObject({ failures: 1, successes: 1, consecutiveFailures: 0 });
  });

  it('times calls again once a success or failure listener is added', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'listen', clock });
    const inFlight = deferred<string>();
    const early = breaker.execute(() => inFlight.promise);
    const successes: CallEvent[] = [];
    const failures: FailureEvent[] = [];
    breaker.on('success', (event) => successes.push(event));
    breaker.on('failure', (event) => failures.push(event));
    const gate = deferred<string>();
    const timed = breaker.execute(() => gate.promise);
    clock.advance(25);
    gate.resolve('ok');
    inFlight.resolve('early');
    await Promise.all([early, timed]);
    // The call that started untimed is counted but reports no duration; the timed one does.
    expect(breaker.stats().successes).toBe(2);
    expect(successes).toEqual([{ name: 'listen', durationMs: 25, slow: false }]);
    await breaker.execute(async () => Promise.reject(new Error('boom'))).catch(() => {});
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ durationMs: 0, error: new Error('boom') });
  });

  it('goes through the group check once the breaker joins a group', async () => {
    const registry = new Registry();
    const a = registry.getOrCreate('a', { failureThreshold: 1 });
    const b = registry.getOrCreate('b', { failureThreshold: 1 });
    await a.execute(async () => 'warm'); // a's untimed handlers exist before the group does
    registry.defineGroup('pair', { members: ['a', 'b'], threshold: 0.4 });
    await b.execute(async () => Promise.reject(new Error('down'))).catch(() => {});
    expect(b.state).toBe('OPEN');
    await expect(a.execute(async () => 'x')).rejects.toMatchObject({ code: 'ECIRCUITOPEN', reason: 'group' });
  });
});
