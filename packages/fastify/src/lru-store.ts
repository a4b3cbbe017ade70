import type { CachedResponse, CacheStore } from '@breakwater/core';
import { LRUCache } from 'lru-cache';

/** The `cache` fallback's default store: an in-memory LRU of at most `maxEntries` responses. */
export function lruStore(maxEntries: number): CacheStore {
  const lru = new LRUCache<string, CachedResponse>({ max: maxEntries });
  return {
    get: (key) => lru.get(key),
    set: (key, value, ttlMs) => {
      lru.set(key, value, { ttl: ttlMs });
    },
  };
}
