// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { configSchema } from './schema.js';

const fixture = (name: string) => new URL(`../test/fixtures/${name}`, import.meta.url).pathname;
const PROXY = fixture('proxy-seed.yaml');
const dir = mkdtempSync(join(tmpdir(), 'breakwater-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

const GATEWAY = file(
  'gateway.yaml',
  `${readFileSync(fixture('gateway-seed.yaml'), 'utf8')}\nupstreams:\n  backup-api: http://backup-api.internal:8080\n`,
);
const BROKEN = file(
  'broken.yaml',
  'circuit_breakers:\n  default:\n    timeout: 5000\n  services:\n    payment_api:\n      failure_threshold: -1\n',
);

describe('breakwater validate', () => {
  it('prints ok and a summary, and exits 0, for a good file', () => {
    const { code, stdout, stderr } = run(['validate', GATEWAY]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      `ok: ${GATEWAY}\n` +
        '  services: 3 (payment-service, user-service, external-api)\n' +
        '  fallbacks: 3 (payment-service: cache, user-service: default, external-api: alternative_service)\n' +
        '  groups: 2 (payment, user)\n' +
        '  upstreams: 1 (backup-api)\n',
    );
  });

  it('prints every problem with its path and line, and exits 1, for a bad file', () => {
    const { code, stdout, stderr } = run(['validate', BROKEN]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `${BROKEN}: 2 problems\n` +
        '  - circuit_breakers.default.timeout: unknown key "timeout"; did you mean "timeout_ms"? (line 3)\n' +
        '  - circuit_breakers.services.payment_api.failure_threshold: got -1, expected an integer of at least 0 (consecutive failures; 0 turns the rule off), or a number greater than 0 and less than 1 (a failure rate) (line 6)\n',
    );
  });

  it('answers in JSON with --json', () => {
    const bad = run(['validate', '--json', BROKEN]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      problems: [
        { path: 'circuit_breakers.default.timeout', line: 3 },
        { path: 'circuit_breakers.services.payment_api.failure_threshold' },
      ],
    });
    const good = run(['validate', PROXY, '--json']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({
      ok: true,
      summary: { services: ['payment_api', 'user_database', 'external_partner'] },
    });
  });

  it('reads ${VAR} from the environment it is given', () => {
    const path = file('env.yaml', 'circuit_breakers:\n  default:\n    timeout_ms: ${TIMEOUT_MS}\n');
    expect(run(['validate', path], { TIMEOUT_MS: '900' }).code).toBe(0);
    const unset = run(['validate', path]);
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain(
      'circuit_breakers.default.timeout_ms: got "${TIMEOUT_MS}", but the environment variable TIMEOUT_MS is not set',
    );
  });

  it('reports a missing file as a problem, exit 1', () => {
    const { code, stderr } = run(['validate', join(dir, 'nope.yaml')]);
    expect(code).toBe(1);
    expect(stderr).toContain('no such file');
  });
});

describe('breakwater print', () => {
  it('shows the effective options per breaker as a table, defaults applied', () => {
    const { code, stdout } = run(['print', PROXY]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]?.split(/\s{2,}/)).toEqual([
      'option',
      '(any other)',
      'payment_api',
      'user_database',
      'external_partner',
    ]);
    const row = (name: string) =>
      lines
        .find((l) => l.startsWith(`${name} `))
        ?.split(/\s{2,}/)
        .slice(1);
    expect(row('failure_threshold')).toEqual(['5', '3', '3', '8']);
    expect(row('timeout_ms')).toEqual(['5000', '10000', '15000', '60000']);
    expect(row('recovery_timeout_ms')).toEqual(['30000', '30000', '60000', '300000']);
    expect(row('enable_exponential_backoff')).toEqual(['true', 'true', 'true', 'true']);
    expect(row('minimum_requests')).toEqual(['10', '10', '10', '10']);
    expect(row('failure_status_codes')).toEqual(['>=500', '500,502,503,504,408,429', '>=500', '>=500']);
  });

  it('shows rates, fallbacks and groups from the gateway file, group members included', () => {
    const { stdout } = run(['print', GATEWAY]);
    const row = (name: string) =>
      stdout
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(/\s{2,}/)
        .slice(1);
    expect(row('option')).toContain('fraud-detection');
    expect(row('failure_threshold')?.[1]).toBe('0 (off)');
    expect(row('failure_rate_threshold')?.slice(0, 4)).toEqual(['0.5', '0.3', '0.6', '0.4']);
    expect(row('fallback')?.slice(1, 4)).toEqual([
      'cache key=payment:fallback',
      'default 200',
      'alternative http://backup-api.internal:8080',
    ]);
    expect(row('groups')?.slice(1, 5)).toEqual(['payment', 'user', '-', 'payment']);
  });

  it('shows >=500 for any other name when default lists failure_status_codes, as such a breaker classifies', () => {
    const path = file(
      'codes.yaml',
      'circuit_breakers:\n  default:\n    failure_status_codes: [429]\n  services:\n    a: {}\n',
    );
    const { code, stdout } = run(['print', path]);
    expect(code).toBe(0);
    const row = stdout.split('\n').find((l) => l.startsWith('failure_status_codes '));
    expect(row?.split(/\s{2,}/)).toEqual(['failure_status_codes', '>=500', '429']);
    const json = JSON.parse(run(['print', '--json', path]).stdout);
    expect(json.defaults).not.toHaveProperty('failureStatusCodes');
    expect(json.breakers).toMatchObject([{ name: 'a', failureStatusCodes: [429] }]);
  });

  it('prints the same in JSON with --json', () => {
    const { stdout } = run(['print', '--json', PROXY]);
    const out = JSON.parse(stdout);
    expect(out.defaults.options).toMatchObject({ failureThreshold: 5, timeoutMs: 5000 });
    expect(out.breakers[0]).toMatchObject({ name: 'payment_api', options: { failureThreshold: 3, timeoutMs: 10000 } });
  });
});

describe('breakwater schema, help and usage', () => {
  it('prints the JSON Schema', () => {
    const { code, stdout } = run(['schema']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(configSchema);
  });

  it('explains itself with --help, and each command with <command> --help', () => {
    const top = run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/validate <file>[\s\S]*print <file>[\s\S]*schema/);
    expect(run(['validate', '--help']).stdout).toMatch(/^Usage: breakwater validate <file>/);
    expect(run(['help', 'print']).stdout).toMatch(/^Usage: breakwater print <file>/);
    expect(run(['help', 'help'])).toMatchObject({ code: 0, stdout: top.stdout });
  });

  it('prints the version of the package', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(run(['--version']).stdout).toBe(`${pkg.version}\n`);
  });

  it.each([
    [[], 'Usage: breakwater <command>'],
    [['lint', 'x.yaml'], 'unknown command "lint"'],
    [['help', 'lint'], 'unknown command "lint"'],
    [['help', 'print', 'extra'], '"help" takes one command'],
    [['validate'], '"validate" needs a file'],
    [['print', 'a.yaml', 'b.yaml'], '"print" takes one file'],
    [['schema', 'x.yaml'], '"schema" takes no file'],
    [['validate', '--strict', 'x.yaml'], "Unknown option '--strict'"],
  ])('exits 2 on wrong usage: %j', (argv, message) => {
    const { code, stdout, stderr } = run(argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
  });
});
