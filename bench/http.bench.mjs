// HTTP overhead benchmark: for each framework, a JSON hello-world route bare, with Breakwater
// (closed circuit) and with the peers, served from a separate process on 127.0.0.1 and loaded
// with autocannon. Rounds are interleaved and the median of each scenario is reported.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ROUNDS = Number(args.get('rounds') ?? 3);
const DURATION = Number(args.get('duration') ?? 5);
const CONNECTIONS = Number(args.get('connections') ?? 32);
const only = args.get('only');

const groups = {
  express: ['express-bare', 'express-breakwater', 'express-opossum'],
  koa: ['koa-bare', 'koa-breakwater'],
  fastify: ['fastify-bare', 'fastify-breakwater', 'fastify-circuit-breaker'],
};
const serverPath = fileURLToPath(new URL('./http/server.mjs', import.meta.url));

function startServer(scenario) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverPath, scenario], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${scenario}: server did not start`)), 15_000);
    lines.on('line', (line) => {
      const match = /^PORT (\d+)$/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${scenario}: server exited with ${code}`)));
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

async function measure(scenario) {
  const { child, port } = await startServer(scenario);
  try {
    await load(port, 1); // warm-up
    const result = await load(port, DURATION);
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${scenario}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return { rps: result.requests.average, p99: result.latency.p99 };
  } finally {
    child.kill();
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const samples = {};
const selected = Object.entries(groups).filter(([name]) => !only || only.split(',').includes(name));
for (let round = 1; round <= ROUNDS; round++) {
  for (const [, scenarios] of selected) {
    for (const scenario of scenarios) {
      const sample = await measure(scenario);
      samples[scenario] = [...(samples[scenario] ?? []), sample];
      console.error(
        `round ${round}/${ROUNDS} ${scenario.padEnd(24)} ${sample.rps.toFixed(0).padStart(7)} req/s  p99 ${sample.p99} ms`,
      );
    }
  }
}

const rows = [
  `HTTP overhead: ${ROUNDS} interleaved rounds × ${DURATION} s, ${CONNECTIONS} connections, autocannon and server in separate processes on 127.0.0.1; medians. Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| framework | scenario | req/s (median) | p99 latency (ms) | vs bare |',
  '|---|---|---:|---:|---:|',
];
for (const [framework, scenarios] of selected) {
  const bare = median(samples[`${framework}-bare`].map((s) => s.rps));
  for (const scenario of scenarios) {
    const rps = median(samples[scenario].map((s) => s.rps));
    const p99 = median(samples[scenario].map((s) => s.p99));
    const label = scenario.slice(framework.length + 1);
    rows.push(`| ${framework} | ${label} | ${rps.toFixed(0)} | ${p99} | ${((rps / bare) * 100).toFixed(1)}% |`);
  }
}
const table = rows.join('\n');
console.log(table);
mkdirSync(fileURLToPath(new URL('./results', import.meta.url)), { recursive: true });
writeFileSync(new URL('./results/http.md', import.meta.url), `${table}\n`);
