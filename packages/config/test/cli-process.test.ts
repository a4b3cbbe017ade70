// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The one test of the built `breakwater` binary, as a user runs it; everything else runs against source.
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const PROXY = fileURLToPath(new URL('./fixtures/proxy-seed.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'breakwater-bin-'));

function breakwater(...args: string[]) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', PAYMENT_TIMEOUT: '7000' },
    timeout: 15_000,
  });
  return { status, stdout, stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: build the package first (pnpm --filter @breakwater/config build)`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the breakwater binary (dist/cli.js, run as a child process)', () => {
  it('validates a good file: "ok" on stdout, exit 0', () => {
    const { status, stdout, stderr } = breakwater('validate', PROXY);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^ok: .*proxy-seed\.yaml\n {2}services: 3 \(payment_api, user_database, external_partner\)/);
    expect(status).toBe(0);
  });

  it('lists every problem with its path on stderr, exit 1', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      'circuit_breakers:\n  services:\n    payment_api:\n      timeout_ms: ${PAYMENT_TIMEOUT}\n      failure_threshold: lots\n      recovery_timout_ms: 1\n',
    );
    const { status, stdout, stderr } = breakwater('validate', path);
    expect(stdout).toBe('');
    expect(stderr).toContain('2 problems');
    expect(stderr).toContain('circuit_breakers.services.payment_api.failure_threshold: got "lots"');
    expect(stderr).toContain(
      'circuit_breakers.services.payment_api.recovery_timout_ms: unknown key "recovery_timout_ms"; did you mean "recovery_timeout_ms"?',
    );
    expect(status).toBe(1);
  });

  it('prints the table and the schema', () => {
    const table = breakwater('print', PROXY);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^option\s+\(any other\)\s+payment_api/);
    const schema = breakwater('schema');
    expect(schema.status).toBe(0);
    expect(JSON.parse(schema.stdout).title).toBe('Breakwater circuit breaker configuration');
  });

  it('shows help, and exits 2 on wrong usage', () => {
    expect(breakwater('--help').stdout).toContain('Usage: breakwater <command>');
    const wrong = breakwater('frobnicate');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('unknown command "frobnicate"');
  });
});
