import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { delay } from '../../../../test/support/index.js';
import type { CallEvent } from '../circuit/events.js';
import { CircuitOpenError, isCircuitOpenError } from '../errors/circuit-open-error.js';
import { CircuitTimeoutError } from '../errors/circuit-timeout-error.js';
import { defaultRegistry, Registry } from '../registry/registry.js';
import { createProtectedFetch } from './protected-fetch.js';

const servers: Server[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, urls, hits: () => urls.length };
}

/** An origin nothing listens on: a port just freed. */
async function refusingOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
  return origin;
}

const answer = (code: number) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(code, { 'content-type': 'text/plain' });
  res.end(`status ${code}`);
};

const hang = () => {};

describe('createProtectedFetch: breakers', () => {
  it('keeps one breaker per origin: two servers, two breakers, each counting its own calls', async () => {
    const registry = new Registry();
    const up = await serve(answer(200));
    const down = await serve(answer(500));
    const fetch = createProtectedFetch({ registry });
    await (await fetch(`${up.origin}/a`)).text();
    await (await fetch(new URL(`${up.origin}/b?q=1`))).text();
    await (await fetch(`${down.origin}/c`)).text();
    expect(registry.get(up.origin)?.stats()).toMatchObject({ successes: 2, failures: 0 });
    expect(registry.get(down.origin)?.stats()).toMatchObject({ successes: 0, failures: 1 });
  });

  it('picks the breaker with the key option', async () => {
    const registry = new Registry();
    const server = await serve(answer(200));
    const fetch = createProtectedFetch({ registry, key: (url) => url.pathname.split('/')[1] ?? '' });
    await (await fetch(`${server.origin}/users/1`)).text();
    await (await fetch(`${server.origin}/orders/9`)).text();
    await (await fetch(`${server.origin}/users/2`)).text();
    expect(registry.names().sort()).toEqual(['orders', 'users']);
    expect(registry.get('users')?.stats().successes).toBe(2);
  });

  it('creates breakers with the breaker options given', async () => {
    const registry = new Registry();
    const server = await serve(answer(200));
    const fetch = createProtectedFetch({ registry, failureThreshold: 7, recoveryTimeoutMs: 1_234 });
    await (await fetch(server.origin)).text();
    expect(registry.get(server.origin)?.options).toMatchObject({ failureThreshold: 7, recoveryTimeoutMs: 1_234 });
  });

  it("checks options that go together over the registry's defaults", async () => {
    const registry = new Registry({ defaults: { slowCallDurationMs: 500, slowCallRateThreshold: 0.5 } });
    const server = await serve(answer(200));
    const fetch = createProtectedFetch({ registry, slowCallRateThreshold: 0.8 });
    await (await fetch(server.origin)).text();
    expect(registry.get(server.origin)?.options).toMatchObject({ slowCallDurationMs: 500, slowCallRateThreshold: 0.8 });
  });

  it('uses the default registry when none is given', async () => {
    const server = await serve(answer(200));
    const fetch = createProtectedFetch();
    try {
      await (await fetch(server.origin)).text();
      expect(defaultRegistry.get(server.origin)?.stats().successes).toBe(1);
    } finally {
      defaultRegistry.delete(server.origin);
    }
  });
});

describe('createProtectedFetch: outcomes', () => {
  it('returns a 5xx response, body intact, while counting it as a failure', async () => {
    const registry = new Registry();
    const server = await serve(answer(502));
    const fetch = createProtectedFetch({ registry });
    const res = await fetch(server.origin);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('status 502');
    expect(registry.get(server.origin)?.stats()).toMatchObject({ failures: 1, successes: 0 });
  });

  it('counts a 4xx as a success by default', async () => {
    const registry = new Registry();
    const server = await serve(answer(404));
    const fetch = createProtectedFetch({ registry, failureThreshold: 1 });
    expect((await fetch(server.origin)).status).toBe(404);
    expect(registry.get(server.origin)?.stats()).toMatchObject({ failures: 0, successes: 1, state: 'CLOSED' });
  });

  it('classifies by a failureStatusCodes predicate', async () => {
    const registry = new Registry();
    const teapot = await serve(answer(418));
    const broken = await serve(answer(500));
    const fetch = createProtectedFetch({ registry, failureStatusCodes: (status) => status === 418 });
    await (await fetch(teapot.origin)).text();
    await (await fetch(broken.origin)).text();
    expect(registry.get(teapot.origin)?.stats().failures).toBe(1);
    expect(registry.get(broken.origin)?.stats()).toMatchObject({ failures: 0, successes: 1 });
  });

  it('lets the isFailure option ignore a network error', async () => {
    const registry = new Registry();
    const origin = await refusingOrigin();
    const fetch = createProtectedFetch({ registry, isFailure: () => false, failureThreshold: 1 });
    await expect(fetch(origin)).rejects.toThrow(TypeError);
    expect(registry.get(origin)?.stats()).toMatchObject({ failures: 0, ignored: 1, state: 'CLOSED' });
  });

  it('counts a refused connection as a failure, and rethrows fetch’s error', async () => {
    const registry = new Registry();
    const origin = await refusingOrigin();
    const fetch = createProtectedFetch({ registry, failureThreshold: 1 });
    const error = await fetch(origin).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect(registry.get(origin)?.state).toBe('OPEN');
  });
});

describe('createProtectedFetch: timeouts and aborts', () => {
  it('aborts a hanging request at timeoutMs, counts a timeout and emits the timeout event', async () => {
    const registry = new Registry();
    const server = await serve(hang);
    const fetch = createProtectedFetch({ registry, timeoutMs: 40 });
    const timeouts: CallEvent[] = [];
    registry.getOrCreate(server.origin, { timeoutMs: 40 }).on('timeout', (event) => timeouts.push(event));
    const error = await fetch(`${server.origin}/slow`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(error).toMatchObject({ breaker: server.origin, timeoutMs: 40, code: 'ETIMEDOUT' });
    expect(server.urls).toEqual(['/slow']);
    expect(timeouts).toHaveLength(1);
    expect(registry.get(server.origin)?.stats()).toMatchObject({ timeouts: 1, failures: 1 });
  });

  it('times out even when the caller passes a signal of its own', async () => {
    const registry = new Registry();
    const server = await serve(hang);
    const fetch = createProtectedFetch({ registry, timeoutMs: 40 });
    const caller = new AbortController();
    const error = await fetch(server.origin, { signal: caller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(caller.signal.aborted).toBe(false);
    expect(registry.get(server.origin)?.stats().timeouts).toBe(1);
  });

  it("counts the abort of a Request's own signal as neither", async () => {
    const registry = new Registry();
    const server = await serve(hang);
    const fetch = createProtectedFetch({ registry, timeoutMs: 5_000 });
    const caller = new AbortController();
    const reason = new Error('gave up');
    setTimeout(() => caller.abort(reason), 30);
    const error = await fetch(new Request(server.origin, { signal: caller.signal })).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(registry.get(server.origin)?.stats()).toMatchObject({ totalCalls: 0, failures: 0, timeouts: 0 });
  });

  it("counts the caller's abort as neither without timeoutMs too", async () => {
    const registry = new Registry();
    const server = await serve(hang);
    const fetch = createProtectedFetch({ registry, failureThreshold: 1 });
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 30);
    const error = await fetch(server.origin, { signal: caller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(registry.get(server.origin)?.stats()).toMatchObject({ totalCalls: 0, state: 'CLOSED' });
  });

  it('rejects with the reason of a signal aborted before the call, without counting or sending it', async () => {
    const registry = new Registry();
    const server = await serve(answer(200));
    const fetch = createProtectedFetch({ registry, timeoutMs: 1_000 });
    const reason = new Error('already cancelled');
    const error = await fetch(server.origin, { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(server.hits()).toBe(0);
    expect(registry.get(server.origin)?.stats().totalCalls).toBe(0);
  });

  it('times out at timeoutMs with a fetch that does not stop on its signal, and counts no late success', async () => {
    const registry = new Registry();
    const server = await serve((req, res) => setTimeout(() => answer(200)(req, res), 400));
    // A fetch of the user's that drops the signal it is given.
    const deaf = (input: string | URL | Request) => globalThis.fetch(input);
    const fetch = createProtectedFetch({ registry, timeoutMs: 40, fetch: deaf as typeof globalThis.fetch });
    const started = performance.now();
    const error = await fetch(`${server.origin}/slow`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(performance.now() - started).toBeLessThan(300);
    await delay(500);
    expect(server.urls).toEqual(['/slow']);
    expect(registry.get(server.origin)?.stats()).toMatchObject({ timeouts: 1, successes: 0, failures: 1 });
  });

  it("counts the caller's abort as neither with a fetch that does not stop on its signal", async () => {
    const registry = new Registry();
    const server = await serve((req, res) => setTimeout(() => answer(200)(req, res), 300));
    const deaf = (input: string | URL | Request) => globalThis.fetch(input);
    const fetch = createProtectedFetch({ registry, timeoutMs: 100, fetch: deaf as typeof globalThis.fetch });
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 10);
    const error = await fetch(`${server.origin}/slow`, { signal: caller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    await delay(350);
    expect(registry.get(server.origin)?.stats()).toMatchObject({ totalCalls: 0, timeouts: 0, failures: 0 });
  });

  it.each([
    ['with timeoutMs', 100],
    ['without timeoutMs', undefined],
  ])(
    "settles at once on the caller's abort, %s, with a fetch that does not stop on its signal",
    async (_, timeoutMs) => {
      const registry = new Registry();
      const server = await serve((req, res) => setTimeout(() => answer(200)(req, res), 300));
      const deaf = (input: string | URL | Request) => globalThis.fetch(input);
      const fetch = createProtectedFetch({ registry, timeoutMs, fetch: deaf as typeof globalThis.fetch });
      for (const signal of [AbortSignal.abort(), AbortSignal.timeout(20)]) {
        const started = performance.now();
        const error = await fetch(`${server.origin}/slow`, { signal }).catch((e: unknown) => e);
        expect(error).toBe(signal.reason);
        expect(performance.now() - started).toBeLessThan(250);
      }
      await delay(350);
      expect(registry.get(server.origin)?.stats()).toMatchObject({ totalCalls: 0, timeouts: 0, failures: 0 });
    },
  );

  it("leaves no listener on a caller's signal that outlives its calls", async () => {
    const server = await serve(answer(200));
    const fetch = createProtectedFetch({ registry: new Registry(), timeoutMs: 1_000 });
    const shutdown = new AbortController();
    for (let i = 0; i < 20; i++) expect((await fetch(server.origin, { signal: shutdown.signal })).status).toBe(200);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('drops a late answer whose body cannot be cancelled (a Node stream, as node-fetch gives) without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const nodeFetchLike = async () => {
        await delay(80);
        return { status: 200, ok: true, body: Readable.from(['late']) };
      };
      const fetch = createProtectedFetch({
        registry: new Registry(),
        timeoutMs: 20,
        fetch: nodeFetchLike as unknown as typeof globalThis.fetch,
      });
      await expect(fetch('http://127.0.0.1:9/x')).rejects.toThrow(CircuitTimeoutError);
      await delay(150);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('clears its timer once the response arrives', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const seen: (RequestInit | undefined)[] = [];
    const inner = async (_input: string | URL | Request, init?: RequestInit) => {
      seen.push(init);
      return new Response('ok');
    };
    const fetch = createProtectedFetch({ registry: new Registry(), timeoutMs: 10_000, fetch: inner });
    const pending = fetch('http://127.0.0.1:9/x', { method: 'PUT' });
    expect(vi.getTimerCount()).toBe(1);
    expect((await pending).status).toBe(200);
    expect(vi.getTimerCount()).toBe(0);
    expect(seen[0]?.method).toBe('PUT');
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
  });
});

describe('createProtectedFetch: open circuit', () => {
  it('rejects with CircuitOpenError and retryAfterMs without touching the network, then probes and closes', async () => {
    const clock = { t: 0, now: () => clock.t };
    const registry = new Registry();
    let code = 503;
    const server = await serve((req, res) => answer(code)(req, res));
    const fetch = createProtectedFetch({
      registry,
      clock,
      failureThreshold: 1,
      recoveryTimeoutMs: 20_000,
      successThreshold: 1,
    });
    await (await fetch(server.origin)).text();
    clock.t = 5_000;
    const error = await fetch(`${server.origin}/again`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpenError(error)).toBe(true);
    expect(error).toMatchObject({ breaker: server.origin, state: 'OPEN', retryAfterMs: 15_000 });
    expect(server.hits()).toBe(1);
    code = 200;
    clock.t = 20_000;
    expect((await fetch(`${server.origin}/probe`)).status).toBe(200);
    expect(server.urls).toEqual(['/', '/probe']);
    expect(registry.get(server.origin)?.state).toBe('CLOSED');
  });
});

describe('createProtectedFetch: input and options', () => {
  it('sends a Request as it is: method, headers and body', async () => {
    const registry = new Registry();
    let seen = '';
    const server = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen = `${req.method} ${req.url} ${req.headers['x-trace']} ${body}`;
        answer(200)(req, res);
      });
    });
    const fetch = createProtectedFetch({ registry });
    const request = new Request(`${server.origin}/items?x=1`, {
      method: 'PATCH',
      headers: { 'x-trace': 't-1' },
      body: 'patch body',
    });
    expect((await fetch(request)).status).toBe(200);
    expect(seen).toBe('PATCH /items?x=1 t-1 patch body');
    expect(registry.get(server.origin)?.stats().successes).toBe(1);
  });

  it('rejects (not throws) for a URL it cannot parse, like fetch', async () => {
    const fetch = createProtectedFetch({ registry: new Registry() });
    let pending: Promise<Response> | undefined;
    expect(() => {
      pending = fetch('/relative/only');
    }).not.toThrow();
    await expect(pending).rejects.toThrow(TypeError);
  });

  it.each([
    [{ timeoutMs: 0 }, /Invalid option "timeoutMs": got 0/],
    [{ failureThreshold: -1 }, /Invalid option "failureThreshold": got -1/],
    [{ key: 'origin' }, /Invalid option "key": got "origin", expected a function \(url\) => string/],
    [{ fetch: 'fetch' }, /Invalid option "fetch": got "fetch", expected a fetch function/],
    [{ registry: {} }, /Invalid option "registry"/],
    [{ failureStatusCodes: ['500'] }, /Invalid option "failureStatusCodes"/],
    [{ retries: 2 }, /Unknown option "retries"/],
  ])('rejects %j with a TypeError naming the option', (options, message) => {
    expect(() => createProtectedFetch(options as never)).toThrow(TypeError);
    expect(() => createProtectedFetch(options as never)).toThrow(message);
  });
});
