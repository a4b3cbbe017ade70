import { readFileSync } from 'node:fs';
import { CircuitState, isCircuitOpenError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { ConfigError, createRegistry, loadConfig, parseConfig } from '../src/index.js';

const fixture = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const PROXY = fixture('proxy-seed.yaml');
const GATEWAY = fixture('gateway-seed.yaml');
const UPSTREAMS = '\nupstreams:\n  backup-api: http://backup-api.internal:8080\n';

describe('the C++ proxy seed (circuit_breakers: default/services)', () => {
  it('loads as written, with the proxy keys mapped to core options', () => {
    const config = loadConfig(PROXY, { env: {} });
    expect(config.source).toBe(PROXY);
    expect(config.defaults).toEqual({
      failureThreshold: 5,
      failureRateThreshold: 0.5,
      timeoutMs: 5000,
      recoveryTimeoutMs: 30000,
      exponentialBackoff: true,
    });
    expect(config.services.payment_api).toEqual({
      options: { failureThreshold: 3, timeoutMs: 10000 },
      failureStatusCodes: [500, 502, 503, 504, 408, 429],
    });
    expect(config.services.user_database).toEqual({
      options: { failureThreshold: 3, timeoutMs: 15000, recoveryTimeoutMs: 60000 },
    });
    expect(config.services.external_partner).toEqual({
      options: {
        failureThreshold: 8,
        failureRateThreshold: 0.7,
        timeoutMs: 60000,
        recoveryTimeoutMs: 300000,
        backoffMultiplier: 2.5,
      },
    });
    expect(config.groups).toEqual({});
  });

  it('builds breakers that run with the file defaults beneath each service', () => {
    const registry = createRegistry(loadConfig(PROXY, { env: {} }));
    const payment = registry.getOrCreate('payment_api').options;
    expect(payment).toMatchObject({
      failureThreshold: 3,
      failureRateThreshold: 0.5,
      timeoutMs: 10000,
      recoveryTimeoutMs: 30000,
      exponentialBackoff: true,
    });
    expect(registry.declaration('payment_api')?.failureStatusCodes).toEqual([500, 502, 503, 504, 408, 429]);
    const partner = registry.getOrCreate('external_partner').options;
    expect(partner).toMatchObject({
      failureThreshold: 8,
      failureRateThreshold: 0.7,
      backoffMultiplier: 2.5,
      exponentialBackoff: true,
    });
    // A name the file does not list still gets the file's defaults.
    expect(registry.getOrCreate('inventory').options).toMatchObject({
      failureThreshold: 5,
      timeoutMs: 5000,
      exponentialBackoff: true,
    });
  });

  it('opens payment_api after 3 consecutive failures, as its failure_threshold says', () => {
    const registry = createRegistry(loadConfig(PROXY, { env: {} }), { clock: { now: () => 0 } });
    const breaker = registry.getOrCreate('payment_api');
    for (let i = 0; i < 2; i++) breaker.tryAcquire()?.failure(new Error('boom'));
    expect(breaker.state).toBe(CircuitState.CLOSED);
    breaker.tryAcquire()?.failure(new Error('boom'));
    expect(breaker.state).toBe(CircuitState.OPEN);
  });
});

describe('the TypeScript gateway seed (fractional thresholds, fallbacks, hierarchical groups)', () => {
  it('refuses the seed as written only because "backup-api" is a name with no upstreams entry', () => {
    const error = catchConfigError(() => loadConfig(GATEWAY, { env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatchObject({
      path: 'circuit_breakers.services.external-api.fallback.alternative_service',
      line: 37,
    });
    expect(error.problems[0]?.message).toContain(
      'got "backup-api", expected an http(s) URL or the name of an entry under upstreams',
    );
    expect(error.message).toContain(GATEWAY);
  });

  it('loads once upstreams names backup-api, with each key meaning what the gateway meant', () => {
    const config = parseConfig(readFileSync(GATEWAY, 'utf8') + UPSTREAMS, { env: {} });
    // failure_threshold 0.5 was a rate in the gateway: it becomes failureRateThreshold and the count rule is off.
    expect(config.defaults).toEqual({
      failureThreshold: 0,
      failureRateThreshold: 0.5,
      recoveryTimeoutMs: 30000,
      metricsWindowMs: 10000,
      timeoutMs: 5000,
      minimumRequests: 10,
    });
    expect(config.services['payment-service']).toEqual({
      options: { failureThreshold: 0, failureRateThreshold: 0.3, recoveryTimeoutMs: 60000, timeoutMs: 3000 },
      fallback: { strategy: 'cache', cacheKey: 'payment:fallback' },
    });
    expect(config.services['user-service']).toEqual({
      options: { failureThreshold: 0, failureRateThreshold: 0.6, recoveryTimeoutMs: 15000, timeoutMs: 2000 },
      fallback: {
        strategy: 'default',
        response: { status: 200, body: { user: { id: 'anonymous', name: 'Guest User' } } },
      },
    });
    expect(config.services['external-api']?.fallback).toEqual({
      strategy: 'alternative_service',
      url: 'http://backup-api.internal:8080',
      upstream: 'backup-api',
    });
    expect(config.groups).toEqual({
      payment: { members: ['payment-service', 'fraud-detection', 'bank-api'], threshold: 0.5 },
      user: { members: ['user-service', 'profile-service', 'auth-service'], threshold: 0.6 },
    });
  });

  it('declares each fallback in the core shape, the cache key as a fixed-key function', () => {
    const registry = createRegistry(parseConfig(readFileSync(GATEWAY, 'utf8') + UPSTREAMS, { env: {} }));
    const cache = registry.declaration('payment-service')?.fallback as {
      strategy: string;
      cacheKey: (req: unknown) => string;
    };
    expect(cache.strategy).toBe('cache');
    expect(cache.cacheKey({ url: '/anything' })).toBe('payment:fallback');
    expect(registry.declaration('user-service')?.fallback).toEqual({
      strategy: 'default',
      response: { status: 200, body: { user: { id: 'anonymous', name: 'Guest User' } } },
    });
    expect(registry.declaration('external-api')?.fallback).toEqual({
      strategy: 'alternative_service',
      url: 'http://backup-api.internal:8080',
    });
  });

  it('opens payment-service on its failure rate over 10 requests, not on a count', () => {
    const registry = createRegistry(parseConfig(readFileSync(GATEWAY, 'utf8') + UPSTREAMS, { env: {} }), {
      clock: { now: () => 1_000 },
    });
    const breaker = registry.getOrCreate('payment-service');
    // 6 failures in a row would open a count rule of 5; here only the rate (0.3 of at least 10) counts.
    for (let i = 0; i < 6; i++) breaker.tryAcquire()?.failure(new Error('boom'));
    expect(breaker.state).toBe(CircuitState.CLOSED);
    for (let i = 0; i < 3; i++) breaker.tryAcquire()?.success();
    expect(breaker.state).toBe(CircuitState.CLOSED);
    // The 10th request reaches volume_threshold: 7 of 10 failed, above 0.3.
    breaker.tryAcquire()?.failure(new Error('boom'));
    expect(breaker.state).toBe(CircuitState.OPEN);
  });

  it('rejects every member of the payment group once more than half of them are open', () => {
    const registry = createRegistry(parseConfig(readFileSync(GATEWAY, 'utf8') + UPSTREAMS, { env: {} }));
    const [payment, fraud, bank] = ['payment-service', 'fraud-detection', 'bank-api'].map((n) =>
      registry.getOrCreate(n),
    );
    payment?.forceOpen();
    expect(bank?.tryAcquire()).toBeDefined();
    fraud?.forceOpen();
    expect(bank?.tryAcquire()).toBeUndefined();
    const error = bank?.rejectionError();
    expect(isCircuitOpenError(error) && error.reason).toBe('group');
    // The user group is untouched.
    expect(registry.getOrCreate('auth-service').tryAcquire()).toBeDefined();
  });
});

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
