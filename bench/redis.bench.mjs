// RedisStore overhead benchmark. Starts its own redis-server on a free port, then measures, in
// the same run and interleaved round by round, a registry without a store against one with a
// RedisStore: the cost of one execute() on the closed path (ns/op, calls one after another)
// and throughput (calls/s, 64 in flight), with all-successful calls and with 1% failures.
// Then measures how long a trip on one instance takes to reach another (median of trials).
// Needs `pnpm build` first: it imports the built packages.
//
//   node bench/redis.bench.mjs [--rounds=5] [--ms=1000] [--trials=30]
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { CircuitState, Registry } from '@breakwater/core';
import { RedisStore } from '@breakwater/redis';
import { Redis } from 'ioredis';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ROUNDS = Number(args.get('rounds') ?? 5);
const MS = Number(args.get('ms') ?? 1000);
const TRIALS = Number(args.get('trials') ?? 30);
const CONCURRENCY = 64;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)');
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port}`);
    }
    await sleep(20);
  }
  return {
    port,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A registry as one instance of a service has it; with `port`, shared through Redis. */
function instance(port, prefix) {
  if (port === undefined) return { registry: new Registry(), close: async () => {} };
  const client = new Redis({ port, host: '127.0.0.1' });
  client.on('error', () => {});
  const store = new RedisStore({ client, prefix });
  return {
    registry: new Registry({ store }),
    store,
    async close() {
      await store.close();
      client.disconnect();
    },
  };
}

// Rules off, so 1% failures never trip: the benchmark measures recording and sharing only.
const NEVER_TRIPS = { failureThreshold: 0, failureRateThreshold: 0 };

function work(failEvery) {
  let n = 0;
  return async () => {
    if (failEvery > 0 && ++n % failEvery === 0) throw new Error('downstream failed');
    return n;
  };
}

/** ns per execute(), one call after another. */
async function sequential(breaker, failEvery) {
  const fn = work(failEvery);
  let calls = 0;
  const started = process.hrtime.bigint();
  const deadline = performance.now() + MS;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) {
      try {
        await breaker.execute(fn);
      } catch {}
    }
    calls += 1000;
  }
  return Number(process.hrtime.bigint() - started) / calls;
}

/** calls/s with CONCURRENCY calls in flight. */
async function throughput(breaker, failEvery) {
  const fn = work(failEvery);
  let calls = 0;
  const deadline = performance.now() + MS;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) {
        try {
          await breaker.execute(fn);
        } catch {}
      }
      calls += 100;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (calls * 1000) / (performance.now() - started);
}

async function overhead(port) {
  const scenarios = [
    { label: 'all succeed', failEvery: 0 },
    { label: '1% fail', failEvery: 100 },
  ];
  const rows = [];
  for (const { label, failEvery } of scenarios) {
    const samples = { memory: { ns: [], rps: [] }, redis: { ns: [], rps: [] }, ratio: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 ? ['redis', 'memory'] : ['memory', 'redis']) {
        const inst = instance(kind === 'redis' ? port : undefined, `bench${label.length}${round}:`);
        const breaker = inst.registry.getOrCreate(`overhead-${failEvery}-${round}`, NEVER_TRIPS);
        if (inst.store) await inst.store.synced();
        await sequential(breaker, failEvery); // warm-up
        samples[kind].ns.push(await sequential(breaker, failEvery));
        samples[kind].rps.push(await throughput(breaker, failEvery));
        await inst.close();
      }
      // The machine's speed drifts: compare the two stores within each round.
      samples.ratio.push(samples.redis.rps[round] / samples.memory.rps[round]);
    }
    rows.push({ label, samples });
  }
  return rows;
}

async function propagation(port) {
  const a = instance(port, 'benchtrip:');
  const b = instance(port, 'benchtrip:');
  const times = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const name = `trip-${trial}`;
    const tripping = a.registry.getOrCreate(name, { failureThreshold: 1 });
    const watching = b.registry.getOrCreate(name, { failureThreshold: 1 });
    await a.store.synced();
    await b.store.synced();
    let openedAt = 0;
    const seen = new Promise((resolve) => {
      watching.on('stateChange', (e) => e.to === CircuitState.OPEN && resolve(performance.now()));
    });
    tripping.on('stateChange', (e) => {
      if (e.to === CircuitState.OPEN) openedAt = performance.now();
    });
    await tripping
      .execute(async () => {
        throw new Error('downstream failed');
      })
      .catch(() => {});
    times.push((await seen) - openedAt);
    await sleep(20);
  }
  await a.close();
  await b.close();
  return times;
}

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const redis = await startRedis();
try {
  console.log(`node ${process.version}, ${ROUNDS} rounds of ${MS} ms per measurement, medians\n`);
  const rows = await overhead(redis.port);
  console.log('| calls | store | ns/op (sequential) | calls/s (64 in flight) | throughput vs in-memory |');
  console.log('|---|---|---:|---:|---:|');
  for (const { label, samples } of rows) {
    for (const kind of ['memory', 'redis']) {
      const ns = median(samples[kind].ns);
      const rps = median(samples[kind].rps);
      const store = kind === 'memory' ? 'in-memory (no store)' : 'RedisStore';
      const ratio = kind === 'memory' ? '100%' : `${fmt(median(samples.ratio) * 100, 1)}%`;
      console.log(`| ${label} | ${store} | ${fmt(ns)} | ${fmt(rps)} | ${ratio} |`);
    }
  }
  console.log('\n(throughput vs in-memory: median over rounds of the ratio measured within each round)');
  const times = await propagation(redis.port);
  const sorted = [...times].sort((x, y) => x - y);
  console.log(
    `\ntrip propagation between two instances (${TRIALS} trials): median ${fmt(median(times), 2)} ms, ` +
      `p90 ${fmt(sorted[Math.floor(sorted.length * 0.9)], 2)} ms, max ${fmt(sorted.at(-1), 2)} ms`,
  );
} finally {
  await redis.stop();
}
