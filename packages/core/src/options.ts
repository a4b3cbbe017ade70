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
  /** A call slower than this counts as slow (given alone: counted in `stats()`, no rule trips on it). */
  slowCallDurationMs?: number;
  /** Slow-call ratio (0–1] in the window that opens the circuit; needs `slowCallDurationMs`. */
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

/** What is allowed for an option, when `value` is not; undefined when it is. */
type Check = (value: unknown) => string | undefined;

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (value) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return undefined;
    // Without a bound of its own, the limit is named only to a value past it.
    const unbounded = max === Number.MAX_SAFE_INTEGER && !((value as number) > max);
    return unbounded ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  };

const ratio =
  (allowZero: boolean): Check =>
  (value) => {
    const ok = typeof value === 'number' && ((value > 0 && value <= 1) || (allowZero && value === 0));
    if (ok) return undefined;
    return allowZero ? 'a number in (0, 1], or 0 to turn it off' : 'a number in (0, 1]';
  };

const positiveTime: Check = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_TIMER_MS
    ? undefined
    : `a number of milliseconds greater than 0 and at most ${MAX_TIMER_MS}`;

const CHECKS: Record<Exclude<keyof CircuitBreakerOptions, 'name'>, Check> = {
  failureThreshold: integer(0),
  failureRateThreshold: ratio(true),
  minimumRequests: integer(1),
  metricsWindowMs: (value) => positiveTime(value) ?? ((value as number) < 10 ? 'at least 10 milliseconds' : undefined),
  slowCallDurationMs: positiveTime,
  slowCallRateThreshold: ratio(false),
  timeoutMs: positiveTime,
  recoveryTimeoutMs: positiveTime,
  exponentialBackoff: (value) => (typeof value === 'boolean' ? undefined : 'true or false'),
  backoffMultiplier: (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 1 ? undefined : 'a finite number of at least 1',
  maxRecoveryTimeoutMs: positiveTime,
  recoveryJitter: (value) =>
    typeof value === 'number' && value >= 0 && value <= 1 ? undefined : 'a number from 0 to 1',
  successThreshold: integer(1),
  halfOpenMaxRequests: integer(1, 10_000),
  isFailure: (value) => (typeof value === 'function' ? undefined : 'a function (error) => boolean'),
  clock: (value) =>
    typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function'
      ? undefined
      : 'an object with a now() method',
};

const KNOWN = new Set<string>(['name', ...Object.keys(CHECKS)]);

/** One problem with breaker options; `message` is the whole `TypeError` message. */
export interface OptionProblem {
  option: string;
  value: unknown;
  /** What is allowed; absent for an unknown option. */
  allowed?: string;
  /** Set for a rule that ties two options together, naming the other one. */
  with?: string;
  message: string;
}

function problem(option: string, value: unknown, allowed: string, other?: string): OptionProblem {
  const found: OptionProblem = { option, value, allowed, message: invalidOption(option, value, allowed).message };
  if (other !== undefined) found.with = other;
  return found;
}

/**
 * Every problem with breaker options, in the order of their keys, then the rules that tie two
 * options together: `slowCallDurationMs` and `slowCallRateThreshold` go together, and a
 * `maxRecoveryTimeoutMs` in play (given, or with `exponentialBackoff`) is at least
 * `recoveryTimeoutMs`. Those rules are checked on `beneath` (the options these are merged over:
 * a registry's defaults, a declaration) with `options` on top; `beneath: false` skips them, for
 * a layer whose merge is not known yet. Keys in `extraKeys` are accepted unchecked.
 */
export function breakerOptionProblems(
  options: Partial<CircuitBreakerOptions>,
  extraKeys?: ReadonlySet<string>,
  beneath: Partial<CircuitBreakerOptions> | false = {},
): OptionProblem[] {
  if (typeof options !== 'object' || options === null) {
    return [{ option: '', value: options, message: `Invalid options: got ${showValue(options)}, expected an object` }];
  }
  const problems: OptionProblem[] = [];
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'name') {
      if (typeof value !== 'string' || value.length === 0) problems.push(problem('name', value, 'a non-empty string'));
      continue;
    }
    const check = CHECKS[key as keyof typeof CHECKS];
    if (check !== undefined) {
      const allowed = check(value);
      if (allowed !== undefined) problems.push(problem(key, value, allowed));
    } else if (!extraKeys?.has(key)) {
      const known = [...KNOWN, ...(extraKeys ?? [])].join(', ');
      const message = `Unknown option "${key}": got ${showValue(value)}, expected one of ${known}`;
      problems.push({ option: key, value, message });
    }
  }
  if (beneath === false) return problems;
  const merged = { ...beneath, ...definedOptions(options) };
  const { slowCallDurationMs, slowCallRateThreshold, recoveryTimeoutMs, maxRecoveryTimeoutMs } = merged;
  // A duration alone counts slow calls (stats, events) without a rule; a ratio alone has no call to count.
  if (slowCallRateThreshold !== undefined && slowCallDurationMs === undefined) {
    problems.push(
      problem(
        'slowCallDurationMs',
        undefined,
        'a value because "slowCallRateThreshold" is set',
        'slowCallRateThreshold',
      ),
    );
  }
  const recovery = recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs;
  const max = maxRecoveryTimeoutMs ?? DEFAULTS.maxRecoveryTimeoutMs;
  // The cap matters only when it is given, or when backoff would grow the open time towards it.
  const capInPlay = maxRecoveryTimeoutMs !== undefined || merged.exponentialBackoff === true;
  if (capInPlay && typeof max === 'number' && typeof recovery === 'number' && max < recovery) {
    problems.push(
      maxRecoveryTimeoutMs === undefined
        ? // Nobody gave the cap: the option given is the one to name.
          problem(
            'recoveryTimeoutMs',
            recovery,
            `at most maxRecoveryTimeoutMs (${max}, the default)`,
            'maxRecoveryTimeoutMs',
          )
        : problem(
            'maxRecoveryTimeoutMs',
            max,
            `a value of at least recoveryTimeoutMs (${recovery})`,
            'recoveryTimeoutMs',
          ),
    );
  }
  return problems;
}

/** `options` without the keys set to undefined, which leave what is beneath them in a merge. */
export function definedOptions<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Checks breaker options (everything but `name` may be absent) and throws a `TypeError` for the
 * first problem (see `breakerOptionProblems`), naming the option, the value and what is allowed.
 * Keys in `extraKeys` are accepted unchecked: adapters pass their own options through the same
 * object. `beneath` are the options these will be merged over, for the rules that tie two options
 * together; `false` leaves those rules to the merge (a registry's defaults, a declaration).
 */
export function validateBreakerOptions(
  options: Partial<CircuitBreakerOptions>,
  extraKeys?: ReadonlySet<string>,
  beneath: Partial<CircuitBreakerOptions> | false = {},
): void {
  const [first] = breakerOptionProblems(options, extraKeys, beneath);
  if (first !== undefined) throw new TypeError(first.message);
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
