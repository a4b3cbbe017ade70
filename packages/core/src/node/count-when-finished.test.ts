import { createServer, IncomingMessage, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, connect, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../../test/support/index.js';
import { type HttpCall, HttpGuard, type HttpOptions, Refusal } from '../http/http-guard.js';
import { Registry } from '../registry/registry.js';
import { countWhenFinished } from './count-when-finished.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

function admit(guard: HttpGuard<IncomingMessage>, req: IncomingMessage): HttpCall {
  const call = guard.admit(req);
  if (call instanceof Refusal) throw new Error('expected the call to be admitted');
  return call;
}

/**
 * A server whose every request runs under one breaker per entry of `names`, each counted by
 * `countWhenFinished`; `listeners` records how many `close` listeners the response had once
 * they were all watching it.
 */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: Omit<HttpOptions<IncomingMessage>, 'name' | 'registry'> = {},
  names = ['orders'],
): Promise<{ url: string; registry: Registry; listeners: number[] }> {
  const registry = new Registry();
  const guards = names.map((name) => new HttpGuard<IncomingMessage>({ ...options, name, registry }));
  const listeners: number[] = [];
  server = createServer((req, res) => {
    const before = res.listenerCount('close');
    for (const guard of guards) countWhenFinished(res, admit(guard, req));
    listeners.push(res.listenerCount('close') - before);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, registry, listeners };
}

describe('countWhenFinished', () => {
  it('counts a call that holds no permit by the status its response finished with, adding no listener', async () => {
    let status = 200;
    const { url, registry, listeners } = await serve((_req, res) => {
      res.statusCode = status;
      res.end('done');
    });

    expect((await fetch(url)).status).toBe(200);
    status = 503;
    expect((await fetch(url)).status).toBe(503);
    status = 404;
    expect((await fetch(url)).status).toBe(404);
    await until(() => registry.get('orders')?.stats().totalCalls === 3);

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 2, failures: 1 });
    // The finish comes from Node's diagnostics channel, not from a listener on the response.
    expect(listeners).toEqual([0, 0, 0]);
  });

  it('counts nothing for a response whose client went away before it finished', async () => {
    let closed = false;
    const { url, registry } = await serve((_req, res) => {
      res.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });

    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    expect(response.status).toBe(200);
    controller.abort();
    await until(() => closed);
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
    // Settled all the same, as neither: the breaker has no request in flight left.
    await until(() => registry.get('orders')?.httpInFlight === 0);
  });

  it('counts every call that watches the same response', async () => {
    const { url, registry } = await serve(
      (_req, res) => {
        res.statusCode = 500;
        res.end();
      },
      {},
      ['gateway', 'orders', 'users'],
    );

    expect((await fetch(url)).status).toBe(500);
    await until(() => registry.get('users')?.stats().totalCalls === 1);

    for (const name of ['gateway', 'orders', 'users']) {
      expect(registry.get(name)?.stats()).toMatchObject({ totalCalls: 1, failures: 1 });
    }
  });

  it('counts each response of a connection, pipelined ones included', async () => {
    const { url, registry, listeners } = await serve((req, res) => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      // The first answer waits, so that the second request queues behind it on the connection.
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 30);
      else res.end('done');
    });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fail HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => registry.get('orders')?.stats().totalCalls === 2);
    socket.write('GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await until(() => registry.get('orders')?.stats().totalCalls === 3);
    // Each body runs straight into the next status line: no `^` in these patterns.
    await until(() => (received.match(/HTTP\/1\.1 \d+/g) ?? []).length === 3);
    socket.destroy();

    expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 500', 'HTTP/1.1 200']);
    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 2, failures: 1 });
    // The pipelined response had no connection yet when it was watched: it got a listener.
    expect(listeners).toEqual([0, 1, 0]);
  });

  it('settles a call that holds a permit on close, so that a client going away gives the permit back', async () => {
    // With `timeoutMs`, calls hold a permit; one that is never given back would stay in flight.
    let closed = false;
    const { url, registry, listeners } = await serve(
      (req, res) => {
        res.on('close', () => {
          closed = true;
        });
        if (req.url === '/partial') res.write('partial');
        else res.end('done');
      },
      { timeoutMs: 60_000 },
    );

    expect((await fetch(url)).status).toBe(200);
    const controller = new AbortController();
    await fetch(`${url}/partial`, { signal: controller.signal });
    controller.abort();
    await until(() => closed);
    await until(() => registry.get('orders')?.stats().totalCalls === 1);

    expect(registry.get('orders')?.stats()).toMatchObject({ successes: 1, failures: 0 });
    expect(listeners).toEqual([1, 1]);
  });

  it('watches a response that no Node HTTP server serves with a listener, since nothing publishes its finish', () => {
    const registry = new Registry();
    const guard = new HttpGuard<IncomingMessage>({ name: 'orders', registry });
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);

    countWhenFinished(res, admit(guard, req));
    expect(res.listenerCount('close')).toBe(1);
    res.emit('close');

    // Closed without being ended: neither success nor failure, and settled.
    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
  });
});
