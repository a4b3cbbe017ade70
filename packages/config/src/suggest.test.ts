import { describe, expect, it } from 'vitest';
import { suggest } from './suggest.js';

describe('suggest', () => {
  const keys = ['timeout_ms', 'recovery_timeout_ms', 'failure_threshold', 'enable_exponential_backoff'];

  it('finds the snake_case spelling of a camelCase or kebab-case key', () => {
    expect(suggest('failureThreshold', keys)).toBe('failure_threshold');
    expect(suggest('failure-threshold', keys)).toBe('failure_threshold');
  });

  it('follows aliases only to keys allowed here', () => {
    const aliases = new Map([
      ['exponentialBackoff', 'enable_exponential_backoff'],
      ['members', 'services'],
    ]);
    expect(suggest('exponentialBackoff', keys, aliases)).toBe('enable_exponential_backoff');
    expect(suggest('members', keys, aliases)).toBeUndefined();
  });

  it('finds typos and prefixes, preferring the nearest', () => {
    expect(suggest('timeout_sm', keys)).toBe('timeout_ms');
    expect(suggest('timeout', keys)).toBe('timeout_ms');
    expect(suggest('recovery_timeout', keys)).toBe('recovery_timeout_ms');
  });

  it('suggests nothing for an unrelated key', () => {
    expect(suggest('colour', keys)).toBeUndefined();
  });
});
