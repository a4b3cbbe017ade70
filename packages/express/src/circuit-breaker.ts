import {
  type Admission,
  type CircuitTimeoutError,
  countWhenFinished,
  type FallbackEngine,
  forgetAnswerHeaders,
  type HttpCall,
  HttpGuard,
  type HttpOptions,
  Refusal,
  type RequestInfo,
  readBody,
  settleOnClose,
  silence,
  writeResponse,
} from '@breakwater/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { captureBody } from './body-capture.js';
import { lruStore } from './lru-store.js';

/**
 * Options of the Express middleware: every breaker option (`failureThreshold`, `timeoutMs`,
 * `recoveryTimeoutMs`, …) plus `name`, `registry`, `key(req)`, `failureStatusCodes`,
 * `fallback`, `onOpen(req, error)`, `logger` and `maxBreakers`.
 */
export type ExpressBreakerOptions = HttpOptions<Request>;

/**
 * What a body parser left in `req.body`, or undefined for none: Express 4's body-parser sets an
 * empty `{}` in front of every request, even one whose type it does not parse, and marks those
 * it parsed with `_body`. That placeholder is no body to forward.
 */
function parsedBody(req: Request): unknown {
  const body: unknown = req.body;
  const placeholder =
    typeof body === 'object' &&
    body !== null &&
    Object.getPrototypeOf(body) === Object.prototype &&
    Object.keys(body).length === 0 &&
    (req as { _body?: unknown })._body !== true &&
    // Only Express 4's body-parser (1.x) leaves that placeholder; Express 5's (2.x) leaves
    // req.body undefined when it skips a request, and marks nothing it parsed: a `{}` there is a
    // parsed empty object. Express 4 still has the deprecated `app.del`, Express 5 has not.
    typeof (req.app as { del?: unknown } | undefined)?.del === 'function';
  return placeholder ? undefined : body;
}

function requestInfo(req: Request): RequestInfo {
  return {
    method: req.method,
    url: req.originalUrl ?? req.url,
    headers: req.headers,
    body: () => readBody(req, parsedBody(req)),
  };
}

/**
 * Express middleware (Express 4 and 5) that runs each request under a circuit breaker. A refused
 * request gets the structured 503 (or the fallback) and never reaches the handler; an admitted
 * one is counted by the status it finishes with, as a timeout after `timeoutMs`, or not at all
 * when the client goes away first.
 *
 * @example
 * app.get('/api/products', circuitBreaker({ name: 'products', timeoutMs: 800 }), handler);
 */
export function circuitBreaker(options: ExpressBreakerOptions): RequestHandler {
  const guard = new HttpGuard<Request>(options, { memoryStore: lruStore });
  /**
   * Admits under the `name` option's breaker without looking it up per request (or by `key()`);
   * throws a TypeError when the options give neither.
   */
  const gate = guard.gate();

  /** The slow path, with a fallback: records the response for the cache and answers timeouts with the fallback. */
  function admittedWithFallback(req: Request, res: Response, call: HttpCall, engine: FallbackEngine<Request>): void {
    const info = requestInfo(req);
    // The engine's limit: the adapter's own fallback, or one declared in the registry for the breaker.
    const capture = engine.wantsResponse(info) ? captureBody(res, engine.maxEntryBytes) : undefined;
    let fallbackSent = false;
    settleOnClose(res, call, () => {
      if (capture === undefined || fallbackSent || call.timedOut) return;
      const body = capture.body();
      if (body === undefined) return;
      engine.remember(
        info,
        req,
        { status: res.statusCode, headers: capture.headers(), body },
        call.breaker.options.clock.now(),
      );
    });
    call.armTimeout((error: CircuitTimeoutError) => {
      if (res.headersSent) return;
      const sendable = (): boolean => !(res.headersSent || res.writableEnded || res.destroyed);
      void guard.refusal(info, req, error, call.breaker, sendable).then((wire) => {
        if (!sendable()) return;
        fallbackSent = true;
        capture?.stop();
        try {
          forgetAnswerHeaders(res);
          writeResponse(res, wire);
        } catch {
          // The fallback could not be written (an invalid header): the handler's own answer will do.
          return;
        }
        silence(res);
      });
    });
  }

  function refuse(req: Request, res: Response, next: NextFunction, refusal: Refusal): void {
    guard
      .refusal(requestInfo(req), req, refusal.error, refusal.breaker)
      .then((wire) => writeResponse(res, wire))
      .catch(next);
  }

  // No closures in here: V8 would give each call a context object for what they capture, refused
  // or not. The refusal and the fallback have functions of their own.
  return function breakwater(req: Request, res: Response, next: NextFunction): void {
    let admission: Admission;
    try {
      admission = gate.admit(req);
    } catch (error) {
      next(error);
      return;
    }
    if (admission instanceof Refusal) {
      refuse(req, res, next, admission);
      return;
    }
    const call = admission;
    let engine: FallbackEngine<Request> | undefined;
    try {
      engine = call.engine();
    } catch (error) {
      // An invalid fallback declared in the registry (the permit is given back): pass the error on.
      next(error);
      return;
    }
    if (engine === undefined) {
      countWhenFinished(res, call);
      call.armTimeout();
    } else {
      admittedWithFallback(req, res, call, engine);
    }
    next();
  };
}
