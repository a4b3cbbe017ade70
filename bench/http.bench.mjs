// HTTP overhead benchmark: for each framework, a JSON hello-world route bare, with Breakwater
// (closed circuit) and with the peers, each served by its own process on 127.0.0.1 and loaded with
// autocannon from this one.
//
// The machine is small and noisy (server and autocannon share its cores), so:
// - every round starts fresh server processes for a framework (a process's own JIT and memory
//   layout can make it a few % faster or slower than its twin) and warms each one up first, with
//   two loads: when the first load's connections close, V8 throws away the optimized code of
//   Node's own HTTP and stream functions that it had built on what it saw so far (about 30
//   functions, "code dependencies"), and re-optimizes them during the next second or so of load.
//   Measuring right after a single warm-up load measured that re-optimization, and how quickly a
//   process went through it;
// - within a round the scenarios run back to back, in orders that balance position and carry-over
//   (a Williams design: use a multiple of the group size, or twice it for odd sizes, as rounds),
//   and each is compared with the bare server of the same round: "vs bare" is the median of those
//   per-round ratios, with their interquartile range;
// - each scenario's measured run is cut into slices (--slices, default 4) taken in turn, so that a
//   slow spell of the machine falls on every scenario of the round rather than on one;
// - besides req/s, the server's own CPU time per request (user + system, from process.cpuUsage())
//   is reported: it does not depend on how autocannon and the server shared the cores.
// - only the server being loaded runs: the others are paused (SIGSTOP) meanwhile, so that what a
//   server does once its load stops (V8's idle-time GC, memory reducer, compilation) is not done
//   during another server's measured run (`--pause-idle=false` turns this off);
// `--control` adds a second bare server per framework, compared with the first: the noise floor.
// `--out=<name>.md` writes the table to bench/results/<name>.md (a full run always writes http.md),
// and the rounds behind it to <name>.rounds.log, which bench/http-pool.mjs pools across runs.
//
// Options: --rounds=N --duration=S (per measured run) --slices=N --warmup=S (each of the two warm-up loads) --connections=N
//          --only=express,koa,fastify (not written to results/http.md) --control --pin=split|same|none --pause-idle=true|false
//          --extra=fastify-hook,koa-passthrough,… adds diagnostic scenarios of server.mjs to their
//          framework's group (not written to results/http.md either): `<framework>-passthrough` (Express,
//          Koa) and `fastify-hook` are a middleware or hook that does nothing, the floor for any breaker;
//          `fastify-wrapper` wraps each route's handler (onRoute) in a function that only calls it, the
//          floor of the way Breakwater admits requests on Fastify;
//          `express-listener` adds one `close` listener to the response and nothing else, and
//          `express-reads` also reads `writableEnded` and `statusCode` in it, as a breaker must;
//          `fastify-listener` is an onRequest hook that adds a `close` listener, `koa-listener` a middleware
//          that does, `koa-onfinished` one that gives a callback to on-finished's `onFinished()`, and
//          `koa-queue` one that pushes it onto the queue of the on-finished watcher Koa already keeps;
//          `express-channel`, `koa-channel` and `fastify-channel` watch the response through Node's
//          `http.server.response.finish` diagnostics channel instead (a WeakMap entry per response);
//          `fastify-watch-channel` and `fastify-watch-close` admit as Breakwater does, through core's
//          public parts, and watch the response through core's finish-channel watcher or a `close`
//          listener: the same code but for that choice.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { intervalLines, median, roundLine, tableLines } from './http/report.mjs';
import { args, fullRun, peers, selectedGroups, serverPath } from './http/scenarios.mjs';

const ROUNDS = Number(args.get('rounds') ?? 12);
const DURATION = Number(args.get('duration') ?? 2);
const WARMUP = Number(args.get('warmup') ?? 1);
/** Warm-up loads per server: the first one's end deoptimizes part of Node's HTTP code, the next re-optimizes it. */
const WARMUP_LOADS = 2;
const CONNECTIONS = Number(args.get('connections') ?? 32);
const SLICES = Number(args.get('slices') ?? 4);
const CONTROL = args.get('control') === 'true';
const PIN = args.get('pin') ?? 'none';
const PAUSE = args.get('pause-idle') ?? 'true';
const OUT = args.get('out');

if (!(Number.isInteger(SLICES) && SLICES >= 1))
  throw new TypeError(`--slices: got ${args.get('slices')}, expected an integer of at least 1`);
if (!['true', 'false'].includes(PAUSE)) throw new TypeError(`--pause-idle: got ${PAUSE}, expected true or false`);
if (OUT !== undefined && (!/^[\w-]+\.md$/.test(OUT) || OUT === 'http.md'))
  throw new TypeError(
    `--out: got ${OUT}, expected a file name such as http-floor.md (written to bench/results/), other than http.md`,
  );
if (!['none', 'split', 'same'].includes(PIN)) throw new TypeError(`--pin: got ${PIN}, expected split, same or none`);
// split: autocannon on CPU 0, the server on CPU 1; same: both on CPU 1.
if (PIN !== 'none') execFileSync('taskset', ['-a', '-p', '-c', PIN === 'split' ? '0' : '1', String(process.pid)]);

/** The servers still running, killed when this run ends however it ends: they are detached (see `startServer`). */
const started = new Set();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(signal, () => process.exit(128 + constants.signals[signal]));

function startServer(scenario) {
  return new Promise((resolve, reject) => {
    // A control scenario (`<framework>-control`) is served bare: server.mjs knows no such breaker.
    const command = PIN === 'none' ? [process.execPath] : ['taskset', '-c', '1', process.execPath];
    // In a session of its own (`detached`): the servers not under load are stopped (see `running`),
    // and when a process group holding stopped processes is orphaned (the shell that started this
    // run exits, say) the kernel sends each of them SIGHUP, which ends a server mid-run.
    const child = spawn(command[0], [...command.slice(1), serverPath, scenario], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    started.add(child);
    child.once('exit', () => started.delete(child));
    const lines = createInterface({ input: child.stdout });
    /** Pending CPU-time questions: [answer, fail]. */
    const waiting = [];
    let exited;
    const timer = setTimeout(() => reject(new Error(`${scenario}: server did not start`)), 15_000);
    lines.on('line', (line) => {
      const cpu = /^CPU (\d+) (\d+)$/.exec(line);
      if (cpu) waiting.shift()?.[0](Number(cpu[1]) + Number(cpu[2]));
      const match = /^PORT (\d+)$/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(match[1]),
        /** The server's CPU time so far, in µs; fails once the server died, so that the run stops rather than waits forever. */
        cpu: () =>
          new Promise((answer, fail) => {
            if (exited !== undefined) {
              fail(exited);
              return;
            }
            waiting.push([answer, fail]);
            child.stdin.write('cpu\n');
          }),
      });
    });
    child.once('exit', (code, signal) => {
      exited = new Error(`${scenario}: server exited (${signal ?? `code ${code}`})`);
      reject(exited);
      for (const [, fail] of waiting.splice(0)) fail(exited);
    });
  });
}

function load(port, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `http://127.0.0.1:${port}/hello`, connections: CONNECTIONS, duration, pipelining: 1 },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** One slice of a scenario's measured run: its requests, seconds, server CPU time (µs) and p99 latency. */
async function slice(scenario, server) {
  const before = await server.cpu();
  const result = await load(server.port, DURATION / SLICES);
  const after = await server.cpu();
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${scenario}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { requests: result.requests.total, seconds: result.duration, cpu: after - before, p99: result.latency.p99 };
}

/** A scenario's sample for one round, from its slices: req/s, CPU µs per request, and the slices' median p99. */
function combine(slices) {
  const requests = slices.reduce((sum, s) => sum + s.requests, 0);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const cpu = slices.reduce((sum, s) => sum + s.cpu, 0);
  return { rps: requests / seconds, cpu: cpu / requests, p99: median(slices.map((s) => s.p99)) };
}

/**
 * The order of `n` scenarios in `round`, from a Williams design: over n rounds (2n when n is odd)
 * every scenario runs once in every position and follows every other scenario equally often, so
 * neither "runs first" nor "runs after X" favours one of them.
 */
function williams(n, round) {
  const base = [];
  for (let i = 0, low = 0, high = n - 1; i < n; i++) base.push(i % 2 === 0 ? low++ : high--);
  const row = base.map((i) => (i + round) % n);
  return n % 2 === 1 && round % (2 * n) >= n ? row.reverse() : row;
}

const selected = selectedGroups((name) => (CONTROL ? [`${name}-control`] : []));
const count = selected.reduce((sum, [, scenarios]) => sum + scenarios.length, 0);
console.error(
  `${ROUNDS} rounds × ${count} servers × (${WARMUP_LOADS} × ${WARMUP} s warm-up + ${DURATION} s): about ${Math.ceil((ROUNDS * count * (WARMUP_LOADS * WARMUP + DURATION + 0.5)) / 60)} min`,
);

/** One object per round: each scenario's { rps, cpu, p99 }. */
const rounds = [];
/** What is printed for each sample, kept with the results (`<name>.rounds.log`) for bench/http-pool.mjs. */
const roundLines = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const [, scenarios] of selected) {
    const servers = new Map();
    try {
      const order = williams(scenarios.length, round).map((i) => scenarios[i]);
      for (const scenario of order) servers.set(scenario, await startServer(scenario));
      // Only the server under load runs: the others are paused, so that the work a server does once
      // its load stops (V8's idle-time and memory-reducing GCs, compilation) is done in its own
      // next turn, not in another server's measured run.
      const running = (scenario) => {
        if (PAUSE === 'true')
          for (const [name, { child }] of servers) child.kill(name === scenario ? 'SIGCONT' : 'SIGSTOP');
        return servers.get(scenario);
      };
      // Warm-up loads taken in turn (see WARMUP_LOADS and the top of this file).
      for (let pass = 0; pass < WARMUP_LOADS; pass++) {
        for (const scenario of order) await load(running(scenario).port, WARMUP);
      }
      // The measured run of each scenario is cut into slices taken in turn, so that a slow spell of
      // the machine falls on every scenario of the round rather than on one.
      const slices = new Map(order.map((scenario) => [scenario, []]));
      for (let i = 0; i < SLICES; i++) {
        for (const scenario of order) slices.get(scenario).push(await slice(scenario, running(scenario)));
      }
      const samples = {};
      for (const scenario of order) {
        samples[scenario] = combine(slices.get(scenario));
        const line = roundLine(round + 1, ROUNDS, scenario, samples[scenario]);
        roundLines.push(line);
        console.error(line);
      }
      rounds.push(samples);
    } finally {
      for (const { child } of servers.values()) child.kill('SIGKILL');
    }
  }
}

const rows = [
  `HTTP overhead: ${ROUNDS} rounds, each starting fresh servers, warming each up with ${WARMUP_LOADS} loads of ${WARMUP} s, then loading each for ${DURATION} s in ${SLICES} slices taken in turn (orders balanced across rounds${PAUSE === 'true' ? '; the servers not under load paused' : ''}); autocannon with ${CONNECTIONS} connections, no pipelining, in a separate process on 127.0.0.1${PIN === 'none' ? '' : ` (pinned: ${PIN})`}. Medians over rounds; "vs bare" is the median of per-round ratios to the same round's bare server, with the interquartile range; "CPU" is the server's own CPU time (user + system) per request, and its ratio is bare's CPU time over the scenario's. Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  ...tableLines(rounds, selected, peers),
  '',
  ...intervalLines(rounds, selected, peers),
];
const table = rows.join('\n');
console.log(table);
// Only a full run replaces the recorded results; any run can be kept under a name of its own.
const command = `pnpm bench:http ${process.argv.slice(2).join(' ')}`.trim();
const outputs = [...(fullRun ? ['http.md'] : []), ...(OUT === undefined ? [] : [OUT])];
if (outputs.length > 0) mkdirSync(fileURLToPath(new URL('./results', import.meta.url)), { recursive: true });
for (const name of outputs) {
  const text = name === 'http.md' ? table : `\`${command}\`\n\n${table}`;
  writeFileSync(new URL(`./results/${name}`, import.meta.url), `${text}\n`);
  writeFileSync(
    new URL(`./results/${name.replace(/\.md$/, '.rounds.log')}`, import.meta.url),
    `${command}\n${roundLines.join('\n')}\n`,
  );
}
