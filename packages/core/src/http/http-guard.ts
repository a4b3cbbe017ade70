import type { ServerResponse } from 'node:http';
import type { CircuitBreaker, UntimedHandlers } from '../circuit/circuit-breaker.js';
import type { Permit } from '../circuit/permit.js';
import { CircuitState } from '../circuit/state.js';
import type { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { invalidOption, showValue } from '../errors/invalid-option.js';
import { backupName, type FallbackContext, FallbackEngine } from '../fallback/fallback-engine.js';
import type { CacheStore, FallbackOptions, RequestInfo } from '../fallback/types.js';
import { answeredByBreakwater } from '../node/answered.js';
import { isAnswered, statusOf } from '../node/settle-on-close.js';
import { validateBreakerOptions } from '../options.js';
import { type BreakerDefaults, defaultRegistry, optionsBeneath, type Registry } from '../registry/registry.js';
import { type Logger, log, logTransitions } from './logger.js';
import { type FailureStatusCodes, HttpStatusError, statusClassifier } from './outcome.js';
import { rejectionResponse, type WireResponse } from './response.js';

/** Options every HTTP adapter takes: every breaker option, plus these. */
export interface HttpOptions<Req> extends BreakerDefaults {
  /** The breaker's name; also the default key. */
  name?: string;
  /** Where breakers come from; default `defaultRegistry`. */
  registry?: Registry;
  /** Which breaker serves this request (per tenant, per upstream…); default `name`. */
  key?: (req: Req) => string;
  /** Statuses that count as failures; default every status ≥ 500. */
  failureStatusCodes?: FailureStatusCodes;
  /** What to answer instead of the 503 (and on `timeoutMs`); `false` turns off one from a config file. */
  fallback?: FallbackOptions<Req> | false;
  /** Called for every request the breaker refuses. */
  onOpen?: (req: Req, error: CircuitOpenError) => void;
  /** Logs state changes: warn when opening, info otherwise. Silent when absent. */
  logger?: Logger;
  /** Most breakers that `key()` may create; idle CLOSED ones are evicted beyond it. Default 1000. */
  maxBreakers?: number;
}

/** Option names that are the adapter's, not the breaker's. */
export const HTTP_OPTION_KEYS: ReadonlySet<string> = new Set([
  'name',
  'registry',
  'key',
  'failureStatusCodes',
  'fallback',
  'onOpen',
  'logger',
  'maxBreakers',
]);

/** A request the breaker refused: answer it with `HttpGuard.refusal`. */
export class Refusal {
  readonly error: CircuitOpenError;
  readonly breaker: CircuitBreaker;

  /** @internal */
  constructor(error: CircuitOpenError, breaker: CircuitBreaker) {
    this.error = error;
    this.breaker = breaker;
  }
}

/** The outcome of `admit`: an admitted `HttpCall` to settle, or a `Refusal` to answer. */
export type Admission = HttpCall | Refusal;

/** Whether a finished status counts as a failure. */
type StatusClassifier = (status: number) => boolean;

const serverError: StatusClassifier = (status) => status >= 500;

const NO_BREAKER = 'Invalid options: give a "name" or a "key" function, so that requests have a breaker';

/**
 * What a guard looked up for one breaker name: the breaker, how its statuses are classified and
 * (once asked) its fallback engine. Valid while the registry's `version` is the one it was made at,
 * so that a request costs one lookup instead of several.
 */
/** @internal */
export class Binding<Req> {
  readonly breaker: CircuitBreaker;
  readonly version: number;
  readonly isFailure: StatusClassifier;
  engineResolved = false;
  engine: FallbackEngine<Req> | undefined;

  constructor(breaker: CircuitBreaker, version: number, isFailure: StatusClassifier) {
    this.breaker = breaker;
    this.version = version;
    this.isFailure = isFailure;
  }
}

/** Whether `value` is a registry: by its methods, so that a copy of core loaded twice (ESM and CJS) still passes. */
function isRegistry(value: unknown): value is Registry {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['getOrCreate', 'get', 'delete', 'declaration', 'declaredNames'].every(
    (method) => typeof candidate[method] === 'function',
  );
}

/** The options every adapter takes besides the breaker's own (see `HttpOptions`). */
const HTTP_OPTIONS = ['registry', 'key', 'failureStatusCodes', 'fallback', 'onOpen', 'logger', 'maxBreakers'];

/**
 * Everything HTTP adapters share: picks the breaker for a request, admits or refuses it,
 * classifies the response, times it out, and produces the 503 or a fallback. Adapters only
 * translate their framework's request and response to and from it.
 */
export class HttpGuard<Req> {
  readonly registry: Registry;
  /** The `name` option: the breaker every request is admitted on, unless `key` picks one. */
  readonly name: string | undefined;
  /** The `key` option, which picks the breaker per request. */
  readonly key: ((req: Req) => string) | undefined;
  private readonly breakerOptions: BreakerDefaults;
  private readonly isFailureStatus: ((status: number) => boolean) | undefined;
  private readonly declaredStatus = new Map<string, (status: number) => boolean>();
  private readonly fallbackOption: FallbackOptions<Req> | false | undefined;
  /** The engine of the adapter's own `fallback` option; its cache is keyed by request, so breakers share it. */
  private readonly ownEngine: FallbackEngine<Req> | undefined;
  /** Engines of fallbacks declared in the registry (config files), by breaker name. */
  private readonly declared = new Map<string, FallbackEngine<Req>>();
  private readonly onOpen: ((req: Req, error: CircuitOpenError) => void) | undefined;
  private readonly logger: Logger | undefined;
  private readonly maxBreakers: number;
  private readonly memoryStore: ((maxEntries: number) => CacheStore) | undefined;
  /** Breakers created through `key()`, least recently used first. */
  private readonly keyed = new Map<string, CircuitBreaker>();
  /**
   * The keyed breakers this guard created in the registry, which it may delete from it again:
   * one that was there before (another adapter's, a protected fetch's) is only dropped from
   * `keyed`, since others hold it.
   */
  private readonly created = new WeakSet<CircuitBreaker>();
  /** Gives back each breaker's logging (see `close`), by breaker: an evicted one's goes with it. */
  private readonly unlog = new Map<CircuitBreaker, () => void>();
  /** What was looked up per breaker name (see `Binding`). */
  private readonly bindings = new Map<string, Binding<Req>>();

  constructor(
    options: HttpOptions<Req>,
    adapter: {
      memoryStore?: (maxEntries: number) => CacheStore;
      logger?: Logger | undefined;
      /** Options the adapter takes besides these (Fastify's `health`), named when an unknown one is refused. */
      options?: readonly string[];
    } = {},
  ) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Invalid options: got ${showValue(options)}, expected an object`);
    }
    const { name, registry, key, failureStatusCodes, fallback, onOpen, logger, maxBreakers, ...breakerOptions } =
      options;
    if (registry !== undefined && !isRegistry(registry)) {
      throw invalidOption('registry', registry, 'a Registry (new Registry(), createRegistry(…) or defaultRegistry)');
    }
    const beneath = optionsBeneath(registry ?? defaultRegistry, key === undefined ? name : undefined);
    const known = new Set([...HTTP_OPTIONS, ...(adapter.options ?? [])]);
    validateBreakerOptions({ ...breakerOptions, ...(name === undefined ? {} : { name }) }, known, beneath);
    if (key !== undefined && typeof key !== 'function') {
      throw invalidOption('key', key, 'a function (request) => string');
    }
    if (onOpen !== undefined && typeof onOpen !== 'function') {
      throw invalidOption('onOpen', onOpen, 'a function (request, error) => void');
    }
    if (maxBreakers !== undefined && !(Number.isInteger(maxBreakers) && maxBreakers >= 1)) {
      throw invalidOption('maxBreakers', maxBreakers, 'an integer of at least 1');
    }
    const log = logger ?? adapter.logger;
    if (log !== undefined && (typeof log.warn !== 'function' || typeof log.info !== 'function')) {
      throw invalidOption('logger', log, 'an object with warn() and info() methods');
    }
    this.registry = registry ?? defaultRegistry;
    this.name = name;
    this.key = key;
    this.breakerOptions = breakerOptions;
    this.isFailureStatus = failureStatusCodes === undefined ? undefined : statusClassifier(failureStatusCodes);
    this.fallbackOption = fallback;
    this.onOpen = onOpen;
    this.logger = log;
    this.maxBreakers = maxBreakers ?? 1000;
    this.memoryStore = adapter.memoryStore;
    this.ownEngine =
      fallback === undefined || fallback === false ? undefined : new FallbackEngine(fallback, this.fallbackContext());
  }

  /** The breaker that serves `req`: by `key(req)`, else the `name` option, else `defaultName`. */
  breakerFor(req: Req, defaultName?: string): CircuitBreaker {
    return this.bindingFor(req, defaultName).breaker;
  }

  /** Asks the breaker for a permit for this request: an `HttpCall` to settle, or a `Refusal` to answer. */
  admit(req: Req, defaultName?: string): Admission {
    return this.admitBound(req, this.bindingFor(req, defaultName));
  }

  /**
   * `admit` for requests whose default breaker name is known before they arrive (a route's):
   * the gate keeps what the guard looked up for the name, so that a request skips the lookup.
   * With a `key` option, a gate admits as `admit` does.
   */
  gate(defaultName?: string): Gate<Req> {
    // Checked here, when an adapter is set up, rather than on each request.
    if (this.key === undefined && this.name === undefined && defaultName === undefined) throw new TypeError(NO_BREAKER);
    return new Gate(this, defaultName, this.key === undefined);
  }

  /** @internal The binding for a name, without a request: for gates, and for guards without `key`. */
  bindingOf(name: string | undefined): Binding<Req> {
    return this.bindingFor(undefined as Req, name);
  }

  /** @internal */
  isCurrent(binding: Binding<Req>): boolean {
    return binding.version === this.registry.version;
  }

  /** @internal `admit` with what was looked up for the request's breaker. */
  admitBound(req: Req, binding: Binding<Req>): Admission {
    const breaker = binding.breaker;
    const counted = breaker.countOnly();
    if (counted !== undefined)
      return new HttpCall(this as HttpGuard<never>, binding as Binding<never>, undefined, counted);
    const permit = breaker.tryAcquire();
    if (permit !== undefined)
      return new HttpCall(this as HttpGuard<never>, binding as Binding<never>, permit, undefined);
    const error = breaker.rejectionError();
    if (this.onOpen !== undefined) {
      try {
        this.onOpen(req, error);
      } catch {
        // A hook that throws must not turn a refusal into a crash.
      }
    }
    return new Refusal(error, breaker);
  }

  /** The fallback engine for a breaker: the adapter's `fallback` option, else the registry's declaration for the name. */
  engine(name: string): FallbackEngine<Req> | undefined {
    if (this.fallbackOption === false) return undefined;
    if (this.ownEngine !== undefined) return this.ownEngine;
    const options = this.registry.declaration(name)?.fallback as FallbackOptions<Req> | undefined;
    if (options === undefined) return undefined;
    let engine = this.declared.get(name);
    if (engine === undefined) {
      engine = new FallbackEngine(options, this.fallbackContext());
      this.declared.set(name, engine);
    }
    return engine;
  }

  /**
   * Whether a fallback may answer some of this guard's requests: the adapter's own `fallback`,
   * else any fallback declared in the registry so far. Adapters skip fallback-only work without one.
   */
  mayFallBack(): boolean {
    if (this.fallbackOption === false) return false;
    if (this.ownEngine !== undefined) return true;
    return this.registry.declaredNames().some((name) => this.registry.declaration(name)?.fallback !== undefined);
  }

  /**
   * The answer to a refused or timed-out request: a fallback when one is configured and
   * succeeds, else the structured 503. Never rejects. `sendable` (for a timeout) says whether
   * the answer can still go out once the fallback is done: one that cannot is not counted.
   */
  async refusal(
    info: RequestInfo,
    req: Req,
    error: CircuitOpenError | CircuitTimeoutError,
    breaker: CircuitBreaker,
    sendable?: () => boolean,
  ): Promise<WireResponse> {
    let engine: FallbackEngine<Req> | undefined;
    try {
      engine = this.engine(breaker.name);
    } catch (failure) {
      // An invalid fallback declared in the registry: answer the 503 rather than reject.
      if (this.logger !== undefined) {
        const message = failure instanceof Error ? failure.message : String(failure);
        log(this.logger, 'error', { breaker: breaker.name, error: message }, 'declared fallback is invalid');
      }
    }
    if (engine !== undefined) {
      const response = await engine.respond(info, req, error, breaker, sendable);
      if (response !== undefined) return response;
    }
    return rejectionResponse(error instanceof CircuitTimeoutError ? breaker.rejectionError('open') : error);
  }

  private fallbackContext(): FallbackContext {
    const context: FallbackContext = { registry: this.registry, logger: this.logger };
    if (this.memoryStore !== undefined) context.memoryStore = this.memoryStore;
    return context;
  }

  private bindingFor(req: Req, defaultName: string | undefined): Binding<Req> {
    let name: string;
    if (this.key !== undefined) {
      name = this.keyedBreaker(this.key(req)).name;
    } else {
      const fixed = this.name ?? defaultName;
      if (fixed === undefined) throw new TypeError(NO_BREAKER);
      name = fixed;
    }
    const binding = this.bindings.get(name);
    if (binding !== undefined && binding.version === this.registry.version) return binding;
    const breaker = this.breaker(name);
    const fresh = new Binding<Req>(breaker, this.registry.version, this.classifier(name));
    this.bindings.set(name, fresh);
    return fresh;
  }

  /** How statuses are classified for a breaker: the adapter's `failureStatusCodes`, else the registry's declaration, else ≥ 500. */
  private classifier(name: string): StatusClassifier {
    if (this.isFailureStatus !== undefined) return this.isFailureStatus;
    const codes = this.registry.declaration(name)?.failureStatusCodes;
    if (codes === undefined) return serverError;
    let classify = this.declaredStatus.get(name);
    if (classify === undefined) {
      classify = statusClassifier(codes);
      this.declaredStatus.set(name, classify);
    }
    return classify;
  }

  private breaker(name: string): CircuitBreaker {
    const breaker = this.registry.getOrCreate(name, this.breakerOptions);
    if (this.logger !== undefined && !this.unlog.has(breaker)) {
      this.unlog.set(breaker, logTransitions(breaker, this.logger));
    }
    return breaker;
  }

  /**
   * Stops logging the state changes of this guard's breakers (for an app that closes while its
   * registry lives on, shared with other apps).
   */
  close(): void {
    for (const release of this.unlog.values()) release();
    this.unlog.clear();
  }

  /** @internal Stops logging `breaker`, which this guard no longer serves (evicted, or gone from the registry). */
  forget(breaker: CircuitBreaker): void {
    this.unlog.get(breaker)?.();
    this.unlog.delete(breaker);
  }

  private keyedBreaker(name: string): CircuitBreaker {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`Invalid key: the "key" function returned ${showValue(name)}, expected a non-empty string`);
    }
    const known = this.keyed.get(name);
    if (known !== undefined && this.registry.get(name) === known) {
      this.keyed.delete(name);
      this.keyed.set(name, known);
      return known;
    }
    // One deleted from the registry behind this guard's back, or replaced there.
    if (known !== undefined) this.forget(known);
    const existed = this.registry.get(name) !== undefined;
    const breaker = this.breaker(name);
    if (!existed) this.created.add(breaker);
    this.keyed.delete(name);
    this.keyed.set(name, breaker);
    while (this.keyed.size > this.maxBreakers) if (!this.evictIdle(breaker)) break;
    return breaker;
  }

  /**
   * Drops the least recently used CLOSED breaker served through `key()`: never an open one, nor
   * `keep`, the one about to serve a request. It leaves the registry too when this guard created
   * it and no declaration names it. Returns false when none could go.
   */
  private evictIdle(keep: CircuitBreaker): boolean {
    for (const [name, breaker] of this.keyed) {
      if (breaker === keep || breaker.state !== CircuitState.CLOSED) continue;
      // A breaker with requests in flight is not idle: its outcomes would go to a breaker no one sees.
      if (breaker.httpInFlight > 0) continue;
      this.keyed.delete(name);
      this.bindings.delete(name);
      this.forget(breaker);
      if (
        this.created.has(breaker) &&
        this.registry.get(name) === breaker &&
        this.registry.declaration(name) === undefined
      ) {
        this.registry.delete(name);
        // Its alternative_service backup's breaker goes with it while closed, or key() would grow
        // the registry without bound however low maxBreakers is.
        const backup = this.registry.get(backupName(name));
        if (backup?.state === CircuitState.CLOSED && this.registry.declaration(backup.name) === undefined) {
          this.registry.delete(backup.name);
        }
      }
      return true;
    }
    return false;
  }
}

/** Admits requests under one default breaker name (see `HttpGuard.gate`). */
export class Gate<Req> {
  private readonly guard: HttpGuard<Req>;
  private readonly name: string | undefined;
  /** False when the guard picks breakers with `key()`: then each request is looked up. */
  private readonly fixed: boolean;
  private binding: Binding<Req> | undefined;

  /** @internal */
  constructor(guard: HttpGuard<Req>, name: string | undefined, fixed: boolean) {
    this.guard = guard;
    this.name = name;
    this.fixed = fixed;
  }

  /** An `HttpCall` to settle, or a `Refusal` to answer, as `HttpGuard.admit`. */
  admit(req: Req): Admission {
    if (!this.fixed) return this.guard.admit(req, this.name);
    let binding = this.binding;
    if (binding === undefined || !this.guard.isCurrent(binding)) {
      binding = this.guard.bindingOf(this.name);
      this.binding = binding;
    }
    return this.guard.admitBound(req, binding);
  }
}

/**
 * One admitted request. Settle it through exactly one of `complete`, `fail` or `abort`
 * (later calls are no-ops); `armTimeout` counts a timeout at the deadline.
 *
 * In a CLOSED circuit that nothing times (no `timeoutMs`, no slow-call rule, no `success` or
 * `failure` listener) the call holds no permit: like an untimed `execute`, it is only counted
 * when it ends, and neither reads the clock nor allocates a permit when it starts.
 */
export class HttpCall {
  readonly breaker: CircuitBreaker;
  private readonly guard: HttpGuard<never>;
  private readonly binding: Binding<never>;
  /** The breaker's permit, or undefined for a call that is only counted (see the class). */
  private readonly permit: Permit | undefined;
  private readonly counted: UntimedHandlers | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** True once the call was settled (or timed out). */
  settled = false;
  /** True once `timeoutMs` passed before the response finished. */
  timedOut = false;
  /** Set by `noteError`. */
  private threw = false;
  private thrown: unknown = undefined;
  /**
   * @internal The response `countWhenFinished` waits for, or, for a call that holds a permit, the
   * one `settleOnClose` settles it by (its deadline is no timeout once that was ended). Kept
   * here, on a young object, rather than in the connection's long-lived record: storing a new
   * object into an old one costs V8's write barrier (~50 instructions).
   */
  response: unknown = undefined;

  /** @internal */
  constructor(
    guard: HttpGuard<never>,
    binding: Binding<never>,
    permit: Permit | undefined,
    counted: UntimedHandlers | undefined,
  ) {
    this.guard = guard;
    this.binding = binding;
    this.breaker = binding.breaker;
    this.permit = permit;
    this.counted = counted;
    binding.breaker.httpInFlight++;
  }

  /** Whether the call holds a permit that must be given back (see the class); false for a call that is only counted. */
  get holdsPermit(): boolean {
    return this.permit !== undefined;
  }

  /** Whether `status` counts as a failure for this call's breaker. */
  isFailure(status: number): boolean {
    return this.binding.isFailure(status);
  }

  /**
   * The fallback engine that may answer for this call, if any. An invalid fallback declared in
   * the registry gives the permit back (`abort`) and throws, for the adapter to pass on.
   */
  engine<Req>(): FallbackEngine<Req> | undefined {
    // Short, so that it is inlined into adapters: the lookup runs once per binding.
    const binding = this.binding as Binding<Req>;
    return binding.engineResolved ? binding.engine : this.resolveEngine(binding);
  }

  private resolveEngine<Req>(binding: Binding<Req>): FallbackEngine<Req> | undefined {
    try {
      binding.engine = (this.guard as HttpGuard<Req>).engine(this.breaker.name);
    } catch (error) {
      this.abort();
      throw error;
    }
    binding.engineResolved = true;
    return binding.engine;
  }

  /**
   * With `timeoutMs` set, counts a timeout failure at the deadline and then calls `onTimeout`
   * (adapters send a fallback there if nothing was sent yet).
   */
  armTimeout(onTimeout?: (error: CircuitTimeoutError) => void): void {
    // A call without a permit is never timed (see the class): one test, so that it is inlined.
    if (this.permit !== undefined) this.armPermit(this.permit, onTimeout);
  }

  private armPermit(permit: Permit, onTimeout?: (error: CircuitTimeoutError) => void): void {
    const timeoutMs = this.breaker.options.timeoutMs;
    if (timeoutMs === undefined || this.settled) return;
    this.startTimer(timeoutMs, permit, onTimeout);
  }

  /**
   * `armTimeout`'s timer, in a function of its own: V8 gives a function whose closures capture
   * its variables a context object on every call, and most calls arm nothing.
   */
  private startTimer(timeoutMs: number, permit: Permit, onTimeout?: (error: CircuitTimeoutError) => void): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.settled) return;
      // Answered in time, its last bytes still on their way (or waiting for a slow client to read
      // them): counted by its status now (see `answered`).
      const response = this.response as ServerResponse | undefined;
      if (response !== undefined && isAnswered(response)) {
        this.answered(response);
        return;
      }
      this.markSettled();
      this.timedOut = true;
      permit.timeout();
      onTimeout?.(new CircuitTimeoutError(this.breaker.name, timeoutMs));
    }, timeoutMs);
    this.timer.unref?.();
  }

  /**
   * The response was ended (all of it handed to the connection), or at the deadline its headers
   * went out and its body waits for a slow client (see `isAnswered`): the upstream has answered,
   * so a call that holds a permit is counted now, by the status, rather than when the response
   * closes. A slow client's read is then neither part of the call's duration (the slow-call rule)
   * nor able to keep a HALF_OPEN probe open until the breaker expires it.
   */
  answered(response: ServerResponse): void {
    if (!this.settled) this.complete(statusOf(response), response);
  }

  /**
   * An error thrown while the request was handled, for frameworks that report it before the
   * response ends (Fastify's `onError`): `complete` records it as the failure if the status the
   * response finishes with counts as one, and otherwise (an error answered with a 4xx) nothing.
   */
  noteError(error: unknown): void {
    this.threw = true;
    this.thrown = error;
  }

  /**
   * The response finished with `status`. Given the `response`, a failing status that Breakwater
   * wrote itself (another breaker's 503 or fallback, see `answeredByBreakwater`) settles the call
   * as neither success nor failure.
   */
  complete(status: number, response?: object): void {
    if (this.settled) return;
    if (this.binding.isFailure(status)) {
      if (response !== undefined && answeredByBreakwater(response)) this.abort();
      else this.fail(this.threw ? this.thrown : new HttpStatusError(status));
      return;
    }
    this.markSettled();
    if (this.permit === undefined) {
      (this.counted as UntimedHandlers).succeeded();
      return;
    }
    this.disarm();
    this.permit.success();
  }

  /** The request failed with an error (thrown, or passed to `next`). */
  fail(error: unknown): void {
    if (this.settled) return;
    this.markSettled();
    if (this.permit === undefined) {
      (this.counted as UntimedHandlers).failed(error);
      return;
    }
    this.disarm();
    this.permit.failure(error);
  }

  /** The client went away first: neither success nor failure. */
  abort(): void {
    if (this.settled) return;
    this.markSettled();
    if (this.permit === undefined) return;
    this.disarm();
    this.permit.release();
  }

  private markSettled(): void {
    this.settled = true;
    this.breaker.httpInFlight--;
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
