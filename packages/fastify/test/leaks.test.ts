import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { type CircuitBreaker, CircuitState, Registry } from '@breakwater/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import breakwater from '../src/index.js';
import { delay, frameworks, listenApp, until } from './helpers.js';

// Thousands of requests over a few connections of a real server: the only way to reach the
// adapter's real-connection paths (`inject` never does). Without `timeoutMs`, a call in a CLOSED
// circuit holds no permit and is counted from Node's `http.server.response.finish` channel,
// through a record core keeps on each socket; with `timeoutMs`, it holds a permit and is settled
// by a `close` listener on the response (and, for a pipelined response still waiting its turn, on
// the connection). Neither may leave anything behind, nor count anything twice.

/** Keep-alive connections the client keeps open, and requests it has in flight at once over them. */
const CONNECTIONS = 4;
const CONCURRENCY = 8;
const WARM = 100;
const TOTAL = 3_000;
/**
 * Raw connections that pipeline their requests, and how many requests are written at once on
 * each: few enough that the responses waiting their turn stay under Node's 10 listeners an event
 * (a timed call queued behind another response listens to its connection's `close`, two for an
 * `/n` response), then as many as a pipelining client may send (see the `DEEP` test).
 */
const PIPELINES = 2;
const SHALLOW = { depth: 5, rounds: 60 };
const DEEP = { depth: 30, rounds: 3 };

const A = 'GET /a/:code';
const S = 'GET /s/:code';
const N = 'GET /n/:code';
/** The breaker of the nested plugin instance, which watches `/n` responses too. */
const INNER = 'inner';
const NAMES = [A, S, N, INNER];

/** One kind of request: the status it gets, and the breakers that count it. */
interface Sent {
  path: string;
  status: number;
  breakers: string[];
}

/**
 * What requests ask for, in turn. `/a` routes answer from an async handler (some after a turn of
 * the event loop), `/s` routes from a callback-style one; `/a/throw` throws (a 500 noted by
 * `onError`); `/n` routes are declared in a scope with a plugin instance of its own, so two
 * breakers watch each of their responses; `/missing` is Fastify's own 404, under no breaker. One
 * failure in five, never two in a row: far below the trip rules the apps are built with.
 */
const PATTERN: Sent[] = [
  { path: '/a/200', status: 200, breakers: [A] },
  { path: '/s/200', status: 200, breakers: [S] },
  { path: '/n/200', status: 200, breakers: [N, INNER] },
  { path: '/a/404', status: 404, breakers: [A] },
  { path: '/s/500', status: 500, breakers: [S] },
  { path: '/missing', status: 404, breakers: [] },
  { path: '/n/404', status: 404, breakers: [N, INNER] },
  { path: '/a/200', status: 200, breakers: [A] },
  { path: '/s/404', status: 404, breakers: [S] },
  { path: '/a/throw', status: 500, breakers: [A] },
  { path: '/n/500', status: 500, breakers: [N, INNER] },
  { path: '/s/200', status: 200, breakers: [S] },
  { path: '/a/200', status: 200, breakers: [A] },
  { path: '/n/200', status: 200, breakers: [N, INNER] },
  { path: '/missing', status: 404, breakers: [] },
];

const SOCKET_EVENTS = ['close', 'end', 'error', 'timeout'] as const;
const PROCESS_EVENTS = ['unhandledRejection', 'uncaughtException', 'warning'] as const;
const BREAKER_EVENTS = ['stateChange', 'success', 'failure', 'timeout', 'reject', 'fallback'] as const;

type Path = 'channel' | 'permit';
const configurations: [string, { timeoutMs?: number }, Path][] = [
  ['default options (counted from the finish channel)', {}, 'channel'],
  ['timeoutMs (calls hold permits, settled when the response closes)', { timeoutMs: 5_000 }, 'permit'],
];

type Counts = { successes: number; failures: number };

/** What the breakers must have counted of `sent`, and the answers it must have got, by `path status`. */
function expectations(sent: Sent[]): { counts: Record<string, Counts>; answers: Record<string, number> } {
  const counts: Record<string, Counts> = {};
  const answers: Record<string, number> = {};
  for (const { path, status, breakers } of sent) {
    answers[`${path} ${status}`] = (answers[`${path} ${status}`] ?? 0) + 1;
    for (const name of breakers) {
      counts[name] ??= { successes: 0, failures: 0 };
      if (status >= 500) counts[name].failures++;
      else counts[name].successes++;
    }
  }
  return { counts, answers };
}

/** The `count` requests after the first `from` of the pattern, repeated. */
function requests(from: number, count: number): Sent[] {
  return Array.from({ length: count }, (_, i) => PATTERN[(from + i) % PATTERN.length] as Sent);
}

/**
 * The values of `target`'s properties keyed by a symbol of `description`: the adapter's and
 * core's symbols are private (and each plugin instance has its own).
 */
function bySymbol(target: object, description: string): unknown[] {
  return Object.getOwnPropertySymbols(target)
    .filter((symbol) => symbol.description === description)
    .map((symbol) => (target as Record<symbol, unknown>)[symbol]);
}

/** Core's per-connection record of the calls waiting for a response to finish (`Watched`). */
interface Watched {
  call: unknown;
  more: unknown;
}

function watchedOf(socket: Socket): Watched | undefined {
  return bySymbol(socket, 'breakwater.watched')[0] as Watched | undefined;
}

/** What is left of an admitted call once it is over, read through its private fields. */
interface CallInternals {
  settled: boolean;
  timedOut: boolean;
  response: unknown;
  ended: unknown;
  timer: unknown;
  permit: { settled: boolean } | undefined;
}

function listenerCounts(emitter: NodeJS.EventEmitter, events: readonly string[]): Record<string, number> {
  return Object.fromEntries(events.map((event) => [event, emitter.listenerCount(event)]));
}

/**
 * A connection's listeners, but for the one `close` listener that comes with its record of
 * watched calls (core's `countWhenFinished`): one per connection, made with the record on the
 * connection's first watched response, which with pipelining may come in any round.
 */
function connectionListeners(socket: Socket): Record<string, number> {
  const counts = listenerCounts(socket, SOCKET_EVENTS);
  if (watchedOf(socket) !== undefined) counts.close = (counts.close ?? 0) - 1;
  return counts;
}

function breakerListenerCounts(breaker: CircuitBreaker): Record<string, number> {
  return Object.fromEntries(BREAKER_EVENTS.map((event) => [event, breaker.listenerCount(event)]));
}

/** GETs `path` on the keep-alive `agent` and reads the answer through; resolves to its status. */
function get(agent: http.Agent, url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}${path}`, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/**
 * A raw connection that pipelines its requests: `send` writes them all at once and resolves to
 * the statuses of their responses, in order, once all arrived (no body here holds a status line).
 */
async function pipeline(url: string): Promise<{ socket: Socket; send(paths: string[]): Promise<number[]> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setEncoding('latin1');
  let received = '';
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  const statuses = () => [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
  return {
    socket,
    async send(paths) {
      received = '';
      socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`).join(''));
      await until(() => statuses().length >= paths.length, 5_000);
      return statuses();
    },
  };
}

describe.each(frameworks)('%s', (_label, fastify) => {
  let app: FastifyInstance | undefined;
  let agent: http.Agent | undefined;
  const clients: Socket[] = [];
  let rejections: unknown[];
  let warnings: Error[];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeEach(() => {
    rejections = [];
    warnings = [];
    process.on('unhandledRejection', onRejection);
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    process.off('unhandledRejection', onRejection);
    process.off('warning', onWarning);
    agent?.destroy();
    agent = undefined;
    for (const socket of clients.splice(0)) socket.destroy();
    app?.server.closeAllConnections();
    await app?.close();
    app = undefined;
  });

  /**
   * An app with the plugin (and a nested instance for `/n`) whose circuits never trip on the
   * pattern's failures; it keeps every request a guarded handler saw, and every connection.
   */
  async function build(options: { timeoutMs?: number }) {
    const registry = new Registry();
    const server = fastify();
    app = server;
    const rules = { failureThreshold: 1_000, failureRateThreshold: 0.9 };
    await server.register(breakwater, { registry, ...rules, ...options });
    const admitted: FastifyRequest[] = [];
    let turn = 0;
    server.get<{ Params: { code: string } }>('/a/:code', async (request, reply) => {
      admitted.push(request);
      if (turn++ % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (request.params.code === 'throw') throw new Error('boom');
      return reply.code(Number(request.params.code)).send({ code: request.params.code });
    });
    server.get<{ Params: { code: string } }>('/s/:code', (request, reply: FastifyReply) => {
      admitted.push(request);
      reply.code(Number(request.params.code)).send({ code: request.params.code });
    });
    await server.register(async (scope) => {
      await scope.register(breakwater, { registry, name: INNER, ...rules, ...options });
      scope.get<{ Params: { code: string } }>('/n/:code', async (request, reply) => {
        admitted.push(request);
        return reply.code(Number(request.params.code)).send({ code: request.params.code });
      });
    });
    const sockets = new Set<Socket>();
    server.server.on('connection', (socket: Socket) => sockets.add(socket));
    const url = await listenApp(server);
    const breakers = NAMES.map((name) => {
      const breaker = registry.get(name);
      if (breaker === undefined) throw new Error(`no breaker ${name}`);
      return breaker;
    });
    /** Whether the breakers counted `sent` (in total) and no connection waits for a response. */
    const settled = (sent: Sent[]) => {
      const { counts } = expectations(sent);
      return (
        breakers.every((breaker) => {
          const expected = counts[breaker.name] ?? { successes: 0, failures: 0 };
          return breaker.stats().totalCalls === expected.successes + expected.failures;
        }) && [...sockets].every((socket) => watchedOf(socket)?.call === undefined)
      );
    };
    return { registry, admitted, sockets, url, breakers, settled };
  }

  /** What may grow with the connections or the breakers, but never with the requests. */
  function listenersOf(sockets: Socket[], breakers: CircuitBreaker[]) {
    return {
      sockets: sockets.map(connectionListeners),
      process: listenerCounts(process, PROCESS_EVENTS),
      breakers: breakers.map(breakerListenerCounts),
    };
  }

  /**
   * That the breakers counted exactly `sent`, stayed CLOSED and idle; that every admitted call was
   * settled on the path its options choose and holds nothing (no response, no armed timer, no
   * permit left to give back); that no connection keeps a watched call (the channel path leaves
   * its reusable record empty, the permit path never makes one); and that nothing was rejected
   * unhandled or warned of too many listeners.
   */
  async function expectClean(
    built: Awaited<ReturnType<typeof build>>,
    sent: Sent[],
    path: Path,
    watching: Socket[],
  ): Promise<void> {
    const { registry, admitted, breakers } = built;
    const { counts } = expectations(sent);
    expect(registry.names().sort()).toEqual([...NAMES].sort());
    for (const breaker of breakers) {
      const stats = breaker.stats();
      const expected = counts[breaker.name] ?? { successes: Number.NaN, failures: Number.NaN };
      expect({
        name: stats.name,
        state: stats.state,
        successes: stats.successes,
        failures: stats.failures,
        totalCalls: stats.totalCalls,
        timeouts: stats.timeouts,
        rejected: stats.rejected,
        ignored: stats.ignored,
        halfOpenInFlight: stats.halfOpenInFlight,
      }).toEqual({
        name: breaker.name,
        state: CircuitState.CLOSED,
        successes: expected.successes,
        failures: expected.failures,
        totalCalls: expected.successes + expected.failures,
        timeouts: 0,
        rejected: 0,
        ignored: 0,
        halfOpenInFlight: 0,
      });
    }

    expect(admitted).toHaveLength(sent.filter((request) => request.breakers.length > 0).length);
    let calls = 0;
    for (const request of admitted) {
      const tracked = bySymbol(request, 'breakwater.tracked') as CallInternals[];
      expect(tracked).toHaveLength(request.url.startsWith('/n/') ? 2 : 1);
      for (const call of tracked) {
        calls++;
        expect(call?.constructor.name).toBe('HttpCall');
        const { settled, timedOut, response, ended, timer, permit } = call;
        expect({ settled, timedOut, response, ended, timer }).toEqual({
          settled: true,
          timedOut: false,
          response: undefined,
          ended: undefined,
          timer: undefined,
        });
        if (path === 'channel') expect(permit).toBeUndefined();
        else expect(permit?.settled).toBe(true);
      }
    }
    expect(calls).toBe(sent.reduce((sum, request) => sum + request.breakers.length, 0));

    for (const socket of watching) {
      const watched = watchedOf(socket);
      if (path === 'channel') {
        expect(watched).toBeDefined();
        expect(watched?.call).toBeUndefined();
        expect(watched?.more).toBeUndefined();
      } else {
        expect(watched).toBeUndefined();
      }
    }

    await delay(20);
    expect(rejections).toEqual([]);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  }

  /**
   * `rounds` rounds of `depth` requests written at once on each of `PIPELINES` raw connections
   * (each its own slice of the pattern), answered in order; nothing may pile up after the first.
   */
  async function runPipelined(
    options: { timeoutMs?: number },
    path: Path,
    { depth, rounds }: { depth: number; rounds: number },
  ): Promise<void> {
    const built = await build(options);
    const { sockets, url, breakers, settled } = built;
    const pipelines = await Promise.all(Array.from({ length: PIPELINES }, () => pipeline(url)));
    clients.push(...pipelines.map(({ socket }) => socket));
    const sent: Sent[] = [];
    async function round(): Promise<void> {
      const batches = pipelines.map(() => {
        const batch = requests(sent.length, depth);
        sent.push(...batch);
        return batch;
      });
      const statuses = await Promise.all(pipelines.map((client, i) => client.send(batches[i]!.map((r) => r.path))));
      expect(statuses).toEqual(batches.map((batch) => batch.map((request) => request.status)));
      await until(() => settled(sent), 5_000);
    }

    await round();
    const warmSockets = [...sockets];
    expect(warmSockets).toHaveLength(PIPELINES);
    const warm = listenersOf(warmSockets, breakers);
    for (let i = 1; i < rounds; i++) await round();

    expect([...sockets]).toEqual(warmSockets);
    await expectClean(built, sent, path, []);
    // A pipelined response is watched through its `close` (its connection is not known yet when
    // it is admitted), so the channel path's record may or may not exist; whichever, it must be
    // empty, and the permit path never makes one.
    for (const socket of warmSockets) {
      const watched = watchedOf(socket);
      expect(watched?.call).toBeUndefined();
      expect(watched?.more).toBeUndefined();
      if (path === 'permit') expect(watched).toBeUndefined();
    }
    expect(listenersOf(warmSockets, breakers)).toEqual(warm);
  }

  describe.each(configurations)('with %s', (_name, options, path) => {
    it(`leaves nothing behind after ${TOTAL} requests over ${CONNECTIONS} keep-alive connections`, async () => {
      const built = await build(options);
      const { sockets, url, breakers, settled } = built;
      agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const client = agent;
      const sent = requests(0, TOTAL);
      const answers: Record<string, number> = {};
      let next = 0;
      /** Sends the requests `next` to `end - 1`, `CONCURRENCY` at a time. */
      async function send(end: number): Promise<void> {
        const worker = async (): Promise<void> => {
          while (next < end) {
            const { path } = sent[next++] as Sent;
            const key = `${path} ${await get(client, url, path)}`;
            answers[key] = (answers[key] ?? 0) + 1;
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      }

      await send(WARM);
      await until(() => settled(sent.slice(0, WARM)), 5_000);
      const warmSockets = [...sockets];
      expect(warmSockets).toHaveLength(CONNECTIONS);
      const warm = listenersOf(warmSockets, breakers);

      await send(TOTAL);
      await until(() => settled(sent), 5_000);

      // Every request was answered as sent, over the connections of the warm batch.
      expect(answers).toEqual(expectations(sent).answers);
      expect([...sockets]).toEqual(warmSockets);
      await expectClean(built, sent, path, warmSockets);
      expect(listenersOf(warmSockets, breakers)).toEqual(warm);
    });

    it(`leaves nothing behind after ${PIPELINES * SHALLOW.depth * SHALLOW.rounds} requests pipelined ${SHALLOW.depth} at a time on ${PIPELINES} connections`, async () => {
      await runPipelined(options, path, SHALLOW);
    });

    // Timed calls whose responses wait their turn share one `close` listener per connection
    // (core's `onResponseOver`): more than ten of them once passed Node's listener limit.
    it(`leaves nothing behind and warns of nothing with requests pipelined ${DEEP.depth} at a time`, async () => {
      await runPipelined(options, path, DEEP);
    });
  });
});
