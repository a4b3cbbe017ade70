import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('../../examples/core-demo/demo.mjs', import.meta.url));

describe('the core demo', () => {
  it('prints its summary with every value set apart from its label, in one column', async () => {
    const { stdout } = await run(process.execPath, [demo], { env: { ...process.env, NO_COLOR: '1' } });
    const summary = stdout.slice(stdout.indexOf('Summary'));
    const labels = ['state', 'calls recorded', 'rejected', 'window', 'consecutive failures', 'seen by the caller'];
    const columns = labels.map((label) => {
      const row = summary.split('\n').find((l) => l.startsWith(`  ${label}`));
      expect(row, label).toMatch(/^ {2}\S.*?\S {2,}\S/);
      return row?.search(/(?<=\S {2,})\S/);
    });
    expect(new Set(columns).size).toBe(1);
    expect(summary).toMatch(/^ {2}consecutive failures {2}\d+$/m);
  }, 30_000);
});
