// What the two callgrind benchmarks share (bench:http:instructions counts, bench:http:profile
// breaks the count down per function): running one server of bench/http/server.mjs under
// valgrind's callgrind for a fixed number of requests, and reading what callgrind wrote.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { serverPath } from './scenarios.mjs';

// Express serves about a fifth as many requests per second as Koa or Fastify: fewer of them
// take as long under valgrind, and warm it up as well.
const requests = {
  express: { warm: 15_000, measured: 10_000 },
  koa: { warm: 40_000, measured: 20_000 },
  fastify: { warm: 40_000, measured: 20_000 },
};

/** How many requests warm a scenario's server up, and how many are counted: `{ warm, measured }`, by framework. */
export function requestsOf(scenario) {
  return requests[scenario.split('-')[0]];
}

/** Exits with a clear message when valgrind is not installed. */
export function requireValgrind() {
  for (const tool of ['valgrind', 'callgrind_control']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      console.error(`${tool} is missing: install valgrind (apt-get install -y valgrind) to run this benchmark.`);
      process.exit(1);
    }
  }
}

function load(port, amount) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/hello`, connections: 8, amount, timeout: 60 }, (error, result) => {
      if (error) reject(error);
      else if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
        reject(new Error(`${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`));
      else resolve(result);
    });
  });
}

/**
 * Runs `scenario`'s server under callgrind (`--separate-threads=yes`, output `out`): sends it
 * `warm` requests in two loads (autocannon, 8 connections) so that V8 has optimized the hot path,
 * zeroes the counters, sends `measured` more and dumps. Two loads, because the first one's
 * connections closing makes V8 deoptimize part of Node's own HTTP and stream code, which it
 * re-optimizes during the next load. Callgrind then holds one file per thread, `<out>.1-<thread>`;
 * thread 01 runs the event loop. `nodeArgs` go to Node (`--perf-basic-prof` for a profile), and
 * the server runs in `cwd` (where V8 writes its `isolate-*.log` under `--perf-basic-prof`).
 * Resolves to the server's process id once it has exited.
 */
export async function runUnderCallgrind(scenario, out, { warm, measured, nodeArgs = [], toolArgs = [], cwd }) {
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      ...toolArgs,
      `--callgrind-out-file=${out}`,
      process.execPath,
      ...nodeArgs,
      serverPath,
      scenario,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd },
  );
  let log = '';
  child.stderr.on('data', (chunk) => {
    log = (log + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${scenario}: server did not start\n${log}`)), 180_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^PORT (\d+)$/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      exited.then(() => reject(new Error(`${scenario}: server exited\n${log}`)));
    });
    await load(port, warm / 2);
    await load(port, warm / 2);
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    await load(port, measured);
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
  } finally {
    child.kill();
    await exited;
  }
  return child.pid;
}

/** The `summary:` of a callgrind dump, in `event` (see `parseCallgrind`): by default the instructions it counted. */
export function summaryOf(text, event = 'Ir') {
  const summary = /^summary: (.*)$/m.exec(text)?.[1].trim().split(/\s+/);
  if (summary === undefined) return 0;
  return costFunction(eventsOf(text), event)(summary, 0);
}

/** Valgrind's options for callgrind to count `event` (see `parseCallgrind`): events other than Ir need its cache and branch simulation. */
export function toolArgsFor(event) {
  return event === 'Ir' ? [] : ['--cache-sim=yes', '--branch-sim=yes'];
}

/**
 * The functions of a callgrind dump, in one `event`: `self` (what each function's own code cost),
 * `calls` (for each caller, for each callee: `{ count, cost }`, the cost being callgrind's
 * inclusive cost of those calls) and `total`. The event is one callgrind counted (`Ir`, the
 * instructions, by default; with `--cache-sim=yes --branch-sim=yes` also `I1mr`, `D1mr`, `Bcm`…)
 * or `CEst`, the estimate of cycles that KCachegrind shows: Ir + 10 × (L1 misses + mispredicted
 * branches) + 100 × last-level misses. Names go through `rename` (see `perfMapNames`). Reads the
 * compressed `(id) name` form, relative positions and sub-position columns that callgrind writes.
 */
export function parseCallgrind(text, rename = (name) => name, event = 'Ir') {
  const costOf = costFunction(eventsOf(text), event);
  const self = new Map();
  const calls = new Map();
  const names = new Map();
  let positions = 1;
  let fn;
  let callee;
  /** Set by a `calls=` line: the next cost line is the call's, not the function's own. */
  let callCount;
  const nameOf = (spec) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (match === null) return rename(spec.replace(/'\d+$/, ''));
    if (match[2] !== undefined) names.set(match[1], rename(match[2].replace(/'\d+$/, '')));
    return names.get(match[1]);
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) {
      fn = nameOf(line.slice(3));
      callCount = undefined;
    } else if (line.startsWith('cfn=')) {
      callee = nameOf(line.slice(4));
    } else if (line.startsWith('calls=')) {
      callCount = Number(line.slice(6).split(' ')[0]);
    } else if (line.startsWith('positions:')) {
      positions = line.slice(10).trim().split(/\s+/).length;
    } else if (/^[0-9+\-*]/.test(line) && fn !== undefined) {
      const cost = costOf(line.split(' '), positions);
      if (callCount !== undefined) {
        let byCallee = calls.get(fn);
        if (byCallee === undefined) {
          byCallee = new Map();
          calls.set(fn, byCallee);
        }
        const edge = byCallee.get(callee) ?? { count: 0, cost: 0 };
        edge.count += callCount;
        edge.cost += cost;
        byCallee.set(callee, edge);
        callCount = undefined;
      } else {
        self.set(fn, (self.get(fn) ?? 0) + cost);
      }
    }
  }
  let total = 0;
  for (const cost of self.values()) total += cost;
  return { self, calls, total };
}

/** Weights of the events in KCachegrind's cycle estimate (`CEst`). */
const CYCLE_WEIGHTS = { Ir: 1, I1mr: 10, D1mr: 10, D1mw: 10, Bcm: 10, Bim: 10, ILmr: 100, DLmr: 100, DLmw: 100 };

/** The events a callgrind dump counted, in the order of its cost columns. */
function eventsOf(text) {
  return /^events: (.*)$/m.exec(text)?.[1].trim().split(/\s+/) ?? ['Ir'];
}

/** Reads `event` from a cost line's columns (`parts`, the first `positions` of them positions). */
function costFunction(events, event) {
  const weights = event === 'CEst' ? CYCLE_WEIGHTS : { [event]: 1 };
  const columns = Object.entries(weights).map(([name, weight]) => [events.indexOf(name), weight]);
  if (columns.some(([column]) => column < 0)) {
    const missing = Object.keys(weights).filter((name) => !events.includes(name));
    throw new Error(`the callgrind dump has no ${missing.join(', ')} events (it counted ${events.join(', ')})`);
  }
  return (parts, positions) => {
    let cost = 0;
    for (const [column, weight] of columns) cost += weight * Number(parts[positions + column] || 0);
    return cost;
  };
}

/** A function's own cost and that of everything it calls (recursion counted more than once). */
export function inclusiveCost(profile, fn) {
  let cost = profile.self.get(fn) ?? 0;
  for (const edge of profile.calls.get(fn)?.values() ?? []) cost += edge.cost;
  return cost;
}

/**
 * Names the JIT-compiled code callgrind only knows by address (`0x…`), from the map Node writes
 * with `--perf-basic-prof` (`/tmp/perf-<pid>.map`: `start size name` per line, in hex). V8 reuses
 * addresses as it moves and recompiles code, so the last entry written that covers an address
 * names it. Other names pass unchanged.
 */
export function perfMapNames(mapText) {
  const entries = [];
  for (const line of mapText.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (match)
      entries.push({
        start: Number.parseInt(match[1], 16),
        end: Number.parseInt(match[1], 16) + Number.parseInt(match[2], 16),
        name: match[3],
        order: entries.length,
      });
  }
  const byStart = [...entries].sort((a, b) => a.start - b.start);
  const longest = entries.reduce((most, entry) => Math.max(most, entry.end - entry.start), 0);
  return (name) => {
    const match = /^0x([0-9a-f]+)$/i.exec(name);
    if (match === null) return name;
    const address = Number.parseInt(match[1], 16);
    // The last entry starting at or before the address, then back over every entry that could
    // still cover it.
    let low = 0;
    let high = byStart.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (byStart[middle].start <= address) low = middle + 1;
      else high = middle;
    }
    let best;
    for (let i = low - 1; i >= 0 && byStart[i].start > address - longest; i--) {
      const entry = byStart[i];
      if (address < entry.end && (best === undefined || entry.order > best.order)) best = entry;
    }
    return best === undefined ? name : best.name;
  };
}

/** Reads a perf map, or names nothing when Node wrote none. */
export function readPerfMap(pid) {
  try {
    return perfMapNames(readFileSync(`/tmp/perf-${pid}.map`, 'utf8'));
  } catch {
    return (name) => name;
  }
}
