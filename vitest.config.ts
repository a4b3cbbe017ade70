import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages', import.meta.url));

// Tests run against source: each @breakwater/<pkg> resolves to its src/index.ts.
const alias = readdirSync(packagesDir)
  .filter((name) => existsSync(`${packagesDir}/${name}/src/index.ts`))
  .map((name) => ({ find: new RegExp(`^@breakwater/${name}$`), replacement: `${packagesDir}/${name}/src/index.ts` }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
