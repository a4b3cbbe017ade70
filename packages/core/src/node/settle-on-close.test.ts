import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpGuard, Refusal } from '../http/http-guard.js';
import { Registry } from '../registry/registry.js';
import { settleOnClose } from './settle-on-close.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A server whose every request runs under the `orders` breaker, settled by `settleOnClose`. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  finished?: () => void,
): Promise<{ url: string; registry: Registry }> {
  const registry = new Registry();
  const guard = new HttpGuard<IncomingMessage>({ name: 'orders', registry });
  server = createServer((req, res) => {
    const call = guard.admit(req);
    if (call instanceof Refusal) throw new Error('expected a permit');
    settleOnClose(res, call, finished);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, registry };
}

async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > 5_000) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('settleOnClose', () => {
  it('counts a finished response by its status, then calls finished', async () => {
    const finished = vi.fn();
    let status = 200;
    const { url, registry } = await serve((_req, res) => {
      res.statusCode = status;
      res.end('done');
    }, finished);

    expect((await fetch(url)).status).toBe(200);
    status = 503;
    expect((await fetch(url)).status).toBe(503);
    await until(() => finished.mock.calls.length === 2);

    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 2, successes: 1, failures: 1 });
  });

  it('counts a response whose client went away first as neither, without calling finished', async () => {
    const finished = vi.fn();
    let closed = false;
    const { url, registry } = await serve((_req, res) => {
      res.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    }, finished);

    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    expect(response.status).toBe(200);
    controller.abort();
    await until(() => closed);

    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, successes: 0, failures: 0 });
    expect(finished).not.toHaveBeenCalled();
  });
});
