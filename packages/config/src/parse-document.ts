import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments, parse as parseYaml } from 'yaml';
import type { ConfigProblem } from './config-error.js';
import { type Env, interpolate } from './interpolate.js';
import { formatPath, type Segment } from './path.js';

/** Files larger than this are refused before parsing. */
export const MAX_CONFIG_BYTES = 1_048_576;
/** Alias expansions allowed when building the data (the `yaml` package's count). */
const MAX_ALIAS_COUNT = 100;
const MAX_DEPTH = 64;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((tag) => `tag:yaml.org,2002:${tag}`),
);

/** Where each path starts in the file. */
export type Positions = Map<string, { line: number; column: number }>;

export const pathKey = (segments: readonly Segment[]): string => JSON.stringify(segments);

export interface ParsedDocument {
  /** The document as plain data; `undefined` when it could not be read at all. */
  data: unknown;
  problems: ConfigProblem[];
  positions: Positions;
  /** Paths already reported here; later checks skip them and what lies below. */
  reported: Set<string>;
  /**
   * Texts whose `${VAR}` could not be substituted (reported where they are written). The same
   * value reached elsewhere through an alias or a merge key (`<<: *anchor`) is not reported again.
   */
  unresolved: Set<string>;
}

/**
 * Reads one YAML (or JSON) document safely: size limit, core schema only, unique keys,
 * bounded aliases and nesting, no prototype keys, and `${VAR}` substitution in string values.
 * A duplicate key is a problem at its path; the data still holds the last value, so the
 * file's other problems are listed beside it.
 */
export function parseDocument(text: string, env: Env): ParsedDocument {
  const result: ParsedDocument = {
    data: undefined,
    problems: [],
    positions: new Map(),
    reported: new Set(),
    unresolved: new Set(),
  };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) {
    result.problems.push({
      path: '',
      message: `the file is ${bytes} bytes, larger than the limit of ${MAX_CONFIG_BYTES} bytes (1 MiB)`,
    });
    return result;
  }
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    version: '1.2',
    schema: 'core',
    resolveKnownTags: false,
    merge: true,
    // Duplicate keys are found while walking the document, where their path is known.
    uniqueKeys: false,
    strict: true,
    prettyErrors: true,
    lineCounter,
  });
  if (documents.length === 0) {
    result.problems.push({ path: '', message: 'the file is empty; expected a mapping with a circuit_breakers key' });
    return result;
  }
  if (documents.length > 1) {
    const second = documents[1]?.range[0] ?? 0;
    result.problems.push({
      path: '',
      message: `the file holds ${documents.length} YAML documents; expected one`,
      ...position(lineCounter, second),
    });
    return result;
  }
  const document = documents[0];
  if (document === undefined) return result;
  const hinted = new Set<number>();
  for (const [index, issue] of [...document.errors, ...document.warnings].entries()) {
    if (issue.code === 'TAG_RESOLVE_FAILED') continue;
    let message = firstLine(issue.message).replace(/ at line \d+, column \d+$/, '');
    const at = issue.linePos?.[0];
    if (at !== undefined && index < document.errors.length && !hinted.has(at.line)) {
      // `{ timeout_ms: ${T} }`: in a flow collection, the braces of an unquoted reference are YAML's own.
      const source = text.split(/\r?\n/)[at.line - 1] ?? '';
      if (/\$\{/.test(source) && /[[{]/.test(source.replace(/\$\{[^}]*\}?/g, ''))) {
        message +=
          // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the file's syntax, not a template
          ' (a ${VAR} inside [...] or {...} must be quoted: "${VAR}", a string; for a number or boolean, use block style)';
        hinted.add(at.line);
      }
    }
    result.problems.push(
      at === undefined ? { path: '', message } : { path: '', message, line: at.line, column: at.col },
    );
  }
  if (document.errors.length > 0) return result;

  const root = document.contents;
  if (!isMap(root)) {
    const found = root === null ? 'nothing' : isSeq(root) ? 'a list' : `a single value (${describeScalar(root)})`;
    result.problems.push({ path: '', message: `got ${found}, expected a mapping with a circuit_breakers key` });
    return result;
  }

  /** A problem at `segments`; later checks skip that path and what lies below it. */
  const report = (segments: readonly Segment[], node: Node | null | undefined, message: string): void => {
    const problem: ConfigProblem = { path: formatPath(segments), message };
    const at = node?.range?.[0];
    const known = result.positions.get(pathKey(segments));
    if (known !== undefined) Object.assign(problem, known);
    else if (at !== undefined) Object.assign(problem, position(lineCounter, at));
    result.problems.push(problem);
    result.reported.add(pathKey(segments));
  };

  const walk = (node: unknown, segments: Segment[], depth: number): void => {
    if (depth > MAX_DEPTH) {
      report(segments, node as Node, `nested more than ${MAX_DEPTH} levels deep`);
      return;
    }
    if (isAlias(node)) return;
    const tag = (node as { tag?: string } | null)?.tag;
    if (tag !== undefined && !CORE_TAGS.has(tag)) {
      report(segments, node as Node, `the tag ${tag} is not allowed; plain YAML values only`);
      return;
    }
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      // Where each key is last: the value read. An earlier one is only reported as a duplicate.
      const last = new Map<string, number>();
      node.items.forEach((pair, index) => {
        if (isScalar(pair.key) && typeof pair.key.value !== 'symbol') last.set(String(pair.key.value), index);
      });
      for (const [index, pair] of node.items.entries()) {
        const keyNode = pair.key;
        const value = pair.value as Node | null;
        if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
          // A merge key (`<<: *anchor`): the merged mapping is walked where it is defined.
          if (isMap(value)) walk(value, segments, depth + 1);
          continue;
        }
        if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
          report(segments, (keyNode as Node | null) ?? node, 'keys must be plain strings');
          continue;
        }
        const key = String(keyNode.value);
        const path = [...segments, key];
        const first = seen.get(key);
        seen.set(key, first ?? keyNode);
        if (last.get(key) !== index) continue;
        if (first?.range && keyNode.range) {
          // Not `report`: the last value is the one read, and its own problems are listed too.
          result.problems.push({
            path: formatPath(path),
            message: `duplicate key "${key}" (first on line ${position(lineCounter, first.range[0]).line}); expected each key once in a mapping`,
            ...position(lineCounter, keyNode.range[0]),
          });
        }
        if (keyNode.range) result.positions.set(pathKey(path), position(lineCounter, keyNode.range[0]));
        if (FORBIDDEN_KEYS.has(key)) {
          report(path, keyNode, `the key "${key}" is not allowed`);
          continue;
        }
        walk(value, path, depth + 1);
      }
      return;
    }
    if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const path = [...segments, index];
        const at = (item as Node | null)?.range?.[0];
        if (at !== undefined) result.positions.set(pathKey(path), position(lineCounter, at));
        walk(item, path, depth + 1);
      });
      return;
    }
    if (isScalar(node) && typeof node.value === 'string') {
      const substituted = interpolate(node.value, env);
      if (!substituted.ok) {
        report(segments, node, substituted.message);
        result.unresolved.add(node.value);
        return;
      }
      if (!substituted.changed) return;
      node.value = substituted.whole && node.type === 'PLAIN' ? resolvePlain(substituted.value) : substituted.value;
    }
  };
  walk(root, [], 0);

  try {
    result.data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = error instanceof Error ? firstLine(error.message) : String(error);
    result.problems.push({
      path: '',
      message: message.includes('Excessive alias count')
        ? `the file expands aliases beyond the limit of ${MAX_ALIAS_COUNT} (an alias bomb?); refusing to read it`
        : `could not read the file: ${message}`,
    });
    result.data = undefined;
  }
  return result;
}

/** A plain scalar that was only `${VAR}` is read as YAML again, so `timeout_ms: ${T:-5000}` is a number. */
function resolvePlain(value: string): unknown {
  if (value.length > 64 || /[\n\r]/.test(value)) return value;
  try {
    const parsed: unknown = parseYaml(value, { schema: 'core', version: '1.2' });
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : value;
  } catch {
    return value;
  }
}

function describeScalar(node: unknown): string {
  if (isScalar(node)) return JSON.stringify(node.value) ?? String(node.value);
  return 'not a mapping';
}

function position(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  return line.replace(/:$/, '');
}
