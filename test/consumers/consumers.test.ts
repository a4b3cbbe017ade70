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

/** One value each package must export, by which the import is checked. */
const probes: Record<string, string> = {
  '@breakwater/core': 'CircuitBreaker',
  '@breakwater/express': 'circuitBreaker',
  '@breakwater/koa': 'circuitBreaker',
  '@breakwater/fastify': 'breakwater',
  '@breakwater/config': 'loadConfig',
  '@breakwater/redis': 'RedisStore',
};

describe.each(packages)('%s', (pkg) => {
  const probe = probes[pkg] ?? 'default';

  it('imports as ESM', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `import * as m from '${pkg}'; console.log(typeof m[${JSON.stringify(probe)}]);`],
      { cwd: here },
    );
    expect(stdout.trim()).toBe('function');
  });

  it('requires as CommonJS', async () => {
    const { stdout } = await run(
      process.execPath,
      ['-e', `const m = require('${pkg}'); console.log(typeof m[${JSON.stringify(probe)}]);`],
      { cwd: here },
    );
    expect(stdout.trim()).toBe('function');
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
