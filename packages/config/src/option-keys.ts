import { type BreakerDefaults, DEFAULTS } from '@breakwater/core';
import type { JsonSchema } from './json-schema.js';

/** Core breaker options a file can set; functions and clocks come from code only. */
export type FileOption = Exclude<keyof BreakerDefaults, 'isFailure' | 'clock'>;

/** One key of a breaker mapping (`default:` or a service) and the core option it sets. */
export interface OptionKey {
  readonly key: string;
  readonly option: FileOption;
  /** The seed that spells the option this way: the C++ proxy, the TypeScript gateway, or neither. */
  readonly origin: 'proxy' | 'gateway' | 'proxy, gateway' | 'breakwater';
  readonly schema: JsonSchema;
}

const MAX_TIMER_MS = 2_147_483_647;

const milliseconds = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  description,
  type: 'number',
  exclusiveMinimum: 0,
  maximum: MAX_TIMER_MS,
  ...extra,
});
const count = (description: string, minimum: number, extra: JsonSchema = {}): JsonSchema => ({
  description,
  type: 'integer',
  minimum,
  ...extra,
});

const timeout = milliseconds('Milliseconds a request may run before it counts as a timeout failure. Default: off.');
const recovery = milliseconds('Milliseconds the circuit stays OPEN before a request may probe it.', {
  default: DEFAULTS.recoveryTimeoutMs,
});
const window = milliseconds('Milliseconds of the rolling window that rates are computed over.', {
  minimum: 10,
  default: DEFAULTS.metricsWindowMs,
});
const minimumRequests = count('Requests needed in the window before a rate rule may open the circuit.', 1, {
  default: DEFAULTS.minimumRequests,
});

/**
 * Every breaker key a file may use, both seeds' spellings. A fractional `failure_threshold`
 * is handled apart: it sets `failureRateThreshold` and turns the consecutive rule off.
 */
export const OPTION_KEYS: readonly OptionKey[] = [
  {
    key: 'failure_threshold',
    option: 'failureThreshold',
    origin: 'proxy, gateway',
    schema: {
      description:
        'A whole number is a count of consecutive failures that opens the circuit (0 turns that rule off). ' +
        'A fraction below 1 is a failure rate instead (as in the gateway seed): it sets failure_rate_threshold and turns the count rule off.',
      anyOf: [
        { description: 'consecutive failures; 0 turns the rule off', type: 'integer', minimum: 0 },
        { description: 'a failure rate', type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      ],
      default: DEFAULTS.failureThreshold,
    },
  },
  {
    key: 'failure_rate_threshold',
    option: 'failureRateThreshold',
    origin: 'proxy',
    schema: {
      description: 'Failure rate (0–1] in the window that opens the circuit; 0 turns the rule off.',
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: DEFAULTS.failureRateThreshold,
    },
  },
  { key: 'minimum_requests', option: 'minimumRequests', origin: 'proxy', schema: minimumRequests },
  { key: 'volume_threshold', option: 'minimumRequests', origin: 'gateway', schema: minimumRequests },
  { key: 'timeout_ms', option: 'timeoutMs', origin: 'proxy', schema: timeout },
  { key: 'expected_response_time', option: 'timeoutMs', origin: 'gateway', schema: timeout },
  { key: 'recovery_timeout_ms', option: 'recoveryTimeoutMs', origin: 'proxy', schema: recovery },
  { key: 'recovery_timeout', option: 'recoveryTimeoutMs', origin: 'gateway', schema: recovery },
  { key: 'metrics_window_ms', option: 'metricsWindowMs', origin: 'proxy', schema: window },
  { key: 'monitoring_period', option: 'metricsWindowMs', origin: 'gateway', schema: window },
  {
    key: 'success_threshold',
    option: 'successThreshold',
    origin: 'proxy',
    schema: count('Successful probes in HALF_OPEN needed to close the circuit.', 1, {
      default: DEFAULTS.successThreshold,
    }),
  },
  {
    key: 'half_open_max_requests',
    option: 'halfOpenMaxRequests',
    origin: 'proxy',
    schema: count('Probes allowed in flight at once in HALF_OPEN.', 1, { default: DEFAULTS.halfOpenMaxRequests }),
  },
  {
    key: 'enable_exponential_backoff',
    option: 'exponentialBackoff',
    origin: 'proxy',
    schema: {
      description: 'Each re-open multiplies the open time by backoff_multiplier, up to max_recovery_timeout_ms.',
      type: 'boolean',
      default: DEFAULTS.exponentialBackoff,
    },
  },
  {
    key: 'backoff_multiplier',
    option: 'backoffMultiplier',
    origin: 'proxy',
    schema: {
      description: 'Factor the open time grows by at each re-open, with exponential backoff on.',
      type: 'number',
      minimum: 1,
      default: DEFAULTS.backoffMultiplier,
    },
  },
  {
    key: 'max_recovery_timeout_ms',
    option: 'maxRecoveryTimeoutMs',
    origin: 'proxy',
    schema: milliseconds('Upper bound of the open time under exponential backoff.', {
      default: DEFAULTS.maxRecoveryTimeoutMs,
    }),
  },
  {
    key: 'slow_call_duration_ms',
    option: 'slowCallDurationMs',
    origin: 'breakwater',
    schema: milliseconds('A request slower than this counts as slow (set with slow_call_rate_threshold).'),
  },
  {
    key: 'slow_call_rate_threshold',
    option: 'slowCallRateThreshold',
    origin: 'breakwater',
    schema: {
      description: 'Slow-request rate (0–1] in the window that opens the circuit (set with slow_call_duration_ms).',
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
    },
  },
  {
    key: 'recovery_jitter',
    option: 'recoveryJitter',
    origin: 'breakwater',
    schema: {
      description: 'Random spread (0–1) added to each open time, so that many instances do not probe in lockstep.',
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: DEFAULTS.recoveryJitter,
    },
  },
];

/** The HTTP key beside the breaker keys: which response statuses count as failures. */
export const FAILURE_STATUS_CODES_KEY = 'failure_status_codes';

export const failureStatusCodesSchema: JsonSchema = {
  description: 'Response statuses that count as failures. Default: every status of 500 or more.',
  type: 'array',
  items: { type: 'integer', minimum: 100, maximum: 599 },
  uniqueItems: true,
  examples: [[500, 502, 503, 504, 408, 429]],
};

/** The keys that set each option, for spotting two spellings of one option in a mapping. */
export const KEYS_BY_OPTION: ReadonlyMap<FileOption, readonly string[]> = (() => {
  const map = new Map<FileOption, string[]>();
  for (const { key, option } of OPTION_KEYS) map.set(option, [...(map.get(option) ?? []), key]);
  return map;
})();
