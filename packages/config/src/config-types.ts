import type { BreakerDefaults, GroupOptions, ResponseDescriptor } from '@breakwater/core';
import type { FileOption } from './option-keys.js';

/** Breaker options a file can set, in core names (`timeoutMs`, not `timeout_ms`). */
export type FileBreakerOptions = Pick<BreakerDefaults, FileOption>;

/** A fallback as a file describes it: plain data, turned into core `FallbackOptions` by `createRegistry`. */
export type FallbackConfig =
  | { strategy: 'cache' /** One fixed key for every request. */; cacheKey?: string; ttlMs?: number; timeoutMs?: number }
  | { strategy: 'default'; response: ResponseDescriptor; timeoutMs?: number }
  | {
      strategy: 'alternative_service';
      /** The backup's base URL, resolved through `upstreams` when the file gave a name. */
      url: string;
      /** The `upstreams` entry the URL came from. */
      upstream?: string;
      timeoutMs?: number;
    };

/** One entry of `circuit_breakers.services`. */
export interface ServiceConfig {
  /** The service's own options; the file's defaults apply beneath them. */
  options: FileBreakerOptions;
  /** Statuses that count as failures: the service's own `failure_status_codes`, else the default's. */
  failureStatusCodes?: readonly number[];
  fallback?: FallbackConfig;
}

/** A loaded, validated configuration file. */
export interface BreakwaterConfig {
  /** `circuit_breakers.default`: every breaker starts from these, including ones created later by name. */
  defaults: FileBreakerOptions;
  /** `circuit_breakers.default.failure_status_codes`. */
  failureStatusCodes?: readonly number[];
  /** `circuit_breakers.services`, by breaker name. */
  services: Record<string, ServiceConfig>;
  /** `circuit_breakers.hierarchical.groups`; empty when `hierarchical.enabled` is false. */
  groups: Record<string, GroupOptions>;
  /** `upstreams`: base URLs by name. */
  upstreams: Record<string, string>;
  /** The file's path, when read from one. */
  source?: string;
}
