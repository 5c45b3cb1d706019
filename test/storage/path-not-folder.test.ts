/**
 * A store path that a file stands in the way of — the folder itself is a file, or a parent of it is —
 * is refused by every embedded backend with one message: LIMIT_STORAGE_UNAVAILABLE saying which
 * path is a file, not a folder (details.path), and the setting to change. Before, storage-kv said
 * "EEXIST: file already exists, mkdir", storage-file "ENOTDIR … schema.json", storage-sqlite "cannot
 * be created (EEXIST …)", none with details.path for the file; a folder given as the SQLite database
 * said "Cannot restrict … to mode 0600: EISDIR".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLimitError, type Storage } from 'limit-graph';
import { FileStorage } from '../../plugins/storage-file/file-storage.ts';
import { KvStorage } from '../../plugins/storage-kv/kv-storage.ts';
import { SqliteStorage } from '../../plugins/storage-sqlite/sqlite-storage.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'limit-path-not-folder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'a-file');
writeFileSync(file, 'not a store');

async function openError(storage: Storage): Promise<unknown> {
  return storage.open().then(async () => { await storage.close(); return undefined; }, (e: unknown) => e);
}

const BACKENDS = [
  { name: 'storage-kv', setting: 'path, LIMIT_KV_PATH', make: (p: string) => new KvStorage({ path: p, noSync: true, maxRecordBytes: 1 << 20 }) },
  { name: 'storage-file', setting: 'root, LIMIT_FILE_ROOT', make: (p: string) => new FileStorage({ root: p, fsync: false, maxRecordBytes: 1 << 20, staleLockMs: 30_000 }) },
  // The database's folder is the one that must be a folder.
  { name: 'storage-sqlite', setting: 'DATABASE_URL', make: (p: string) => new SqliteStorage({ file: path.join(p, 'limit.db'), synchronous: 'normal', busyTimeoutMs: 1000, maxRecordBytes: 1 << 20 }) },
];

describe('a store folder that is a file', () => {
  for (const { name, setting, make } of BACKENDS) {
    it.each([['the folder', file], ['a parent of the folder', path.join(file, 'below', 'store')]])(`${name}: %s is a file`, async (_, where) => {
      const error = await openError(make(where));
      expect(isLimitError(error, 'LIMIT_STORAGE_UNAVAILABLE')).toBe(true);
      const e = error as { message: string; details: Record<string, unknown>; fix: string; plugin: string };
      expect(e.message).toContain(`cannot be opened: ${file} is a file, not a folder`);
      expect(e.details).toMatchObject({ path: file });
      expect(e.fix).toContain(setting);
      expect(e.fix).toContain(`move the file ${file}`);
    });
  }

  it('storage-sqlite: a folder given as the database file', async () => {
    const folder = path.join(dir, 'a-folder');
    mkdirSync(folder);
    const error = await openError(new SqliteStorage({ file: folder, synchronous: 'normal', busyTimeoutMs: 1000, maxRecordBytes: 1 << 20 }));
    expect(isLimitError(error, 'LIMIT_STORAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe(`SQLite database ${folder} cannot be opened: it is a folder, not a file`);
    expect(error).toMatchObject({ details: { path: folder, code: 'EISDIR' }, fix: expect.stringContaining(path.join(folder, 'limit.db')) });
  });
});
