import { CircuitOpenError, type RejectionReason } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { showValue } from '../errors/invalid-option.js';
import { type CircuitBreakerOptions, type ResolvedOptions, resolveOptions, systemClock } from '../options.js';
import { rulesFromOptions } from '../rules/rules-from-options.js';
import type { TripRule } from '../rules/trip-rule.js';
import { RollingWindow, WINDOW_BUCKETS, type WindowCounts } from '../window/rolling-window.js';
import { coarseNow, PERIOD_MS } from './coarse-clock.js';
import { Deadlines, TimedCall } from './deadlines.js';
import { type CircuitBreakerEvents, Emitter } from './events.js';
import { Outcome, Permit, type PermitOwner } from './permit.js';
import { CircuitState } from './state.js';
import type { BreakerSync, SharedState, SyncTarget } from './sync.js';

/**
 * Narrowest bucket for which successes are counted with the coarse clock: a hundred of its
 * {@link PERIOD_MS} ticks, so that a reading's age is at most about 1% of a bucket.
 */
const ROUGH_BUCKET_MS = 100 * PERIOD_MS;

/** Plain-object snapshot of a breaker, as `stats()` returns it. */
export interface CircuitBreakerStats {
  name: string;
  state: CircuitState;
  /** Calls recorded since creation (or the last `reset()`). */
  totalCalls: number;
  successes: number;
  /** Failures, timeouts included. */
  failures: number;
  timeouts: number;
  slowCalls: number;
  /** Calls refused while not permitted. */
  rejected: number;
  /** Errors that `isFailure` let through uncounted. */
  ignored: number;
  window: WindowCounts & { windowMs: number };
  /** Failures / calls in the window (0 when empty). */
  failureRate: number;
  slowCallRate: number;
  consecutiveFailures: number;
  /** Clock time of the last failure, or null. */
  lastFailureTime: number | null;
  lastStateChangeTime: number;
  /** When an OPEN circuit may next probe, or null when not OPEN. */
  nextAttemptTime: number | null;
  halfOpenInFlight: number;
  /** Opens since the last close (drives the backoff). */
  openCount: number;
  /** Fallback responses, by strategy: how many were served and how many failed (then the 503 was sent). */
  fallbacks: Record<string, { served: number; failed: number }>;
}

/** What an untimed success tells a store. */
const SUCCEEDED = Object.freeze({ failure: false, slow: false, timeout: false });

/**
 * The signal of every call that cannot time out (no `timeoutMs`), and of timed calls whose
 * function cannot see its arguments (see `takesSignal`). It never aborts, so a listener added to it could never run: it
 * drops listeners instead of keeping them, which lets all those calls share it without a
 * listener (or a `MaxListenersExceededWarning`) piling up per call.
 */
const NEVER: AbortSignal = neverAborting();

function neverAborting(): AbortSignal {
  const signal = new AbortController().signal;
  const ignore = (): void => {};
  Object.defineProperties(signal, {
    addEventListener: { value: ignore },
    removeEventListener: { value: ignore },
    onabort: { get: () => null, set: ignore },
  });
  return signal;
}

/** An arrow function of no parameters: it has no `arguments` of its own either. */
const NO_PARAMETERS = /^(?:async\s*)?\(\s*\)\s*=>/;

/**
 * Whether `fn` may read the signal it is given. Node 20 takes about 3.5 µs to make an
 * AbortSignal (15 times the rest of a timed call), so a function that cannot see its arguments
 * gets the shared `NEVER` instead. `fn.length` alone would also say 0 for `(...args) =>`,
 * `(signal = undefined) =>` and a `function` that reads `arguments`, whose signal must abort at
 * the deadline: only an arrow written with `()` is left out, found from its source (about 0.1
 * µs); anything else that declares no parameter gets a signal.
 */
function takesSignal(fn: (signal: AbortSignal) => unknown): boolean {
  return fn.length > 0 || !NO_PARAMETERS.test(Function.prototype.toString.call(fn));
}

/** What a breaker needs of a group it belongs to. */
interface BreakerGroup {
  blocks(now: number): boolean;
  retryAfterMs(now: number): number;
  memberChanged(): void;
}

/**
 * The outcome handlers that every untimed closed-circuit call of one generation shares, so
 * such a call allocates nothing of its own (see `execute`). They exist only while calls may
 * go untimed: a state change, a `success`/`failure` listener or a group drops them.
 */
export interface UntimedHandlers {
  readonly succeeded: () => void;
  readonly failed: (error: unknown) => void;
}

/**
 * A circuit breaker: decides whether each call may proceed, records how it went, and moves
 * between CLOSED, OPEN and HALF_OPEN. It owns no timer while idle; the move from OPEN to
 * HALF_OPEN happens when a call arrives (or the state is read) after the recovery time. With
 * `timeoutMs`, one timer serves all the calls in flight and lapses within `timeoutMs` of the last.
 *
 * @example
 * const breaker = new CircuitBreaker({ name: 'payments', failureThreshold: 3, timeoutMs: 2000 });
 * const receipt = await breaker.execute((signal) => fetch(url, { signal }));
 */
export class CircuitBreaker extends Emitter<CircuitBreakerEvents> implements PermitOwner, SyncTarget {
  readonly options: ResolvedOptions;
  private rules: TripRule[];
  private window: RollingWindow;
  private current: CircuitState = CircuitState.CLOSED;
  private generation = 0;
  private consecutiveFailures = 0;
  private halfOpenSuccesses = 0;
  private halfOpenInFlight = 0;
  /** Start time of each probe slot, NaN when free; made by the first probe, so an idle breaker holds none. */
  private probeStarts: number[] | undefined;
  /** Set while the `timeout` event of an expired probe is emitted (see `recordExpiredProbe`). */
  private expiringProbe = false;
  /** Whether this instance changed state itself (not a state adopted from a store). */
  private changedHere = false;
  private openedAt = 0;
  private nextAttemptAt = 0;
  private openCount = 0;
  private lastStateChangeAt: number;
  private lastFailureAt: number | null = null;
  private lastRejectReason: RejectionReason = 'open';
  private totals = { calls: 0, successes: 0, failures: 0, timeouts: 0, slow: 0, rejected: 0, ignored: 0 };
  private fallbacks: Record<string, { served: number; failed: number }> | undefined;
  private sync: BreakerSync | undefined;
  /**
   * @internal Requests that HTTP adapters admitted here and that are not settled yet (see
   * `HttpCall`): kept on the breaker, so that however an adapter looked it up, a breaker with
   * requests in flight is never taken for an idle one.
   */
  httpInFlight = 0;
  private deadlineList: Deadlines | undefined;
  /** Made on the first untimed `execute` of each generation; see `UntimedHandlers`. */
  private untimedHandlers: UntimedHandlers | undefined;
  /** Reused for every rule check, so recording a call allocates nothing. */
  private tripInput: { window: Readonly<WindowCounts>; consecutiveFailures: number } | undefined;
  private groupList: BreakerGroup[] | undefined;
  /** Whether successes may be counted with the coarse clock (see `roughNow`). */
  private roughClock: boolean;

  constructor(options: CircuitBreakerOptions) {
    super();
    this.options = resolveOptions(options);
    this.rules = rulesFromOptions(this.options);
    this.window = new RollingWindow(this.options.metricsWindowMs);
    this.roughClock = usesRoughClock(this.options);
    this.lastStateChangeAt = this.options.clock.now();
  }

  /**
   * @internal Whether nothing has happened to the breaker yet: no call counted, refused, ignored
   * or probing, no change of state made here (one adopted from a store is not). Only then may
   * the registry give it other options (see `reconfigure`).
   */
  get pristine(): boolean {
    const { calls, rejected, ignored } = this.totals;
    return (
      !this.changedHere &&
      calls === 0 &&
      rejected === 0 &&
      ignored === 0 &&
      this.httpInFlight === 0 &&
      this.halfOpenInFlight === 0
    );
  }

  /**
   * @internal Gives a pristine breaker (see `pristine`) other options, under the same name: for a
   * breaker a configuration file made before the code that uses it gave its own. Its listeners,
   * groups and identity stay.
   */
  reconfigure(options: CircuitBreakerOptions): void {
    const resolved = resolveOptions({ ...options, name: this.name });
    (this as { options: ResolvedOptions }).options = resolved;
    this.rules = rulesFromOptions(resolved);
    this.window = new RollingWindow(resolved.metricsWindowMs);
    this.roughClock = usesRoughClock(resolved);
    this.untimedHandlers = undefined;
    this.tripInput = undefined;
    // Calls in flight keep their own list (and timer); new calls get deadlines of the new timeoutMs.
    this.deadlineList = undefined;
    // Probe slots are sized by halfOpenMaxRequests; none is taken (see `pristine`).
    this.probeStarts = undefined;
    // The window is new: what was merged into it (a store's counts) is merged again by the new binding.
    this.consecutiveFailures = 0;
    // Dated on the clock given, unless a store's state was adopted meanwhile (dated by it).
    if (this.generation === 0) this.lastStateChangeAt = resolved.clock.now();
  }

  get name(): string {
    return this.options.name;
  }

  /** The calls of `execute` running under `timeoutMs`: one timer serves them all. Made by the first such call. */
  private get deadlines(): Deadlines {
    this.deadlineList ??= new Deadlines();
    return this.deadlineList;
  }

  /** @internal Groups this breaker belongs to; set by the registry. */
  get groups(): BreakerGroup[] | undefined {
    return this.groupList;
  }

  set groups(groups: BreakerGroup[] | undefined) {
    this.groupList = groups;
    this.untimedHandlers = undefined;
  }

  override on<K extends keyof CircuitBreakerEvents>(
    event: K,
    listener: (event: CircuitBreakerEvents[K]) => void,
  ): this {
    // From now on calls are timed, so that the listener gets their duration.
    if (event === 'success' || event === 'failure') this.untimedHandlers = undefined;
    return super.on(event, listener);
  }

  /** The current state, after any move that time alone has made due. */
  get state(): CircuitState {
    this.refresh(this.options.clock.now());
    return this.current;
  }

  /**
   * Asks to make one call. Returns a `Permit` to settle when the call is done, or `undefined`
   * when the circuit does not permit it (a `reject` event tells why).
   */
  tryAcquire(): Permit | undefined {
    return this.acquire(this.options.clock.now());
  }

  /**
   * @internal For adapters that settle calls themselves (HTTP): the outcome handlers of this
   * generation when a call needs no permit (CLOSED, and nothing times it: see `untimed`), else
   * undefined and the call takes a permit from `tryAcquire`. A handler called after the
   * generation has passed is ignored, as a stale permit is.
   */
  countOnly(): UntimedHandlers | undefined {
    return this.untimedHandlers ?? this.makeUntimedHandlers();
  }

  private acquire(now: number): Permit | undefined {
    switch (this.current) {
      case CircuitState.CLOSED:
        if (this.groups !== undefined && this.blockedByGroup(now)) return this.reject('group', now);
        return new Permit(this, this.generation, now, -1);
      case CircuitState.DISABLED:
        return new Permit(this, this.generation, now, -1);
      case CircuitState.FORCED_OPEN:
        return this.reject('forced_open', now);
      default:
        return this.acquireWhileOpen(now);
    }
  }

  /**
   * Runs `fn` under the breaker. `fn` gets an `AbortSignal` that fires when `timeoutMs`
   * passes. Rejects with `CircuitOpenError` when not permitted, `CircuitTimeoutError` on
   * timeout, or `fn`'s own error.
   */
  execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<Awaited<T>> {
    // A mistake of the caller's, not a failure of the dependency: not counted.
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`execute() takes a function: got ${showValue(fn)}`));
    }
    const handlers = this.untimedHandlers ?? this.makeUntimedHandlers();
    if (handlers !== undefined) return this.runUntimed(fn, handlers);
    const now = this.options.clock.now();
    const permit = this.acquire(now);
    if (permit === undefined) return rejectSoon(this.openError(this.lastRejectReason, now));
    return this.run(fn, permit);
  }

  /** The error that describes why a call is refused right now. */
  rejectionError(reason: RejectionReason = this.lastRejectReason): CircuitOpenError {
    return this.openError(reason, this.options.clock.now());
  }

  private openError(reason: RejectionReason, now: number): CircuitOpenError {
    const retryAfterMs = Math.max(0, this.retryAfterMs(now, reason));
    // Without a stack trace: rejections are hot, and their stack says nothing.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CircuitOpenError(this.name, this.current, retryAfterMs, reason);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Milliseconds until a refused call could be permitted again (an estimate for Retry-After). */
  retryAfterMs(now = this.options.clock.now(), reason: RejectionReason = this.lastRejectReason): number {
    if (reason === 'group' && this.groups !== undefined) {
      let wait = 0;
      for (const group of this.groups) if (group.blocks(now)) wait = Math.max(wait, group.retryAfterMs(now));
      return wait;
    }
    switch (this.current) {
      case CircuitState.OPEN:
        // Never more than the open time itself, even on a clock that went back (see `refresh`).
        return Math.max(0, Math.min(this.nextAttemptAt - now, this.nextAttemptAt - this.openedAt));
      case CircuitState.HALF_OPEN: {
        const limit = this.probeLimitMs();
        let earliest = Number.POSITIVE_INFINITY;
        for (const start of this.probeStarts ?? []) if (start < earliest) earliest = start;
        // Never more than the probe limit itself, even on a clock that went back (see `refresh`).
        return Number.isFinite(earliest) ? Math.max(0, Math.min(earliest + limit - now, limit)) : 0;
      }
      case CircuitState.FORCED_OPEN:
        return this.options.recoveryTimeoutMs;
      default:
        return 0;
    }
  }

  /** Closes the circuit and forgets every count. */
  reset(): void {
    this.clearCounts();
    this.totals = { calls: 0, successes: 0, failures: 0, timeouts: 0, slow: 0, rejected: 0, ignored: 0 };
    this.fallbacks = undefined;
    this.lastFailureAt = null;
    this.openCount = 0;
    this.transition(CircuitState.CLOSED, 'manual_reset', this.options.clock.now());
  }

  /** Rejects every call until `reset()` or `enable()`. */
  forceOpen(): void {
    this.transition(CircuitState.FORCED_OPEN, 'manual_force_open', this.options.clock.now());
  }

  /** Permits every call and keeps recording, but never trips, until `enable()` or `reset()`. */
  disable(): void {
    this.transition(CircuitState.DISABLED, 'manual_disable', this.options.clock.now());
  }

  /** Leaves DISABLED or FORCED_OPEN for CLOSED; does nothing in another state. */
  enable(): void {
    if (this.current !== CircuitState.DISABLED && this.current !== CircuitState.FORCED_OPEN) return;
    this.close('manual_enable', this.options.clock.now());
  }

  stats(): CircuitBreakerStats {
    const now = this.options.clock.now();
    this.refresh(now);
    const w = this.window.counts(now);
    return {
      name: this.name,
      state: this.current,
      totalCalls: this.totals.calls,
      successes: this.totals.successes,
      failures: this.totals.failures,
      timeouts: this.totals.timeouts,
      slowCalls: this.totals.slow,
      rejected: this.totals.rejected,
      ignored: this.totals.ignored,
      window: {
        calls: w.calls,
        failures: w.failures,
        slow: w.slow,
        timeouts: w.timeouts,
        windowMs: this.window.windowMs,
      },
      failureRate: w.calls === 0 ? 0 : w.failures / w.calls,
      slowCallRate: w.calls === 0 ? 0 : w.slow / w.calls,
      consecutiveFailures: this.consecutiveFailures,
      lastFailureTime: this.lastFailureAt,
      lastStateChangeTime: this.lastStateChangeAt,
      nextAttemptTime: this.current === CircuitState.OPEN ? this.nextAttemptAt : null,
      halfOpenInFlight: this.halfOpenInFlight,
      openCount: this.openCount,
      fallbacks: structuredClone(this.fallbacks ?? {}),
    };
  }

  /** Counts a fallback response for this breaker (adapters call this) and emits `fallback`. */
  noteFallback(strategy: string, served: boolean): void {
    this.fallbacks ??= {};
    let counts = this.fallbacks[strategy];
    if (counts === undefined) {
      counts = { served: 0, failed: 0 };
      this.fallbacks[strategy] = counts;
    }
    if (served) counts.served++;
    else counts.failed++;
    if (this.hasListeners('fallback')) this.emit('fallback', { name: this.name, strategy, served });
  }

  // --- sharing (see BreakerStore) -------------------------------------------------------

  /** @internal Connects a store; called by the registry. */
  attachSync(sync: BreakerSync | undefined): void {
    this.sync?.detach();
    this.sync = sync;
  }

  shared(): SharedState {
    return {
      state: this.current,
      openedAt: this.openedAt,
      nextAttemptAt: this.nextAttemptAt,
      openCount: this.openCount,
    };
  }

  applyShared(shared: SharedState, reason = 'remote'): void {
    const now = this.options.clock.now();
    this.openedAt = shared.openedAt;
    this.nextAttemptAt = shared.nextAttemptAt;
    this.openCount = shared.openCount;
    if (shared.state === this.current) {
      // Reset elsewhere while CLOSED here too: forget the counts, as `reset()` does.
      if (shared.state === CircuitState.CLOSED && reason.endsWith('manual_reset')) this.clearCounts();
      return;
    }
    if (shared.state === CircuitState.CLOSED) this.clearCounts();
    this.transition(shared.state, reason, now, false);
  }

  mergeCounts(counts: WindowCounts, trailingFailures = counts.failures): void {
    const now = this.options.clock.now();
    this.window.merge(now, counts);
    if (counts.calls > counts.failures) this.consecutiveFailures = trailingFailures;
    else this.consecutiveFailures += counts.failures;
    if (this.current === CircuitState.CLOSED && counts.calls > 0) this.checkRules(now);
  }

  // --- internals ----------------------------------------------------------------------

  /** @internal */
  settlePermit(permit: Permit, outcome: Outcome, error: unknown): void {
    if (permit.generation !== this.generation) return;
    // A success in a closed circuit that nobody times is only counted: a bucket-accurate time will do.
    const rough = outcome === Outcome.SUCCESS && this.current === CircuitState.CLOSED && this.untimed();
    const now = rough ? this.roughNow() : this.options.clock.now();
    // A probe past its deadline has already expired, whether or not anyone has looked since.
    if (this.current === CircuitState.HALF_OPEN) {
      this.refresh(now);
      if (permit.generation !== this.generation) return;
    }
    const probe = permit.probeSlot >= 0;
    if (probe) {
      (this.probeStarts as number[])[permit.probeSlot] = Number.NaN;
      this.halfOpenInFlight--;
      this.sync?.probeSettled?.();
    }
    if (outcome === Outcome.FAILURE && this.options.isFailure !== undefined && !this.counts(error)) {
      this.totals.ignored++;
      return;
    }
    if (outcome === Outcome.RELEASE) return;
    this.record(now, outcome, now - permit.startedAt, error, probe);
  }

  /**
   * Counts one call and applies the trip rules (CLOSED) or the probe rules (HALF_OPEN). A NaN
   * `durationMs` marks an untimed call: it is never slow and emits no `success`/`failure` event.
   */
  private record(now: number, outcome: Outcome, durationMs: number, error: unknown, probe: boolean): void {
    const slow = this.options.slowCallDurationMs !== undefined && durationMs > this.options.slowCallDurationMs;
    const failure = outcome !== Outcome.SUCCESS;
    const timeout = outcome === Outcome.TIMEOUT;
    this.window.record(now, failure, slow, timeout);
    const totals = this.totals;
    totals.calls++;
    if (slow) totals.slow++;
    if (failure) {
      totals.failures++;
      if (timeout) totals.timeouts++;
      this.lastFailureAt = now;
      this.consecutiveFailures++;
    } else {
      totals.successes++;
      this.consecutiveFailures = 0;
    }
    if (this.sync !== undefined) this.sync.recorded({ failure, slow, timeout });

    const generation = this.generation;
    if (Number.isNaN(durationMs)) {
      // Untimed: no listener was there when the call started, and there is no duration to report.
    } else if (failure) {
      if (timeout) {
        if (this.hasListeners('timeout')) this.emit('timeout', { name: this.name, durationMs, slow });
      } else if (this.hasListeners('failure')) {
        this.emit('failure', { name: this.name, durationMs, slow, error });
      }
    } else if (this.hasListeners('success')) {
      this.emit('success', { name: this.name, durationMs, slow });
    }
    // A listener may have moved the breaker.
    if (generation !== this.generation) return;

    if (this.current === CircuitState.CLOSED) {
      // A success with no failure or slow call in the window cannot trip a rule: skip the check.
      if (failure || slow || this.window.hasFailuresOrSlowCalls(now)) this.checkRules(now);
    } else if (probe && this.current === CircuitState.HALF_OPEN) {
      if (failure) this.open(timeout ? 'probe_timeout' : 'probe_failed', now);
      else if (++this.halfOpenSuccesses >= this.options.successThreshold) this.close('probes_succeeded', now);
    }
  }

  private counts(error: unknown): boolean {
    try {
      return (this.options.isFailure as (error: unknown) => boolean)(error) !== false;
    } catch {
      return true;
    }
  }

  /** Opens the circuit if a trip rule says so; `now` may be rough (see `roughNow`), the opening time is not. */
  private checkRules(now: number): void {
    const window = this.window.counts(now);
    this.tripInput ??= { window, consecutiveFailures: 0 };
    const input = this.tripInput;
    input.window = window;
    input.consecutiveFailures = this.consecutiveFailures;
    for (const rule of this.rules) {
      if (rule.shouldOpen(input)) {
        this.open(rule.reason, this.options.clock.now());
        return;
      }
    }
  }

  /**
   * True when nothing needs a call's duration: no `slowCallDurationMs`, and no `success` or
   * `failure` listener. Such calls in a CLOSED circuit are only counted (and, without
   * `timeoutMs`, run without a permit: see `runUntimed`).
   */
  private untimed(): boolean {
    return (
      this.options.slowCallDurationMs === undefined && !this.hasListeners('success') && !this.hasListeners('failure')
    );
  }

  /**
   * The clock, or with the system clock and buckets of at least {@link ROUGH_BUCKET_MS} a reading
   * up to a few milliseconds old (see `coarseNow`): where a success lands within its bucket does
   * not matter then.
   */
  private roughNow(): number {
    return this.roughClock ? coarseNow() : this.options.clock.now();
  }

  /**
   * `execute` in a CLOSED circuit when nothing times the call: no permit, no clock reading at
   * the start, and for a promise the shared outcome handlers of this generation, attached
   * beside the caller's (the caller gets `fn`'s own promise, and ours run first).
   */
  private runUntimed<T>(
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    handlers: UntimedHandlers,
  ): Promise<Awaited<T>> {
    let result: T | PromiseLike<T>;
    try {
      result = fn(NEVER);
    } catch (error) {
      handlers.failed(error);
      return Promise.reject(error);
    }
    let promise: Promise<Awaited<T>>;
    if (result instanceof Promise) promise = result;
    else if (isThenable(result)) promise = Promise.resolve(result) as Promise<Awaited<T>>;
    else {
      handlers.succeeded();
      return Promise.resolve(result as Awaited<T>);
    }
    promise.then(handlers.succeeded, handlers.failed);
    return promise;
  }

  /** The untimed handlers of this generation, or undefined when calls must be timed (see `untimed`). */
  private makeUntimedHandlers(): UntimedHandlers | undefined {
    if (
      this.current !== CircuitState.CLOSED ||
      this.groupList !== undefined ||
      this.options.timeoutMs !== undefined ||
      !this.untimed()
    ) {
      return undefined;
    }
    const generation = this.generation;
    const handlers: UntimedHandlers = {
      succeeded: () => {
        if (generation === this.generation) this.countUntimedSuccess(this.roughNow());
      },
      failed: (error: unknown) => {
        if (generation !== this.generation) return;
        if (this.options.isFailure !== undefined && !this.counts(error)) this.totals.ignored++;
        // A failure may open the circuit, and is rarer: it gets the exact time.
        else this.record(this.options.clock.now(), Outcome.FAILURE, Number.NaN, error, false);
      },
    };
    this.untimedHandlers = handlers;
    return handlers;
  }

  /** `record` for an untimed success in a CLOSED circuit, the commonest call of all, kept short. */
  private countUntimedSuccess(now: number): void {
    const troubled = this.window.recordSuccess(now);
    const totals = this.totals;
    totals.calls++;
    totals.successes++;
    this.consecutiveFailures = 0;
    if (this.sync !== undefined) this.sync.recorded(SUCCEEDED);
    if (troubled) this.checkRules(now);
  }

  private acquireWhileOpen(now: number): Permit | undefined {
    this.refresh(now);
    if (this.current !== CircuitState.HALF_OPEN) return this.reject('open', now);
    if (this.halfOpenInFlight >= this.options.halfOpenMaxRequests) return this.reject('half_open_full', now);
    if (this.sync?.allowProbe !== undefined && !this.sync.allowProbe()) return this.reject('half_open_full', now);
    this.probeStarts ??= new Array<number>(this.options.halfOpenMaxRequests).fill(Number.NaN);
    const slot = this.probeStarts.findIndex(Number.isNaN);
    this.probeStarts[slot] = now;
    this.halfOpenInFlight++;
    return new Permit(this, this.generation, now, slot);
  }

  /**
   * Makes the moves that time alone has made due: expired probes, then OPEN → HALF_OPEN. Each
   * takes effect as of the moment it fell due, so when it is noticed changes nothing.
   */
  private refresh(now: number): void {
    if (this.current === CircuitState.HALF_OPEN && this.halfOpenInFlight > 0 && !this.expiringProbe) {
      const starts = this.probeStarts as number[];
      let earliest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < starts.length; i++) {
        // A probe that started ahead of the clock (a wall-clock step back): its limit runs from now,
        // not for the size of the step on top, as the open time does below.
        if ((starts[i] as number) > now) starts[i] = now;
        if ((starts[i] as number) < earliest) earliest = starts[i] as number;
      }
      const expiresAt = earliest + this.probeLimitMs();
      if (now >= expiresAt) this.recordExpiredProbe(expiresAt);
    }
    if (this.current !== CircuitState.OPEN) return;
    if (now < this.openedAt) {
      // The clock is behind the opening (a wall-clock step back, or another instance's clock
      // ahead of this one's): the open time runs from now, not for the size of the step on top.
      this.nextAttemptAt = now + (this.nextAttemptAt - this.openedAt);
      this.openedAt = now;
    }
    if (now >= this.nextAttemptAt) {
      // Time alone moved it, here as on every instance: not a change of this instance's (see `pristine`).
      const changedHere = this.changedHere;
      this.transition(CircuitState.HALF_OPEN, 'recovery_timeout', now);
      this.changedHere = changedHere;
    }
  }

  /** A probe that never settled counts as a timeout failure, at its deadline, and re-opens the circuit. */
  private recordExpiredProbe(at: number): void {
    const durationMs = this.probeLimitMs();
    const slow = this.options.slowCallDurationMs !== undefined && durationMs > this.options.slowCallDurationMs;
    this.window.record(at, true, slow, true);
    this.totals.calls++;
    this.totals.failures++;
    this.totals.timeouts++;
    if (slow) this.totals.slow++;
    this.lastFailureAt = at;
    this.consecutiveFailures++;
    this.sync?.recorded({ failure: true, slow, timeout: true });
    const generation = this.generation;
    // A `timeout` listener that reads `state` or `stats()` must not expire (and count) this probe again.
    this.expiringProbe = true;
    try {
      if (this.hasListeners('timeout')) this.emit('timeout', { name: this.name, durationMs, slow });
    } finally {
      this.expiringProbe = false;
    }
    if (generation === this.generation) this.open('probe_expired', at);
  }

  private probeLimitMs(): number {
    return this.options.timeoutMs ?? this.options.recoveryTimeoutMs;
  }

  private blockedByGroup(now: number): boolean {
    for (const group of this.groups as NonNullable<typeof this.groups>) if (group.blocks(now)) return true;
    return false;
  }

  private reject(reason: RejectionReason, now: number): undefined {
    this.totals.rejected++;
    this.lastRejectReason = reason;
    if (this.hasListeners('reject')) this.emit('reject', { name: this.name, error: this.openError(reason, now) });
    return undefined;
  }

  private open(reason: string, now: number): void {
    const o = this.options;
    let openMs = o.recoveryTimeoutMs;
    if (o.exponentialBackoff)
      openMs = Math.min(o.recoveryTimeoutMs * o.backoffMultiplier ** this.openCount, o.maxRecoveryTimeoutMs);
    if (o.recoveryJitter > 0)
      openMs = Math.min(openMs * (1 + o.recoveryJitter * Math.random()), o.maxRecoveryTimeoutMs);
    this.openCount++;
    this.openedAt = now;
    this.nextAttemptAt = now + openMs;
    this.transition(CircuitState.OPEN, reason, now);
  }

  private close(reason: string, now: number): void {
    this.clearCounts();
    this.openCount = 0;
    this.transition(CircuitState.CLOSED, reason, now);
  }

  private clearCounts(): void {
    this.window.reset();
    this.consecutiveFailures = 0;
  }

  /** `execute` with a permit: any state but an untimed CLOSED circuit, and any call under `timeoutMs`. */
  private run<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, permit: Permit): Promise<Awaited<T>> {
    const timeoutMs = this.options.timeoutMs;
    // Deadlines run on monotonic time, as timers do, whatever the breaker's clock (see `Deadlines.now`).
    const startedAt = timeoutMs === undefined ? 0 : Deadlines.now();
    // An AbortController is costly to make: only a function that may read the signal gets one.
    const controller = timeoutMs === undefined || !takesSignal(fn) ? undefined : new AbortController();
    let result: T | PromiseLike<T>;
    try {
      result = fn(controller === undefined ? NEVER : controller.signal);
    } catch (error) {
      permit.failure(error);
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      permit.success();
      return Promise.resolve(result as Awaited<T>);
    }
    if (timeoutMs === undefined) return settleAsync(result as PromiseLike<Awaited<T>>, permit);
    return this.withDeadline(result as PromiseLike<Awaited<T>>, permit, controller, startedAt + timeoutMs, timeoutMs);
  }

  /** Settles `result` under a deadline: a timeout aborts `controller` and rejects with `CircuitTimeoutError`. */
  private withDeadline<T>(
    result: PromiseLike<T>,
    permit: Permit,
    controller: AbortController | undefined,
    deadline: number,
    timeoutMs: number,
  ): Promise<T> {
    const pending = result instanceof Promise ? result : Promise.resolve(result);
    return new Promise<T>((resolve, reject) => {
      const call = new TimedCall(deadline, () => {
        const error = new CircuitTimeoutError(this.name, timeoutMs);
        permit.timeout();
        controller?.abort(error);
        reject(error);
      });
      const deadlines = this.deadlines;
      deadlines.add(call);
      pending.then(
        (value) => {
          if (!deadlines.end(call)) return;
          permit.success();
          resolve(value);
        },
        (error: unknown) => {
          if (!deadlines.end(call)) return;
          permit.failure(error);
          reject(error);
        },
      );
    });
  }

  private transition(to: CircuitState, reason: string, now: number, report = true): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    if (report) this.changedHere = true;
    this.untimedHandlers = undefined;
    this.lastStateChangeAt = now;
    this.halfOpenSuccesses = 0;
    this.halfOpenInFlight = 0;
    this.probeStarts?.fill(Number.NaN);
    // A reset is reported even from CLOSED: the other instances forget their counts too.
    if (report && (from !== to || reason === 'manual_reset')) this.sync?.transitioned(from, this.shared(), reason);
    if (this.groups !== undefined) for (const group of this.groups) group.memberChanged();
    if (from !== to && this.hasListeners('stateChange')) {
      this.emit('stateChange', { name: this.name, from, to, reason, at: now });
    }
  }
}

/** Whether successes may be counted with the coarse clock (see `CircuitBreaker.roughNow`). */
function usesRoughClock(options: ResolvedOptions): boolean {
  return options.clock === systemClock && options.metricsWindowMs / WINDOW_BUCKETS >= ROUGH_BUCKET_MS;
}

/** Settles the permit with the outcome of an async call; `async` avoids allocating two closures per call. */
async function settleAsync<T>(result: PromiseLike<T>, permit: Permit): Promise<T> {
  try {
    const value = await result;
    permit.success();
    return value;
  } catch (error) {
    permit.failure(error);
    throw error;
  }
}

/** A thenable that rejects whatever adopts it (see `rejectSoon`). */
class LateRejection {
  constructor(private readonly error: unknown) {}

  // biome-ignore lint/suspicious/noThenProperty: adopted by Promise.resolve on purpose.
  then(_resolve: unknown, reject: (reason: unknown) => void): void {
    reject(this.error);
  }
}

/**
 * A promise that rejects one microtask later, once the caller's `await`/`catch` is attached: a
 * promise rejected before it has a handler costs Node ~0.6 µs of unhandled-rejection tracking.
 * Adopting a thenable defers the rejection with one small object and no closures.
 */
function rejectSoon<T>(error: unknown): Promise<T> {
  return Promise.resolve(new LateRejection(error)) as Promise<T>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
