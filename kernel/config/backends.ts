/**
 * The built-in storage backends and the shape of a backend name, shared by the config schema (the
 * `storage` field, which STORAGE_BACKEND sets), the loader and plugin resolution, so that every
 * message lists the same backends. The list is read from the built-in plugins' folders
 * (plugins/storage-<name>/), never repeated by hand.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
// load.ts imports schema.ts, which imports this module: PACKAGE_ROOT is read only when called.
import { PACKAGE_ROOT } from './load.ts';
import { nearestName } from './issues.ts';

/** A backend name as `storage` and STORAGE_BACKEND take it: `sqlite`, `my-store` (selects `storage-<name>`). */
export const BACKEND_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** The entry file of the built-in plugin `name` (plugins/<name>/index.ts, or .js in a build), if there is one. */
export function builtinFile(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  return ['index.ts', 'index.js'].map((f) => path.join(PACKAGE_ROOT, 'plugins', name, f)).find((f) => existsSync(f));
}

/** The built-in storage backends (`sqlite` for plugins/storage-sqlite/), sorted. */
export function builtinBackends(): string[] {
  const dir = path.join(PACKAGE_ROOT, 'plugins');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith('storage-') && builtinFile(f)).map((f) => f.slice('storage-'.length)).sort();
}

/**
 * Why `value` is not a backend name, or undefined when it is one. The value is quoted as given and
 * never normalised: one that is a built-in backend but for case or surrounding whitespace
 * (`SQLite`, ` sqlite `), or close to one (`SQLit`), is refused with "did you mean 'sqlite'?"
 * (nearestName, the config's one "did you mean").
 */
export function backendNameProblem(value: string): string | undefined {
  if (BACKEND_NAME.test(value)) return undefined;
  const backends = builtinBackends();
  const list = `the built-in backends are ${backends.join(', ')}`;
  const near = nearestName(value, backends);
  if (near) return `${JSON.stringify(value)} is not a backend name: names are lowercase, without spaces (did you mean '${near}'?); ${list}`;
  return `${JSON.stringify(value)} is not a backend name such as "sqlite" (storage takes a name, never a path): a backend of your own (a plugin named storage-<name>) is listed by its path in plugins or in use, and selected by <name>; ${list}`;
}
