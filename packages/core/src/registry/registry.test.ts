import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { CircuitState } from '../circuit/state.js';
import type { BreakerStore, BreakerSync, SyncTarget } from '../circuit/sync.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { defaultRegistry, Registry } from './registry.js';

function clocked(options: ConstructorParameters<typeof Registry>[0] = {}) {
  const clock = { t: Date.UTC(2025, 0, 1), now: () => clock.t };
  const registry = new Registry({ ...options, defaults: { clock, ...options.defaults } });
  return { registry, clock };
}

describe('Registry', () => {
  it('returns the same breaker for the same name and ignores options after the first call', () => {
    const registry = new Registry();
    const first = registry.getOrCreate('users', { failureThreshold: 2 });
    const again = registry.getOrCreate('users', { failureThreshold: 9 });
    expect(again).toBe(first);
    expect(again.options.failureThreshold).toBe(2);
    expect(registry.get('users')).toBe(first);
    expect(registry.has('users')).toBe(true);
    expect(registry.get('nobody')).toBeUndefined();
  });

  it('builds breakers from defaults, then the declaration, then the options given', () => {
    const registry = new Registry({ defaults: { failureThreshold: 7, recoveryTimeoutMs: 1_000, timeoutMs: 50 } });
    registry.declare('orders', { options: { recoveryTimeoutMs: 2_000, successThreshold: 4 } });
    const orders = registry.getOrCreate('orders', { successThreshold: 1 });
    expect(orders.options).toMatchObject({
      name: 'orders',
      failureThreshold: 7,
      recoveryTimeoutMs: 2_000,
      successThreshold: 1,
      timeoutMs: 50,
    });
    expect(registry.getOrCreate('plain').options).toMatchObject({ failureThreshold: 7, recoveryTimeoutMs: 1_000 });
    expect(registry.defaults).toEqual({ failureThreshold: 7, recoveryTimeoutMs: 1_000, timeoutMs: 50 });
  });

  it('validates defaults and declarations up front', () => {
    expect(() => new Registry({ defaults: { failureThreshold: -1 } })).toThrow(
      new TypeError('Invalid option "failureThreshold": got -1, expected an integer of at least 0'),
    );
    const registry = new Registry();
    expect(() => registry.declare('x', { options: { timeoutMs: 0 } })).toThrow(/Invalid option "timeoutMs": got 0/);
    expect(() => registry.getOrCreate('y', { halfOpenMaxRequests: 0 })).toThrow(TypeError);
    expect(registry.has('y')).toBe(false);
  });

  it('checks options that go together on the merge, so a declaration may change one of a pair', () => {
    const registry = new Registry({
      defaults: { slowCallDurationMs: 500, slowCallRateThreshold: 0.5, recoveryTimeoutMs: 5_000 },
    });
    registry.declare('api', { options: { slowCallRateThreshold: 0.8 } });
    registry.declare('partner', { options: { maxRecoveryTimeoutMs: 10_000, exponentialBackoff: true } });
    expect(registry.getOrCreate('api').options).toMatchObject({ slowCallDurationMs: 500, slowCallRateThreshold: 0.8 });
    expect(registry.getOrCreate('partner').options).toMatchObject({
      recoveryTimeoutMs: 5_000,
      maxRecoveryTimeoutMs: 10_000,
    });
    expect(registry.beneath('api')).toEqual({
      slowCallDurationMs: 500,
      slowCallRateThreshold: 0.8,
      recoveryTimeoutMs: 5_000,
    });

    // A pair left incomplete by every layer is still refused, when the breaker is made.
    const bare = new Registry();
    bare.declare('half', { options: { slowCallRateThreshold: 0.5 } });
    expect(() => bare.getOrCreate('half')).toThrow(
      'Invalid option "slowCallDurationMs": got undefined, expected a value because "slowCallRateThreshold" is set',
    );
    expect(bare.getOrCreate('half', { slowCallDurationMs: 100 }).options.slowCallDurationMs).toBe(100);

    // Defaults apply to every name, declared or not: an incomplete pair there is refused at once.
    expect(() => new Registry({ defaults: { slowCallRateThreshold: 0.5 } })).toThrow(/"slowCallDurationMs"/);
    // An option given as undefined leaves the default beneath it, as the checks assume.
    expect(registry.getOrCreate('plain', { slowCallDurationMs: undefined }).options.slowCallDurationMs).toBe(500);
  });

  it('creates a declared breaker ahead of use, which the first options given in code configure while it has seen no call', () => {
    const clock = { t: 0, now: () => clock.t };
    const registry = new Registry({ defaults: { clock, failureRateThreshold: 0, recoveryTimeoutMs: 1_000 } });
    registry.declare('a', { options: { failureThreshold: 5 } });
    registry.declare('b', { options: { failureThreshold: 5 } });
    registry.defineGroup('pair', { members: ['a', 'b'], threshold: 0.4 });
    const a = registry.createDeclared('a');
    registry.createDeclared('b');
    expect(registry.names()).toEqual(['a', 'b']);
    expect(registry.isProvisional('a')).toBe(true);

    expect(registry.getOrCreate('a', { failureThreshold: 1 })).toBe(a);
    expect(a.options.failureThreshold).toBe(1);
    expect(registry.isProvisional('a')).toBe(false);
    // Still in its group: once open, more than half the group is open, and b refuses.
    a.tryAcquire()?.failure(new Error('down'));
    expect(a.state).toBe('OPEN');
    expect(registry.get('b')?.tryAcquire()).toBeUndefined();
    // b has seen a call now (a refusal): options given later no longer apply.
    expect(registry.getOrCreate('b', { failureThreshold: 1 }).options.failureThreshold).toBe(5);
  });

  it('times calls out at the timeoutMs given in code, even with a call under the declared one still running', async () => {
    const registry = new Registry();
    registry.declare('svc', { options: { timeoutMs: 3_000 } });
    const breaker = registry.createDeclared('svc');
    breaker.execute(() => new Promise(() => {})).catch(() => undefined);
    registry.getOrCreate('svc', { timeoutMs: 50 });
    const started = performance.now();
    await expect(breaker.execute(() => new Promise(() => {}))).rejects.toThrow(CircuitTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  /** A store that binds and remembers its targets, for a test to adopt shared states through. */
  function adoptingStore() {
    const targets: SyncTarget[] = [];
    const store: BreakerStore = {
      bind(target) {
        targets.push(target);
        return { recorded() {}, transitioned() {}, detach() {} };
      },
    };
    return { store, adopt: (state: Parameters<SyncTarget['applyShared']>[0]) => targets.at(-1)?.applyShared(state) };
  }

  it("applies code's options to a declared breaker that took OPEN from a store and moved to HALF_OPEN by time alone", () => {
    const clock = { t: 1_000_000, now: () => clock.t };
    const { store, adopt } = adoptingStore();
    const registry = new Registry({ store, defaults: { clock } });
    registry.declare('svc', { options: { failureThreshold: 3, recoveryTimeoutMs: 1_000 } });
    const breaker = registry.createDeclared('svc');
    adopt({ state: CircuitState.OPEN, openedAt: clock.t, nextAttemptAt: clock.t + 1_000, openCount: 1 });
    clock.t += 2_000;
    registry.health();
    expect(breaker.state).toBe(CircuitState.HALF_OPEN);
    expect(registry.getOrCreate('svc', { failureThreshold: 7 }).options.failureThreshold).toBe(7);
  });

  it('sizes the probe slots of a declared breaker by the halfOpenMaxRequests given in code', () => {
    const clock = { t: 1_000_000, now: () => clock.t };
    const { store, adopt } = adoptingStore();
    const registry = new Registry({ store, defaults: { clock } });
    registry.declare('svc', { options: { halfOpenMaxRequests: 1, successThreshold: 3 } });
    const breaker = registry.createDeclared('svc');
    adopt({ state: CircuitState.HALF_OPEN, openedAt: clock.t - 10, nextAttemptAt: clock.t - 5, openCount: 1 });
    // A probe whose client went away: given back, counted as nothing.
    breaker.tryAcquire()?.release();
    registry.getOrCreate('svc', { halfOpenMaxRequests: 3 });
    const probes = [breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()];
    expect(probes.map((probe) => probe?.isProbe)).toEqual([true, true, true]);
    for (const probe of probes) probe?.success();
    expect(breaker.stats()).toMatchObject({ state: CircuitState.CLOSED, halfOpenInFlight: 0 });
  });

  it('dates a declared breaker on the clock given in code', () => {
    const registry = new Registry();
    registry.declare('svc', { options: { failureThreshold: 3 } });
    registry.createDeclared('svc');
    const clock = { now: () => 1_000 };
    expect(registry.getOrCreate('svc', { clock }).stats().lastStateChangeTime).toBe(1_000);
  });

  it('keeps declarations, merged per name, for adapters to read', () => {
    const registry = new Registry();
    registry.declare('api', { options: { failureThreshold: 2 } });
    registry.declare('api', { failureStatusCodes: [502, 503] });
    expect(registry.declaration('api')).toEqual({ options: { failureThreshold: 2 }, failureStatusCodes: [502, 503] });
    expect(registry.declaredNames()).toEqual(['api']);
    expect(registry.has('api')).toBe(false);
  });

  it('adds a breaker built elsewhere, but not over a taken name', () => {
    const registry = new Registry();
    const breaker = new CircuitBreaker({ name: 'external' });
    expect(registry.add(breaker)).toBe(breaker);
    expect(registry.getOrCreate('external')).toBe(breaker);
    expect(() => registry.add(new CircuitBreaker({ name: 'external' }))).toThrow(
      new TypeError('Invalid breaker: the name "external" is already registered'),
    );
  });

  it('deletes a breaker, after which the name makes a new one', () => {
    const registry = new Registry();
    const old = registry.getOrCreate('temp');
    expect(registry.delete('temp')).toBe(true);
    expect(registry.delete('temp')).toBe(false);
    expect(registry.has('temp')).toBe(false);
    expect(registry.getOrCreate('temp')).not.toBe(old);
  });

  it('lists names in creation order and iterates its breakers', () => {
    const registry = new Registry();
    const a = registry.getOrCreate('a');
    const b = registry.getOrCreate('b');
    expect(registry.names()).toEqual(['a', 'b']);
    expect(registry.size).toBe(2);
    expect([...registry]).toEqual([a, b]);
  });

  it('resets one breaker by name, or every breaker', () => {
    const { registry } = clocked({ defaults: { failureThreshold: 1 } });
    for (const name of ['a', 'b', 'c']) registry.getOrCreate(name).tryAcquire()?.failure();
    registry.reset('a');
    expect(registry.get('a')?.state).toBe('CLOSED');
    expect(registry.get('b')?.state).toBe('OPEN');
    registry.reset('missing');
    registry.reset();
    expect([...registry].map((b) => b.state)).toEqual(['CLOSED', 'CLOSED', 'CLOSED']);
  });

  it('gives every breaker stats by name', () => {
    const { registry } = clocked();
    registry.getOrCreate('a').tryAcquire()?.success();
    registry.getOrCreate('b');
    const statuses = registry.statuses();
    expect(Object.keys(statuses)).toEqual(['a', 'b']);
    expect(statuses.a).toMatchObject({ name: 'a', state: 'CLOSED', successes: 1 });
    expect(statuses.b).toMatchObject({ name: 'b', totalCalls: 0 });
  });

  describe('health document', () => {
    it('has the SPEC shape for each breaker', () => {
      const { registry, clock } = clocked({ defaults: { failureThreshold: 2 } });
      const api = registry.getOrCreate('api', { recoveryTimeoutMs: 10_000 });
      api.tryAcquire()?.success();
      api.tryAcquire()?.failure();
      api.tryAcquire()?.failure();
      registry.getOrCreate('db');
      const failedAt = new Date(clock.t).toISOString();
      expect(registry.toJSON()).toEqual({
        circuit_breakers: {
          api: {
            state: 'OPEN',
            failure_count: 2,
            success_count: 1,
            last_failure_time: failedAt,
            failure_threshold: 2,
            recovery_timeout: 10_000,
            failure_rate: 2 / 3,
            failure_rate_threshold: 0.5,
            consecutive_failures: 2,
            total_requests: 3,
            rejected_count: 0,
            timeout_count: 0,
            next_attempt_time: new Date(clock.t + 10_000).toISOString(),
          },
          db: {
            state: 'CLOSED',
            failure_count: 0,
            success_count: 0,
            last_failure_time: null,
            failure_threshold: 2,
            recovery_timeout: 30_000,
            failure_rate: 0,
            failure_rate_threshold: 0.5,
            consecutive_failures: 0,
            total_requests: 0,
            rejected_count: 0,
            timeout_count: 0,
            next_attempt_time: null,
          },
        },
      });
    });

    it('is "ok" while every breaker is CLOSED or DISABLED and "degraded" otherwise', () => {
      const { registry, clock } = clocked({ defaults: { failureThreshold: 1, recoveryTimeoutMs: 100 } });
      const a = registry.getOrCreate('a');
      registry.getOrCreate('b').disable();
      expect(registry.health().status).toBe('ok');
      a.tryAcquire()?.failure();
      expect(registry.health()).toMatchObject({ status: 'degraded', circuit_breakers: { a: { state: 'OPEN' } } });
      clock.t += 100;
      expect(registry.health()).toMatchObject({ status: 'degraded', circuit_breakers: { a: { state: 'HALF_OPEN' } } });
      a.reset();
      a.forceOpen();
      expect(registry.health().status).toBe('degraded');
      a.enable();
      expect(registry.health().status).toBe('ok');
      expect(new Registry().health()).toEqual({ status: 'ok', circuit_breakers: {} });
    });

    it('survives JSON serialisation unchanged', () => {
      const { registry } = clocked();
      registry.getOrCreate('a').tryAcquire()?.failure();
      const health = registry.health();
      expect(JSON.parse(JSON.stringify(health))).toEqual(health);
      expect(JSON.parse(JSON.stringify(registry))).toEqual(registry.toJSON());
    });
  });

  describe('healthReport()', () => {
    it('writes one line per breaker with its name and state', () => {
      const { registry } = clocked({ defaults: { failureThreshold: 1 } });
      registry.getOrCreate('payments').tryAcquire()?.failure();
      registry.getOrCreate('search').tryAcquire()?.success();
      const lines = registry.healthReport().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        /^payments: OPEN — 1 calls in window, 100\.0% failed, .*next probe at 2025-01-01T00:00:30\.000Z$/,
      );
      expect(lines[1]).toMatch(
        /^search: CLOSED — 1 calls in window, 0\.0% failed, 0 consecutive failures, 0 rejected$/,
      );
    });

    it('says so when there are no breakers', () => {
      expect(new Registry().healthReport()).toBe('no circuit breakers');
    });
  });

  describe('with a store', () => {
    function recordingStore() {
      const bound: string[] = [];
      const detached: string[] = [];
      const store: BreakerStore = {
        bind(target: SyncTarget): BreakerSync {
          bound.push(target.name);
          return {
            recorded: () => undefined,
            transitioned: () => undefined,
            detach: () => detached.push(target.name),
          };
        },
      };
      return { store, bound, detached };
    }

    it('binds every breaker it creates or adds, and detaches deleted ones', () => {
      const { store, bound, detached } = recordingStore();
      const registry = new Registry({ store });
      registry.getOrCreate('a');
      registry.getOrCreate('a');
      registry.add(new CircuitBreaker({ name: 'b' }));
      expect(bound).toEqual(['a', 'b']);
      registry.delete('a');
      expect(detached).toEqual(['a']);
      expect(registry.store).toBe(store);
    });
  });

  it('provides a process-wide defaultRegistry', () => {
    expect(defaultRegistry).toBeInstanceOf(Registry);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('breakwater.defaultRegistry')]).toBe(defaultRegistry);
  });

  it('keeps one defaultRegistry when a second copy of the module loads (ESM and CJS builds side by side)', async () => {
    vi.resetModules();
    const copy = await import('./registry.js');
    expect(copy.Registry).not.toBe(Registry);
    expect(copy.defaultRegistry).toBe(defaultRegistry);
  });
});
