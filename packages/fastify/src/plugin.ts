import type { ServerResponse } from 'node:http';
import {
  type CircuitBreaker,
  type CircuitTimeoutError,
  countWhenFinished,
  type FallbackEngine,
  forgetAnswerHeaders,
  type Gate,
  HttpCall,
  HttpGuard,
  type HttpOptions,
  healthResponder,
  invalidOption,
  isAnswerHeader,
  type Logger,
  Refusal,
  type RequestInfo,
  readBody,
  settleOnClose,
  showValue,
} from '@breakwater/core';
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { lruStore } from './lru-store.js';
import { routeKeys } from './route-key.js';
import { sendWire } from './send-wire.js';
import type { FastifyBreakerOptions, HealthRouteOptions, RouteBreakerOptions } from './types.js';

type Guard = HttpGuard<FastifyRequest>;

/** What the plugin keeps about an admitted request that a fallback may answer or cache. */
interface FallbackState {
  call: HttpCall;
  request: FastifyRequest;
  reply: FastifyReply;
  engine: FallbackEngine<FastifyRequest>;
  guard: Guard;
  info: RequestInfo;
  /** True when the response is wanted by the cache fallback. */
  capture: boolean;
  body: string | Uint8Array | undefined;
  /**
   * The reply's headers when `body` was taken: what a later `onSend` hook adds (a compression
   * plugin's `content-encoding`) goes with what it made of the body, not with this one.
   */
  headers: ReturnType<FastifyReply['getHeaders']> | undefined;
  /**
   * Set once the handler's answer started on its way (its `reply.send`, or `onSend`): a timeout
   * fallback is too late then, even while the app's own async hooks still hold the answer back.
   */
  responding: boolean;
  fallbackSent: boolean;
  /**
   * Set when, after the timeout fallback went out, Fastify ran the `onError` hooks: an error was
   * raised on the fallback's own way out (an `onSend` hook that threw), since the handler's late
   * answers never reach Fastify (see `watchSend`). What its error handler sends then goes out.
   */
  fallbackFailed: boolean;
  /** The reply's own `send`, which the fallback goes out through (see `watchSend`). */
  send: FastifyReply['send'];
}

/**
 * What the plugin knows about one route: made with its guarded handler, or on the first request
 * of a route declared before the plugin loaded.
 */
interface Route {
  guard: Guard | undefined;
  url: string | undefined;
  /** The route's gate for each method seen: see `gateFor`. */
  gates: Map<string, Gate<FastifyRequest>>;
  /** The method of the route's request before, and its gate: most requests repeat it. */
  method: string | undefined;
  gate: Gate<FastifyRequest> | undefined;
  /** True once the handler in the route's context was guarded (see `guardEarlierRoutes`). */
  wrapped: boolean;
  /** True once a nearer instance took the route over on the same breaker (see `kGuarded`). */
  bypassed: boolean;
  /** True when the route's HEAD requests count on its GET breaker (see `sharesGet`). */
  headAsGet: boolean;
}

function newRoute(guard: Guard | undefined, url: string | undefined, headAsGet = false): Route {
  return {
    guard,
    url,
    gates: new Map(),
    method: undefined,
    gate: undefined,
    wrapped: false,
    bypassed: false,
    headAsGet,
  };
}

/** The method whose breaker counts a request of `method`: HEAD counts as GET on a handler that serves GET. */
function countedAs(method: string, headAsGet: boolean): string {
  return headAsGet && method === 'HEAD' ? 'GET' : method;
}

type OnSendHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  next: (error: null, payload: unknown) => void,
) => void;

/**
 * Offers a finished response to the cache fallback, unless the fallback answered instead or the
 * call timed out. Runs after core's `settleOnClose` counted the call (an error noted by `onError`
 * is recorded as the failure when its status counts as one): Node emits `close` on every
 * response, hijacked ones included, so no `onResponse` hook (and its cost on every request) is
 * needed.
 */
function offerToCache(raw: ServerResponse, call: HttpCall, fallback: FallbackState): void {
  if (fallback.body === undefined || call.timedOut || fallback.fallbackSent) return;
  fallback.engine.remember(
    fallback.info,
    fallback.request,
    { status: raw.statusCode, headers: fallback.headers ?? fallback.reply.getHeaders(), body: fallback.body },
    call.breaker.options.clock.now(),
  );
}

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * What a guarded handler keeps about its guarding, under a key every copy of the plugin shares,
 * on the handler and in the route's config (Fastify binds the handler it keeps in the route's
 * context, which hides the handler's own properties): the handler it guards, how deep in
 * Fastify's contexts the plugin instance that guarded it was registered (see `depthOf`), the
 * breaker it admits a method's requests on, and how to give the route up. Instances stack (an
 * app-wide breaker and a scope's each count a request), except on one breaker: a request is never
 * admitted twice on the same breaker, as two instances that name breakers after their route
 * would. The instance nearest the route (or, in the same context, the last registered) then
 * governs it alone.
 */
const kGuarded = Symbol.for('@breakwater/fastify.guarded');

interface Guarding {
  handler: Handler;
  depth: number;
  registry: object;
  /** The breaker name of `method`'s requests, or undefined when `key(request)` picks it. */
  nameFor(method: string): string | undefined;
  /** The `key` option that picks the breakers, if any: instances given the same function pick the same ones. */
  key: unknown;
  /** The guarding of the handler this one guards, when another instance guarded it too. */
  inner: Guarding | undefined;
  /** Gives back what the instance set up for the route (see `createBreakers`). */
  release(): void;
  /** From now on, the guarded handler calls the handler it guards without admitting. */
  bypass(): void;
}

type Configured = { config?: Record<symbol, unknown> };

/** The guarding recorded in a route's config, or on a handler. */
function guardingIn(config: unknown): Guarding | undefined {
  return typeof config === 'object' && config !== null ? (config as Record<symbol, Guarding>)[kGuarded] : undefined;
}

function guardingOf(handler: unknown): Guarding | undefined {
  return typeof handler === 'function' ? (handler as { [kGuarded]?: Guarding })[kGuarded] : undefined;
}

/** The app's own handler beneath the guards of every instance (see `Guarding.handler`). */
function unguarded(handler: Handler): Handler {
  for (let guarding = guardingOf(handler); guarding !== undefined; guarding = guardingOf(handler)) {
    handler = guarding.handler;
  }
  return handler;
}

/**
 * How deep `instance` is in Fastify's tree of contexts: Fastify makes each plugin's context an
 * object whose prototype is its parent's, and a plugin wrapped with fastify-plugin (this one)
 * gets the context it was registered in.
 */
function depthOf(instance: object): number {
  let depth = 0;
  for (let at = Object.getPrototypeOf(instance); at !== null; at = Object.getPrototypeOf(at)) depth++;
  return depth;
}
const noRelease = (): void => {};
/** What `printRoutes()` gives for an app without routes (find-my-way's rendering). */
const NO_ROUTES = '(empty tree)';
const DEFAULT_HEALTH_PATH = '/health/circuit-breakers';
/** Options Fastify itself reads from `register`, not ours. */
const REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'];

/** The health route the `health` option asks for, or undefined for none. */
function healthRoute(health: unknown): { path: string; degradedStatus: number | undefined } | undefined {
  if (health === undefined || health === false) return undefined;
  if (health === true) return { path: DEFAULT_HEALTH_PATH, degradedStatus: undefined };
  if (typeof health !== 'object' || health === null) {
    throw invalidOption('health', health, 'true, false or { path?, degradedStatus? }');
  }
  const { path = DEFAULT_HEALTH_PATH, degradedStatus, ...unknown } = health as HealthRouteOptions;
  for (const [key, value] of Object.entries(unknown)) {
    throw new TypeError(
      `Unknown option "health.${key}": got ${showValue(value)}, expected one of path, degradedStatus`,
    );
  }
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw invalidOption('health.path', path, 'a path starting with "/"');
  return { path, degradedStatus };
}

function requestInfo(request: FastifyRequest): RequestInfo {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    // Fastify's parsers inflate nothing (see core's `ParserTraits`).
    body: () => readBody(request.raw, request.body, { inflate: false }),
  };
}

function isBody(payload: unknown): payload is string | Uint8Array {
  return typeof payload === 'string' || payload instanceof Uint8Array;
}

type Closable = { pipe?: unknown; destroy?: unknown; getReader?: unknown; cancel?: unknown; body?: unknown };

/**
 * Closes a payload that will never be sent (a handler's late answer, dropped after the timeout
 * fallback): a Node stream is destroyed, a web stream (or a fetch `Response`'s body) cancelled,
 * so that the file or the upstream connection it reads from is let go. Fastify takes these three
 * kinds of stream; anything else needs nothing.
 */
function discard(payload: unknown): void {
  if (typeof payload !== 'object' || payload === null) return;
  const stream = payload as Closable;
  if (typeof stream.pipe === 'function' && typeof stream.destroy === 'function') {
    (stream.destroy as () => void).call(stream);
    return;
  }
  const web = (payload instanceof Response ? payload.body : payload) as Closable | null;
  if (web !== null && typeof web.getReader === 'function' && typeof web.cancel === 'function') {
    // A locked stream refuses to be cancelled: its reader's owner closes it.
    (web.cancel as () => Promise<void>).call(web).catch(() => {});
  }
}

/**
 * Whether `context` is the context of a route Fastify made itself: the HEAD route it adds for a
 * GET route, with the same handler (see `sharesGet`). Fastify 4 and 5 mark those under a symbol
 * of their own; for routes declared before the plugin loaded, which no `onRoute` hook saw.
 */
function madeByFastify(context: object | undefined): boolean {
  if (context === undefined) return false;
  for (const key of Object.getOwnPropertySymbols(context)) {
    if (key.description === 'fastify.routeByFastify') return (context as Record<symbol, unknown>)[key] === true;
  }
  return false;
}

/**
 * The URL of the GET route whose breaker counts the requests of a route declared before the plugin
 * loaded (see `sharesGet`), from Fastify's context of the route: its own URL, but for the HEAD
 * route Fastify adds at `/prefix/` for a `'/'` route under a prefix (with `prefixTrailingSlash`
 * `'both'`), whose GET twins both count on `GET /prefix`.
 */
function getUrlOf(context: object | undefined, url: string | undefined): string | undefined {
  if (context === undefined || url === undefined || !madeByFastify(context)) return url;
  const { server, prefixTrailingSlash } = context as { server?: { prefix?: unknown }; prefixTrailingSlash?: unknown };
  const prefix = server?.prefix;
  const both = prefixTrailingSlash === undefined || prefixTrailingSlash === 'both';
  return both && typeof prefix === 'string' && prefix !== '' && url === `${prefix}/` ? prefix : url;
}

const plugin: FastifyPluginAsync<FastifyBreakerOptions> = async (fastify, options) => {
  // Before this plugin declares its own (the health route).
  const hadRoutes = fastify.printRoutes() !== NO_ROUTES;
  const depth = depthOf(fastify);
  /**
   * Marks the routes that this instance's `onRoute` hook saw, in the route config that Fastify
   * copies into the route's context: their handlers are guarded already, so the `preHandler`
   * hook that guards routes declared before the plugin loaded (see `guardEarlierRoutes`) leaves
   * them alone. One per instance: a route that another instance saw is not guarded by this one.
   */
  const kSeen = Symbol('breakwater.seen');
  const { health, ...rest } = options;
  const httpOptions: HttpOptions<FastifyRequest> & Record<string, unknown> = { ...rest };
  for (const key of REGISTER_KEYS) delete httpOptions[key];
  const healthAt = healthRoute(health);
  const adapter = { memoryStore: lruStore, logger: fastify.log as unknown as Logger };
  const guard: Guard = new HttpGuard(httpOptions, { ...adapter, options: ['health'] });
  /** Every guard of this instance, whose logging ends when the app closes (see `HttpGuard.close`). */
  const guards: Guard[] = [guard];
  fastify.addHook('onClose', (_instance, done) => {
    for (const each of guards) each.close();
    done();
  });
  const { name: _shared, ...inherited } = httpOptions;
  const routeGuards = new WeakMap<object, Guard>();
  // Each admitted request keeps its call, or its fallback state when a fallback may answer it, in
  // a request decoration of this plugin instance's own: declared up front, it leaves the request's
  // shape stable and costs less than a WeakMap entry. One decoration, not two: Fastify sets them
  // in a loop, which turns megamorphic (~170 instructions a request) once it sets two names.
  const kTracked = Symbol('breakwater.tracked');
  fastify.decorateRequest(kTracked, null);
  type Decorated = Record<symbol, HttpCall | FallbackState | null | undefined>;
  const tracked = (request: FastifyRequest) => (request as unknown as Decorated)[kTracked];
  /** Routes by their key (see `routeKeys`), which Fastify makes once per route. */
  const routes = new WeakMap<object, Route>();

  function guardFor(settings: unknown): Guard | undefined {
    if (settings === undefined || settings === true) return guard;
    if (settings === false) return undefined;
    if (typeof settings !== 'object' || settings === null) {
      throw new TypeError(
        `Invalid route option "config.circuitBreaker": got ${showValue(settings)}, expected an options object or false`,
      );
    }
    let routeGuard = routeGuards.get(settings);
    if (routeGuard === undefined) {
      if ('health' in settings) {
        throw new TypeError('Invalid route option "config.circuitBreaker.health": give "health" to the plugin only');
      }
      const merged: HttpOptions<FastifyRequest> = { ...inherited, ...(settings as RouteBreakerOptions) };
      routeGuard = new HttpGuard(merged, adapter);
      guards.push(routeGuard);
      routeGuards.set(settings, routeGuard);
    }
    return routeGuard;
  }

  const routeKey = routeKeys();

  /** The request's route, worked out on its first request (see `routeKeys`); without a guard for Fastify's not-found handler. */
  function routeOf(request: FastifyRequest, key: object | undefined): Route {
    let route = key === undefined ? undefined : routes.get(key);
    if (route === undefined) {
      const options = request.routeOptions;
      const config = options.config as (typeof options.config & { [kSeen]?: true }) | undefined;
      // Fastify's own test for `request.is404`: the not-found handler's route has no URL. A
      // route that `onRoute` saw has its handler guarded already.
      const seen = options.url === undefined || config?.[kSeen] === true;
      const headAsGet = ([] as string[]).concat(options.method).includes('GET') || madeByFastify(key);
      const url = headAsGet ? getUrlOf(key, options.url) : options.url;
      route = newRoute(seen ? undefined : guardFor(config?.circuitBreaker), url, headAsGet);
      if (key !== undefined) routes.set(key, route);
    }
    return route;
  }

  /**
   * The gate that admits the route's requests of `method` under its breaker (the route has one),
   * by default named `"GET /users/:id"` (see `HttpGuard.gate`): the name is looked up once per
   * route and method, not per request, and the gate of the route's request before is reused
   * when the method repeats, at the cost of one comparison.
   */
  function gateFor(route: Route, method: string): Gate<FastifyRequest> {
    if (method === route.method) return route.gate as Gate<FastifyRequest>;
    let gate = route.gates.get(method);
    if (gate === undefined) {
      gate = (route.guard as Guard).gate(`${countedAs(method, route.headAsGet)} ${route.url}`);
      route.gates.set(method, gate);
    }
    route.method = method;
    route.gate = gate;
    return gate;
  }

  /**
   * Wraps the reply's `send` for a request a timeout fallback may answer: a call before the
   * fallback marks the handler's answer as on its way; after it, the handler's late answer (a
   * value, or an error it threw) is dropped quietly, a stream closed (see `discard`): no "Reply
   * was already sent", no second response, and no status of its own on a fallback that an async
   * `onSend` hook still holds.
   * Only once an error was raised on the fallback's own way out (an `onSend` hook that throws,
   * which runs the `onError` hooks: see `fallbackFailed`) does what Fastify's error handler then
   * sends, an error or any answer of the app's own error handler, go out (until the response
   * ended), so the client gets one.
   */
  function watchSend(state: FallbackState): void {
    const { send } = state;
    (state.reply as { send: unknown }).send = function sendWatched(this: FastifyReply, payload?: unknown) {
      if (!state.fallbackSent) {
        state.responding = true;
        return send.call(this, payload);
      }
      if (state.fallbackFailed && !this.sent) return send.call(this, payload);
      discard(payload);
      return this;
    };
  }

  function onTimeout(call: HttpCall, state: FallbackState, error: CircuitTimeoutError): void {
    const { request, reply } = state;
    if (reply.sent || state.responding) return;
    // The handler may answer while the fallback is being made: the fallback is then neither sent nor counted.
    const sendable = (): boolean => !(reply.sent || state.responding || reply.raw.headersSent);
    void state.guard.refusal(state.info, request, error, call.breaker, sendable).then((wire) => {
      if (!sendable()) return;
      state.fallbackSent = true;
      // What the handler set about its own answer does not go out with the fallback.
      for (const name of Object.keys(reply.getHeaders())) if (isAnswerHeader(name)) reply.removeHeader(name);
      forgetAnswerHeaders(reply.raw);
      try {
        sendWire(reply, wire, state.send);
      } catch (failure) {
        request.log.error({ err: failure }, 'circuit breaker: the timeout fallback could not be sent');
      }
    });
  }

  /**
   * Keeps the admitted request's state and settles it when the response finishes or closes;
   * throws (permit given back) on an invalid declared fallback. Without a fallback, the call is
   * counted when the response finishes (or settled when it closes, if it holds a permit): see
   * core's `countWhenFinished`. No closures in here: V8 would give each call a context object for
   * what they capture, with a fallback or not.
   */
  function track(request: FastifyRequest, reply: FastifyReply, routeGuard: Guard, call: HttpCall): void {
    const engine = call.engine<FastifyRequest>();
    if (engine !== undefined) {
      trackWithFallback(request, reply, routeGuard, call, engine);
      return;
    }
    call.armTimeout();
    (request as unknown as Decorated)[kTracked] = call;
    const raw = reply.raw;
    countWhenFinished(raw, call, raw.socket);
  }

  function trackWithFallback(
    request: FastifyRequest,
    reply: FastifyReply,
    routeGuard: Guard,
    call: HttpCall,
    engine: FallbackEngine<FastifyRequest>,
  ): void {
    const info = requestInfo(request);
    const state: FallbackState = {
      call,
      request,
      reply,
      engine,
      guard: routeGuard,
      info,
      capture: engine.wantsResponse(info),
      body: undefined,
      headers: undefined,
      responding: false,
      fallbackSent: false,
      fallbackFailed: false,
      send: reply.send,
    };
    if (call.holdsPermit && call.breaker.options.timeoutMs !== undefined) watchSend(state);
    call.armTimeout((error) => onTimeout(call, state, error));
    (request as unknown as Decorated)[kTracked] = state;
    const raw = reply.raw;
    settleOnClose(raw, call, () => offerToCache(raw, call, state));
  }

  /** Answers a refused request with the 503 or the fallback; a fallback that fails goes to `next`, or to `reply.send` from a handler. */
  function refuse(
    routeGuard: Guard,
    request: FastifyRequest,
    reply: FastifyReply,
    refusal: Refusal,
    next?: HookHandlerDoneFunction,
  ): void {
    routeGuard
      .refusal(requestInfo(request), request, refusal.error, refusal.breaker)
      .then((wire) => sendWire(reply, wire))
      .catch((error: Error) => (next === undefined ? reply.send(error) : next(error)));
  }

  /** The name of the breaker `routeGuard` admits `method`'s requests on, unless `key(request)` picks it. */
  function breakerName(routeGuard: Guard, method: string, url: string): string | undefined {
    return routeGuard.key !== undefined ? undefined : (routeGuard.name ?? `${method} ${url}`);
  }

  /**
   * Whether `other` admits the route's requests of one of `methods` on the breaker `routeGuard`
   * would (HEAD's on the GET breaker when `headAsGet`: see `sharesGet`).
   */
  function sameBreaker(
    other: Guarding,
    routeGuard: Guard,
    methods: string[],
    url: string,
    headAsGet: boolean,
  ): boolean {
    if (other.registry !== routeGuard.registry) return false;
    if (other.key !== undefined || routeGuard.key !== undefined) return other.key === routeGuard.key;
    return methods.some(
      (method) => other.nameFor(method) === breakerName(routeGuard, countedAs(method, headAsGet), url),
    );
  }

  /** The guarding in the chain from `top` (see `Guarding.inner`) on the breaker `routeGuard` would admit on, if any. */
  function sameIn(
    top: Guarding | undefined,
    routeGuard: Guard,
    methods: string[],
    url: string,
    headAsGet: boolean,
  ): Guarding | undefined {
    for (let at = top; at !== undefined; at = at.inner) {
      if (sameBreaker(at, routeGuard, methods, url, headAsGet)) return at;
    }
    return undefined;
  }

  /**
   * `handler` behind the route's breaker: the request is admitted (or refused, never reaching
   * `handler`) when Fastify calls the handler, after the route's hooks, body parsing and
   * validation. A guarded handler costs no hook: any `onRequest` or `preHandler` hook costs every
   * request Fastify's hook runner (~0.23k instructions and three closures), besides the hook.
   * A route may serve several methods (Fastify serves HEAD for a GET route through a route of
   * its own): see `gateFor`.
   */
  function guardHandler(
    handler: Handler,
    routeGuard: Guard,
    url: string,
    release: () => void,
    inner: Guarding | undefined,
    headAsGet: boolean,
  ): Handler {
    const route = newRoute(routeGuard, url, headAsGet);
    const guarded = function guarded(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): unknown {
      if (route.bypassed) return handler.call(this, request, reply);
      const admission = gateFor(route, request.method).admit(request);
      if (admission instanceof Refusal) {
        refuse(routeGuard, request, reply, admission);
        return undefined;
      }
      track(request, reply, routeGuard, admission);
      return handler.call(this, request, reply);
    };
    const guarding: Guarding = {
      handler,
      depth,
      registry: routeGuard.registry,
      nameFor: (method) => breakerName(routeGuard, countedAs(method, headAsGet), url),
      key: routeGuard.key,
      inner,
      release,
      bypass: () => {
        route.bypassed = true;
      },
    };
    Object.defineProperty(guarded, kGuarded, { value: guarding });
    return guarded;
  }

  /**
   * Creates the breakers of a route that `onRoute` sees (HEAD's too, unless it counts on the
   * route's GET breaker: see `sharesGet`). Returns how to give back
   * those named after the route that it created, should a nearer instance take the route over
   * (see `kGuarded`) before any request: that instance's options are then the route's.
   */
  function createBreakers(routeGuard: Guard, route: RouteOptions, headAsGet: boolean): () => void {
    if (routeGuard.key !== undefined) return noRelease;
    const registry = routeGuard.registry;
    const created: CircuitBreaker[] = [];
    /** Those a configuration file made (see core's `createDeclared`) that this instance configured. */
    const claimed: CircuitBreaker[] = [];
    for (const method of ([] as string[]).concat(route.method)) {
      if (method === 'HEAD' && headAsGet) continue;
      const name = `${method} ${route.url}`;
      const existed = registry.has(name);
      const provisional = registry.isProvisional(name);
      const breaker = routeGuard.breakerFor(undefined as never, name);
      if (breaker.name !== name) continue;
      if (!existed) created.push(breaker);
      else if (provisional && !registry.isProvisional(name)) claimed.push(breaker);
    }
    if (created.length === 0 && claimed.length === 0) return noRelease;
    return () => {
      for (const breaker of [...created, ...claimed]) {
        if (!breaker.pristine || registry.get(breaker.name) !== breaker) continue;
        // A file's breaker stays, with the file's options again, for the nearer instance to configure.
        if (claimed.includes(breaker)) registry.unclaim(breaker.name);
        else registry.delete(breaker.name);
        routeGuard.forget(breaker);
      }
    };
  }

  /**
   * Marks the response as on its way and keeps its body for the cache fallback. Only fallbacks
   * need it, and an `onSend` hook costs every request it runs for, so it is added for the whole
   * scope when the plugin has a fallback (or the registry declares one) at registration, else
   * to each route that may fall back when the route is declared.
   */
  const onSend: OnSendHook = (request, reply, payload, next) => {
    const state = tracked(request);
    if (state !== null && state !== undefined && !(state instanceof HttpCall)) {
      state.responding = true;
      // An encoded body is turned away by the cache itself (see core's `remember`).
      if (state.capture && !state.fallbackSent && isBody(payload)) {
        state.body = payload;
        state.headers = { ...reply.getHeaders() };
      }
    }
    next(null, payload);
  };
  // Routes declared before the plugin loaded (see `guardEarlierRoutes`) may declare a fallback
  // that no `onRoute` saw: they need the hook too.
  const onSendEverywhere = guard.mayFallBack() || hadRoutes;
  if (onSendEverywhere) fastify.addHook('onSend', onSend);

  /**
   * The URLs at which each of the app's handlers (see `unguarded`) serves GET in this instance's
   * scope, for `sharesGet`.
   */
  const servesGet = new WeakMap<Handler, Set<string>>();

  /**
   * Whether the route's HEAD requests count on its GET breaker: those of a handler that serves
   * GET at the same URL, which is how Fastify serves HEAD for every GET route (a HEAD route of its
   * own, declared right after, with the same handler and options). They run the same handler, and
   * so call the same dependency: while GET's circuit is open, HEAD requests are refused too,
   * rather than reaching the failing dependency on a breaker of their own, as they would in
   * Express or Koa too, where one middleware serves both. A HEAD route with a handler of its own
   * keeps its own breaker.
   * Returns the URL of the GET route whose breaker counts them, or undefined: that of the route
   * itself, but for the HEAD route Fastify adds at `/prefix/` for a `'/'` route under a prefix,
   * whose GET twins (`/prefix` and `/prefix/`) both count on the breaker `GET /prefix`.
   */
  function sharesGet(methods: string[], handler: Handler, route: RouteOptions): string | undefined {
    const own = unguarded(handler);
    const url = route.url;
    if (methods.includes('GET')) {
      const urls = servesGet.get(own) ?? new Set<string>();
      servesGet.set(own, urls.add(url));
      return url;
    }
    if (!methods.includes('HEAD')) return undefined;
    const urls = servesGet.get(own);
    if (urls?.has(url)) return url;
    const { prefix, routePath } = route as RouteOptions & { prefix?: string; routePath?: string };
    return routePath === '/' && prefix && urls?.has(prefix) ? prefix : undefined;
  }

  // Guards each route's handler when the route is declared (see `guardHandler`), after validating
  // its settings and creating its breakers, so that health documents list every protected route
  // before traffic arrives.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    let routeGuard: Guard | undefined;
    let release: () => void;
    (route as { config?: unknown }).config = { ...route.config, [kSeen]: true };
    const methods = ([] as string[]).concat(route.method);
    // Guarded already by other instances: registered further out, or earlier in this context
    // (Fastify runs their `onRoute` hooks first). On the same breaker as one of them, this nearer
    // one takes its place (see `kGuarded`); on others, it guards their guarded handler.
    const top = guardingOf(route.handler);
    let handler = route.handler as Handler;
    const getUrl = sharesGet(methods, handler, route);
    const headAsGet = getUrl !== undefined;
    // The URL the route's breakers are named after: its GET route's, for HEAD on a GET handler.
    const url = getUrl ?? route.url;
    try {
      routeGuard = guardFor(route.config?.circuitBreaker);
      if (routeGuard === undefined) return;
      const same = sameIn(top, routeGuard, methods, url, headAsGet);
      if (same !== undefined && same.depth > depth) return;
      if (same !== undefined) {
        same.release();
        if (same === top) handler = top.handler;
        else same.bypass();
      }
      release = createBreakers(routeGuard, route, headAsGet);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new TypeError(`${error.message} (route ${String(route.method)} ${route.url})`);
    }
    const guarded = guardHandler(handler, routeGuard, url, release, guardingOf(handler), headAsGet);
    route.handler = guarded as RouteOptions['handler'];
    (route.config as Record<symbol, unknown>)[kGuarded] = guardingOf(guarded);
    if (!onSendEverywhere && routeGuard.mayFallBack()) {
      const hooks = route.onSend === undefined ? [] : ([] as unknown[]).concat(route.onSend);
      (route as { onSend?: unknown }).onSend = [...hooks, onSend];
    }
  });

  /**
   * Guards the handler in the route context that Fastify keeps for `key` (see `routeKeys`), which
   * Fastify reads when it calls the handler, after the route's own hooks: from this request on,
   * the route is admitted as a route `onRoute` saw. False when `key` is not such a context.
   */
  function wrapContext(route: Route, key: object | undefined, method: string): boolean {
    const context = key as { handler?: unknown } | undefined;
    if (context === undefined || typeof context.handler !== 'function') return false;
    route.wrapped = true;
    const guard = route.guard as Guard;
    const url = route.url as string;
    // Guarded by another instance on the same breaker (see `kGuarded`): left to it when it is
    // nearer the route, else taken over (the handler Fastify keeps is bound, so the other guard
    // stays in place, bypassed).
    const config = (context as Configured).config;
    const top = guardingIn(config);
    const same = sameIn(top, guard, [method], url, route.headAsGet);
    if (same !== undefined && same.depth > depth) return true;
    same?.bypass();
    same?.release();
    const guarded = guardHandler(context.handler as Handler, guard, url, noRelease, top, route.headAsGet);
    context.handler = guarded;
    if (config !== undefined) config[kGuarded] = guardingOf(guarded);
    return true;
  }

  /**
   * Guards the routes declared before the plugin loaded (an un-awaited `register`, or routes
   * declared before it), which `onRoute` never saw, from a `preHandler` hook (added only when
   * the app had routes when the plugin loaded): on a route's first request, it guards the
   * handler in Fastify's context of the route (see `wrapContext`), so that the route's own
   * `preHandler` hooks (an auth check's 401) run before admission, as on any other route. Where
   * that context cannot be found, the hook admits the request itself, before the route's own
   * `preHandler` hooks. No closures in here (see `track`).
   */
  function guardEarlierRoutes(request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void {
    let admission: ReturnType<Guard['admit']>;
    let routeGuard: Guard | undefined;
    try {
      const key = routeKey(request);
      const route = routeOf(request, key);
      routeGuard = route.guard;
      if (routeGuard === undefined || route.wrapped || wrapContext(route, key, request.method)) {
        next();
        return;
      }
      admission = gateFor(route, request.method).admit(request);
      if (!(admission instanceof Refusal)) {
        track(request, reply, routeGuard, admission);
        next();
        return;
      }
    } catch (error) {
      next(error as Error);
      return;
    }
    refuse(routeGuard, request, reply, admission, next);
  }
  if (hadRoutes) fastify.addHook('preHandler', guardEarlierRoutes);

  fastify.addHook('onError', function noteError(request: FastifyRequest, _reply: FastifyReply, error: Error, next) {
    const state = tracked(request);
    if (state instanceof HttpCall) state.noteError(error);
    else if (state !== null && state !== undefined) {
      // After the timeout fallback went out, only an error on the fallback's own way out gets
      // here (see `watchSend`): the call was counted as a timeout already.
      if (state.fallbackSent) state.fallbackFailed = true;
      else state.call.noteError(error);
    }
    next();
  });

  if (healthAt !== undefined) {
    const respond = healthResponder({ registry: guard.registry, degradedStatus: healthAt.degradedStatus }, 'health.');
    fastify.get(healthAt.path, { config: { circuitBreaker: false } }, (_request, reply) => {
      sendWire(reply, respond());
    });
  }
};

/**
 * The Fastify plugin (Fastify 4.23+ and 5): every route registered in its scope runs under a
 * circuit breaker, by default one per route (`"GET /users/:id"`), or the `name` option's for
 * all, or `key(request)`'s. Requests are admitted right before the route's handler, after its
 * hooks, body parsing and validation: what those answer is not counted, and `timeoutMs` does not
 * include the time the client takes to send its body. A refused request gets the structured 503
 * (or the fallback) instead of reaching the handler; an admitted one is counted by its status, as
 * a timeout after `timeoutMs`, or not at all when the client goes away first. Routes take
 * `config: { circuitBreaker: { … } }` to override options, or `config: { circuitBreaker: false }`
 * to opt out. Routes declared after the plugin loaded (`await app.register(…)`) have their
 * handler guarded at no other cost; routes declared before it have theirs guarded
 * on their first request, from a `preHandler` hook.
 *
 * @example
 * await app.register(breakwater, { failureThreshold: 5, timeoutMs: 2000, health: true });
 * app.get('/reports', { config: { circuitBreaker: { timeoutMs: 10_000 } } }, handler);
 */
export const breakwater: FastifyPluginAsync<FastifyBreakerOptions> = fp(plugin, {
  fastify: '>=4.23.0 <6.0.0',
  name: '@breakwater/fastify',
});
