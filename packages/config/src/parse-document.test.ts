// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { inspectConfig, inspectConfigFile, loadConfig } from './load-config.js';
import { MAX_CONFIG_BYTES } from './parse-document.js';

function problemsOf(text: string, env: Record<string, string> = {}) {
  const result = inspectConfig(text, { env });
  if (result.ok) throw new Error('expected problems, the file was accepted');
  return result.problems;
}

const dir = mkdtempSync(join(tmpdir(), 'breakwater-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('size limit', () => {
  const big = `circuit_breakers: {}\n#${'x'.repeat(MAX_CONFIG_BYTES)}\n`;

  it('refuses text over 1 MiB before parsing it', () => {
    expect(problemsOf(big)).toEqual([
      {
        path: '',
        message: `the file is ${Buffer.byteLength(big)} bytes, larger than the limit of 1048576 bytes (1 MiB)`,
      },
    ]);
  });

  it('refuses a file over 1 MiB without reading it', () => {
    const path = join(dir, 'big.yaml');
    writeFileSync(path, big);
    expect(() => loadConfig(path, { env: {} })).toThrow(/larger than the limit of 1048576 bytes/);
  });

  it('reads a pipe or device (/dev/stdin, /dev/zero) no further than the limit', () => {
    if (process.platform === 'win32') return;
    const fifo = join(dir, 'endless.fifo');
    execFileSync('mkfifo', [fifo]);
    // A writer that sends 2 MiB and then keeps the pipe open: a reader that waits for the end waits 15 s.
    const writer = spawn(process.execPath, [
      '-e',
      `const fs = require('node:fs'); const fd = fs.openSync(${JSON.stringify(fifo)}, 'w');
       try { fs.writeSync(fd, Buffer.alloc(${2 * MAX_CONFIG_BYTES}, 35)); } catch {}
       setTimeout(() => {}, 15000);`,
    ]);
    try {
      const started = Date.now();
      const result = inspectConfigFile(fifo, { env: {} });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(result).toEqual({
        ok: false,
        problems: [
          { path: '', message: 'the file is over 1048576 bytes, larger than the limit of 1048576 bytes (1 MiB)' },
        ],
      });
    } finally {
      writer.kill();
    }
  });

  it('accepts a file just under the limit', () => {
    const text = `circuit_breakers: {}\n#${'x'.repeat(MAX_CONFIG_BYTES - 30)}\n`;
    expect(inspectConfig(text, { env: {} }).ok).toBe(true);
  });
});

describe('hostile YAML', () => {
  it('refuses an alias bomb without expanding it', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'circuit_breakers: {}',
    ].join('\n');
    const started = process.hrtime.bigint();
    expect(problemsOf(bomb)).toEqual([
      { path: '', message: 'the file expands aliases beyond the limit of 100 (an alias bomb?); refusing to read it' },
    ]);
    // Sanity bound only: a real expansion would be 9^7 ≈ 4.8 million strings.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(5_000);
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'refuses a %s key wherever it is, without polluting prototypes',
    (key) => {
      const problems = problemsOf(
        `circuit_breakers:\n  services:\n    ${key}:\n      timeout_ms: 1\n    ok:\n      ${key}: { polluted: true }\n`,
      );
      expect(problems).toEqual([
        { path: `circuit_breakers.services.${key}`, message: `the key "${key}" is not allowed`, line: 3, column: 5 },
        { path: `circuit_breakers.services.ok.${key}`, message: `the key "${key}" is not allowed`, line: 6, column: 7 },
      ]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('refuses tags outside the core schema, such as !!js/function and !!binary', () => {
    const problems = problemsOf(
      'circuit_breakers:\n  default:\n    timeout_ms: !!js/function "return 1"\n    success_threshold: !!binary aGk=\n',
    );
    expect(problems).toEqual([
      {
        path: 'circuit_breakers.default.timeout_ms',
        message: 'the tag tag:yaml.org,2002:js/function is not allowed; plain YAML values only',
        line: 3,
        column: 5,
      },
      {
        path: 'circuit_breakers.default.success_threshold',
        message: 'the tag tag:yaml.org,2002:binary is not allowed; plain YAML values only',
        line: 4,
        column: 5,
      },
    ]);
  });

  it('lists a duplicate key with its path and line, beside every other problem of the file', () => {
    const yaml = [
      'circuit_breakers:',
      '  default:',
      '    failure_threshold: 3',
      '    failure_threshold: 4',
      '  services:',
      '    a:',
      '      timeout_ms: -5',
      '      succes_threshold: 2',
      '',
    ].join('\n');
    expect(problemsOf(yaml)).toEqual([
      {
        path: 'circuit_breakers.default.failure_threshold',
        message: 'duplicate key "failure_threshold" (first on line 3); expected each key once in a mapping',
        line: 4,
        column: 5,
      },
      {
        path: 'circuit_breakers.services.a.timeout_ms',
        message: 'got -5, expected a number of milliseconds greater than 0 and at most 2147483647',
        line: 7,
        column: 7,
      },
      {
        path: 'circuit_breakers.services.a.succes_threshold',
        message: 'unknown key "succes_threshold"; did you mean "success_threshold"?',
        line: 8,
        column: 7,
      },
    ]);
  });

  it('lists a duplicate key in JSON the same way', () => {
    const json = [
      '{"circuit_breakers": {',
      '  "default": {"timeout_ms": 1, "timeout_ms": 2},',
      '  "services": {"a": {',
      '    "timeout_ms": -1,',
      '    "colour": "blue"',
      '  }}',
      '}}',
    ].join('\n');
    expect(problemsOf(json).map((p) => [p.path, p.line, p.message])).toEqual([
      [
        'circuit_breakers.default.timeout_ms',
        2,
        'duplicate key "timeout_ms" (first on line 2); expected each key once in a mapping',
      ],
      [
        'circuit_breakers.services.a.timeout_ms',
        4,
        'got -1, expected a number of milliseconds greater than 0 and at most 2147483647',
      ],
      ['circuit_breakers.services.a.colour', 5, expect.stringMatching(/^unknown key "colour"; expected one of /)],
    ]);
  });

  it('still checks what lies under a duplicated mapping key (the last one, which is read)', () => {
    expect(problemsOf('circuit_breakers:\n  default: {}\n  default:\n    timeout_ms: 0\n')).toMatchObject([
      { path: 'circuit_breakers.default', message: expect.stringContaining('duplicate key "default"'), line: 3 },
      { path: 'circuit_breakers.default.timeout_ms', message: expect.stringContaining('got 0'), line: 4 },
    ]);
  });

  it('checks only the value read under a duplicated key, not the one it replaced', () => {
    const yaml =
      'circuit_breakers:\n  services:\n    pay:\n      failure_threshold: ${UNSET}\n      failure_threshold: -3\n';
    expect(problemsOf(yaml)).toMatchObject([
      {
        path: 'circuit_breakers.services.pay.failure_threshold',
        message: expect.stringContaining('duplicate key'),
        line: 5,
      },
      { path: 'circuit_breakers.services.pay.failure_threshold', message: expect.stringContaining('got -3'), line: 5 },
    ]);
  });

  it('does not count a key beside a merge key as a duplicate', () => {
    const yaml = 'x-base: &base\n  timeout_ms: 100\ncircuit_breakers:\n  default: { <<: *base, timeout_ms: 200 }\n';
    expect(inspectConfig(yaml, { env: {} })).toMatchObject({ ok: true, config: { defaults: { timeoutMs: 200 } } });
  });

  it('reports a syntax error with its line', () => {
    expect(problemsOf('circuit_breakers:\n  default: [1, 2\n')).toMatchObject([{ path: '', line: expect.any(Number) }]);
  });

  it('refuses nesting deeper than any real file needs', () => {
    const deep = `circuit_breakers:\n  services:\n    s:\n      fallback:\n        strategy: default\n        default_response: ${'['.repeat(80)}${']'.repeat(80)}\n`;
    expect(problemsOf(deep)[0]?.message).toBe('nested more than 64 levels deep');
  });
});

describe('documents that are not a mapping', () => {
  it.each([
    ['', 'the file is empty; expected a mapping with a circuit_breakers key'],
    ['# nothing but a comment\n', 'the file is empty; expected a mapping with a circuit_breakers key'],
    ['- a\n- b\n', 'got a list, expected a mapping with a circuit_breakers key'],
    ['just words\n', 'got a single value ("just words"), expected a mapping with a circuit_breakers key'],
    ['42', 'got a single value (42), expected a mapping with a circuit_breakers key'],
    ['~\n', 'got a single value (null), expected a mapping with a circuit_breakers key'],
    ['circuit_breakers: {}\n---\ncircuit_breakers: {}\n', 'the file holds 2 YAML documents; expected one'],
  ])('%j', (text, message) => {
    expect(problemsOf(text)).toMatchObject([{ path: '', message }]);
  });
});

describe('environment variables', () => {
  it('reports an unset variable with its path, and how to give a default', () => {
    expect(problemsOf('circuit_breakers:\n  default:\n    timeout_ms: ${TIMEOUT_MS}\n')).toEqual([
      {
        path: 'circuit_breakers.default.timeout_ms',
        message:
          'got "${TIMEOUT_MS}", but the environment variable TIMEOUT_MS is not set (write ${TIMEOUT_MS:-value} to give a default)',
        line: 3,
        column: 5,
      },
    ]);
  });

  it('reports an unset variable in an anchor once, where it is written, not again where an alias or merge key uses it', () => {
    const text = [
      'x-strict: &strict',
      '  failure_threshold: 2',
      '  timeout_ms: ${T}',
      'x-time: &time ${U}',
      'circuit_breakers:',
      '  services:',
      '    merged:',
      '      <<: *strict',
      '    aliased:',
      '      recovery_timeout_ms: *time',
      '    overridden:',
      '      <<: *strict',
      '      timeout_ms: 0',
      '',
    ].join('\n');
    expect(problemsOf(text).map((p) => [p.path, p.line])).toEqual([
      ['x-strict.timeout_ms', 3],
      ['x-time', 4],
      ['circuit_breakers.services.overridden.timeout_ms', 13],
    ]);
  });

  it('keeps a quoted ${VAR} a string, so a number key reports it', () => {
    expect(problemsOf('circuit_breakers:\n  default:\n    timeout_ms: "${T}"\n', { T: '100' })).toMatchObject([
      {
        path: 'circuit_breakers.default.timeout_ms',
        message: 'got "100", expected a number of milliseconds greater than 0 and at most 2147483647',
      },
    ]);
  });

  it('explains the syntax error of an unquoted ${VAR} in a flow mapping or list', () => {
    for (const text of [
      'circuit_breakers:\n  default: { timeout_ms: ${T:-5000}, failure_threshold: 2 }\n',
      'circuit_breakers:\n  services:\n    a: { failure_status_codes: [${C:-500}] }\n',
    ]) {
      const problems = problemsOf(text);
      expect(problems[0]).toMatchObject({ path: '', line: text.split('\n').findIndex((l) => l.includes('${')) + 1 });
      expect(problems[0]?.message).toContain('a ${VAR} inside [...] or {...} must be quoted');
      expect(problems.filter((p) => p.message.includes('must be quoted'))).toHaveLength(1);
    }
  });

  it('reports a malformed reference', () => {
    expect(problemsOf('circuit_breakers: {}\nupstreams:\n  a: "http://${HOST"\n')).toMatchObject([
      { path: 'upstreams.a', message: expect.stringContaining('expected ${NAME} or ${NAME:-default}') },
    ]);
  });
});

describe('reading files', () => {
  it('reports a missing file as a problem naming it', () => {
    const path = join(dir, 'missing.yaml');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`cannot read ${path}: no such file`);
  });

  it('takes a string with a line break, or starting with {, as the text itself', () => {
    expect(loadConfig('circuit_breakers:\n  default: { timeout_ms: 100 }\n', { env: {} }).defaults).toEqual({
      timeoutMs: 100,
    });
    expect(loadConfig('{"circuit_breakers": {"default": {"timeout_ms": 100}}}', { env: {} }).defaults).toEqual({
      timeoutMs: 100,
    });
  });

  it('reads a path given as a file: URL', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'circuit_breakers:\n  default: { timeout_ms: 100 }\n');
    expect(loadConfig(new URL(`file://${path}`), { env: {} }).defaults).toEqual({ timeoutMs: 100 });
  });
});
