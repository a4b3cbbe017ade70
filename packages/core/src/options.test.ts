import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit/circuit-breaker.js';
import {
  breakerOptionProblems,
  type CircuitBreakerOptions,
  DEFAULTS,
  resolveOptions,
  systemClock,
  validateBreakerOptions,
} from './options.js';

function construct(options: Record<string, unknown>): () => CircuitBreaker {
  return () => new CircuitBreaker({ name: 'svc', ...options } as CircuitBreakerOptions);
}

describe('breaker options', () => {
  it('apply the SPEC defaults', () => {
    const breaker = new CircuitBreaker({ name: 'svc' });
    expect(breaker.options).toEqual({
      name: 'svc',
      failureThreshold: 5,
      failureRateThreshold: 0.5,
      minimumRequests: 10,
      metricsWindowMs: 60_000,
      slowCallDurationMs: undefined,
      slowCallRateThreshold: undefined,
      timeoutMs: undefined,
      recoveryTimeoutMs: 30_000,
      exponentialBackoff: false,
      backoffMultiplier: 2,
      maxRecoveryTimeoutMs: 300_000,
      recoveryJitter: 0,
      successThreshold: 2,
      halfOpenMaxRequests: 3,
      isFailure: undefined,
      clock: systemClock,
    });
    expect(DEFAULTS).toMatchObject({
      failureThreshold: 5,
      failureRateThreshold: 0.5,
      minimumRequests: 10,
      metricsWindowMs: 60_000,
      recoveryTimeoutMs: 30_000,
      successThreshold: 2,
      halfOpenMaxRequests: 3,
    });
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it('keep every value given, including 0 where 0 is allowed', () => {
    const clock = { now: () => 42 };
    const isFailure = () => true;
    const options = resolveOptions({
      name: 'svc',
      failureThreshold: 0,
      failureRateThreshold: 0,
      minimumRequests: 1,
      metricsWindowMs: 10,
      slowCallDurationMs: 1,
      slowCallRateThreshold: 1,
      timeoutMs: 1,
      recoveryTimeoutMs: 1,
      exponentialBackoff: true,
      backoffMultiplier: 1,
      maxRecoveryTimeoutMs: 1,
      recoveryJitter: 1,
      successThreshold: 1,
      halfOpenMaxRequests: 1,
      isFailure,
      clock,
    });
    expect(options).toMatchObject({
      failureThreshold: 0,
      failureRateThreshold: 0,
      minimumRequests: 1,
      metricsWindowMs: 10,
      slowCallDurationMs: 1,
      slowCallRateThreshold: 1,
      timeoutMs: 1,
      recoveryTimeoutMs: 1,
      exponentialBackoff: true,
      backoffMultiplier: 1,
      maxRecoveryTimeoutMs: 1,
      recoveryJitter: 1,
      successThreshold: 1,
      halfOpenMaxRequests: 1,
    });
    expect(options.isFailure).toBe(isFailure);
    expect(options.clock).toBe(clock);
  });

  it('treat undefined as not given', () => {
    const breaker = new CircuitBreaker({ name: 'svc', failureThreshold: undefined, timeoutMs: undefined });
    expect(breaker.options.failureThreshold).toBe(5);
    expect(breaker.options.timeoutMs).toBeUndefined();
  });

  const MAX_TIMER = 2_147_483_647;
  const integerFrom = (min: number) => `an integer of at least ${min}`;
  const time = `a number of milliseconds greater than 0 and at most ${MAX_TIMER}`;
  const invalid: [option: string, value: unknown, shown: string, allowed: string][] = [
    ['failureThreshold', -1, '-1', integerFrom(0)],
    ['failureThreshold', 2.5, '2.5', integerFrom(0)],
    ['failureThreshold', '5', '"5"', integerFrom(0)],
    ['failureThreshold', Number.NaN, 'NaN', integerFrom(0)],
    ['failureThreshold', 2 ** 53, '9007199254740992', 'an integer from 0 to 9007199254740991'],
    ['failureRateThreshold', 1.5, '1.5', 'a number in (0, 1], or 0 to turn it off'],
    ['failureRateThreshold', -0.1, '-0.1', 'a number in (0, 1], or 0 to turn it off'],
    ['failureRateThreshold', '0.5', '"0.5"', 'a number in (0, 1], or 0 to turn it off'],
    ['minimumRequests', 0, '0', integerFrom(1)],
    ['minimumRequests', 1.5, '1.5', integerFrom(1)],
    ['metricsWindowMs', 0, '0', time],
    ['metricsWindowMs', 5, '5', 'at least 10 milliseconds'],
    ['metricsWindowMs', Number.POSITIVE_INFINITY, 'Infinity', time],
    ['timeoutMs', 0, '0', time],
    ['timeoutMs', -20, '-20', time],
    ['timeoutMs', MAX_TIMER + 1, String(MAX_TIMER + 1), time],
    ['timeoutMs', null, 'null', time],
    ['recoveryTimeoutMs', 0, '0', time],
    ['recoveryTimeoutMs', Number.NaN, 'NaN', time],
    ['exponentialBackoff', 'yes', '"yes"', 'true or false'],
    ['exponentialBackoff', 1, '1', 'true or false'],
    ['backoffMultiplier', 0.5, '0.5', 'a finite number of at least 1'],
    ['backoffMultiplier', Number.POSITIVE_INFINITY, 'Infinity', 'a finite number of at least 1'],
    ['maxRecoveryTimeoutMs', -1, '-1', time],
    ['recoveryJitter', 2, '2', 'a number from 0 to 1'],
    ['recoveryJitter', -0.5, '-0.5', 'a number from 0 to 1'],
    ['successThreshold', 0, '0', integerFrom(1)],
    ['successThreshold', 1.5, '1.5', integerFrom(1)],
    ['halfOpenMaxRequests', 0, '0', 'an integer from 1 to 10000'],
    ['halfOpenMaxRequests', [3], 'an array', 'an integer from 1 to 10000'],
    ['halfOpenMaxRequests', 1e9, '1000000000', 'an integer from 1 to 10000'],
    ['isFailure', true, 'true', 'a function (error) => boolean'],
    ['clock', {}, 'an object', 'an object with a now() method'],
    ['clock', Date.now, 'a function', 'an object with a now() method'],
  ];

  it.each(invalid)(
    'reject %s = %s with a TypeError naming the option, the value and what is allowed',
    (option, value, shown, allowed) => {
      expect(construct({ [option]: value })).toThrow(TypeError);
      expect(construct({ [option]: value })).toThrow(`Invalid option "${option}": got ${shown}, expected ${allowed}`);
    },
  );

  it.each([
    ['slowCallDurationMs', 0, '0', time],
    ['slowCallDurationMs', -1, '-1', time],
    ['slowCallRateThreshold', 0, '0', 'a number in (0, 1]'],
    ['slowCallRateThreshold', 1.1, '1.1', 'a number in (0, 1]'],
  ])('reject %s = %s', (option, value, shown, allowed) => {
    const pair = option === 'slowCallDurationMs' ? { slowCallRateThreshold: 0.5 } : { slowCallDurationMs: 100 };
    expect(construct({ ...pair, [option]: value })).toThrow(
      new TypeError(`Invalid option "${option}": got ${shown}, expected ${allowed}`),
    );
  });

  it('take slowCallDurationMs alone (slow calls counted, no rule), but not slowCallRateThreshold without it', () => {
    expect(construct({ slowCallDurationMs: 100 })).not.toThrow();
    expect(construct({ slowCallRateThreshold: 0.5 })).toThrow(
      new TypeError(
        'Invalid option "slowCallDurationMs": got undefined, expected a value because "slowCallRateThreshold" is set',
      ),
    );
    expect(construct({ slowCallDurationMs: 100, slowCallRateThreshold: 0.5 })).not.toThrow();
  });

  it('reject maxRecoveryTimeoutMs below recoveryTimeoutMs, naming both', () => {
    expect(construct({ recoveryTimeoutMs: 10_000, maxRecoveryTimeoutMs: 5_000 })).toThrow(
      new TypeError(
        'Invalid option "maxRecoveryTimeoutMs": got 5000, expected a value of at least recoveryTimeoutMs (10000)',
      ),
    );
    expect(construct({ recoveryTimeoutMs: 400_000, exponentialBackoff: true })).toThrow(
      /^Invalid option "recoveryTimeoutMs": got 400000, expected at most maxRecoveryTimeoutMs \(300000, the default\)$/,
    );
    expect(construct({ recoveryTimeoutMs: 400_000 })).not.toThrow();
    expect(construct({ recoveryTimeoutMs: 400_000, maxRecoveryTimeoutMs: 400_000 })).not.toThrow();
  });

  it('require a non-empty string name', () => {
    const build = (options: unknown) => () => new CircuitBreaker(options as CircuitBreakerOptions);
    expect(build({})).toThrow(new TypeError('Invalid option "name": got undefined, expected a non-empty string'));
    expect(build({ name: '' })).toThrow(new TypeError('Invalid option "name": got "", expected a non-empty string'));
    expect(build({ name: 7 })).toThrow(new TypeError('Invalid option "name": got 7, expected a non-empty string'));
    expect(build(undefined)).toThrow(TypeError);
    expect(build('svc')).toThrow(/Invalid options: got "svc", expected an object/);
  });

  it('reject unknown options, listing the known ones', () => {
    expect(construct({ failureTreshold: 3 })).toThrow(TypeError);
    expect(construct({ failureTreshold: 3 })).toThrow(
      /Unknown option "failureTreshold": got 3, expected one of .*failureThreshold/,
    );
  });

  it('accept extra keys that an adapter declares', () => {
    expect(() =>
      validateBreakerOptions({ failureThreshold: 3, fallback: {} } as never, new Set(['fallback'])),
    ).not.toThrow();
    expect(() => validateBreakerOptions({ fallback: {} } as never)).toThrow(/Unknown option "fallback"/);
    expect(() => validateBreakerOptions({ timeoutMs: -1 }, new Set(['fallback']))).toThrow(/"timeoutMs": got -1/);
  });
});

describe('breakerOptionProblems', () => {
  it('lists every problem, not only the first, with the rules that tie two options together last', () => {
    const problems = breakerOptionProblems({
      halfOpenMaxRequests: 20_000,
      backoffMultiplier: Number.POSITIVE_INFINITY,
      failureTreshold: 3,
      slowCallRateThreshold: 0.5,
    } as never);
    expect(problems.map((p) => p.message)).toEqual([
      'Invalid option "halfOpenMaxRequests": got 20000, expected an integer from 1 to 10000',
      'Invalid option "backoffMultiplier": got Infinity, expected a finite number of at least 1',
      expect.stringMatching(/^Unknown option "failureTreshold": got 3, expected one of /),
      'Invalid option "slowCallDurationMs": got undefined, expected a value because "slowCallRateThreshold" is set',
    ]);
    expect(problems[3]).toMatchObject({ option: 'slowCallDurationMs', with: 'slowCallRateThreshold' });
  });

  it('checks pairs over the options beneath, or leaves them to the merge with false', () => {
    const beneath = { slowCallDurationMs: 500, slowCallRateThreshold: 0.5, recoveryTimeoutMs: 5_000 };
    expect(breakerOptionProblems({ slowCallRateThreshold: 0.8 }, undefined, beneath)).toEqual([]);
    expect(breakerOptionProblems({ maxRecoveryTimeoutMs: 10_000 }, undefined, beneath)).toEqual([]);
    expect(breakerOptionProblems({ maxRecoveryTimeoutMs: 1_000 }, undefined, beneath)).toEqual([
      expect.objectContaining({
        message:
          'Invalid option "maxRecoveryTimeoutMs": got 1000, expected a value of at least recoveryTimeoutMs (5000)',
      }),
    ]);
    expect(breakerOptionProblems({ slowCallRateThreshold: 0.8 }, undefined, false)).toEqual([]);
    // An option given as undefined leaves what is beneath it.
    expect(breakerOptionProblems({ slowCallDurationMs: undefined }, undefined, beneath)).toEqual([]);
  });
});

describe('recovery times beyond the default cap', () => {
  it('accepts a recoveryTimeoutMs above 5 minutes when no backoff or cap is asked for', () => {
    const breaker = new CircuitBreaker({ name: 'slow-to-recover', recoveryTimeoutMs: 600_000 });
    expect(breaker.options.maxRecoveryTimeoutMs).toBe(600_000);
  });

  it('still refuses a cap below recoveryTimeoutMs when backoff is on', () => {
    expect(() => new CircuitBreaker({ name: 'x', recoveryTimeoutMs: 600_000, exponentialBackoff: true })).toThrow(
      /Invalid option "recoveryTimeoutMs": got 600000, expected at most maxRecoveryTimeoutMs \(300000, the default\)/,
    );
  });
});
