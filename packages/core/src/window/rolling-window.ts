/** Counts over the rolling window (or a slice of it). */
export interface WindowCounts {
  /** Calls recorded: successes and failures (timeouts included). */
  calls: number;
  failures: number;
  slow: number;
  timeouts: number;
}

const BUCKETS = 10;

/**
 * Bucketed rolling counts over `windowMs`: ten buckets, each `windowMs / 10` wide, kept in
 * preallocated typed arrays with running sums, so recording a call allocates nothing and
 * costs O(1) amortised. Counts older than the window fall out a bucket at a time.
 */
export class RollingWindow {
  readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly calls = new Float64Array(BUCKETS);
  private readonly failures = new Float64Array(BUCKETS);
  private readonly slow = new Float64Array(BUCKETS);
  private readonly timeouts = new Float64Array(BUCKETS);
  /** Index (time / bucketMs) of the newest bucket. */
  private head = Number.NEGATIVE_INFINITY;
  private readonly sums: WindowCounts = { calls: 0, failures: 0, slow: 0, timeouts: 0 };

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.bucketMs = windowMs / BUCKETS;
  }

  /** Records one call at time `now`. */
  record(now: number, failure: boolean, slow: boolean, timeout: boolean): void {
    const slot = this.advance(now);
    this.calls[slot]! += 1;
    this.sums.calls += 1;
    if (failure) {
      this.failures[slot]! += 1;
      this.sums.failures += 1;
    }
    if (slow) {
      this.slow[slot]! += 1;
      this.sums.slow += 1;
    }
    if (timeout) {
      this.timeouts[slot]! += 1;
      this.sums.timeouts += 1;
    }
  }

  /** Adds counts from elsewhere (another instance) into the current bucket. */
  merge(now: number, counts: WindowCounts): void {
    const slot = this.advance(now);
    this.calls[slot]! += counts.calls;
    this.failures[slot]! += counts.failures;
    this.slow[slot]! += counts.slow;
    this.timeouts[slot]! += counts.timeouts;
    this.sums.calls += counts.calls;
    this.sums.failures += counts.failures;
    this.sums.slow += counts.slow;
    this.sums.timeouts += counts.timeouts;
  }

  /** Current sums. The object is live and reused: read it, don't keep it. */
  counts(now: number): Readonly<WindowCounts> {
    this.advance(now);
    return this.sums;
  }

  reset(): void {
    this.calls.fill(0);
    this.failures.fill(0);
    this.slow.fill(0);
    this.timeouts.fill(0);
    this.sums.calls = this.sums.failures = this.sums.slow = this.sums.timeouts = 0;
    this.head = Number.NEGATIVE_INFINITY;
  }

  private advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (index > this.head) {
      const stale = Math.min(index - this.head, BUCKETS);
      for (let i = 1; i <= stale; i++) this.clear(index - stale + i);
      this.head = index;
    }
    // A clock that moved backwards records into the newest bucket.
    return ((this.head % BUCKETS) + BUCKETS) % BUCKETS;
  }

  private clear(slot: number): void {
    const s = ((slot % BUCKETS) + BUCKETS) % BUCKETS;
    this.sums.calls -= this.calls[s]!;
    this.sums.failures -= this.failures[s]!;
    this.sums.slow -= this.slow[s]!;
    this.sums.timeouts -= this.timeouts[s]!;
    this.calls[s] = 0;
    this.failures[s] = 0;
    this.slow[s] = 0;
    this.timeouts[s] = 0;
  }
}
