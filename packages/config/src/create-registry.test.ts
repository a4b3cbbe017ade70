import { type BreakerStore, type SyncTarget, validateFallback } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { createRegistry, toFallbackOptions } from './create-registry.js';
import { parseConfig } from './load-config.js';

const CONFIG = `
circuit_breakers:
  default:
    failure_threshold: 4
    timeout_ms: 2000
    failure_status_codes: [500, 503]
  services:
    orders:
      timeout_ms: 800
      fallback: { strategy: default, default_response: { ok: false } }
  hierarchical:
    groups:
      checkout: { services: [orders, stock], group_threshold: 0.4 }
`;
const config = () => parseConfig(CONFIG, { env: {} });

describe('createRegistry', () => {
  it('uses default for breakers created later under any name', () => {
    const registry = createRegistry(config());
    expect(registry.getOrCreate('anything').options).toMatchObject({ failureThreshold: 4, timeoutMs: 2000 });
  });

  it("builds a registry with the services' breakers, in the file's options, listed from the start", () => {
    const registry = createRegistry(config());
    expect(registry.names()).toEqual(['orders']);
    expect(registry.get('orders')?.options).toMatchObject({ failureThreshold: 4, timeoutMs: 800 });
    expect(registry.toJSON().circuit_breakers.orders?.state).toBe('CLOSED');
    expect(registry.declaredNames()).toContain('orders');
  });

  it('takes a service that changes one of a pair of options set in default', () => {
    const registry = createRegistry(
      parseConfig(
        `
circuit_breakers:
  default:
    slow_call_duration_ms: 500
    slow_call_rate_threshold: 0.5
    recovery_timeout_ms: 5000
  services:
    api:
      slow_call_rate_threshold: 0.8
    partner:
      max_recovery_timeout_ms: 10000
      enable_exponential_backoff: true
`,
        { env: {} },
      ),
    );
    expect(registry.getOrCreate('api').options).toMatchObject({ slowCallDurationMs: 500, slowCallRateThreshold: 0.8 });
    expect(registry.getOrCreate('partner').options).toMatchObject({
      recoveryTimeoutMs: 5_000,
      maxRecoveryTimeoutMs: 10_000,
    });
  });

  it('lets the first options given in code override the file, on the same breaker, until its first call', async () => {
    const registry = createRegistry(config());
    const made = registry.get('orders');
    const changes: string[] = [];
    made?.on('stateChange', (event) => changes.push(event.to));
    // Code that asks without options changes nothing, nor stops options given later.
    expect(registry.getOrCreate('orders')).toBe(made);
    const orders = registry.getOrCreate('orders', { timeoutMs: 50, failureThreshold: 1 });
    expect(orders).toBe(made);
    expect(orders.options).toMatchObject({ timeoutMs: 50, failureThreshold: 1, name: 'orders' });
    // The first options win, as they would have created the breaker.
    expect(registry.getOrCreate('orders', { timeoutMs: 70 }).options.timeoutMs).toBe(50);
    await orders.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    expect(changes).toEqual(['OPEN']);
  });

  it('keeps the options of a breaker that has seen a call, and checks options given in code', async () => {
    const used = createRegistry(config());
    await used.get('orders')?.execute(() => 'ok');
    expect(used.getOrCreate('orders', { timeoutMs: 50 }).options.timeoutMs).toBe(800);

    const checked = createRegistry(config());
    expect(() => checked.getOrCreate('orders', { timeoutMs: -1 })).toThrow(/Invalid option "timeoutMs": got -1/);
    expect(checked.get('orders')?.options.timeoutMs).toBe(800);
  });

  it('creates breakers on first use with eager: false', () => {
    const registry = createRegistry(config(), { eager: false });
    expect(registry.names()).toEqual([]);
    expect(registry.getOrCreate('orders', { timeoutMs: 50 }).options).toMatchObject({
      failureThreshold: 4,
      timeoutMs: 50,
    });
  });

  it('declares fallbacks and failure statuses, and gives group members the default statuses', () => {
    const registry = createRegistry(config());
    expect(registry.declaration('orders')).toEqual({
      options: { timeoutMs: 800 },
      fallback: { strategy: 'default', response: { status: 200, body: { ok: false } } },
      failureStatusCodes: [500, 503],
    });
    expect(registry.declaration('stock')).toEqual({ failureStatusCodes: [500, 503] });
  });

  it('defines the groups', () => {
    const group = createRegistry(config()).group('checkout');
    expect(group?.threshold).toBe(0.4);
    expect([...(group?.memberNames ?? [])]).toEqual(['orders', 'stock']);
  });

  it('passes the clock and the store on to every breaker', () => {
    const bound: string[] = [];
    const store: BreakerStore = {
      bind(target: SyncTarget) {
        bound.push(target.name);
        return { recorded() {}, transitioned() {}, detach() {} };
      },
    };
    const clock = { now: () => 42 };
    const registry = createRegistry(config(), { clock, store });
    expect(registry.get('orders')?.options.clock).toBe(clock);
    expect(bound).toEqual(['orders']);
    // Given options in code, it is bound again, to its new window.
    registry.getOrCreate('orders', { metricsWindowMs: 10_000 });
    expect(bound).toEqual(['orders', 'orders']);
  });
});

describe('toFallbackOptions', () => {
  it('produces options the core fallback engine accepts, for every file strategy', () => {
    const all = [
      toFallbackOptions({ strategy: 'cache', cacheKey: 'k', ttlMs: 1000, timeoutMs: 20 }),
      toFallbackOptions({ strategy: 'default', response: { status: 503, body: 'down' } }),
      toFallbackOptions({ strategy: 'alternative_service', url: 'http://backup:80', upstream: 'backup' }),
    ];
    for (const options of all) expect(() => validateFallback(options)).not.toThrow();
    expect(all[2]).toEqual({ strategy: 'alternative_service', url: 'http://backup:80' });
  });

  it('turns a fixed cache_key into a key function that ignores the request', () => {
    const options = toFallbackOptions({ strategy: 'cache', cacheKey: 'payment:fallback' });
    expect(options.strategy === 'cache' && options.cacheKey?.({ url: '/a' })).toBe('payment:fallback');
    expect(toFallbackOptions({ strategy: 'cache' })).toEqual({ strategy: 'cache' });
  });
});
