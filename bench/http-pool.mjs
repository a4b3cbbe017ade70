// Pools the rounds of several bench:http runs into one table:
//   pnpm bench:http:pool bench/results/http.rounds.log bench/results/http-second.rounds.log …
// Each round is compared within itself (a scenario against the same round's bare server), as the
// benchmark does; pooling only puts more rounds under the medians. Give runs of the same code (of
// the frameworks whose rows you read). Below the table, the medians of the req/s ratios with their
// 95% confidence intervals.
import { readFileSync } from 'node:fs';
import { intervalLines, parseRounds, tableLines } from './http/report.mjs';
import { groups as defined, peers } from './http/scenarios.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/http-pool.mjs <run>.rounds.log [<run>.rounds.log …]');
  process.exit(2);
}
const runs = files.map((file) => {
  try {
    return { file, rounds: parseRounds(readFileSync(file, 'utf8')) };
  } catch (error) {
    return { file, problem: error.message };
  }
});
const problems = runs
  .map(
    ({ file, rounds, problem }) =>
      problem ?? (rounds.length === 0 ? `${file}: no round lines ("round 1/24 fastify-bare …") in it` : undefined),
  )
  .filter((problem) => problem !== undefined);
if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(2);
}
const rounds = runs.flatMap((run) => run.rounds);

// The frameworks in the order bench:http reports them, each with the scenarios the runs had: its
// defined ones first (bare first), then any others, such as a control or --extra scenarios.
const seen = new Set(rounds.flatMap((round) => Object.keys(round)));
const groups = Object.entries(defined)
  .map(([framework, scenarios]) => [
    framework,
    [
      ...scenarios.filter((scenario) => seen.has(scenario)),
      ...[...seen].filter((scenario) => scenario.startsWith(`${framework}-`) && !scenarios.includes(scenario)),
    ],
  ])
  .filter(([, scenarios]) => scenarios.length > 0);

console.log(
  `HTTP overhead, pooled: ${rounds.length} rounds from ${files.length} run${files.length === 1 ? '' : 's'} (${files.join(', ')}).`,
);
console.log('');
console.log(tableLines(rounds, groups, peers).join('\n'));
console.log('');
console.log(intervalLines(rounds, groups, peers).join('\n'));
