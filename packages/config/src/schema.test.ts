import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { JsonSchema } from './json-schema.js';
import { OPTION_KEYS } from './option-keys.js';
import { configSchema } from './schema.js';

const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8');

describe('configSchema', () => {
  it('is a draft-07 JSON Schema that a stock validator compiles in strict mode', () => {
    const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true });
    expect(ajv.validateSchema(configSchema)).toBe(true);
    expect(() => ajv.compile(configSchema)).not.toThrow();
  });

  it('accepts both seed files as an editor would check them', () => {
    const validate = new Ajv({ strictRequired: false, allowUnionTypes: true }).compile(configSchema);
    expect(validate(parse(fixture('proxy-seed.yaml')))).toBe(true);
    expect(validate(parse(fixture('gateway-seed.yaml')))).toBe(true);
  });

  it('describes every breaker key, with the default where there is one', () => {
    const services = configSchema.properties?.circuit_breakers?.properties?.services
      ?.additionalProperties as JsonSchema;
    for (const { key } of OPTION_KEYS) {
      expect(services.properties?.[key]?.description, key).toBeTruthy();
    }
    expect(services.properties?.recovery_timeout_ms?.default).toBe(30000);
    expect(services.properties?.fallback?.properties?.strategy?.enum).toEqual([
      'cache',
      'default',
      'alternative_service',
    ]);
  });

  it('survives a JSON round trip unchanged, as `breakwater schema` prints it', () => {
    expect(JSON.parse(JSON.stringify(configSchema))).toEqual(configSchema);
  });
});
