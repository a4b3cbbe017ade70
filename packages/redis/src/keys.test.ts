import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakerKeys, escapeName } from './keys.js';

/** The hash tag Redis Cluster would hash: the text between the first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : undefined;
}

describe('breaker keys', () => {
  it('keeps readable names readable', () => {
    expect(breakerKeys('breakwater:', 'payments')).toEqual({
      tag: 'payments',
      state: 'breakwater:{payments}:state',
      counts: 'breakwater:{payments}:counts',
    });
    expect(escapeName('GET:/users/:id')).toBe('GET:/users/:id');
  });

  it('escapes braces, percent signs, spaces, non-ASCII and lone surrogates', () => {
    expect(escapeName('a{b}c')).toBe('a%7Bb%7Dc');
    expect(escapeName('100%')).toBe('100%25');
    expect(escapeName('two words')).toBe('two%20words');
    expect(escapeName('né')).toBe('n%C3%A9');
    expect(escapeName('\ud800x')).toBe('%uD800x');
  });

  it('gives every name its own printable-ASCII tag (one-to-one)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const ea = escapeName(a);
        expect(/^[\x21-\x7e]*$/.test(ea)).toBe(true);
        if (a !== b) expect(ea).not.toBe(escapeName(b));
      }),
    );
    // Strings made of the characters escapes are built from, where collisions would show.
    const tricky = fc.string({
      unit: fc.constantFrom('%', '{', '}', '2', '5', '7', 'B', 'D', 'u', ' ', '\ud800', 'é'),
    });
    fc.assert(
      fc.property(tricky, tricky, (a, b) => {
        fc.pre(a !== b);
        expect(escapeName(a)).not.toBe(escapeName(b));
      }),
    );
  });

  it('puts both keys of a breaker in one Redis Cluster slot, whatever its name', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'binary' }), (name) => {
        const keys = breakerKeys('bw:', name);
        expect(hashTag(keys.state)).toBe(escapeName(name));
        expect(hashTag(keys.counts)).toBe(escapeName(name));
      }),
    );
  });
});
