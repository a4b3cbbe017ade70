import { describe, expect, it } from 'vitest';
import { until } from '../../../../test/support/index.js';
import { coarseNow, PERIOD_MS, ticking } from './coarse-clock.js';

const busyWait = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin: no turn of the event loop
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('coarseNow', () => {
  it('reads Date.now()', () => {
    const before = Date.now();
    const now = coarseNow();
    expect(now).toBeGreaterThanOrEqual(before - 1000);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('keeps one reading between ticks, for a bounded number of reads', () => {
    const first = coarseNow();
    busyWait(5);
    // Before the ticker runs and within the reuse budget, the reading is reused...
    expect(coarseNow()).toBe(first);
    // ...but a loop that never yields still sees time move within 64 reads.
    let latest = first;
    for (let i = 0; i < 64 && latest === first; i++) latest = coarseNow();
    expect(latest).toBeGreaterThan(first);
  });

  it('reads the clock afresh after a tick', async () => {
    const first = coarseNow();
    await sleep(PERIOD_MS * 2 + 5);
    const later = coarseNow();
    expect(later).toBeGreaterThan(first);
    expect(later).toBeGreaterThanOrEqual(Date.now() - PERIOD_MS * 2);
  });

  it('stays within a period or so of the clock while read now and then', async () => {
    // Fewer reads than the reuse budget: only the ticker moves the reading on. Without it, the
    // readings would be ~90 ms old halfway through. The median leaves room for a busy machine,
    // where a timer can run late now and then.
    const ages: number[] = [];
    for (let i = 0; i < 60; i++) {
      ages.push(Date.now() - coarseNow());
      await sleep(3);
    }
    ages.sort((a, b) => a - b);
    expect(ages[30]).toBeLessThanOrEqual(PERIOD_MS * 3);
  });

  it('stops its ticker once no one reads', async () => {
    coarseNow();
    expect(ticking()).toBe(true);
    // Two ticks without a reading, whenever the machine lets them run.
    await until(() => !ticking());
    // The next reading starts it again.
    coarseNow();
    expect(ticking()).toBe(true);
  });
});
