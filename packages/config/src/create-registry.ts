import { type BreakerStore, type Clock, type Declaration, type FallbackOptions, Registry } from '@breakwater/core';
import type { BreakwaterConfig, FallbackConfig } from './config-types.js';

export interface CreateRegistryOptions {
  /** Shares breaker state between processes (see `@breakwater/redis`). */
  store?: BreakerStore;
  /** The clock every breaker uses; default real time. */
  clock?: Clock;
  /**
   * Create every service's breaker now (the default), so that `registry.get(name)`, health
   * documents and shared state have them from the start; options given in code (an adapter's
   * `timeoutMs`, say) still override the file's, until the breaker's first call. `false` creates
   * each on first use instead.
   */
  eager?: boolean;
}

/**
 * Builds a `Registry` from a loaded configuration: `default` becomes the registry defaults
 * (for every name, including ones created later), each service is declared with its options,
 * fallback and failure statuses, and its breaker created; each group is defined. An adapter
 * given this registry and a service's name uses the file's options and fallback unless its own
 * options override them (the first given, before the breaker's first call).
 *
 * @example
 * const registry = createRegistry(loadConfig('breakers.yaml'));
 * app.use('/pay', circuitBreaker({ name: 'payment-service', registry }));
 */
export function createRegistry(config: BreakwaterConfig, options: CreateRegistryOptions = {}): Registry {
  const defaults = options.clock === undefined ? { ...config.defaults } : { ...config.defaults, clock: options.clock };
  const registry = new Registry(options.store === undefined ? { defaults } : { defaults, store: options.store });
  for (const [name, service] of Object.entries(config.services)) {
    const declaration: Declaration = { options: service.options };
    if (service.fallback !== undefined) declaration.fallback = toFallbackOptions(service.fallback);
    if (service.failureStatusCodes !== undefined) declaration.failureStatusCodes = service.failureStatusCodes;
    registry.declare(name, declaration);
  }
  if (config.failureStatusCodes !== undefined) {
    // Group members the file names but gives no options get the default statuses too.
    for (const group of Object.values(config.groups)) {
      for (const member of group.members) {
        if (registry.declaration(member) === undefined) {
          registry.declare(member, { failureStatusCodes: config.failureStatusCodes });
        }
      }
    }
  }
  for (const [name, group] of Object.entries(config.groups)) registry.defineGroup(name, group);
  if (options.eager !== false) for (const name of Object.keys(config.services)) registry.createDeclared(name);
  return registry;
}

/** The core fallback option a file's fallback stands for. */
export function toFallbackOptions(fallback: FallbackConfig): FallbackOptions {
  const timeout = fallback.timeoutMs === undefined ? {} : { timeoutMs: fallback.timeoutMs };
  switch (fallback.strategy) {
    case 'cache': {
      const { cacheKey, ttlMs } = fallback;
      return {
        strategy: 'cache',
        ...timeout,
        ...(ttlMs === undefined ? {} : { ttlMs }),
        ...(cacheKey === undefined ? {} : { cacheKey: () => cacheKey }),
      };
    }
    case 'default':
      return { strategy: 'default', response: fallback.response, ...timeout };
    case 'alternative_service':
      return { strategy: 'alternative_service', url: fallback.url, ...timeout };
  }
}
