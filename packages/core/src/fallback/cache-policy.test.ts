import { describe, expect, it } from 'vitest';
import { isSharedRequest, isSharedResponse } from './cache-policy.js';

describe('isSharedRequest', () => {
  it('is true without credentials', () => {
    expect(isSharedRequest({ method: 'GET', url: '/', headers: { accept: '*/*' } })).toBe(true);
  });

  it('is false with Authorization or Cookie', () => {
    expect(isSharedRequest({ method: 'GET', url: '/', headers: { authorization: 'Bearer t' } })).toBe(false);
    expect(isSharedRequest({ method: 'GET', url: '/', headers: { cookie: 'sid=1' } })).toBe(false);
  });
});

describe('isSharedResponse', () => {
  it.each([
    [{}, true],
    [{ 'cache-control': 'public, max-age=600' }, true],
    [{ 'cache-control': 'no-cache' }, true],
    [{ 'cache-control': 'max-age=0, must-revalidate' }, true],
    [{ 'cache-control': 'x-not-private-really' }, true],
    [{ 'cache-control': 'private' }, false],
    [{ 'cache-control': 'PRIVATE' }, false],
    [{ 'cache-control': 'public,private' }, false],
    [{ 'cache-control': 'private="set-cookie"' }, false],
    [{ 'cache-control': 'max-age=60, no-store' }, false],
    [{ 'cache-control': ['public', 'no-store'] }, false],
    [{ 'set-cookie': 'sid=1' }, false],
    [{ 'set-cookie': ['a=1', 'b=2'] }, false],
  ])('for %j is %s', (headers, shared) => {
    expect(isSharedResponse(headers)).toBe(shared);
  });
});
