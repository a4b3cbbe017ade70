import type { TripInput, TripRule } from './trip-rule.js';

/** Opens when the failure ratio in the window reaches `threshold`, once `minimumRequests` calls were seen. */
export class FailureRateRule implements TripRule {
  readonly reason = 'failure_rate';
  constructor(
    private readonly threshold: number,
    private readonly minimumRequests: number,
  ) {}

  shouldOpen({ window }: TripInput): boolean {
    return window.calls >= this.minimumRequests && window.failures >= this.threshold * window.calls;
  }
}
