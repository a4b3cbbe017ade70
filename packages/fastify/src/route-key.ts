import type { FastifyRequest } from 'fastify';

type Keyed = Record<symbol, unknown>;

/**
 * Finds one object per route that requests can be looked up by, cheaply. Fastify's public
 * `request.routeOptions` builds a new object on every read, so the returned function reads the
 * route context that Fastify 4 and 5 keep on each request under a symbol of their own
 * (`fastify.context`). The symbol is looked for on the first request and checked against
 * `routeOptions`; when it is not there, or a request lacks it, the route's `config` object from
 * `routeOptions` stands in. Make one per plugin instance: each copy of Fastify has its own symbol.
 */
export function routeKeys(): (request: FastifyRequest) => object | undefined {
  let contextKey: symbol | null | undefined;
  return (request) => {
    if (contextKey === undefined) contextKey = findContextKey(request);
    if (contextKey !== null) {
      const context = (request as unknown as Keyed)[contextKey];
      if (typeof context === 'object' && context !== null) return context;
    }
    const config: unknown = request.routeOptions.config;
    return typeof config === 'object' && config !== null ? config : undefined;
  };
}

function findContextKey(request: FastifyRequest): symbol | null {
  const config: unknown = request.routeOptions.config;
  for (const key of Object.getOwnPropertySymbols(request)) {
    if (key.description !== 'fastify.context') continue;
    const context = (request as unknown as Keyed)[key];
    if (typeof context === 'object' && context !== null && (context as { config?: unknown }).config === config) {
      return key;
    }
  }
  return null;
}
