import type { TripInput, TripRule } from './trip-rule.js';

/** Opens after `threshold` failures in a row. */
export class ConsecutiveFailuresRule implements TripRule {
  readonly reason = 'consecutive_failures';
  constructor(private readonly threshold: number) {}

  shouldOpen(input: TripInput): boolean {
    return input.consecutiveFailures >= this.threshold;
  }
}
