import type { ResponseDescriptor } from '../http/response.js';
import type { ParsedBody } from '../node/read-body.js';
import type { BreakerDefaults } from '../registry/registry.js';

/** What the fallback engine needs to know of a request; adapters build it from theirs. */
export interface RequestInfo {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /**
   * Reads the request body, for forwarding to an alternative service: its bytes as they came,
   * or what a body parser made of it (see `readBody`).
   */
  body?: () => Promise<Uint8Array | string | ParsedBody | undefined>;
}

/** A response kept by the `cache` strategy. */
export interface CachedResponse {
  status: number;
  headers: Record<string, string>;
  /** The body, base64-encoded when `binary`. */
  body: string;
  binary: boolean;
  /** Clock time at which it was stored. */
  storedAt: number;
}

/** Where the `cache` strategy keeps responses: in memory by default, or shared (`@breakwater/redis`). */
export interface CacheStore {
  get(key: string): CachedResponse | undefined | Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse, ttlMs: number): unknown;
}

interface FallbackBase {
  /** Longest a fallback may take before the 503 is sent instead. Default 5000. */
  timeoutMs?: number;
}

/** Serve the last successful (2xx) response for the same key while younger than `ttlMs`. */
export interface CacheFallbackOptions<Req = unknown> extends FallbackBase {
  strategy: 'cache';
  /** Default 300000 (5 minutes). */
  ttlMs?: number;
  /**
   * Default: method + URL (with query). HEAD is answered from GET's entry: for it, this is called
   * with the request's `method` reading `GET`.
   */
  cacheKey?: (req: Req) => string;
  /** Entries kept in memory (LRU). Default 1000. */
  maxEntries?: number;
  /** Larger responses are not kept. Default 1 MiB. */
  maxEntryBytes?: number;
  /** Methods whose responses are kept. Default GET and HEAD. */
  methods?: readonly string[];
  /**
   * Also keep responses that may be private: those with `Set-Cookie` or `Cache-Control:
   * private/no-store`, and those to requests with `Authorization` or `Cookie`. Only turn this on
   * with a `cacheKey` that separates users. Default false.
   */
  cachePrivate?: boolean;
  /** Where entries live; default an in-memory LRU. */
  store?: CacheStore;
}

/** Answer with a fixed response. */
export interface DefaultFallbackOptions extends FallbackBase {
  strategy: 'default';
  response: ResponseDescriptor;
}

/** Forward the request to a backup service and relay its answer. */
export interface AlternativeServiceFallbackOptions extends FallbackBase {
  strategy: 'alternative_service';
  /** Base URL of the backup; the request's path and query are appended. */
  url: string;
  /** Options of the backup's own breaker, `<name>:alternative`. */
  breaker?: BreakerDefaults;
}

/** Answer with whatever your handler returns. */
export interface CustomFallbackOptions<Req = unknown> extends FallbackBase {
  strategy: 'custom';
  /** Gets the framework's own request and the reason (a `CircuitOpenError` or `CircuitTimeoutError`). */
  handler: (req: Req, error: Error) => ResponseDescriptor | Promise<ResponseDescriptor>;
}

/** The `fallback` option of every adapter. */
export type FallbackOptions<Req = unknown> =
  | CacheFallbackOptions<Req>
  | DefaultFallbackOptions
  | AlternativeServiceFallbackOptions
  | CustomFallbackOptions<Req>;

export type FallbackStrategy = FallbackOptions['strategy'];
