import { describe, expect, it } from 'vitest';
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

  it('stays within a few periods of the clock while read now and then', async () => {
    // Fewer reads than the reuse budget: only the ticker moves the reading on. Without it, the
    // first reading would be ~180 ms old by the end; the bound leaves room for a busy machine.
    let worst = 0;
    for (let i = 0; i < 60; i++) {
      worst = Math.max(worst, Date.now() - coarseNow());
      await sleep(3);
    }
    expect(worst).toBeLessThanOrEqual(PERIOD_MS * 6);
  });

  it('stops its ticker once no one reads', async () => {
    coarseNow();
    expect(ticking()).toBe(true);
    await sleep(PERIOD_MS * 4);
    expect(ticking()).toBe(false);
    // The next reading starts it again.
    coarseNow();
    expect(ticking()).toBe(true);
  });
});
