import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit/circuit-breaker.js';
import type { Permit } from './circuit/permit.js';

/*
 * A reference model of the SPEC's state machine, written from the SPEC and independent of the
 * engine's code, driven side by side with a real breaker by random sequences of actions.
 *
 * Semantics the model encodes (SPEC, "Core"):
 * - CLOSED: the trip rules are checked after every recorded call: `failureThreshold` failures in
 *   a row; a failure ratio ≥ `failureRateThreshold` once the window holds `minimumRequests`
 *   calls; a slow-call ratio ≥ `slowCallRateThreshold` likewise. The window is ten buckets of
 *   `metricsWindowMs / 10`: a call counts while fewer than ten buckets separate it from now.
 * - OPEN: rejects until `recoveryTimeoutMs` (times `backoffMultiplier ^ opens since the last
 *   close`, capped, with `exponentialBackoff`) has passed; then it is HALF_OPEN.
 * - HALF_OPEN: at most `halfOpenMaxRequests` probes in flight; `successThreshold` successful
 *   probes close; any failed or timed-out probe re-opens; a probe left unsettled for `timeoutMs`
 *   (else `recoveryTimeoutMs`) expires as a failure at that moment and re-opens.
 * - Time-driven moves behave as if made the moment they fall due, whoever looks first: reading
 *   `state` is an observation and never changes what happens next.
 * - A permit counts only if the breaker has not changed state (or been reset) since it was
 *   issued, and only on its first settlement; `release()` and errors that `isFailure` rejects
 *   count as nothing.
 * - reset(): CLOSED, counts forgotten. forceOpen(): FORCED_OPEN (rejects everything).
 *   disable(): DISABLED (permits everything, never trips). enable(): from FORCED_OPEN or
 *   DISABLED to CLOSED with counts forgotten, otherwise nothing. Every close resets the backoff.
 *
 * Permits and rejections are compared at every step, and so is `state` on every `readState`
 * action. Half of the runs also compare `state` after every step; the other half do not,
 * because reading `state` lets the engine catch up with the clock and would hide any
 * difference that depends on whether someone looked.
 */

type State = 'CLOSED' | 'OPEN' | 'HALF_OPEN' | 'FORCED_OPEN' | 'DISABLED';
type Reason = 'open' | 'half_open_full' | 'forced_open';
type Outcome = 'success' | 'failure' | 'timeout' | 'release' | 'ignored' | 'dispose';

interface Config {
  failureThreshold: number;
  failureRateThreshold: number;
  minimumRequests: number;
  metricsWindowMs: number;
  slow: { durationMs: number; rate: number } | undefined;
  timeoutMs: number | undefined;
  recoveryTimeoutMs: number;
  backoff: { multiplier: number; maxFactor: number } | undefined;
  halfOpenMaxRequests: number;
  successThreshold: number;
  startAt: number;
  observeEveryStep: boolean;
}

interface ModelPermit {
  readonly generation: number;
  readonly startedAt: number;
  readonly probe: boolean;
  settled: boolean;
}

interface Call {
  at: number;
  failure: boolean;
  slow: boolean;
}

class Model {
  state: State = 'CLOSED';
  private generation = 0;
  private consecutiveFailures = 0;
  private calls: Call[] = [];
  private opens = 0;
  private nextAttemptAt = 0;
  private readonly probes = new Set<ModelPermit>();
  private probeSuccesses = 0;

  constructor(private readonly c: Config) {}

  /** Makes, in time order, every move that has fallen due by `now`. */
  catchUp(now: number): void {
    for (;;) {
      const expiry = this.probeExpiry();
      if (this.state === 'HALF_OPEN' && expiry !== undefined && now >= expiry) {
        this.open(expiry);
        continue;
      }
      if (this.state === 'OPEN' && now >= this.nextAttemptAt) {
        this.moveTo('HALF_OPEN');
        continue;
      }
      return;
    }
  }

  /** The next moment at which something happens by itself (for clock jumps onto boundaries). */
  nextDeadline(): number | undefined {
    if (this.state === 'OPEN') return this.nextAttemptAt;
    if (this.state === 'HALF_OPEN') return this.probeExpiry();
    if (this.state === 'CLOSED' && this.calls.length > 0) {
      const bucket = this.c.metricsWindowMs / 10;
      return (Math.floor((this.calls[0] as Call).at / bucket) + 10) * bucket;
    }
    return undefined;
  }

  acquire(now: number): ModelPermit | Reason {
    this.catchUp(now);
    switch (this.state) {
      case 'CLOSED':
      case 'DISABLED':
        return { generation: this.generation, startedAt: now, probe: false, settled: false };
      case 'FORCED_OPEN':
        return 'forced_open';
      case 'OPEN':
        return 'open';
      case 'HALF_OPEN': {
        if (this.probes.size >= this.c.halfOpenMaxRequests) return 'half_open_full';
        const probe = { generation: this.generation, startedAt: now, probe: true, settled: false };
        this.probes.add(probe);
        return probe;
      }
    }
  }

  settle(permit: ModelPermit, outcome: Outcome, now: number): void {
    if (permit.settled) return;
    permit.settled = true;
    this.catchUp(now);
    if (permit.generation !== this.generation) return;
    this.probes.delete(permit);
    if (outcome === 'release' || outcome === 'dispose' || outcome === 'ignored') return;
    const failure = outcome !== 'success';
    const slow = this.c.slow !== undefined && now - permit.startedAt > this.c.slow.durationMs;
    if (this.state === 'CLOSED') {
      this.calls.push({ at: now, failure, slow });
      this.consecutiveFailures = failure ? this.consecutiveFailures + 1 : 0;
      if (this.tripped(now)) this.open(now);
    } else if (this.state === 'HALF_OPEN' && permit.probe) {
      if (failure) this.open(now);
      else if (++this.probeSuccesses >= this.c.successThreshold) this.close();
    }
  }

  /** What `stats()` should report for the parts the model tracks. */
  snapshot(now: number): Record<string, number | null> {
    this.catchUp(now);
    const snapshot: Record<string, number | null> = {
      nextAttemptTime: this.state === 'OPEN' ? this.nextAttemptAt : null,
      halfOpenInFlight: this.probes.size,
    };
    if (this.state === 'CLOSED') {
      const live = this.liveCalls(now);
      snapshot.consecutiveFailures = this.consecutiveFailures;
      snapshot.windowCalls = live.length;
      snapshot.windowFailures = live.filter((call) => call.failure).length;
      snapshot.windowSlow = live.filter((call) => call.slow).length;
    }
    return snapshot;
  }

  reset(): void {
    this.close();
  }

  forceOpen(): void {
    this.moveTo('FORCED_OPEN');
  }

  disable(): void {
    this.moveTo('DISABLED');
  }

  enable(): void {
    if (this.state === 'FORCED_OPEN' || this.state === 'DISABLED') this.close();
  }

  private tripped(now: number): boolean {
    const c = this.c;
    this.calls = this.liveCalls(now);
    const total = this.calls.length;
    const failures = this.calls.filter((call) => call.failure).length;
    const slow = this.calls.filter((call) => call.slow).length;
    if (c.failureThreshold > 0 && this.consecutiveFailures >= c.failureThreshold) return true;
    if (c.failureRateThreshold > 0 && total >= c.minimumRequests && failures / total >= c.failureRateThreshold) {
      return true;
    }
    return c.slow !== undefined && total >= c.minimumRequests && slow / total >= c.slow.rate;
  }

  private liveCalls(now: number): Call[] {
    const bucket = this.c.metricsWindowMs / 10;
    const head = Math.floor(now / bucket);
    return this.calls.filter((call) => head - Math.floor(call.at / bucket) < 10);
  }

  private probeExpiry(): number | undefined {
    if (this.probes.size === 0) return undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const probe of this.probes) earliest = Math.min(earliest, probe.startedAt);
    return earliest + (this.c.timeoutMs ?? this.c.recoveryTimeoutMs);
  }

  private open(at: number): void {
    const c = this.c;
    let openFor = c.recoveryTimeoutMs;
    if (c.backoff !== undefined) {
      openFor = Math.min(c.recoveryTimeoutMs * c.backoff.multiplier ** this.opens, maxRecovery(c));
    }
    this.opens++;
    this.nextAttemptAt = at + openFor;
    this.moveTo('OPEN');
  }

  private close(): void {
    this.calls = [];
    this.consecutiveFailures = 0;
    this.opens = 0;
    this.moveTo('CLOSED');
  }

  private moveTo(state: State): void {
    this.state = state;
    this.generation++;
    this.probes.clear();
    this.probeSuccesses = 0;
  }
}

function maxRecovery(c: Config): number {
  return c.recoveryTimeoutMs * (c.backoff?.maxFactor ?? 10);
}

type Action =
  | { kind: 'acquire' }
  | { kind: 'settle'; pick: number; unsettledOnly: boolean; outcome: Outcome }
  | { kind: 'execute'; outcome: 'success' | 'failure' | 'ignored' }
  | { kind: 'advance'; ms: number }
  | { kind: 'advanceToDeadline'; offset: number }
  | { kind: 'reset' | 'forceOpen' | 'disable' | 'enable' | 'readState' };

const IGNORED = new Error('not a failure');

const configArb: fc.Arbitrary<Config> = fc.record({
  failureThreshold: fc.integer({ min: 0, max: 4 }),
  failureRateThreshold: fc.constantFrom(0, 0.25, 0.5, 0.75, 1),
  minimumRequests: fc.integer({ min: 1, max: 5 }),
  metricsWindowMs: fc.constantFrom(100, 1_000, 5_000),
  slow: fc.option(fc.record({ durationMs: fc.integer({ min: 1, max: 200 }), rate: fc.constantFrom(0.25, 0.5, 1) }), {
    nil: undefined,
  }),
  timeoutMs: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
  recoveryTimeoutMs: fc.integer({ min: 1, max: 500 }),
  backoff: fc.option(
    fc.record({ multiplier: fc.constantFrom(1, 1.5, 2, 3), maxFactor: fc.integer({ min: 1, max: 8 }) }),
    { nil: undefined },
  ),
  halfOpenMaxRequests: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  startAt: fc.integer({ min: 0, max: 10_000 }),
  observeEveryStep: fc.boolean(),
});

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'acquire' as const }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      unsettledOnly: fc.boolean(),
      outcome: fc.constantFrom<Outcome>('success', 'failure', 'timeout', 'release', 'ignored', 'dispose'),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('execute' as const),
      outcome: fc.constantFrom('success' as const, 'failure' as const, 'ignored' as const),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 50 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 51, max: 5_000 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('advanceToDeadline' as const), offset: fc.integer({ min: -1, max: 1 }) }),
  },
  { weight: 4, arbitrary: fc.constant({ kind: 'readState' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'forceOpen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'disable' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'enable' as const }) },
);

function settleReal(permit: Permit, outcome: Outcome): void {
  const settle: Record<Outcome, () => void> = {
    success: () => permit.success(),
    failure: () => permit.failure(new Error('boom')),
    timeout: () => permit.timeout(),
    release: () => permit.release(),
    ignored: () => permit.failure(IGNORED),
    dispose: () => permit[Symbol.dispose](),
  };
  settle[outcome]();
}

function runScenario(config: Config, actions: readonly Action[]): void {
  let now = config.startAt;
  const breaker = new CircuitBreaker({
    name: 'model',
    clock: { now: () => now },
    failureThreshold: config.failureThreshold,
    failureRateThreshold: config.failureRateThreshold,
    minimumRequests: config.minimumRequests,
    metricsWindowMs: config.metricsWindowMs,
    slowCallDurationMs: config.slow?.durationMs,
    slowCallRateThreshold: config.slow?.rate,
    timeoutMs: config.timeoutMs,
    recoveryTimeoutMs: config.recoveryTimeoutMs,
    exponentialBackoff: config.backoff !== undefined,
    backoffMultiplier: config.backoff?.multiplier,
    maxRecoveryTimeoutMs: maxRecovery(config),
    halfOpenMaxRequests: config.halfOpenMaxRequests,
    successThreshold: config.successThreshold,
    isFailure: (error) => error !== IGNORED,
  });
  const model = new Model(config);
  const held: { real: Permit; model: ModelPermit }[] = [];
  let rejectedFor: string | undefined;
  breaker.on('reject', (event) => {
    rejectedFor = event.error.reason;
  });

  actions.forEach((action, step) => {
    const where = `step ${step} (${action.kind})`;
    switch (action.kind) {
      case 'acquire': {
        rejectedFor = undefined;
        const real = breaker.tryAcquire();
        const expected = model.acquire(now);
        if (typeof expected === 'string') {
          expect(real, `${where}: permit`).toBeUndefined();
          expect(rejectedFor, `${where}: rejection reason`).toBe(expected);
        } else {
          expect(real, `${where}: permit`).toBeDefined();
          expect(real?.isProbe, `${where}: isProbe`).toBe(expected.probe);
          held.push({ real: real as Permit, model: expected });
        }
        break;
      }
      case 'settle': {
        const candidates = action.unsettledOnly ? held.filter((permit) => !permit.real.settled) : held;
        const permit = candidates[action.pick % Math.max(1, candidates.length)];
        if (permit === undefined) break;
        settleReal(permit.real, action.outcome);
        model.settle(permit.model, action.outcome, now);
        break;
      }
      case 'execute': {
        rejectedFor = undefined;
        let ran = false;
        breaker
          .execute(() => {
            ran = true;
            if (action.outcome === 'success') return 'ok';
            throw action.outcome === 'ignored' ? IGNORED : new Error('boom');
          })
          .catch(() => undefined);
        const expected = model.acquire(now);
        if (typeof expected === 'string') {
          expect(rejectedFor, `${where}: rejection reason`).toBe(expected);
        } else {
          model.settle(expected, action.outcome, now);
        }
        expect(ran, `${where}: fn ran`).toBe(typeof expected !== 'string');
        break;
      }
      case 'advance':
        now += action.ms;
        break;
      case 'advanceToDeadline': {
        const deadline = model.nextDeadline();
        if (deadline !== undefined) now = Math.max(now, deadline + action.offset);
        break;
      }
      case 'readState': {
        model.catchUp(now);
        expect(breaker.state, `${where}: state`).toBe(model.state);
        const expected = model.snapshot(now);
        const stats = breaker.stats();
        const actual: Record<string, number | null> = {
          nextAttemptTime: stats.nextAttemptTime,
          halfOpenInFlight: stats.halfOpenInFlight,
        };
        if (model.state === 'CLOSED') {
          actual.consecutiveFailures = stats.consecutiveFailures;
          actual.windowCalls = stats.window.calls;
          actual.windowFailures = stats.window.failures;
          actual.windowSlow = stats.window.slow;
        }
        expect(actual, `${where}: stats`).toEqual(expected);
        break;
      }
      default:
        breaker[action.kind]();
        model[action.kind]();
    }
    if (config.observeEveryStep) {
      model.catchUp(now);
      expect(breaker.state, `${where}: state`).toBe(model.state);
    }
  });
  model.catchUp(now);
  expect(breaker.state, 'final state').toBe(model.state);
}

describe('CircuitBreaker against a reference model of the SPEC', () => {
  it('agrees on state and on every permit for random sequences of calls, outcomes, controls and clock jumps', () => {
    fc.assert(
      fc.property(configArb, fc.array(actionArb, { maxLength: 80, size: 'max' }), (config, actions) => {
        runScenario(config, actions);
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? (process.env.CI ? 1_000 : 200)) },
    );
  });

  it('agrees on long runs that cycle through recovery many times', () => {
    fc.assert(
      fc.property(configArb, fc.array(actionArb, { maxLength: 400, size: 'max' }), (config, actions) => {
        runScenario(config, actions);
      }),
      { numRuns: process.env.CI ? 200 : 50 },
    );
  });
});
