/** How a permit was settled. */
export const Outcome = Object.freeze({
  SUCCESS: 0,
  FAILURE: 1,
  TIMEOUT: 2,
  RELEASE: 3,
} as const);

export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Internal hook the breaker implements; kept off the public surface. */
export interface PermitOwner {
  settlePermit(permit: Permit, outcome: Outcome, error: unknown): void;
}

/**
 * Permission for one call. Settle it exactly once with `success()`, `failure(error?)`,
 * `timeout()` or `release()` (neither: the caller gave up, the client went away); later
 * calls are no-ops. Disposing an unsettled permit releases it. A permit whose breaker has
 * changed state since it was issued is ignored when settled.
 *
 * @example
 * using permit = breaker.tryAcquire();
 * if (!permit) return reply503();
 * const ok = await doWork();
 * ok ? permit.success() : permit.failure();
 */
export class Permit implements Disposable {
  /** Clock time at which the permit was issued. */
  readonly startedAt: number;
  /** Set once the permit is settled. */
  settled = false;
  /** @internal */
  readonly generation: number;
  /** @internal Probe slot in HALF_OPEN, or -1. */
  readonly probeSlot: number;
  private readonly owner: PermitOwner;

  /** @internal */
  constructor(owner: PermitOwner, generation: number, startedAt: number, probeSlot: number) {
    this.owner = owner;
    this.generation = generation;
    this.startedAt = startedAt;
    this.probeSlot = probeSlot;
  }

  /** True when the permit was issued to probe a HALF_OPEN circuit. */
  get isProbe(): boolean {
    return this.probeSlot >= 0;
  }

  success(): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settlePermit(this, Outcome.SUCCESS, undefined);
  }

  /** Records a failure; with an `isFailure` option, `error` may turn out not to count. */
  failure(error?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settlePermit(this, Outcome.FAILURE, error);
  }

  timeout(): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settlePermit(this, Outcome.TIMEOUT, undefined);
  }

  /** Gives the permit back without recording an outcome. */
  release(): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settlePermit(this, Outcome.RELEASE, undefined);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
