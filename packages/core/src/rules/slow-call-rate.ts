import type { TripInput, TripRule } from './trip-rule.js';

/** Opens when the ratio of slow calls in the window reaches `threshold`, once `minimumRequests` calls were seen. */
export class SlowCallRateRule implements TripRule {
  readonly reason = 'slow_call_rate';
  constructor(
    private readonly threshold: number,
    private readonly minimumRequests: number,
  ) {}

  shouldOpen({ window }: TripInput): boolean {
    return window.calls >= this.minimumRequests && window.slow >= this.threshold * window.calls;
  }
}
