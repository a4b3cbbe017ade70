// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is configuration text, not a template
import { describe, expect, it } from 'vitest';
import { createRegistry } from './create-registry.js';
import { parseConfig } from './load-config.js';
import { OPTION_KEYS } from './option-keys.js';

const load = (yaml: string, env: Record<string, string> = {}) => parseConfig(yaml, { env });

/** Each file key, a value, and the core options it must produce. */
const MAPPINGS: [key: string, value: string, options: Record<string, unknown>][] = [
  ['failure_threshold', '7', { failureThreshold: 7 }],
  ['failure_rate_threshold', '0.7', { failureRateThreshold: 0.7 }],
  ['minimum_requests', '20', { minimumRequests: 20 }],
  ['volume_threshold', '20', { minimumRequests: 20 }],
  ['timeout_ms', '1500', { timeoutMs: 1500 }],
  ['expected_response_time', '1500', { timeoutMs: 1500 }],
  ['recovery_timeout_ms', '45000', { recoveryTimeoutMs: 45000 }],
  ['recovery_timeout', '45000', { recoveryTimeoutMs: 45000 }],
  ['metrics_window_ms', '5000', { metricsWindowMs: 5000 }],
  ['monitoring_period', '5000', { metricsWindowMs: 5000 }],
  ['success_threshold', '4', { successThreshold: 4 }],
  ['half_open_max_requests', '1', { halfOpenMaxRequests: 1 }],
  ['enable_exponential_backoff', 'true', { exponentialBackoff: true }],
  ['backoff_multiplier', '1.5', { backoffMultiplier: 1.5 }],
  ['max_recovery_timeout_ms', '600000', { maxRecoveryTimeoutMs: 600000 }],
  ['slow_call_duration_ms', '800', { slowCallDurationMs: 800 }],
  ['slow_call_rate_threshold', '0.4', { slowCallRateThreshold: 0.4 }],
  ['recovery_jitter', '0.2', { recoveryJitter: 0.2 }],
];

describe('key mapping', () => {
  it('covers every key the file format has', () => {
    expect(new Set(MAPPINGS.map(([key]) => key))).toEqual(new Set(OPTION_KEYS.map((k) => k.key)));
  });

  it.each(MAPPINGS)('maps %s: %s in default and in a service to the core option', (key, value, options) => {
    // The slow-call keys only work as a pair; give the partner where needed.
    const partner =
      key === 'slow_call_duration_ms'
        ? '\n    slow_call_rate_threshold: 0.5'
        : key === 'slow_call_rate_threshold'
          ? '\n    slow_call_duration_ms: 1000'
          : '';
    const config = load(
      `circuit_breakers:\n  default:\n    ${key}: ${value}${partner}\n  services:\n    svc:\n      ${key}: ${value}${partner.replace(/\n {4}/, '\n      ')}\n`,
    );
    expect(config.defaults).toMatchObject(options);
    expect(config.services.svc?.options).toMatchObject(options);
    const breaker = createRegistry(config).getOrCreate('other');
    expect(breaker.options).toMatchObject(options);
  });

  it('reads a whole-number failure_threshold as a count, even 0 and 1', () => {
    expect(load('circuit_breakers:\n  default:\n    failure_threshold: 1\n').defaults).toEqual({ failureThreshold: 1 });
    expect(load('circuit_breakers:\n  default:\n    failure_threshold: 0\n').defaults).toEqual({ failureThreshold: 0 });
  });

  it('reads a fractional failure_threshold as a rate and turns the count rule off', () => {
    expect(load('circuit_breakers:\n  default:\n    failure_threshold: 0.25\n').defaults).toEqual({
      failureRateThreshold: 0.25,
      failureThreshold: 0,
    });
  });

  it('lets a service count where the default is a rate, keeping the default rate beneath', () => {
    const config = load(`
circuit_breakers:
  default: { failure_threshold: 0.5 }
  services:
    counted: { failure_threshold: 3 }
`);
    expect(createRegistry(config).getOrCreate('counted').options).toMatchObject({
      failureThreshold: 3,
      failureRateThreshold: 0.5,
    });
  });

  it('gives services the default failure_status_codes unless they list their own', () => {
    const config = load(`
circuit_breakers:
  default: { failure_status_codes: [500, 503] }
  services:
    inherits: {}
    own: { failure_status_codes: [429] }
`);
    expect(config.failureStatusCodes).toEqual([500, 503]);
    expect(config.services.inherits?.failureStatusCodes).toEqual([500, 503]);
    expect(config.services.own?.failureStatusCodes).toEqual([429]);
  });

  it('accepts empty sections and services', () => {
    const config = load('circuit_breakers:\n  default:\n  services:\n    bare:\n');
    expect(config.defaults).toEqual({});
    expect(config.services.bare).toEqual({ options: {} });
  });

  it('accepts an empty hierarchical section, as it accepts empty default and services', () => {
    const config = load('circuit_breakers:\n  services:\n    a:\n  hierarchical:\n    # groups: to come\n');
    expect(config.groups).toEqual({});
  });

  it('reads JSON as well as YAML', () => {
    const config = load('{"circuit_breakers": {"services": {"api": {"timeout_ms": 2500}}}}');
    expect(config.services.api?.options).toEqual({ timeoutMs: 2500 });
  });

  it('follows YAML anchors and merge keys, with x- keys as a place for anchors', () => {
    const config = load(`
x-strict: &strict
  failure_threshold: 2
  timeout_ms: 1000
circuit_breakers:
  services:
    a:
      <<: *strict
      timeout_ms: 2000
    b: *strict
`);
    expect(config.services.a?.options).toEqual({ failureThreshold: 2, timeoutMs: 2000 });
    expect(config.services.b?.options).toEqual({ failureThreshold: 2, timeoutMs: 1000 });
  });
});

describe('fallback mapping', () => {
  const withFallback = (fallback: string, extra = '') =>
    load(`${extra}circuit_breakers:\n  services:\n    svc:\n      fallback:\n${fallback.replace(/^/gm, '        ')}\n`)
      .services.svc?.fallback;

  it('maps a cache fallback with its key, age limit and time limit', () => {
    expect(withFallback('strategy: cache\ncache_key: "k"\nttl_ms: 60000\ntimeout_ms: 250')).toEqual({
      strategy: 'cache',
      cacheKey: 'k',
      ttlMs: 60000,
      timeoutMs: 250,
    });
    expect(withFallback('strategy: cache')).toEqual({ strategy: 'cache' });
  });

  it('turns a fallback off with enabled: false, even without a strategy', () => {
    expect(withFallback('enabled: false\nstrategy: cache')).toBeUndefined();
    expect(withFallback('enabled: false')).toBeUndefined();
  });

  it('sends a default_response mapping without status/body keys as the JSON body with status 200', () => {
    expect(withFallback('strategy: default\ndefault_response:\n  items: []\n  status: degraded')).toEqual({
      strategy: 'default',
      response: { status: 200, body: { items: [], status: 'degraded' } },
    });
  });

  it('reads a default_response of only status, headers and body as the response itself', () => {
    expect(
      withFallback(
        'strategy: default\ndefault_response:\n  status: 503\n  headers: { retry-after: 30 }\n  body: { maintenance: true }',
      ),
    ).toEqual({
      strategy: 'default',
      response: { status: 503, headers: { 'retry-after': 30 }, body: { maintenance: true } },
    });
  });

  it('sends a scalar or list default_response as the body', () => {
    expect(withFallback('strategy: default\ndefault_response: "try later"')).toEqual({
      strategy: 'default',
      response: { status: 200, body: 'try later' },
    });
    expect(withFallback('strategy: default\ndefault_response: [1, 2]')).toEqual({
      strategy: 'default',
      response: { status: 200, body: [1, 2] },
    });
  });

  it('takes an alternative_service URL as it is, and a name through upstreams', () => {
    expect(withFallback('strategy: alternative_service\nalternative_service: https://backup.example.com/v1')).toEqual({
      strategy: 'alternative_service',
      url: 'https://backup.example.com/v1',
    });
    expect(
      withFallback(
        'strategy: alternative_service\nalternative_service: backup',
        'upstreams:\n  backup: http://10.0.0.9:8080\n',
      ),
    ).toEqual({ strategy: 'alternative_service', url: 'http://10.0.0.9:8080', upstream: 'backup' });
  });
});

describe('groups', () => {
  it('defaults group_threshold to 0.5 and ignores groups when hierarchical.enabled is false', () => {
    const groups = (enabled: string) =>
      load(`circuit_breakers:\n  hierarchical:\n    enabled: ${enabled}\n    groups:\n      g: { services: [a, b] }\n`)
        .groups;
    expect(groups('true')).toEqual({ g: { members: ['a', 'b'], threshold: 0.5 } });
    expect(groups('false')).toEqual({});
  });
});

describe('environment interpolation', () => {
  it('substitutes ${VAR} and ${VAR:-default} in string values', () => {
    const config = load(
      `
upstreams:
  backup: \${BACKUP_URL}
  other: "\${OTHER_URL:-http://other:80}"
circuit_breakers: {}
`,
      { BACKUP_URL: 'http://backup:9000' },
    );
    expect(config.upstreams).toEqual({ backup: 'http://backup:9000', other: 'http://other:80' });
  });

  it('reads an unquoted ${VAR} as a number or boolean when it is one', () => {
    const config = load(
      'circuit_breakers:\n  default:\n    timeout_ms: ${TIMEOUT_MS:-5000}\n    enable_exponential_backoff: ${BACKOFF}\n',
      { BACKOFF: 'true' },
    );
    expect(config.defaults).toEqual({ timeoutMs: 5000, exponentialBackoff: true });
  });

  it('uses the default when the variable is set but empty, and keeps $${ as a literal ${', () => {
    const config = load(
      'circuit_breakers:\n  services:\n    s:\n      timeout_ms: ${T:-750}\n      fallback: { strategy: cache, cache_key: "$${not_a_var}-${SUFFIX}" }\n',
      { T: '', SUFFIX: 'x' },
    );
    expect(config.services.s?.options).toEqual({ timeoutMs: 750 });
    expect(config.services.s?.fallback).toEqual({ strategy: 'cache', cacheKey: '${not_a_var}-x' });
  });
});
