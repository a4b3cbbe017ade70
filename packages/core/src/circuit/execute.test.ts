import { describe, expect, it } from 'vitest';
import { deferred } from '../../../../test/support/index.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CallEvent } from './events.js';

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('CircuitBreaker.execute', () => {
  it('resolves with the value of a synchronous fn and records a success', async () => {
    const breaker = new CircuitBreaker({ name: 'sync' });
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    expect(breaker.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('resolves with the value of an async fn', async () => {
    const breaker = new CircuitBreaker({ name: 'async' });
    await expect(breaker.execute(async () => ({ ok: true }))).resolves.toEqual({ ok: true });
    expect(breaker.stats().successes).toBe(1);
  });

  it('does not count an async call until it settles', async () => {
    const breaker = new CircuitBreaker({ name: 'pending', failureThreshold: 1 });
    const gate = deferred<string>();
    const call = breaker.execute(() => gate.promise);
    expect(breaker.stats().totalCalls).toBe(0);
    gate.reject(new Error('down'));
    await expect(call).rejects.toThrow('down');
    expect(breaker.state).toBe('OPEN');
  });

  it('rejects with the error a synchronous fn throws and records a failure', async () => {
    const breaker = new CircuitBreaker({ name: 'throws', failureThreshold: 1 });
    const error = new Error('sync boom');
    await expect(
      breaker.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(breaker.state).toBe('OPEN');
  });

  it('rejects with the error an async fn rejects with', async () => {
    const breaker = new CircuitBreaker({ name: 'rejects', failureThreshold: 2 });
    const error = new Error('async boom');
    await expect(breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(breaker.stats()).toMatchObject({ failures: 1, consecutiveFailures: 1 });
  });

  it('rejects with a TypeError, counting nothing, when given no function', async () => {
    const breaker = new CircuitBreaker({ name: 'no-fn', failureThreshold: 1 });
    const call = breaker.execute(undefined as unknown as () => number);
    await expect(call).rejects.toThrow(new TypeError('execute() takes a function: got undefined'));
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats().totalCalls).toBe(0);
  });

  it('gives fn an AbortSignal that does not fire without timeoutMs', async () => {
    const breaker = new CircuitBreaker({ name: 'signal' });
    const signal = await breaker.execute((s) => s);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
  });

  it('lets every call without timeoutMs use the signal without piling up listeners', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const breaker = new CircuitBreaker({ name: 'listeners' });
      const seen = new Set<AbortSignal>();
      for (let i = 0; i < 200; i++) {
        await breaker.execute((signal) => {
          seen.add(signal);
          signal.addEventListener('abort', () => {});
          signal.onabort = () => {};
          signal.throwIfAborted();
          return i;
        });
      }
      // One shared signal, which never aborts and keeps no listener (none of them could ever run).
      expect(seen.size).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('passes a signal that fetch and node:timers/promises accept', async () => {
    const { createServer } = await import('node:http');
    const { setTimeout: wait } = await import('node:timers/promises');
    const server = createServer((_, res) => res.end('pong'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const breaker = new CircuitBreaker({ name: 'fetch-signal' });
      const body = await breaker.execute(async (signal) => {
        await wait(1, undefined, { signal });
        const response = await fetch(`http://127.0.0.1:${port}/`, { signal });
        return response.text();
      });
      expect(body).toBe('pong');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects with CircuitOpenError without calling fn when the circuit is open', async () => {
    const breaker = new CircuitBreaker({ name: 'open' });
    breaker.forceOpen();
    let called = false;
    const error = await breaker
      .execute(() => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: 'ECIRCUITOPEN', breaker: 'open', state: 'FORCED_OPEN', reason: 'forced_open' });
  });

  it('accepts a non-promise thenable', async () => {
    const breaker = new CircuitBreaker({ name: 'thenable' });
    // biome-ignore lint/suspicious/noThenProperty: the point is a thenable that is not a Promise
    const thenable = { then: (resolve: (value: string) => void) => resolve('done') } as unknown as PromiseLike<string>;
    await expect(breaker.execute(() => thenable)).resolves.toBe('done');
    expect(breaker.stats().successes).toBe(1);
  });

  describe('with timeoutMs', () => {
    it('aborts the signal and rejects with CircuitTimeoutError when fn runs too long', async () => {
      const breaker = new CircuitBreaker({ name: 'slow', timeoutMs: 20, failureThreshold: 1 });
      const timeouts: CallEvent[] = [];
      breaker.on('timeout', (event) => timeouts.push(event));
      let seen: AbortSignal | undefined;
      const error = await breaker
        .execute(
          (signal) =>
            new Promise((_, reject) => {
              seen = signal;
              signal.addEventListener('abort', () => reject(new Error('aborted by signal')));
            }),
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitTimeoutError);
      expect(error).toMatchObject({
        name: 'CircuitTimeoutError',
        code: 'ETIMEDOUT',
        breaker: 'slow',
        timeoutMs: 20,
        message: 'Call through circuit breaker "slow" timed out after 20 ms',
      });
      expect(seen?.aborted).toBe(true);
      expect(seen?.reason).toBe(error);
      expect(breaker.state).toBe('OPEN');
      expect(breaker.stats()).toMatchObject({ timeouts: 1, failures: 1, successes: 0 });
      expect(timeouts).toHaveLength(1);
    });

    it('aborts the signal of functions that declare no parameter but still read it', async () => {
      const breaker = new CircuitBreaker({ name: 'wrapped', timeoutMs: 20, failureThreshold: 0 });
      const hang = (signal: AbortSignal) =>
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      const signals: AbortSignal[] = [];
      const kept = (signal: AbortSignal) => {
        signals.push(signal);
        return hang(signal);
      };
      // A generic wrapper, a default parameter, and a function that reads `arguments`: fn.length is 0 for all.
      const wrapper = (...args: [AbortSignal]) => kept(...args);
      const defaulted = (signal: AbortSignal = AbortSignal.abort()) => kept(signal);
      const legacy = function (this: unknown) {
        // biome-ignore lint/complexity/noArguments: what such code does
        return kept(arguments[0] as AbortSignal);
      };
      for (const fn of [wrapper, defaulted, legacy]) {
        expect(fn.length).toBe(0);
        await expect(breaker.execute(fn as (signal: AbortSignal) => Promise<never>)).rejects.toBeInstanceOf(
          CircuitTimeoutError,
        );
      }
      expect(signals.map((signal) => signal.aborted)).toEqual([true, true, true]);
    });

    it('ignores a result that arrives after the timeout', async () => {
      const breaker = new CircuitBreaker({ name: 'late', timeoutMs: 20, failureThreshold: 0 });
      const gate = deferred<string>();
      const call = breaker.execute(() => gate.promise);
      await expect(call).rejects.toBeInstanceOf(CircuitTimeoutError);
      gate.resolve('too late');
      await gate.promise;
      expect(breaker.stats()).toMatchObject({ totalCalls: 1, successes: 0, timeouts: 1 });
    });

    it('clears its timer when fn finishes in time', async () => {
      const before = timers();
      const breaker = new CircuitBreaker({ name: 'quick', timeoutMs: 60_000 });
      const gate = deferred<number>();
      const call = breaker.execute(() => gate.promise);
      expect(timers()).toBe(before + 1);
      gate.resolve(7);
      await expect(call).resolves.toBe(7);
      await expect(breaker.execute(() => 8)).resolves.toBe(8);
      await expect(breaker.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
      expect(timers()).toBe(before);
    });

    it('passes a signal that has not fired to a call that finishes in time', async () => {
      const breaker = new CircuitBreaker({ name: 'fine', timeoutMs: 1_000 });
      const signal = await breaker.execute((s) => s);
      expect(signal.aborted).toBe(false);
    });
  });
});
