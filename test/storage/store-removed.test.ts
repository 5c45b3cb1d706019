/**
 * An embedded store whose file is removed or replaced at its path while open (a temp cleaner, an
 * operator, a volume unmounted, another file moved in) keeps accepting writes into the file the
 * process holds open, which no restart finds. health() (`limit doctor`, GET /ready) now fails naming
 * the file, so a load balancer stops sending writes there; before, it said ok.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Storage } from 'limit-graph';
import { makeTrace } from 'limit-graph/testing';
import { KvStorage } from '../../plugins/storage-kv/kv-storage.ts';
import { SqliteStorage } from '../../plugins/storage-sqlite/sqlite-storage.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'limit-store-removed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BACKENDS = [
  {
    name: 'storage-sqlite', what: 'SQLite database',
    make: (where: string) => ({ store: new SqliteStorage({ file: path.join(where, 'limit.db'), synchronous: 'normal', busyTimeoutMs: 1000, maxRecordBytes: 1 << 20 }), file: path.join(where, 'limit.db') }),
  },
  {
    name: 'storage-kv', what: 'LMDB',
    make: (where: string) => ({ store: new KvStorage({ path: where, noSync: true, maxRecordBytes: 1 << 20 }), file: path.join(where, 'data.mdb') }),
  },
];

async function failingHealth(store: Storage, expected: string): Promise<void> {
  const health = await store.health();
  expect(health).toMatchObject({ status: 'fail', checks: [{ name: 'file', status: 'fail' }] });
  expect(health.message).toContain(expected);
  expect(health.message).toMatch(/every write it acknowledges is lost/);
}

describe('a store file removed or replaced while open', () => {
  for (const { name, what, make } of BACKENDS) {
    it(`${name}: health fails once the store's folder is removed`, async () => {
      const where = path.join(dir, `${name}-removed`);
      const { store, file } = make(where);
      await store.open();
      try {
        await store.createTrace(makeTrace('t', 'a', 's1'));
        expect((await store.health()).status).toBe('ok');
        rmSync(where, { recursive: true, force: true });
        await failingHealth(store, `${what} ${file} was removed while open`);
      } finally {
        await store.close();
      }
    });

    it(`${name}: health fails once another file stands at the path`, async () => {
      const where = path.join(dir, `${name}-replaced`);
      const { store, file } = make(where);
      await store.open();
      try {
        writeFileSync(`${file}.other`, 'another file');
        renameSync(`${file}.other`, file);
        await failingHealth(store, `${what} ${file} was replaced by another file while open`);
      } finally {
        await store.close();
      }
    });
  }
});
