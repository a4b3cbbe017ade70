import type { ResolvedOptions } from '../options.js';
import type { WindowCounts } from '../window/rolling-window.js';
import type { CircuitState } from './state.js';

/**
 * The part of a breaker's state that can be shared between processes: enough to rebuild
 * its position in the state machine anywhere.
 */
export interface SharedState {
  state: CircuitState;
  /** When the circuit last opened (clock ms), or 0. */
  openedAt: number;
  /** When an OPEN circuit may next probe (clock ms), or 0. */
  nextAttemptAt: number;
  /** Opens since the last close: the exponent of the backoff. */
  openCount: number;
}

/** One recorded call, as a store sees it. */
export interface RecordedCall {
  failure: boolean;
  slow: boolean;
  timeout: boolean;
}

/**
 * What a store attaches to a breaker to share its state (see `BreakerStore`). Every method is
 * called synchronously on the breaker's hot path and must not block: queue, batch, return.
 */
export interface BreakerSync {
  /** A call was recorded locally. */
  recorded(call: RecordedCall): void;
  /** The breaker moved to a new state locally (not for changes applied from the store). */
  transitioned(from: CircuitState, shared: SharedState, reason: string): void;
  /**
   * Asked before a HALF_OPEN probe is admitted locally; `false` refuses it because the
   * cluster's probe budget is spent. Optional: without it the local budget alone decides.
   */
  allowProbe?(): boolean;
  /** A probe admitted by `allowProbe` has settled (any outcome). */
  probeSettled?(): void;
  /** The breaker left its registry. */
  detach(): void;
}

/** What the engine exposes to a store. */
export interface SyncTarget {
  readonly name: string;
  /** The breaker's options: its window, clock and times. */
  readonly options: ResolvedOptions;
  shared(): SharedState;
  /** Moves the breaker to a state decided elsewhere, without reporting it back. */
  applyShared(shared: SharedState, reason?: string): void;
  /**
   * Adds calls recorded elsewhere to the rolling window and to the run of consecutive failures,
   * and re-checks the trip rules. `trailingFailures` is how many of the batch's failures came
   * after its last success (default: all of them); a batch with a success restarts the run there.
   */
  mergeCounts(counts: WindowCounts, trailingFailures?: number): void;
}

/**
 * Shares breaker state between processes (for example `@breakwater/redis`). A registry calls
 * `bind` for each breaker it creates.
 */
export interface BreakerStore {
  bind(target: SyncTarget): BreakerSync;
}
