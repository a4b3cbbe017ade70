import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '@breakwater/core';
import type fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';

type Factory = typeof fastify;

/** Both supported majors, each typed with the current Fastify types (the plugin's API is the same). */
export const frameworks: [string, Factory][] = [
  ['fastify 4', fastify4 as unknown as Factory],
  ['fastify 5', fastify5 as unknown as Factory],
];

/** One pino log line as JSON. */
export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** Fastify options that send pino's output to `lines` instead of stdout. */
export function capturedLogger(lines: LogLine[]): { logger: { level: string; stream: { write(line: string): void } } } {
  return {
    logger: {
      level: 'info',
      stream: {
        write(line: string) {
          lines.push(JSON.parse(line) as LogLine);
        },
      },
    },
  };
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A promise with its resolve function, for holding handlers until the test lets them go. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
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

/** Starts a Fastify app on 127.0.0.1 with an ephemeral port and returns its base URL. */
export async function listenApp(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts a plain Node server (a backup service) on 127.0.0.1 with an ephemeral port. */
export async function listenNode(handler: RequestListener): Promise<Running> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
