import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitState } from '../circuit/state.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import type { CachedResponse, CacheStore, RequestInfo } from '../fallback/types.js';
import { answeredByBreakwater, markAnswered } from '../node/answered.js';
import { Registry } from '../registry/registry.js';
import { type Admission, type HttpCall, HttpGuard, Refusal } from './http-guard.js';

interface Req {
  tenant: string;
}

const req: Req = { tenant: 't1' };
const info: RequestInfo = { method: 'GET', url: '/items?page=2', headers: {} };
const clock = { t: 0, now: () => clock.t };

function refusal(admission: Admission): Refusal {
  if (!(admission instanceof Refusal)) throw new Error('expected a refusal, got a permit');
  return admission;
}

function admitted(guard: HttpGuard<Req>, request: Req = req): HttpCall {
  const admission = guard.admit(request);
  if (admission instanceof Refusal) throw new Error(`expected a permit, got ${admission.error.message}`);
  return admission;
}

function open(guard: HttpGuard<Req>, request: Req = req): void {
  while (guard.breakerFor(request).state === CircuitState.CLOSED) admitted(guard, request).complete(500);
}

function mapStore(): CacheStore {
  const map = new Map<string, CachedResponse>();
  return { get: (key) => map.get(key), set: (key, value) => map.set(key, value) };
}

type Line = [level: string, ...args: unknown[]];
function recorder(lines: Line[]) {
  return {
    warn: (...args: unknown[]) => void lines.push(['warn', ...args]),
    info: (...args: unknown[]) => void lines.push(['info', ...args]),
    error: (...args: unknown[]) => void lines.push(['error', ...args]),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HttpGuard: which breaker serves a request', () => {
  it('uses the name option, from the given registry', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ name: 'catalog', registry });
    const breaker = guard.breakerFor(req);
    expect(breaker.name).toBe('catalog');
    expect(registry.get('catalog')).toBe(breaker);
    expect(guard.breakerFor({ tenant: 'other' })).toBe(breaker);
  });

  it('uses key(req) over the name, one breaker per key', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ name: 'ignored', registry, key: (r) => `tenant:${r.tenant}` });
    const a = guard.breakerFor({ tenant: 'a' });
    const b = guard.breakerFor({ tenant: 'b' });
    expect([a.name, b.name]).toEqual(['tenant:a', 'tenant:b']);
    expect(guard.breakerFor({ tenant: 'a' })).toBe(a);
    expect(registry.names().sort()).toEqual(['tenant:a', 'tenant:b']);
  });

  it("uses the adapter's default name when there is neither name nor key", () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry });
    expect(guard.breakerFor(req, 'GET /route').name).toBe('GET /route');
  });

  it('throws a TypeError when there is no name, no key and no default name', () => {
    const guard = new HttpGuard<Req>({ registry: new Registry() });
    expect(() => guard.admit(req)).toThrow(TypeError);
    expect(() => guard.breakerFor(req)).toThrow(/give a "name" or a "key" function/);
  });

  it('refuses to make a gate that could never pick a breaker, when it is made', () => {
    const guard = new HttpGuard<Req>({ registry: new Registry() });
    expect(() => guard.gate()).toThrow(
      new TypeError('Invalid options: give a "name" or a "key" function, so that requests have a breaker'),
    );
    expect(guard.gate('GET /route')).toBeDefined();
    expect(new HttpGuard<Req>({ registry: new Registry(), name: 'catalog' }).gate()).toBeDefined();
    expect(new HttpGuard<Req>({ registry: new Registry(), key: () => 'k' }).gate()).toBeDefined();
  });

  it('throws a TypeError when key(req) returns something other than a non-empty string', () => {
    const guard = new HttpGuard<Req>({ registry: new Registry(), key: (r) => r.tenant });
    expect(() => guard.breakerFor({ tenant: '' })).toThrow(/Invalid key: the "key" function returned ""/);
    expect(() => guard.breakerFor({ tenant: 42 as never })).toThrow(
      new TypeError('Invalid key: the "key" function returned 42, expected a non-empty string'),
    );
    // What a key function returns comes from the request: an object is shown by its kind only.
    const leaky = () => guard.breakerFor({ tenant: { cookie: 'session=s3cret' } as never });
    expect(leaky).toThrow(/returned an object, expected/);
    expect(leaky).not.toThrow(/s3cret/);
  });

  it('passes breaker options through to the breakers it creates', () => {
    const guard = new HttpGuard<Req>({ name: 'tuned', registry: new Registry(), failureThreshold: 2, timeoutMs: 900 });
    expect(guard.breakerFor(req).options).toMatchObject({ failureThreshold: 2, timeoutMs: 900 });
  });
});

describe('HttpGuard: options over the registry', () => {
  it('checks options that go together over the defaults and the declaration of its name', () => {
    const registry = new Registry({ defaults: { slowCallDurationMs: 500, slowCallRateThreshold: 0.5 } });
    registry.declare('partner', { options: { recoveryTimeoutMs: 5_000 } });
    const guard = new HttpGuard<Req>({
      name: 'partner',
      registry,
      slowCallRateThreshold: 0.8,
      maxRecoveryTimeoutMs: 9_000,
    });
    expect(guard.breakerFor(req).options).toMatchObject({
      slowCallDurationMs: 500,
      slowCallRateThreshold: 0.8,
      maxRecoveryTimeoutMs: 9_000,
    });
    // Still refused when no layer completes the pair, at setup.
    expect(() => new HttpGuard<Req>({ name: 'x', registry: new Registry(), slowCallRateThreshold: 0.8 })).toThrow(
      'Invalid option "slowCallDurationMs": got undefined, expected a value because "slowCallRateThreshold" is set',
    );
  });
});

describe('HttpGuard.gate: admitting under a name known before requests arrive', () => {
  function breakerOf(admission: Admission) {
    if (admission instanceof Refusal) throw new Error(`expected a permit, got ${admission.error.message}`);
    return admission.breaker;
  }

  it("admits under the gate's default name, or the name option when there is one", () => {
    const registry = new Registry();
    const byRoute = new HttpGuard<Req>({ registry }).gate('GET /items');
    expect(breakerOf(byRoute.admit(req))).toBe(registry.get('GET /items'));
    const named = new HttpGuard<Req>({ name: 'catalog', registry }).gate('GET /items');
    expect(breakerOf(named.admit(req)).name).toBe('catalog');
  });

  it('follows the registry when the breaker of its name is replaced', () => {
    const registry = new Registry();
    const gate = new HttpGuard<Req>({ registry, failureThreshold: 1 }).gate('GET /items');
    const first = breakerOf(gate.admit(req));
    registry.delete('GET /items');
    const second = breakerOf(gate.admit(req));
    expect(second).not.toBe(first);
    expect(registry.get('GET /items')).toBe(second);
    (gate.admit(req) as HttpCall).complete(500);
    expect(second.state).toBe(CircuitState.OPEN);
    expect(gate.admit(req)).toBeInstanceOf(Refusal);
  });

  it('looks each request up with key() when the guard has one', () => {
    const registry = new Registry();
    const gate = new HttpGuard<Req>({ registry, key: (r) => `tenant:${r.tenant}` }).gate('GET /items');
    expect(breakerOf(gate.admit({ tenant: 'a' })).name).toBe('tenant:a');
    expect(breakerOf(gate.admit({ tenant: 'b' })).name).toBe('tenant:b');
    expect(registry.has('GET /items')).toBe(false);
  });
});

describe('HttpGuard: options', () => {
  it.each([
    [{ name: 'x', failureThreshold: -1 }, /Invalid option "failureThreshold": got -1/],
    [{ name: 'x', key: 'x' }, /Invalid option "key": got "x", expected a function/],
    [{ name: 'x', maxBreakers: 0 }, /Invalid option "maxBreakers": got 0, expected an integer of at least 1/],
    [{ name: 'x', maxBreakers: 1.5 }, /Invalid option "maxBreakers": got 1.5/],
    [{ name: 'x', failureTreshold: 3 }, /Unknown option "failureTreshold"/],
    [{ name: '' }, /Invalid option "name"/],
    [{ name: 'x', onOpen: true }, /Invalid option "onOpen": got true, expected a function/],
    [
      { name: 'x', logger: { warn: () => {} } },
      /Invalid option "logger": got an object, expected an object with warn\(\) and info\(\) methods/,
    ],
    [{ name: 'x', failureStatusCodes: [1000] }, /Invalid option "failureStatusCodes": got 1000/],
    [{ name: 'x', fallback: { strategy: 'retry' } }, /Invalid option "fallback.strategy": got "retry"/],
    [
      { name: 'x', fallback: { strategy: 'default', response: { status: 1 } } },
      /Invalid option "fallback.response.status": got 1, expected an integer from 200 to 599/,
    ],
    [
      { name: 'x', fallback: { strategy: 'default', response: { status: 102 } } },
      /Invalid option "fallback.response.status": got 102, expected an integer from 200 to 599/,
    ],
  ])('rejects %j with a TypeError naming the option', (options, message) => {
    expect(() => new HttpGuard(options as never)).toThrow(TypeError);
    expect(() => new HttpGuard(options as never)).toThrow(message);
  });

  it('rejects options that are not an object', () => {
    expect(() => new HttpGuard(null as never)).toThrow(/Invalid options: got null, expected an object/);
  });

  it('needs a store for a cache fallback when the adapter brings no in-memory one', () => {
    expect(() => new HttpGuard<Req>({ name: 'x', fallback: { strategy: 'cache' } })).toThrow(
      /Invalid option "fallback.store"/,
    );
    const store = mapStore();
    const guard = new HttpGuard<Req>({ name: 'x', fallback: { strategy: 'cache' } }, { memoryStore: () => store });
    expect(guard.engine('x')?.strategy).toBe('cache');
  });
});

describe('HttpGuard: admitting and refusing', () => {
  it('admits while CLOSED and refuses with a CircuitOpenError once OPEN', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ name: 'svc', registry, failureThreshold: 2, recoveryTimeoutMs: 7_000, clock });
    clock.t = 0;
    admitted(guard).complete(503);
    admitted(guard).complete(502);
    const refused = guard.admit(req);
    if (!(refused instanceof Refusal)) throw new Error('expected a refusal');
    expect(refused.error).toBeInstanceOf(CircuitOpenError);
    expect(refused.error).toMatchObject({ breaker: 'svc', state: 'OPEN', retryAfterMs: 7_000 });
    expect(refused.breaker).toBe(registry.get('svc'));
    expect(registry.get('svc')?.stats().rejected).toBe(1);
  });

  it('calls onOpen with the request and the error for every refusal, and survives one that throws', () => {
    const seen: [Req, CircuitOpenError][] = [];
    const guard = new HttpGuard<Req>({
      name: 'hooked',
      registry: new Registry(),
      failureThreshold: 1,
      onOpen: (r, e) => {
        seen.push([r, e]);
        throw new Error('hook broke');
      },
    });
    admitted(guard).complete(500);
    const first = guard.admit(req);
    const second = guard.admit({ tenant: 't2' });
    expect(refusal(first).error).toBeInstanceOf(CircuitOpenError);
    expect(refusal(second).error).toBeInstanceOf(CircuitOpenError);
    expect(seen.map(([r, e]) => [r.tenant, e.breaker])).toEqual([
      ['t1', 'hooked'],
      ['t2', 'hooked'],
    ]);
  });
});

describe('HttpCall: outcomes', () => {
  it('counts 4xx as success and 5xx as failure by default', () => {
    const guard = new HttpGuard<Req>({ name: 'default-codes', registry: new Registry() });
    for (const status of [200, 301, 400, 404, 429]) admitted(guard).complete(status);
    for (const status of [500, 503]) admitted(guard).complete(status);
    expect(guard.breakerFor(req).stats()).toMatchObject({ successes: 5, failures: 2 });
  });

  it('counts exactly the failureStatusCodes when given', () => {
    const guard = new HttpGuard<Req>({ name: 'listed', registry: new Registry(), failureStatusCodes: [429, 503] });
    admitted(guard).complete(429);
    admitted(guard).complete(503);
    admitted(guard).complete(500);
    admitted(guard).complete(404);
    expect(guard.breakerFor(req).stats()).toMatchObject({ successes: 2, failures: 2 });
  });

  it('records the status as an HttpStatusError on failure', () => {
    const guard = new HttpGuard<Req>({ name: 'errors', registry: new Registry() });
    const errors: unknown[] = [];
    guard.breakerFor(req).on('failure', (event) => errors.push(event.error));
    admitted(guard).complete(502);
    expect(errors).toEqual([expect.objectContaining({ name: 'HttpStatusError', status: 502 })]);
  });

  it('counts fail(error) as a failure, subject to the isFailure option', () => {
    const guard = new HttpGuard<Req>({
      name: 'thrown',
      registry: new Registry(),
      isFailure: (error) => !(error instanceof RangeError),
    });
    admitted(guard).fail(new Error('boom'));
    admitted(guard).fail(new RangeError('bad input'));
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 1, ignored: 1 });
  });

  it('counts abort() as neither success nor failure', () => {
    const guard = new HttpGuard<Req>({ name: 'aborted', registry: new Registry(), failureThreshold: 1 });
    admitted(guard).abort();
    expect(guard.breakerFor(req).stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
    expect(guard.breakerFor(req).state).toBe('CLOSED');
  });

  it("counts a failing status that Breakwater answered itself (another breaker's 503) as neither", () => {
    const guard = new HttpGuard<Req>({ name: 'outer', registry: new Registry(), failureThreshold: 1 });
    const answered = {};
    markAnswered(answered);
    admitted(guard).complete(503, answered);
    admitted(guard).complete(200, answered);
    expect(guard.breakerFor(req).stats()).toMatchObject({ totalCalls: 1, successes: 1, failures: 0 });
    admitted(guard).complete(503, {});
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 1, state: 'OPEN' });
    expect(answeredByBreakwater(answered)).toBe(true);
    expect(answeredByBreakwater({})).toBe(false);
  });

  it('gives a permit back for such a response, as for a client that went away', () => {
    const guard = new HttpGuard<Req>({
      name: 'timed',
      registry: new Registry(),
      timeoutMs: 1_000,
      failureThreshold: 1,
    });
    const answered = {};
    markAnswered(answered);
    const call = admitted(guard);
    expect(call.holdsPermit).toBe(true);
    call.armTimeout();
    call.complete(503, answered);
    expect(call.settled).toBe(true);
    expect(guard.breakerFor(req).stats()).toMatchObject({ totalCalls: 0, failures: 0, state: 'CLOSED' });
  });

  it('settles once: later complete/fail/abort calls are ignored', () => {
    const guard = new HttpGuard<Req>({ name: 'once', registry: new Registry() });
    const call = admitted(guard);
    call.complete(500);
    call.complete(200);
    call.fail(new Error('again'));
    call.abort();
    expect(guard.breakerFor(req).stats()).toMatchObject({ totalCalls: 1, failures: 1, successes: 0 });
  });
});

describe('HttpCall: calls that are only counted (CLOSED, nothing times them)', () => {
  it('reads no clock when admitted, and one reading when it ends', () => {
    let reads = 0;
    const counting = { now: () => ++reads };
    const guard = new HttpGuard<Req>({ name: 'count-only', registry: new Registry(), clock: counting });
    guard.breakerFor(req);
    const before = reads;
    const call = admitted(guard);
    expect(reads).toBe(before);
    call.complete(200);
    expect(reads).toBe(before + 1);
    expect(guard.breakerFor(req).stats()).toMatchObject({ successes: 1 });
  });

  it('counts a success at the exact time, scheduling nothing (no coarse-clock turn marker)', async () => {
    const guard = new HttpGuard<Req>({ name: 'exact', registry: new Registry() });
    const call = admitted(guard);
    // Let any turn marker of earlier work run out.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    call.complete(200);
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'Immediate')).toEqual([]);
    expect(guard.breakerFor(req).stats()).toMatchObject({ successes: 1 });
  });

  it('is ignored when it ends after the circuit moved on, as a stale permit is', () => {
    const guard = new HttpGuard<Req>({ name: 'stale', registry: new Registry(), failureThreshold: 1, clock });
    const early = admitted(guard);
    const other = admitted(guard);
    other.complete(500);
    const breaker = guard.breakerFor(req);
    expect(breaker.state).toBe('OPEN');
    breaker.reset();
    early.complete(500);
    early.complete(200);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats()).toMatchObject({ totalCalls: 0, failures: 0 });
  });

  it('takes a permit (and so a duration) once something times calls', () => {
    const guard = new HttpGuard<Req>({ name: 'timed-by-listener', registry: new Registry(), clock });
    const durations: number[] = [];
    guard.breakerFor(req).on('success', (event) => durations.push(event.durationMs));
    clock.t = 100;
    const call = admitted(guard);
    clock.t = 142;
    call.complete(200);
    expect(durations).toEqual([42]);
  });
});

describe('HttpCall: timeouts', () => {
  it('counts a timeout at the deadline and calls onTimeout once with a CircuitTimeoutError', async () => {
    const guard = new HttpGuard<Req>({ name: 'slow', registry: new Registry(), timeoutMs: 30 });
    const call = admitted(guard);
    const errors: CircuitTimeoutError[] = [];
    call.armTimeout((error) => errors.push(error));
    expect(call.timedOut).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(call.timedOut).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CircuitTimeoutError);
    expect(errors[0]).toMatchObject({ breaker: 'slow', timeoutMs: 30 });
    call.complete(200);
    expect(guard.breakerFor(req).stats()).toMatchObject({ timeouts: 1, failures: 1, successes: 0 });
  });

  it('counts no timeout when the response finishes first', async () => {
    const guard = new HttpGuard<Req>({ name: 'quick', registry: new Registry(), timeoutMs: 30 });
    const call = admitted(guard);
    const onTimeout = vi.fn();
    call.armTimeout(onTimeout);
    call.complete(200);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(onTimeout).not.toHaveBeenCalled();
    expect(call.timedOut).toBe(false);
    expect(guard.breakerFor(req).stats()).toMatchObject({ timeouts: 0, successes: 1 });
  });

  it('clears its timer when settled, leaving no timer behind', () => {
    vi.useFakeTimers();
    const guard = new HttpGuard<Req>({ name: 'timers', registry: new Registry(), timeoutMs: 5_000 });
    for (const settle of [
      (c: HttpCall) => c.complete(200),
      (c: HttpCall) => c.fail(new Error('x')),
      (c: HttpCall) => c.abort(),
    ]) {
      const call = admitted(guard);
      call.armTimeout(() => {});
      expect(vi.getTimerCount()).toBe(1);
      settle(call);
      expect(vi.getTimerCount()).toBe(0);
    }
  });

  it('arms nothing without timeoutMs, or when the call is already settled', () => {
    vi.useFakeTimers();
    const plain = new HttpGuard<Req>({ name: 'no-timeout', registry: new Registry() });
    admitted(plain).armTimeout(() => {});
    expect(vi.getTimerCount()).toBe(0);
    const timed = new HttpGuard<Req>({ name: 'settled', registry: new Registry(), timeoutMs: 100 });
    const call = admitted(timed);
    call.complete(200);
    call.armTimeout(() => {});
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('HttpGuard: maxBreakers', () => {
  it('evicts the least recently used CLOSED keyed breaker beyond maxBreakers', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 2 });
    guard.breakerFor({ tenant: 'a' });
    guard.breakerFor({ tenant: 'b' });
    guard.breakerFor({ tenant: 'a' });
    guard.breakerFor({ tenant: 'c' });
    expect(registry.names().sort()).toEqual(['a', 'c']);
  });

  it('never evicts an OPEN breaker', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 2, failureThreshold: 1 });
    open(guard, { tenant: 'a' });
    guard.breakerFor({ tenant: 'b' });
    guard.breakerFor({ tenant: 'c' });
    expect(registry.names().sort()).toEqual(['a', 'c']);
    expect(refusal(guard.admit({ tenant: 'a' })).error).toBeInstanceOf(CircuitOpenError);
  });

  it('never evicts a CLOSED breaker with requests in flight, and evicts it once they are settled', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 2, failureThreshold: 1 });
    const busy = admitted(guard, { tenant: 'a' });
    guard.breakerFor({ tenant: 'b' });
    guard.breakerFor({ tenant: 'c' });
    expect(registry.names().sort()).toEqual(['a', 'c']);
    busy.complete(500);
    expect(registry.get('a')?.state).toBe('OPEN');
    expect(refusal(guard.admit({ tenant: 'a' })).error).toBeInstanceOf(CircuitOpenError);

    const other = new Registry();
    const settled = new HttpGuard<Req>({ registry: other, key: (r) => r.tenant, maxBreakers: 2 });
    admitted(settled, { tenant: 'a' }).abort();
    settled.breakerFor({ tenant: 'b' });
    settled.breakerFor({ tenant: 'c' });
    expect(other.names().sort()).toEqual(['b', 'c']);
  });

  it('knows a breaker is busy however its requests were looked up, across registry changes', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 2, failureThreshold: 1 });
    const slow = admitted(guard, { tenant: 'a' });
    // A new breaker changes the registry: the next request of "a" is looked up afresh.
    guard.breakerFor({ tenant: 'b' });
    admitted(guard, { tenant: 'a' }).complete(200);
    guard.breakerFor({ tenant: 'b' });
    guard.breakerFor({ tenant: 'c' });
    expect(registry.names().sort()).toEqual(['a', 'c']);
    slow.complete(500);
    expect(registry.get('a')?.state).toBe('OPEN');
  });

  it('keeps counting for a new key when every other breaker is OPEN', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 2, failureThreshold: 2 });
    open(guard, { tenant: 'a' });
    open(guard, { tenant: 'b' });
    admitted(guard, { tenant: 'c' }).complete(500);
    admitted(guard, { tenant: 'c' }).complete(500);
    expect(registry.get('c')?.state).toBe('OPEN');
    expect(refusal(guard.admit({ tenant: 'c' })).error).toBeInstanceOf(CircuitOpenError);
  });

  it('comes back under maxBreakers once breakers close again', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 1, failureThreshold: 1 });
    open(guard, { tenant: 'a' });
    guard.breakerFor({ tenant: 'b' });
    expect(registry.size).toBe(2);
    registry.reset();
    guard.breakerFor({ tenant: 'c' });
    expect(registry.names()).toEqual(['c']);
  });

  it('keeps a breaker it did not create in the registry when it leaves the keyed set', () => {
    const registry = new Registry();
    const shared = registry.getOrCreate('shared');
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 1 });
    expect(guard.breakerFor({ tenant: 'shared' })).toBe(shared);
    guard.breakerFor({ tenant: 'x' });
    guard.breakerFor({ tenant: 'y' });
    expect(registry.names().sort()).toEqual(['shared', 'y']);
    expect(registry.get('shared')).toBe(shared);
    expect(guard.breakerFor({ tenant: 'shared' })).toBe(shared);
  });

  it('keeps a declared breaker in the registry when it leaves the keyed set', () => {
    const registry = new Registry();
    registry.declare('a', { options: { failureThreshold: 9 } });
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 1 });
    const a = guard.breakerFor({ tenant: 'a' });
    guard.breakerFor({ tenant: 'b' });
    expect(registry.get('a')).toBe(a);
    expect(registry.has('b')).toBe(true);
  });

  it('does not evict breakers named by the name option', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, maxBreakers: 1 });
    guard.breakerFor(req, 'one');
    guard.breakerFor(req, 'two');
    expect(registry.names()).toEqual(['one', 'two']);
  });
});

describe('HttpGuard: declarations in the registry', () => {
  it('uses declared failureStatusCodes when the adapter gives none', () => {
    const registry = new Registry();
    registry.declare('declared', { failureStatusCodes: [429] });
    const guard = new HttpGuard<Req>({ name: 'declared', registry });
    admitted(guard).complete(429);
    admitted(guard).complete(500);
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 1, successes: 1 });
  });

  it("prefers the adapter's own failureStatusCodes to declared ones", () => {
    const registry = new Registry();
    registry.declare('both', { failureStatusCodes: [429] });
    const guard = new HttpGuard<Req>({ name: 'both', registry, failureStatusCodes: [418] });
    admitted(guard).complete(429);
    admitted(guard).complete(418);
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 1, successes: 1 });
  });

  it('answers a refusal with a declared fallback when the adapter gives none', async () => {
    const registry = new Registry();
    registry.declare('fb', { fallback: { strategy: 'default', response: { status: 200, body: 'from config' } } });
    const guard = new HttpGuard<Req>({ name: 'fb', registry, failureThreshold: 1 });
    open(guard);
    const refused = refusal(guard.admit(req));
    const wire = await guard.refusal(info, req, refused.error, refused.breaker);
    expect(wire).toMatchObject({ status: 200, body: 'from config' });
    expect(wire.headers['x-circuit-fallback']).toBe('default');
    expect(guard.engine('fb')).toBe(guard.engine('fb'));
  });

  it("prefers the adapter's own fallback to a declared one", async () => {
    const registry = new Registry();
    registry.declare('mine', { fallback: { strategy: 'default', response: { body: 'declared' } } });
    const guard = new HttpGuard<Req>({
      name: 'mine',
      registry,
      fallback: { strategy: 'default', response: { body: 'own' } },
    });
    const breaker = guard.breakerFor(req);
    breaker.forceOpen();
    const wire = await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(wire.body).toBe('own');
  });

  it('answers the 503, and logs, when the declared fallback is invalid', async () => {
    const lines: Line[] = [];
    const registry = new Registry();
    registry.declare('broken', { fallback: { strategy: 'cache' } });
    const guard = new HttpGuard<Req>({ name: 'broken', registry, logger: recorder(lines) });
    const breaker = guard.breakerFor(req);
    breaker.forceOpen();
    const wire = await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(wire.status).toBe(503);
    expect(lines.at(-1)).toEqual([
      'error',
      expect.stringMatching(/^declared fallback is invalid .*"breaker":"broken".*fallback\.store/),
    ]);
  });

  it('picks up a declaration made after its first requests, for statuses and fallbacks alike', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ name: 'late', registry });
    const before = admitted(guard);
    expect(before.engine()).toBeUndefined();
    before.complete(429);
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 0, successes: 1 });
    registry.declare('late', {
      failureStatusCodes: [429],
      fallback: { strategy: 'default', response: { body: 'declared late' } },
    });
    const after = admitted(guard);
    expect(after.engine()).toBe(guard.engine('late'));
    after.complete(429);
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 1, successes: 1 });
  });

  it('serves the breaker the registry holds now, after one was deleted and made anew', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ name: 'swapped', registry });
    const first = admitted(guard);
    first.complete(200);
    registry.delete('swapped');
    const second = registry.getOrCreate('swapped');
    expect(second).not.toBe(first.breaker);
    const call = admitted(guard);
    expect(call.breaker).toBe(second);
    call.complete(500);
    expect(second.stats()).toMatchObject({ failures: 1, successes: 0 });
    // Deleted and not made again by anyone: the guard makes it on its next request.
    registry.delete('swapped');
    const third = admitted(guard).breaker;
    expect(third).not.toBe(second);
    expect(registry.get('swapped')).toBe(third);
  });

  it('gives the permit back and throws when the declared fallback is invalid', () => {
    const registry = new Registry();
    registry.declare('broken', { fallback: { strategy: 'cache' } });
    const guard = new HttpGuard<Req>({ name: 'broken', registry });
    const call = admitted(guard);
    expect(() => call.engine()).toThrow(TypeError);
    expect(call.settled).toBe(true);
    expect(guard.breakerFor(req).stats()).toMatchObject({ failures: 0, successes: 0 });
  });

  it('sends the 503 instead of a declared fallback when fallback is false', async () => {
    const registry = new Registry();
    registry.declare('off', { fallback: { strategy: 'default', response: { body: 'declared' } } });
    const guard = new HttpGuard<Req>({ name: 'off', registry, fallback: false });
    expect(guard.engine('off')).toBeUndefined();
    const breaker = guard.breakerFor(req);
    breaker.forceOpen();
    const wire = await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(wire.status).toBe(503);
  });
});

describe('HttpGuard.mayFallBack', () => {
  it("is true with the adapter's own fallback", () => {
    const fallback = { strategy: 'default', response: { body: 'own' } } as const;
    expect(new HttpGuard<Req>({ name: 'x', registry: new Registry(), fallback }).mayFallBack()).toBe(true);
  });

  it('is true once the registry declares a fallback for any name, and false before', () => {
    const registry = new Registry();
    registry.declare('other', { failureStatusCodes: [429] });
    const guard = new HttpGuard<Req>({ name: 'x', registry });
    expect(guard.mayFallBack()).toBe(false);
    registry.declare('elsewhere', { fallback: { strategy: 'default', response: { body: 'declared' } } });
    expect(guard.mayFallBack()).toBe(true);
  });

  it('is false when fallback is false, whatever the registry declares', () => {
    const registry = new Registry();
    registry.declare('x', { fallback: { strategy: 'default', response: { body: 'declared' } } });
    expect(new HttpGuard<Req>({ name: 'x', registry, fallback: false }).mayFallBack()).toBe(false);
  });
});

describe('HttpGuard: logging', () => {
  it('warns when a breaker opens and informs when it half-opens and closes, once per breaker', () => {
    const lines: Line[] = [];
    const registry = new Registry();
    const options = {
      name: 'logged',
      registry,
      logger: recorder(lines),
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      successThreshold: 1,
      clock,
    };
    clock.t = 0;
    const guard = new HttpGuard<Req>(options);
    const again = new HttpGuard<Req>(options);
    again.breakerFor(req);
    admitted(guard).complete(500);
    guard.admit(req);
    clock.t = 1_000;
    admitted(guard).complete(200);
    expect(lines.map(([level, message]) => `${level} ${String(message).split(' {')[0]}`)).toEqual([
      'warn circuit breaker "logged" opened (consecutive_failures)',
      'info circuit breaker "logged" half-open: probing',
      'info circuit breaker "logged" closed (probes_succeeded)',
    ]);
  });

  it('stops logging on close(), keeping the listener of a guard that shares the logger', () => {
    const lines: Line[] = [];
    const logger = recorder(lines);
    const registry = new Registry();
    const first = new HttpGuard<Req>({ name: 'shared', registry, logger });
    const second = new HttpGuard<Req>({ name: 'shared', registry, logger });
    const breaker = first.breakerFor(req);
    second.breakerFor(req);
    expect(breaker.listenerCount('stateChange')).toBe(1);

    first.close();
    first.close();
    breaker.forceOpen();
    expect(lines).toHaveLength(1);
    second.close();
    expect(breaker.listenerCount('stateChange')).toBe(0);
  });

  it('stops logging a keyed breaker that left the registry behind its back, or was evicted', () => {
    const registry = new Registry();
    const guard = new HttpGuard<Req>({ registry, key: (r) => r.tenant, maxBreakers: 1, logger: recorder([]) });
    const gone = guard.breakerFor({ tenant: 'a' });
    registry.delete('a');
    const fresh = guard.breakerFor({ tenant: 'a' });
    expect(fresh).not.toBe(gone);
    expect(gone.listenerCount('stateChange')).toBe(0);
    expect(fresh.listenerCount('stateChange')).toBe(1);
    guard.breakerFor({ tenant: 'b' });
    expect(fresh.listenerCount('stateChange')).toBe(0);
  });

  it('logs pino-style (object, message) when the logger has child()', () => {
    const lines: Line[] = [];
    const logger = { ...recorder(lines), child: () => logger };
    const guard = new HttpGuard<Req>({ name: 'pino', registry: new Registry(), logger, failureThreshold: 1 });
    admitted(guard).complete(500);
    expect(lines).toEqual([
      [
        'warn',
        { breaker: 'pino', from: 'CLOSED', to: 'OPEN', reason: 'consecutive_failures' },
        'circuit breaker "pino" opened (consecutive_failures)',
      ],
    ]);
  });

  it("uses the adapter's logger when the options give none", () => {
    const lines: Line[] = [];
    const guard = new HttpGuard<Req>(
      { name: 'adapter-logger', registry: new Registry(), failureThreshold: 1 },
      { logger: recorder(lines) },
    );
    admitted(guard).complete(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.[0]).toBe('warn');
  });

  it('logs a failing fallback as an error', async () => {
    const lines: Line[] = [];
    const guard = new HttpGuard<Req>({
      name: 'fb-log',
      registry: new Registry(),
      logger: recorder(lines),
      fallback: {
        strategy: 'custom',
        handler: () => {
          throw new Error('handler exploded');
        },
      },
    });
    const breaker = guard.breakerFor(req);
    breaker.forceOpen();
    await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(lines.at(-1)?.[0]).toBe('error');
    expect(String(lines.at(-1)?.[1])).toMatch(/fallback "custom" failed .*handler exploded/);
  });
});

describe('HttpGuard.refusal', () => {
  it('is the structured 503 without a fallback', async () => {
    const guard = new HttpGuard<Req>({ name: 'plain', registry: new Registry(), recoveryTimeoutMs: 10_000, clock });
    clock.t = 0;
    const breaker = guard.breakerFor(req);
    breaker.tryAcquire()?.failure();
    breaker.forceOpen();
    const wire = await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(wire.status).toBe(503);
    expect(wire.headers['retry-after']).toBe('10');
    expect(JSON.parse(wire.body as string)).toEqual({
      error: 'Service Unavailable',
      message: 'Service plain is temporarily unavailable',
      circuitBreakerState: 'OPEN',
      retryAfter: 10,
    });
  });

  it('is the fallback response when one is configured and succeeds', async () => {
    const guard = new HttpGuard<Req>({
      name: 'with-fallback',
      registry: new Registry(),
      fallback: { strategy: 'custom', handler: (r, e) => ({ status: 200, body: { tenant: r.tenant, why: e.name } }) },
    });
    const breaker = guard.breakerFor(req);
    breaker.forceOpen();
    const wire = await guard.refusal(info, req, breaker.rejectionError(), breaker);
    expect(wire.status).toBe(200);
    expect(JSON.parse(wire.body as string)).toEqual({ tenant: 't1', why: 'CircuitOpenError' });
    expect(wire.headers['x-circuit-fallback']).toBe('custom');
  });

  it('is the 503 when the fallback fails: nothing cached, handler throws', async () => {
    const cached = new HttpGuard<Req>(
      { name: 'nothing-cached', registry: new Registry(), fallback: { strategy: 'cache' } },
      { memoryStore: mapStore },
    );
    const breaker = cached.breakerFor(req);
    breaker.forceOpen();
    expect((await cached.refusal(info, req, breaker.rejectionError(), breaker)).status).toBe(503);
    const throwing = new HttpGuard<Req>({
      name: 'handler-throws',
      registry: new Registry(),
      fallback: { strategy: 'custom', handler: () => Promise.reject(new Error('no')) },
    });
    const other = throwing.breakerFor(req);
    other.forceOpen();
    const wire = await throwing.refusal(info, req, other.rejectionError(), other);
    expect(wire.status).toBe(503);
    expect(wire.body).not.toMatch(/no"/);
    expect(other.stats().fallbacks).toEqual({ custom: { served: 0, failed: 1 } });
  });

  it('answers a CircuitTimeoutError with a 503 too when there is no fallback', async () => {
    const guard = new HttpGuard<Req>({ name: 'timed-out', registry: new Registry(), timeoutMs: 50 });
    const breaker = guard.breakerFor(req);
    const wire = await guard.refusal(info, req, new CircuitTimeoutError('timed-out', 50), breaker);
    expect(wire.status).toBe(503);
    expect(Number(wire.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(wire.body as string)).toMatchObject({
      error: 'Service Unavailable',
      message: 'Service timed-out is temporarily unavailable',
      retryAfter: 1,
    });
  });

  it('hands the CircuitTimeoutError to a custom fallback', async () => {
    const guard = new HttpGuard<Req>({
      name: 'timeout-fallback',
      registry: new Registry(),
      timeoutMs: 50,
      fallback: { strategy: 'custom', handler: (_r, e) => ({ status: 504, body: e.message }) },
    });
    const breaker = guard.breakerFor(req);
    const wire = await guard.refusal(info, req, new CircuitTimeoutError('timeout-fallback', 50), breaker);
    expect(wire).toMatchObject({
      status: 504,
      body: 'Call through circuit breaker "timeout-fallback" timed out after 50 ms',
    });
  });
});
