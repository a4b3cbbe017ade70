import type { TripInput, TripRule } from './trip-rule.js';

/** Opens when the failure ratio in the window reaches `threshold`, once `minimumRequests` calls were seen. */
export class FailureRateRule implements TripRule {
  readonly reason = 'failure_rate';
  constructor(
    private readonly threshold: number,
    private readonly minimumRequests: number,
  ) {}

  shouldOpen({ window }: TripInput): boolean {
    // A ratio, not \`failures >= threshold × calls\`: 7 of 25 against 0.28 must trip, and 0.28 × 25 is
    // 7.000000000000001 in floating point, where 7 / 25 is exactly the double nearest 0.28.
    return window.calls >= this.minimumRequests && window.failures / window.calls >= this.threshold;
  }
}
