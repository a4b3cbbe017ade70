import type { JsonSchema } from './json-schema.js';
import { FAILURE_STATUS_CODES_KEY, failureStatusCodesSchema, OPTION_KEYS } from './option-keys.js';

const MAX_TIMER_MS = 2_147_483_647;

const breakerKeys: Record<string, JsonSchema> = Object.fromEntries(OPTION_KEYS.map(({ key, schema }) => [key, schema]));
breakerKeys[FAILURE_STATUS_CODES_KEY] = failureStatusCodesSchema;

const name: JsonSchema = { type: 'string', minLength: 1 };

/** The strategies a file can name; `custom` needs a function, so it is given in code. */
export const FILE_STRATEGIES = ['cache', 'default', 'alternative_service'] as const;

const fallback: JsonSchema = {
  description:
    'What to answer instead of the 503 while the circuit is open (and when timeout_ms fires before anything was sent).',
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: {
      description: 'false turns the fallback off: the structured 503 is sent.',
      type: 'boolean',
      default: true,
    },
    strategy: {
      description:
        'cache: the last successful response; default: a fixed response; alternative_service: forward to a backup service. ' +
        'A custom handler is given in code, not in the file.',
      enum: [...FILE_STRATEGIES],
    },
    cache_key: {
      description:
        'strategy cache: one fixed key, so the last successful response of any request is served. Default: one entry per method and URL.',
      ...name,
    },
    ttl_ms: {
      description: 'strategy cache: the oldest cached response that may be served, in milliseconds.',
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_TIMER_MS,
      default: 300_000,
    },
    default_response: {
      description:
        'strategy default: the body to send as JSON with status 200, or a mapping of only status, headers and body.',
    },
    alternative_service: {
      description: 'strategy alternative_service: the backup base URL, or the name of an entry under upstreams.',
      ...name,
    },
    timeout_ms: {
      description: 'Longest the fallback may take, in milliseconds, before the 503 is sent instead.',
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_TIMER_MS,
      default: 5_000,
    },
  },
  if: { properties: { enabled: { const: false } }, required: ['enabled'] },
  else: {
    required: ['strategy'],
    allOf: [
      {
        if: { properties: { strategy: { const: 'default' } }, required: ['strategy'] },
        // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
        then: { required: ['default_response'] },
      },
      {
        if: { properties: { strategy: { const: 'alternative_service' } }, required: ['strategy'] },
        // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
        then: { required: ['alternative_service'] },
      },
    ],
  },
};

const group: JsonSchema = {
  description: 'Breakers that open together: while more than group_threshold of them are OPEN, every one rejects.',
  type: 'object',
  additionalProperties: false,
  required: ['services'],
  properties: {
    services: {
      description: 'Names of the member breakers; they need not be listed under services.',
      type: 'array',
      items: name,
      minItems: 1,
      uniqueItems: true,
    },
    group_threshold: {
      description: 'Share of members (0 to below 1) that may be OPEN before the whole group rejects.',
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.5,
    },
  },
};

/**
 * The JSON Schema (draft-07) of a configuration file: `loadConfig` validates with it, and
 * `breakwater schema` prints it for editors (e.g. `# yaml-language-server: $schema=…`).
 */
export const configSchema: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Breakwater circuit breaker configuration',
  description: 'Circuit breakers for @breakwater/config: defaults, per-service options and fallbacks, groups.',
  type: 'object',
  additionalProperties: false,
  required: ['circuit_breakers'],
  properties: {
    $schema: { description: 'The schema editors validate this file against.', type: 'string' },
    circuit_breakers: {
      type: 'object',
      additionalProperties: false,
      properties: {
        default: {
          description: 'Options every breaker starts from, including breakers created later by name.',
          type: ['object', 'null'],
          additionalProperties: false,
          properties: breakerKeys,
        },
        services: {
          description: 'Options per breaker name; a service key overrides the same option in default.',
          type: ['object', 'null'],
          propertyNames: name,
          additionalProperties: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { ...breakerKeys, fallback },
          },
        },
        hierarchical: {
          description: 'Hierarchical breaking: groups of breakers that open together.',
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            enabled: { description: 'false ignores the groups.', type: 'boolean', default: true },
            groups: { type: ['object', 'null'], propertyNames: name, additionalProperties: group },
          },
        },
      },
    },
    upstreams: {
      description: 'Base URLs by name, for fallback.alternative_service to name.',
      type: ['object', 'null'],
      propertyNames: name,
      additionalProperties: { description: 'An http(s) base URL.', type: 'string', pattern: '^https?://\\S+$' },
    },
  },
  patternProperties: {
    '^x-': { description: 'Ignored: a place for YAML anchors to share between services.' },
  },
};
