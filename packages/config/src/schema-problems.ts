import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from './json-schema.js';
import { OPTION_KEYS } from './option-keys.js';
import { type Finding, type Segment, showValue } from './path.js';
import { configSchema, FILE_STRATEGIES } from './schema.js';
import { suggest } from './suggest.js';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  }).compile(configSchema);
  return compiled;
}

/** Core option names (`timeoutMs`, a group's `members`) and the file key that sets them, for "did you mean". */
const CORE_NAMES: ReadonlyMap<string, string> = new Map([
  ...[...OPTION_KEYS].reverse().map(({ key, option }): [string, string] => [option, key]),
  ['failureStatusCodes', 'failure_status_codes'],
  ['members', 'services'],
  ['threshold', 'group_threshold'],
  ['response', 'default_response'],
  ['url', 'alternative_service'],
]);

/** Checks data against the JSON Schema; one finding per location, each naming the value and what is allowed. */
export function schemaProblems(data: unknown): Finding[] {
  const validate = validator();
  if (validate(data)) return [];
  const byPath = new Map<string, ErrorObject[]>();
  const findings: Finding[] = [];
  for (const error of validate.errors ?? []) {
    if (error.keyword === 'if') continue;
    const segments = toSegments(error.instancePath, data);
    if (error.keyword === 'additionalProperties') {
      const key = String(error.params.additionalProperty);
      findings.push({ segments: [...segments, key], message: unknownKey(key, error.parentSchema as JsonSchema) });
      continue;
    }
    if (error.keyword === 'required') {
      const missing = String(error.params.missingProperty);
      findings.push({ segments, message: missingKey(missing, error.data) });
      continue;
    }
    if (error.keyword === 'propertyNames') {
      findings.push({
        segments: [...segments, String(error.params.propertyName)],
        message: 'got an empty name, expected a non-empty name',
      });
      continue;
    }
    const key = error.instancePath;
    const list = byPath.get(key);
    if (list === undefined) {
      byPath.set(key, [error]);
      findings.push({ segments, message: '' });
    } else list.push(error);
  }
  for (const finding of findings) {
    if (finding.message !== '') continue;
    const errors = byPath.get(toPointer(finding.segments)) ?? [];
    finding.message = valueProblem(errors);
  }
  return findings.filter((f) => f.message !== '');
}

function valueProblem(errors: readonly ErrorObject[]): string {
  const chosen = errors.find((e) => e.keyword === 'anyOf') ?? errors.find((e) => e.keyword === 'type') ?? errors[0];
  if (chosen === undefined) return '';
  const value: unknown = chosen.data;
  const schema = chosen.parentSchema as JsonSchema;
  if (chosen.keyword === 'uniqueItems') {
    const [first, second] = [Number(chosen.params.i), Number(chosen.params.j)].sort((a, b) => a - b);
    return `got ${showValue(value)}, expected no repeats (items ${first} and ${second} are the same)`;
  }
  if (chosen.keyword === 'enum' && value === 'custom' && schema.enum?.includes('cache')) {
    return `got "custom", expected one of ${FILE_STRATEGIES.map((s) => `"${s}"`).join(', ')} (a custom fallback is a function: give it in code, as the adapter's fallback option)`;
  }
  const expected = allowed(schema);
  // `.inf` and `.nan` are numbers to YAML: say why they are not taken.
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return `got ${showValue(value)}, expected ${expected.replace(/\ba number\b/, 'a finite number')}`;
  }
  return `got ${showValue(value)}, expected ${expected}`;
}

function unknownKey(key: string, parent: JsonSchema): string {
  const candidates = Object.keys(parent.properties ?? {});
  const guess = suggest(key, candidates, CORE_NAMES);
  if (guess !== undefined) return `unknown key "${key}"; did you mean "${guess}"?`;
  const extra = parent.patternProperties?.['^x-'] === undefined ? '' : ', or a key starting with x- for anchors';
  return `unknown key "${key}"; expected one of ${candidates.join(', ')}${extra}`;
}

function missingKey(missing: string, data: unknown): string {
  const strategy = (data as Record<string, unknown> | null)?.strategy;
  if (missing === 'strategy') {
    return `missing key "strategy": expected one of ${FILE_STRATEGIES.join(', ')} (or enabled: false)`;
  }
  if (typeof strategy === 'string' && (missing === 'default_response' || missing === 'alternative_service')) {
    return `missing key "${missing}", which strategy "${strategy}" needs`;
  }
  return `missing key "${missing}"`;
}

/** Says in words what a schema node allows. */
export function allowed(schema: JsonSchema): string {
  if (schema.anyOf !== undefined) {
    return schema.anyOf
      .map((branch) =>
        branch.description === undefined ? allowed(branch) : `${allowed(branch)} (${branch.description})`,
      )
      .join(', or ');
  }
  if (schema.enum !== undefined) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const types = [schema.type ?? []].flat();
  if (types.includes('object')) return 'a mapping';
  if (types.includes('array')) {
    let text = 'a list';
    if (schema.minItems !== undefined && schema.minItems > 0) text += ` of at least ${schema.minItems}`;
    if (schema.items !== undefined) text += `, each ${allowed(schema.items)}`;
    return text;
  }
  if (types.includes('boolean')) return 'true or false';
  if (types.includes('integer') || types.includes('number')) return numberRange(schema, types.includes('integer'));
  if (types.includes('string')) {
    if (schema.pattern !== undefined)
      return schema.pattern.startsWith('^https?') ? 'an http(s) URL' : `a string matching ${schema.pattern}`;
    return schema.minLength !== undefined && schema.minLength > 0 ? 'a non-empty string' : 'a string';
  }
  return 'a value';
}

function numberRange(schema: JsonSchema, integer: boolean): string {
  const unit = /millisecond/i.test(schema.description ?? '') ? ' of milliseconds' : '';
  const kind = `${integer ? 'an integer' : 'a number'}${unit}`;
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
  if (minimum !== undefined && maximum !== undefined) return `${kind} from ${minimum} to ${maximum}`;
  const bounds: string[] = [];
  if (exclusiveMinimum !== undefined) bounds.push(`greater than ${exclusiveMinimum}`);
  if (minimum !== undefined) bounds.push(`at least ${minimum}`);
  if (exclusiveMaximum !== undefined) bounds.push(`less than ${exclusiveMaximum}`);
  if (maximum !== undefined) bounds.push(`at most ${maximum}`);
  if (bounds.length === 0) return kind;
  const joiner = unit === '' && bounds[0]?.startsWith('at ') ? ' of ' : ' ';
  return `${kind}${joiner}${bounds.join(' and ')}`;
}

function toSegments(pointer: string, data: unknown): Segment[] {
  const segments: Segment[] = [];
  let current = data;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(part);
      segments.push(index);
      current = current[index];
    } else {
      segments.push(part);
      current =
        typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[part] : undefined;
    }
  }
  return segments;
}

function toPointer(segments: readonly Segment[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
