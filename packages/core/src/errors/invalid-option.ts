/**
 * How a rejected option value is shown in its error: a string quoted, a number, boolean or the
 * like as written, and a function, array or object by its kind only, so that an error never
 * echoes what an object holds (a client, a secret).
 */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/**
 * The `TypeError` for an invalid option, in the one shape every package uses: it names the
 * option, shows the value it got (see `showValue`) and says what is allowed.
 *
 * @example
 * throw invalidOption('timeoutMs', -1, 'a number of milliseconds greater than 0');
 * // TypeError: Invalid option "timeoutMs": got -1, expected a number of milliseconds greater than 0
 */
export function invalidOption(option: string, value: unknown, allowed: string): TypeError {
  return new TypeError(`Invalid option "${option}": got ${showValue(value)}, expected ${allowed}`);
}
