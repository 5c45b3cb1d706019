/**
 * kernel/builtin-plugin-types.ts names every built-in plugin, so that a project importing only
 * `limit-graph` gets each one's typed config entry and services (see that file): a plugin added to
 * plugins/ without a line there would be untyped in users' configs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

it('names every built-in plugin folder, once', () => {
  const folders = readdirSync(`${root}plugins`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const text = readFileSync(`${root}kernel/builtin-plugin-types.ts`, 'utf8');
  const named = [...text.matchAll(/^export type \{\} from '\.\.\/plugins\/([^/]+)\/index\.ts';$/gm)].map((m) => m[1]!);
  expect(named).toEqual(folders);
  // Types only: no line of it survives in the JavaScript (the kernel loads plugins by name, at run time).
  expect(text.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').filter((l) => l.trim() && !l.startsWith('export type {} from'))).toEqual([]);
});
