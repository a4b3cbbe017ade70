import type { CachedResponse, CacheStore } from '@breakwater/core';
import { Availability, isReplyError, Refusals } from './availability.js';
import { escapeName } from './keys.js';
import {
  CACHE_DEFAULTS,
  isConnected,
  type RedisCacheStoreOptions,
  type RedisClient,
  validateCacheOptions,
} from './options.js';
import { withTimeout } from './with-timeout.js';

/**
 * The longest expiry sent to Redis: its `PX` takes a 64-bit integer, and refuses a longer one
 * (or one that JavaScript would write with an exponent). Over 285,000 years.
 */
const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;

function isCachedResponse(value: unknown): value is CachedResponse {
  const v = value as CachedResponse;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.status === 'number' &&
    typeof v.headers === 'object' &&
    v.headers !== null &&
    typeof v.body === 'string' &&
    typeof v.binary === 'boolean' &&
    typeof v.storedAt === 'number'
  );
}

/**
 * Keeps the `cache` fallback's responses in Redis, so every instance can serve what any of them
 * stored. A lookup waits at most `timeoutMs`; when Redis is slow or down it is a miss, and
 * nothing throws.
 *
 * @example
 * fallback: { strategy: 'cache', store: new RedisCacheStore({ client: redis }) }
 */
export class RedisCacheStore implements CacheStore {
  readonly prefix: string;
  readonly timeoutMs: number;
  private readonly client: RedisClient;
  private readonly availability: Availability;
  /** Writes Redis refuses while it answers: told once, not per request, and no outage. */
  private readonly refusals: Refusals;

  constructor(options: RedisCacheStoreOptions) {
    validateCacheOptions(options);
    this.client = options.client;
    this.prefix = options.prefix ?? CACHE_DEFAULTS.prefix;
    this.timeoutMs = options.timeoutMs ?? CACHE_DEFAULTS.timeoutMs;
    this.availability = new Availability(options.logger, 'the fallback cache');
    this.refusals = new Refusals(options.logger, 'fallback responses');
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    if (!this.usable()) return undefined;
    try {
      const raw = await withTimeout(this.client.get(this.key(key)), this.timeoutMs);
      this.availability.succeeded();
      if (raw === null) return undefined;
      const value: unknown = JSON.parse(raw);
      return isCachedResponse(value) ? value : undefined;
    } catch (error) {
      if (!(error instanceof SyntaxError)) this.availability.failed(error);
      return undefined;
    }
  }

  async set(key: string, value: CachedResponse, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0) || !this.usable()) return;
    try {
      const ttl = Math.min(Math.max(1, Math.ceil(ttlMs)), MAX_TTL_MS);
      await withTimeout(this.client.set(this.key(key), JSON.stringify(value), 'PX', ttl), this.timeoutMs);
      this.availability.succeeded();
      this.refusals.accepted();
    } catch (error) {
      // Redis answered, with a refusal: no outage (lookups still work).
      if (isReplyError(error)) this.refusals.refused(error);
      else this.availability.failed(error);
    }
  }

  /**
   * Whether to send commands now: also while the first connection is being made (a lookup then
   * waits at most `timeoutMs`); a lost connection counts as an outage.
   */
  private usable(): boolean {
    const status = this.client.status;
    if (isConnected(this.client) || status === 'connecting' || status === 'connect') return true;
    if (status === 'reconnecting' || status === 'close' || status === 'end') {
      this.availability.failed(new Error(`connection ${status}`));
    }
    return false;
  }

  private key(key: string): string {
    return this.prefix + escapeName(key);
  }
}
