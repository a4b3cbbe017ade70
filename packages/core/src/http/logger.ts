import type { CircuitBreaker } from '../circuit/circuit-breaker.js';
import type { StateChangeEvent } from '../circuit/events.js';
import { CircuitState } from '../circuit/state.js';

type LogMethod = (...args: unknown[]) => void;

/** A pino-, bunyan- or console-like logger. */
export interface Logger {
  warn: LogMethod;
  info: LogMethod;
  error?: LogMethod;
  child?: unknown;
}

/** The listener each logger has on a breaker, and how many guards asked for it (see `logTransitions`). */
const wired = new WeakMap<
  CircuitBreaker,
  Map<Logger, { listener: (event: StateChangeEvent) => void; users: number }>
>();

/** Writes one log line: pino-style `(object, message)` when the logger has `child`, else `(message)`. */
export function log(logger: Logger, level: 'warn' | 'info' | 'error', details: object, message: string): void {
  const method = (logger[level] ?? logger.warn) as LogMethod;
  if (typeof logger.child === 'function') method.call(logger, details, message);
  else method.call(logger, `${message} ${JSON.stringify(details)}`);
}

function describe(event: StateChangeEvent): string {
  switch (event.to) {
    case CircuitState.OPEN:
      return `circuit breaker "${event.name}" opened (${event.reason})`;
    case CircuitState.HALF_OPEN:
      return `circuit breaker "${event.name}" half-open: probing`;
    case CircuitState.CLOSED:
      return `circuit breaker "${event.name}" closed (${event.reason})`;
    default:
      return `circuit breaker "${event.name}" is now ${event.to} (${event.reason})`;
  }
}

/**
 * Logs a breaker's state changes (warn when it opens, info otherwise) once per logger, however
 * often it is called. Returns the function that gives this call's interest back: the listener is
 * removed once every caller for the logger gave it back (an app that closes, say, while others
 * share its registry).
 */
export function logTransitions(breaker: CircuitBreaker, logger: Logger): () => void {
  let loggers = wired.get(breaker);
  if (loggers === undefined) {
    loggers = new Map();
    wired.set(breaker, loggers);
  }
  let wire = loggers.get(logger);
  if (wire === undefined) {
    const listener = (event: StateChangeEvent): void => {
      const level = event.to === CircuitState.OPEN || event.to === CircuitState.FORCED_OPEN ? 'warn' : 'info';
      log(
        logger,
        level,
        { breaker: event.name, from: event.from, to: event.to, reason: event.reason },
        describe(event),
      );
    };
    wire = { listener, users: 0 };
    loggers.set(logger, wire);
    breaker.on('stateChange', listener);
  }
  wire.users++;
  const held = wire;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.users--;
    if (held.users > 0) return;
    breaker.off('stateChange', held.listener);
    loggers.delete(logger);
  };
}
