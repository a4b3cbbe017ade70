import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deferred, delay } from '../../../../test/support/index.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { Deadlines, TimedCall } from './deadlines.js';

const heldTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('Deadlines', () => {
  it('expires calls in deadline order with one timer, skipping the ones removed', async () => {
    const deadlines = new Deadlines();
    const expired: string[] = [];
    const start = Deadlines.now();
    const calls = ['a', 'b', 'c', 'd'].map((name, i) => {
      const call = new TimedCall(start + 20 + i * 15, () => expired.push(name));
      deadlines.add(call);
      return call;
    });
    deadlines.remove(calls[1] as TimedCall);
    deadlines.remove(calls[3] as TimedCall);
    await delay(120);
    expect(expired).toEqual(['a', 'c']);
    expect(calls.map((call) => call.done)).toEqual([true, false, true, false]);
  });

  it('re-arms for the next deadline when the earliest call finished first', async () => {
    const deadlines = new Deadlines();
    const start = Deadlines.now();
    const expiredAt: number[] = [];
    const first = new TimedCall(start + 10, () => expiredAt.push(-1));
    const second = new TimedCall(start + 60, () => expiredAt.push(Deadlines.now() - start));
    deadlines.add(first);
    deadlines.add(second);
    deadlines.remove(first);
    await delay(150);
    expect(expiredAt).toHaveLength(1);
    expect(expiredAt[0]).toBeGreaterThanOrEqual(59);
  });

  it('takes a call added while another expires', async () => {
    const deadlines = new Deadlines();
    const expired: string[] = [];
    deadlines.add(
      new TimedCall(Deadlines.now() + 5, () => {
        expired.push('first');
        deadlines.add(new TimedCall(Deadlines.now() + 5, () => expired.push('second')));
      }),
    );
    await delay(80);
    expect(expired).toEqual(['first', 'second']);
  });

  it('keeps the calls still waiting on time when a call with a later deadline is added while one expires', async () => {
    const deadlines = new Deadlines();
    const start = Deadlines.now();
    const expiredAt: Record<string, number> = {};
    const late = new TimedCall(start + 5_000, () => {});
    deadlines.add(
      new TimedCall(start + 20, () => {
        expiredAt.first = Deadlines.now() - start;
        // A `timeout` listener that retries through the same breaker.
        deadlines.add(late);
      }),
    );
    deadlines.add(new TimedCall(start + 60, () => (expiredAt.second = Deadlines.now() - start)));
    await delay(400);
    deadlines.remove(late);
    expect(expiredAt.first).toBeGreaterThanOrEqual(19);
    // Due at 60 ms: not held back until the later call's deadline (5 s).
    expect(expiredAt.second).toBeGreaterThanOrEqual(59);
    expect(expiredAt.second).toBeLessThan(400);
  });

  it('holds the process only while calls run', async () => {
    const before = heldTimers();
    const deadlines = new Deadlines();
    const call = new TimedCall(Deadlines.now() + 60_000, () => {});
    deadlines.add(call);
    expect(heldTimers()).toBe(before + 1);
    deadlines.remove(call);
    expect(heldTimers()).toBe(before);
    const again = new TimedCall(Deadlines.now() + 60_000, () => {});
    deadlines.add(again);
    expect(heldTimers()).toBe(before + 1);
    deadlines.remove(again);
    expect(heldTimers()).toBe(before);
  });
});

describe('execute() with timeoutMs, many calls at once', () => {
  it('times out only the calls that overrun, each after about timeoutMs', async () => {
    const breaker = new CircuitBreaker({ name: 'batch', timeoutMs: 40, failureThreshold: 0, failureRateThreshold: 0 });
    const gates = Array.from({ length: 20 }, () => deferred<number>());
    const started = Date.now();
    const outcomes = gates.map((gate, i) =>
      breaker
        .execute(() => gate.promise)
        .then(
          () => ({ i, ok: true, after: Date.now() - started }),
          (error: unknown) => ({
            i,
            ok: false,
            timeout: error instanceof CircuitTimeoutError,
            after: Date.now() - started,
          }),
        ),
    );
    // Even calls finish at once; odd ones never do.
    for (let i = 0; i < gates.length; i += 2) gates[i]?.resolve(i);
    const results = await Promise.all(outcomes);
    for (const result of results) {
      if (result.i % 2 === 0) expect(result).toMatchObject({ ok: true });
      else {
        expect(result).toMatchObject({ ok: false, timeout: true });
        expect(result.after).toBeGreaterThanOrEqual(39);
      }
    }
    expect(breaker.stats()).toMatchObject({ successes: 10, timeouts: 10 });
  });

  it('times each call out at its own deadline when a timeout listener starts another call', async () => {
    const breaker = new CircuitBreaker({ name: 'retry-on-timeout', timeoutMs: 300, failureThreshold: 0 });
    const hang = () => new Promise<never>(() => {});
    let retried = false;
    breaker.on('timeout', () => {
      if (retried) return;
      retried = true;
      breaker.execute(hang).catch(() => {});
    });
    const started = performance.now();
    breaker.execute(hang).catch(() => {});
    await delay(40);
    // Due at about 340 ms; not 300 ms after the retry began (600 ms).
    const after = await breaker.execute(hang).catch(() => performance.now() - started);
    expect(after).toBeGreaterThanOrEqual(330);
    expect(after).toBeLessThan(500);
  });

  it('leaves no timer holding the process once every call is done', async () => {
    const before = heldTimers();
    const breaker = new CircuitBreaker({ name: 'tidy', timeoutMs: 60_000 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => breaker.execute(async () => i)));
    expect(heldTimers()).toBe(before);
  });
});

describe('Deadlines and the wall clock', () => {
  // The wall clock must be stepped before core is loaded (it keeps Date.now as it found it):
  // a process of its own, on the built package (\`pnpm test\` builds first).
  const core = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  const script = `
    const real = Date.now.bind(Date);
    let offset = 0;
    Date.now = () => real() + offset;
    const { CircuitBreaker } = await import(${JSON.stringify(core)});
    const breaker = new CircuitBreaker({ name: 'wall', timeoutMs: 100, failureThreshold: 0 });
    const started = performance.now();
    const steps = [-60_000, 60_000];
    const results = [];
    for (const step of steps) {
      offset = 0;
      const call = breaker.execute((signal) => new Promise((resolve) => setTimeout(resolve, 1_000, 'finished')));
      setTimeout(() => { offset = step; }, 50);
      const t0 = performance.now();
      const outcome = await call.then((value) => value, (error) => error.code);
      results.push([outcome, Math.round(performance.now() - t0)]);
    }
    console.log(JSON.stringify(results));
  `;

  it('times a call out after timeoutMs of real time, whichever way the wall clock steps meanwhile', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    const results = JSON.parse(stdout) as [string, number][];
    // Stepped back a minute: still timed out at ~100 ms, not a minute later (nor when the call ends).
    // Stepped forward a minute: not timed out at once, at the step, either.
    for (const [outcome, elapsed] of results) {
      expect(outcome).toBe('ETIMEDOUT');
      expect(elapsed).toBeGreaterThanOrEqual(95);
      expect(elapsed).toBeLessThan(900);
    }
  });
});
