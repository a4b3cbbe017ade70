import { invalidOption, showValue } from './errors/invalid-option.js';

/** A source of time in milliseconds; inject one to control time in tests and simulations. */
export interface Clock {
  now(): number;
}

/** Options of a single breaker. Every time is in milliseconds. */
export interface CircuitBreakerOptions {
  /** Identity in the registry, logs, metrics and 503 bodies. */
  name: string;
  /** Consecutive failures that open the circuit; `0` turns the rule off. */
  failureThreshold?: number;
  /** Failure ratio (0–1] in the rolling window that opens the circuit; `0` turns the rule off. */
  failureRateThreshold?: number;
  /** Calls needed in the window before a ratio rule may trip. */
  minimumRequests?: number;
  /** Length of the rolling window. */
  metricsWindowMs?: number;
  /** A call slower than this counts as slow. */
  slowCallDurationMs?: number;
  /** Slow-call ratio (0–1] in the window that opens the circuit. */
  slowCallRateThreshold?: number;
  /** A call running longer is aborted and counts as a timeout failure. */
  timeoutMs?: number;
  /** Time OPEN before the next call may probe. */
  recoveryTimeoutMs?: number;
  /** Each re-open multiplies the open time by `backoffMultiplier`. */
  exponentialBackoff?: boolean;
  backoffMultiplier?: number;
  /** Upper bound of the open time under backoff. */
  maxRecoveryTimeoutMs?: number;
  /** Random spread (0–1) added to each open time, so many instances do not probe in lockstep. */
  recoveryJitter?: number;
  /** Successful probes in HALF_OPEN needed to close. */
  successThreshold?: number;
  /** Probes allowed in flight at once in HALF_OPEN. */
  halfOpenMaxRequests?: number;
  /** Decides whether a thrown error counts; `false` lets it pass uncounted. */
  isFailure?: (error: unknown) => boolean;
  clock?: Clock;
}

/** Options with every default applied, as the engine uses them. */
export interface ResolvedOptions {
  readonly name: string;
  readonly failureThreshold: number;
  readonly failureRateThreshold: number;
  readonly minimumRequests: number;
  readonly metricsWindowMs: number;
  readonly slowCallDurationMs: number | undefined;
  readonly slowCallRateThreshold: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly recoveryTimeoutMs: number;
  readonly exponentialBackoff: boolean;
  readonly backoffMultiplier: number;
  readonly maxRecoveryTimeoutMs: number;
  readonly recoveryJitter: number;
  readonly successThreshold: number;
  readonly halfOpenMaxRequests: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly clock: Clock;
}

export const systemClock: Clock = Object.freeze({ now: Date.now });

/** The defaults, in one place. */
export const DEFAULTS = Object.freeze({
  failureThreshold: 5,
  failureRateThreshold: 0.5,
  minimumRequests: 10,
  metricsWindowMs: 60_000,
  recoveryTimeoutMs: 30_000,
  exponentialBackoff: false,
  backoffMultiplier: 2,
  maxRecoveryTimeoutMs: 300_000,
  recoveryJitter: 0,
  successThreshold: 2,
  halfOpenMaxRequests: 3,
});

const MAX_TIMER_MS = 2_147_483_647;

function fail(option: string, value: unknown, allowed: string): never {
  throw invalidOption(option, value, allowed);
}

type Check = (option: string, value: unknown) => void;

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (option, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      // Without a bound of its own, the limit is named only to a value past it.
      const unbounded = max === Number.MAX_SAFE_INTEGER && !((value as number) > max);
      fail(option, value, unbounded ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
    }
  };

const ratio =
  (allowZero: boolean): Check =>
  (option, value) => {
    const ok = typeof value === 'number' && ((value > 0 && value <= 1) || (allowZero && value === 0));
    if (!ok) fail(option, value, allowZero ? 'a number in (0, 1], or 0 to turn it off' : 'a number in (0, 1]');
  };

const positiveTime: Check = (option, value) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    fail(option, value, `a number of milliseconds greater than 0 and at most ${MAX_TIMER_MS}`);
  }
};

const CHECKS: Record<Exclude<keyof CircuitBreakerOptions, 'name'>, Check> = {
  failureThreshold: integer(0),
  failureRateThreshold: ratio(true),
  minimumRequests: integer(1),
  metricsWindowMs: (option, value) => {
    positiveTime(option, value);
    if ((value as number) < 10) fail(option, value, 'at least 10 milliseconds');
  },
  slowCallDurationMs: positiveTime,
  slowCallRateThreshold: ratio(false),
  timeoutMs: positiveTime,
  recoveryTimeoutMs: positiveTime,
  exponentialBackoff: (option, value) => {
    if (typeof value !== 'boolean') fail(option, value, 'true or false');
  },
  backoffMultiplier: (option, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
      fail(option, value, 'a finite number of at least 1');
    }
  },
  maxRecoveryTimeoutMs: positiveTime,
  recoveryJitter: (option, value) => {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(option, value, 'a number from 0 to 1');
  },
  successThreshold: integer(1),
  halfOpenMaxRequests: integer(1, 10_000),
  isFailure: (option, value) => {
    if (typeof value !== 'function') fail(option, value, 'a function (error) => boolean');
  },
  clock: (option, value) => {
    if (typeof value !== 'object' || value === null || typeof (value as Clock).now !== 'function') {
      fail(option, value, 'an object with a now() method');
    }
  },
};

const KNOWN = new Set<string>(['name', ...Object.keys(CHECKS)]);

/**
 * Checks breaker options (everything but `name` may be absent) and throws a `TypeError`
 * naming the option, the value and what is allowed. Keys in `extraKeys` are accepted
 * unchecked: adapters pass their own options through the same object.
 */
export function validateBreakerOptions(options: Partial<CircuitBreakerOptions>, extraKeys?: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Invalid options: got ${showValue(options)}, expected an object`);
  }
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'name') {
      if (typeof value !== 'string' || value.length === 0) fail('name', value, 'a non-empty string');
      continue;
    }
    const check = CHECKS[key as keyof typeof CHECKS];
    if (check) check(key, value);
    else if (!extraKeys?.has(key)) {
      throw new TypeError(`Unknown option "${key}": expected one of ${[...KNOWN, ...(extraKeys ?? [])].join(', ')}`);
    }
  }
  const { slowCallDurationMs, slowCallRateThreshold, recoveryTimeoutMs, maxRecoveryTimeoutMs } = options;
  if ((slowCallDurationMs === undefined) !== (slowCallRateThreshold === undefined)) {
    const [given, missing] =
      slowCallDurationMs === undefined
        ? ['slowCallRateThreshold', 'slowCallDurationMs']
        : ['slowCallDurationMs', 'slowCallRateThreshold'];
    throw invalidOption(missing, undefined, `a value because "${given}" is set`);
  }
  const recovery = recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs;
  const max = maxRecoveryTimeoutMs ?? DEFAULTS.maxRecoveryTimeoutMs;
  // The cap matters only when it is given, or when backoff would grow the open time towards it.
  const capInPlay = maxRecoveryTimeoutMs !== undefined || options.exponentialBackoff === true;
  if (capInPlay && max < recovery) {
    fail('maxRecoveryTimeoutMs', max, `a value of at least recoveryTimeoutMs (${recovery})`);
  }
}

/** Validates and applies defaults. */
export function resolveOptions(options: CircuitBreakerOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Invalid options: got ${showValue(options)}, expected an object with a "name"`);
  }
  if (options.name === undefined) fail('name', undefined, 'a non-empty string');
  validateBreakerOptions(options);
  return {
    name: options.name,
    failureThreshold: options.failureThreshold ?? DEFAULTS.failureThreshold,
    failureRateThreshold: options.failureRateThreshold ?? DEFAULTS.failureRateThreshold,
    minimumRequests: options.minimumRequests ?? DEFAULTS.minimumRequests,
    metricsWindowMs: options.metricsWindowMs ?? DEFAULTS.metricsWindowMs,
    slowCallDurationMs: options.slowCallDurationMs,
    slowCallRateThreshold: options.slowCallRateThreshold,
    timeoutMs: options.timeoutMs,
    recoveryTimeoutMs: options.recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs,
    exponentialBackoff: options.exponentialBackoff ?? DEFAULTS.exponentialBackoff,
    backoffMultiplier: options.backoffMultiplier ?? DEFAULTS.backoffMultiplier,
    maxRecoveryTimeoutMs:
      options.maxRecoveryTimeoutMs ??
      Math.max(DEFAULTS.maxRecoveryTimeoutMs, options.recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs),
    recoveryJitter: options.recoveryJitter ?? DEFAULTS.recoveryJitter,
    successThreshold: options.successThreshold ?? DEFAULTS.successThreshold,
    halfOpenMaxRequests: options.halfOpenMaxRequests ?? DEFAULTS.halfOpenMaxRequests,
    isFailure: options.isFailure,
    clock: options.clock ?? systemClock,
  };
}
