import { describe, expect, it } from 'vitest';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitBreaker } from './circuit-breaker.js';

function fixture() {
  const clock = { t: 1_000, now: () => clock.t };
  const breaker = new CircuitBreaker({
    name: 'events',
    clock,
    failureThreshold: 2,
    failureRateThreshold: 0,
    recoveryTimeoutMs: 500,
    successThreshold: 1,
    slowCallDurationMs: 100,
    slowCallRateThreshold: 1,
    minimumRequests: 50,
  });
  const log: [string, unknown][] = [];
  for (const event of ['stateChange', 'success', 'failure', 'timeout', 'reject'] as const) {
    breaker.on(event, (payload) => log.push([event, payload]));
  }
  return { breaker, clock, log };
}

describe('CircuitBreaker events', () => {
  it('report each outcome with its duration and whether it was slow', () => {
    const { breaker, clock, log } = fixture();
    const error = new Error('boom');
    const a = breaker.tryAcquire();
    clock.t += 150;
    a?.success();
    breaker.tryAcquire()?.failure(error);
    const c = breaker.tryAcquire();
    clock.t += 30;
    c?.timeout();
    expect(log).toEqual([
      ['success', { name: 'events', durationMs: 150, slow: true }],
      ['failure', { name: 'events', durationMs: 0, slow: false, error }],
      ['timeout', { name: 'events', durationMs: 30, slow: false }],
      ['stateChange', { name: 'events', from: 'CLOSED', to: 'OPEN', reason: 'consecutive_failures', at: 1_180 }],
    ]);
  });

  it('report every transition of a full cycle with from, to, reason and time', () => {
    const { breaker, clock, log } = fixture();
    breaker.tryAcquire()?.failure();
    breaker.tryAcquire()?.failure();
    clock.t += 500;
    breaker.tryAcquire()?.success();
    const changes = log.filter(([event]) => event === 'stateChange').map(([, payload]) => payload);
    expect(changes).toEqual([
      { name: 'events', from: 'CLOSED', to: 'OPEN', reason: 'consecutive_failures', at: 1_000 },
      { name: 'events', from: 'OPEN', to: 'HALF_OPEN', reason: 'recovery_timeout', at: 1_500 },
      { name: 'events', from: 'HALF_OPEN', to: 'CLOSED', reason: 'probes_succeeded', at: 1_500 },
    ]);
  });

  it('report each rejection with the CircuitOpenError a caller would get', () => {
    const { breaker, clock, log } = fixture();
    breaker.forceOpen();
    log.length = 0;
    clock.t += 1;
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(log).toHaveLength(1);
    const [event, payload] = log[0] as [string, { name: string; error: CircuitOpenError }];
    expect(event).toBe('reject');
    expect(payload.name).toBe('events');
    expect(payload.error).toBeInstanceOf(CircuitOpenError);
    expect(payload.error).toMatchObject({ state: 'FORCED_OPEN', reason: 'forced_open' });
  });

  it('stop reaching a listener after off()', () => {
    const { breaker } = fixture();
    const seen: string[] = [];
    const listener = () => seen.push('success');
    breaker.on('success', listener);
    expect(breaker.listenerCount('success')).toBe(2);
    breaker.tryAcquire()?.success();
    breaker.off('success', listener);
    expect(breaker.listenerCount('success')).toBe(1);
    breaker.tryAcquire()?.success();
    expect(seen).toEqual(['success']);
  });

  it('let a listener move the breaker, after which the call that triggered it counts no further', () => {
    const { breaker } = fixture();
    breaker.on('failure', () => breaker.reset());
    breaker.tryAcquire()?.failure();
    breaker.tryAcquire()?.failure();
    expect(breaker.state).toBe('CLOSED');
  });

  it('go on past a listener that throws, reporting it as a process warning, not an uncaught exception', async () => {
    const clock = { now: () => 0 };
    const breaker = new CircuitBreaker({ name: 'payments', failureThreshold: 1, clock });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const seen: string[] = [];
    breaker.on('stateChange', () => {
      throw new Error('metrics exporter down');
    });
    breaker.on('stateChange', (event) => seen.push(event.to));
    try {
      breaker.tryAcquire()?.failure(new Error('boom'));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(breaker.state).toBe('OPEN');
    expect(seen).toEqual(['OPEN']);
    expect(warnings.map((w) => [w.name, w.message])).toEqual([
      [
        'BreakwaterListenerWarning',
        'a "stateChange" listener of circuit breaker "payments" threw: metrics exporter down',
      ],
    ]);
    expect(warnings[0]?.cause).toMatchObject({ message: 'metrics exporter down' });
  });
});
