// The Breakwater demo: an Express gateway in front of a simulated products service that goes
// healthy → failing → slow → recovering while a load loop sends requests. Prints a live
// timeline (breaker state, status codes, fallbacks, req/s) and a summary; ends by itself.
import { Registry } from '@breakwater/core';
import { createUpstream } from '@breakwater/example-upstream';
import { createGateway } from './gateway.mjs';

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const dim = paint(2);
const bold = paint(1);
const colourState = (state) => (state === 'CLOSED' ? green : state === 'OPEN' ? red : yellow)(state.padEnd(9));

const phases = [
  { at: 0, mode: 'healthy', note: 'upstream healthy' },
  { at: 4_000, mode: 'failing', note: 'upstream starts failing (every call 500)' },
  { at: 9_000, mode: 'slow', note: 'upstream comes back slow (1.5 s > timeoutMs 800)' },
  { at: 12_000, mode: 'healthy', note: 'upstream recovered' },
];
const DURATION_MS = 18_000;
const WORKERS = 4;

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const registry = new Registry();
const app = createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, registry });
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const base = `http://127.0.0.1:${server.address().port}`;

const start = Date.now();
const elapsed = () => ((Date.now() - start) / 1000).toFixed(1).padStart(5);
const tick = { ok: 0, cache: 0, rejected: 0, failed: 0 };
const total = { ok: 0, cache: 0, rejected: 0, failed: 0, requests: 0 };

console.log(bold('Breakwater demo: Express gateway → products service'));
console.log(
  dim(
    `gateway ${base}, upstream :${upstreamPort}; breaker "products": 5 failures or 50% of ≥10 calls open it, probe after 2 s, timeout 800 ms, cache fallback\n`,
  ),
);

// One request first so the breaker exists, then listen to its state changes.
await fetch(`${base}/api/products?page=1`).then((r) => r.arrayBuffer());
registry.get('products').on('stateChange', ({ from, to, reason }) => {
  console.log(
    `${elapsed()}s  ${bold('▶ breaker')} ${colourState(from).trim()} → ${colourState(to).trim()}  ${dim(`(${reason})`)}`,
  );
});

let phase = 0;
let running = true;
async function worker(id) {
  let n = id;
  while (running) {
    // Mostly five popular pages (cached while healthy), now and then one never seen before.
    const page = n % 10 === 9 ? `new-${n}` : (n % 5) + 1;
    n++;
    try {
      const res = await fetch(`${base}/api/products?page=${page}`);
      await res.arrayBuffer();
      total.requests++;
      const kind =
        res.headers.get('x-circuit-fallback') === 'cache'
          ? 'cache'
          : res.status === 503
            ? 'rejected'
            : res.ok
              ? 'ok'
              : 'failed';
      tick[kind]++;
      total[kind]++;
    } catch {
      tick.failed++;
      total.failed++;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const timer = setInterval(() => {
  const now = Date.now() - start;
  while (phase < phases.length && phases[phase].at <= now) {
    upstream.setMode(phases[phase].mode);
    console.log(`${elapsed()}s  ${bold('● ' + phases[phase].note)}`);
    phase++;
  }
  const state = registry.get('products').state;
  const rate = ((tick.ok + tick.cache + tick.rejected + tick.failed) * 2).toString().padStart(4);
  console.log(
    `${elapsed()}s  ${colourState(state)} upstream ${upstream.mode.padEnd(8)}` +
      ` ${green(`200×${String(tick.ok).padEnd(3)}`)} ${yellow(`cached×${String(tick.cache).padEnd(3)}`)}` +
      ` ${red(`503×${String(tick.rejected).padEnd(3)}`)} ${red(`5xx×${String(tick.failed).padEnd(3)}`)} ${dim(`${rate} req/s`)}`,
  );
  tick.ok = tick.cache = tick.rejected = tick.failed = 0;
}, 500);

const workers = Array.from({ length: WORKERS }, (_, id) => worker(id));
await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
running = false;
clearInterval(timer);
await Promise.all(workers);

const stats = registry.get('products').stats();
console.log(`\n${bold('Summary')}`);
console.log(`  requests sent           ${total.requests}`);
console.log(`  answered by upstream    ${total.ok}`);
console.log(`  served from cache       ${total.cache}   (x-circuit-fallback: cache)`);
console.log(`  rejected with 503       ${total.rejected}   (URLs never cached: structured JSON, Retry-After)`);
console.log(`  failed (5xx/timeouts)   ${total.failed}`);
console.log(
  `  upstream calls          ${upstream.calls}   (the breaker spared it ${total.requests - upstream.calls} calls)`,
);
console.log(
  `  breaker                 ${stats.state}; ${stats.failures} failures, ${stats.timeouts} timeouts, ${stats.rejected} rejected`,
);
console.log(dim('\nhealth document:'));
console.log(JSON.stringify(await fetch(`${base}/health/circuit-breakers`).then((r) => r.json())));

server.closeAllConnections?.();
server.close();
await upstream.close();
