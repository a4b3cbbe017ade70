/**
 * Milliseconds on a monotonic clock: deadlines follow elapsed time, as `setTimeout` does, so
 * that a step of the wall clock (NTP, a VM resumed) neither stretches a timeout by the step
 * (backwards) nor times out every running call at once (forwards). Read through `performance`
 * at each call, so that test doubles of it apply.
 */
function monotonicNow(): number {
  return performance.now();
}

/** One call under `timeoutMs`, linked into its breaker's {@link Deadlines}. */
export class TimedCall {
  /** Time (see `Deadlines.now`) at which the call times out. */
  readonly deadline: number;
  /** Set once the call has finished or timed out: whatever comes second is ignored. */
  done = false;
  /** @internal */
  previous: TimedCall | undefined = undefined;
  /** @internal */
  next: TimedCall | undefined = undefined;
  private readonly expire: (call: TimedCall) => void;

  constructor(deadline: number, expire: (call: TimedCall) => void) {
    this.deadline = deadline;
    this.expire = expire;
  }

  /** @internal Called by `Deadlines` when the deadline passes. */
  timedOut(): void {
    this.done = true;
    this.expire(this);
  }
}

/**
 * The calls of one breaker that are running under `timeoutMs`, in the order they started.
 * They share one `timeoutMs`, so that is also the order of their deadlines: one timer, armed
 * for the earliest deadline, serves them all, instead of a timer armed and cleared per call.
 * Adding and removing a call is O(1). When no call is left, the timer is `unref()`ed and simply
 * lapses at its time: no timer outlives the last call by more than `timeoutMs`, and none holds
 * the process open.
 */
export class Deadlines {
  private head: TimedCall | undefined;
  private tail: TimedCall | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the timer holds the process open (only while calls run). */
  private held = false;

  /** The time base of deadlines: monotonic, whatever the breaker's clock is, like `setTimeout` (see `monotonicNow`). */
  static now(): number {
    return monotonicNow();
  }

  add(call: TimedCall): void {
    call.previous = this.tail;
    if (this.tail === undefined) this.head = call;
    else this.tail.next = call;
    this.tail = call;
    // The head holds the earliest deadline: a call added while `fire` runs (from an expiry's
    // listener) must not arm the timer for its own, later deadline past the calls still waiting.
    if (this.timer === undefined) this.arm((this.head as TimedCall).deadline);
    else if (!this.held) {
      this.timer.ref();
      this.held = true;
    }
  }

  /** Ends a call that finished: false when it had already timed out (or ended), else unlinks it. */
  end(call: TimedCall): boolean {
    if (call.done) return false;
    call.done = true;
    this.remove(call);
    return true;
  }

  /** Unlinks a call that finished before its deadline. */
  remove(call: TimedCall): void {
    const { previous, next } = call;
    if (previous === undefined) this.head = next;
    else previous.next = next;
    if (next === undefined) this.tail = previous;
    else next.previous = previous;
    call.previous = call.next = undefined;
    if (this.head === undefined && this.held) {
      this.timer?.unref();
      this.held = false;
    }
  }

  private arm(deadline: number): void {
    this.timer = setTimeout(this.fire, Math.max(0, deadline - monotonicNow()));
    this.held = true;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.held = false;
    const now = monotonicNow();
    let call = this.head;
    while (call !== undefined && call.deadline <= now) {
      this.remove(call);
      call.timedOut();
      call = this.head;
    }
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadline);
  };
}
