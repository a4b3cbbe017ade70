import type { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { invalidOption } from '../errors/invalid-option.js';
import { type FailureStatusCodes, HttpStatusError, statusClassifier } from '../http/outcome.js';
import { validateBreakerOptions } from '../options.js';
import { type BreakerDefaults, defaultRegistry, optionsBeneath, type Registry } from '../registry/registry.js';

export interface ProtectedFetchOptions extends BreakerDefaults {
  /** Where breakers come from; default `defaultRegistry`. */
  registry?: Registry;
  /** Which breaker serves a URL; default its origin, so each upstream host has its own. */
  key?: (url: URL) => string;
  /** Statuses that count as failures (the response is still returned); default every status ≥ 500. */
  failureStatusCodes?: FailureStatusCodes;
  /** The fetch to protect; default the global one. */
  fetch?: typeof globalThis.fetch;
}

const OWN_KEYS = new Set(['registry', 'key', 'failureStatusCodes', 'fetch']);

/**
 * A `fetch` that runs every request under a breaker picked by `key(url)`. A response whose
 * status is listed in `failureStatusCodes` counts as a failure but is still returned;
 * `timeoutMs` aborts the request (with `CircuitTimeoutError`), and an open circuit rejects with
 * `CircuitOpenError` without touching the network. A caller's own abort counts as neither.
 * The call is counted when the response headers arrive, and `timeoutMs` covers that much: a body
 * that stalls afterwards is the caller's to bound (`signal: AbortSignal.timeout(ms)` covers it).
 *
 * @example
 * const fetch = createProtectedFetch({ timeoutMs: 2000, failureThreshold: 3 });
 * const res = await fetch('https://api.example.com/match', { method: 'POST', body });
 */
export function createProtectedFetch(options: ProtectedFetchOptions = {}): typeof globalThis.fetch {
  const {
    registry = defaultRegistry,
    key = (url: URL) => url.origin,
    failureStatusCodes,
    fetch: inner,
    ...breakerOptions
  } = options;
  if (typeof (registry as Partial<Registry> | null)?.getOrCreate !== 'function')
    throw invalidOption('registry', registry, 'a Registry (an object with a getOrCreate() method)');
  validateBreakerOptions(breakerOptions, OWN_KEYS, optionsBeneath(registry));
  if (typeof key !== 'function') throw invalidOption('key', key, 'a function (url) => string');
  if (inner !== undefined && typeof inner !== 'function') throw invalidOption('fetch', inner, 'a fetch function');
  const isFailureStatus = statusClassifier(failureStatusCodes);
  const baseFetch = inner ?? globalThis.fetch;

  return async function protectedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : String(input));
    return fetchThrough(registry.getOrCreate(key(url), breakerOptions), baseFetch, isFailureStatus, input, init);
  };
}

/**
 * One request under `breaker`: refused with `CircuitOpenError` when not permitted, aborted
 * after the breaker's `timeoutMs`, classified by status. The caller's abort counts as neither.
 */
export async function fetchThrough(
  breaker: CircuitBreaker,
  baseFetch: typeof globalThis.fetch,
  isFailureStatus: (status: number) => boolean,
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const permit = breaker.tryAcquire();
  if (permit === undefined) throw breaker.rejectionError();

  const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  if (callerSignal?.aborted) {
    // Aborted before the call: not sent, and counted as neither.
    permit.release();
    throw callerSignal.reason;
  }
  const timeoutMs = breaker.options.timeoutMs;
  let signal = callerSignal ?? undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timeoutError: CircuitTimeoutError | undefined;
  let onCallerAbort: (() => void) | undefined;
  // Settles the call at the deadline, or at the caller's abort, even when the fetch given does
  // not stop on its signal (see the catch below for how each counts).
  let settledEarly: Promise<never> | undefined;
  if (timeoutMs !== undefined || callerSignal) {
    const controller = timeoutMs === undefined ? undefined : new AbortController();
    settledEarly = new Promise<never>((_resolve, reject) => {
      if (callerSignal) {
        onCallerAbort = () => reject(callerSignal.reason);
        callerSignal.addEventListener('abort', onCallerAbort, { once: true });
      }
      if (timeoutMs === undefined || controller === undefined) return;
      timer = setTimeout(() => {
        timeoutError = new CircuitTimeoutError(breaker.name, timeoutMs);
        controller.abort(timeoutError);
        reject(timeoutError);
      }, timeoutMs);
    });
    if (controller !== undefined) {
      signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    }
  }
  try {
    const pending = baseFetch(input, signal === undefined ? init : { ...init, signal });
    if (settledEarly !== undefined) {
      // An answer that comes after the deadline (or the caller's abort) is nobody's: free its connection.
      Promise.resolve(pending).then(
        (late) => {
          const body = (late as Response | undefined)?.body;
          const abandoned = timeoutError !== undefined || callerSignal?.aborted === true;
          // A Node stream (node-fetch's body) has no cancel(): left to its own end.
          if (abandoned && typeof body?.cancel === 'function') body.cancel().catch(() => {});
        },
        () => {},
      );
    }
    const response = await (settledEarly === undefined ? pending : Promise.race([pending, settledEarly]));
    if (isFailureStatus(response.status)) permit.failure(new HttpStatusError(response.status));
    else permit.success();
    return response;
  } catch (error) {
    if (timeoutError !== undefined) {
      permit.timeout();
      throw timeoutError;
    }
    if (callerSignal?.aborted) permit.release();
    else permit.failure(error);
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    // A caller's signal may outlive many calls (a shutdown signal): no listener left on it per call.
    if (onCallerAbort !== undefined) callerSignal?.removeEventListener('abort', onCallerAbort);
  }
}
