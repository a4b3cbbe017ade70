import { describe, expect, it } from 'vitest';
import { RollingWindow } from './rolling-window.js';

describe('RollingWindow', () => {
  it('sums calls, failures, slow calls and timeouts', () => {
    const window = new RollingWindow(1_000);
    window.record(0, false, false, false);
    window.record(10, true, false, false);
    window.record(20, true, true, true);
    window.record(30, false, true, false);
    expect(window.counts(30)).toEqual({ calls: 4, failures: 2, slow: 2, timeouts: 1 });
  });

  it('drops counts a bucket (a tenth of the window) at a time once they are a window old', () => {
    const window = new RollingWindow(1_000);
    window.record(50, true, false, false);
    window.record(150, false, false, false);
    expect(window.counts(999)).toMatchObject({ calls: 2, failures: 1 });
    // The bucket [0, 100) falls out at 1000, the bucket [100, 200) at 1100.
    expect(window.counts(1_000)).toMatchObject({ calls: 1, failures: 0 });
    expect(window.counts(1_099)).toMatchObject({ calls: 1 });
    expect(window.counts(1_100)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
  });

  it('is empty after a jump longer than the window', () => {
    const window = new RollingWindow(1_000);
    for (let t = 0; t < 1_000; t += 7) window.record(t, t % 2 === 0, true, false);
    expect(window.counts(1_000).calls).toBeGreaterThan(0);
    expect(window.counts(50_000)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
    window.record(50_001, true, false, false);
    expect(window.counts(50_001)).toEqual({ calls: 1, failures: 1, slow: 0, timeouts: 0 });
  });

  it('keeps exact sums over many rotations', () => {
    const window = new RollingWindow(100);
    let t = 0;
    for (let i = 0; i < 10_000; i++) {
      t += 3;
      window.record(t, i % 3 === 0, false, false);
    }
    // 100 ms window, one call every 3 ms: the live buckets cover 90 to 100 ms.
    const counts = window.counts(t);
    expect(counts.calls).toBeGreaterThanOrEqual(30);
    expect(counts.calls).toBeLessThanOrEqual(34);
    expect(window.counts(t + 100)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
  });

  it('records into the newest bucket when the clock moves back less than the window', () => {
    const window = new RollingWindow(1_000);
    window.record(5_000, false, false, false);
    window.record(4_500, true, false, false);
    expect(window.counts(5_000)).toMatchObject({ calls: 2, failures: 1 });
    expect(window.counts(5_999)).toMatchObject({ calls: 2 });
    expect(window.counts(6_000)).toMatchObject({ calls: 0 });
  });

  it('starts afresh when the clock moves back by a window or more, instead of holding counts until it catches up', () => {
    const window = new RollingWindow(10_000);
    for (let i = 0; i < 5; i++) window.record(3_600_000, true, false, false);
    // Stepped back an hour, then half an hour passes: the five failures are not in the last 10 s.
    expect(window.counts(1_800_000)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
    window.record(1_800_001, true, false, false);
    expect(window.counts(1_800_002)).toEqual({ calls: 1, failures: 1, slow: 0, timeouts: 0 });
    expect(window.counts(1_810_001)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
  });

  it('merges counts from elsewhere into the current bucket', () => {
    const window = new RollingWindow(1_000);
    window.record(0, true, false, false);
    window.merge(10, { calls: 5, failures: 2, slow: 1, timeouts: 1 });
    expect(window.counts(10)).toEqual({ calls: 6, failures: 3, slow: 1, timeouts: 1 });
    expect(window.counts(1_000)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
  });

  it('forgets everything on reset', () => {
    const window = new RollingWindow(1_000);
    window.record(0, true, true, true);
    window.reset();
    expect(window.counts(0)).toEqual({ calls: 0, failures: 0, slow: 0, timeouts: 0 });
    window.record(1, false, false, false);
    expect(window.counts(1)).toMatchObject({ calls: 1 });
  });
});
