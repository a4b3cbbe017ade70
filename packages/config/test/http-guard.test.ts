// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CachedResponse, type CacheStore, HttpGuard, Refusal, type RequestInfo } from '@breakwater/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, effectiveOptions, parseConfig } from '../src/index.js';

// A file's declarations as every HTTP adapter sees them: through core's HttpGuard, which the
// Express, Koa and Fastify adapters delegate to.
const YAML = `
upstreams:
  backup: \${BACKUP_URL}
circuit_breakers:
  default:
    failure_threshold: 2
    recovery_timeout_ms: 30000
  services:
    inventory:
      failure_status_codes: [500, 429]
      fallback: { strategy: default, default_response: { items: [], stale: true } }
    pricing:
      failure_threshold: 1
      fallback: { enabled: false, strategy: cache }
    payment-service:
      failure_threshold: 1
      fallback: { strategy: cache, cache_key: "payment:fallback" }
    orders:
      failure_threshold: 1
      fallback: { strategy: alternative_service, alternative_service: backup }
`;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A plain in-memory cache store, as adapters pass one in. */
const memoryStore = (): CacheStore => {
  const entries = new Map<string, CachedResponse>();
  return { get: (key) => entries.get(key), set: (key, value) => entries.set(key, value) };
};

function setup(env: Record<string, string> = { BACKUP_URL: 'http://127.0.0.1:9' }) {
  const registry = createRegistry(parseConfig(YAML, { env }), { clock: { now: () => 5_000 } });
  const guard = (name: string) => new HttpGuard<RequestInfo>({ name, registry }, { memoryStore });
  return { registry, guard };
}

const info = (url: string): RequestInfo => ({ method: 'GET', url, headers: {} });

/** One request through the guard: the upstream answers `status`, unless the breaker refuses. */
async function request(guard: HttpGuard<RequestInfo>, url: string, status: number) {
  const req = info(url);
  const admission = guard.admit(req);
  if (admission instanceof Refusal) return guard.refusal(req, req, admission.error, admission.breaker);
  admission.complete(status);
  return { status, headers: {}, body: 'upstream' };
}

const text = (body: string | Uint8Array) => (typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));

describe('declarations from a file, through HttpGuard', () => {
  it('counts the statuses the file lists (429) and answers with the file default_response', async () => {
    const { guard, registry } = setup();
    const inventory = guard('inventory');
    await request(inventory, '/inventory', 429);
    await request(inventory, '/inventory', 429);
    expect(registry.get('inventory')?.state).toBe('OPEN');
    const refused = await request(inventory, '/inventory', 200);
    expect(refused.status).toBe(200);
    expect(refused.headers).toMatchObject({ 'x-circuit-fallback': 'default' });
    expect(JSON.parse(text(refused.body))).toEqual({ items: [], stale: true });
  });

  it('treats a status the file does not list (502) as a success for that breaker', async () => {
    const { guard, registry } = setup();
    const inventory = guard('inventory');
    for (let i = 0; i < 3; i++) await request(inventory, '/inventory', 502);
    expect(registry.get('inventory')?.state).toBe('CLOSED');
  });

  it('sends the structured 503, Retry-After from recovery_timeout_ms, where the fallback is off', async () => {
    const { guard } = setup();
    const pricing = guard('pricing');
    await request(pricing, '/pricing', 500);
    const refused = await request(pricing, '/pricing', 200);
    expect(refused.status).toBe(503);
    expect(refused.headers).toMatchObject({ 'retry-after': '30' });
    expect(JSON.parse(text(refused.body))).toEqual({
      error: 'Service Unavailable',
      message: 'Service pricing is temporarily unavailable',
      circuitBreakerState: 'OPEN',
      retryAfter: 30,
    });
  });

  it('serves the response cached under the fixed cache_key to any request', async () => {
    const { guard, registry } = setup();
    const payment = guard('payment-service');
    const engine = payment.engine('payment-service');
    engine?.remember(
      info('/pay/1'),
      info('/pay/1'),
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":1}' },
      5_000,
    );
    await request(payment, '/pay/2', 500);
    expect(registry.get('payment-service')?.state).toBe('OPEN');
    const refused = await request(payment, '/pay/3', 200);
    expect(refused.status).toBe(200);
    expect(refused.headers).toMatchObject({ 'x-circuit-fallback': 'cache' });
    expect(text(refused.body)).toBe('{"ok":1}');
  });

  it('forwards to the upstreams entry the fallback names, its URL from the environment', async () => {
    const backup = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ from: 'backup', url: req.url }));
    });
    servers.push(backup.listen(0, '127.0.0.1'));
    await once(backup, 'listening');
    const { guard } = setup({ BACKUP_URL: `http://127.0.0.1:${(backup.address() as AddressInfo).port}` });
    const orders = guard('orders');
    await request(orders, '/orders/7', 503);
    const refused = await request(orders, '/orders/7?full=1', 200);
    expect(refused.status).toBe(200);
    expect(refused.headers).toMatchObject({ 'x-circuit-fallback': 'alternative_service' });
    expect(JSON.parse(text(refused.body))).toEqual({ from: 'backup', url: '/orders/7?full=1' });
  });

  it('lets the adapter own options override the file: fallback, statuses and breaker options', async () => {
    const { registry } = setup();
    const coded = new HttpGuard<RequestInfo>(
      {
        name: 'inventory',
        registry,
        failureThreshold: 1,
        failureStatusCodes: [418],
        fallback: { strategy: 'default', response: { status: 202, body: 'from code' } },
      },
      { memoryStore },
    );
    await request(coded, '/inventory', 429);
    expect(registry.get('inventory')?.state).toBe('CLOSED');
    await request(coded, '/inventory', 418);
    const refused = await request(coded, '/inventory', 200);
    expect(refused.status).toBe(202);
    expect(text(refused.body)).toBe('from code');
  });
});

describe('failure statuses a breaker gets, and what print says it gets', () => {
  const FILE = `
circuit_breakers:
  default:
    failure_threshold: 1
    failure_status_codes: [429, 500]
  services:
    listed: {}
  hierarchical:
    groups:
      g: { services: [member] }
`;

  /** Whether one response of `status` opens the breaker `name` (failure_threshold is 1). */
  async function counts(name: string, status: number): Promise<boolean> {
    const registry = createRegistry(parseConfig(FILE, { env: {} }));
    await request(new HttpGuard<RequestInfo>({ name, registry }, { memoryStore }), `/${name}`, status);
    return registry.get(name)?.state === 'OPEN';
  }

  it('gives default failure_status_codes to the services and group members the file names', async () => {
    expect(await counts('listed', 429)).toBe(true);
    expect(await counts('member', 429)).toBe(true);
    expect(await counts('listed', 503)).toBe(false);
  });

  it('classifies a name the file never mentions by status >= 500, and print says so', async () => {
    expect(await counts('unnamed', 429)).toBe(false);
    expect(await counts('unnamed', 503)).toBe(true);
    const shown = effectiveOptions(parseConfig(FILE, { env: {} }));
    expect(shown.defaults.failureStatusCodes).toBeUndefined();
    expect(shown.breakers.map((b) => [b.name, b.failureStatusCodes])).toEqual([
      ['listed', [429, 500]],
      ['member', [429, 500]],
    ]);
  });
});
