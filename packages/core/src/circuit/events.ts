import type { CircuitOpenError } from '../errors/circuit-open-error.js';
import type { CircuitState } from './state.js';

export interface StateChangeEvent {
  name: string;
  from: CircuitState;
  to: CircuitState;
  /** What caused it: a trip rule, `probe_failed`, `probe_expired`, `recovery_timeout`, `probes_succeeded`, a manual call, or `remote`. */
  reason: string;
  /** Clock time of the change. */
  at: number;
}

export interface CallEvent {
  name: string;
  durationMs: number;
  slow: boolean;
}

export interface FailureEvent extends CallEvent {
  error: unknown;
}

export interface RejectEvent {
  name: string;
  error: CircuitOpenError;
}

export interface FallbackEvent {
  name: string;
  strategy: string;
  /** False when the fallback failed and the 503 was sent instead. */
  served: boolean;
}

/** Events a breaker emits, with the payload each listener receives. */
export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent;
  success: CallEvent;
  failure: FailureEvent;
  timeout: CallEvent;
  reject: RejectEvent;
  fallback: FallbackEvent;
}

type Listener<T> = (event: T) => void;

/**
 * A small typed emitter. Emitting to an event nobody listens to is one property read,
 * which keeps the hot path cheap.
 */
export class Emitter<Events extends object> {
  private listeners: { [K in keyof Events]?: Listener<Events[K]>[] } | undefined;

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.listeners ??= {};
    const list = this.listeners[event];
    if (list) list.push(listener);
    else this.listeners[event] = [listener];
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.listeners?.[event];
    if (!list) return this;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) delete this.listeners?.[event];
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.listeners?.[event]?.length ?? 0;
  }

  protected hasListeners(event: keyof Events): boolean {
    return this.listeners?.[event] !== undefined;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.listeners?.[event];
    if (!list) return;
    for (const listener of list.slice()) {
      try {
        listener(payload);
      } catch (error) {
        reportListenerError(event, payload, error);
      }
    }
  }
}

/**
 * A listener threw. The breaker goes on (its state must not depend on a metrics or logging
 * listener), and so does the process: the error is reported as a process warning (stderr, and
 * `process.on('warning')`), or on the console where there is no `process`, rather than rethrown
 * as an uncaught exception, which would bring down the process at the moment a dependency fails.
 */
function reportListenerError(event: PropertyKey, payload: unknown, error: unknown): void {
  const name = (payload as { name?: unknown } | null)?.name;
  const breaker = typeof name === 'string' ? `circuit breaker "${name}"` : 'circuit breaker';
  const warn = (globalThis as { process?: { emitWarning?: (warning: Error | string, type?: string) => void } }).process
    ?.emitWarning;
  const message = `a "${String(event)}" listener of ${breaker} threw: ${error instanceof Error ? error.message : String(error)}`;
  if (typeof warn === 'function') {
    const warning = new Error(message, { cause: error });
    warning.name = 'BreakwaterListenerWarning';
    warn.call((globalThis as { process?: unknown }).process, warning);
  } else console.error(message, error);
}
