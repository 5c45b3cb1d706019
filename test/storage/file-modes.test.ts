/** Storage backends keep every tenant's data private to the server's uid (mode 0600 files, 0700 folders). */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../plugins/storage-sqlite/index.ts';
import { FileStorage } from '../../plugins/storage-file/index.ts';
import { KvStorage } from '../../plugins/storage-kv/index.ts';

const mode = (p: string) => statSync(p).mode & 0o777;
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('storage file modes', () => {
  it('sqlite: limit.db, -wal and -shm are 0600 in a traversable folder, and an existing 0644 file is tightened', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-modes-'));
    chmodSync(dir, 0o755);
    const file = path.join(dir, 'limit.db');
    const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
    await s.open();
    expect(existsSync(`${file}-wal`)).toBe(true);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f).toString(8), f).toBe('600');
    expect(mode(dir).toString(8)).toBe('755');
    await s.close();
    chmodSync(file, 0o644);
    writeFileSync(`${file}-wal`, '');
    chmodSync(`${file}-wal`, 0o644);
    const again = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
    await again.open();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f).toString(8), f).toBe('600');
    await again.close();
  });

  it('file: the store folder is 0700 (also when it existed) and its files 0600', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-modes-'));
    const root = path.join(dir, 'store');
    const s = new FileStorage({ root, fsync: false, maxRecordBytes: 1 << 20, staleLockMs: 30_000 });
    await s.open();
    expect(mode(root).toString(8)).toBe('700');
    expect(mode(path.join(root, 'schema.json')).toString(8)).toBe('600');
    await s.close();
    chmodSync(root, 0o755);
    const again = new FileStorage({ root, fsync: false, maxRecordBytes: 1 << 20, staleLockMs: 30_000 });
    await again.open();
    expect(mode(root).toString(8)).toBe('700');
    await again.close();
  });

  it('kv: the LMDB folder is 0700 (also when it existed)', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-modes-'));
    const p = path.join(dir, 'kv');
    const s = new KvStorage({ path: p, noSync: true, maxRecordBytes: 1 << 20 });
    await s.open();
    expect(mode(p).toString(8)).toBe('700');
    await s.close();
    chmodSync(p, 0o755);
    const again = new KvStorage({ path: p, noSync: true, maxRecordBytes: 1 << 20 });
    await again.open();
    expect(mode(p).toString(8)).toBe('700');
    await again.close();
  });
});
