import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../circuit/circuit-breaker.js';
import { CircuitState } from '../circuit/state.js';
import { CircuitOpenError } from '../errors/circuit-open-error.js';
import { Registry } from '../registry/registry.js';
import { FallbackEngine } from './fallback-engine.js';
import type { AlternativeServiceFallbackOptions, RequestInfo } from './types.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function backup(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

function setup(options: Omit<AlternativeServiceFallbackOptions, 'strategy'>, name = 'primary') {
  const registry = new Registry();
  const breaker = new CircuitBreaker({ name });
  const lines: [string, string][] = [];
  const logger = {
    warn: (m: unknown) => void lines.push(['warn', String(m)]),
    info: () => {},
    error: (m: unknown) => void lines.push(['error', String(m)]),
  };
  const engine = new FallbackEngine({ strategy: 'alternative_service', ...options }, { registry, logger });
  const error = new CircuitOpenError(name, CircuitState.OPEN, 1_000, 'open');
  const respond = (info: RequestInfo) => engine.respond(info, {}, error, breaker);
  return { registry, breaker, respond, lines };
}

const text = (body: string | Uint8Array | undefined) =>
  typeof body === 'string' ? body : Buffer.from(body ?? new Uint8Array()).toString();

describe('alternative_service fallback against a real backup server', () => {
  it('forwards method, path and query under the base path, and relays status, headers and body', async () => {
    const server = await backup((_req, res) => {
      res.writeHead(203, {
        'content-type': 'application/json',
        'x-backup': 'yes',
        'set-cookie': ['a=1', 'b=2'],
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      });
      res.end('{"from":"backup"}');
    });
    const { respond, breaker } = setup({ url: `${server.origin}/mirror/` });
    const wire = await respond({ method: 'GET', url: '/products/7?fields=name&x=%20', headers: {} });
    expect(server.received).toMatchObject([{ method: 'GET', url: '/mirror/products/7?fields=name&x=%20', body: '' }]);
    expect(wire?.status).toBe(203);
    expect(text(wire?.body)).toBe('{"from":"backup"}');
    expect(wire?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-backup': 'yes',
      'set-cookie': ['a=1', 'b=2'],
      'x-circuit-fallback': 'alternative_service',
    });
    for (const hopByHop of ['connection', 'keep-alive', 'transfer-encoding', 'content-length']) {
      expect(wire?.headers).not.toHaveProperty(hopByHop);
    }
    expect(breaker.stats().fallbacks).toEqual({ alternative_service: { served: 1, failed: 0 } });
  });

  it('forwards end-to-end headers but not hop-by-hop ones, nor those named in Connection', async () => {
    const server = await backup((_req, res) => res.end('ok'));
    const { respond } = setup({ url: server.origin });
    await respond({
      method: 'GET',
      url: '/',
      headers: {
        host: 'public.example',
        accept: 'application/json',
        'x-request-id': 'req-1',
        'x-multi': ['one', 'two'],
        authorization: 'Bearer token',
        connection: 'keep-alive, X-Private-Hop',
        'x-private-hop': 'secret',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic abc',
        te: 'trailers',
        upgrade: 'websocket',
        'content-length': '999',
      },
    });
    const headers = server.received[0]?.headers ?? {};
    expect(headers).toMatchObject({
      accept: 'application/json',
      'x-request-id': 'req-1',
      'x-multi': 'one, two',
      authorization: 'Bearer token',
      host: new URL(server.origin).host,
    });
    for (const name of ['x-private-hop', 'keep-alive', 'proxy-authorization', 'te', 'upgrade', 'content-length']) {
      expect(headers).not.toHaveProperty(name);
    }
  });

  it('forwards the body of a POST, as a string or as bytes', async () => {
    const server = await backup((req, res, body) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${req.headers['content-type']} ${body}`);
    });
    const { respond } = setup({ url: `${server.origin}/api` });
    const wire = await respond({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json', 'content-length': '7' },
      body: async () => '{"a":1}',
    });
    expect(wire?.status).toBe(201);
    expect(text(wire?.body)).toBe('POST application/json {"a":1}');
    await respond({
      method: 'put',
      url: '/orders/1',
      headers: {},
      body: async () => new TextEncoder().encode('bytes'),
    });
    expect(server.received.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/orders', '{"a":1}'],
      ['PUT', '/api/orders/1', 'bytes'],
    ]);
  });

  it('does not read the body of a GET', async () => {
    const server = await backup((_req, res) => res.end('ok'));
    const { respond } = setup({ url: server.origin });
    const wire = await respond({
      method: 'GET',
      url: '/',
      headers: {},
      body: () => Promise.reject(new Error('must not be read')),
    });
    expect(text(wire?.body)).toBe('ok');
  });

  it('relays a body the backup compressed, decoded and without content-encoding', async () => {
    const server = await backup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gzipSync('compressed payload'));
    });
    const { respond } = setup({ url: server.origin });
    const wire = await respond({ method: 'GET', url: '/', headers: { 'accept-encoding': 'gzip' } });
    expect(text(wire?.body)).toBe('compressed payload');
    expect(wire?.headers).not.toHaveProperty('content-encoding');
  });

  it("does not pass on the client's accept-encoding, so a coding fetch cannot decode never comes back", async () => {
    const server = await backup((req, res) => res.end(String(req.headers['accept-encoding'])));
    const { respond } = setup({ url: server.origin });
    const wire = await respond({ method: 'GET', url: '/', headers: { 'accept-encoding': 'zstd' } });
    expect(server.received[0]?.headers['accept-encoding']).not.toMatch(/zstd/);
    expect(text(wire?.body)).not.toMatch(/zstd/);
  });

  it('relays a 4xx from the backup as it is', async () => {
    const server = await backup((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such product');
    });
    const { respond } = setup({ url: server.origin });
    const wire = await respond({ method: 'GET', url: '/products/0', headers: {} });
    expect(wire?.status).toBe(404);
    expect(text(wire?.body)).toBe('no such product');
  });

  it('relays a redirect from the backup rather than following it', async () => {
    const server = await backup((req, res) => {
      if (req.url === '/orders') res.writeHead(303, { location: '/orders/7' }).end();
      else res.end(`followed to ${req.method} ${req.url}`);
    });
    const { respond } = setup({ url: server.origin });
    const wire = await respond({ method: 'POST', url: '/orders', headers: {}, body: async () => 'item=1' });
    expect(wire?.status).toBe(303);
    expect(wire?.headers.location).toBe('/orders/7');
    expect(server.received.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /orders']);
  });

  it('runs the backup under a breaker of its own, <name>:alternative, in the registry', async () => {
    const server = await backup((_req, res) => res.end('ok'));
    const { respond, registry } = setup({ url: server.origin, timeoutMs: 2_000 }, 'inventory');
    await respond({ method: 'GET', url: '/', headers: {} });
    const own = registry.get('inventory:alternative');
    expect(own).toBeDefined();
    expect(own?.options.timeoutMs).toBe(2_000);
    expect(own?.stats()).toMatchObject({ successes: 1, failures: 0 });
  });

  it('answers undefined when the backup answers 5xx, and counts it against both', async () => {
    const server = await backup((_req, res) => {
      res.writeHead(502);
      res.end('backup is down too');
    });
    const { respond, registry, breaker, lines } = setup({ url: server.origin });
    expect(await respond({ method: 'GET', url: '/', headers: {} })).toBeUndefined();
    expect(registry.get('primary:alternative')?.stats().failures).toBe(1);
    expect(breaker.stats().fallbacks).toEqual({ alternative_service: { served: 0, failed: 1 } });
    expect(lines).toEqual([
      ['warn', expect.stringMatching(/fallback "alternative_service" failed .*backup answered 502/)],
    ]);
  });

  it('answers undefined when the backup refuses connections', async () => {
    const server = await backup((_req, res) => res.end('ok'));
    servers.pop();
    await new Promise((resolve) => server.server.close(resolve));
    const { respond, registry, breaker, lines } = setup({ url: server.origin });
    expect(await respond({ method: 'GET', url: '/', headers: {} })).toBeUndefined();
    expect(registry.get('primary:alternative')?.stats().failures).toBe(1);
    expect(breaker.stats().fallbacks.alternative_service).toEqual({ served: 0, failed: 1 });
    expect(lines).toEqual([['error', expect.stringMatching(/fallback "alternative_service" failed .*fetch failed/)]]);
  });

  it('answers undefined once timeoutMs passes when the backup hangs', async () => {
    const server = await backup(() => {});
    const { respond, registry, breaker } = setup({ url: server.origin, timeoutMs: 50 });
    expect(await respond({ method: 'GET', url: '/slow', headers: {} })).toBeUndefined();
    expect(server.received).toHaveLength(1);
    expect(breaker.stats().fallbacks.alternative_service).toEqual({ served: 0, failed: 1 });
    await vi.waitFor(() => expect(registry.get('primary:alternative')?.stats().timeouts).toBe(1));
  });

  it('stops calling a backup whose own breaker is open', async () => {
    const server = await backup((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const { respond, registry } = setup({ url: server.origin, breaker: { failureThreshold: 2 } });
    for (let i = 0; i < 4; i++) expect(await respond({ method: 'GET', url: '/', headers: {} })).toBeUndefined();
    expect(registry.get('primary:alternative')?.state).toBe('OPEN');
    expect(server.received).toHaveLength(2);
  });
});
