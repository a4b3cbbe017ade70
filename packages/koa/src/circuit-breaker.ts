import type { ServerResponse } from 'node:http';
import {
  CircuitTimeoutError,
  type FallbackEngine,
  forgetAnswerHeaders,
  type HttpCall,
  HttpGuard,
  type HttpOptions,
  hasEnded,
  Refusal,
  type RequestInfo,
  readBody,
  settleCut,
  settleOnClose,
  silence,
  writeResponse,
} from '@breakwater/core';
import type { Context, Next } from 'koa';
import { lruStore } from './lru-store.js';
import { setResponse } from './set-response.js';
import { finishQueue, settleWhenFinished } from './settle-when-finished.js';

/**
 * Options of the Koa middleware: every breaker option (`failureThreshold`, `timeoutMs`,
 * `recoveryTimeoutMs`, …) plus `name`, `registry`, `key(ctx)`, `failureStatusCodes`,
 * `fallback`, `onOpen(ctx, error)`, `logger` and `maxBreakers`.
 */
export type KoaBreakerOptions = HttpOptions<Context>;

/** How the downstream middleware ended. */
type Downstream = { thrown: false } | { thrown: true; error: unknown };

function requestInfo(ctx: Context): RequestInfo {
  return {
    method: ctx.method,
    url: ctx.originalUrl ?? ctx.url,
    headers: ctx.headers,
    body: () => readBody(ctx.req, (ctx.request as { body?: unknown }).body),
  };
}

function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

/** The body Koa is about to send, as the cache keeps it; streams and other exotic bodies are not kept. */
function sentBody(ctx: Context): string | Uint8Array | undefined {
  const body: unknown = ctx.body;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (typeof body === 'object' && body !== null && isPlainData(body)) return JSON.stringify(body);
  return undefined;
}

/** The HTTP status an error carries (`ctx.throw(404)`, http-errors), if any. */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = status ?? statusCode;
  return Number.isInteger(value) && (value as number) >= 400 && (value as number) <= 599
    ? (value as number)
    : undefined;
}

/**
 * Koa middleware (Koa 2 and 3) that runs the rest of the chain under a circuit breaker. A
 * refused request gets the structured 503 (or the fallback) and `next` is never called; an
 * admitted one is counted by the status it finishes with, as a failure when it throws (unless
 * the error carries a status that is not a failure, like `ctx.throw(404)`), as a timeout after
 * `timeoutMs`, or not at all when the client goes away first.
 *
 * @example
 * app.use(circuitBreaker({ name: 'products', timeoutMs: 800 }));
 */
export function circuitBreaker(options: KoaBreakerOptions): (ctx: Context, next: Next) => Promise<void> {
  const guard = new HttpGuard<Context>(options, { memoryStore: lruStore });
  /**
   * Admits under the `name` option's breaker without looking it up per request (or by `key()`);
   * throws a TypeError when the options give neither.
   */
  const gate = guard.gate();

  function settleThrown(call: HttpCall, error: unknown): void {
    const status = statusOf(error);
    if (status !== undefined && !call.isFailure(status)) call.complete(status);
    else call.fail(error);
  }

  /** Runs the rest of the chain for an admitted request that a fallback may answer or cache. */
  async function withFallback(
    ctx: Context,
    next: Next,
    call: HttpCall,
    engine: FallbackEngine<Context>,
  ): Promise<void> {
    const breaker = call.breaker;
    const res = ctx.res;
    const info = requestInfo(ctx);
    let captured: string | Uint8Array | undefined;
    let fallbackSent = false;
    settleWhenFinished(
      res,
      call,
      () => {
        if (captured === undefined || fallbackSent || call.timedOut) return;
        engine.remember(
          info,
          ctx,
          { status: res.statusCode, headers: res.getHeaders(), body: captured },
          breaker.options.clock.now(),
        );
      },
      () => ctx.body,
    );

    let outcome: Downstream;
    if (breaker.options.timeoutMs === undefined) {
      call.armTimeout();
      try {
        await next();
        outcome = { thrown: false };
      } catch (error) {
        outcome = { thrown: true, error };
      }
    } else {
      let settled = false;
      const deadline = new Promise<CircuitTimeoutError>((resolve) => call.armTimeout(resolve));
      const downstream = next().then(
        (): Downstream => {
          settled = true;
          return { thrown: false };
        },
        (error: unknown): Downstream => {
          settled = true;
          return { thrown: true, error };
        },
      );
      const first = await Promise.race([downstream, deadline]);
      if (first instanceof CircuitTimeoutError) {
        if (!res.headersSent) {
          const sendable = (): boolean => !settled && !res.headersSent;
          // The handler may answer while the fallback is being made (a slow backup): its answer
          // then goes out at once, rather than after the fallback, which is dropped uncounted.
          const wire = await Promise.race([
            guard.refusal(info, ctx, first, breaker, sendable),
            downstream.then(() => undefined),
          ]);
          if (wire !== undefined && sendable()) {
            try {
              forgetAnswerHeaders(res);
              writeResponse(res, wire);
              fallbackSent = true;
            } catch {
              // The fallback could not be written (an invalid header): wait for the real answer.
            }
            if (fallbackSent) {
              silence(res);
              ctx.respond = false;
              return;
            }
          }
        }
        outcome = await downstream;
      } else {
        outcome = first;
      }
    }

    if (outcome.thrown) {
      settleThrown(call, outcome.error);
      throw outcome.error;
    }
    if (engine.wantsResponse(info) && ctx.respond !== false) captured = sentBody(ctx);
  }

  /** The rest of the chain's promise, with `onRejected` for when it rejects (or `next` throws). */
  function downstreamOf(next: Next, call: HttpCall, onRejected: (error: unknown) => void): Promise<void> {
    let downstream: Promise<unknown>;
    try {
      downstream = Promise.resolve(next());
    } catch (error) {
      settleThrown(call, error);
      return Promise.reject(error);
    }
    return downstream.then(undefined, onRejected) as Promise<void>;
  }

  async function refuse(ctx: Context, refusal: Refusal): Promise<void> {
    setResponse(ctx, await guard.refusal(requestInfo(ctx), ctx, refusal.error, refusal.breaker));
  }

  // Not an async function: the common path (a closed circuit, no fallback) hands back the chain's
  // own promise with one rejection handler, where `await next()` costs an async function's promise
  // and a resumption on every request.
  return function breakwater(ctx: Context, next: Next): Promise<void> {
    let admission: HttpCall;
    try {
      const admitted = gate.admit(ctx);
      if (admitted instanceof Refusal) return refuse(ctx, admitted);
      admission = admitted;
      const engine = admission.engine<Context>();
      if (engine !== undefined) return withFallback(ctx, next, admission, engine);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = admission;
    const queue = finishQueue(ctx.res, call);
    // The common path: one function, on on-finished's queue and as the chain's rejection handler
    // (a closure and a context fewer a request). on-finished calls it with the response; the
    // promise, with the error alone.
    if (queue !== undefined) {
      const settle = (error: unknown, res?: ServerResponse): void => {
        if (res !== undefined) {
          // Cut short: a failure if the stream it was sent from failed (Koa 2 leaves such a response open).
          if (hasEnded(res)) call.complete(res.statusCode, res);
          else settleCut(res, call, ctx.body);
          return;
        }
        settleThrown(call, error);
        throw error;
      };
      queue.push(settle);
      return downstreamOf(next, call, settle);
    }
    settleOnClose(ctx.res, call, undefined, () => ctx.body);
    call.armTimeout();
    return downstreamOf(next, call, (error: unknown) => {
      settleThrown(call, error);
      throw error;
    });
  };
}
