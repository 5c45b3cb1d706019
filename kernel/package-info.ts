/**
 * This package's own package.json, found by walking up from this module to the nearest package.json
 * named `limit-graph`. The same code works from kernel/ in a checkout and from dist/kernel/ in a
 * build or an installed copy (dist/ has no package.json of its own), so no caller hard-codes how
 * many folders lie between its file and the package root.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'limit-graph';

let found: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  if (found) return found;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    let manifest: { name?: unknown; version?: unknown } | undefined;
    try {
      manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as typeof manifest;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (manifest?.name === NAME && typeof manifest.version === 'string') return (found = { root: dir, version: manifest.version });
    if (path.dirname(dir) === dir) throw new Error(`No package.json named "${NAME}" above ${start}: the installation is incomplete`);
  }
}

/** The version in this package's package.json. */
export function packageVersion(): string {
  return find().version;
}

/** The folder holding this package's package.json (the checkout or the installed package, never dist/). */
export function packageRoot(): string {
  return find().root;
}
