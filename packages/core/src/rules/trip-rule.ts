import type { WindowCounts } from '../window/rolling-window.js';

/** What a rule sees when it decides: the window sums and the current run of failures. */
export interface TripInput {
  readonly window: Readonly<WindowCounts>;
  readonly consecutiveFailures: number;
}

/** A reason to open the circuit, checked after each recorded call. */
export interface TripRule {
  /** Short name, used as the `reason` of the `stateChange` event. */
  readonly reason: string;
  shouldOpen(input: TripInput): boolean;
}
