import { invalidOption, type Logger, showValue } from '@breakwater/core';
import type { Cluster, Redis } from 'ioredis';

/** An ioredis client: a single server (`Redis`, also for Valkey) or a `Cluster`. */
export type RedisClient = Redis | Cluster;

export interface RedisStoreOptions {
  /** The connection for scripts; the store adds a second one (`client.duplicate()`) for pub/sub. */
  client: RedisClient;
  /** Start of every key and of the pub/sub channel. Must not contain `{` or `}`. Default `'breakwater:'`. */
  prefix?: string;
  /** Told once when Redis becomes unreachable and once when it is back (pino-, bunyan- or console-like). */
  logger?: Logger;
  /** Longest wait before successful calls are pushed; failures go at once. Default 50. */
  flushIntervalMs?: number;
  /** A Redis command that takes longer counts as failed, and breakers carry on locally. Default 500. */
  commandTimeoutMs?: number;
  /**
   * How long the instance that starts HALF_OPEN holds the cluster's probe budget without using it,
   * before another instance may take it over. Default 1000.
   */
  probeLeaseMs?: number;
}

export interface RedisCacheStoreOptions {
  client: RedisClient;
  /** Start of every key. Default `'breakwater:cache:'`. */
  prefix?: string;
  /** Longest wait for Redis on a lookup; after it the lookup is a miss. Default 50. */
  timeoutMs?: number;
  /** Told once when Redis becomes unreachable and once when it is back. */
  logger?: Logger;
}

export const STORE_DEFAULTS = Object.freeze({
  prefix: 'breakwater:',
  flushIntervalMs: 50,
  commandTimeoutMs: 500,
  probeLeaseMs: 1000,
});

export const CACHE_DEFAULTS = Object.freeze({
  prefix: 'breakwater:cache:',
  timeoutMs: 50,
});

/** The longest delay a Node timer holds. */
export const MAX_TIMER_MS = 2_147_483_647;

function fail(option: string, value: unknown, allowed: string): never {
  throw invalidOption(option, value, allowed);
}

function checkObject(options: unknown): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Invalid options: got ${showValue(options)}, expected an object with a "client"`);
  }
}

function checkClient(value: unknown): void {
  const client = value as Partial<Redis> | undefined;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.evalsha !== 'function' ||
    typeof client.duplicate !== 'function'
  ) {
    fail('client', value, 'an ioredis client (Redis or Cluster)');
  }
}

function checkPrefix(value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || /[{}]/.test(value))) {
    fail('prefix', value, 'a string without "{" or "}"');
  }
}

function checkTime(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    fail(option, value, `a number of milliseconds greater than 0 and at most ${MAX_TIMER_MS}`);
  }
}

function checkLogger(value: unknown): void {
  if (
    value !== undefined &&
    (typeof value !== 'object' ||
      value === null ||
      typeof (value as Logger).warn !== 'function' ||
      typeof (value as Logger).info !== 'function')
  ) {
    fail('logger', value, 'an object with warn() and info() methods');
  }
}

function checkKnown(options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const value = options[key];
      throw new TypeError(`Unknown option "${key}": got ${showValue(value)}, expected one of ${known.join(', ')}`);
    }
  }
}

export function validateStoreOptions(options: unknown): asserts options is RedisStoreOptions {
  checkObject(options);
  checkKnown(options, ['client', 'prefix', 'logger', 'flushIntervalMs', 'commandTimeoutMs', 'probeLeaseMs']);
  checkClient(options.client);
  checkPrefix(options.prefix);
  checkLogger(options.logger);
  checkTime('flushIntervalMs', options.flushIntervalMs);
  checkTime('commandTimeoutMs', options.commandTimeoutMs);
  checkTime('probeLeaseMs', options.probeLeaseMs);
}

export function validateCacheOptions(options: unknown): asserts options is RedisCacheStoreOptions {
  checkObject(options);
  checkKnown(options, ['client', 'prefix', 'timeoutMs', 'logger']);
  const client = options.client as Partial<Redis> | undefined;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.get !== 'function' ||
    typeof client.set !== 'function'
  ) {
    fail('client', client, 'an ioredis client (Redis or Cluster)');
  }
  if (options.prefix !== undefined && typeof options.prefix !== 'string') fail('prefix', options.prefix, 'a string');
  checkTime('timeoutMs', options.timeoutMs);
  checkLogger(options.logger);
}

/** Whether commands sent now would go out rather than wait in ioredis's offline queue. */
export function isConnected(client: RedisClient): boolean {
  return client.status === 'ready' || client.status === 'wait';
}
