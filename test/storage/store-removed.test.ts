/**
 * An embedded store whose file is removed or replaced at its path while open (a temp cleaner, an
 * operator, a volume unmounted, another file moved in) would keep accepting writes into the file the
 * process holds open, which no restart finds: every acknowledged write lost. Writes are now refused
 * (LIMIT_STORAGE_UNAVAILABLE, nothing written), reads go on from the open file, and health()
 * (`limit doctor`, GET /ready) fails naming the file. Before, writes succeeded and only health failed.
 */
import { mkdirSync, renameSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLimitError, type Storage } from 'limit-graph';
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
  expect(health.message).toMatch(/writes are refused/);
}

async function refused(write: Promise<unknown>, expected: string): Promise<void> {
  const error = await write.then(() => undefined, (e: unknown) => e);
  expect(isLimitError(error, 'LIMIT_STORAGE_UNAVAILABLE'), String(error)).toBe(true);
  expect((error as Error).message).toContain(`${expected}: writes are refused`);
}

/** Every kind of write path: a single write, several in one group commit / LMDB batch, a batch. */
async function writesRefused(store: Storage, expected: string): Promise<void> {
  await refused(store.createTrace(makeTrace('t', 'b', 's1')), expected);
  await Promise.all([
    refused(store.createTrace(makeTrace('t', 'c', 's1')), expected),
    refused(store.incrementCounters('t', { traces: 1 }), expected),
  ]);
  await refused(store.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'd', 's1') }]), expected);
  // Nothing was written; what was there still reads from the open file.
  for (const id of ['b', 'c', 'd']) expect(await store.getTrace('t', id)).toBeNull();
  expect(await store.getCounters('t')).not.toMatchObject({ traces: 1 });
  expect((await store.getTrace('t', 'a'))?.id).toBe('a');
  expect((await store.listTraces('t')).items.map((t) => t.id)).toEqual(['a']);
}

describe('a store file removed or replaced while open', () => {
  for (const { name, what, make } of BACKENDS) {
    it(`${name}: writes are refused and health fails once the store's folder is removed`, async () => {
      const where = path.join(dir, `${name}-folder`);
      const { store, file } = make(where);
      await store.open();
      try {
        await store.createTrace(makeTrace('t', 'a', 's1'));
        expect((await store.health()).status).toBe('ok');
        rmSync(where, { recursive: true, force: true });
        await writesRefused(store, `${what} ${file} was removed while open`);
        await failingHealth(store, `${what} ${file} was removed while open`);
      } finally {
        await store.close();
      }
    });

    it(`${name}: writes are refused once the file alone is removed`, async () => {
      const where = path.join(dir, `${name}-file`);
      const { store, file } = make(where);
      await store.open();
      try {
        await store.createTrace(makeTrace('t', 'a', 's1'));
        rmSync(file);
        await writesRefused(store, `${what} ${file} was removed while open`);
        await failingHealth(store, `${what} ${file} was removed while open`);
      } finally {
        await store.close();
      }
    });

    it(`${name}: writes are refused and health fails once another file stands at the path`, async () => {
      const where = path.join(dir, `${name}-replaced`);
      const { store, file } = make(where);
      await store.open();
      try {
        await store.createTrace(makeTrace('t', 'a', 's1'));
        writeFileSync(`${file}.other`, 'another file');
        renameSync(`${file}.other`, file);
        await writesRefused(store, `${what} ${file} was replaced by another file while open`);
        await failingHealth(store, `${what} ${file} was replaced by another file while open`);
      } finally {
        await store.close();
      }
    });

    it(`${name}: writes resume once the file is back at its path; the refused ones were never stored`, async () => {
      const where = path.join(dir, `${name}-moved`);
      const aside = path.join(dir, `${name}-aside`);
      const { store, file } = make(where);
      await store.open();
      try {
        await store.createTrace(makeTrace('t', 'a', 's1'));
        mkdirSync(aside);
        renameSync(where, path.join(aside, 'store'));
        await writesRefused(store, `${what} ${file} was removed while open`);
        renameSync(path.join(aside, 'store'), where);
        expect((await store.health()).status).toBe('ok');
        await store.createTrace(makeTrace('t', 'e', 's1'));
      } finally {
        await store.close();
      }
      const reopened = make(where).store;
      await reopened.open();
      try {
        expect((await reopened.listTraces('t')).items.map((t) => t.id).sort()).toEqual(['a', 'e']);
      } finally {
        await reopened.close();
      }
    });
  }
});
