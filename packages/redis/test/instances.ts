import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type BreakerDefaults, type CircuitBreaker, type CircuitBreakerStats, Registry } from '@breakwater/core';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../src/index.js';
import { freePort } from './redis-server.js';

/** Wall-clock time in milliseconds with sub-millisecond precision, comparable across processes. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** An instance of a service in this process: its own client, store and registry, with a "payments" breaker. */
export interface Instance {
  client: Redis;
  store: RedisStore;
  registry: Registry;
  breaker(name?: string): CircuitBreaker;
  warnings: string[];
  infos: string[];
  close(): Promise<void>;
}

export function createInstance(
  port: number,
  prefix: string,
  defaults: BreakerDefaults,
  options: Partial<RedisStoreOptions> = {},
): Instance {
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
  client.on('error', () => {});
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger = { warn: (m: unknown) => warnings.push(String(m)), info: (m: unknown) => infos.push(String(m)) };
  const store = new RedisStore({ client, prefix, logger, ...options });
  const registry = new Registry({ store, defaults });
  registry.getOrCreate('payments');
  return {
    client,
    store,
    registry,
    warnings,
    infos,
    breaker: (name = 'payments') => registry.getOrCreate(name),
    async close() {
      await store.close();
      client.disconnect();
    },
  };
}

/** An instance whose Redis is not there: nothing listens on its port. */
export async function freePortInstance(prefix: string, defaults: BreakerDefaults): Promise<Instance> {
  return createInstance(await freePort(), prefix, defaults);
}

interface ChildEvent {
  event: string;
  to?: string;
  reason?: string;
  at?: number;
  state?: string;
}

/** An instance in a separate Node.js process (test/fixtures/instance.ts, run by tsx). */
export interface ChildInstance {
  events: ChildEvent[];
  execute(outcomes: boolean[]): Promise<string[]>;
  stats(): Promise<CircuitBreakerStats>;
  waitForEvent(match: (event: ChildEvent) => boolean, what: string, timeoutMs?: number): Promise<ChildEvent>;
  close(): Promise<void>;
}

const FIXTURE = fileURLToPath(new URL('./fixtures/instance.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('./fixtures/tsconfig.json', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

export async function spawnInstance(
  port: number,
  prefix: string,
  name: string,
  defaults: BreakerDefaults,
): Promise<ChildInstance> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', FIXTURE, JSON.stringify({ port, prefix, name, defaults })],
    { cwd: PACKAGE_DIR, env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const events: ChildEvent[] = [];
  const pending = new Map<number, (reply: Record<string, unknown>) => void>();
  let nextId = 0;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as Record<string, unknown>;
    if (typeof message.id === 'number') pending.get(message.id)?.(message);
    else events.push(message as unknown as ChildEvent);
  });
  const request = (op: string, extra: object = {}): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.stdin?.write(`${JSON.stringify({ id, op, ...extra })}\n`);
    });
  const waitForEvent: ChildInstance['waitForEvent'] = async (match, what, timeoutMs = 10_000) => {
    let found: ChildEvent | undefined;
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`child instance exited (${child.exitCode}): ${stderr}`);
        found = events.find(match);
        return found !== undefined;
      },
      `the child instance: ${what} (stderr: ${stderr})`,
      timeoutMs,
    );
    return found as ChildEvent;
  };
  await waitForEvent((e) => e.event === 'ready', 'ready', 15_000);
  return {
    events,
    waitForEvent,
    execute: async (outcomes) => (await request('execute', { outcomes })).results as string[],
    stats: async () => (await request('stats')).stats as CircuitBreakerStats,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
