// Helpers shared by the test suites of every package (not a package itself: tests import it
// by relative path). Real servers on 127.0.0.1, a hand-driven clock, promises to hold work.
import { createServer, type RequestListener, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { expect, vi } from 'vitest';

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const running = new Set<Running>();

/** Starts `handler` on 127.0.0.1 with an ephemeral port. */
export async function listen(handler: RequestListener): Promise<Running> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const entry: Running = {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        running.delete(entry);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  running.add(entry);
  return entry;
}

/** Closes every server `listen` started and that is still open. */
export async function closeAll(): Promise<void> {
  await Promise.all([...running].map((entry) => entry.close()));
}

/** A clock the test moves by hand (a breaker's `clock` option). */
export class ManualClock {
  t: number;
  constructor(start = 1_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A promise with its settle functions, for holding work until the test lets it go. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A promise with its resolve function, for holding handlers until the test lets them go. */
export function gate(): { promise: Promise<void>; open(): void } {
  const { promise, resolve } = deferred();
  return { promise, open: () => resolve() };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check()` is true (polling every 5 ms), failing after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await delay(5);
  }
}

/** GETs (or sends `init`) and reads the whole answer. */
export async function request(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; text: string; json(): unknown }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** Runs `count` requests, `concurrency` at a time. */
export async function flood(count: number, concurrency: number, send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await send(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The exact 503 body the SPEC fixes. */
export function rejectionBody(name: string, retryAfter: number): string {
  return `{"error":"Service Unavailable","message":"Service ${name} is temporarily unavailable","circuitBreakerState":"OPEN","retryAfter":${retryAfter}}`;
}

/**
 * Sends GET requests for `paths` at once on one connection (HTTP/1.1 pipelining), so that the
 * server queues each response behind the one before it. Returns the raw socket: destroy it to
 * drop the connection while responses wait their turn.
 */
export async function pipelined(url: string, paths: string[]): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`).join(''));
  return socket;
}

/** An answer large enough to wait in the connection's buffers while its client does not read. */
export const BIG_ANSWER = Buffer.alloc(16 * 1024 * 1024, 97);

/** A stream that gives one chunk, then fails: an upstream whose connection resets mid-body. */
export function failingSource(): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) setTimeout(() => this.destroy(new Error('upstream connection reset')), 10);
      else this.push('first chunk\n');
      sent = true;
    },
  });
}

/** The two ways an adapter settles a call: counted when it finishes, or holding a permit. */
export const CALL_PATHS = [
  ['counted only', {}],
  ['holding a permit', { timeoutMs: 5_000 }],
] as const;

/**
 * Asks `url` three times for a body whose source fails mid-way (see `failingSource`), each read
 * through or given up after 300 ms (Koa 2 leaves such a response open), and expects the three
 * calls that `stats` reads to be counted as failures.
 */
export async function expectCutBodiesFailed(
  url: string,
  stats: () => { totalCalls: number } | undefined,
): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await fetch(url, { signal: AbortSignal.timeout(300) })
      .then((response) => response.text())
      .catch(() => undefined);
  }
  await until(() => stats()?.totalCalls === 3);
  expect(stats()).toMatchObject({ failures: 3, successes: 0 });
}

/** `BIG_ANSWER` as a stream of 64 KiB chunks: a streamed body, which ends only once the client read it. */
export function bigStream(): Readable {
  return Readable.from(
    (function* chunks() {
      for (let at = 0; at < BIG_ANSWER.length; at += 65_536) yield BIG_ANSWER.subarray(at, at + 65_536);
    })(),
  );
}

/**
 * Asks for `path` (answered with `BIG_ANSWER`) from a client that reads nothing for `pauseMs`,
 * then reads it all: the response closes long after it was ended. Resolves once `counted()` and
 * the whole answer was read.
 */
export async function readSlowly(url: string, path: string, pauseMs: number, counted: () => boolean): Promise<void> {
  const { hostname, port } = new URL(url);
  const client = connect(Number(port), hostname);
  client.on('error', () => {});
  client.pause();
  client.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  await delay(pauseMs);
  let received = 0;
  client.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  client.resume();
  await until(() => counted() && received > BIG_ANSWER.length);
  client.destroy();
}

/**
 * Breaker options for `expectSlowReadersNotCounted`: a 300 ms timeout, calls over 200 ms slow (wide
 * enough that handing a large answer to a loaded machine's socket is not slow), both well under
 * the 600 ms its client waits before it reads.
 */
export const SLOW_READER_OPTIONS = { timeoutMs: 300, slowCallDurationMs: 200, slowCallRateThreshold: 1 } as const;

/**
 * Reads `/file` (`BIG_ANSWER`, sent at once) then `/stream` (`bigStream()`) slowly (see
 * `readSlowly`), both under one breaker with `SLOW_READER_OPTIONS`, whose stats `stats` reads:
 * neither is a timeout, and the answer sent at once is no slow call either (it is counted when it
 * was ended; the streamed one, held up by its client, when the deadline found it so).
 */
export async function expectSlowReadersNotCounted(
  url: string,
  stats: () => { totalCalls: number } | undefined,
): Promise<void> {
  await readSlowly(url, '/file', 600, () => stats()?.totalCalls === 1);
  expect(stats()).toMatchObject({ successes: 1, slowCalls: 0, timeouts: 0 });
  // A streamed answer ends only once the client has read it: still no timeout.
  await readSlowly(url, '/stream', 600, () => stats()?.totalCalls === 2);
  expect(stats()).toMatchObject({ successes: 2, timeouts: 0 });
}

/** Headers a slow handler sets about its own answer before it times out (see core's `isAnswerHeader`). */
export const HANDLER_ANSWER_HEADERS: Record<string, string> = {
  'cache-control': 'public, max-age=86400',
  'content-disposition': 'attachment; filename="report.csv"',
  'set-cookie': 'session=abc',
};

/**
 * That a timeout fallback went out without the headers of `HANDLER_ANSWER_HEADERS`, and with
 * `access-control-allow-origin: *` and `content-security-policy: default-src 'self'`, which
 * middleware before the breaker set for every answer.
 */
export function expectFallbackWithoutHandlerHeaders(header: (name: string) => string | null | undefined): void {
  expect(header('x-circuit-fallback')).toBe('default');
  expect(header('access-control-allow-origin')).toBe('*');
  expect(header('content-security-policy')).toBe("default-src 'self'");
  for (const name of Object.keys(HANDLER_ANSWER_HEADERS)) expect(header(name) ?? null).toBeNull();
}

/** A log line as a logger given to an adapter received it. */
export interface LogLine {
  level: 'warn' | 'info' | 'error';
  args: unknown[];
}

/**
 * A console-like logger (`(message)`), or a pino-like one (`child` present, so adapters log
 * `(object, message)`), keeping each line it is given.
 */
export function recordingLogger(kind: 'console' | 'pino'): {
  logger: { warn(...args: unknown[]): void; info(...args: unknown[]): void; error(...args: unknown[]): void };
  lines: LogLine[];
  kind: 'console' | 'pino';
} {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (...args: unknown[]) => {
      lines.push({ level, args });
    };
  const logger = { warn: at('warn'), info: at('info'), error: at('error') };
  return { logger: kind === 'pino' ? Object.assign(logger, { child: () => logger }) : logger, lines, kind };
}

/** Breaker options for `cycleBreaker`. */
export const CYCLE_OPTIONS = { failureThreshold: 1, recoveryTimeoutMs: 1_000, successThreshold: 1 } as const;

/**
 * Drives `send` (one request to a route whose status the test sets) through a breaker's whole
 * cycle on `clock`, under `CYCLE_OPTIONS`: opened by a 500, half-open after the recovery
 * timeout, closed by the probe's 200.
 */
export async function cycleBreaker(
  route: { status: number },
  clock: ManualClock,
  send: () => Promise<unknown>,
): Promise<void> {
  route.status = 500;
  await send();
  route.status = 200;
  clock.advance(1_001);
  await send();
}

/** The log lines of one breaker cycle (see `cycleBreaker`), as each kind of logger receives them. */
export function expectCycleLogged(kind: 'console' | 'pino', lines: LogLine[], name: string): void {
  const seen = lines.map((line) => {
    const message = String(kind === 'pino' ? line.args[1] : line.args[0]);
    const fields = kind === 'pino' ? line.args[0] : JSON.parse(message.slice(message.indexOf('{')));
    const { breaker, from, to } = fields as { breaker?: string; from?: string; to?: string };
    return { level: line.level, message, breaker, from, to };
  });
  expect(seen).toEqual([
    { level: 'warn', message: expect.stringContaining(`"${name}" opened`), breaker: name, from: 'CLOSED', to: 'OPEN' },
    {
      level: 'info',
      message: expect.stringContaining(`"${name}" half-open`),
      breaker: name,
      from: 'OPEN',
      to: 'HALF_OPEN',
    },
    {
      level: 'info',
      message: expect.stringContaining(`"${name}" closed`),
      breaker: name,
      from: 'HALF_OPEN',
      to: 'CLOSED',
    },
  ]);
}

/** Statuses as `request` answers them, and the JSON of the first. */
interface Answer {
  status: number;
  json(): unknown;
}

/**
 * Sends 2 requests to `/orders` that its route breaker ('orders', failureThreshold 2) counts as
 * failures, 8 it refuses, then one to `/users` that succeeds, and checks that the app-wide
 * breaker ('gateway') around both counted the 2 failures and the success, not the refusals.
 */
export async function expectRefusalsNotCountedOutside(
  url: string,
  registry: {
    get(name: string): { stats(): { totalCalls: number } } | undefined;
  },
): Promise<void> {
  for (let i = 0; i < 2; i++) expect((await request(`${url}/orders`)).status).toBe(502);
  const refused: Answer[] = [];
  for (let i = 0; i < 8; i++) refused.push(await request(`${url}/orders`));
  expect((await request(`${url}/users`)).status).toBe(200);
  await until(() => registry.get('gateway')?.stats().totalCalls === 3);

  expect(refused.map((answer) => answer.status)).toEqual(Array(8).fill(503));
  expect(refused[0]?.json()).toMatchObject({ error: 'Service Unavailable', circuitBreakerState: 'OPEN' });
  expect(registry.get('orders')?.stats()).toMatchObject({ state: 'OPEN', failures: 2, rejected: 8 });
  expect(registry.get('gateway')?.stats()).toMatchObject({
    state: 'CLOSED',
    totalCalls: 3,
    failures: 2,
    successes: 1,
    halfOpenInFlight: 0,
  });
}

/**
 * Silences the console for a test and returns the check that nothing was written to it (which
 * also restores it): a breaker without a logger must log nothing.
 */
export function watchConsole(): () => void {
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation(() => undefined),
  );
  return () => {
    for (const spy of spies) {
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    }
  };
}

/**
 * After `cycleBreaker`: the breaker 'orders' opened on the failure, half-opened after the
 * recovery timeout and closed on the probe, and `recording` (absent for no logger) saw it.
 */
export function expectCycle(
  registry: { get(name: string): { stats(): object } | undefined },
  recording: { kind: 'console' | 'pino'; lines: LogLine[] } | undefined,
): void {
  expect(registry.get('orders')?.stats()).toMatchObject({ state: 'CLOSED', failures: 1, successes: 1 });
  if (recording !== undefined) expectCycleLogged(recording.kind, recording.lines, 'orders');
}
