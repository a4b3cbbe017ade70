const BRAND = Symbol.for('breakwater.error');

/** Base class of every error Breakwater raises; `code` is stable across versions. */
export class BreakwaterError extends Error {
  readonly code: string;
  readonly [BRAND] = true;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * True for any Breakwater error, including one thrown by another installed copy of the
 * package (the check uses a global symbol, not `instanceof`).
 */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Builds an error without capturing a stack trace: rejections are hot and their stack says nothing. */
export function withoutStack<T>(build: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
