import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigProblem } from './config-error.js';
import type { BreakwaterConfig } from './config-types.js';
import type { Env } from './interpolate.js';
import { MAX_CONFIG_BYTES, type ParsedDocument, parseDocument, pathKey } from './parse-document.js';
import { type Finding, formatPath } from './path.js';
import { readConfig } from './read-config.js';

export interface LoadConfigOptions {
  /** Variables for `${VAR}` and `${VAR:-default}`; default `process.env`. */
  env?: Env;
}

/** The outcome of reading a file without throwing: a config, or every problem found. */
export type ConfigResult = { ok: true; config: BreakwaterConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * Reads a YAML or JSON configuration file and validates it. A string with a line break, or
 * one starting with `{`, is the file's text; any other string (or a `file:` URL) is a path.
 * Throws a `ConfigError` listing every problem, each with its dotted path.
 *
 * @example
 * const registry = createRegistry(loadConfig('breakers.yaml'));
 */
export function loadConfig(pathOrText: string | URL, options: LoadConfigOptions = {}): BreakwaterConfig {
  const isText = typeof pathOrText === 'string' && (pathOrText.includes('\n') || /^\s*\{/.test(pathOrText));
  if (isText) return parseConfig(pathOrText, options);
  const path = typeof pathOrText === 'string' ? pathOrText : fileURLToPath(pathOrText);
  const result = inspectConfigFile(path, options);
  if (!result.ok) throw new ConfigError(result.problems, path);
  return result.config;
}

/** Validates configuration text (YAML or JSON). Throws a `ConfigError` listing every problem. */
export function parseConfig(text: string, options: LoadConfigOptions = {}): BreakwaterConfig {
  const result = inspectConfig(text, options);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

/** Reads and validates a file, returning its problems instead of throwing. */
export function inspectConfigFile(path: string, options: LoadConfigOptions = {}): ConfigResult {
  let text: string;
  try {
    const read = readLimited(path);
    if (typeof read !== 'string') {
      const size = read.known ? `${read.size} bytes` : `over ${MAX_CONFIG_BYTES} bytes`;
      return {
        ok: false,
        problems: [
          { path: '', message: `the file is ${size}, larger than the limit of ${MAX_CONFIG_BYTES} bytes (1 MiB)` },
        ],
      };
    }
    text = read;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    return { ok: false, problems: [{ path: '', message: `cannot read ${path}: ${reason}` }] };
  }
  const result = inspectConfig(text, options);
  if (result.ok) result.config.source = path;
  return result;
}

/**
 * The file's text, or how large it is when over the limit. A regular file's size is known before
 * reading it; anything else (a pipe such as /dev/stdin, a device) is read no further than one
 * byte past the limit.
 */
function readLimited(path: string): string | { size: number; known: boolean } {
  const fd = openSync(path, 'r');
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw Object.assign(new Error('it is a directory'), { code: 'EISDIR' });
    if (stats.isFile() && stats.size > MAX_CONFIG_BYTES) return { size: stats.size, known: true };
    const buffer = Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_CONFIG_BYTES) return { size: length, known: false };
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** Validates configuration text, returning its problems instead of throwing. */
export function inspectConfig(text: string, options: LoadConfigOptions = {}): ConfigResult {
  const parsed = parseDocument(text, options.env ?? process.env);
  if (parsed.data === undefined) return { ok: false, problems: parsed.problems };
  const { config, findings } = readConfig(parsed.data);
  const problems = [
    ...parsed.problems,
    ...findings.filter((f) => !covered(f, parsed)).map((f) => toProblem(f, parsed)),
  ];
  if (problems.length > 0) return { ok: false, problems: sortByLine(problems) };
  return { ok: true, config };
}

/**
 * True when an earlier problem already covers this location (or one above it), or the value
 * there is a `${VAR}` already reported as unset where it is written (reached here by an alias).
 */
function covered(finding: Finding, parsed: ParsedDocument): boolean {
  for (let length = finding.segments.length; length >= 1; length--) {
    if (parsed.reported.has(pathKey(finding.segments.slice(0, length)))) return true;
  }
  if (parsed.unresolved.size === 0) return false;
  let value: unknown = parsed.data;
  for (const segment of finding.segments) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return false;
    value = (value as Record<string, unknown>)[segment];
  }
  return typeof value === 'string' && parsed.unresolved.has(value);
}

function toProblem(finding: Finding, parsed: ParsedDocument): ConfigProblem {
  const problem: ConfigProblem = { path: formatPath(finding.segments), message: finding.message };
  for (let length = finding.segments.length; length >= 1; length--) {
    const position = parsed.positions.get(pathKey(finding.segments.slice(0, length)));
    if (position !== undefined) return { ...problem, ...position };
  }
  return problem;
}

function sortByLine(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? 0) - (b.problem.line ?? 0) || a.index - b.index)
    .map(({ problem }) => problem);
}
