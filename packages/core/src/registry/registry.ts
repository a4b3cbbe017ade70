import { CircuitBreaker, type CircuitBreakerStats } from '../circuit/circuit-breaker.js';
import { CircuitState } from '../circuit/state.js';
import type { BreakerStore } from '../circuit/sync.js';
import { showValue } from '../errors/invalid-option.js';
import { type CircuitBreakerOptions, definedOptions, validateBreakerOptions } from '../options.js';
import { BreakerGroup, type GroupOptions } from './group.js';

/** Breaker options without the name, as defaults and per-name declarations hold them. */
export type BreakerDefaults = Omit<Partial<CircuitBreakerOptions>, 'name'>;

export interface RegistryOptions {
  /** Options every breaker created here starts from. */
  defaults?: BreakerDefaults;
  /** Shares breaker state between processes (see `@breakwater/redis`). */
  store?: BreakerStore;
}

/** One breaker in the health document. */
export interface BreakerStatus {
  state: CircuitState;
  failure_count: number;
  success_count: number;
  last_failure_time: string | null;
  failure_threshold: number;
  recovery_timeout: number;
  failure_rate: number;
  failure_rate_threshold: number;
  consecutive_failures: number;
  total_requests: number;
  rejected_count: number;
  timeout_count: number;
  next_attempt_time: string | null;
  groups?: string[];
}

export interface HealthDocument {
  status: 'ok' | 'degraded';
  circuit_breakers: Record<string, BreakerStatus>;
}

/** What the registry may hold per name besides options: e.g. an adapter's fallback. */
export interface Declaration {
  options?: BreakerDefaults;
  /** An adapter's `fallback` option, used when the adapter is given none. */
  fallback?: unknown;
  /** An adapter's `failureStatusCodes`, used when the adapter is given none. */
  failureStatusCodes?: readonly number[];
}

/**
 * What breaker options given in code for `name` are merged over in `registry` (see
 * `Registry.beneath`), for the checks that tie two options together; nothing for a value that is
 * not a registry, which is refused where it is used.
 */
export function optionsBeneath(registry: unknown, name?: string): BreakerDefaults {
  const beneath = (registry as Partial<Registry> | null | undefined)?.beneath;
  return typeof beneath === 'function' ? beneath.call(registry, name) : {};
}

/**
 * Names breakers so that the same name is the same breaker everywhere: in every adapter,
 * in health documents and in shared state.
 */
export class Registry {
  readonly defaults: BreakerDefaults;
  readonly store: BreakerStore | undefined;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly declarations = new Map<string, Declaration>();
  private readonly groups = new Map<string, BreakerGroup>();
  /**
   * Names whose breaker `createDeclared` made from the declaration alone, before any code asked
   * for it: the first options given in code at `getOrCreate` still apply (see `refine`).
   */
  private readonly provisional = new Set<string>();
  private changes = 0;

  constructor(options: RegistryOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Invalid registry options: got ${showValue(options)}, expected an object`);
    }
    this.defaults = { ...options.defaults };
    validateBreakerOptions(this.defaults);
    this.store = options.store;
  }

  /**
   * The breaker named `name`, created on first use from the registry defaults, the name's
   * declaration (see `declare`) and `options`. Later calls return the same instance and ignore
   * `options`, except for a breaker made from its declaration alone (see `createDeclared`): the
   * first options given for it apply while it has seen no call.
   */
  getOrCreate(name: string, options?: BreakerDefaults): CircuitBreaker {
    const existing = this.breakers.get(name);
    if (existing !== undefined) {
      if (this.provisional.has(name)) this.refine(existing, options);
      return existing;
    }
    const breaker = new CircuitBreaker(this.optionsFor(name, options));
    this.add(breaker);
    return breaker;
  }

  /**
   * Creates the breaker of a declared name now, from the defaults and its declaration
   * alone (a configuration file's services): it is listed, and its state shared, from the start,
   * while the first options given in code at `getOrCreate` still apply to it until its first call.
   */
  createDeclared(name: string): CircuitBreaker {
    const existing = this.breakers.get(name);
    if (existing !== undefined) return existing;
    const breaker = this.getOrCreate(name);
    this.provisional.add(name);
    return breaker;
  }

  /** @internal Whether `name`'s breaker was made from its declaration alone and no code gave it options yet. */
  isProvisional(name: string): boolean {
    return this.provisional.has(name);
  }

  /**
   * @internal Gives back the options given in code to a breaker made from its declaration (see
   * `createDeclared`), while it has seen no call: it takes its declaration's again, and the next
   * options given in code apply. For an adapter that configured it and hands it over to another.
   * Returns false when the breaker has seen a call (or was not made from its declaration).
   */
  unclaim(name: string): boolean {
    const breaker = this.breakers.get(name);
    if (breaker === undefined || !breaker.pristine || this.declarations.get(name) === undefined) return false;
    this.apply(breaker, this.optionsFor(name, undefined));
    this.provisional.add(name);
    return true;
  }

  /** Applies the first options given in code to a breaker made from its declaration (see `createDeclared`). */
  private refine(breaker: CircuitBreaker, options: BreakerDefaults | undefined): void {
    const given = definedOptions(options);
    if (Object.keys(given).length === 0) return;
    // Options that throw leave the breaker as it was, for valid ones to apply later.
    if (breaker.pristine) this.apply(breaker, this.optionsFor(breaker.name, given));
    this.provisional.delete(breaker.name);
  }

  private apply(breaker: CircuitBreaker, options: CircuitBreakerOptions): void {
    // Checked before anything changes: invalid options throw as they would at creation.
    validateBreakerOptions(options);
    breaker.attachSync(undefined);
    breaker.reconfigure(options);
    // Shared state is kept per window bucket: bound again, to the new window.
    if (this.store !== undefined) breaker.attachSync(this.store.bind(breaker));
    this.changes++;
  }

  /** The options of a breaker named `name`: defaults, then the declaration, then `options`. */
  private optionsFor(name: string, options: BreakerDefaults | undefined): CircuitBreakerOptions {
    // An option given as undefined leaves what is beneath it, as the checks over the layers assume.
    return {
      ...this.defaults,
      ...definedOptions(this.declarations.get(name)?.options),
      ...definedOptions(options),
      name,
    };
  }

  /** Registers a breaker built elsewhere; its name must be free. */
  add(breaker: CircuitBreaker): CircuitBreaker {
    if (this.breakers.has(breaker.name)) {
      throw new TypeError(`Invalid breaker: the name "${breaker.name}" is already registered`);
    }
    this.breakers.set(breaker.name, breaker);
    this.changes++;
    for (const group of this.groups.values()) if (group.memberNames.has(breaker.name)) group.attach(breaker);
    if (this.store !== undefined) breaker.attachSync(this.store.bind(breaker));
    return breaker;
  }

  get(name: string): CircuitBreaker | undefined {
    return this.breakers.get(name);
  }

  /**
   * @internal Counts changes to which breakers and declarations the registry holds (`add`,
   * `delete`, `declare`): adapters cache what they looked up per name while it stays the same.
   */
  get version(): number {
    return this.changes;
  }

  has(name: string): boolean {
    return this.breakers.has(name);
  }

  /**
   * The options a breaker named `name` would start from before the options given in code: the
   * defaults, then the name's declaration. Code that takes breaker options checks the rules that
   * tie two options together on these with its own on top.
   */
  beneath(name?: string): BreakerDefaults {
    const declared = name === undefined ? undefined : this.declarations.get(name)?.options;
    return { ...this.defaults, ...definedOptions(declared) };
  }

  /** Removes a breaker (and its store binding). Returns whether it existed. */
  delete(name: string): boolean {
    const breaker = this.breakers.get(name);
    if (breaker === undefined) return false;
    this.breakers.delete(name);
    this.provisional.delete(name);
    this.changes++;
    for (const group of this.groups.values()) group.detach(breaker);
    breaker.attachSync(undefined);
    return true;
  }

  /** Resets one breaker, or all of them. */
  reset(name?: string): void {
    if (name === undefined) for (const breaker of this.breakers.values()) breaker.reset();
    else this.breakers.get(name)?.reset();
  }

  names(): string[] {
    return [...this.breakers.keys()];
  }

  [Symbol.iterator](): IterableIterator<CircuitBreaker> {
    return this.breakers.values();
  }

  get size(): number {
    return this.breakers.size;
  }

  /**
   * Declares options (and, for adapters, a fallback) for a name before its breaker exists:
   * config files do this. Options given in code at `getOrCreate` still win.
   */
  declare(name: string, declaration: Declaration): void {
    if (declaration.options !== undefined) validateBreakerOptions(declaration.options, undefined, false);
    this.declarations.set(name, { ...this.declarations.get(name), ...declaration });
    this.changes++;
  }

  declaration(name: string): Declaration | undefined {
    return this.declarations.get(name);
  }

  /** Names declared (by `declare`) so far. */
  declaredNames(): string[] {
    return [...this.declarations.keys()];
  }

  /**
   * Hierarchical breaking: while more than `threshold` of `members` are OPEN, every member
   * rejects with a `CircuitOpenError` whose `reason` is `group`.
   */
  defineGroup(name: string, options: GroupOptions): BreakerGroup {
    if (this.groups.has(name)) throw new TypeError(`Invalid group: the name "${name}" is already defined`);
    const group = new BreakerGroup(name, options);
    this.groups.set(name, group);
    for (const member of group.memberNames) {
      const breaker = this.breakers.get(member);
      if (breaker !== undefined) group.attach(breaker);
    }
    return group;
  }

  group(name: string): BreakerGroup | undefined {
    return this.groups.get(name);
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Each breaker's stats, by name. */
  statuses(): Record<string, CircuitBreakerStats> {
    const out: Record<string, CircuitBreakerStats> = {};
    for (const [name, breaker] of this.breakers) out[name] = breaker.stats();
    return out;
  }

  /** The health document without its top-level `status`. */
  toJSON(): { circuit_breakers: Record<string, BreakerStatus> } {
    const circuit_breakers: Record<string, BreakerStatus> = {};
    for (const [name, breaker] of this.breakers) circuit_breakers[name] = this.breakerStatus(breaker);
    return { circuit_breakers };
  }

  /** The health document: `degraded` while any breaker is OPEN, HALF_OPEN or FORCED_OPEN. */
  health(): HealthDocument {
    const body = this.toJSON();
    const degraded = Object.values(body.circuit_breakers).some(
      (b) => b.state !== CircuitState.CLOSED && b.state !== CircuitState.DISABLED,
    );
    return { status: degraded ? 'degraded' : 'ok', ...body };
  }

  /** Human-readable text, one line per breaker. */
  healthReport(): string {
    const lines: string[] = [];
    for (const breaker of this.breakers.values()) {
      const s = breaker.stats();
      const rate = (s.failureRate * 100).toFixed(1);
      let line = `${s.name}: ${s.state} — ${s.window.calls} calls in window, ${rate}% failed, ${s.consecutiveFailures} consecutive failures, ${s.rejected} rejected`;
      if (s.nextAttemptTime !== null) line += `, next probe at ${new Date(s.nextAttemptTime).toISOString()}`;
      lines.push(line);
    }
    return lines.length === 0 ? 'no circuit breakers' : lines.join('\n');
  }

  private breakerStatus(breaker: CircuitBreaker): BreakerStatus {
    const s = breaker.stats();
    const o = breaker.options;
    const status: BreakerStatus = {
      state: s.state,
      failure_count: s.window.failures,
      success_count: s.window.calls - s.window.failures,
      last_failure_time: s.lastFailureTime === null ? null : new Date(s.lastFailureTime).toISOString(),
      failure_threshold: o.failureThreshold,
      recovery_timeout: o.recoveryTimeoutMs,
      failure_rate: s.failureRate,
      failure_rate_threshold: o.failureRateThreshold,
      consecutive_failures: s.consecutiveFailures,
      total_requests: s.totalCalls,
      rejected_count: s.rejected,
      timeout_count: s.timeouts,
      next_attempt_time: s.nextAttemptTime === null ? null : new Date(s.nextAttemptTime).toISOString(),
    };
    if (breaker.groups !== undefined) {
      status.groups = [...this.groups.values()].filter((g) => g.memberNames.has(breaker.name)).map((g) => g.name);
    }
    return status;
  }
}

const DEFAULT_REGISTRY = Symbol.for('breakwater.defaultRegistry');

/** The registry already on `globalThis`, put there by whichever copy of core loaded first. */
function processRegistry(): Registry {
  const holder = globalThis as { [DEFAULT_REGISTRY]?: Registry };
  const existing = holder[DEFAULT_REGISTRY];
  if (existing !== undefined) return existing;
  const registry = new Registry();
  Object.defineProperty(globalThis, DEFAULT_REGISTRY, { value: registry, configurable: true });
  return registry;
}

/**
 * The process-wide registry adapters use when given none. There is one per process even when
 * both the ESM and the CommonJS build of `@breakwater/core` are loaded (say an ESM app with a
 * CommonJS adapter): it is kept on `globalThis` under `Symbol.for('breakwater.defaultRegistry')`.
 */
export const defaultRegistry: Registry = processRegistry();
