import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit/circuit-breaker.js';
import { CircuitOpenError } from './errors/circuit-open-error.js';
import { Registry } from './registry/registry.js';
import { circuitBreaker, withCircuitBreaker } from './wrap.js';

describe('withCircuitBreaker', () => {
  it('runs every call under the breaker and exposes it as .circuitBreaker', async () => {
    const registry = new Registry();
    const double = withCircuitBreaker((n: number) => n * 2, { name: 'double', failureThreshold: 1 }, registry);
    await expect(double(21)).resolves.toBe(42);
    expect(double.circuitBreaker).toBe(registry.get('double'));
    expect(double.circuitBreaker.stats().successes).toBe(1);
    expect(double.circuitBreaker.options.failureThreshold).toBe(1);
  });

  it('keeps the function name', () => {
    const registry = new Registry();
    function fetchUser(id: string) {
      return id;
    }
    expect(withCircuitBreaker(fetchUser, { name: 'users' }, registry).name).toBe('fetchUser');
  });

  it('preserves `this`', async () => {
    const registry = new Registry();
    const client = {
      base: 'https://api.example',
      url: withCircuitBreaker(
        function (this: { base: string }, path: string) {
          return `${this.base}${path}`;
        },
        { name: 'client' },
        registry,
      ),
    };
    await expect(client.url('/users')).resolves.toBe('https://api.example/users');
  });

  it('uses a breaker passed in as it is', async () => {
    const breaker = new CircuitBreaker({ name: 'given', failureThreshold: 1 });
    const flaky = withCircuitBreaker(async () => {
      throw new Error('down');
    }, breaker);
    expect(flaky.circuitBreaker).toBe(breaker);
    await expect(flaky()).rejects.toThrow('down');
    await expect(flaky()).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('shares the registry breaker between wrappers of the same name', () => {
    const registry = new Registry();
    const a = withCircuitBreaker(() => 1, { name: 'shared' }, registry);
    const b = withCircuitBreaker(() => 2, { name: 'shared' }, registry);
    expect(a.circuitBreaker).toBe(b.circuitBreaker);
  });

  it('rejects a non-function', () => {
    expect(() => withCircuitBreaker(42 as never, { name: 'x' })).toThrow(TypeError);
  });
});

/**
 * Vite 8's transformer (oxc) leaves TC39 decorators untransformed, and Node 20 cannot parse
 * them, so the decorated class is compiled here with TypeScript itself (standard decorators,
 * `experimentalDecorators` off), as a user's build would compile it.
 */
function compileDecorated<T>(source: string, scope: Record<string, unknown>): T {
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None, experimentalDecorators: false },
  });
  const names = Object.keys(scope);
  return new Function(...names, `${outputText}\nreturn result;`)(...names.map((name) => scope[name])) as T;
}

describe('@circuitBreaker', () => {
  const source = `
    class Payments {
      constructor(currency) { this.currency = currency; this.calls = 0; }
      @circuitBreaker({ registry, failureThreshold: 2 })
      async charge(amount) {
        this.calls++;
        if (amount < 0) throw new Error('declined');
        return amount + ' ' + this.currency;
      }
      @circuitBreaker({ registry, name: 'refunds' })
      refund(amount) { return -amount; }
    }
    const result = Payments;
  `;

  function payments() {
    const registry = new Registry();
    const Payments = compileDecorated<
      new (
        currency: string,
      ) => Record<string, (...args: number[]) => Promise<unknown>>
    >(source, { circuitBreaker, registry });
    return { registry, Payments };
  }

  it('runs each call of the method under a breaker named Class.method, keeping `this`', async () => {
    const { registry, Payments } = payments();
    const eur = new Payments('EUR');
    await expect(eur.charge?.(10)).resolves.toBe('10 EUR');
    const breaker = registry.get('Payments.charge');
    expect(breaker).toBeInstanceOf(CircuitBreaker);
    expect(breaker?.options.failureThreshold).toBe(2);
    expect(breaker?.stats().successes).toBe(1);
  });

  it('shares one breaker across instances, which opens for all of them', async () => {
    const { registry, Payments } = payments();
    const eur = new Payments('EUR');
    const usd = new Payments('USD');
    await expect(eur.charge?.(-1)).rejects.toThrow('declined');
    await expect(usd.charge?.(-1)).rejects.toThrow('declined');
    expect(registry.get('Payments.charge')?.state).toBe('OPEN');
    await expect(eur.charge?.(5)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(eur.calls).toBe(1);
  });

  it('uses the name given, and wraps synchronous methods in a promise', async () => {
    const { registry, Payments } = payments();
    await expect(new Payments('EUR').refund?.(3)).resolves.toBe(-3);
    expect(registry.names()).toEqual(['refunds']);
  });

  it('names the breaker after the class that declares the method: static methods, and subclasses', async () => {
    const registry = new Registry();
    const { Users, Child, Base, Refunds } = compileDecorated<Record<string, new () => Record<string, () => unknown>>>(
      `
      class Payments {
        @circuitBreaker({ registry, failureThreshold: 1 })
        static async fetch() { throw new Error('payments down'); }
      }
      class Users {
        @circuitBreaker({ registry, failureThreshold: 1 })
        static async fetch() { return 'users'; }
      }
      class Base {
        @circuitBreaker({ registry })
        async load() { return 'loaded'; }
      }
      class Child extends Base {}
      class Refunds extends Payments {}
      const result = { Payments, Users, Base, Child, Refunds };
    `,
      { circuitBreaker, registry },
    );
    const statics = (cls: unknown) => cls as { fetch(): Promise<unknown> };

    // Called first through a subclass: still Payments' breaker.
    await expect(statics(Refunds).fetch()).rejects.toThrow('payments down');
    // One class's open breaker is not another's.
    await expect(statics(Users).fetch()).resolves.toBe('users');
    await expect(new (Child as new () => { load(): Promise<unknown> })().load()).resolves.toBe('loaded');
    await expect(new (Base as new () => { load(): Promise<unknown> })().load()).resolves.toBe('loaded');
    expect(registry.names().sort()).toEqual(['Base.load', 'Payments.fetch', 'Users.fetch']);
  });

  it('names the breaker after the declaring class however the method is first called (unbound, as a callback)', async () => {
    const registry = new Registry();
    const { Payments, Users, Base } = compileDecorated<Record<string, unknown>>(
      `
      class Payments {
        @circuitBreaker({ registry, failureThreshold: 1 })
        static async ping() { throw new Error('payments down'); }
      }
      class Users {
        @circuitBreaker({ registry, failureThreshold: 1 })
        static async ping() { return 'users'; }
      }
      class Base {
        @circuitBreaker({ registry })
        async load() { return 'loaded'; }
      }
      const result = { Payments, Users, Base };
    `,
      { circuitBreaker, registry },
    );
    const unbound = (owner: unknown, method: string) => (owner as Record<string, () => Promise<unknown>>)[method];
    const paymentsPing = unbound(Payments, 'ping') as () => Promise<unknown>;
    await expect(paymentsPing()).rejects.toThrow('payments down');
    // Payments' open breaker is not Users'.
    await expect((unbound(Users, 'ping') as () => Promise<unknown>)()).resolves.toBe('users');
    const load = unbound(new (Base as new () => object)(), 'load') as () => Promise<unknown>;
    await expect(load()).resolves.toBe('loaded');
    expect(registry.names().sort()).toEqual(['Base.load', 'Payments.ping', 'Users.ping']);
  });

  it('checks options that go together over the registry defaults beneath them', () => {
    const registry = new Registry({ defaults: { slowCallDurationMs: 500, slowCallRateThreshold: 0.5 } });
    expect(() => circuitBreaker({ registry, slowCallRateThreshold: 0.8 })).not.toThrow();
    expect(() => circuitBreaker({ registry: new Registry(), slowCallRateThreshold: 0.8 })).toThrow(
      'Invalid option "slowCallDurationMs": got undefined, expected a value because "slowCallRateThreshold" is set',
    );
  });

  it('validates its options when applied', () => {
    expect(() => circuitBreaker({ failureThreshold: -1 })).toThrow(/Invalid option "failureThreshold": got -1/);
  });

  it('refuses to decorate anything but a method', () => {
    const decorate = circuitBreaker({ registry: new Registry() });
    expect(() => decorate(() => undefined, { kind: 'getter', name: 'x' } as never)).toThrow(
      new TypeError('@circuitBreaker decorates methods only'),
    );
  });
});
