import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { CircuitState } from '../circuit/state.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { rejectionResponse, retryAfterSeconds, toWire } from './response.js';

const openError = (retryAfterMs: number, name = 'payments') =>
  new CircuitOpenError(name, CircuitState.OPEN, retryAfterMs, 'open');

describe('toWire', () => {
  it('sends an object body as JSON and sets a JSON content-type', () => {
    expect(toWire({ status: 201, body: { ok: true, items: [1, 2] } })).toEqual({
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"ok":true,"items":[1,2]}',
    });
  });

  it('keeps a content-type given for an object body', () => {
    const wire = toWire({ headers: { 'Content-Type': 'application/problem+json' }, body: { title: 'x' } });
    expect(wire.headers['content-type']).toBe('application/problem+json');
    expect(wire.body).toBe('{"title":"x"}');
  });

  it('sends a string body as it is, as text/plain unless a content-type is given', () => {
    expect(toWire({ body: '{"not":"reencoded"}' })).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: '{"not":"reencoded"}',
    });
    expect(toWire({ headers: { 'content-type': 'text/html' }, body: '<p>hi</p>' }).headers['content-type']).toBe(
      'text/html',
    );
  });

  it('sends bytes as they are, without inventing a content-type', () => {
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const wire = toWire({ body: bytes });
    expect(wire.body).toBe(bytes);
    expect(wire.headers['content-type']).toBeUndefined();
    expect(toWire({ body: Buffer.from('abc') }).body).toEqual(Buffer.from('abc'));
  });

  it('sends an ArrayBuffer or another typed array as bytes, not as JSON', () => {
    const wire = toWire({ body: new Uint8Array([7, 8, 9]).buffer });
    expect(wire.body).toEqual(new Uint8Array([7, 8, 9]));
    expect(wire.headers['content-type']).toBeUndefined();
    const view = new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2);
    expect(toWire({ body: view }).body).toEqual(new Uint8Array([2, 3]));
  });

  it('sends an empty body when there is none', () => {
    expect(toWire({ status: 204 }).body).toBe('');
    expect(toWire({ status: 204, body: null }).body).toBe('');
  });

  it('refuses a body that has no JSON (a function, a symbol) rather than send none', () => {
    expect(() => toWire({ body: () => 'x' })).toThrow(TypeError);
    expect(() => toWire({ body: Symbol('x') })).toThrow(
      /Invalid response body: got .*, expected a string, bytes or a JSON value/,
    );
  });

  it('lower-cases header names, stringifies values, keeps arrays and drops undefined ones', () => {
    const wire = toWire({
      headers: { 'X-Request-Id': 'abc', 'Retry-After': 5, 'Set-Cookie': ['a=1', 'b=2'], 'X-Absent': undefined },
      body: 'x',
    });
    expect(wire.headers).toEqual({
      'x-request-id': 'abc',
      'retry-after': '5',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain; charset=utf-8',
    });
  });

  it('lets extra headers win over the descriptor’s own', () => {
    const wire = toWire({ headers: { 'x-circuit-fallback': 'mine' }, body: 'x' }, { 'x-circuit-fallback': 'default' });
    expect(wire.headers['x-circuit-fallback']).toBe('default');
  });

  it.each([99, 103, 600, 200.5, Number.NaN, '200'])('rejects the status %j with a TypeError', (status) => {
    expect(() => toWire({ status: status as number })).toThrow(TypeError);
    expect(() => toWire({ status: status as number })).toThrow(/Invalid response status: got .*from 200 to 599/);
  });
});

describe('retryAfterSeconds', () => {
  it.each([
    [0, 1],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [29_500, 30],
  ])('turns %i ms into %i whole seconds', (ms, seconds) => {
    expect(retryAfterSeconds(openError(ms))).toBe(seconds);
  });
});

describe('rejectionResponse', () => {
  it('is a 503 whose body has exactly the specified keys, in order', () => {
    const wire = rejectionResponse(openError(12_345, 'inventory'));
    expect(wire.status).toBe(503);
    expect(wire.body).toBe(
      '{"error":"Service Unavailable","message":"Service inventory is temporarily unavailable","circuitBreakerState":"OPEN","retryAfter":13}',
    );
    expect(wire.headers['content-type']).toMatch(/^application\/json/);
    expect(wire.headers['retry-after']).toBe('13');
  });

  it('says Retry-After: 1 at least, and rounds partial seconds up', () => {
    expect(rejectionResponse(openError(0)).headers['retry-after']).toBe('1');
    expect(JSON.parse(rejectionResponse(openError(0)).body as string).retryAfter).toBe(1);
    expect(rejectionResponse(openError(1001)).headers['retry-after']).toBe('2');
  });

  it('never carries the upstream error that opened the circuit', () => {
    const breaker = new CircuitBreaker({ name: 'db', failureThreshold: 1 });
    const permit = breaker.tryAcquire();
    permit?.failure(new Error('password authentication failed for user "admin" at 10.0.0.7'));
    expect(breaker.state).toBe('OPEN');
    breaker.tryAcquire();
    const wire = rejectionResponse(breaker.rejectionError());
    expect(wire.body).not.toMatch(/password|admin|10\.0\.0\.7/);
    expect(JSON.parse(wire.body as string)).toEqual({
      error: 'Service Unavailable',
      message: 'Service db is temporarily unavailable',
      circuitBreakerState: 'OPEN',
      retryAfter: 30,
    });
  });

  it('reports OPEN for a breaker refused by its group, whatever its own state', () => {
    const error = new CircuitOpenError('member', CircuitState.CLOSED, 4_000, 'group');
    expect(JSON.parse(rejectionResponse(error).body as string).circuitBreakerState).toBe('OPEN');
  });
});
