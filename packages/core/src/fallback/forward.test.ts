import { describe, expect, it } from 'vitest';
import { forwardableHeaders, joinUrl, relay } from './forward.js';

describe('joinUrl', () => {
  it.each([
    ['http://b', '/users?x=1', 'http://b/users?x=1'],
    ['http://b/', '/users', 'http://b/users'],
    ['http://b/api', '/users?x=1', 'http://b/api/users?x=1'],
    ['http://b/api//', '/users', 'http://b/api/users'],
    ['http://b/api', 'users', 'http://b/api/users'],
    ['http://b:8080/api', '/', 'http://b:8080/api/'],
    ['http://b/api', '//users/7?x=%20', 'http://b/api//users/7?x=%20'],
    ['http://b/api', '/../admin', 'http://b/api/admin'],
    ['http://b/api', '/%2e%2e/admin?x=1', 'http://b/api/admin?x=1'],
    ['http://b/api', '/a/%2E%2E/%2e%2e/../admin', 'http://b/api/admin'],
    ['http://b/api', '/..\\admin', 'http://b/api/admin'],
  ])('joins %s and %s into %s', (base, path, joined) => {
    expect(joinUrl(base, path)).toBe(joined);
  });
});

describe('forwardableHeaders', () => {
  it('keeps end-to-end headers, lower-cased, with repeated values appended', () => {
    const headers = forwardableHeaders({
      Accept: 'text/html',
      'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
      cookie: 'sid=1',
      absent: undefined,
    });
    expect([...headers]).toEqual([
      ['accept', 'text/html'],
      ['cookie', 'sid=1'],
      ['x-forwarded-for', '10.0.0.1, 10.0.0.2'],
    ]);
  });

  it('leaves accept-encoding to fetch, which asks only for codings it can decode', () => {
    expect([...forwardableHeaders({ 'accept-encoding': 'gzip, br, zstd', accept: '*/*' })]).toEqual([
      ['accept', '*/*'],
    ]);
  });

  it('drops hop-by-hop headers, those the Connection header names, and HTTP/2 pseudo-headers', () => {
    const headers = forwardableHeaders({
      connection: 'Keep-Alive, X-Hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic x',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      host: 'a.example',
      'content-length': '10',
      expect: '100-continue',
      ':authority': 'a.example',
      'x-kept': 'yes',
    });
    expect([...headers]).toEqual([['x-kept', 'yes']]);
  });
});

describe('relay', () => {
  it('turns a fetch Response into a wire response with the extra headers', async () => {
    const response = new Response('hello', {
      status: 206,
      headers: { 'content-type': 'text/plain', 'x-up': '1', connection: 'close', 'content-encoding': 'br' },
    });
    const wire = await relay(response, { 'x-circuit-fallback': 'alternative_service' });
    expect(wire.status).toBe(206);
    expect(wire.headers).toEqual({
      'content-type': 'text/plain',
      'x-up': '1',
      'x-circuit-fallback': 'alternative_service',
    });
    expect(Buffer.from(wire.body).toString()).toBe('hello');
  });

  it('keeps each Set-Cookie as its own value', async () => {
    const headers = new Headers();
    headers.append('set-cookie', 'a=1; Path=/');
    headers.append('set-cookie', 'b=2, with comma; Path=/');
    const wire = await relay(new Response(null, { status: 204, headers }), {});
    expect(wire.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2, with comma; Path=/']);
    expect(wire.body).toEqual(new Uint8Array());
  });
});
