import { describe, expect, it } from 'vitest';
// @ts-expect-error: the benchmark's statistics are a plain JavaScript module without types.
import { intervalLines, medianInterval, parseRounds } from '../../bench/http/report.mjs';

const interval = medianInterval as (values: number[], level?: number) => [number, number] | undefined;
const ranks = (n: number) => interval(Array.from({ length: n }, (_, i) => i + 1));

describe('medianInterval (the confidence interval bench:http prints for each median)', () => {
  it('takes the order statistics of the binomial table', () => {
    // Exact binomial ranks at 95%: n = 24 -> x(7), x(18); n = 72 -> x(28), x(45); n = 6 -> x(1), x(6).
    expect(ranks(24)).toEqual([7, 18]);
    expect(ranks(72)).toEqual([28, 45]);
    expect(ranks(6)).toEqual([1, 6]);
  });

  it('gives none where no pair of ranks reaches the level', () => {
    expect(ranks(5)).toBeUndefined();
    expect(interval([])).toBeUndefined();
  });

  it('sorts its input and narrows at a lower level', () => {
    const values = [5, 3, 9, 1, 7, 2, 8, 6, 4, 10, 12, 11];
    expect(interval(values)).toEqual([3, 10]);
    expect(interval(values, 0.5)).toEqual([5, 8]);
  });

  it('covers the true median at least 95% of the time', () => {
    // A deterministic generator, so that the test cannot flake.
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let covered = 0;
    const trials = 2000;
    for (let trial = 0; trial < trials; trial++) {
      const found = interval(Array.from({ length: 24 }, random));
      if (found !== undefined && found[0] <= 0.5 && 0.5 <= found[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThanOrEqual(0.95);
  });
});

describe('intervalLines', () => {
  it('reports each framework against bare and its peer, from rounds as the log keeps them', () => {
    const log = Array.from({ length: 6 }, (_, i) =>
      [
        `round ${i + 1}/6 fastify-bare               ${(1000 + i).toFixed(1)} req/s    10.00 µs CPU/req  p99 1 ms`,
        `round ${i + 1}/6 fastify-breakwater          ${(980 + i).toFixed(1)} req/s    10.20 µs CPU/req  p99 1 ms`,
        `round ${i + 1}/6 fastify-circuit-breaker     ${(960 + i).toFixed(1)} req/s    10.40 µs CPU/req  p99 1 ms`,
      ].join('\n'),
    ).join('\n');
    const rounds = parseRounds(log);
    const lines = intervalLines(
      rounds,
      [['fastify', ['fastify-bare', 'fastify-breakwater', 'fastify-circuit-breaker']]],
      { fastify: 'fastify-circuit-breaker' },
    ) as string[];
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^- fastify: breakwater vs bare 98\.0% \(95% CI 98\.0%–98\.0%, 6 rounds\); breakwater vs circuit-breaker 102\.\d% \(95% CI/,
    );
  });
});
