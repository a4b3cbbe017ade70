// The statistics and the results table of bench:http, shared by the benchmark (bench/http.bench.mjs)
// and by the pooling of several runs' rounds (bench/http-pool.mjs). A round is an object that maps
// each scenario run in it to its sample: { rps, cpu (µs of server CPU per request), p99 (ms) }.

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (at - low);
}

export const median = (values) => quantile(values, 0.5);
const percent = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const spread = (ratios) =>
  `${percent(median(ratios))} (${percent(quantile(ratios, 0.25))}–${percent(quantile(ratios, 0.75))})`;

/**
 * Per-round ratios of `scenario` to `base`, over the rounds that ran both: throughput, and CPU per
 * request (base / scenario, so that higher is better for both).
 */
function ratios(rounds, scenario, base) {
  const both = rounds.filter((round) => round[scenario] !== undefined && round[base] !== undefined);
  return {
    rps: both.map((round) => round[scenario].rps / round[base].rps),
    cpu: both.map((round) => round[base].cpu / round[scenario].cpu),
  };
}

/**
 * The table's rows, then a line per framework comparing Breakwater with its peer. `groups` lists
 * [framework, scenarios] with bare first; `peers` maps a framework to its peer's scenario.
 */
export function tableLines(rounds, groups, peers) {
  const lines = [
    '| framework | scenario | req/s (median) | vs bare (IQR) | CPU µs/req (median) | CPU vs bare (IQR) | p99 latency (ms) |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const [framework, scenarios] of groups) {
    for (const scenario of scenarios) {
      const samples = rounds.map((round) => round[scenario]).filter((sample) => sample !== undefined);
      const vsBare = ratios(rounds, scenario, `${framework}-bare`);
      const label = scenario.slice(framework.length + 1);
      lines.push(
        `| ${framework} | ${label} | ${median(samples.map((s) => s.rps)).toFixed(0)} | ${spread(vsBare.rps)} | ${median(samples.map((s) => s.cpu)).toFixed(1)} | ${spread(vsBare.cpu)} | ${median(samples.map((s) => s.p99))} |`,
      );
    }
  }
  const versus = [];
  for (const [framework, scenarios] of groups) {
    const peer = peers[framework];
    if (peer === undefined || !scenarios.includes(peer)) continue;
    const vsPeer = ratios(rounds, `${framework}-breakwater`, peer);
    versus.push(
      `- ${framework}: Breakwater vs ${peer.slice(framework.length + 1)}: ${spread(vsPeer.rps)} of its req/s, ${spread(vsPeer.cpu)} of its CPU time per request inverted (above 100% = cheaper).`,
    );
  }
  return versus.length > 0 ? [...lines, '', ...versus] : lines;
}

/**
 * The line the benchmark prints, and keeps in `<name>.rounds.log`, for one scenario's sample of a
 * round: precise enough (0.1 req/s, 0.01 µs) that pooling one run's log gives that run's table.
 */
export function roundLine(round, rounds, scenario, sample) {
  return `round ${round}/${rounds} ${scenario.padEnd(24)} ${sample.rps.toFixed(1).padStart(9)} req/s  ${sample.cpu.toFixed(2).padStart(7)} µs CPU/req  p99 ${sample.p99} ms`;
}

const ROUND_LINE = /^round (\d+)\/\d+ (\S+)\s+([\d.]+) req\/s\s+([\d.]+) µs CPU\/req\s+p99 ([\d.]+) ms$/;

/** The rounds of one run, from the lines `roundLine` made (other lines are skipped). */
export function parseRounds(text) {
  const rounds = [];
  for (const line of text.split('\n')) {
    const match = ROUND_LINE.exec(line.trim());
    if (match === null) continue;
    const index = Number(match[1]) - 1;
    rounds[index] ??= {};
    rounds[index][match[2]] = { rps: Number(match[3]), cpu: Number(match[4]), p99: Number(match[5]) };
  }
  return rounds.filter((round) => round !== undefined);
}
