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

const wired = new WeakMap<CircuitBreaker, Set<Logger>>();

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
 * often it is called.
 */
export function logTransitions(breaker: CircuitBreaker, logger: Logger): void {
  let loggers = wired.get(breaker);
  if (loggers?.has(logger)) return;
  if (loggers === undefined) {
    loggers = new Set();
    wired.set(breaker, loggers);
  }
  loggers.add(logger);
  breaker.on('stateChange', (event) => {
    const level = event.to === CircuitState.OPEN || event.to === CircuitState.FORCED_OPEN ? 'warn' : 'info';
    log(logger, level, { breaker: event.name, from: event.from, to: event.to, reason: event.reason }, describe(event));
  });
}
