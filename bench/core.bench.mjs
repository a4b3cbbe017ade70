// Core benchmark: Breakwater's CircuitBreaker against opossum 9 and cockatiel 3, in one process.
// Measures ns/op (median of several interleaved rounds, after a warm-up) for a closed-path call
// of an async function beside a bare `await fn()`, tryAcquire() + success(), and rejections
// while OPEN; then retained memory per idle breaker (10,000 of each, heap + array buffers, after
// gc) and the CPU cost of idle breakers. Prints a markdown table and writes bench/results/core.md.
//
//   pnpm --filter @breakwater/core build && node --expose-gc bench/core.bench.mjs [--rounds=7]
//
// It imports the built package (dist), so build first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CircuitBreaker } from '@breakwater/core';
import {
  CircuitState as CockatielState,
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  handleAll,
  SamplingBreaker,
} from 'cockatiel';
import OpossumBreaker from 'opossum';

if (typeof globalThis.gc !== 'function') {
  console.error('Run with --expose-gc: node --expose-gc bench/core.bench.mjs');
  process.exit(1);
}
const gc = globalThis.gc;

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ROUNDS = Number(args.get('rounds') ?? 7);
const ROUND_MS = Number(args.get('round-ms') ?? 120);
const IDLE_COUNT = 10_000;
const IDLE_CPU_COUNT = 100_000;
const IDLE_MS = 1_000;
const SETTLE_MS = 1_500;
const FOREVER = 1_000_000_000;

const fn = async () => 1;
const boom = new Error('boom');
const failing = async () => {
  throw boom;
};
const swallow = () => {};

// --- subjects --------------------------------------------------------------------------

// Breakwater: defaults (5 consecutive failures, 50% of ≥ 10 calls in 60 s), no timeoutMs.
const bwClosed = new CircuitBreaker({ name: 'closed' });
const bwTimeout = new CircuitBreaker({ name: 'closed-timeout', timeoutMs: 10_000 });
const bwPermit = new CircuitBreaker({ name: 'permit' });
const bwOpen = new CircuitBreaker({ name: 'open', recoveryTimeoutMs: FOREVER, maxRecoveryTimeoutMs: FOREVER });
for (let i = 0; i < 5; i++) bwOpen.tryAcquire()?.failure(boom);
if (bwOpen.state !== 'OPEN') throw new Error(`expected the Breakwater breaker OPEN, got ${bwOpen.state}`);

// opossum: default options (timeout 10 s: one timer armed per call, errorThresholdPercentage 50,
// resetTimeout 30 s, 10 s rolling window) and the same with `timeout: false`.
const opDefault = new OpossumBreaker(fn);
const opNoTimeout = new OpossumBreaker(fn, { timeout: false });
const opOpen = new OpossumBreaker(fn, { timeout: false, resetTimeout: FOREVER });
opOpen.open();

// cockatiel: ConsecutiveBreaker(5), tripped by five real failures for the OPEN case.
const ckClosed = cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
// SamplingBreaker is cockatiel's time-window rule, the like-for-like of Breakwater's defaults.
const ckSampling = cockatielBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new SamplingBreaker({ threshold: 0.5, duration: 60_000 }),
});
const ckOpen = cockatielBreaker(handleAll, { halfOpenAfter: FOREVER, breaker: new ConsecutiveBreaker(5) });
for (let i = 0; i < 5; i++) await ckOpen.execute(failing).catch(swallow);
if (ckOpen.state !== CockatielState.Open) throw new Error(`expected cockatiel OPEN, got ${ckOpen.state}`);

// Each case runs `n` operations and returns the number of errors seen (a rejection case that
// sees fewer errors than operations is broken, and we check).
const cases = {
  bare: async (n) => {
    for (let i = 0; i < n; i++) await fn();
    return 0;
  },
  'bw.execute': async (n) => {
    for (let i = 0; i < n; i++) await bwClosed.execute(fn);
    return 0;
  },
  'bw.execute+timeout': async (n) => {
    for (let i = 0; i < n; i++) await bwTimeout.execute(fn);
    return 0;
  },
  'op.fire': async (n) => {
    for (let i = 0; i < n; i++) await opDefault.fire();
    return 0;
  },
  'op.fire.noTimeout': async (n) => {
    for (let i = 0; i < n; i++) await opNoTimeout.fire();
    return 0;
  },
  'ck.execute': async (n) => {
    for (let i = 0; i < n; i++) await ckClosed.execute(fn);
    return 0;
  },
  'ck.execute.sampling': async (n) => {
    for (let i = 0; i < n; i++) await ckSampling.execute(fn);
    return 0;
  },
  'bare.reject': async (n) => {
    let errors = 0;
    for (let i = 0; i < n; i++) {
      try {
        await Promise.reject(boom);
      } catch {
        errors++;
      }
    }
    return errors;
  },
  'bw.permit': (n) => {
    for (let i = 0; i < n; i++) bwPermit.tryAcquire().success();
    return 0;
  },
  'bw.reject.tryAcquire': (n) => {
    let errors = 0;
    for (let i = 0; i < n; i++) if (bwOpen.tryAcquire() === undefined) errors++;
    return errors;
  },
  'bw.reject.execute': async (n) => {
    let errors = 0;
    for (let i = 0; i < n; i++) {
      try {
        await bwOpen.execute(fn);
      } catch {
        errors++;
      }
    }
    return errors;
  },
  'op.reject': async (n) => {
    let errors = 0;
    for (let i = 0; i < n; i++) {
      try {
        await opOpen.fire();
      } catch {
        errors++;
      }
    }
    return errors;
  },
  'ck.reject': async (n) => {
    let errors = 0;
    for (let i = 0; i < n; i++) {
      try {
        await ckOpen.execute(fn);
      } catch {
        errors++;
      }
    }
    return errors;
  },
};
const rejecting = new Set(['bare.reject', 'bw.reject.tryAcquire', 'bw.reject.execute', 'op.reject', 'ck.reject']);

async function timed(name, n) {
  const t0 = process.hrtime.bigint();
  const errors = await cases[name](n);
  const ns = Number(process.hrtime.bigint() - t0);
  if (rejecting.has(name) && errors !== n) throw new Error(`${name}: ${errors} of ${n} calls rejected`);
  return ns / n;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function measureSpeed() {
  // Warm-up, which also sizes each case so that a round lasts about ROUND_MS.
  const sizes = {};
  for (const name of Object.keys(cases)) {
    let n = 1_000;
    let ns = await timed(name, n);
    while (ns * n < 30e6) {
      n *= 4;
      ns = await timed(name, n);
    }
    for (let i = 0; i < 2; i++) ns = await timed(name, n);
    sizes[name] = Math.max(1_000, Math.round((ROUND_MS * 1e6) / ns));
  }
  // Rounds interleave the cases so that drift (other processes, CPU frequency) hits all of them.
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(cases)) {
      gc();
      samples[name].push(await timed(name, sizes[name]));
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS}\r`);
  }
  process.stderr.write('\n');
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

// --- memory and idle CPU --------------------------------------------------------------------

function retainedBytes() {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Runs `build` and counts the timers it arms, unref()ed ones included (which active resources omit). */
function countingTimers(build) {
  const { setTimeout: realTimeout, setInterval: realInterval } = globalThis;
  let armed = 0;
  globalThis.setTimeout = (...a) => {
    armed++;
    return realTimeout(...a);
  };
  globalThis.setInterval = (...a) => {
    armed++;
    return realInterval(...a);
  };
  try {
    build();
  } finally {
    globalThis.setTimeout = realTimeout;
    globalThis.setInterval = realInterval;
  }
  return armed;
}

/**
 * Process CPU time (all threads) while the event loop sits idle for IDLE_MS. It first waits
 * for V8 to finish its own housekeeping after the big allocation (concurrent sweeping, the
 * memory reducer), which would otherwise be billed to whatever was allocated.
 */
async function idleCpuMs() {
  gc();
  await sleep(SETTLE_MS);
  const before = process.cpuUsage();
  await sleep(IDLE_MS);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

const factories = {
  bw: (name) => new CircuitBreaker({ name }),
  op: (name) => new OpossumBreaker(fn, { name }),
  ck: () => cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
};
const shutdown = {
  bw: () => {},
  op: (breaker) => breaker.shutdown(),
  ck: () => {},
};

/** Creates `count` idle breakers and reports bytes retained per breaker, timers, and idle CPU. */
async function measureIdle(lib, count, baselineCpuMs) {
  const names = Array.from({ length: count }, (_, i) => `idle-${lib}-${i}`);
  const keep = new Array(count);
  const activeBefore = activeTimers();
  const before = retainedBytes();
  const timers = countingTimers(() => {
    for (let i = 0; i < count; i++) keep[i] = factories[lib](names[i]);
  });
  const after = retainedBytes();
  const active = activeTimers() - activeBefore;
  const cpuMs = (await idleCpuMs()) - baselineCpuMs;
  const heap = (after.heap - before.heap) / count;
  const buffers = (after.buffers - before.buffers) / count;
  for (const breaker of keep) shutdown[lib](breaker);
  keep.length = 0;
  gc();
  return { heap, buffers, bytes: heap + buffers, timers, active, cpuMs: Math.max(0, cpuMs) };
}

async function measureMemory() {
  const baselineCpuMs = await idleCpuMs();
  const result = { baselineCpuMs };
  for (const lib of ['bw', 'op', 'ck']) result[lib] = await measureIdle(lib, IDLE_COUNT, baselineCpuMs);
  result.bw100k = await measureIdle('bw', IDLE_CPU_COUNT, baselineCpuMs);
  return result;
}

// --- report ---------------------------------------------------------------------------------

const fmtNs = (ns) => (ns >= 100 ? ns.toFixed(0) : ns.toFixed(1));
const fmtRatio = (r) => (Number.isFinite(r) && r > 0 ? `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×` : '—');
const fmtRate = (ns) => `${(1e3 / ns).toFixed(1)} M/s`;
const fmtBytes = (b) => `${Math.round(b).toLocaleString('en-US')} B`;
const fmtMs = (ms) => `${ms.toFixed(1)} ms`;

function report(speed, memory) {
  const over = (name) => Math.max(speed[name] - speed.bare, 0.1);
  const ns = (name) => `${fmtNs(speed[name])} ns`;
  const withOver = (name) => `${fmtNs(speed[name])} ns (+${fmtNs(over(name))})`;
  const rate = (name) => `${fmtNs(speed[name])} ns (${fmtRate(speed[name])})`;
  const k = (n) => n.toLocaleString('en-US');
  const bw = over('bw.execute');
  const bwT = over('bw.execute+timeout');
  const ratio = {
    op: over('op.fire.noTimeout') / bw,
    opT: over('op.fire') / bwT,
    ck: over('ck.execute') / bw,
    ckSampling: over('ck.execute.sampling') / bw,
  };
  const rows = [
    ['bare `await fn()` (reference)', ns('bare'), '', '', ''],
    [
      'closed `execute(fn)`, ns/op (+ overhead over bare)',
      withOver('bw.execute'),
      `${withOver('op.fire.noTimeout')}, \`timeout: false\``,
      `${withOver('ck.execute')}, ConsecutiveBreaker(5)`,
      `opossum ${fmtRatio(ratio.op)}, cockatiel ${fmtRatio(ratio.ck)}`,
    ],
    [
      'closed `execute(fn)`, cockatiel with its time-window rule',
      withOver('bw.execute'),
      '',
      `${withOver('ck.execute.sampling')}, SamplingBreaker(0.5, 60 s)`,
      `cockatiel ${fmtRatio(ratio.ckSampling)}`,
    ],
    [
      'closed call with a 10 s timeout (opossum arms a timer per call, Breakwater one per breaker)',
      `${withOver('bw.execute+timeout')}, \`timeoutMs: 10000\``,
      `${withOver('op.fire')}, defaults`,
      '',
      `opossum ${fmtRatio(ratio.opT)}`,
    ],
    ['`tryAcquire()` + `success()`', ns('bw.permit'), '', '', ''],
    ['rejection while OPEN: `tryAcquire()` → `undefined`', rate('bw.reject.tryAcquire'), '', '', ''],
    [
      `rejection while OPEN, awaited and caught (bare \`await Promise.reject(e)\`: ${ns('bare.reject')})`,
      rate('bw.reject.execute'),
      rate('op.reject'),
      rate('ck.reject'),
      `opossum ${fmtRatio(speed['op.reject'] / speed['bw.reject.execute'])}, ` +
        `cockatiel ${fmtRatio(speed['ck.reject'] / speed['bw.reject.execute'])}`,
    ],
    [
      `retained memory per idle breaker (${k(IDLE_COUNT)}; heap + array buffers)`,
      fmtBytes(memory.bw.bytes),
      fmtBytes(memory.op.bytes),
      fmtBytes(memory.ck.bytes),
      `opossum ${fmtRatio(memory.op.bytes / memory.bw.bytes)}, cockatiel ${fmtRatio(memory.ck.bytes / memory.bw.bytes)}`,
    ],
    [
      `timers armed by ${k(IDLE_COUNT)} idle breakers (\`unref()\`ed ones included)`,
      k(memory.bw.timers),
      k(memory.op.timers),
      k(memory.ck.timers),
      '',
    ],
    [
      `process CPU in ${IDLE_MS / 1000} s idle with ${k(IDLE_COUNT)} breakers (over baseline)`,
      fmtMs(memory.bw.cpuMs),
      fmtMs(memory.op.cpuMs),
      fmtMs(memory.ck.cpuMs),
      '',
    ],
    [
      `${k(IDLE_CPU_COUNT)} idle breakers: CPU in ${IDLE_MS / 1000} s, timers, memory each`,
      `${fmtMs(memory.bw100k.cpuMs)}, ${memory.bw100k.timers} timers, ${fmtBytes(memory.bw100k.bytes)}`,
      '',
      '',
      '',
    ],
  ];

  const targets = [
    ["closed-path overhead ≤ 1/10 of opossum's (`timeout: false`)", ratio.op >= 10, `${fmtRatio(ratio.op)} smaller`],
    [
      "closed-path overhead ≤ 1/10 of opossum's, both with a 10 s timeout (our own stricter comparison, not the issue's)",
      ratio.opT >= 10,
      `${fmtRatio(ratio.opT)} smaller`,
    ],
    [
      "closed-path overhead ≤ 1/3 of cockatiel's (ConsecutiveBreaker)",
      ratio.ck >= 3,
      `${fmtRatio(ratio.ck)} smaller (SamplingBreaker: ${fmtRatio(ratio.ckSampling)})`,
    ],
    [
      'rejections without a stack trace, millions per second',
      speed['bw.reject.tryAcquire'] <= 1000 && speed['bw.reject.execute'] <= 1000,
      `\`tryAcquire()\` ${fmtRate(speed['bw.reject.tryAcquire'])}, \`execute()\` ${fmtRate(speed['bw.reject.execute'])} ` +
        `(${(speed['bw.reject.execute'] / speed['bare.reject']).toFixed(2)}× Node's own \`await Promise.reject(e)\`, ` +
        `${fmtRate(speed['bare.reject'])}, the floor for any awaited rejection)`,
    ],
    ['≤ 1 KB per idle breaker', memory.bw.bytes <= 1024, fmtBytes(memory.bw.bytes)],
    [
      `${k(IDLE_CPU_COUNT)} idle breakers cost no CPU`,
      memory.bw100k.timers === 0 && memory.bw100k.active <= 0 && memory.bw100k.cpuMs < 5,
      `${memory.bw100k.timers} timers armed, ${Math.max(0, memory.bw100k.active)} new active resources, ` +
        `${fmtMs(memory.bw100k.cpuMs)} CPU in ${IDLE_MS / 1000} s`,
    ],
  ];

  const header = ['case', 'breakwater', 'opossum 9', 'cockatiel 3', 'peer ÷ breakwater'];
  const table = [header, header.map(() => '---'), ...rows]
    .map((r) => `| ${r.map((cell) => cell || '—').join(' | ')} |`)
    .join('\n');
  const summary = targets.map(([what, met, value]) => `- ${met ? '✅' : '❌'} ${what}: ${value}`).join('\n');
  const env =
    `Node ${process.version}, ${platform()} ${arch()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `load ${loadavg()[0]?.toFixed(2)}; median of ${ROUNDS} interleaved rounds.`;
  const notes = [
    'Overhead = case − bare `await fn()`; ratios compare overheads (rejections: whole ns/op; memory: bytes).',
    'Breakwater: defaults (failureThreshold 5, failureRateThreshold 0.5 over a 60 s window), no timeoutMs unless stated; OPEN by five real failures.',
    'opossum: defaults are timeout 10 s (a timer armed per call), errorThresholdPercentage 50, resetTimeout 30 s, rollingCountTimeout 10 s; OPEN by `.open()`.',
    'cockatiel: `circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })`, no timeout policy; OPEN by five real failures.',
  ]
    .map((n) => `- ${n}`)
    .join('\n');
  return `${table}\n\n${env}\n\n${notes}\n\nTargets:\n\n${summary}\n`;
}

const started = Date.now();
// Memory and idle CPU first, on a heap the timing loops have not churned (after them, the same
// 10,000 breakers measured ~150 B larger each).
const memory = await measureMemory();
const speed = await measureSpeed();
for (const breaker of [opDefault, opNoTimeout, opOpen]) breaker.shutdown();
const markdown = report(speed, memory);
console.log(markdown);
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
const out = fileURLToPath(new URL('./results/core.md', import.meta.url));
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
writeFileSync(out, `# Core benchmark\n\n${markdown}`);
