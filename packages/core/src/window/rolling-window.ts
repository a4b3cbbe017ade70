/** Counts over the rolling window (or a slice of it). */
export interface WindowCounts {
  /** Calls recorded: successes and failures (timeouts included). */
  calls: number;
  failures: number;
  slow: number;
  timeouts: number;
}

/** Buckets per window: each is `windowMs / WINDOW_BUCKETS` wide. */
export const WINDOW_BUCKETS = 10;
const BUCKETS = WINDOW_BUCKETS;

/**
 * Bucketed rolling counts over `windowMs`: ten buckets, each `windowMs / 10` wide, kept in
 * one typed array (made on the first record) with running sums, so recording a call allocates nothing and
 * costs O(1) amortised. Counts older than the window fall out a bucket at a time.
 */
export class RollingWindow {
  readonly windowMs: number;
  private readonly bucketMs: number;
  /** Four counts per bucket, side by side: calls, failures, slow, timeouts; allocated on the first record, so an idle breaker holds none. */
  private cells: Float64Array | undefined;
  /** Index (time / bucketMs) of the newest bucket. */
  private head = Number.NEGATIVE_INFINITY;
  /**
   * The newest bucket's slot and its time span [headFrom, headUntil): a call inside it needs no
   * arithmetic. Empty ([0, 0)) until the first call: small integers cost an idle breaker nothing.
   */
  private headSlot = 0;
  private headFrom = 0;
  private headUntil = 0;
  private readonly sums: WindowCounts = { calls: 0, failures: 0, slow: 0, timeouts: 0 };

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.bucketMs = windowMs / BUCKETS;
  }

  /** Records one call at time `now`. */
  record(now: number, failure: boolean, slow: boolean, timeout: boolean): void {
    const at = this.slot(now) * 4;
    this.cells ??= new Float64Array(BUCKETS * 4);
    const cells = this.cells;
    cells[at]! += 1;
    this.sums.calls += 1;
    if (failure) {
      cells[at + 1]! += 1;
      this.sums.failures += 1;
    }
    if (slow) {
      cells[at + 2]! += 1;
      this.sums.slow += 1;
    }
    if (timeout) {
      cells[at + 3]! += 1;
      this.sums.timeouts += 1;
    }
  }

  /** Adds counts from elsewhere (another instance) into the current bucket. */
  merge(now: number, counts: WindowCounts): void {
    const at = this.slot(now) * 4;
    this.cells ??= new Float64Array(BUCKETS * 4);
    const cells = this.cells;
    cells[at]! += counts.calls;
    cells[at + 1]! += counts.failures;
    cells[at + 2]! += counts.slow;
    cells[at + 3]! += counts.timeouts;
    this.sums.calls += counts.calls;
    this.sums.failures += counts.failures;
    this.sums.slow += counts.slow;
    this.sums.timeouts += counts.timeouts;
  }

  /**
   * Records one successful call, neither slow nor timed out (the common case, kept short).
   * Returns true when the window holds a failure or a slow call: without one, no rate rule can trip.
   */
  recordSuccess(now: number): boolean {
    const at = this.slot(now) * 4;
    this.cells ??= new Float64Array(BUCKETS * 4);
    this.cells[at]! += 1;
    const sums = this.sums;
    sums.calls += 1;
    return sums.failures > 0 || sums.slow > 0;
  }

  /** True when the window holds a failure or a slow call: without one, no rate rule can trip. */
  hasFailuresOrSlowCalls(now: number): boolean {
    const sums = this.counts(now);
    return sums.failures > 0 || sums.slow > 0;
  }

  /** Current sums. The object is live and reused: read it, don't keep it. */
  counts(now: number): Readonly<WindowCounts> {
    this.slot(now);
    return this.sums;
  }

  reset(): void {
    this.cells?.fill(0);
    this.sums.calls = this.sums.failures = this.sums.slow = this.sums.timeouts = 0;
    this.head = Number.NEGATIVE_INFINITY;
    this.headFrom = 0;
    this.headUntil = 0;
  }

  /** The slot of the bucket that `now` falls in. */
  private slot(now: number): number {
    return now >= this.headFrom && now < this.headUntil ? this.headSlot : this.advance(now);
  }

  private advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (index > this.head) {
      if (this.cells !== undefined) {
        const stale = Math.min(index - this.head, BUCKETS);
        for (let i = 1; i <= stale; i++) this.clear(index - stale + i);
      }
      this.head = index;
      this.headSlot = ((index % BUCKETS) + BUCKETS) % BUCKETS;
      this.headFrom = index * this.bucketMs;
      this.headUntil = (index + 1) * this.bucketMs;
    } else if (this.head - index >= BUCKETS) {
      // The clock went back by more than the window (a wall-clock step): everything counted lies
      // ahead of it and would not age out until the clock caught up again. Start afresh from now.
      this.reset();
      return this.advance(now);
    }
    // A clock that moved back a little records into the newest bucket.
    return this.headSlot;
  }

  private clear(slot: number): void {
    const s = ((slot % BUCKETS) + BUCKETS) % BUCKETS;
    const at = s * 4;
    const cells = this.cells as Float64Array;
    this.sums.calls -= cells[at]!;
    this.sums.failures -= cells[at + 1]!;
    this.sums.slow -= cells[at + 2]!;
    this.sums.timeouts -= cells[at + 3]!;
    cells.fill(0, at, at + 4);
  }
}
