/** A temporary project folder for config and plugin-loading tests. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { isLimitError, type LimitError } from 'limit-graph';

/** The kernel by its absolute path, for plugin files written there (a temporary folder has no node_modules). */
export const KERNEL = path.resolve('kernel/index.ts');

/** A fresh folder per test (with `files` written into it), removed after it. */
export function tempProject(prefix: string, files: Record<string, string> = {}): { readonly dir: string; write(name: string, text: string): void } {
  let dir = '';
  const write = (name: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), prefix));
    for (const [name, text] of Object.entries(files)) write(name, text);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return { get dir() { return dir; }, write };
}

/** The LimitError a promise rejects with (a test failure if it resolves or throws anything else). */
export async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${error instanceof Error ? error.stack : String(error)}`);
  return error;
}
