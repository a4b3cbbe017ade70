import { describe, expect, it } from 'vitest';
// @ts-expect-error: the benchmark's callgrind helpers are a plain JavaScript module without types.
import { inclusiveCost, parseCallgrind, perfMapNames, summaryOf } from '../../bench/http/callgrind.mjs';

interface Profile {
  self: Map<string, number>;
  calls: Map<string, Map<string, { count: number; cost: number }>>;
  total: number;
}
const parse = parseCallgrind as (text: string, rename?: (name: string) => string, event?: string) => Profile;
const summary = summaryOf as (text: string, event?: string) => number;
const inclusive = inclusiveCost as (profile: Profile, fn: string) => number;

// Callgrind's own format, as `--separate-threads=yes` writes it: compressed names (`(id) name`
// the first time, `(id)` after), relative positions, and a `calls=` line whose next cost line is
// the call's inclusive cost, not the caller's own.
const dump = `version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) main
0 100
cfn=(2) 0x00000a00'2
calls=3 0
0 600
+2 50

fn=(2)
0 500
cfn=(3) helper
calls=2 0
0 100

fn=(3)
0 100
`;

describe('parseCallgrind (bench:http:profile)', () => {
  it('splits each function into its own cost and its calls', () => {
    const profile = parse(dump);
    expect(profile.self).toEqual(
      new Map([
        ['main', 150],
        ['0x00000a00', 500],
        ['helper', 100],
      ]),
    );
    expect(profile.total).toBe(750);
    expect(profile.calls.get('main')?.get('0x00000a00')).toEqual({ count: 3, cost: 600 });
    expect(inclusive(profile, 'main')).toBe(750);
    expect(inclusive(profile, '0x00000a00')).toBe(600);
    expect(summary(dump)).toBe(1000);
  });

  it('reads a second position column when callgrind writes instruction addresses too', () => {
    const profile = parse('positions: instr line\nevents: Ir\nfn=(1) f\n0x10 3 7\n+4 * 5\n');
    expect(profile.self.get('f')).toBe(12);
  });

  it('names JIT code from the perf map, the last entry that covers an address winning', () => {
    const names = perfMapNames(
      ['a00 100 JS:*old file.js:1:1', 'a00 80 JS:*new file.js:2:2', 'c00 10 JS:*other file.js:3:3', ''].join('\n'),
    ) as (name: string) => string;
    expect(names('0x0000000000000a00')).toBe('JS:*new file.js:2:2');
    expect(names('0xa90')).toBe('JS:*old file.js:1:1');
    expect(names('0xc0a')).toBe('JS:*other file.js:3:3');
    expect(names('0xd00')).toBe('0xd00');
    expect(names('Builtins_LoadIC')).toBe('Builtins_LoadIC');
    const profile = parse(dump, names);
    expect(profile.self.get('JS:*new file.js:2:2')).toBe(500);
  });

  // What `--cache-sim=yes --branch-sim=yes` writes: more events per cost line, trailing zeros left out.
  const simulated = `positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
summary: 1000 300 200 40 20 5 2 1 0 100 7 10 3

fn=(1) hot
0 600 200 100 10 5 1 0 0 0 60 2
fn=(2) cold
0 400 100 100 30 15 4 2 1 0 40 5 10 3
`;

  it('reads another event than instructions, and the estimate of cycles', () => {
    expect(parse(simulated).self).toEqual(
      new Map([
        ['hot', 600],
        ['cold', 400],
      ]),
    );
    expect(parse(simulated, undefined, 'I1mr').self).toEqual(
      new Map([
        ['hot', 10],
        ['cold', 30],
      ]),
    );
    // Ir + 10 × (I1mr + D1mr + D1mw + Bcm + Bim) + 100 × (ILmr + DLmr + DLmw)
    expect(parse(simulated, undefined, 'CEst').self).toEqual(
      new Map([
        ['hot', 600 + 10 * (10 + 5 + 1 + 2)],
        ['cold', 400 + 10 * (30 + 15 + 4 + 5 + 3) + 100 * (2 + 1)],
      ]),
    );
    expect(summary(simulated, 'CEst')).toBe(1000 + 10 * (40 + 20 + 5 + 7 + 3) + 100 * (2 + 1));
    expect(summary(simulated, 'Bcm')).toBe(7);
  });

  it('names the events a dump lacks', () => {
    expect(() => parse(dump, undefined, 'CEst')).toThrow(
      /no I1mr, D1mr, D1mw, Bcm, Bim, ILmr, DLmr, DLmw events \(it counted Ir\)/,
    );
    expect(() => summary(dump, 'D1mr')).toThrow(/no D1mr events/);
  });
});
