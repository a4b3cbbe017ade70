import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { inspectConfig, parseConfig } from './load-config.js';

function problemsOf(yaml: string, env: Record<string, string> = {}) {
  const result = inspectConfig(yaml, { env });
  if (result.ok) throw new Error('expected problems, the file was accepted');
  return result.problems;
}

const service = (body: string) =>
  `circuit_breakers:\n  services:\n    payment_api:\n${body.replace(/^/gm, '      ')}\n`;

describe('values out of range or of the wrong type', () => {
  it.each([
    [
      'failure_threshold: -1',
      'failure_threshold',
      'got -1, expected an integer of at least 0 (consecutive failures; 0 turns the rule off), or a number greater than 0 and less than 1 (a failure rate)',
    ],
    ['failure_threshold: 1.5', 'failure_threshold', 'got 1.5, expected an integer of at least 0'],
    ['failure_rate_threshold: 2', 'failure_rate_threshold', 'got 2, expected a number from 0 to 1'],
    ['timeout_ms: 0', 'timeout_ms', 'got 0, expected a number of milliseconds greater than 0 and at most 2147483647'],
    ['timeout_ms: "5s"', 'timeout_ms', 'got "5s", expected a number of milliseconds'],
    ['monitoring_period: 5', 'monitoring_period', 'got 5, expected a number of milliseconds from 10 to 2147483647'],
    ['volume_threshold: 0', 'volume_threshold', 'got 0, expected an integer of at least 1'],
    ['success_threshold: 2.5', 'success_threshold', 'got 2.5, expected an integer of at least 1'],
    ['enable_exponential_backoff: yes', 'enable_exponential_backoff', 'got "yes", expected true or false'],
    ['backoff_multiplier: 0.5', 'backoff_multiplier', 'got 0.5, expected a number of at least 1'],
    ['failure_status_codes: 500', 'failure_status_codes', 'got 500, expected a list, each an integer from 100 to 599'],
    ['failure_status_codes: [500, 700]', 'failure_status_codes[1]', 'got 700, expected an integer from 100 to 599'],
    ['failure_status_codes: [500, 500]', 'failure_status_codes', 'expected no repeats'],
  ])('%s', (line, key, message) => {
    const [problem, ...others] = problemsOf(service(line));
    expect(others).toEqual([]);
    expect(problem?.path).toBe(`circuit_breakers.services.payment_api.${key}`);
    expect(problem?.message).toContain(message);
    expect(problem?.line).toBe(4);
  });

  it('names the section when a mapping is something else', () => {
    expect(problemsOf('circuit_breakers:\n  services: [a, b]\n')).toMatchObject([
      { path: 'circuit_breakers.services', message: 'got ["a","b"], expected a mapping', line: 2 },
    ]);
  });

  it('requires circuit_breakers', () => {
    expect(problemsOf('upstreams: {}\n')).toMatchObject([{ path: '', message: 'missing key "circuit_breakers"' }]);
  });
});

describe('unknown keys', () => {
  it.each([
    ['timeout: 5000', 'timeout', 'did you mean "timeout_ms"?'],
    ['failureThreshold: 3', 'failureThreshold', 'did you mean "failure_threshold"?'],
    ['recoveryTimeoutMs: 1000', 'recoveryTimeoutMs', 'did you mean "recovery_timeout_ms"?'],
    ['exponentialBackoff: true', 'exponentialBackoff', 'did you mean "enable_exponential_backoff"?'],
    ['failure_treshold: 3', 'failure_treshold', 'did you mean "failure_threshold"?'],
    ['half_open_requests: 2', 'half_open_requests', 'did you mean "half_open_max_requests"?'],
  ])('%s suggests the key meant', (line, key, suggestion) => {
    expect(problemsOf(service(line))).toMatchObject([
      { path: `circuit_breakers.services.payment_api.${key}`, message: `unknown key "${key}"; ${suggestion}` },
    ]);
  });

  it('lists the allowed keys when nothing is close', () => {
    const [problem] = problemsOf('circuit_breakers:\n  colour: blue\n');
    expect(problem?.path).toBe('circuit_breakers.colour');
    expect(problem?.message).toBe('unknown key "colour"; expected one of default, services, hierarchical');
  });

  it('suggests across the levels of the file, and in fallbacks and groups', () => {
    const problems = problemsOf(`
circuit_breaker: {}
circuit_breakers:
  service: {}
  hierarchical:
    groups:
      g: { members: [a], threshold: 0.5 }
  services:
    s:
      fallback: { strategy: cache, cachekey: x }
`);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['circuit_breaker', 'unknown key "circuit_breaker"; did you mean "circuit_breakers"?'],
      ['circuit_breakers.service', 'unknown key "service"; did you mean "services"?'],
      ['circuit_breakers.hierarchical.groups.g', 'missing key "services"'],
      ['circuit_breakers.hierarchical.groups.g.members', 'unknown key "members"; did you mean "services"?'],
      ['circuit_breakers.hierarchical.groups.g.threshold', 'unknown key "threshold"; did you mean "group_threshold"?'],
      ['circuit_breakers.services.s.fallback.cachekey', 'unknown key "cachekey"; did you mean "cache_key"?'],
    ]);
  });
});

describe('every problem at once', () => {
  it('reports all problems in file order, each with its path and line', () => {
    const yaml = `circuit_breakers:
  default:
    failure_threshold: -2
    timeout_ms: fast
  services:
    payment_api:
      recovery_timeout_ms: 0
      retries: 3
    "api.example.com":
      failure_rate_threshold: 1.2
upstreams:
  backup: ftp://backup
`;
    const error = (() => {
      try {
        parseConfig(yaml, { env: {} });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.name).toBe('ConfigError');
    expect(String(error).startsWith('ConfigError: Invalid breaker configuration')).toBe(true);
    expect(error.code).toBe('ECONFIG');
    expect(error.problems.map((p) => [p.line, p.path])).toEqual([
      [3, 'circuit_breakers.default.failure_threshold'],
      [4, 'circuit_breakers.default.timeout_ms'],
      [7, 'circuit_breakers.services.payment_api.recovery_timeout_ms'],
      [8, 'circuit_breakers.services.payment_api.retries'],
      [10, 'circuit_breakers.services["api.example.com"].failure_rate_threshold'],
      [12, 'upstreams.backup'],
    ]);
    expect(error.message).toContain('(6 problems)');
    expect(error.message).toContain(
      'circuit_breakers.default.timeout_ms: got "fast", expected a number of milliseconds',
    );
    expect(error.message).toContain('upstreams.backup: got "ftp://backup", expected an http(s) URL (line 12)');
  });
});

describe('rules across keys', () => {
  it('refuses two spellings of one option in the same mapping', () => {
    expect(problemsOf(service('timeout_ms: 1000\nexpected_response_time: 2000'))).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.expected_response_time',
        message: 'sets the same option as "timeout_ms" (two spellings of one option); keep one of them',
      },
    ]);
  });

  it('refuses a fractional failure_threshold beside failure_rate_threshold', () => {
    expect(problemsOf(service('failure_threshold: 0.3\nfailure_rate_threshold: 0.5'))).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.failure_threshold',
        message: 'got 0.3, a failure rate, but failure_rate_threshold is set too; keep one of them',
      },
    ]);
  });

  it('refuses a max_recovery_timeout_ms below the recovery timeout, counting the defaults', () => {
    expect(problemsOf(service('max_recovery_timeout_ms: 1000'))).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.max_recovery_timeout_ms',
        message: 'got 1000, expected at least the recovery timeout (30000)',
      },
    ]);
    const problems = problemsOf(
      'circuit_breakers:\n  default:\n    max_recovery_timeout_ms: 60000\n  services:\n    slow:\n      recovery_timeout: 120000\n',
    );
    expect(problems).toMatchObject([
      {
        path: 'circuit_breakers.services.slow.recovery_timeout',
        message: 'got 120000, expected at most max_recovery_timeout_ms (60000, from default)',
      },
    ]);
  });

  it('lists every problem: a typo in default does not hide a service problem, nor one problem another', () => {
    const problems = problemsOf(`
circuit_breakers:
  default:
    failure_treshold: 5
  services:
    payment_api:
      recovery_timeout_ms: 60000
      max_recovery_timeout_ms: 1000
      slow_call_rate_threshold: 0.5
    batch:
      half_open_max_requests: 20000
      backoff_multiplier: .inf
`);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['circuit_breakers.default.failure_treshold', expect.stringContaining('unknown key')],
      [
        'circuit_breakers.services.payment_api',
        'missing key "slow_call_duration_ms": slow_call_rate_threshold is set, and needs it to tell slow calls',
      ],
      [
        'circuit_breakers.services.payment_api.max_recovery_timeout_ms',
        'got 1000, expected at least the recovery timeout (60000)',
      ],
      ['circuit_breakers.services.batch.half_open_max_requests', 'got 20000, expected an integer from 1 to 10000'],
      ['circuit_breakers.services.batch.backoff_multiplier', 'got Infinity, expected a finite number of at least 1'],
    ]);
  });

  it('takes a recovery_timeout_ms above five minutes without backoff, as core does', () => {
    expect(inspectConfig(service('recovery_timeout_ms: 600000'), { env: {} }).ok).toBe(true);
    expect(problemsOf(service('recovery_timeout_ms: 600000\nenable_exponential_backoff: true'))).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.recovery_timeout_ms',
        message: 'got 600000, expected at most max_recovery_timeout_ms (300000, the default)',
      },
    ]);
  });

  it('still checks the options of a service whose fallback has problems', () => {
    expect(
      problemsOf(service('max_recovery_timeout_ms: 1000\nfallback: { strategy: cache, cachekey: k }')).map(
        (p) => p.path,
      ),
    ).toEqual([
      'circuit_breakers.services.payment_api.max_recovery_timeout_ms',
      'circuit_breakers.services.payment_api.fallback.cachekey',
    ]);
  });

  it('takes slow_call_duration_ms alone, but not slow_call_rate_threshold without it', () => {
    expect(inspectConfig(service('slow_call_duration_ms: 500'), { env: {} }).ok).toBe(true);
    expect(problemsOf(service('slow_call_rate_threshold: 0.5'))).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api',
        message:
          'missing key "slow_call_duration_ms": slow_call_rate_threshold is set, and needs it to tell slow calls',
      },
    ]);
  });

  it('reports a slow_call_rate_threshold in default without its duration once, not again for every service', () => {
    const problems = problemsOf(`
circuit_breakers:
  default:
    slow_call_rate_threshold: 0.5
  services:
    a:
      timeout_ms: 100
    b:
      timeout_ms: 100
    c:
      slow_call_duration_ms: 100
`);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      [
        'circuit_breakers.default',
        'missing key "slow_call_duration_ms": slow_call_rate_threshold is set, and needs it to tell slow calls',
      ],
    ]);
  });
});

describe('fallback problems', () => {
  const fallback = (body: string, extra = '') =>
    problemsOf(`${extra}${service(`fallback:\n${body.replace(/^/gm, '  ')}`)}`);

  it('explains that a custom strategy belongs in code', () => {
    const [problem] = fallback('strategy: custom');
    expect(problem?.path).toBe('circuit_breakers.services.payment_api.fallback.strategy');
    expect(problem?.message).toContain('got "custom", expected one of "cache", "default", "alternative_service"');
    expect(problem?.message).toContain('give it in code');
  });

  it('needs a strategy, and what the strategy needs', () => {
    expect(fallback('enabled: true')).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback',
        message: 'missing key "strategy": expected one of cache, default, alternative_service (or enabled: false)',
      },
    ]);
    expect(fallback('strategy: default')).toMatchObject([
      { message: 'missing key "default_response", which strategy "default" needs' },
    ]);
    expect(fallback('strategy: alternative_service')).toMatchObject([
      { message: 'missing key "alternative_service", which strategy "alternative_service" needs' },
    ]);
  });

  it('refuses keys of another strategy', () => {
    expect(fallback('strategy: default\ndefault_response: {}\ncache_key: k')).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback.cache_key',
        message: 'applies only to strategy "cache", and this fallback\'s strategy is "default"',
      },
    ]);
  });

  it('checks a default_response written as a response', () => {
    expect(fallback('strategy: default\ndefault_response: { status: 99, body: x }')).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback.default_response.status',
        message: 'got 99, expected an integer from 200 to 599',
      },
    ]);
    // A 1xx, which core refuses as a fallback's status, is named in the file's own terms.
    expect(fallback('strategy: default\ndefault_response: { status: 103, body: x }')).toEqual([
      expect.objectContaining({
        path: 'circuit_breakers.services.payment_api.fallback.default_response.status',
        message: 'got 103, expected an integer from 200 to 599',
      }),
    ]);
    expect(fallback('strategy: default\ndefault_response:')).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback.default_response',
        message: expect.stringContaining('got null'),
      },
    ]);
  });

  it('says which upstreams exist when an alternative_service name is unknown', () => {
    expect(
      fallback(
        'strategy: alternative_service\nalternative_service: backup-ap',
        'upstreams:\n  backup-api: http://b:1\n',
      ),
    ).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback.alternative_service',
        message:
          'got "backup-ap", expected an http(s) URL or the name of an entry under upstreams (upstreams has no entry "backup-ap"; it names backup-api)',
      },
    ]);
    expect(fallback('strategy: alternative_service\nalternative_service: mailto:ops@example.com')).toMatchObject([
      { message: 'got "mailto:ops@example.com", expected an http(s) URL or the name of an entry under upstreams' },
    ]);
  });

  it('refuses a backup URL with credentials, a query or a fragment, which core refuses when the fallback is built', () => {
    const plain =
      "expected an http(s) URL without credentials, query or fragment (the request's path and query are appended to it)";
    expect(fallback('strategy: alternative_service\nalternative_service: http://backup/v2?token=1')).toMatchObject([
      {
        path: 'circuit_breakers.services.payment_api.fallback.alternative_service',
        message: `got "http://backup/v2?token=1", ${plain}`,
      },
    ]);
    expect(fallback('strategy: alternative_service\nalternative_service: http://ops:pw@backup')).toMatchObject([
      { message: `got "http://ops:pw@backup", ${plain}` },
    ]);
    expect(
      fallback(
        'strategy: alternative_service\nalternative_service: backup',
        'upstreams:\n  backup: http://b:1/v2#top\n',
      ),
    ).toMatchObject([{ path: 'upstreams.backup', message: `got "http://b:1/v2#top", ${plain}` }]);
  });
});

describe('group problems', () => {
  it('checks thresholds and members', () => {
    const problems = problemsOf(`
circuit_breakers:
  hierarchical:
    groups:
      a: { services: [x, y], group_threshold: 1 }
      b: { services: [] }
      c: { services: [x, x] }
`);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      [
        'circuit_breakers.hierarchical.groups.a.group_threshold',
        'got 1, expected a number of at least 0 and less than 1',
      ],
      [
        'circuit_breakers.hierarchical.groups.b.services',
        'got [], expected a list of at least 1, each a non-empty string',
      ],
      [
        'circuit_breakers.hierarchical.groups.c.services',
        'got ["x","x"], expected no repeats (items 0 and 1 are the same)',
      ],
    ]);
  });
});
