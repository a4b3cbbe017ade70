import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '@breakwater/core';
import type { FastifyPluginAsync } from 'fastify';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyBreakerOptions } from '../src/index.js';
import breakwaterDefault, { breakwater } from '../src/index.js';
import { frameworks } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Registers `plugin` as given and checks that it protects a route. */
async function protects(fastify: (typeof frameworks)[number][1], plugin: unknown): Promise<number[]> {
  const app = fastify();
  try {
    await app.register(plugin as FastifyPluginAsync<FastifyBreakerOptions>, {
      registry: new Registry(),
      failureThreshold: 1,
    });
    app.get('/x', async (_request, reply) => reply.code(500).send('x'));
    return [(await app.inject('/x')).statusCode, (await app.inject('/x')).statusCode];
  } finally {
    await app.close();
  }
}

describe('exports', () => {
  it('exports the plugin as default and as `breakwater`', () => {
    expect(breakwaterDefault).toBe(breakwater);
    expect(typeof breakwater).toBe('function');
  });

  it('is marked with fastify-plugin metadata, so its hooks apply outside its own scope', () => {
    const meta = (breakwater as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: '@breakwater/fastify', fastify: '>=4.23.0 <6.0.0' });
    expect((breakwater as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')]).toBe(true);
  });

  describe('as CommonJS (the source compiled by tsup to CJS)', () => {
    let outDir: string;
    let required: Record<string, unknown> & { default?: unknown; breakwater?: unknown };

    beforeAll(async () => {
      outDir = mkdtempSync(join(packageDir, 'node_modules', '.cjs-test-'));
      await build({
        entry: { index: join(packageDir, 'src/index.ts') },
        format: ['cjs'],
        outDir,
        dts: false,
        silent: true,
        config: false,
        external: ['@breakwater/core', 'fastify-plugin', 'lru-cache'],
      });
      required = createRequire(import.meta.url)(join(outDir, 'index.cjs'));
    }, 30_000);

    afterAll(() => {
      if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
    });

    it('exposes `breakwater` and `default` as the same function', () => {
      expect(typeof required.breakwater).toBe('function');
      expect(required.default).toBe(required.breakwater);
    });

    it.each(frameworks)('registers on %s as require(...), .default and .breakwater', async (_label, fastify) => {
      expect(await protects(fastify, required)).toEqual([500, 503]);
      expect(await protects(fastify, required.default)).toEqual([500, 503]);
      expect(await protects(fastify, required.breakwater)).toEqual([500, 503]);
    });
  });
});
