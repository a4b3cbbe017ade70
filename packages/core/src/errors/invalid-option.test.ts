import { describe, expect, it } from 'vitest';
import { invalidOption, showValue } from './invalid-option.js';

describe('showValue', () => {
  it.each([
    ['soon', '"soon"'],
    ['', '""'],
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [true, 'true'],
    [10n, '10'],
    [undefined, 'undefined'],
    [null, 'null'],
    [Symbol('x'), 'Symbol(x)'],
    [() => 1, 'a function'],
    [[1, 2], 'an array'],
    [new Set([1]), 'an object'],
  ])('shows %s as %s', (value, shown) => {
    expect(showValue(value)).toBe(shown);
  });

  it('never shows what an object holds', () => {
    expect(showValue({ password: 'hunter2' })).toBe('an object');
    expect(showValue(['hunter2'])).toBe('an array');
  });
});

describe('invalidOption', () => {
  it('makes a TypeError naming the option, the value and what is allowed', () => {
    const error = invalidOption('timeoutMs', 'soon', 'a number of milliseconds');
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('Invalid option "timeoutMs": got "soon", expected a number of milliseconds');
  });
});
