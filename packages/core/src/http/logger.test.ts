import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { log, logTransitions } from './logger.js';

type Line = [level: string, ...args: unknown[]];

function consoleLike(lines: Line[]) {
  return {
    warn: (...args: unknown[]) => void lines.push(['warn', ...args]),
    info: (...args: unknown[]) => void lines.push(['info', ...args]),
    error: (...args: unknown[]) => void lines.push(['error', ...args]),
  };
}

function pinoLike(lines: Line[]) {
  return { ...consoleLike(lines), child: () => pinoLike(lines) };
}

const clock = { t: 0, now: () => clock.t };

describe('log', () => {
  it('writes one string with the details as JSON to a console-like logger', () => {
    const lines: Line[] = [];
    log(consoleLike(lines), 'warn', { breaker: 'a', n: 1 }, 'something happened');
    expect(lines).toEqual([['warn', 'something happened {"breaker":"a","n":1}']]);
  });

  it('writes (object, message) to a pino-style logger, one with child()', () => {
    const lines: Line[] = [];
    log(pinoLike(lines), 'info', { breaker: 'a' }, 'hello');
    expect(lines).toEqual([['info', { breaker: 'a' }, 'hello']]);
  });

  it('falls back to warn when the logger has no error method', () => {
    const lines: Line[] = [];
    const { error: _, ...noError } = consoleLike(lines);
    log(noError, 'error', {}, 'broke');
    expect(lines).toEqual([['warn', 'broke {}']]);
  });

  it('calls the method with the logger as this', () => {
    const seen: unknown[] = [];
    const logger = {
      warn() {
        seen.push(this);
      },
      info() {},
    };
    log(logger, 'warn', {}, 'x');
    expect(seen).toEqual([logger]);
  });
});

describe('logTransitions', () => {
  it('warns when a breaker opens and informs when it half-opens and closes', () => {
    const lines: Line[] = [];
    const breaker = new CircuitBreaker({
      name: 'orders',
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      successThreshold: 1,
      clock,
    });
    clock.t = 0;
    logTransitions(breaker, pinoLike(lines));
    breaker.tryAcquire()?.failure(new Error('down'));
    clock.t = 1_000;
    breaker.tryAcquire()?.success();
    expect(lines.map(([level, details]) => [level, (details as { to: string }).to])).toEqual([
      ['warn', 'OPEN'],
      ['info', 'HALF_OPEN'],
      ['info', 'CLOSED'],
    ]);
    expect(lines[0]).toEqual([
      'warn',
      { breaker: 'orders', from: 'CLOSED', to: 'OPEN', reason: expect.any(String) },
      expect.stringMatching(/^circuit breaker "orders" opened/),
    ]);
  });

  it('logs each change once per logger, however often it is wired', () => {
    const lines: Line[] = [];
    const logger = consoleLike(lines);
    const breaker = new CircuitBreaker({ name: 'twice', failureThreshold: 1 });
    logTransitions(breaker, logger);
    logTransitions(breaker, logger);
    breaker.forceOpen();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.[0]).toBe('warn');
    expect(lines[0]?.[1]).toMatch(/^circuit breaker "twice" .*"to":"FORCED_OPEN"/);
  });

  it('logs to each of two different loggers', () => {
    const first: Line[] = [];
    const second: Line[] = [];
    const breaker = new CircuitBreaker({ name: 'both' });
    logTransitions(breaker, consoleLike(first));
    logTransitions(breaker, consoleLike(second));
    breaker.disable();
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(first[0]?.[0]).toBe('info');
  });
});
