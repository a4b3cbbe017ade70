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

/**
 * A distribution-free confidence interval for the median of `values` (at `level`, 95% by default):
 * the order statistics x(k) and x(n+1-k), with k the largest rank such that a median lies outside
 * them with probability at most 1 - level, from the binomial distribution of how many values fall
 * below the true median. It assumes independent values: rounds of one run share the machine's
 * mood, so the intervals of pooled runs are only as honest as the control's shows.
 * Undefined below 6 values, where no such pair of ranks exists at 95%.
 */
export function medianInterval(values, level = 0.95) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  // P(X < k) for X ~ Binomial(n, 1/2), summed in logs to stay finite for large n.
  let below = 0;
  let k = 0;
  let logTerm = -n * Math.LN2; // log P(X = 0)
  while (k < n / 2) {
    const next = below + Math.exp(logTerm);
    if (2 * next > 1 - level) break;
    below = next;
    logTerm += Math.log((n - k) / (k + 1));
    k++;
  }
  if (k === 0) return undefined;
  return [sorted[k - 1], sorted[n - k]];
}

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

/** The peer scenario of `framework` when the run had it, beside Breakwater's; else undefined. */
function peerIn(framework, scenarios, peers) {
  const peer = peers[framework];
  return peer !== undefined && scenarios.includes(peer) && scenarios.includes(`${framework}-breakwater`)
    ? peer
    : undefined;
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
    const peer = peerIn(framework, scenarios, peers);
    if (peer === undefined) continue;
    const vsPeer = ratios(rounds, `${framework}-breakwater`, peer);
    versus.push(
      `- ${framework}: Breakwater vs ${peer.slice(framework.length + 1)}: ${spread(vsPeer.rps)} of its req/s, ${spread(vsPeer.cpu)} of its CPU time per request inverted (above 100% = cheaper).`,
    );
  }
  return versus.length > 0 ? [...lines, '', ...versus] : lines;
}

/**
 * Lines giving, per framework, the median per-round req/s ratio of Breakwater (and of the control,
 * when there is one) to bare, and of Breakwater to the peer, each with its 95% confidence interval
 * (`medianInterval`): a target is clearly met when the whole interval is on its side.
 */
export function intervalLines(rounds, groups, peers) {
  const lines = [];
  const describe = (label, values) => {
    const interval = medianInterval(values);
    const range =
      interval === undefined
        ? 'too few rounds for an interval'
        : `95% CI ${percent(interval[0])}–${percent(interval[1])}`;
    return `${label} ${percent(median(values))} (${range}, ${values.length} rounds)`;
  };
  for (const [framework, scenarios] of groups) {
    const parts = [];
    for (const scenario of [`${framework}-breakwater`, `${framework}-control`]) {
      if (!scenarios.includes(scenario)) continue;
      parts.push(
        describe(`${scenario.slice(framework.length + 1)} vs bare`, ratios(rounds, scenario, `${framework}-bare`).rps),
      );
    }
    const peer = peerIn(framework, scenarios, peers);
    if (peer !== undefined)
      parts.push(
        describe(
          `breakwater vs ${peer.slice(framework.length + 1)}`,
          ratios(rounds, `${framework}-breakwater`, peer).rps,
        ),
      );
    if (parts.length > 0) lines.push(`- ${framework}: ${parts.join('; ')}.`);
  }
  return [
    'Medians of the per-round req/s ratios, with distribution-free 95% confidence intervals (rounds taken as independent):',
    ...lines,
  ];
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
