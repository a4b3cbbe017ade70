import {
  breakerOptionProblems,
  DEFAULTS,
  FINAL_STATUS,
  type GroupOptions,
  isFinalStatus,
  type ResponseDescriptor,
  validateFallback,
} from '@breakwater/core';
import type { BreakwaterConfig, FallbackConfig, FileBreakerOptions, ServiceConfig } from './config-types.js';
import { FAILURE_STATUS_CODES_KEY, type FileOption, KEYS_BY_OPTION, OPTION_KEYS } from './option-keys.js';
import { type Finding, type Segment, showValue } from './path.js';
import { FILE_STRATEGIES } from './schema.js';
import { schemaProblems } from './schema-problems.js';

type Data = Record<string, unknown>;

const DEFAULT_GROUP_THRESHOLD = 0.5;
const RESPONSE_KEYS = new Set(['status', 'headers', 'body']);
/** Fallback keys that mean something for one strategy only. */
const STRATEGY_KEYS: Record<string, string> = {
  cache_key: 'cache',
  ttl_ms: 'cache',
  default_response: 'default',
  alternative_service: 'alternative_service',
};

const isData = (value: unknown): value is Data => typeof value === 'object' && value !== null && !Array.isArray(value);
const own = (data: Data, key: string): boolean => Object.hasOwn(data, key);
const entries = (value: unknown): [string, unknown][] => (isData(value) ? Object.entries(value) : []);
const record = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * Validates parsed file data (schema, then the rules a schema cannot say) and maps it to a
 * `BreakwaterConfig`. The config is only meaningful when `findings` is empty.
 */
export function readConfig(data: unknown): { config: BreakwaterConfig; findings: Finding[] } {
  const findings = schemaProblems(data);
  const root = isData(data) ? data : {};
  const breakers = isData(root.circuit_breakers) ? root.circuit_breakers : {};
  const clean = (segments: readonly Segment[]): boolean =>
    !findings.some((f) => segments.every((s, i) => f.segments[i] === s));

  const upstreams = record<string>();
  for (const [name, url] of entries(root.upstreams)) {
    if (typeof url !== 'string') continue;
    if (httpUrl(url) && plainBase(url)) upstreams[name] = url;
    else if (httpUrl(url)) findings.push({ segments: ['upstreams', name], message: notPlainBase(url) });
    else if (clean(['upstreams', name]))
      findings.push({ segments: ['upstreams', name], message: `got ${showValue(url)}, expected an http(s) URL` });
  }

  const defaultsRaw = isData(breakers.default) ? breakers.default : {};
  const defaultsPath = ['circuit_breakers', 'default'];
  const defaults = breakerOptions(defaultsRaw);
  checkBreaker(defaultsRaw, defaultsPath, findings);
  checkCombined(defaultsRaw, {}, defaults, defaultsPath, findings);
  // What services are checked over: the defaults without those that have problems of their own
  // (reported at the default), so that each service's own problems are all found too.
  const cleanDefaults = withoutFlagged(defaultsRaw, defaults, defaultsPath, findings);
  const defaultCodes = statusCodes(defaultsRaw);

  const services = record<ServiceConfig>();
  for (const [name, value] of entries(breakers.services)) {
    const raw = isData(value) ? value : {};
    const path = ['circuit_breakers', 'services', name];
    const options = breakerOptions(raw);
    checkBreaker(raw, path, findings);
    checkCombined(raw, cleanDefaults, options, path, findings);
    const service: ServiceConfig = { options };
    const codes = statusCodes(raw) ?? defaultCodes;
    if (codes !== undefined) service.failureStatusCodes = codes;
    const fallback = readFallback(raw.fallback, [...path, 'fallback'], upstreams, root.upstreams, findings);
    if (fallback !== undefined) service.fallback = fallback;
    services[name] = service;
  }

  const groups = record<GroupOptions>();
  const hierarchical = isData(breakers.hierarchical) ? breakers.hierarchical : {};
  if (hierarchical.enabled !== false) {
    for (const [name, value] of entries(hierarchical.groups)) {
      if (!isData(value) || !Array.isArray(value.services)) continue;
      const threshold = typeof value.group_threshold === 'number' ? value.group_threshold : DEFAULT_GROUP_THRESHOLD;
      groups[name] = { members: value.services.filter((m): m is string => typeof m === 'string'), threshold };
    }
  }

  const config: BreakwaterConfig = { defaults, services, groups, upstreams };
  if (defaultCodes !== undefined) config.failureStatusCodes = defaultCodes;
  return { config, findings };
}

/** Maps a breaker mapping's keys to core options. */
function breakerOptions(raw: Data): FileBreakerOptions {
  const options: Record<string, unknown> = {};
  for (const { key, option } of OPTION_KEYS) {
    if (!own(raw, key)) continue;
    const value = raw[key];
    if (key === 'failure_threshold' && isRate(value)) {
      options.failureRateThreshold = value;
      options.failureThreshold = 0;
    } else if (!(option in options)) options[option] = value;
  }
  return options as FileBreakerOptions;
}

function isRate(value: unknown): value is number {
  return typeof value === 'number' && !Number.isInteger(value) && value > 0 && value < 1;
}

function statusCodes(raw: Data): readonly number[] | undefined {
  const codes = raw[FAILURE_STATUS_CODES_KEY];
  return Array.isArray(codes) ? codes.filter((c): c is number => typeof c === 'number') : undefined;
}

/** Rules within one mapping: one spelling per option, and a rate given once. */
function checkBreaker(raw: Data, path: Segment[], findings: Finding[]): void {
  for (const keys of KEYS_BY_OPTION.values()) {
    const present = keys.filter((k) => own(raw, k));
    const [first, ...others] = present;
    for (const other of others) {
      findings.push({
        segments: [...path, other],
        message: `sets the same option as "${first}" (two spellings of one option); keep one of them`,
      });
    }
  }
  if (isRate(raw.failure_threshold) && own(raw, 'failure_rate_threshold')) {
    findings.push({
      segments: [...path, 'failure_threshold'],
      message: `got ${raw.failure_threshold}, a failure rate, but failure_rate_threshold is set too; keep one of them`,
    });
  }
}

/** Whether a finding lies at `segments` or below it. */
function under(finding: Finding, segments: readonly Segment[]): boolean {
  return segments.every((s, i) => finding.segments[i] === s);
}

/** `options` without the options whose keys in `raw` (at `path`) have a finding. */
function withoutFlagged(
  raw: Data,
  options: FileBreakerOptions,
  path: Segment[],
  findings: Finding[],
): FileBreakerOptions {
  const kept: Record<string, unknown> = { ...options };
  for (const [option, keys] of KEYS_BY_OPTION) {
    if (keys.some((key) => own(raw, key) && findings.some((f) => under(f, [...path, key])))) delete kept[option];
  }
  // A slow-call rate without its duration is reported at the mapping itself: services are not
  // told again of what only the defaults lack.
  if (kept.slowCallRateThreshold !== undefined && kept.slowCallDurationMs === undefined) {
    delete kept.slowCallRateThreshold;
  }
  return kept as FileBreakerOptions;
}

/**
 * Rules across options, with the file's defaults beneath a service's own options, as core
 * applies them (see core's `breakerOptionProblems`), then each of the mapping's own options
 * against core's bounds, where the schema found nothing at its key: every problem is listed.
 */
function checkCombined(
  raw: Data,
  defaults: FileBreakerOptions,
  options: FileBreakerOptions,
  path: Segment[],
  findings: Finding[],
): void {
  const merged = { ...defaults, ...options };
  const sets = (option: string): string | undefined =>
    KEYS_BY_OPTION.get(option as FileOption)?.find((k) => Object.hasOwn(raw, k));
  const recovery = merged.recoveryTimeoutMs ?? DEFAULTS.recoveryTimeoutMs;
  const max = merged.maxRecoveryTimeoutMs ?? DEFAULTS.maxRecoveryTimeoutMs;
  // As in core: the cap matters only when it is given, or when backoff would grow the open time towards it.
  const capInPlay = merged.maxRecoveryTimeoutMs !== undefined || merged.exponentialBackoff === true;
  if (capInPlay && typeof max === 'number' && typeof recovery === 'number' && max < recovery) {
    const maxKey = sets('maxRecoveryTimeoutMs');
    const recoveryKey = sets('recoveryTimeoutMs');
    if (maxKey !== undefined) {
      findings.push({
        segments: [...path, maxKey],
        message: `got ${max}, expected at least the recovery timeout (${recovery})`,
      });
    } else if (recoveryKey !== undefined) {
      const from = Object.hasOwn(defaults, 'maxRecoveryTimeoutMs') ? ', from default' : ', the default';
      findings.push({
        segments: [...path, recoveryKey],
        message: `got ${recovery}, expected at most max_recovery_timeout_ms (${max}${from})`,
      });
    } else if (sets('exponentialBackoff') !== undefined) {
      findings.push({
        segments: [...path, sets('exponentialBackoff') as string],
        message: `backoff needs max_recovery_timeout_ms (${max}, the default) of at least the recovery timeout (${recovery})`,
      });
    }
  }
  // As in core: a duration alone counts slow calls without a rule; a ratio alone has nothing to count.
  if (merged.slowCallRateThreshold !== undefined && merged.slowCallDurationMs === undefined) {
    findings.push({
      segments: path,
      message: 'missing key "slow_call_duration_ms": slow_call_rate_threshold is set, and needs it to tell slow calls',
    });
  }
  for (const problem of breakerOptionProblems(options, undefined, false)) {
    const key = sets(problem.option);
    if (key === undefined || problem.allowed === undefined) continue;
    const at = [...path, key];
    if (findings.some((f) => under(f, at))) continue;
    findings.push({
      segments: at,
      message: toFileNames(`got ${showValue(problem.value)}, expected ${problem.allowed}`),
    });
  }
}

/** Rewrites core option names in a message as the file's keys. */
function toFileNames(message: string): string {
  let out = message.replace(/^Invalid option /, '');
  for (const [option, keys] of KEYS_BY_OPTION) out = out.replaceAll(option, keys[0] ?? option);
  return out;
}

function readFallback(
  value: unknown,
  path: Segment[],
  upstreams: Record<string, string>,
  upstreamsRaw: unknown,
  findings: Finding[],
): FallbackConfig | undefined {
  if (!isData(value) || value.enabled === false) return undefined;
  const strategy = value.strategy;
  if (!FILE_STRATEGIES.includes(strategy as (typeof FILE_STRATEGIES)[number])) return undefined;
  for (const [key, only] of Object.entries(STRATEGY_KEYS)) {
    if (own(value, key) && only !== strategy) {
      findings.push({
        segments: [...path, key],
        message: `applies only to strategy "${only}", and this fallback's strategy is "${String(strategy)}"`,
      });
    }
  }
  const timeoutMs = typeof value.timeout_ms === 'number' ? value.timeout_ms : undefined;
  const withTimeout = (fallback: FallbackConfig): FallbackConfig =>
    timeoutMs === undefined ? fallback : { ...fallback, timeoutMs };
  if (strategy === 'cache') {
    const fallback: FallbackConfig = { strategy: 'cache' };
    if (typeof value.cache_key === 'string') fallback.cacheKey = value.cache_key;
    if (typeof value.ttl_ms === 'number') fallback.ttlMs = value.ttl_ms;
    return withTimeout(fallback);
  }
  if (strategy === 'default') {
    if (!own(value, 'default_response')) return undefined;
    const response = readResponse(value.default_response, [...path, 'default_response'], findings);
    return response === undefined ? undefined : withTimeout({ strategy: 'default', response });
  }
  const target = value.alternative_service;
  if (typeof target !== 'string' || target === '') return undefined;
  const targetPath = [...path, 'alternative_service'];
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) && !Object.hasOwn(upstreams, target)) {
    if (httpUrl(target) && plainBase(target)) return withTimeout({ strategy: 'alternative_service', url: target });
    if (httpUrl(target)) {
      findings.push({ segments: targetPath, message: notPlainBase(target) });
      return undefined;
    }
    findings.push({
      segments: targetPath,
      message: `got ${showValue(target)}, expected an http(s) URL or the name of an entry under upstreams`,
    });
    return undefined;
  }
  const url = upstreams[target];
  if (url !== undefined) return withTimeout({ strategy: 'alternative_service', url, upstream: target });
  const declared = isData(upstreamsRaw) && Object.hasOwn(upstreamsRaw, target);
  if (!declared) {
    const names = Object.keys(isData(upstreamsRaw) ? upstreamsRaw : {});
    const known =
      names.length === 0
        ? 'the file has no upstreams mapping'
        : `upstreams has no entry "${target}"; it names ${names.join(', ')}`;
    findings.push({
      segments: targetPath,
      message: `got ${showValue(target)}, expected an http(s) URL or the name of an entry under upstreams (${known})`,
    });
  }
  return undefined;
}

/** `default_response`: a mapping of only status/headers/body is a response; anything else is the body. */
function readResponse(value: unknown, path: Segment[], findings: Finding[]): ResponseDescriptor | undefined {
  if (value === null || value === undefined) {
    findings.push({
      segments: path,
      message: `got ${showValue(value)}, expected a body (sent as JSON with status 200) or a mapping of status, headers and body`,
    });
    return undefined;
  }
  const keys = isData(value) ? Object.keys(value) : [];
  const descriptor =
    isData(value) &&
    keys.length > 0 &&
    keys.every((k) => RESPONSE_KEYS.has(k)) &&
    (own(value, 'status') || own(value, 'body'));
  if (!descriptor) return { status: 200, body: value };
  const response: ResponseDescriptor = {};
  let ok = true;
  if (own(value, 'status')) {
    const status = value.status;
    // A final status, as core's fallbacks take (a 1xx would leave the client waiting).
    if (isFinalStatus(status)) response.status = status;
    else {
      findings.push({
        segments: [...path, 'status'],
        message: `got ${showValue(status)}, expected ${FINAL_STATUS}`,
      });
      ok = false;
    }
  }
  if (own(value, 'headers')) {
    const headers = value.headers;
    const valid =
      isData(headers) &&
      Object.values(headers).every(
        (h) =>
          typeof h === 'string' ||
          typeof h === 'number' ||
          (Array.isArray(h) && h.every((v) => typeof v === 'string' || typeof v === 'number')),
      );
    if (valid) response.headers = headers as ResponseDescriptor['headers'] & object;
    else {
      findings.push({
        segments: [...path, 'headers'],
        message: `got ${showValue(headers)}, expected a mapping of header names to strings, numbers or lists of them`,
      });
      ok = false;
    }
  }
  if (own(value, 'body')) response.body = value.body;
  if (!ok) return undefined;
  try {
    validateFallback({ strategy: 'default', response });
  } catch (error) {
    findings.push({ segments: path, message: (error as Error).message });
    return undefined;
  }
  return response;
}

/** Whether core takes `text` as a backup's base URL: no credentials, query or fragment (see `validateFallback`). */
function plainBase(text: string): boolean {
  try {
    validateFallback({ strategy: 'alternative_service', url: text });
    return true;
  } catch {
    return false;
  }
}

function notPlainBase(text: string): string {
  return `got ${showValue(text)}, expected an http(s) URL without credentials, query or fragment (the request's path and query are appended to it)`;
}

function httpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
