import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and examples import the package by its public name, exactly as users do.
    alias: [
      { find: /^limit-graph\/testing$/, replacement: here('./test/conformance/index.ts') },
      { find: /^limit-graph\/plugins\/([a-z0-9-]+)$/, replacement: here('./plugins/$1/index.ts') },
      { find: /^limit-graph$/, replacement: here('./kernel/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'plugins/**/*.test.ts', 'kernel/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default on N cores is N - 1 workers: one on the 2-vCPU CI machine, where most
    // test files spend their time waiting on subprocesses, servers and timers. Two workers halve
    // CI time there; VITEST_MAX_WORKERS still overrides.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
