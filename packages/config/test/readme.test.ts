import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectConfig } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const yamlBlocks = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((match) => {
  const line = readme.slice(0, match.index).split('\n').length;
  return { line, text: match[1] ?? '' };
});

describe('the README', () => {
  it('has YAML examples to check', () => {
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(yamlBlocks.map((block) => [block.line, block.text]))('loads the YAML block at line %i', (_line, text) => {
    expect(inspectConfig(text, { env: {} })).toMatchObject({ ok: true });
  });

  it('sends the quick start fallback as a body with status 200', () => {
    const quickStart = yamlBlocks[0]?.text ?? '';
    const result = inspectConfig(quickStart, { env: {} });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config.services['payment-service']?.fallback).toEqual({
      strategy: 'default',
      response: { body: { status: 'queued' } },
    });
  });
});
