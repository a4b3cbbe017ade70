import type { ResolvedOptions } from '../options.js';
import { ConsecutiveFailuresRule } from './consecutive-failures.js';
import { FailureRateRule } from './failure-rate.js';
import { SlowCallRateRule } from './slow-call-rate.js';
import type { TripRule } from './trip-rule.js';

/** The rules a breaker's options switch on. */
export function rulesFromOptions(options: ResolvedOptions): TripRule[] {
  const rules: TripRule[] = [];
  if (options.failureThreshold > 0) rules.push(new ConsecutiveFailuresRule(options.failureThreshold));
  if (options.failureRateThreshold > 0) {
    rules.push(new FailureRateRule(options.failureRateThreshold, options.minimumRequests));
  }
  if (options.slowCallRateThreshold !== undefined && options.slowCallDurationMs !== undefined) {
    rules.push(new SlowCallRateRule(options.slowCallRateThreshold, options.minimumRequests));
  }
  return rules.slice();
}
