import type { CircuitState, WindowCounts } from '@breakwater/core';

const STATES = new Set<string>(['CLOSED', 'OPEN', 'HALF_OPEN', 'FORCED_OPEN', 'DISABLED']);

/** A breaker's state as Redis holds it (see the scripts). */
export interface StoredState {
  /** Whether the script applied what was asked. */
  applied: boolean;
  /** `undefined` when nothing is stored. */
  state: CircuitState | undefined;
  epoch: number;
  openedAt: number;
  nextAttemptAt: number;
  openCount: number;
  /** The instance that holds the HALF_OPEN probe budget, or ''. */
  owner: string;
  leaseUntil: number;
  /** The instance that wrote this state. */
  origin: string;
  reason: string;
}

/** A batch of another instance's window counts, as published. */
export interface CountsMessage extends WindowCounts {
  origin: string;
  /** Failures after the batch's last success. */
  trailingFailures: number;
}

function num(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function state(value: unknown): CircuitState | undefined {
  return typeof value === 'string' && STATES.has(value) ? (value as CircuitState) : undefined;
}

/** Reads a script's reply: the applied flag, the nine state fields, then `extra` numbers. */
export function parseReply(reply: unknown): { stored: StoredState; extra: number[] } | undefined {
  if (!Array.isArray(reply) || reply.length < 10) return undefined;
  const [applied, s, e, o, n, c, w, l, i, r, ...extra] = reply as unknown[];
  return {
    stored: {
      applied: applied === '1',
      state: state(s),
      epoch: num(e),
      openedAt: num(o),
      nextAttemptAt: num(n),
      openCount: num(c),
      owner: str(w),
      leaseUntil: num(l),
      origin: str(i),
      reason: str(r),
    },
    extra: extra.map(num),
  };
}

/** A pub/sub message: a state change, or a batch of counts, for the breaker tagged `tag`. */
export type Message =
  | { kind: 'state'; tag: string; stored: StoredState }
  | { kind: 'counts'; tag: string; counts: CountsMessage };

export function parseMessage(text: string): Message | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || typeof m.t !== 'string') return undefined;
  if (m.k === 's') {
    const s = state(m.s);
    if (s === undefined) return undefined;
    return {
      kind: 'state',
      tag: m.t,
      stored: {
        applied: true,
        state: s,
        epoch: num(m.e),
        openedAt: num(m.o),
        nextAttemptAt: num(m.n),
        openCount: num(m.c),
        owner: str(m.w),
        leaseUntil: num(m.l),
        origin: str(m.i),
        reason: str(m.r),
      },
    };
  }
  if (m.k === 'c') {
    return {
      kind: 'counts',
      tag: m.t,
      counts: {
        origin: str(m.i),
        calls: num(m.c),
        failures: num(m.f),
        slow: num(m.s),
        timeouts: num(m.x),
        trailingFailures: num(m.z),
      },
    };
  }
  return undefined;
}
