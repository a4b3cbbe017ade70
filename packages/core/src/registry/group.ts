import type { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { CircuitState } from '../circuit/state.js';
import { showValue } from '../errors/invalid-option.js';

export interface GroupOptions {
  /** Names of the member breakers; they need not exist yet. */
  members: readonly string[];
  /** While more than this share (0–1) of the members is OPEN, every member rejects. */
  threshold: number;
}

/**
 * Hierarchical breaking: a set of breakers that trip together once enough of them are open.
 * Members in CLOSED reject with reason `group`; members that are themselves OPEN or
 * HALF_OPEN keep their own recovery, so the group heals as they close.
 */
export class BreakerGroup {
  readonly name: string;
  readonly memberNames: ReadonlySet<string>;
  readonly threshold: number;
  private readonly members = new Set<CircuitBreaker>();
  private dirty = true;
  private tripped = false;
  /** The soonest time an open member may probe. */
  private reopensAt = Number.POSITIVE_INFINITY;
  /** The soonest time a member's state changes by time alone; the answer must be recomputed then. */
  private recheckAt = Number.POSITIVE_INFINITY;
  /** The shortest wait a FORCED_OPEN member suggests (see `CircuitBreaker.retryAfterMs`), for a group only they trip. */
  private forcedWaitMs = Number.POSITIVE_INFINITY;

  constructor(name: string, options: GroupOptions) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`Invalid group name: got ${showValue(name)}, expected a non-empty string`);
    }
    if (
      typeof options !== 'object' ||
      options === null ||
      !Array.isArray(options.members) ||
      options.members.length === 0
    ) {
      const members = typeof options === 'object' && options !== null ? options.members : undefined;
      throw new TypeError(
        `Invalid option "members" of group "${name}": got ${showValue(members)}, expected a non-empty array of breaker names`,
      );
    }
    for (const member of options.members) {
      if (typeof member !== 'string' || member.length === 0) {
        throw new TypeError(
          `Invalid option "members" of group "${name}": got ${showValue(member)}, expected breaker names`,
        );
      }
    }
    const { threshold } = options;
    if (typeof threshold !== 'number' || !(threshold >= 0 && threshold < 1)) {
      throw new TypeError(
        `Invalid option "threshold" of group "${name}": got ${showValue(threshold)}, expected a number from 0 to below 1`,
      );
    }
    this.name = name;
    this.memberNames = new Set(options.members);
    this.threshold = threshold;
  }

  /** @internal */
  attach(breaker: CircuitBreaker): void {
    this.members.add(breaker);
    breaker.groups = [...(breaker.groups ?? []), this];
    this.dirty = true;
  }

  /** @internal */
  detach(breaker: CircuitBreaker): void {
    this.members.delete(breaker);
    breaker.groups = breaker.groups?.filter((g) => g !== this);
    if (breaker.groups?.length === 0) breaker.groups = undefined;
    this.dirty = true;
  }

  /** @internal */
  memberChanged(): void {
    this.dirty = true;
  }

  /** Names of the members that are open now. */
  openMembers(): string[] {
    const open: string[] = [];
    for (const member of this.members) if (isOpen(member.state)) open.push(member.name);
    return open;
  }

  /** True while the group makes its members reject. */
  blocks(now: number): boolean {
    if (this.dirty || now >= this.recheckAt) this.evaluate(now);
    return this.tripped;
  }

  /**
   * Time until the first open member may probe again; while only FORCED_OPEN members are open,
   * which never probe, the wait they suggest rather than 0 (an invitation to retry at once).
   */
  retryAfterMs(now: number): number {
    if (Number.isFinite(this.reopensAt)) return Math.max(0, this.reopensAt - now);
    return Number.isFinite(this.forcedWaitMs) ? this.forcedWaitMs : 0;
  }

  private evaluate(now: number): void {
    this.dirty = false;
    let open = 0;
    let reopensAt = Number.POSITIVE_INFINITY;
    let recheckAt = Number.POSITIVE_INFINITY;
    let forcedWaitMs = Number.POSITIVE_INFINITY;
    for (const member of this.members) {
      // Reading `state` may move a member to HALF_OPEN, which marks us dirty again; that is fine.
      const state = member.state;
      if (state === CircuitState.HALF_OPEN && member.stats().halfOpenInFlight > 0) {
        // A probe that expires re-opens the member.
        recheckAt = Math.min(recheckAt, now + member.retryAfterMs(now, 'half_open_full'));
      }
      if (!isOpen(state)) continue;
      open++;
      const next = member.stats().nextAttemptTime;
      if (next !== null && next < reopensAt) reopensAt = next;
      if (state === CircuitState.FORCED_OPEN) forcedWaitMs = Math.min(forcedWaitMs, member.retryAfterMs(now));
    }
    this.dirty = false;
    this.reopensAt = reopensAt;
    this.forcedWaitMs = forcedWaitMs;
    this.recheckAt = Math.min(recheckAt, reopensAt);
    // A ratio, as the trip rules compare: 0.57 × 100 is 56.99999999999999 in floating point.
    this.tripped = open / this.memberNames.size > this.threshold;
  }
}

function isOpen(state: CircuitState): boolean {
  return state === CircuitState.OPEN || state === CircuitState.FORCED_OPEN;
}
