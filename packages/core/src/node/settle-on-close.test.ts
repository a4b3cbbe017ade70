import { createServer, IncomingMessage, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, connect, Socket } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BIG_ANSWER, delay, ManualClock, pipelined, readSlowly, until } from '../../../../test/support/index.js';
import { HttpGuard, type HttpOptions, Refusal } from '../http/http-guard.js';
import { Registry } from '../registry/registry.js';
import { settleCut, settleOnClose } from './settle-on-close.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/**
 * A server whose every request runs under one breaker (`orders`, unless `options` name another),
 * settled by `settleOnClose` and timed by `timeoutMs` if given; a refused request gets a bare 503.
 */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  finished?: () => void,
  options: Omit<HttpOptions<IncomingMessage>, 'registry'> = {},
): Promise<{ url: string; registry: Registry }> {
  const registry = new Registry();
  const guard = new HttpGuard<IncomingMessage>({ name: 'orders', ...options, registry });
  server = createServer((req, res) => {
    const call = guard.admit(req);
    if (call instanceof Refusal) {
      res.statusCode = 503;
      res.end();
      return;
    }
    settleOnClose(res, call, finished);
    call.armTimeout();
    handler(req, res);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, registry };
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

  it('counts a response cut short because the stream it was sent from failed as a failure', async () => {
    let cut = 0;
    const { url, registry } = await serve((_req, res) => {
      res.on('close', () => cut++);
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = false;
      const source = new Readable({
        read() {
          if (sent) setTimeout(() => this.destroy(new Error('upstream connection reset')), 10);
          else this.push('first chunk');
          sent = true;
        },
      });
      // The source fails: pipeline destroys the response with its error.
      pipeline(source, res, () => {});
    });

    await fetch(`${url}/pipeline`)
      .then((r) => r.text())
      .catch(() => undefined);
    await until(() => cut === 1);
    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 1, failures: 1 });
  });

  it('settles a response its client cut short as neither, when a failed source is not its own', () => {
    const registry = new Registry();
    const guard = new HttpGuard<IncomingMessage>({ name: 'orders', registry, timeoutMs: 60_000 });
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);
    const call = guard.admit(req);
    if (call instanceof Refusal) throw new Error('expected a permit');
    const failed = new Readable({ read() {} });
    failed.on('error', () => {});
    failed.destroy(new Error('boom'));
    // A client that went away: no error on the response, none on the body given.
    settleCut(res, call, new Readable({ read() {} }));
    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 0, failures: 0 });

    const second = guard.admit(req);
    if (second instanceof Refusal) throw new Error('expected a permit');
    settleCut(res, second, failed);
    expect(registry.get('orders')?.stats()).toMatchObject({ totalCalls: 1, failures: 1 });
    second.abort();
    call.abort();
  });

  it('settles probes queued behind another response on a connection that drops (pipelining)', async () => {
    // Node emits neither `close` nor `finish` on a response still waiting for its turn when the
    // connection drops: without the connection's own `close`, such a probe would stay in flight.
    const registry = new Registry();
    const clock = new ManualClock();
    const guard = new HttpGuard<IncomingMessage>({
      name: 'orders',
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxRequests: 3,
      successThreshold: 5,
    });
    const breaker = guard.breakerFor({} as IncomingMessage);
    breaker.tryAcquire()?.failure(new Error('down'));
    expect(breaker.state).toBe('OPEN');
    clock.advance(1_000);
    const seen: string[] = [];
    server = createServer((req, res) => {
      const call = guard.admit(req);
      if (call instanceof Refusal) throw new Error('expected a probe');
      settleOnClose(res, call);
      seen.push(req.url ?? '');
      // The first never answers; the second answers while it waits its turn; the third never does.
      if (req.url === '/answered') res.end('ok');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const socket = await pipelined(url, ['/slow', '/answered', '/silent']);
    await until(() => seen.length === 3);
    expect(breaker.stats().halfOpenInFlight).toBe(3);
    socket.destroy();
    await until(() => breaker.stats().halfOpenInFlight === 0);

    // The answered one counts as the success it was, the other two as neither (the one failure
    // is the one that opened the circuit).
    expect(breaker.stats()).toMatchObject({ state: 'HALF_OPEN', successes: 1, failures: 1 });
  });

  it('leaves no listener on a keep-alive connection once its responses are over', async () => {
    const registry = new Registry();
    const guard = new HttpGuard<IncomingMessage>({ name: 'orders', registry, timeoutMs: 60_000 });
    const sockets = new Set<Socket>();
    server = createServer((req, res) => {
      const call = guard.admit(req);
      if (call instanceof Refusal) throw new Error('expected a permit');
      settleOnClose(res, call);
      sockets.add(req.socket);
      setTimeout(() => res.end('ok'), req.url === '/first' ? 30 : 0);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const socket = await pipelined(url, ['/first', '/second', '/third']);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    await until(() => (received.match(/HTTP\/1\.1 200/g) ?? []).length === 3);
    await until(() => registry.get('orders')?.stats().successes === 3);

    const [connection] = [...sockets];
    expect(sockets.size).toBe(1);
    // The queued responses watched the connection until their own turn came; none still does.
    const watching = connection?.listeners('close').filter((listener) => listener.name === 'responseOver');
    expect(watching).toEqual([]);
    socket.destroy();
  });
  it('does not time out a response that was ended in time while a slow client reads it', async () => {
    const registry = new Registry();
    const guard = new HttpGuard<IncomingMessage>({ name: 'files', registry, timeoutMs: 100, failureThreshold: 1 });
    const big = Buffer.alloc(16 * 1024 * 1024, 97);
    let slowPath = false;
    server = createServer((req, res) => {
      const call = guard.admit(req);
      if (call instanceof Refusal) throw new Error('expected a permit');
      settleOnClose(res, call);
      call.armTimeout();
      if (req.url === '/slow-upstream') {
        slowPath = true;
        setTimeout(() => res.end('late'), 250);
      } else res.end(big);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const breaker = () => registry.get('files');

    // A client that does not read: the 16 MiB answer stays in the socket's buffers for a while.
    const client = connect(port, '127.0.0.1', () => client.write('GET /file HTTP/1.1\r\nHost: x\r\n\r\n'));
    client.pause();
    await delay(300);
    // Counted when it was ended, by its status, while its client has not read it yet.
    expect(breaker()?.stats()).toMatchObject({ timeouts: 0, failures: 0, successes: 1 });
    expect(breaker()?.state).toBe('CLOSED');

    let received = 0;
    client.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    client.resume();
    await until(() => breaker()?.stats().successes === 1);
    await until(() => received > big.length);
    expect(breaker()?.stats()).toMatchObject({ timeouts: 0, failures: 0, successes: 1 });
    client.destroy();

    // An upstream that has not answered by the deadline is still a timeout.
    const late = await fetch(`http://127.0.0.1:${port}/slow-upstream`);
    expect(await late.text()).toBe('late');
    expect(slowPath).toBe(true);
    expect(breaker()?.stats()).toMatchObject({ timeouts: 1, failures: 1 });
  });
  it('ends a call when its response was ended, not when a slow client finished reading it', async () => {
    const durations: number[] = [];
    // Wide enough that handing 16 MiB to the socket on a loaded machine is not slow.
    const options = { name: 'files', slowCallDurationMs: 250, slowCallRateThreshold: 1 };
    const { url, registry } = await serve(
      (req, res) => {
        if (req.url === '/slow-upstream') setTimeout(() => res.end('late'), 400);
        else res.end(BIG_ANSWER);
      },
      undefined,
      options,
    );
    const breaker = () => registry.get('files');
    // The guard makes its breaker on the first request: made here first, it has the listener.
    registry.getOrCreate('files', options).on('success', ({ durationMs }) => durations.push(durationMs));

    await readSlowly(url, '/file', 700, () => breaker()?.stats().totalCalls === 1);
    expect(breaker()?.stats()).toMatchObject({ successes: 1, slowCalls: 0 });
    expect(durations[0]).toBeLessThan(250);

    // An upstream that takes 400 ms to answer is still slow.
    expect(await (await fetch(`${url}/slow-upstream`)).text()).toBe('late');
    await until(() => breaker()?.stats().successes === 2);
    expect(breaker()?.stats()).toMatchObject({ successes: 2, slowCalls: 1 });
    expect(durations[1]).toBeGreaterThanOrEqual(390);
  });

  it('closes a HALF_OPEN circuit on a probe answered in time, however slowly its client reads', async () => {
    const { url, registry } = await serve(
      (req, res) => {
        res.statusCode = req.url === '/fail' ? 500 : 200;
        res.end(req.url === '/fail' ? 'down' : BIG_ANSWER);
      },
      undefined,
      { name: 'files', timeoutMs: 100, recoveryTimeoutMs: 100, failureThreshold: 1, successThreshold: 1 },
    );
    const breaker = () => registry.get('files');

    expect((await fetch(`${url}/fail`)).status).toBe(500);
    expect(breaker()?.state).toBe('OPEN');
    await delay(120);
    // The probe: 16 MiB answered at once, to a client that reads nothing for 300 ms. Past the
    // probe's own deadline, the circuit is CLOSED, not re-opened by an expired probe.
    const reading = readSlowly(url, '/file', 300, () => breaker()?.stats().successes === 1);
    await delay(200);
    expect(breaker()?.state).toBe('CLOSED');
    await reading;
    expect(breaker()?.stats()).toMatchObject({ successes: 1, timeouts: 0, failures: 1 });
  });
});
