import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { Registry } from '../registry/registry.js';
import { createProtectedFetch } from './protected-fetch.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, hits: () => hits };
}

const status = (code: number) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(code, { 'content-type': 'text/plain' });
  res.end(String(code));
};

describe('createProtectedFetch against real servers', () => {
  it('keeps one breaker per origin by default', async () => {
    const registry = new Registry();
    const a = await serve(status(200));
    const b = await serve(status(200));
    const fetch = createProtectedFetch({ registry });
    await (await fetch(`${a.origin}/x`)).text();
    await (await fetch(`${b.origin}/y?z=1`)).text();
    expect(registry.names().sort()).toEqual([a.origin, b.origin].sort());
  });

  it('returns a 5xx response but counts it as a failure, and then opens without touching the network', async () => {
    const registry = new Registry();
    const upstream = await serve(status(503));
    const fetch = createProtectedFetch({ registry, failureThreshold: 2, recoveryTimeoutMs: 10_000 });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${upstream.origin}/`);
      expect(res.status).toBe(503);
      await res.text();
    }
    const breaker = registry.get(upstream.origin);
    expect(breaker?.state).toBe('OPEN');
    const error = await fetch(`${upstream.origin}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(9_000);
    expect(upstream.hits()).toBe(2);
  });

  it('classifies with failureStatusCodes: a listed 4xx fails, an unlisted 5xx succeeds', async () => {
    const registry = new Registry();
    const limited = await serve(status(429));
    const fetch = createProtectedFetch({ registry, failureStatusCodes: [429], failureThreshold: 1 });
    await (await fetch(`${limited.origin}/`)).text();
    expect(registry.get(limited.origin)?.state).toBe('OPEN');
  });

  it('aborts a hanging request at timeoutMs with CircuitTimeoutError and counts a timeout', async () => {
    const registry = new Registry();
    const hang = await serve(() => {});
    const fetch = createProtectedFetch({ registry, timeoutMs: 50 });
    const error = await fetch(`${hang.origin}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(registry.get(hang.origin)?.stats()).toMatchObject({ timeouts: 1, failures: 1 });
  });

  it('counts a refused connection as a failure', async () => {
    const registry = new Registry();
    const gone = await serve(status(200));
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    const fetch = createProtectedFetch({ registry });
    await expect(fetch(`${gone.origin}/`)).rejects.toThrow();
    expect(registry.get(gone.origin)?.stats().failures).toBe(1);
  });

  it("counts the caller's own abort as neither, and rethrows the caller's reason", async () => {
    const registry = new Registry();
    const hang = await serve(() => {});
    const fetch = createProtectedFetch({ registry, timeoutMs: 5_000 });
    const controller = new AbortController();
    const reason = new Error('user navigated away');
    setTimeout(() => controller.abort(reason), 30);
    const error = await fetch(`${hang.origin}/`, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(registry.get(hang.origin)?.stats()).toMatchObject({ totalCalls: 0, failures: 0, successes: 0 });
  });

  it('accepts Request objects and sends their body', async () => {
    const registry = new Registry();
    let received = '';
    const echo = await serve((req, res) => {
      req.on('data', (chunk) => {
        received += chunk;
      });
      req.on('end', () => status(201)(req, res));
    });
    const fetch = createProtectedFetch({ registry, key: () => 'echo' });
    const res = await fetch(new Request(`${echo.origin}/items`, { method: 'POST', body: '{"a":1}' }));
    expect(res.status).toBe(201);
    expect(received).toBe('{"a":1}');
    expect(registry.get('echo')?.stats().successes).toBe(1);
  });

  it('rejects invalid options with a TypeError naming the option', () => {
    expect(() => createProtectedFetch({ timeoutMs: -5 })).toThrow(/Invalid option "timeoutMs": got -5/);
    expect(() => createProtectedFetch({ key: 'origin' as never })).toThrow(/Invalid option "key"/);
  });
});
