const BRAND = Symbol.for('breakwater.error');

/** Base class of every error Breakwater raises; `code` is stable across versions. */
export class BreakwaterError extends Error {
  // Fields are `declare`d and assigned in the constructor, and the brand and the name sit on
  // the prototype: defining class fields would cost every rejection about 40% more.
  declare readonly code: string;
  declare readonly [BRAND]: true;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
Object.defineProperty(BreakwaterError.prototype, BRAND, { value: true });
nameErrorClass(BreakwaterError, 'BreakwaterError');

/**
 * Gives an error class its `name` on the prototype, where the built-in errors keep theirs
 * (an own `name` on every instance would cost each rejection another property).
 */
export function nameErrorClass(errorClass: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(errorClass.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * True for any Breakwater error, including one thrown by another installed copy of the
 * package (the check uses a global symbol, not `instanceof`).
 */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
