import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KEYS_BY_OPTION, OPTION_KEYS } from './option-keys.js';

describe('OPTION_KEYS', () => {
  it('gives every file key once', () => {
    const keys = OPTION_KEYS.map((k) => k.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('spells each gateway option the way the gateway seed did, beside the proxy spelling', () => {
    expect(KEYS_BY_OPTION.get('timeoutMs')).toEqual(['timeout_ms', 'expected_response_time']);
    expect(KEYS_BY_OPTION.get('recoveryTimeoutMs')).toEqual(['recovery_timeout_ms', 'recovery_timeout']);
    expect(KEYS_BY_OPTION.get('metricsWindowMs')).toEqual(['metrics_window_ms', 'monitoring_period']);
    expect(KEYS_BY_OPTION.get('minimumRequests')).toEqual(['minimum_requests', 'volume_threshold']);
  });

  it('is the table the README documents, key for key', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const { key, option } of OPTION_KEYS) {
      expect(readme, key).toMatch(new RegExp(`^\\| \`${key}\`[^|]*\\|[^|]*\\| \`${option}\``, 'm'));
    }
    expect(readme).toMatch(/^\| `failure_status_codes`\s+\| proxy\s+\|/m);
  });
});
