import type { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { invalidOption, showValue } from '../errors/invalid-option.js';
import { fetchThrough } from '../fetch/protected-fetch.js';
import { type Logger, log } from '../http/logger.js';
import { FINAL_STATUS, isFinalStatus, type ResponseDescriptor, toWire, type WireResponse } from '../http/response.js';
import { validateBreakerOptions } from '../options.js';
import { type BreakerDefaults, optionsBeneath, type Registry } from '../registry/registry.js';
import { isSharedRequest, isSharedResponse } from './cache-policy.js';
import { forwardableHeaders, joinUrl, relay } from './forward.js';
import type {
  AlternativeServiceFallbackOptions,
  CachedResponse,
  CacheFallbackOptions,
  CacheStore,
  FallbackOptions,
  FallbackStrategy,
  RequestInfo,
} from './types.js';

/** Header that marks every fallback response with the strategy that produced it. */
export const FALLBACK_HEADER = 'x-circuit-fallback';

/**
 * Request headers an answer may vary with and still be kept under the cache key: encoded bodies
 * are never kept (see `remember`), and the only header kept with a body is its content type, so
 * what `Accept-Encoding` and `Origin` (CORS) change is never replayed.
 */
const HARMLESS_VARY = new Set(['accept-encoding', 'origin']);

function variesWithKeyOnly(vary: unknown): boolean {
  if (vary === undefined) return true;
  const names = ([] as unknown[])
    .concat(vary)
    .flatMap((value) => String(value).split(','))
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return names.every((name) => HARMLESS_VARY.has(name));
}

/** What an adapter hands the engine besides the options. */
export interface FallbackContext {
  registry: Registry;
  logger?: Logger | undefined;
  /** Builds the default in-memory store; adapters pass an `lru-cache` one. */
  memoryStore?: (maxEntries: number) => CacheStore;
}

/** A response an adapter captured, offered to the cache. */
export interface CapturedResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string | Uint8Array;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_TTL_MS = 300_000;
const DEFAULT_MAX_ENTRIES = 1_000;
const DEFAULT_MAX_ENTRY_BYTES = 1_048_576;
const serverError = (status: number): boolean => status >= 500;
const STRATEGIES: readonly FallbackStrategy[] = ['cache', 'default', 'alternative_service', 'custom'];

function invalid(option: string, value: unknown, allowed: string): never {
  throw invalidOption(option === '' ? 'fallback' : `fallback.${option}`, value, allowed);
}

/** The most entries a cache fallback may keep: 2 ** 31 of them made lru-cache run out of memory at once. */
const MAX_ENTRIES = 1_000_000;

/** The fields each strategy takes, besides `strategy` and `timeoutMs`. */
const FIELDS: Record<FallbackStrategy, readonly string[]> = {
  cache: ['ttlMs', 'cacheKey', 'maxEntries', 'maxEntryBytes', 'methods', 'cachePrivate', 'store'],
  default: ['response'],
  alternative_service: ['url', 'breaker'],
  custom: ['handler'],
};

/** A method or header name as HTTP allows it (a token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `value` goes through `toWire` as it is; its error is named by the caller. */
function wires(descriptor: ResponseDescriptor): boolean {
  try {
    toWire(descriptor);
    return true;
  } catch {
    return false;
  }
}

/** The fixed response of the `default` strategy, checked field by field. */
function validateResponse(response: unknown): void {
  if (typeof response !== 'object' || response === null)
    invalid('response', response, 'a response { status?, headers?, body }');
  const { status, headers, body } = response as ResponseDescriptor;
  if (status !== undefined && !isFinalStatus(status)) invalid('response.status', status, FINAL_STATUS);
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
      invalid('response.headers', headers, 'an object of header names to values');
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name)) invalid('response.headers', name, 'header names that are HTTP tokens');
      if (!wires({ headers: { [name]: value } }))
        invalid(`response.headers.${name}`, value, 'a value HTTP allows in a header (no control characters)');
    }
  }
  if (!wires({ body })) invalid('response.body', body, 'a string, bytes or a JSON value');
}

/**
 * The framework's request (Express `req`, Koa `ctx`, Fastify `request`) with its `method` reading
 * `GET`, for a custom `cacheKey` asked for the entry that answers a HEAD request.
 */
function asGet<Req>(req: Req): Req {
  if (typeof req !== 'object' || req === null) return req;
  return new Proxy(req, {
    get: (target, property) => (property === 'method' ? 'GET' : Reflect.get(target, property, target)),
  });
}

function checkPositive(option: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
    invalid(option, value, 'a positive number');
  }
}

/** Throws a `TypeError` naming the first invalid field of a fallback option. */
export function validateFallback(options: unknown, beneath: BreakerDefaults = {}): asserts options is FallbackOptions {
  if (typeof options !== 'object' || options === null) invalid('', options, 'an object with a "strategy"');
  const o = options as Record<string, unknown>;
  if (!STRATEGIES.includes(o.strategy as FallbackStrategy)) invalid('strategy', o.strategy, STRATEGIES.join(', '));
  // A misspelt field (ttl, cache_key, handle) would leave its default in force without a word.
  const fields = ['strategy', 'timeoutMs', ...FIELDS[o.strategy as FallbackStrategy]];
  for (const [field, value] of Object.entries(o)) {
    if (value !== undefined && !fields.includes(field)) {
      throw new TypeError(
        `Unknown option "fallback.${field}": got ${showValue(value)}, expected one of ${fields.join(', ')} for strategy "${String(o.strategy)}"`,
      );
    }
  }
  checkPositive('timeoutMs', o.timeoutMs);
  switch (o.strategy) {
    case 'cache':
      checkPositive('ttlMs', o.ttlMs);
      // The in-memory store (lru-cache) allocates room for all of them up front.
      if (
        o.maxEntries !== undefined &&
        !(
          Number.isSafeInteger(o.maxEntries) &&
          (o.maxEntries as number) >= 1 &&
          (o.maxEntries as number) <= MAX_ENTRIES
        )
      )
        invalid('maxEntries', o.maxEntries, `an integer from 1 to ${MAX_ENTRIES}`);
      checkPositive('maxEntryBytes', o.maxEntryBytes);
      if (o.cacheKey !== undefined && typeof o.cacheKey !== 'function')
        invalid('cacheKey', o.cacheKey, 'a function (req) => string');
      if (
        o.methods !== undefined &&
        !(Array.isArray(o.methods) && o.methods.every((m) => typeof m === 'string' && TOKEN.test(m)))
      ) {
        invalid('methods', o.methods, 'an array of HTTP methods');
      }
      if (o.cachePrivate !== undefined && typeof o.cachePrivate !== 'boolean')
        invalid('cachePrivate', o.cachePrivate, 'true or false');
      if (o.store !== undefined && !isStore(o.store))
        invalid('store', o.store, 'a store with get(key) and set(key, value, ttlMs)');
      break;
    case 'default':
      validateResponse(o.response);
      break;
    case 'alternative_service':
      try {
        const url = new URL(String(o.url));
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
        // The request's path and query are appended (see `joinUrl`): a query or fragment here
        // would swallow them, and fetch refuses a URL with credentials on every request.
        if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') throw new Error();
        if (String(o.url).includes('?') || String(o.url).includes('#')) throw new Error();
      } catch {
        invalid('url', o.url, 'an absolute http(s) URL without credentials, query or fragment');
      }
      if (o.breaker !== undefined) {
        if (typeof o.breaker !== 'object' || o.breaker === null) invalid('breaker', o.breaker, 'breaker options');
        try {
          // Over the registry's defaults that the backup's breaker starts from (see `alternative`).
          validateBreakerOptions(o.breaker, undefined, beneath);
        } catch (error) {
          throw new TypeError((error as Error).message.replace(/option "/, 'option "fallback.breaker.'));
        }
      }
      break;
    case 'custom':
      if (typeof o.handler !== 'function') invalid('handler', o.handler, 'a function (req, error) => response');
      break;
  }
}

/** A fallback with nothing to answer (a cache miss, a backup 5xx): logged as a warning, not an error. */
class NoAnswer extends Error {}

function isStore(value: unknown): value is CacheStore {
  const store = value as Partial<CacheStore> | null;
  return (
    typeof store === 'object' && store !== null && typeof store.get === 'function' && typeof store.set === 'function'
  );
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`fallback took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The name of the breaker that guards the `alternative_service` backup of breaker `name`. */
export function backupName(name: string): string {
  return `${name}:alternative`;
}

/**
 * Produces fallback responses for one adapter's requests. Every method is safe: a fallback that
 * fails is logged and answered with `undefined`, so the caller sends the structured 503.
 */
export class FallbackEngine<Req = unknown> {
  readonly strategy: FallbackStrategy;
  private readonly options: FallbackOptions<Req>;
  private readonly context: FallbackContext;
  private readonly store: CacheStore | undefined;
  private readonly methods: ReadonlySet<string>;
  /** Largest response body the cache keeps: adapters that record bodies stop recording past it. */
  readonly maxEntryBytes: number;

  constructor(options: FallbackOptions<Req>, context: FallbackContext) {
    validateFallback(options, optionsBeneath(context.registry));
    this.options = options;
    this.strategy = options.strategy;
    this.context = context;
    this.maxEntryBytes = (options.strategy === 'cache' ? options.maxEntryBytes : undefined) ?? DEFAULT_MAX_ENTRY_BYTES;
    this.methods = new Set(
      (options.strategy === 'cache' ? (options.methods ?? ['GET', 'HEAD']) : []).map((m) => m.toUpperCase()),
    );
    if (options.strategy === 'cache') {
      const store = options.store ?? context.memoryStore?.(options.maxEntries ?? DEFAULT_MAX_ENTRIES);
      if (store === undefined) throw new TypeError('Invalid option "fallback.store": a cache store is required here');
      this.store = store;
    }
  }

  /** True when the adapter should capture this request's response for the cache. */
  wantsResponse(info: RequestInfo): boolean {
    if (this.store === undefined || !this.methods.has(info.method.toUpperCase())) return false;
    return (this.options as CacheFallbackOptions).cachePrivate === true || isSharedRequest(info);
  }

  /** Offers a finished response to the cache; kept only if 2xx, shareable, not encoded and small enough. */
  remember(info: RequestInfo, req: Req, response: CapturedResponse, now: number): void {
    const options = this.options as CacheFallbackOptions<Req>;
    if (this.store === undefined || response.status < 200 || response.status > 299) return;
    // An answer to HEAD has no body (Express writes none): kept, it would stand for the resource
    // under a key that leaves out the method (a cacheKey of the path) and replay as an empty 200.
    // HEAD is served from what GET kept instead (see `fromCache`).
    if (info.method.toUpperCase() === 'HEAD') return;
    // A part of a resource (206, or any answer to a Range request) is no answer to a plain request.
    if (response.status === 206 || info.headers.range !== undefined) return;
    // A fallback another breaker answered with (a route breaker's, seen by an app-wide one) is no
    // fresh answer of the upstream: kept, it would stand for the real one, and outlive its ttl.
    if (response.headers[FALLBACK_HEADER] !== undefined) return;
    // An answer that varies with request headers the key does not hold (language, format, a
    // user's cookie) would be served to requests it was not made for.
    if (!variesWithKeyOnly(response.headers.vary)) return;
    if (options.cachePrivate !== true && !isSharedResponse(response.headers)) return;
    // An encoded body (gzip…) would be replayed without its encoding, or decoded as text.
    const encoding = response.headers['content-encoding'];
    if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') return;
    const bytes = typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.byteLength;
    if (bytes > this.maxEntryBytes) return;
    const binary = typeof response.body !== 'string';
    const headers: Record<string, string> = {};
    const type = response.headers['content-type'];
    if (type !== undefined) headers['content-type'] = String(type);
    const entry: CachedResponse = {
      status: response.status,
      headers,
      body: binary ? Buffer.from(response.body as Uint8Array).toString('base64') : (response.body as string),
      binary,
      storedAt: now,
    };
    try {
      const result = this.store.set(this.cacheKey(info, req), entry, options.ttlMs ?? DEFAULT_TTL_MS);
      if (result instanceof Promise) result.catch((error: unknown) => this.report(undefined, 'store', error));
    } catch (error) {
      this.report(undefined, 'store', error);
    }
  }

  /**
   * The fallback response for a refused or timed-out request, or `undefined` when there is
   * none (nothing cached, the handler failed, the backup is down): then send the 503.
   * `sendable`, asked once the fallback is done, says whether it can still go out: after a
   * timeout the handler may have answered meanwhile, and a fallback not sent is not counted.
   */
  async respond(
    info: RequestInfo,
    req: Req,
    error: Error,
    breaker: CircuitBreaker,
    sendable?: () => boolean,
  ): Promise<WireResponse | undefined> {
    try {
      const response = await withTimeout(
        this.produce(info, req, error, breaker),
        this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      if (sendable !== undefined && !sendable()) return undefined;
      breaker.noteFallback(this.strategy, true);
      return response;
    } catch (failure) {
      if (sendable === undefined || sendable()) breaker.noteFallback(this.strategy, false);
      this.report(breaker, 'respond', failure, failure instanceof NoAnswer ? 'warn' : 'error');
      return undefined;
    }
  }

  private async produce(info: RequestInfo, req: Req, error: Error, breaker: CircuitBreaker): Promise<WireResponse> {
    const header = { [FALLBACK_HEADER]: this.strategy };
    const options = this.options;
    switch (options.strategy) {
      case 'default':
        return toWire(options.response, header);
      case 'custom':
        return toWire(await options.handler(req, error), header);
      case 'cache':
        return this.fromCache(info, req, breaker, header);
      case 'alternative_service':
        return this.fromBackup(info, breaker, header, options);
    }
  }

  private async fromCache(
    info: RequestInfo,
    req: Req,
    breaker: CircuitBreaker,
    header: Record<string, string>,
  ): Promise<WireResponse> {
    if (!this.wantsResponse(info)) throw new NoAnswer(`${info.method} ${info.url} is not served from the cache`);
    // What GET kept answers HEAD too: the adapter sends its headers (and length) without the body.
    // A custom cacheKey is asked for GET's key too: one that reads the method would name a HEAD
    // entry, and none is kept (see `remember`).
    const head = info.method.toUpperCase() === 'HEAD';
    const key = head ? this.cacheKey({ ...info, method: 'GET' }, asGet(req)) : this.cacheKey(info, req);
    const entry = await (this.store as CacheStore).get(key);
    if (entry === undefined) throw new NoAnswer(`nothing cached for ${info.method} ${info.url}`);
    const ageMs = breaker.options.clock.now() - entry.storedAt;
    if (ageMs > ((this.options as CacheFallbackOptions).ttlMs ?? DEFAULT_TTL_MS)) {
      throw new NoAnswer(`the cached response to ${info.method} ${info.url} is older than ttlMs`);
    }
    return {
      status: entry.status,
      headers: { ...entry.headers, age: String(Math.max(0, Math.floor(ageMs / 1000))), ...header },
      body: entry.binary ? new Uint8Array(Buffer.from(entry.body, 'base64')) : entry.body,
    };
  }

  private async fromBackup(
    info: RequestInfo,
    breaker: CircuitBreaker,
    header: Record<string, string>,
    options: AlternativeServiceFallbackOptions,
  ): Promise<WireResponse> {
    const method = info.method.toUpperCase();
    const read = method === 'GET' || method === 'HEAD' ? undefined : await info.body?.();
    const headers = forwardableHeaders(info.headers);
    let body = read;
    if (typeof read === 'object' && !(read instanceof Uint8Array)) {
      // What a parser made of the body: inflated, and maybe of another type (see `ParsedBody`).
      headers.delete('content-encoding');
      if (read.contentType === undefined) headers.delete('content-type');
      else headers.set('content-type', read.contentType);
      body = read.parsed;
    }
    const backup = this.context.registry.getOrCreate(backupName(breaker.name), {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...options.breaker,
    });
    const response = await fetchThrough(backup, globalThis.fetch, serverError, joinUrl(options.url, info.url), {
      method,
      headers,
      body: body as RequestInit['body'],
      // Relayed as the backup gave it, as a proxy does: followed here, a redirect would turn a
      // POST into a GET of another path (303, and 301/302 by fetch's rules) and hide the
      // Location the client was meant to see.
      redirect: 'manual',
    });
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new NoAnswer(`the backup answered ${response.status}`);
    }
    return relay(response, header, method);
  }

  private cacheKey(info: RequestInfo, req: Req): string {
    const custom = (this.options as CacheFallbackOptions<Req>).cacheKey;
    return custom === undefined ? `${info.method} ${info.url}` : custom(req);
  }

  private report(
    breaker: CircuitBreaker | undefined,
    stage: string,
    error: unknown,
    level: 'warn' | 'error' = 'error',
  ): void {
    const logger = this.context.logger;
    if (logger === undefined) return;
    const message = error instanceof Error ? error.message : String(error);
    log(
      logger,
      level,
      { breaker: breaker?.name, strategy: this.strategy, stage, error: message },
      `fallback "${this.strategy}" failed`,
    );
  }
}
