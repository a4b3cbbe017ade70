import { describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { healthResponder } from './health.js';

describe('healthResponder', () => {
  it('answers 200 with status ok and every breaker while none is open', () => {
    const registry = new Registry();
    registry.getOrCreate('users');
    const wire = healthResponder({ registry })();
    expect(wire.status).toBe(200);
    expect(wire.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    const document = JSON.parse(wire.body as string);
    expect(document.status).toBe('ok');
    expect(document.circuit_breakers.users).toMatchObject({
      state: 'CLOSED',
      failure_count: 0,
      success_count: 0,
      last_failure_time: null,
      failure_threshold: 5,
      recovery_timeout: 30000,
    });
  });

  it('reads the registry on each request, and uses degradedStatus while degraded', () => {
    const registry = new Registry();
    const respond = healthResponder({ registry, degradedStatus: 503 });
    expect(respond().status).toBe(200);
    registry.getOrCreate('payments').forceOpen();
    const wire = respond();
    expect(wire.status).toBe(503);
    expect(JSON.parse(wire.body as string)).toMatchObject({
      status: 'degraded',
      circuit_breakers: { payments: { state: 'FORCED_OPEN' } },
    });
  });

  it('answers 200 while degraded by default', () => {
    const registry = new Registry();
    registry.getOrCreate('x').forceOpen();
    expect(healthResponder({ registry })().status).toBe(200);
  });

  it.each([
    [{ degradedStatus: 199 }, /Invalid option "degradedStatus": got 199, expected an integer from 200 to 599/],
    [{ degradedStatus: '503' }, /Invalid option "degradedStatus": got "503"/],
    [{ registry: {} }, /Invalid option "registry"/],
    [{ registy: {} }, /Unknown option "registy": got an object, expected one of registry, degradedStatus/],
  ])('rejects %j with a TypeError naming the option', (options, message) => {
    expect(() => healthResponder(options as never)).toThrow(TypeError);
    expect(() => healthResponder(options as never)).toThrow(message);
  });
});
