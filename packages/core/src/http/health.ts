import { invalidOption, showValue } from '../errors/invalid-option.js';
import { defaultRegistry, type Registry } from '../registry/registry.js';
import { FINAL_STATUS, isFinalStatus, type WireResponse } from './response.js';

/** Options of every adapter's health handler. */
export interface HealthHandlerOptions {
  /** Whose breakers to report; default `defaultRegistry`. */
  registry?: Registry;
  /** Status sent while the document says `degraded`; default 200 (a load balancer may want 503). */
  degradedStatus?: number;
}

const HEALTH_KEYS = ['registry', 'degradedStatus'];

/**
 * Validates health-handler options once, at setup (named in errors after `within`, the path of
 * the option that holds them, such as `health.`), and returns the function that builds the
 * health response (`{"status":"ok"|"degraded","circuit_breakers":{…}}`) on each request.
 */
export function healthResponder(options: HealthHandlerOptions = {}, within = ''): () => WireResponse {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Invalid options: got ${showValue(options)}, expected an object`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (!HEALTH_KEYS.includes(key) && value !== undefined) {
      throw new TypeError(
        `Unknown option "${within}${key}": got ${showValue(value)}, expected one of ${HEALTH_KEYS.join(', ')}`,
      );
    }
  }
  const registry = options.registry ?? defaultRegistry;
  if (typeof (registry as Partial<Registry>).health !== 'function') {
    throw invalidOption(`${within}registry`, options.registry, 'a Registry (an object with a health() method)');
  }
  const degradedStatus = options.degradedStatus ?? 200;
  if (!isFinalStatus(degradedStatus)) {
    throw invalidOption(`${within}degradedStatus`, degradedStatus, FINAL_STATUS);
  }
  return () => {
    const document = registry.health();
    return {
      status: document.status === 'ok' ? 200 : degradedStatus,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      body: JSON.stringify(document),
    };
  };
}
