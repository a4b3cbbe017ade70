import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { formatProblem } from './config-error.js';
import type { BreakwaterConfig, FallbackConfig } from './config-types.js';
import { type EffectiveOptions, effectiveOptions } from './effective-options.js';
import type { Env } from './interpolate.js';
import { inspectConfigFile } from './load-config.js';
import { KEYS_BY_OPTION } from './option-keys.js';
import { configSchema } from './schema.js';

/** Where the CLI writes, and what it reads `${VAR}` from. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env?: Env;
}

const HELP = `Usage: breakwater <command> [options]

Checks and explains Breakwater circuit breaker configuration files (YAML or JSON).

Commands:
  validate <file>   Check a file. Prints "ok" and a summary (exit 0), or every
                    problem with its path and line (exit 1).
  print <file>      Show the options each breaker will run with, after defaults,
                    as a table.
  schema            Print the JSON Schema of the file format, for editors.

Options:
  --json            validate, print: machine-readable output
  -h, --help        Show help (also: breakwater <command> --help)
  -v, --version     Show the version

Environment:
  \${VAR} and \${VAR:-default} in string values are read from the environment.

Exit status: 0 ok, 1 invalid file, 2 wrong usage.

Examples:
  breakwater validate breakers.yaml
  breakwater print breakers.yaml
  breakwater schema > breakwater.schema.json
`;

const COMMAND_HELP: Record<string, string> = {
  validate: `Usage: breakwater validate <file> [--json]

Checks a configuration file. On success prints "ok" and a summary and exits 0;
otherwise prints every problem, each with its dotted path, and exits 1.
`,
  print: `Usage: breakwater print <file> [--json]

Prints the options each breaker will run with: Breakwater's defaults, then the
file's circuit_breakers.default, then the service's own keys. The "(any other)"
column is what a breaker not named in the file gets: default's options, but
failure statuses >=500 (default's failure_status_codes reach only the names in
the file). Times are in milliseconds.
`,
  schema: `Usage: breakwater schema

Prints the JSON Schema (draft-07) of the configuration file format. Point your
editor at it, e.g. in YAML:  # yaml-language-server: $schema=./breakwater.schema.json
`,
};

/** Runs the `breakwater` command line; returns the exit status. */
export function runCli(argv: readonly string[], io: CliIo): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr(`breakwater: ${(error as Error).message}\nRun "breakwater --help" for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version === true) {
    io.stdout(`${version()}\n`);
    return 0;
  }
  if (command === undefined || command === 'help') {
    const [asked, ...more] = command === 'help' ? rest : [];
    // `help help` is the general help, as `help` alone.
    const topic = asked === 'help' ? undefined : asked;
    if (topic !== undefined && COMMAND_HELP[topic] === undefined) return unknownCommand(io, topic);
    if (more.length > 0) return usage(io, HELP, `"help" takes one command, got ${rest.join(' ')}`);
    if (values.help === true || command === 'help') {
      io.stdout((topic === undefined ? undefined : COMMAND_HELP[topic]) ?? HELP);
      return 0;
    }
    io.stderr(HELP);
    return 2;
  }
  const help = COMMAND_HELP[command];
  if (help === undefined) return unknownCommand(io, command);
  if (values.help === true) {
    io.stdout(help);
    return 0;
  }
  if (command === 'schema') {
    if (rest.length > 0) return usage(io, help, `"schema" takes no file, got ${rest.join(' ')}`);
    io.stdout(`${JSON.stringify(configSchema, null, 2)}\n`);
    return 0;
  }
  const [file, ...extra] = rest;
  if (file === undefined) return usage(io, help, `"${command}" needs a file`);
  if (extra.length > 0) return usage(io, help, `"${command}" takes one file, got ${rest.join(' ')}`);

  const result = inspectConfigFile(file, { env: io.env ?? process.env });
  if (!result.ok) {
    if (values.json === true) io.stdout(`${JSON.stringify({ ok: false, file, problems: result.problems }, null, 2)}\n`);
    else {
      const count = result.problems.length === 1 ? '1 problem' : `${result.problems.length} problems`;
      io.stderr(`${file}: ${count}\n${result.problems.map((p) => `  - ${formatProblem(p)}\n`).join('')}`);
    }
    return 1;
  }
  const { config } = result;
  if (command === 'validate') {
    if (values.json === true) io.stdout(`${JSON.stringify({ ok: true, file, summary: summaryOf(config) }, null, 2)}\n`);
    else io.stdout(`ok: ${file}\n${summary(config)}`);
    return 0;
  }
  if (values.json === true) io.stdout(`${JSON.stringify(effectiveOptions(config), null, 2)}\n`);
  else io.stdout(table(config));
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

function unknownCommand(io: CliIo, command: string): number {
  io.stderr(
    `breakwater: unknown command "${command}"; expected validate, print or schema\nRun "breakwater --help" for usage.\n`,
  );
  return 2;
}

function usage(io: CliIo, help: string, problem: string): number {
  io.stderr(`breakwater: ${problem}\n\n${help}`);
  return 2;
}

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
  return pkg.version;
}

function summaryOf(config: BreakwaterConfig) {
  return {
    services: Object.keys(config.services),
    fallbacks: Object.entries(config.services)
      .filter(([, s]) => s.fallback !== undefined)
      .map(([name, s]) => `${name}: ${s.fallback?.strategy}`),
    groups: Object.keys(config.groups),
    upstreams: Object.keys(config.upstreams),
  };
}

function summary(config: BreakwaterConfig): string {
  const s = summaryOf(config);
  const line = (label: string, items: string[]): string =>
    `  ${label}: ${items.length}${items.length === 0 ? '' : ` (${items.join(', ')})`}\n`;
  return (
    line('services', s.services) +
    line('fallbacks', s.fallbacks) +
    line('groups', s.groups) +
    line('upstreams', s.upstreams)
  );
}

/** Rows are options (named as in the file), columns are breakers. */
function table(config: BreakwaterConfig): string {
  const { defaults, breakers } = effectiveOptions(config);
  const columns = [
    {
      name: '(any other)',
      options: defaults.options,
      codes: defaults.failureStatusCodes,
      fallback: undefined,
      groups: [] as string[],
    },
    ...breakers.map((b) => ({
      name: b.name,
      options: b.options,
      codes: b.failureStatusCodes,
      fallback: b.fallback,
      groups: b.groups,
    })),
  ];
  const rows: string[][] = [['option', ...columns.map((c) => c.name)]];
  for (const [option, keys] of KEYS_BY_OPTION) {
    rows.push([keys[0] ?? option, ...columns.map((c) => showOption(option, c.options))]);
  }
  rows.push(['failure_status_codes', ...columns.map((c) => (c.codes === undefined ? '>=500' : c.codes.join(',')))]);
  rows.push(['fallback', ...columns.map((c) => showFallback(c.fallback))]);
  rows.push(['groups', ...columns.map((c) => (c.groups.length === 0 ? '-' : c.groups.join(',')))]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const render = (row: string[]): string =>
    `${row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const [header = [], ...body] = rows;
  return `${render(header)}${rule}\n${body.map(render).join('')}`;
}

function showOption(option: keyof EffectiveOptions, options: EffectiveOptions): string {
  const value = options[option];
  if (value === undefined) return 'off';
  if ((option === 'failureThreshold' || option === 'failureRateThreshold') && value === 0) return '0 (off)';
  return String(value);
}

function showFallback(fallback: FallbackConfig | undefined): string {
  if (fallback === undefined) return '-';
  switch (fallback.strategy) {
    case 'cache':
      return fallback.cacheKey === undefined ? 'cache' : `cache key=${fallback.cacheKey}`;
    case 'default':
      return `default ${fallback.response.status ?? 200}`;
    case 'alternative_service':
      return `alternative ${fallback.url}`;
  }
}
