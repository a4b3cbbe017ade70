export type { RedisCacheStoreOptions, RedisClient, RedisStoreOptions } from './options.js';
export { RedisCacheStore } from './redis-cache-store.js';
export { RedisStore } from './redis-store.js';
