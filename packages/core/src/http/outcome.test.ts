import { describe, expect, it } from 'vitest';
import { HttpStatusError, statusClassifier } from './outcome.js';

describe('statusClassifier', () => {
  it('counts every status of 500 and above as a failure by default, 4xx included as success', () => {
    const isFailure = statusClassifier();
    expect([200, 204, 301, 400, 404, 429, 499].map(isFailure)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect([500, 502, 503, 504, 599].every(isFailure)).toBe(true);
  });

  it('counts exactly the listed statuses when given a list', () => {
    const isFailure = statusClassifier([429, 503]);
    expect(isFailure(429)).toBe(true);
    expect(isFailure(503)).toBe(true);
    expect(isFailure(500)).toBe(false);
    expect(isFailure(404)).toBe(false);
  });

  it('counts nothing as a failure with an empty list', () => {
    const isFailure = statusClassifier([]);
    expect(isFailure(500)).toBe(false);
  });

  it('uses a predicate as it is', () => {
    const isFailure = statusClassifier((status) => status === 418 || status >= 502);
    expect(isFailure(418)).toBe(true);
    expect(isFailure(500)).toBe(false);
    expect(isFailure(502)).toBe(true);
  });

  it.each([[[99]], [[600]], [[500.5]], [['500']], [[null]]])('rejects the list %j with a TypeError', (codes) => {
    expect(() => statusClassifier(codes as number[])).toThrow(TypeError);
    expect(() => statusClassifier(codes as number[])).toThrow(
      /Invalid option "failureStatusCodes": got .*, expected HTTP status codes from 100 to 599 in the list/,
    );
  });

  it('rejects something neither a list nor a function with a TypeError', () => {
    expect(() => statusClassifier(500 as never)).toThrow(
      /Invalid option "failureStatusCodes": got 500, expected an array of status codes or a function/,
    );
    expect(() => statusClassifier(new Set([500]) as never)).toThrow(TypeError);
  });
});

describe('HttpStatusError', () => {
  it('is an Error carrying the status', () => {
    const error = new HttpStatusError(502);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpStatusError');
    expect(error.status).toBe(502);
    expect(error.message).toBe('Response status 502');
  });
});
