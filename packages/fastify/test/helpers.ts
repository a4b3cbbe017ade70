import type { AddressInfo } from 'node:net';
import type fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';

export {
  BIG_ANSWER,
  bigStream,
  CALL_PATHS,
  delay,
  expectCutBodiesFailed,
  expectFallbackWithoutHandlerHeaders,
  expectRefusalsNotCountedOutside,
  failingSource,
  gate,
  HANDLER_ANSWER_HEADERS,
  listen as listenNode,
  ManualClock,
  pipelined,
  type Running,
  readSlowly,
  SLOW_READER_OPTIONS,
  until,
} from '../../../test/support/index.js';

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

/** Starts a Fastify app on 127.0.0.1 with an ephemeral port and returns its base URL. */
export async function listenApp(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}
