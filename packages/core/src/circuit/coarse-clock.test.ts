import { describe, expect, it } from 'vitest';
import { coarseNow } from './coarse-clock.js';

const busyWait = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin: no turn of the event loop
  }
};

describe('coarseNow', () => {
  it('reads Date.now()', () => {
    const before = Date.now();
    const now = coarseNow();
    expect(now).toBeGreaterThanOrEqual(before - 1000);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('keeps one reading within a turn, for a bounded number of reads', () => {
    const first = coarseNow();
    busyWait(5);
    // Within the same turn and the reuse budget, the reading is reused...
    expect(coarseNow()).toBe(first);
    // ...but a loop that never yields still sees time move within 64 reads.
    let latest = first;
    for (let i = 0; i < 64 && latest === first; i++) latest = coarseNow();
    expect(latest).toBeGreaterThan(first);
  });

  it('reads the clock afresh after the event loop turns', async () => {
    const first = coarseNow();
    busyWait(5);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(coarseNow()).toBeGreaterThan(first);
  });

  it('arms nothing while unused', async () => {
    coarseNow();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'Immediate')).toEqual([]);
  });
});
