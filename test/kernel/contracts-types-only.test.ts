/**
 * kernel/index.ts re-exports the contracts with `export type *`: a value declared in
 * kernel/contracts/ (a const, a function, a class, an enum) would type-check where a plugin imports
 * it from `limit-graph` and be undefined at run time. Values belong in a kernel module exported by value
 * (storage-helpers.ts, runner-helpers.ts, …); the contracts hold types only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../kernel/contracts/', import.meta.url));

it('kernel/contracts declares types only (its values would be lost behind `export type *`)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  expect(files).toContain('storage.ts');
  const values = files.flatMap((f) =>
    [...readFileSync(`${dir}${f}`, 'utf8').matchAll(/^export\s+(?:declare\s+)?(?:async\s+)?(const|let|var|function|class|enum|default)\b\s*(\w*)/gm)].map((m) => `kernel/contracts/${f}: ${m[1]} ${m[2]}`),
  );
  expect(values).toEqual([]);
});
