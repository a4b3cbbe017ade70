import { CircuitBreaker } from './circuit/circuit-breaker.js';
import { showValue } from './errors/invalid-option.js';
import { type CircuitBreakerOptions, validateBreakerOptions } from './options.js';
import { defaultRegistry, optionsBeneath, type Registry } from './registry/registry.js';

/** A function that runs under a breaker, with the breaker at hand. */
export type Protected<Args extends unknown[], R> = ((...args: Args) => Promise<Awaited<R>>) & {
  readonly circuitBreaker: CircuitBreaker;
};

function breakerFor(optionsOrBreaker: CircuitBreakerOptions | CircuitBreaker, registry: Registry): CircuitBreaker {
  if (optionsOrBreaker instanceof CircuitBreaker) return optionsOrBreaker;
  const { name, ...rest } = optionsOrBreaker;
  return registry.getOrCreate(name, rest);
}

/**
 * Wraps `fn` so that every call runs under a breaker: one you pass, or the registry's breaker
 * of that name (`defaultRegistry` unless `registry` is given).
 *
 * @example
 * const getUser = withCircuitBreaker((id: string) => api.user(id), { name: 'users', timeoutMs: 800 });
 * await getUser('42');
 * getUser.circuitBreaker.state; // 'CLOSED'
 */
export function withCircuitBreaker<Args extends unknown[], R>(
  fn: (...args: Args) => R,
  optionsOrBreaker: CircuitBreakerOptions | CircuitBreaker,
  registry: Registry = defaultRegistry,
): Protected<Args, R> {
  if (typeof fn !== 'function') throw new TypeError(`Invalid argument "fn": got ${showValue(fn)}, expected a function`);
  const breaker = breakerFor(optionsOrBreaker, registry);
  const wrapped = function (this: unknown, ...args: Args) {
    return breaker.execute(() => fn.apply(this, args));
  };
  Object.defineProperty(wrapped, 'circuitBreaker', { value: breaker, enumerable: true });
  Object.defineProperty(wrapped, 'name', { value: fn.name || 'protected' });
  return wrapped as Protected<Args, R>;
}

/** Options of the `@circuitBreaker` decorator: the name defaults to `Class.method`. */
export type DecoratorOptions = Partial<CircuitBreakerOptions> & { registry?: Registry };

/**
 * TC39 method decorator: every call of the method runs under one breaker shared by all
 * instances, named `options.name` or `ClassName.methodName`, from the given registry.
 *
 * @example
 * class Payments {
 *   @circuitBreaker({ failureThreshold: 3 })
 *   async charge(order: Order) { ... }
 * }
 */
export function circuitBreaker(options: DecoratorOptions = {}) {
  const { registry = defaultRegistry, name, ...rest } = options;
  validateBreakerOptions(
    { ...rest, ...(name === undefined ? {} : { name }) },
    undefined,
    optionsBeneath(registry, name),
  );
  return function decorate<This, Args extends unknown[], R>(
    method: (this: This, ...args: Args) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => Promise<Awaited<R>> {
    if (context.kind !== 'method') throw new TypeError('@circuitBreaker decorates methods only');
    let breaker: CircuitBreaker | undefined;
    // The declaring class, known from the class (static method) or the first instance made
    // (instance method) before any call: the name must not depend on how the first call is made
    // (unbound, say, when the method is passed as a callback).
    let declaredBy: string | undefined;
    if (name === undefined && typeof context.addInitializer === 'function') {
      context.addInitializer(function (this: unknown) {
        declaredBy ??= ownerName(this, context.static, context.name, guarded);
      });
    }
    const guarded = function (this: This, ...args: Args): Promise<Awaited<R>> {
      if (breaker === undefined) {
        const methodName = String(context.name);
        const owner = declaredBy ?? ownerName(this, context.static, context.name, guarded);
        breaker = registry.getOrCreate(name ?? (owner ? `${owner}.${methodName}` : methodName), rest);
      }
      return breaker.execute(() => method.apply(this, args));
    };
    return guarded;
  };
}

/**
 * The name of the class that declares a decorated method, from the object it is first called on:
 * the class (or, for an instance method, the prototype) up its chain that holds the method, so
 * that a subclass calling an inherited method does not name the breaker after itself.
 */
function ownerName(self: unknown, isStatic: boolean, key: string | symbol, method: unknown): string | undefined {
  if (self === null || self === undefined) return undefined;
  // A static method is held by its class itself, an instance method by its class's prototype.
  const className = (holder: object): unknown =>
    isStatic ? (holder as { name?: unknown }).name : (holder as { constructor?: { name?: unknown } }).constructor?.name;
  let name: unknown;
  for (let holder: object | null = Object(self); holder !== null; holder = Object.getPrototypeOf(holder)) {
    if (Object.getOwnPropertyDescriptor(holder, key)?.value === method) {
      name = className(holder);
      break;
    }
  }
  name ??= className(Object(self));
  return typeof name === 'string' && name !== '' ? name : undefined;
}
