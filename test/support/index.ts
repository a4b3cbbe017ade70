// Helpers shared by the test suites of every package (not a package itself: tests import it
// by relative path). Real servers on 127.0.0.1, a hand-driven clock, promises to hold work.
import { createServer, type RequestListener, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

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
