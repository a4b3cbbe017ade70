// HTTP overhead in instructions: the same servers as `bench:http` (bench/http/server.mjs), each run
// under valgrind's callgrind, which counts the instructions the server executes instead of timing
// it. A count does not depend on what else the machine is doing, so it shows differences of a few
// hundred instructions per request that req/s, a few % noisy here, cannot.
//
// For each scenario: start the server under callgrind, send it `warm` requests (autocannon, 8
// connections) in two loads so that V8 has optimized the hot path, zero the counters, send
// `measured` more, dump, and divide. Two loads, because the first one's connections closing makes
// V8 deoptimize part of Node's own HTTP and stream code, which it re-optimizes during the next
// load: counted after a single warm-up load, that re-optimization (Node's HTTP functions still in
// the baseline tier) was part of the count. Reported is the event loop's thread (the main
// thread): it bounds throughput.
// V8's worker threads (compilation, GC helpers) are reported alongside, as "all threads".
//
// With --cycles, callgrind also simulates the caches and branch prediction (about twice as slow)
// and the main thread's estimated cycles are reported beside its instructions: KCachegrind's
// estimate, Ir + 10 × (L1 misses + mispredicted branches) + 100 × last-level misses. Code that
// runs once a request runs cold, so its cycles grow faster than its instructions: this estimates
// what a request costs in time without the noise of timing it.
//
// Needs valgrind (`apt-get install -y valgrind`). About 25 min on two cores.
// Options: --reps=N (runs per scenario, default 3) --jobs=N (runs at a time, default 2)
//          --only=express,koa,fastify --extra=koa-queue,… (neither is written to results/ unless
//          --out=<file>.md names a file there)  --cycles (written to results/http-cycles.md)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestsOf, requireValgrind, runUnderCallgrind, summaryOf, toolArgsFor } from './http/callgrind.mjs';
import { args, fullRun, peers, selectedGroups } from './http/scenarios.mjs';

const REPS = Number(args.get('reps') ?? 3);
const JOBS = Number(args.get('jobs') ?? 2);
const CYCLES = args.has('cycles');
const OUT = args.get('out') ?? (fullRun ? (CYCLES ? 'http-cycles.md' : 'http-instructions.md') : undefined);
if (OUT !== undefined && !/^[\w.-]+\.md$/.test(OUT)) {
  console.error(`--out takes a file name ending in .md, written to bench/results/: got ${JSON.stringify(OUT)}`);
  process.exit(2);
}

requireValgrind();

/** Instructions per measured request of one run of `scenario`: { main, all }, and with --cycles the main thread's estimated cycles, `cycles`. */
async function count(scenario, dir) {
  const { warm, measured } = requestsOf(scenario);
  const out = join(dir, `${scenario}-${process.hrtime.bigint()}.cg`);
  await runUnderCallgrind(scenario, out, { warm, measured, toolArgs: toolArgsFor(CYCLES ? 'CEst' : 'Ir') });
  // The dump holds one file per thread, `<out>.1-<thread>`; thread 01 runs the event loop.
  let main = 0;
  let all = 0;
  let cycles = 0;
  const prefix = `${out.split('/').pop()}.1-`;
  for (const name of readdirSync(dir).filter((file) => file.startsWith(prefix))) {
    const text = readFileSync(join(dir, name), 'utf8');
    const instructions = summaryOf(text);
    all += instructions;
    if (name.endsWith('-01')) {
      main = instructions;
      if (CYCLES) cycles = summaryOf(text, 'CEst');
    }
  }
  if (main === 0) throw new Error(`${scenario}: callgrind wrote no dump for the main thread`);
  return { main: main / measured, all: all / measured, cycles: cycles / measured };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return (sorted[Math.floor(middle)] + sorted[Math.ceil(middle)]) / 2;
};
const thousands = (value) => `${(value / 1000).toFixed(1)}k`;

const selected = selectedGroups();
const runs = selected.flatMap(([, scenarios]) => Array.from({ length: REPS }, () => scenarios).flat());
console.error(
  `${runs.length} runs under callgrind, ${JOBS} at a time: about ${Math.ceil((runs.length * (CYCLES ? 4 : 1.7)) / JOBS)} min`,
);

const dir = mkdtempSync(join(tmpdir(), 'breakwater-callgrind-'));
/** samples[scenario] = one { main, all, cycles } per run. */
const samples = {};
try {
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const scenario = runs[next++];
      const sample = await count(scenario, dir);
      samples[scenario] = [...(samples[scenario] ?? []), sample];
      console.error(
        `${scenario.padEnd(24)} ${Math.round(sample.main).toString().padStart(8)} instructions/req (main thread)  ${Math.round(sample.all).toString().padStart(8)} (all threads)${CYCLES ? `  ${Math.round(sample.cycles).toString().padStart(8)} est. cycles/req (main thread)` : ''}`,
      );
    }
  };
  await Promise.all(Array.from({ length: JOBS }, worker));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows = [
  `HTTP overhead in instructions: each server run ${REPS} times under valgrind's callgrind (${execFileSync('valgrind', ['--version']).toString().trim()}); after a warm-up in two loads (Express ${requestsOf('express').warm}, Koa and Fastify ${requestsOf('koa').warm} requests in all), the instructions executed for the next ${requestsOf('express').measured} (Express) or ${requestsOf('koa').measured} requests, divided by their number; autocannon with 8 connections. Medians over runs. "Main thread" runs the event loop and bounds throughput; "all threads" adds V8's compiler and GC helpers.${CYCLES ? ' With the cache and branch simulation (`--cycles`): estimated cycles of the main thread, Ir + 10 × (L1 misses + mispredicted branches) + 100 × last-level misses.' : ''} Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  `| framework | scenario | instructions/request (main thread) | runs (min–max) | over bare | vs bare | all threads |${CYCLES ? ' est. cycles/request | runs (min–max) | over bare | vs bare |' : ''}`,
  `|---|---|---:|---:|---:|---:|---:|${CYCLES ? '---:|---:|---:|---:|' : ''}`,
];
/** The median of one measure (`main`, `all` or `cycles`) over `scenario`'s runs. */
const medianOf = (scenario, measure) => median(samples[scenario].map((sample) => sample[measure]));
/** A scenario's median of `measure` less its framework's bare server's. */
const overBare = (framework, scenario, measure) => medianOf(scenario, measure) - medianOf(`${framework}-bare`, measure);
/** The median, spread, and difference and ratio to the bare server's median, of one measure of `scenario`'s runs, as table cells. */
function cells(framework, scenario, measure) {
  const values = samples[scenario].map((sample) => sample[measure]);
  const value = median(values);
  const bare = medianOf(`${framework}-bare`, measure);
  const over = scenario === `${framework}-bare` ? '' : `${value >= bare ? '+' : ''}${thousands(value - bare)}`;
  const range = `${thousands(Math.min(...values))}–${thousands(Math.max(...values))}`;
  return `${thousands(value)} | ${range} | ${over} | ${((value / bare) * 100).toFixed(1)}%`;
}
for (const [framework, scenarios] of selected) {
  for (const scenario of scenarios) {
    const label = scenario.slice(framework.length + 1);
    const cycles = CYCLES ? ` ${cells(framework, scenario, 'cycles')} |` : '';
    rows.push(
      `| ${framework} | ${label} | ${cells(framework, scenario, 'main')} | ${thousands(medianOf(scenario, 'all'))} |${cycles}`,
    );
  }
}
const versus = [];
for (const [framework] of selected) {
  const peer = peers[framework];
  if (peer === undefined) continue;
  const ours = overBare(framework, `${framework}-breakwater`, 'main');
  const theirs = overBare(framework, peer, 'main');
  versus.push(
    `- ${framework}: Breakwater adds ${thousands(ours)} instructions per request, ${peer.slice(framework.length + 1)} ${thousands(theirs)}: ${((ours / theirs) * 100).toFixed(0)}% of its overhead.`,
  );
  if (CYCLES) {
    const ourCycles = overBare(framework, `${framework}-breakwater`, 'cycles');
    const theirCycles = overBare(framework, peer, 'cycles');
    versus.push(
      `- ${framework}, estimated cycles: Breakwater adds ${thousands(ourCycles)} per request, ${peer.slice(framework.length + 1)} ${thousands(theirCycles)}: ${((ourCycles / theirCycles) * 100).toFixed(0)}% of its overhead.`,
    );
  }
}
const table = [...rows, ...(versus.length > 0 ? ['', ...versus] : [])].join('\n');
console.log(table);
if (OUT !== undefined) {
  mkdirSync(fileURLToPath(new URL('./results', import.meta.url)), { recursive: true });
  const command = `pnpm bench:http:instructions ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(new URL(`./results/${OUT}`, import.meta.url), `\`${command}\`\n\n${table}\n`);
}
