// The core demo: a simulated flaky dependency (healthy → failing → hanging → recovering) called
// through one CircuitBreaker by a small load loop. Prints a timeline, one line per 250 ms tick
// (calls ok / failed / timed out / rejected, and the state), a highlighted line for every state
// change with its reason, and the breaker's stats() at the end. Ends by itself in about 12 s.
import { CircuitBreaker, isCircuitOpenError, isCircuitTimeoutError } from '@breakwater/core';

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : String(text));
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const magenta = paint(35);
const dim = paint(2);
const bold = paint(1);
const STATE_COLOUR = { CLOSED: green, OPEN: red, HALF_OPEN: yellow };
const colourState = (state, width = 0) => (STATE_COLOUR[state] ?? magenta)(state.padEnd(width));

const TICK_MS = 250;
const CALL_EVERY_MS = 40;
const DURATION_MS = 12_000;
const phases = [
  { at: 0, mode: 'healthy', note: 'dependency healthy (20–60 ms, 2% errors)' },
  { at: 2_500, mode: 'failing', note: 'dependency failing (90% errors)' },
  { at: 5_500, mode: 'hanging', note: 'dependency hangs (answers after 1 s > timeoutMs 300)' },
  { at: 8_000, mode: 'healthy', note: 'dependency recovered' },
];

// A small seeded PRNG, so two runs fail the same calls (timing still varies a little).
let seed = 0x2f6e2b1;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

let mode = 'healthy';
/** The simulated dependency: honours the breaker's AbortSignal like fetch would. */
async function dependency(signal) {
  switch (mode) {
    case 'healthy':
      await sleep(20 + random() * 40, signal);
      if (random() < 0.02) throw new Error('503 from dependency');
      return 'ok';
    case 'failing':
      await sleep(5 + random() * 15, signal);
      if (random() < 0.9) throw new Error('500 from dependency');
      return 'ok';
    default:
      await sleep(1_000, signal);
      return 'ok';
  }
}

const breaker = new CircuitBreaker({
  name: 'inventory',
  failureThreshold: 4,
  failureRateThreshold: 0.5,
  minimumRequests: 8,
  metricsWindowMs: 5_000,
  timeoutMs: 300,
  recoveryTimeoutMs: 1_500,
  halfOpenMaxRequests: 2,
  successThreshold: 2,
});

const start = Date.now();
const stamp = () => `${((Date.now() - start) / 1000).toFixed(2).padStart(6)}s`;
const fresh = () => ({ ok: 0, failed: 0, timeouts: 0, rejected: 0 });
let tick = fresh();
const totals = fresh();
const count = (kind) => {
  tick[kind]++;
  totals[kind]++;
};

const transitions = [];
breaker.on('stateChange', ({ from, to, reason }) => {
  transitions.push(to);
  const arrow = `${colourState(from)} → ${colourState(to)}`;
  console.log(`${stamp()}  ${bold('▶ state')} ${arrow}  ${dim(`reason: ${reason}`)}`);
});

console.log(bold(`Breakwater core demo: breaker "${breaker.name}" in front of a flaky dependency`));
console.log(
  dim(
    `opens on 4 failures in a row or ≥50% of ≥8 calls in 5 s; timeoutMs 300; probes after 1.5 s, ` +
      `2 probes at once, 2 successes close it; one call every ${CALL_EVERY_MS} ms\n`,
  ),
);

function call() {
  breaker.execute(dependency).then(
    () => count('ok'),
    (error) => {
      if (isCircuitOpenError(error)) count('rejected');
      else if (isCircuitTimeoutError(error)) count('timeouts');
      else count('failed');
    },
  );
}

const num = (n, colour) => (n === 0 ? dim(String(n).padStart(3)) : colour(String(n).padStart(3)));
function printTick() {
  const { ok, failed, timeouts, rejected } = tick;
  tick = fresh();
  console.log(
    `${stamp()}  ${colourState(breaker.state, 9)}  ok ${num(ok, green)}  failed ${num(failed, red)}  ` +
      `timeouts ${num(timeouts, red)}  rejected ${num(rejected, yellow)}  ${dim(`dependency: ${mode}`)}`,
  );
}

let phase = 0;
function enterPhases() {
  while (phase < phases.length && phases[phase].at <= Date.now() - start) {
    mode = phases[phase].mode;
    console.log(`${stamp()}  ${bold(`● ${phases[phase].note}`)}`);
    phase++;
  }
}

enterPhases();
const caller = setInterval(() => {
  enterPhases();
  call();
}, CALL_EVERY_MS);
const ticker = setInterval(printTick, TICK_MS);

await sleep(DURATION_MS);
clearInterval(caller);
clearInterval(ticker);
// Let the calls still in flight settle (at most timeoutMs).
await sleep(350);
printTick();

const s = breaker.stats();
const opened = transitions.filter((to) => to === 'OPEN').length;
const LABEL_WIDTH = 'consecutive failures'.length;
// Two spaces after the longest label, so no value runs into its label.
const line = (label, value) => console.log(`  ${label.padEnd(LABEL_WIDTH)}  ${value}`);
console.log(`\n${bold('Summary')} ${dim('(breaker.stats())')}`);
line('state', `${colourState(s.state)} after ${transitions.length} state changes (${opened} opens)`);
line(
  'calls recorded',
  `${s.totalCalls}: ${green(`${s.successes} ok`)}, ${red(`${s.failures} failed`)} (${s.timeouts} of them timeouts)`,
);
line('rejected', `${yellow(String(s.rejected))} calls, without touching the dependency`);
line(
  `window (${s.window.windowMs / 1000} s)`,
  `${s.window.calls} calls, ${s.window.failures} failures, failure rate ${(s.failureRate * 100).toFixed(0)}%`,
);
line('consecutive failures', String(s.consecutiveFailures));
line(
  'seen by the caller',
  `ok ${totals.ok}, failed ${totals.failed}, timeouts ${totals.timeouts}, rejected ${totals.rejected}`,
);
console.log(
  dim(
    '\nThe caller can see a few more outcomes than the breaker recorded: a call that settles after the\n' +
      'breaker changed state (say, a second probe timing out after the first one re-opened it) does not count.',
  ),
);
