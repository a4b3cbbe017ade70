// Where a server's instructions go, per function: a bench:http:instructions run (see
// bench/http/callgrind.mjs) of one scenario, with Node's `--perf-basic-prof` so that V8's compiled
// JavaScript is named rather than known by address, broken down by function and divided by the
// measured requests. Prints the functions that cost the most, Breakwater's own functions with
// their callers and callees, and, given `--against`, how each function's cost differs from
// another scenario's (the bare server's, say).
//
//   pnpm bench:http:profile fastify-breakwater --against=fastify-bare
//
// Options: --against=<scenario>  --top=N (rows per table, default 25)  --match=<regex> (the
// functions detailed; default Breakwater's packages)  --keep=<dir> (keep the dumps and perf maps)
// --from=<dir> (read what an earlier --keep kept instead of running the servers again)
// --event=<event> (what is counted: Ir, the instructions, by default; any other event turns on
// callgrind's cache and branch simulation, about twice as slow: I1mr for instruction-cache
// misses, D1mr, Bcm for mispredicted branches…, or CEst, KCachegrind's estimate of cycles)
//
// One profile is one process: V8 inlines differently from one process to the next, which moves
// a few hundred instructions a request between functions (and some in or out of the total), so
// read a difference of that size between two profiles as noise unless it repeats. `*` before a
// JavaScript name is optimized code, `^` baseline code, `~` the interpreter. Needs valgrind;
// about 2 minutes a scenario.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  inclusiveCost,
  parseCallgrind,
  perfMapNames,
  readPerfMap,
  requestsOf,
  requireValgrind,
  runUnderCallgrind,
  toolArgsFor,
} from './http/callgrind.mjs';
import { args, groups } from './http/scenarios.mjs';

const scenario = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
const against = args.get('against');
const top = Number(args.get('top') ?? 25);
const match = new RegExp(args.get('match') ?? '(^|\\s)packages/(core|express|koa|fastify)/');
const keep = args.get('keep');
const from = args.get('from');
const event = args.get('event') ?? 'Ir';
const unit = event === 'Ir' ? 'instructions' : event;
const toolArgs = toolArgsFor(event);

const known = new Set(Object.values(groups).flat());
const valid = (name) => typeof name === 'string' && /^(express|koa|fastify)-/.test(name);
if (!valid(scenario) || (against !== undefined && !valid(against))) {
  console.error(
    `usage: pnpm bench:http:profile <scenario> [--against=<scenario>] [--top=N] [--match=<regex>] [--keep=<dir>]\n` +
      `scenarios: ${[...known].join(', ')}, or a diagnostic one of bench/http/server.mjs`,
  );
  process.exit(2);
}
if (from === undefined) requireValgrind();

const root = fileURLToPath(new URL('..', import.meta.url));
/** A readable name: the repository's paths relative, pnpm's store paths as `package@version/…`. */
function short(name) {
  return name
    .replace('file://', '')
    .replaceAll(root, '')
    .replace(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((@[^/]+\/)?[^/]+)\//, (_, pkg) => `${pkg}/`)
    .replace(/^JS:/, '');
}

/** A profile that `--keep` kept: its main thread's dump, and Node's perf map. */
function kept(name) {
  const rename = perfMapNames(readFileSync(join(from, `${name}.perf.map`), 'utf8'));
  const parsed = parseCallgrind(
    readFileSync(join(from, `${name}.callgrind`), 'utf8'),
    (raw) => short(rename(raw)),
    event,
  );
  return { ...parsed, measured: requestsOf(name).measured };
}

async function profile(name, dir) {
  if (from !== undefined) return kept(name);
  const { warm, measured } = requestsOf(name);
  const out = join(dir, `${name}.cg`);
  const pid = await runUnderCallgrind(name, out, {
    warm,
    measured,
    nodeArgs: ['--perf-basic-prof'],
    toolArgs,
    cwd: dir,
  });
  const rename = readPerfMap(pid);
  const parsed = parseCallgrind(readFileSync(`${out}.1-01`, 'utf8'), (raw) => short(rename(raw)), event);
  if (keep !== undefined) {
    mkdirSync(keep, { recursive: true });
    copyFileSync(`${out}.1-01`, join(keep, `${name}.callgrind`));
    try {
      copyFileSync(`/tmp/perf-${pid}.map`, join(keep, `${name}.perf.map`));
    } catch {}
  }
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  return { ...parsed, measured };
}

const per = (cost, run) => (cost / run.measured).toFixed(1).padStart(8);
const cut = (name) => (name.length > 110 ? `${name.slice(0, 107)}...` : name);

const dir = mkdtempSync(join(tmpdir(), 'breakwater-profile-'));
let main;
let base;
try {
  if (from === undefined)
    console.error(`profiling ${[scenario, against].filter(Boolean).join(' and ')} under callgrind: about 2 min`);
  [main, base] = await Promise.all([profile(scenario, dir), against === undefined ? undefined : profile(against, dir)]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${scenario}: ${per(main.total, main).trim()} ${unit} a request on the main thread`);
if (base !== undefined) {
  console.log(
    `${against}: ${per(base.total, base).trim()} (difference ${per(main.total / main.measured - base.total / base.measured, { measured: 1 }).trim()})`,
  );
}

console.log(`\nThe ${top} functions of ${scenario} with the most ${unit} of their own, per request:`);
console.log('    self    incl.  function');
for (const [fn, cost] of [...main.self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${per(cost, main)} ${per(inclusiveCost(main, fn), main)}  ${cut(fn)}`);
}

const ours = [...main.self.keys()]
  .filter((fn) => match.test(fn))
  .sort((a, b) => inclusiveCost(main, b) - inclusiveCost(main, a));
console.log(`\nFunctions matching ${match} (self, inclusive; then callers and callees, with calls per request):`);
if (ours.length === 0) console.log('  none: inlined into their callers, or the scenario does not run them');
for (const fn of ours) {
  console.log(`${per(main.self.get(fn), main)} ${per(inclusiveCost(main, fn), main)}  ${cut(fn)}`);
  for (const [caller, callees] of main.calls) {
    const edge = callees.get(fn);
    if (edge !== undefined && edge.cost / main.measured >= 1)
      console.log(`           <- ${per(edge.cost, main)} ${(edge.count / main.measured).toFixed(2)}×  ${cut(caller)}`);
  }
  const callees = [...(main.calls.get(fn) ?? [])].sort((a, b) => b[1].cost - a[1].cost).slice(0, 8);
  for (const [callee, edge] of callees) {
    if (edge.cost / main.measured >= 1)
      console.log(`           -> ${per(edge.cost, main)} ${(edge.count / main.measured).toFixed(2)}×  ${cut(callee)}`);
  }
}

if (base !== undefined) {
  const names = new Set([...main.self.keys(), ...base.self.keys()]);
  const differences = [...names]
    .map((fn) => [fn, (main.self.get(fn) ?? 0) / main.measured - (base.self.get(fn) ?? 0) / base.measured])
    .sort((a, b) => b[1] - a[1]);
  const row = ([fn, difference]) =>
    `${difference.toFixed(1).padStart(8)} ${per(base.self.get(fn) ?? 0, base)} ${per(main.self.get(fn) ?? 0, main)}  ${cut(fn)}`;
  console.log(`\nSelf cost per request, ${scenario} over ${against}: the ${top} largest increases`);
  console.log('    diff  against     this  function');
  for (const entry of differences.slice(0, top)) console.log(row(entry));
  console.log(`\n... and the ${top} largest decreases`);
  for (const entry of differences.slice(-top).reverse()) console.log(row(entry));
}
