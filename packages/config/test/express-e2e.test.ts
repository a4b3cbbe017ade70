// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { circuitBreaker, healthHandler } from '@breakwater/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, parseConfig } from '../src/index.js';

// One YAML file drives an Express app: breaker options, failure statuses and fallbacks all come from it.
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
      fallback:
        enabled: true
        strategy: default
        default_response: { items: [], stale: true }
    pricing:
      failure_threshold: 1
      fallback:
        enabled: false
        strategy: cache
    orders:
      failure_threshold: 1
      fallback:
        strategy: alternative_service
        alternative_service: backup
`;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An app whose upstream answers with `status.current` and counts the requests that reach it. */
async function setup(env: Record<string, string> = { BACKUP_URL: 'http://127.0.0.1:9' }) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const registry = createRegistry(parseConfig(YAML, { env }), { clock });
  const status = { current: 200 };
  let reached = 0;
  const app = express();
  const upstream: express.RequestHandler = (req, res) => {
    reached++;
    res.status(status.current).json({ from: 'upstream', path: req.path });
  };
  app.get('/inventory', circuitBreaker({ name: 'inventory', registry }), upstream);
  app.get('/pricing', circuitBreaker({ name: 'pricing', registry }), upstream);
  app.get('/orders/:id', circuitBreaker({ name: 'orders', registry }), upstream);
  app.get(
    '/inventory-coded',
    circuitBreaker({
      name: 'inventory',
      registry,
      fallback: { strategy: 'default', response: { status: 202, body: 'from code' } },
    }),
    upstream,
  );
  const base = await listen(app);
  return {
    base,
    registry,
    status,
    reached: () => reached,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('a YAML file driving an Express app', () => {
  it('opens on the statuses the file lists (429 here) and serves the file default_response', async () => {
    const { base, status, reached, registry } = await setup();
    status.current = 429;
    for (let i = 0; i < 2; i++) expect((await fetch(`${base}/inventory`)).status).toBe(429);
    expect(registry.get('inventory')?.state).toBe('OPEN');

    const res = await fetch(`${base}/inventory`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-circuit-fallback')).toBe('default');
    expect(await res.json()).toEqual({ items: [], stale: true });
    expect(reached()).toBe(2);
  });

  it('answers the structured 503 where the file turns the fallback off, with Retry-After from recovery_timeout_ms', async () => {
    const { base, status, reached } = await setup();
    status.current = 500;
    expect((await fetch(`${base}/pricing`)).status).toBe(500);

    const res = await fetch(`${base}/pricing`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(await res.json()).toEqual({
      error: 'Service Unavailable',
      message: 'Service pricing is temporarily unavailable',
      circuitBreakerState: 'OPEN',
      retryAfter: 30,
    });
    expect(reached()).toBe(1);
  });

  it('lets requests probe again once the file recovery time has passed', async () => {
    const { base, status, advance, registry } = await setup();
    status.current = 500;
    await fetch(`${base}/pricing`);
    expect((await fetch(`${base}/pricing`)).status).toBe(503);
    advance(29_999);
    expect((await fetch(`${base}/pricing`)).status).toBe(503);
    advance(1);
    status.current = 200;
    expect((await fetch(`${base}/pricing`)).status).toBe(200);
    expect(registry.get('pricing')?.state).toBe('HALF_OPEN');
  });

  it('forwards to the alternative service named through upstreams and an environment variable', async () => {
    const backup = express();
    backup.get('/orders/:id', (req, res) => {
      res.json({ from: 'backup', id: req.params.id });
    });
    const backupUrl = await listen(backup);
    const { base, status } = await setup({ BACKUP_URL: backupUrl });
    status.current = 503;
    expect((await fetch(`${base}/orders/7`)).status).toBe(503);

    const res = await fetch(`${base}/orders/7`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-circuit-fallback')).toBe('alternative_service');
    expect(await res.json()).toEqual({ from: 'backup', id: '7' });
  });

  it("lists the file's services in the health document before any traffic, with options given in code applied", async () => {
    const registry = createRegistry(parseConfig(YAML, { env: { BACKUP_URL: 'http://127.0.0.1:9' } }));
    const app = express();
    app.get('/health', healthHandler({ registry }));
    // Asked for before the route is declared, as a readiness probe would.
    const base = await listen(app);
    const before = (await (await fetch(`${base}/health`)).json()) as { circuit_breakers: Record<string, unknown> };
    expect(Object.keys(before.circuit_breakers).sort()).toEqual(['inventory', 'orders', 'pricing']);

    app.get('/pricing', circuitBreaker({ name: 'pricing', registry, failureThreshold: 3 }), (_req, res) => {
      res.status(500).end();
    });
    for (let i = 0; i < 2; i++) await fetch(`${base}/pricing`);
    // The file says 1; the code's 3 applies: still closed after two failures.
    expect(registry.get('pricing')?.state).toBe('CLOSED');
    await fetch(`${base}/pricing`);
    expect(registry.get('pricing')?.state).toBe('OPEN');
  });

  it('lets a fallback given in code override the file', async () => {
    const { base, status } = await setup();
    status.current = 500;
    for (let i = 0; i < 2; i++) await fetch(`${base}/inventory`);
    const res = await fetch(`${base}/inventory-coded`);
    expect(res.status).toBe(202);
    expect(res.headers.get('x-circuit-fallback')).toBe('default');
    expect(await res.text()).toBe('from code');
  });

  it('counts a status the file does not list (404) as a success', async () => {
    const { base, status, registry } = await setup();
    status.current = 404;
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/inventory`)).status).toBe(404);
    expect(registry.get('inventory')?.state).toBe('CLOSED');
  });
});
