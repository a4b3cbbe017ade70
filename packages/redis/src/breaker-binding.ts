import type { BreakerSync, CircuitState, RecordedCall, SharedState, SyncTarget } from '@breakwater/core';
import type { BreakerKeys } from './keys.js';
import { MAX_TIMER_MS } from './options.js';
import { type Script, scripts } from './scripts.js';
import type { CountsMessage, StoredState } from './stored-state.js';

/** Redis buckets per window: the same slicing as the engine's rolling window. */
const BUCKETS = 10;
/** Slack on a lease for a Redis round trip. */
const LEASE_MARGIN_MS = 50;
/** A CLOSED breaker's state expires after a day without change; any other state is kept. */
const CLOSED_TTL_MS = 86_400_000;

/** What a binding needs from its store. */
export interface BindingHost {
  readonly channel: string;
  readonly flushIntervalMs: number;
  readonly probeLeaseMs: number;
  /** Commands sent now would go out. */
  connected(): boolean;
  /** Connected and answering: the cluster decides rather than this instance alone. */
  sharing(): boolean;
  /** Redis stopped answering but the connection stands: asks whether it answers again. */
  checkBack(): void;
  run(
    script: Script,
    keys: BreakerKeys,
    args: readonly (string | number)[],
  ): Promise<{ stored: StoredState; extra: number[] } | undefined>;
  unbind(binding: BreakerBinding): void;
}

type Op = 'push' | 'claim' | 'touch';
const OPS: readonly Op[] = ['push', 'claim', 'touch'];

/**
 * Shares one breaker through Redis. Everything the breaker calls returns at once: counts are
 * batched, state changes and probe leases are sent in the background, one command at a time
 * per kind, and whatever Redis answers is applied when it arrives.
 */
export class BreakerBinding implements BreakerSync {
  /** Epoch of the stored state this instance last saw, and that state. */
  private epoch = 0;
  private synced: CircuitState | undefined;
  private owner = '';
  private leaseUntil = 0;
  private everLoaded = false;
  private detached = false;
  /** A local state change not yet stored; `force` when an operator made it. */
  private dirty = false;
  private force = false;
  private reason = '';
  private version = 0;
  private divergedFrom: CircuitState | undefined;
  private busy = false;
  private readonly queued: Record<Op, boolean> = { push: false, claim: false, touch: false };
  // Counts recorded here and not yet pushed.
  private calls = 0;
  private failures = 0;
  private slow = 0;
  private timeouts = 0;
  private trailing = 0;
  private flushing = false;
  private flushQueued = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private claimTimer: NodeJS.Timeout | undefined;
  private readonly bucketMs: number;
  private resolveLoaded!: () => void;
  /** Settles once the stored state has been read (or this binding is detached). */
  readonly loaded = new Promise<void>((resolve) => {
    this.resolveLoaded = resolve;
  });

  constructor(
    readonly target: SyncTarget,
    readonly keys: BreakerKeys,
    /** This breaker's identity in the cluster: the origin of what it publishes, the owner of leases. */
    readonly id: string,
    private readonly host: BindingHost,
  ) {
    this.bucketMs = target.options.metricsWindowMs / BUCKETS;
  }

  // --- BreakerSync ------------------------------------------------------------------------

  recorded(call: RecordedCall): void {
    if (this.detached) return;
    this.calls++;
    if (call.slow) this.slow++;
    if (call.failure) {
      this.failures++;
      this.trailing++;
      if (call.timeout) this.timeouts++;
      this.scheduleFlush(true);
    } else {
      this.trailing = 0;
      if (this.flushTimer === undefined) this.scheduleFlush(false);
    }
  }

  transitioned(from: CircuitState, shared: SharedState, reason: string): void {
    if (this.detached) return;
    if (!this.dirty) this.divergedFrom = from;
    this.version++;
    this.dirty = true;
    this.force = reason.startsWith('manual_');
    this.reason = reason;
    this.dropCounts();
    this.scheduleClaim(shared);
    void this.send('push');
  }

  allowProbe(): boolean {
    if (this.synced === undefined || !this.host.sharing()) return true;
    if (this.owner === this.id) {
      // Even past the lease: had anyone taken it over, we would have heard.
      void this.send('touch');
      return true;
    }
    if (this.owner === '' || this.target.options.clock.now() >= this.leaseUntil) void this.send('claim');
    return false;
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.claimTimer);
    this.flushTimer = this.claimTimer = undefined;
    this.host.unbind(this);
    this.resolveLoaded();
  }

  // --- from the store ---------------------------------------------------------------------

  /** Reads the stored state (first bind, reconnect) or, after local changes, stores them. */
  async resync(): Promise<void> {
    if (this.detached || !this.host.connected()) return;
    if (this.dirty) return this.send('push');
    const now = this.target.options.clock.now();
    const bucket = Math.floor(now / this.bucketMs);
    const reply = await this.host.run(scripts.load, this.keys, [bucket - BUCKETS + 1, bucket]);
    if (reply === undefined || this.detached) return;
    const first = !this.everLoaded;
    this.everLoaded = true;
    const { stored, extra } = reply;
    const local = this.target.shared().state;
    if (stored.state === undefined || stored.epoch < this.epoch) {
      // Nothing stored (a new cluster, or Redis lost its data), or older than what this instance
      // saw (Redis lost history: a restart from an older snapshot, a failover to a replica that
      // was behind). What this instance holds is newer: stored unless it is what Redis holds, or
      // CLOSED over nothing. The transition script takes it, since this instance knows a newer epoch.
      if (!this.dirty && local !== (stored.state ?? 'CLOSED')) {
        this.divergedFrom = local;
        this.dirty = true;
        this.force = false;
        this.reason = 'resync';
        void this.send('push');
      } else if (!this.dirty && stored.state !== undefined) {
        this.observe(stored, true);
      }
    } else if (!this.dirty) {
      this.observe(stored, true);
    }
    const [calls = 0, failures = 0, slow = 0, timeouts = 0] = extra;
    if (first && calls > 0 && this.target.shared().state === 'CLOSED') {
      this.target.mergeCounts({ calls, failures, slow, timeouts }, 0);
    }
    this.resolveLoaded();
  }

  /**
   * Takes in a stored state: from a script's reply or a message. Older epochs are ignored unless
   * `authoritative` (a fresh read after reconnecting).
   */
  observe(stored: StoredState, authoritative: boolean): void {
    if (this.detached || stored.state === undefined) return;
    if (
      stored.epoch === this.epoch &&
      stored.state === this.synced &&
      stored.owner === this.owner &&
      stored.leaseUntil === this.leaseUntil
    ) {
      return;
    }
    if (!authoritative && stored.epoch < this.epoch) return;
    const moved = stored.epoch !== this.epoch || stored.state !== this.synced;
    this.epoch = stored.epoch;
    this.synced = stored.state;
    this.owner = stored.owner;
    this.leaseUntil = stored.leaseUntil;
    if (this.dirty) {
      if (!moved && this.target.shared().state === stored.state) {
        // What we had to say is already stored (say, HALF_OPEN, with someone else's lease).
        this.dirty = false;
      } else if (!moved || this.force || stored.origin === this.id) {
        // Only the lease changed, our own change is echoed while a newer one waits, or ours is an
        // operator's: store ours next.
        void this.send('push');
        return;
      } else {
        // Someone else's change won: ours would be refused.
        this.dirty = false;
      }
    }
    this.adopt(stored, moved);
  }

  /** Adds another instance's counts. */
  merge(counts: CountsMessage): void {
    if (this.detached || counts.calls === 0 || this.target.shared().state !== 'CLOSED') return;
    this.target.mergeCounts(counts, counts.trailingFailures);
  }

  // --- internals --------------------------------------------------------------------------

  private adopt(stored: StoredState, moved: boolean): void {
    const local = this.target.shared();
    const next: SharedState = {
      state: stored.state as CircuitState,
      openedAt: stored.openedAt,
      nextAttemptAt: stored.nextAttemptAt,
      openCount: stored.openCount,
    };
    // An operator's reset elsewhere forgets this instance's counts too, even in a circuit that
    // stays CLOSED here (see core's \`applyShared\`).
    const reset = moved && stored.reason === 'manual_reset' && stored.origin !== this.id;
    if (
      reset ||
      local.state !== next.state ||
      local.openedAt !== next.openedAt ||
      local.nextAttemptAt !== next.nextAttemptAt ||
      local.openCount !== next.openCount
    ) {
      if (reset || local.state !== next.state) this.dropCounts();
      this.target.applyShared(next, stored.origin === this.id ? stored.reason : `remote:${stored.reason}`);
    }
    this.scheduleClaim(this.target.shared());
  }

  /**
   * Sends a state change (`push`), asks for the HALF_OPEN probe lease (`claim`), or extends it
   * while probing (`touch`). One at a time; others wait their turn.
   */
  private async send(op: Op): Promise<void> {
    if (this.detached) return;
    if (op !== 'push' && this.dirty) op = 'push';
    if (this.busy) {
      this.queued[op] = true;
      return;
    }
    if (!this.host.connected()) return;
    const options = this.target.options;
    const now = options.clock.now();
    const local = this.target.shared();
    let shared = local;
    let reason = this.reason;
    let force = this.force;
    let leaseMs = this.host.probeLeaseMs;
    if (op === 'push') {
      if (!this.dirty) return this.drain();
    } else {
      const due = local.state === 'HALF_OPEN' || (local.state === 'OPEN' && now >= local.nextAttemptAt);
      const leased = this.owner === this.id && now < this.leaseUntil - LEASE_MARGIN_MS;
      if (!due || (op === 'claim' && leased)) return this.drain();
      shared = { ...local, state: 'HALF_OPEN' };
      reason = 'recovery_timeout';
      force = false;
      if (op === 'touch')
        leaseMs = Math.max(leaseMs, (options.timeoutMs ?? options.recoveryTimeoutMs) + LEASE_MARGIN_MS);
    }
    const version = this.version;
    this.busy = true;
    const reply = await this.host.run(scripts.transition, this.keys, [
      this.host.channel,
      this.keys.tag,
      this.id,
      this.epoch,
      this.synced ?? this.divergedFrom ?? local.state,
      shared.state,
      shared.openedAt,
      shared.nextAttemptAt,
      shared.openCount,
      reason,
      force ? 1 : 0,
      now,
      Math.ceil(leaseMs),
      CLOSED_TTL_MS,
    ]);
    this.busy = false;
    if (this.detached) return;
    if (reply !== undefined) {
      if (op === 'push' && reply.stored.applied && version === this.version) this.dirty = false;
      this.observe(reply.stored, false);
      this.everLoaded = true;
      this.resolveLoaded();
    }
    this.drain();
  }

  private drain(): void {
    for (const op of OPS) {
      if (this.queued[op]) {
        this.queued[op] = false;
        void this.send(op);
        return;
      }
    }
  }

  private scheduleClaim(shared: SharedState): void {
    if (this.claimTimer !== undefined) {
      clearTimeout(this.claimTimer);
      this.claimTimer = undefined;
    }
    if (shared.state !== 'OPEN' || this.detached) return;
    const wait = shared.nextAttemptAt - this.target.options.clock.now();
    this.claimTimer = setTimeout(this.claimDue, Math.min(Math.max(wait, 1), MAX_TIMER_MS));
    this.claimTimer.unref();
  }

  /** The open time is over: ask for HALF_OPEN and its probe lease before calls arrive. */
  private readonly claimDue = (): void => {
    this.claimTimer = undefined;
    const shared = this.target.shared();
    if (shared.state !== 'OPEN') return;
    if (this.target.options.clock.now() < shared.nextAttemptAt) {
      this.scheduleClaim(shared);
      return;
    }
    if (this.host.sharing()) void this.send('claim');
  };

  private scheduleFlush(prompt: boolean): void {
    if (this.flushing) return;
    if (prompt) {
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushNow);
      }
    } else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.flushNow, this.host.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  private readonly flushNow = (): void => {
    this.flushQueued = false;
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    void this.flush();
  };

  private async flush(): Promise<void> {
    if (this.flushing || this.calls === 0 || this.detached) return;
    if (!this.host.sharing()) {
      // Counts are worth sharing only while fresh: during an outage they stay local (and are not
      // sent, for a frozen Redis to apply them when it wakes up).
      this.dropCounts();
      this.host.checkBack();
      return;
    }
    const bucket = Math.floor(this.target.options.clock.now() / this.bucketMs);
    const args = [
      this.host.channel,
      this.keys.tag,
      this.id,
      bucket,
      Math.ceil(this.bucketMs * (BUCKETS + 1)),
      this.calls,
      this.failures,
      this.slow,
      this.timeouts,
      this.trailing,
      bucket - BUCKETS,
    ];
    this.dropCounts();
    this.flushing = true;
    const reply = await this.host.run(scripts.flush, this.keys, args);
    this.flushing = false;
    if (this.detached) return;
    if (reply !== undefined) this.observe(reply.stored, false);
    if (this.calls > 0) this.scheduleFlush(this.failures > 0);
  }

  private dropCounts(): void {
    this.calls = this.failures = this.slow = this.timeouts = this.trailing = 0;
  }
}
