import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Smoke tests of the BUILT packages, imported every way users import them: ESM, CommonJS and
// TypeScript (node16 resolution). `pnpm test` builds before it runs these.
const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const packages = Object.keys(manifest.dependencies);

/** The values each package must export (its public surface, as the SPEC and READMEs name it), and their kind. */
const surface: Record<string, Record<string, 'function' | 'object'>> = {
  '@breakwater/core': {
    CircuitBreaker: 'function',
    CircuitState: 'object',
    Permit: 'function',
    Registry: 'function',
    defaultRegistry: 'object',
    BreakerGroup: 'function',
    CircuitOpenError: 'function',
    CircuitTimeoutError: 'function',
    isCircuitOpenError: 'function',
    isCircuitTimeoutError: 'function',
    presets: 'object',
    withCircuitBreaker: 'function',
    circuitBreaker: 'function',
    createProtectedFetch: 'function',
    healthResponder: 'function',
  },
  '@breakwater/express': { circuitBreaker: 'function', healthHandler: 'function' },
  '@breakwater/koa': { circuitBreaker: 'function', healthHandler: 'function' },
  '@breakwater/fastify': { breakwater: 'function', default: 'function' },
  '@breakwater/config': {
    loadConfig: 'function',
    parseConfig: 'function',
    createRegistry: 'function',
    ConfigError: 'function',
    configSchema: 'object',
  },
  '@breakwater/redis': { RedisStore: 'function', RedisCacheStore: 'function' },
};

/** The kind of each name of `pkg`'s surface, read from `module` in a child process. */
const kinds = (pkg: string) =>
  `Object.fromEntries(${JSON.stringify(Object.keys(surface[pkg] ?? {}))}.map((name) => [name, typeof m[name]]))`;

describe.each(packages)('%s', (pkg) => {
  it('imports as ESM, with its whole public surface', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `import * as m from '${pkg}'; console.log(JSON.stringify(${kinds(pkg)}));`],
      { cwd: here },
    );
    expect(JSON.parse(stdout)).toEqual(surface[pkg]);
  });

  it('requires as CommonJS, with its whole public surface', async () => {
    const { stdout } = await run(
      process.execPath,
      ['-e', `const m = require('${pkg}'); console.log(JSON.stringify(${kinds(pkg)}));`],
      { cwd: here },
    );
    expect(JSON.parse(stdout)).toEqual(surface[pkg]);
  });
});

describe('the breakwater CLI, as installed', () => {
  it("runs the package's bin, which starts with a node shebang, and checks a config file", async () => {
    // What npm links into node_modules/.bin (pnpm links it only if it was built before install).
    const installed = new URL('./node_modules/@breakwater/config/', import.meta.url);
    const { bin } = JSON.parse(readFileSync(new URL('package.json', installed), 'utf8')) as {
      bin: { breakwater: string };
    };
    const cli = fileURLToPath(new URL(bin.breakwater, installed));
    expect(readFileSync(cli, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const { stdout } = await run(process.execPath, [cli, '--version'], { cwd: here });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const failure = await run(process.execPath, [cli, 'validate', 'missing.yaml'], { cwd: here }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/missing\.yaml/);
  });
});

describe('@breakwater/core loaded as ESM and as CommonJS in one process', () => {
  it('shares one defaultRegistry between the two builds', async () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "import * as esm from '@breakwater/core';",
      "const cjs = createRequire(import.meta.url)('@breakwater/core');",
      "esm.defaultRegistry.getOrCreate('made-by-esm');",
      "cjs.defaultRegistry.getOrCreate('made-by-cjs');",
      'console.log(JSON.stringify({',
      '  twoBuilds: esm.Registry !== cjs.Registry,',
      '  same: esm.defaultRegistry === cjs.defaultRegistry,',
      "  seenByCjs: cjs.defaultRegistry.get('made-by-esm') !== undefined,",
      '  names: esm.defaultRegistry.names(),',
      '}));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: here });
    expect(JSON.parse(stdout)).toEqual({
      twoBuilds: true,
      same: true,
      seenByCjs: true,
      names: ['made-by-esm', 'made-by-cjs'],
    });
  });
});

describe('TypeScript consumers', () => {
  it('type-checks imports with node16 module resolution, as ESM and as CommonJS', async () => {
    const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: here })).resolves.toBeDefined();
  }, 60_000);
});
