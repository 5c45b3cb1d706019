import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { MAX_FLAGS_PER_TRACE, createRuntime, flagsBytes, type Storage } from 'limit-graph';
import { makeFlag, makeProvenance, makeSession, makeTrace, storageConformance, type StorageFixture } from 'limit-graph/testing';
import storageSqlite, { SqliteStorage, sqlitePathFromUrl } from '../../plugins/storage-sqlite/index.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../plugins/storage-sqlite/migrations.ts';
import { expectFlagLimitHolds, manyFlags } from '../helpers/storage-backend.ts';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'limit-sqlite-'));
}

/** Overwrites fields of a stored entry with a second connection, as someone with the file would. */
function tamperFile(file: string) {
  return async (tenant: string, traceId: string, seq: number, patch: Record<string, unknown>) => {
    const db = new Database(file);
    try {
      const row = db.prepare('SELECT data FROM provenance WHERE tenant = ? AND trace_id = ? AND seq = ?').get(tenant, traceId, seq) as { data: string };
      // A new hash goes where the store keeps it: the entry and its hash column.
      db.prepare('UPDATE provenance SET data = ?, hash = coalesce(?, hash) WHERE tenant = ? AND trace_id = ? AND seq = ?')
        .run(JSON.stringify({ ...JSON.parse(row.data), ...patch }), (patch.hash as string | undefined) ?? null, tenant, traceId, seq);
    } finally {
      db.close();
    }
  };
}

const open = async (file: string): Promise<Storage> => {
  const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 4 * 1024 * 1024 });
  await s.open();
  return s;
};

storageConformance('storage-sqlite (file)', async (): Promise<StorageFixture> => {
  const dir = tempDir();
  const file = path.join(dir, 'limit.db');
  return {
    storage: await open(file),
    reopen: () => open(file),
    tamper: tamperFile(file),
    // As entries stored before migration 4 (no chain_bytes).
    forgetProvenanceTotals: async (tenant, traceId) => {
      const db = new Database(file);
      try {
        db.prepare('UPDATE provenance SET chain_bytes = NULL WHERE tenant = ? AND trace_id = ?').run(tenant, traceId);
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}, { supports: { multiProcess: true, crashSafe: true, transactions: true } });

storageConformance('storage-sqlite (:memory: through the plugin)', async (): Promise<StorageFixture> => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [storageSqlite.configure({ path: ':memory:' })], env: {} });
  return { storage: rt.resolve('storage'), cleanup: async () => void (await rt.close()) };
}, { paginationRows: 2500 });

describe('storage-sqlite plugin', () => {
  it('is selected by storage: "sqlite", opens in boot, reports health and closes on dispose', async () => {
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', dataDir: dir, plugins: {} }, env: {} });
      const storage = rt.resolve('storage') as SqliteStorage;
      expect(storage.backend).toBe('sqlite');
      expect(storage.file).toBe(path.join(dir, 'limit.db'));
      expect(await storage.schemaVersion()).toBe(SCHEMA_VERSION);
      const [health] = await rt.health();
      expect(health).toMatchObject({ plugin: 'storage-sqlite', status: 'ok' });
      const db = new Database(storage.file, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
      expect(indexes).toEqual(expect.arrayContaining(['traces_by_session', 'traces_by_status', 'flags_by_kind']));
      expect(db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all()).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      db.close();
      await rt.close();
      await expect(storage.getTrace('t', 'x')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the path from DATABASE_URL (sqlite:// and file:) and refuses other URLs', async () => {
    expect(sqlitePathFromUrl('sqlite://data/x.db')).toBe('data/x.db');
    expect(sqlitePathFromUrl('sqlite:///tmp/x.db')).toBe('/tmp/x.db');
    expect(sqlitePathFromUrl('file:/tmp/y.db?mode=rwc')).toBe('/tmp/y.db');
    expect(sqlitePathFromUrl('sqlite::memory:')).toBe(':memory:');
    // Its credentials are not repeated: the password (an unencoded @ in it too) and ?password= / ?sslpassword=.
    expect(() => sqlitePathFromUrl('postgres://u:sec@ret@h/db')).toThrow(/cannot use the URL "postgres:\/\/u:\*\*\*@h\/db"/);
    expect(() => sqlitePathFromUrl('postgres://h/db?user=u&password=secret&sslpassword=s2')).toThrow(/cannot use the URL "postgres:\/\/h\/db\?user=u&password=\*\*\*&sslpassword=\*\*\*"/);
    const dir = tempDir();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', plugins: {} }, env: { DATABASE_URL: `sqlite://${dir}/env.db` } });
      expect((rt.resolve('storage') as SqliteStorage).file).toBe(path.join(dir, 'env.db'));
      await rt.close();
      await expect(createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', plugins: {} }, env: { DATABASE_URL: 'postgres://h/db' } })).rejects.toMatchObject({
        code: 'LIMIT_PLUGIN_OPTIONS_INVALID',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a URL that is not sqlite:// or file: while validating the config, naming the file and key (or the env variable)', async () => {
    const dir = tempDir();
    try {
      writeFileSync(path.join(dir, 'limit.config.ts'), `export default { logLevel: 'silent', storage: 'sqlite', dataDir: ${JSON.stringify(dir)}, plugins: { 'storage-sqlite': { url: 'postgres://u:secret@h/db' } } };`);
      const fromFile = await createRuntime({ cwd: dir, env: {} }).then(() => null, (e: unknown) => e as Error & { code: string });
      expect(fromFile).toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
      expect(fromFile!.message).toContain('limit.config.ts › plugins.storage-sqlite.url: Expected sqlite://<path> or file:<path>');
      expect(fromFile!.message).not.toContain('secret');
      const fromEnv = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', dataDir: dir, plugins: {} }, env: { DATABASE_URL: 'postgres://u:secret@h/db' } })
        .then(() => null, (e: unknown) => e as Error & { code: string });
      expect(fromEnv).toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
      expect(fromEnv!.message).toMatch(/plugins\.storage-sqlite\.url: Expected sqlite:\/\/<path>.*DATABASE_URL/s);
      expect(fromEnv!.message).not.toContain('secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a query parameter it does not honour, naming it and where it was set; mode=rwc (what it does anyway) is accepted', async () => {
    // Before: the query string was dropped, so "file:x.db?mode=ro" opened (and migrated) the file
    // read-write, and "sqlite:x.db?cache=shared" or a typo was ignored without a word.
    const dir = tempDir();
    try {
      for (const [url, problem] of [
        [`file:${dir}/x.db?mode=ro`, 'Query parameter mode=ro is not supported'],
        [`sqlite:${dir}/x.db?cache=shared`, 'Query parameter "cache" is not supported'],
        [`sqlite://${dir}/x.db?mode=rwc&mdoe=rwc`, 'Query parameter "mdoe" is not supported'],
        [`file:${dir}/x.db?mode=rw`, 'Query parameter mode=rw is not supported'],
      ] as const) {
        const error = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', dataDir: dir, plugins: {} }, env: { DATABASE_URL: url } })
          .then(async (rt) => (await rt.close(), null), (e: unknown) => e as Error & { code: string });
        expect(error).toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
        expect(error!.message).toContain(`DATABASE_URL › plugins.storage-sqlite.url: ${problem}`);
        expect(error!.message).toContain('the only one accepted is mode=rwc');
        expect(() => sqlitePathFromUrl(url)).toThrow(problem);
      }
      writeFileSync(path.join(dir, 'limit.config.ts'), `export default { logLevel: 'silent', storage: 'sqlite', dataDir: ${JSON.stringify(dir)}, plugins: { 'storage-sqlite': { url: 'file:x.db?mode=ro' } } };`);
      const fromFile = await createRuntime({ cwd: dir, env: {} }).then(async (rt) => (await rt.close(), null), (e: unknown) => e as Error & { code: string });
      expect(fromFile).toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
      expect(fromFile!.message).toContain('limit.config.ts › plugins.storage-sqlite.url: Query parameter mode=ro is not supported');
      expect(existsSync(path.join(dir, 'x.db'))).toBe(false);
      expect(sqlitePathFromUrl('file:/tmp/y.db?mode=rwc')).toBe('/tmp/y.db');
      expect(sqlitePathFromUrl('file:/tmp/y.db?')).toBe('/tmp/y.db');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a sqlite URL naming no file, or with a malformed %-escape, while validating the config, naming DATABASE_URL', async () => {
    // Before: "sqlite:///tmp/100%.db" failed the plugin's setup with a bare "URI malformed", and
    // "sqlite://" or "sqlite:?mode=ro" tried to open the root or the project folder as the database.
    const dir = tempDir();
    try {
      for (const [url, problem] of [
        ['sqlite:///tmp/100%.db', 'Expected a path with well-formed %-escapes (%XX, two hex digits); a "%" in the file name is written %25'],
        ['sqlite://', 'Expected a file after the scheme: sqlite://<relative path> or sqlite:///<absolute path>'],
        ['sqlite:?mode=ro', 'Expected a file after the scheme: sqlite://<relative path> or sqlite:///<absolute path>'],
        // Before: the fragment became part of the file name, and "x.db#frag" was created.
        [`sqlite:${dir}/x.db#frag`, 'A URL fragment ("#…") is not supported'],
        [`file://${dir}/x.db?mode=rwc#frag`, 'A URL fragment ("#…") is not supported'],
        [`sqlite:${dir}/x.db#`, 'A URL fragment ("#…") is not supported'],
      ] as const) {
        const error = await createRuntime({ config: { logLevel: 'silent', storage: 'sqlite', dataDir: dir, plugins: {} }, env: { DATABASE_URL: url } })
          .then(() => null, (e: unknown) => e as Error & { code: string });
        expect(error).toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
        expect(error!.message).toContain(`DATABASE_URL › plugins.storage-sqlite.url: ${problem}`);
        expect(() => sqlitePathFromUrl(url)).toThrow(problem);
      }
      expect(sqlitePathFromUrl('sqlite:///tmp/100%25%20x.db')).toBe('/tmp/100% x.db');
      expect(sqlitePathFromUrl('sqlite:///tmp/a%23b.db')).toBe('/tmp/a#b.db');
      expect(existsSync(path.join(dir, 'x.db#frag'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a database folder it cannot create as LIMIT_STORAGE_UNAVAILABLE naming what is in the way', async () => {
    const dir = tempDir();
    try {
      // A file where the folder should be: mkdir fails whoever runs the test (root included).
      writeFileSync(path.join(dir, 'blocker'), '');
      const folder = path.join(dir, 'blocker', 'sub');
      const s = new SqliteStorage({ file: path.join(folder, 'limit.db'), synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
      const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; details?: Record<string, unknown> });
      // The file in the way is named (test/storage/path-not-folder.test.ts has every backend's case).
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { path: path.join(dir, 'blocker') } });
      expect(error!.message).toBe(`SQLite database ${path.join(folder, 'limit.db')} cannot be opened: ${path.join(dir, 'blocker')} is a file, not a folder`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a file of version 1 in place: migration 2 counts the points each RD series already holds', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'v1.db');
      const points = [{ step: 3, rate: 1, distortion: 2 }, { step: 1, rate: 2, distortion: 1, meta: { note: 'é' } }];
      const series = { id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points, createdAt: new Date(1e12).toISOString(), metadata: {} };
      const first = await open(file);
      await first.createRdSeries(series);
      await first.createRdSeries({ ...series, id: 'rd2', points: [] });
      await first.close();
      // Back to what version 1 left: no totals on the series rows, no record of version 2.
      const db = new Database(file);
      db.exec('ALTER TABLE rd_series DROP COLUMN point_count; ALTER TABLE rd_series DROP COLUMN point_bytes; ALTER TABLE rd_series DROP COLUMN next_step; DELETE FROM schema_migrations WHERE version > 1');
      // Nor the flag totals of version 3.
      db.exec('ALTER TABLE traces DROP COLUMN flag_count; ALTER TABLE traces DROP COLUMN flag_bytes');
      // Nor the provenance totals of version 4.
      db.exec('ALTER TABLE provenance DROP COLUMN chain_bytes');
      db.close();
      const upgraded = await open(file);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        const { points: _p, ...rest } = series;
        const bytes = points.reduce((sum, p) => sum + Buffer.byteLength(JSON.stringify(p)), 0);
        expect(await upgraded.getRdSeriesSummary('t', 'rd1')).toEqual({ ...rest, pointCount: 2, pointBytes: bytes, nextStep: 4 });
        expect(await upgraded.getRdSeriesSummary('t', 'rd2')).toMatchObject({ pointCount: 0, pointBytes: 0, nextStep: 0 });
        expect(await upgraded.appendRdPoint('t', 'rd1', { step: 4, rate: 3, distortion: 0 })).toMatchObject({ pointCount: 3 });
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a file of version 2 in place: migration 3 counts and measures the flags each trace already holds', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'v2.db');
      const first = await open(file);
      await first.createTrace(makeTrace('t', 'full', 's1', 1e12, { flags: manyFlags('full', MAX_FLAGS_PER_TRACE) }));
      await first.createTrace(makeTrace('t', 'room', 's1', 1e12, { flags: manyFlags('room', MAX_FLAGS_PER_TRACE - 1) }));
      await first.createTrace(makeTrace('t', 'none', 's1', 1e12));
      await first.close();
      // Back to what version 2 left: no flag totals on the trace rows, no record of version 3.
      const db = new Database(file);
      db.exec('ALTER TABLE traces DROP COLUMN flag_count; ALTER TABLE traces DROP COLUMN flag_bytes; ALTER TABLE provenance DROP COLUMN chain_bytes; DELETE FROM schema_migrations WHERE version > 2');
      db.close();
      const upgraded = await open(file);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        const check = new Database(file, { readonly: true });
        const totals = check.prepare('SELECT id, flag_count AS count, flag_bytes AS bytes FROM traces ORDER BY id').all();
        check.close();
        expect(totals).toEqual([
          { id: 'full', count: MAX_FLAGS_PER_TRACE, bytes: flagsBytes(manyFlags('full', MAX_FLAGS_PER_TRACE)) },
          { id: 'none', count: 0, bytes: 0 },
          { id: 'room', count: MAX_FLAGS_PER_TRACE - 1, bytes: flagsBytes(manyFlags('room', MAX_FLAGS_PER_TRACE - 1)) },
        ]);
        await expectFlagLimitHolds(upgraded);
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a file of version 3 in place: an append onto a chain stored before migration 4 measures it from its rows', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'v3.db');
      const max = 4 * 1024 * 1024;
      const entry = (i: number, bytes: number) => makeProvenance('tr1', i, { data: 'x'.repeat(bytes) });
      const first = await open(file);
      await first.createTrace(makeTrace('t', 'tr1', 's1', 1e12));
      await first.appendProvenance('t', entry(0, Math.floor(max * 0.9)));
      await first.appendProvenance('t', entry(1, Math.floor(max * 0.9)));
      await first.close();
      // Back to what version 3 left: no chain_bytes on the entries, no record of version 4.
      const db = new Database(file);
      db.exec('ALTER TABLE provenance DROP COLUMN chain_bytes; DELETE FROM schema_migrations WHERE version > 3');
      db.close();
      const upgraded = await open(file);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        // 1.8 of the 2 × maxRecordBytes a client may fill are held: measured, a client's 0.3 more is refused.
        await expect(upgraded.appendProvenance('t', entry(2, Math.floor(max * 0.3)), { origin: 'client' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        await upgraded.appendProvenance('t', entry(2, Math.floor(max * 0.1)), { origin: 'client' });
        const check = new Database(file, { readonly: true });
        const rows = check.prepare('SELECT seq, chain_bytes AS bytes FROM provenance ORDER BY seq').all();
        check.close();
        const chain = await upgraded.listProvenance('t', 'tr1');
        const total = chain.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
        expect(rows).toEqual([{ seq: 0, bytes: null }, { seq: 1, bytes: null }, { seq: 2, bytes: total }]);
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a migration that fails leaves the file at its old version, whole, with an error naming the migration and that version', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'fail.db');
      const series = { id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points: [{ step: 0, rate: 1, distortion: 2 }], createdAt: new Date(1e12).toISOString(), metadata: {} };
      const first = await open(file);
      await first.createRdSeries(series);
      await first.close();
      // A version-1 file whose one point migration 2 cannot read.
      const db = new Database(file);
      db.exec('ALTER TABLE rd_series DROP COLUMN point_count; ALTER TABLE rd_series DROP COLUMN point_bytes; ALTER TABLE rd_series DROP COLUMN next_step; DELETE FROM schema_migrations WHERE version > 1');
      db.exec('ALTER TABLE traces DROP COLUMN flag_count; ALTER TABLE traces DROP COLUMN flag_bytes');
      // Nor the provenance totals of version 4.
      db.exec('ALTER TABLE provenance DROP COLUMN chain_bytes');
      const good = (db.prepare('SELECT data FROM rd_points').get() as { data: string }).data;
      db.prepare('UPDATE rd_points SET data = ?').run('{"step": 0, ');
      db.close();
      const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
      const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; details: unknown });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { file, migration: 2, migrationName: MIGRATIONS[1]!.name, schemaVersion: 1 } });
      expect(error!.message).toBe(`SQLite migration 2 ("${MIGRATIONS[1]!.name}") of ${file} failed: malformed JSON; the database was left at schema version 1`);
      await expect(s.createTrace(makeTrace('t', 'tr1', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      // Nothing of migrations 2 and 3 stayed: no version recorded, no column added.
      const check = new Database(file);
      expect(check.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 1 });
      expect(check.prepare("SELECT COUNT(*) AS n FROM pragma_table_info('rd_series') WHERE name = 'point_count'").get()).toEqual({ n: 0 });
      expect(check.prepare("SELECT COUNT(*) AS n FROM pragma_table_info('traces') WHERE name = 'flag_count'").get()).toEqual({ n: 0 });
      // Repaired, the same file upgrades.
      check.prepare('UPDATE rd_points SET data = ?').run(good);
      check.close();
      const upgraded = await open(file);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        expect(await upgraded.getRdSeriesSummary('t', 'rd1')).toMatchObject({ pointCount: 1, nextStep: 1 });
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies migrations once when several stores open the same file', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'm.db');
      const stores = await Promise.all([open(file), open(file), open(file)]);
      const db = new Database(file, { readonly: true });
      expect(db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: MIGRATIONS.length });
      db.close();
      for (const s of stores) await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses at open a file whose schema is newer than it knows, naming the file and both versions, and writes nothing', async () => {
    const dir = tempDir();
    try {
      for (const [i, sql] of [
        "INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01')",
        // A newer layout that replaced the earlier records: the highest recorded version counts.
        `DELETE FROM schema_migrations; INSERT INTO schema_migrations VALUES (${SCHEMA_VERSION + 1}, 'future', '2030-01-01')`,
      ].entries()) {
        const file = path.join(dir, `newer-${i}.db`);
        await (await open(file)).close();
        const db = new Database(file);
        db.exec(sql);
        db.close();
        const version = i === 0 ? 99 : SCHEMA_VERSION + 1;
        const before = readFileSync(file);
        const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
        const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schemaVersion: version, knownVersion: SCHEMA_VERSION } });
        expect(error!.message).toBe(`The SQLite database ${file} has schema version ${version}; this plugin knows up to ${SCHEMA_VERSION}`);
        expect(error!.fix).toMatch(/Upgrade limit-graph/);
        // The refused store stays closed: a write is refused, not put into the newer layout.
        await expect(s.createTrace(makeTrace('t', 'tr1', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
        expect(readFileSync(file).equals(before)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a damaged file', () => {
    /** A populated, checkpointed store whose middle 8 KiB are overwritten; the damaged copy's path. */
    const damagedStore = async (dir: string): Promise<string> => {
      const file = path.join(dir, 'damaged.db');
      const s = await open(file);
      const big = 'x'.repeat(2000);
      await s.batch('t', Array.from({ length: 200 }, (_, i) => ({ op: 'createTrace' as const, trace: makeTrace('t', `tr${i}`, 's1', 1_700_000_000_000 + i, { metadata: { big } }) })));
      await s.close(); // checkpoints the WAL into the file
      const bytes = readFileSync(file);
      bytes.fill(0x5a, bytes.length >> 1, (bytes.length >> 1) + 8192);
      writeFileSync(file, bytes);
      return file;
    };
    /** Ids of traces whose row lies in the damaged pages (a point read of them fails). */
    const damagedIds = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return Array.from({ length: 200 }, (_, i) => `tr${i}`).filter((id) => {
          try {
            db.prepare('SELECT data FROM traces WHERE tenant = ? AND id = ?').get('t', id);
            return false;
          } catch {
            return true;
          }
        });
      } finally {
        db.close();
      }
    };

    it('a record whose stored JSON does not parse is LIMIT_STORAGE_CORRUPT naming the file and the kind of record; the others stay readable', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'rows.db');
      try {
        const s = await open(file);
        await s.createSession(makeSession('t', 's1'));
        await s.createTrace(makeTrace('t', 'tr1', 's1'));
        await s.createTrace(makeTrace('t', 'tr2', 's1'));
        const db = new Database(file);
        db.prepare("UPDATE traces SET data = 'ZZZZ' WHERE id = 'tr2'").run();
        db.close();
        const corrupt = { name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file, record: 'trace' }, message: expect.stringContaining(`SQLite database ${file} holds a trace record that is not valid JSON`) };
        await expect(s.getTrace('t', 'tr2')).rejects.toMatchObject(corrupt);
        await expect(s.listTraces('t', {})).rejects.toMatchObject(corrupt);
        await expect(s.updateTrace('t', 'tr2', { status: 'error' })).rejects.toMatchObject(corrupt);
        expect((await s.getTrace('t', 'tr1'))!.id).toBe('tr1');
        expect((await s.getSession('t', 's1'))!.id).toBe('s1');
        await s.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a record that parses but is not a record (null, a number, an array; a flags column that is no array of flags) is LIMIT_STORAGE_CORRUPT naming the table and row, at every read; a bad row in a listing is named', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'shape.db');
      try {
        const s = await open(file);
        await s.createSession(makeSession('t', 's1'));
        await s.createSession(makeSession('t', 's2'));
        for (let i = 0; i < 50; i++) await s.createTrace(makeTrace('t', `tr${i}`, 's1', 1_700_000_000_000 + i));
        await s.addFlag('t', makeFlag('f1', 'tr3'));
        await s.addCheckpoint('t', { traceId: 'tr3', label: 'c', passed: true, details: {}, at: new Date(1_700_000_000_000).toISOString() });
        await s.setQuarantine('t', { traceId: 'tr3', quarantined: true, reason: 'r', actor: 'a', at: new Date(1_700_000_000_000).toISOString() });
        await s.appendProvenance('t', makeProvenance('tr3', 0));
        await s.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', createdAt: new Date(1_700_000_000_000).toISOString(), metadata: {}, points: [{ step: 0, rate: 1, distortion: 0 }] });
        await s.createRdSeries({ id: 'rd2', sessionId: 's1', tenant: 't', name: 'n', createdAt: new Date(1_700_000_000_000).toISOString(), metadata: {}, points: [{ step: 0, rate: 1, distortion: 0 }] });
        const db = new Database(file);
        db.exec(`UPDATE traces SET data = 'null' WHERE id = 'tr1';
          UPDATE traces SET flags = '{}' WHERE id = 'tr2';
          UPDATE traces SET data = substr(data, 1, 40) WHERE id = 'tr17';
          UPDATE sessions SET data = 'null' WHERE id = 's1';
          UPDATE flags SET data = '5' WHERE id = 'f1';
          UPDATE checkpoints SET data = '[]';
          UPDATE quarantine SET data = '"x"';
          UPDATE provenance SET data = 'null';
          UPDATE rd_series SET data = 'null' WHERE id = 'rd1';
          UPDATE rd_points SET data = 'true' WHERE series_id = 'rd2';`);
        db.close();
        const damage = async (read: Promise<unknown>, record: string, table: string, row: Record<string, unknown>, problem: string) => {
          const error = await read.then(() => null, (e: unknown) => e as Error & { code: string; details: Record<string, unknown>; fix: string });
          expect(error, `${record} in ${table} ${JSON.stringify(row)}`).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file, record, table, tenant: 't', row } });
          expect(error!.message).toContain(`SQLite database ${file} holds a ${record} record that ${problem}`);
          expect(error!.message).toContain(`(table ${table}, ${Object.entries(row).map(([c, v]) => `${c} ${JSON.stringify(v)}`).join(', ')})`);
          expect(error!.fix).toContain(`FROM ${table} WHERE tenant = 't'`);
        };
        const notRecord = 'is not a JSON object';
        for (const read of [s.getTrace('t', 'tr1'), s.updateTrace('t', 'tr1', { status: 'error' })]) await damage(read, 'trace', 'traces', { tenant: 't', id: 'tr1' }, `${notRecord}: null`);
        await damage(s.listTraces('t', { limit: 49 }), 'trace', 'traces', { tenant: 't', id: 'tr17' }, 'is not valid JSON');
        await damage(s.getTrace('t', 'tr2'), "trace's flags", 'traces', { tenant: 't', id: 'tr2' }, 'is not an array of JSON objects: {}');
        for (const read of [s.getSession('t', 's1'), s.listSessions('t'), s.closeSession('t', 's1', new Date().toISOString())]) await damage(read, 'session', 'sessions', { tenant: 't', id: 's1' }, `${notRecord}: null`);
        await damage(s.listFlags('t'), 'flag', 'flags', { tenant: 't', id: 'f1' }, `${notRecord}: 5`);
        await damage(s.listCheckpoints('t', 'tr3'), 'checkpoint', 'checkpoints', { tenant: 't', trace_id: 'tr3', seq: 1 }, `${notRecord}: []`);
        for (const read of [s.getQuarantine('t', 'tr3'), s.listQuarantined('t')]) await damage(read, 'quarantine state', 'quarantine', { tenant: 't', trace_id: 'tr3' }, `${notRecord}: "x"`);
        for (const read of [s.listProvenance('t', 'tr3'), s.verifyProvenance('t', 'tr3')]) await damage(read, 'provenance entry', 'provenance', { tenant: 't', trace_id: 'tr3', seq: 0 }, `${notRecord}: null`);
        for (const read of [s.getRdSeries('t', 'rd1'), s.getRdSeriesSummary('t', 'rd1')]) await damage(read, 'RD series', 'rd_series', { tenant: 't', id: 'rd1' }, `${notRecord}: null`);
        await damage(s.getRdSeries('t', 'rd2'), 'RD point', 'rd_points', { tenant: 't', series_id: 'rd2', seq: 2 }, `${notRecord}: true`);
        // The other records stay readable.
        expect((await s.getTrace('t', 'tr0'))!.id).toBe('tr0');
        expect((await s.getSession('t', 's2'))!.id).toBe('s2');
        expect((await s.listTraces('t', { limit: 32 })).items).toHaveLength(32);
        await s.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('reports damage seen by a read as LIMIT_STORAGE_CORRUPT naming the file, then refuses every write', async () => {
      const dir = tempDir();
      try {
        const file = await damagedStore(dir);
        const before = readFileSync(file);
        const s = await open(file);
        const error = await s.listTraces('t', { limit: 500 }).then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { file, code: 'SQLITE_CORRUPT' } });
        expect(error!.message).toBe(`SQLite database ${file} is damaged (database disk image is malformed, SQLITE_CORRUPT)`);
        expect(error!.fix).toContain(`restore ${file} from a backup`);
        expect(error!.fix).toContain(`sqlite3 ${file} .recover`);
        // No write goes into the damaged file any more, whatever it touches.
        for (const write of [() => s.createTrace(makeTrace('t', 'new1', 's1')), () => s.incrementCounters('t', { n: 1 }), () => s.batch('t', [{ op: 'createSession', session: makeSession('t', 's9') }])]) {
          await expect(write()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: expect.stringContaining('this write was refused') });
        }
        expect(await s.health()).toMatchObject({ status: 'fail', message: error!.message });
        await s.close();
        expect(readFileSync(file).equals(before)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rolls back the whole group when a write meets the damage, and refuses later writes', async () => {
      const dir = tempDir();
      try {
        const file = await damagedStore(dir);
        const [victim] = damagedIds(file);
        expect(victim).toBeDefined();
        const before = readFileSync(file);
        const s = await open(file);
        // One group: a sound insert, then an update of a row in the damaged pages.
        const results = await Promise.allSettled([s.createTrace(makeTrace('t', 'fresh', 's1')), s.updateTrace('t', victim!, { status: 'error' })]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
        expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: expect.stringContaining('this write was refused') });
        expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: `SQLite database ${file} is damaged (database disk image is malformed, SQLITE_CORRUPT)` });
        await expect(s.createTrace(makeTrace('t', 'later', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT' });
        await s.close();
        expect(readFileSync(file).equals(before)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses at open a file that is not a database (or whose header is damaged) as LIMIT_STORAGE_CORRUPT, untouched', async () => {
      const dir = tempDir();
      try {
        const file = path.join(dir, 'text.db');
        writeFileSync(file, 'this is not a database\n'.repeat(50), { mode: 0o644 });
        chmodSync(file, 0o644);
        const before = readFileSync(file);
        const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
        await expect(s.open()).rejects.toMatchObject({
          code: 'LIMIT_STORAGE_CORRUPT',
          message: `SQLite database ${file} is not a SQLite database, or its header is damaged (file is not a database, SQLITE_NOTADB)`,
        });
        expect(readFileSync(file).equals(before)).toBe(true);
        // Its mode too: the store tightens a database it opens to 0600, not a file it refuses.
        expect(statSync(file).mode & 0o777).toBe(0o644);
        // A SQLite header and nothing after it, with a -journal file beside it: both keep their modes.
        const header = path.join(dir, 'header.db');
        writeFileSync(header, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(84, 0xff)]));
        writeFileSync(`${header}-journal`, '');
        chmodSync(header, 0o640);
        chmodSync(`${header}-journal`, 0o644);
        const h = new SqliteStorage({ file: header, synchronous: 'normal', busyTimeoutMs: 5000, maxRecordBytes: 1 << 20 });
        await expect(h.open()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT' });
        expect([statSync(header).mode & 0o777, statSync(`${header}-journal`).mode & 0o777]).toEqual([0o640, 0o644]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('reports a database file or folder this process may not write (EACCES, EPERM) at open() as LIMIT_STORAGE_UNAVAILABLE naming it, the code and a chown/chmod fix', () => {
    // File permissions bind every uid but root's: running as root, the store opens in a child process
    // as nobody (65534) files that root owns; otherwise in a child as this user, files made unwritable.
    const root = process.getuid?.() === 0;
    const dir = tempDir();
    try {
      chmodSync(dir, 0o755);
      const openAs = (file: string) => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./sqlite-open-child.ts', import.meta.url)), file], {
          encoding: 'utf8', timeout: 60_000, ...(root ? { uid: 65534, gid: 65534 } : {}),
        });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as { code?: string; message: string; details: Record<string, unknown>; fix: string };
      };
      const user = root ? 'nobody' : userInfo().username;
      const shared = path.join(dir, 'shared');
      mkdirSync(shared, { mode: 0o777 });
      chmodSync(shared, 0o777);
      const makeDb = (file: string, mode: number) => {
        const db = new Database(file);
        db.exec('CREATE TABLE x (a)');
        db.close();
        chmodSync(file, mode);
      };

      // An existing database it may not read and write (root's, 0644; or its own, 0444).
      const unwritable = path.join(shared, 'ro.db');
      makeDb(unwritable, root ? 0o644 : 0o444);
      const a = openAs(unwritable);
      expect(a).toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file: unwritable, path: unwritable, code: 'EACCES' } });
      expect(a.message).toMatch(new RegExp(`^SQLite database ${unwritable} cannot be opened: ${unwritable} is not readable and writable by this process \\(user ${user}, uid \\d+\\) \\(EACCES\\)$`));
      expect(a.fix).toContain(`chown ${user} ${unwritable}`);
      expect(a.fix).toContain(`chmod u+rw ${unwritable}`);

      // A new database in a folder it may not write.
      const closed = path.join(dir, 'closed');
      mkdirSync(closed);
      chmodSync(closed, 0o555);
      const inClosed = path.join(closed, 'new.db');
      const b = openAs(inClosed);
      expect(b).toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file: inClosed, path: closed, code: 'EACCES' } });
      expect(b.message).toMatch(new RegExp(`^SQLite database ${inClosed} cannot be created: its folder ${closed} does not let this process \\(user ${user}, uid \\d+\\) create files in it \\(EACCES\\)$`));
      expect(b.fix).toContain(`chown ${user} ${closed}`);
      expect(b.fix).toContain(`chmod u+wx ${closed}`);
      expect(existsSync(inClosed)).toBe(false);

      if (root) {
        // A database it may write but not restrict to 0600: another user's (root's), mode 0666.
        const others = path.join(shared, 'others.db');
        makeDb(others, 0o666);
        const c = openAs(others);
        expect(c).toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file: others, path: others, code: 'EPERM', owner: 0 } });
        expect(c.message).toBe(`SQLite database ${others} cannot be restricted to mode 0600: ${others} belongs to another user (uid 0), and only its owner may change its mode; this process runs as user nobody, uid 65534 (EPERM)`);
        expect(c.fix).toContain(`chown nobody ${others} ${others}-wal ${others}-shm`);
        expect(statSync(others).mode & 0o777).toBe(0o666);
        // Given to nobody, it opens (and is restricted to 0600).
        chownSync(others, 65534, 65534);
        expect(openAs(others)).toEqual({ opened: true });
        expect(statSync(others).mode & 0o777).toBe(0o600);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a write lock held past busyTimeoutMs as LIMIT_STORAGE_UNAVAILABLE naming the file, the timeout and the fix', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'busy.db');
      const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 200, maxRecordBytes: 1 << 20 });
      await s.open();
      await s.createTrace(makeTrace('t', 'tr0', 's1'));
      // Another connection (a long import, a sqlite3 shell with an open transaction) holds the write lock.
      const holder = new Database(file);
      holder.exec('BEGIN IMMEDIATE');
      try {
        for (const write of [() => s.createTrace(makeTrace('t', 'tr1', 's1')), () => s.batch('t', [{ op: 'incrementCounters', deltas: { n: 1 } }]), () => s.appendProvenance('t', makeProvenance('tr0', 0))]) {
          const t0 = Date.now();
          const error = await write().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
          // Waited busyTimeoutMs once (an append is not retried 50 times over).
          expect(Date.now() - t0).toBeLessThan(2000);
          expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, busyTimeoutMs: 200 } });
          expect(error!.message).toBe(`SQLite database ${file} stayed locked by another connection for busyTimeoutMs (200 ms): database is locked (SQLITE_BUSY)`);
          expect(error!.fix).toMatch(/Raise storage-sqlite's busyTimeoutMs, or find the process holding a long write transaction/);
        }
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      expect(await s.getTrace('t', 'tr1')).not.toBeNull();
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a file locked past busyTimeoutMs while open() switches it to WAL as that lock, not as a raw "Cannot configure"', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'journal.db');
      // A rollback-journal database (made by another tool) with a writer in an exclusive transaction.
      const holder = new Database(file);
      holder.exec('CREATE TABLE x (a); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1)');
      const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 200, maxRecordBytes: 1 << 20 });
      try {
        const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, busyTimeoutMs: 200 } });
        expect(error!.message).toBe(`SQLite database ${file} stayed locked by another connection for busyTimeoutMs (200 ms): database is locked (SQLITE_BUSY)`);
        expect(error!.fix).toMatch(/Raise storage-sqlite's busyTimeoutMs/);
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      await s.open();
      expect(await s.schemaVersion()).toBe(SCHEMA_VERSION);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a write the file system refuses (full disk, read-only file, I/O error) as LIMIT_STORAGE_UNAVAILABLE naming the file, and stays usable', async () => {
    const dir = tempDir();
    // SQLite's own errors for a full disk or a file size limit (SQLITE_FULL), a read-only file and a
    // failed write, raised by the statements' run() while `refusing` is set.
    let refusing: string | undefined;
    const realPrepare = Database.prototype.prepare;
    const spy = vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
      const statement = realPrepare.call(this, sql);
      return new Proxy(statement, {
        get(target, key) {
          if (key === 'run' && refusing !== undefined && /^\s*(INSERT|UPDATE)/i.test(sql)) {
            const code = refusing;
            return () => { throw new Database.SqliteError({ SQLITE_FULL: 'database or disk is full', SQLITE_READONLY: 'attempt to write a readonly database', SQLITE_IOERR_WRITE: 'disk I/O error' }[code]!, code); };
          }
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    } as typeof Database.prototype.prepare);
    try {
      const file = path.join(dir, 'full.db');
      const s = new SqliteStorage({ file, synchronous: 'normal', busyTimeoutMs: 200, maxRecordBytes: 1 << 20 });
      await s.open();
      await s.createTrace(makeTrace('t', 'tr0', 's1'));
      const why = { SQLITE_FULL: 'no space is left on the device of', SQLITE_READONLY: `the file, its folder ${dir} or its file system is read-only`, SQLITE_IOERR_WRITE: 'the file system failed a read or write in' };
      for (const code of ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR_WRITE'] as const) {
        refusing = code;
        for (const write of [() => s.createTrace(makeTrace('t', 'tr1', 's1')), () => s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'tr2', 's1') }, { op: 'incrementCounters', deltas: { n: 1 } }]), () => s.appendProvenance('t', makeProvenance('tr0', 0))]) {
          const error = await write().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
          expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, path: dir, code } });
          expect(error!.message).toContain(`SQLite database ${file} cannot be written: ${why[code]}`);
          expect(error!.fix).toBeTruthy();
        }
      }
      refusing = undefined;
      // Nothing of the refused writes is stored, and the store works again.
      expect(await s.getTrace('t', 'tr1')).toBeNull();
      expect(await s.getTrace('t', 'tr2')).toBeNull();
      expect(await s.getCounters('t')).toEqual({});
      await s.createTrace(makeTrace('t', 'tr1', 's1'));
      await s.appendProvenance('t', makeProvenance('tr0', 0));
      expect((await s.verifyProvenance('t', 'tr0')).length).toBe(1);
      await s.close();
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('group commit', () => {
    /** A store on a new file with session `s1` in tenant `t`; closed (again) and removed afterwards. */
    const withStore = async (test: (s: Storage, file: string) => Promise<void>) => {
      const dir = tempDir();
      try {
        const file = path.join(dir, 'g.db');
        const s = await open(file);
        await s.createSession(makeSession('t', 's1'));
        await test(s, file);
        await s.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    /** Counts the write transactions that reach the file: each commit bumps the WAL's change counter seen by another connection. */
    const commits = (file: string) => {
      const reader = new Database(file, { readonly: true });
      return { count: () => reader.pragma('data_version', { simple: true }) as number, close: () => reader.close() };
    };

    it('commits the writes of one event-loop turn in one transaction and settles each on its own', () => withStore(async (s, file) => {
      const watch = commits(file);
      const before = watch.count();
      const writes = Array.from({ length: 20 }, (_, i) => s.createTrace(makeTrace('t', `tr-${i}`, 's1', 1_700_000_000_000 + i)));
      await Promise.all(writes);
      // data_version moves once per commit made by another connection; one group → one step.
      expect(watch.count() - before).toBe(1);
      watch.close();
      expect((await s.listTraces('t', { limit: 50 })).items).toHaveLength(20);
    }));

    it('rolls back a failing write alone: the rest of its group commits, a failing batch leaves nothing', () => withStore(async (s) => {
      await s.createTrace(makeTrace('t', 'dup', 's1'));
      const results = await Promise.allSettled([
        s.createTrace(makeTrace('t', 'a', 's1')),
        s.createTrace(makeTrace('t', 'dup', 's1')), // conflict
        // A batch whose second op fails (no such trace): its first op must be rolled back too.
        s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'b', 's1') }, { op: 'appendProvenance', input: makeProvenance('missing', 0) }]),
        s.appendProvenance('t', makeProvenance('a', 0)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_CONFLICT' });
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'LIMIT_NOT_FOUND' });
      expect(await s.getTrace('t', 'a')).not.toBeNull();
      expect(await s.getTrace('t', 'b')).toBeNull();
      expect(await s.listProvenance('t', 'a')).toHaveLength(1);
    }));

    it('fails the whole group with a LimitError, storing none of it, when SQLite itself rolls the transaction back (SQLITE_FULL)', async () => {
      const dir = tempDir();
      // The store's own connection, to cap its file size: with PRAGMA max_page_count (per connection)
      // a write that needs a new page gets SQLITE_FULL, and for a statement without a statement
      // journal (one b-tree: a provenance insert) SQLite rolls back the whole transaction, as it
      // does on a full disk met while spilling the cache.
      let conn: Database.Database | undefined;
      const realPrepare = Database.prototype.prepare;
      const spy = vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
        conn ??= this;
        return realPrepare.call(this, sql);
      } as typeof Database.prototype.prepare);
      try {
        const file = path.join(dir, 'full.db');
        const s = await open(file);
        await s.createSession(makeSession('t', 's1'));
        await s.createTrace(makeTrace('t', 'chain', 's1'));
        const pages = conn!.pragma('page_count', { simple: true }) as number;
        conn!.pragma(`max_page_count = ${pages}`);
        // One event-loop turn: a small write that fits, a batch whose append is too big for the capped
        // file, then small appends.
        const results = await Promise.allSettled([
          s.incrementCounters('t', { runs: 1 }),
          s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'b', 's1') }, { op: 'appendProvenance', input: makeProvenance('chain', 0, { data: { pad: 'x'.repeat(100_000) } }) }]),
          ...[1, 2, 3].map((i) => s.appendProvenance('t', makeProvenance('chain', i))),
        ]);
        expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
        const reasons = (results as PromiseRejectedResult[]).map((r) => r.reason as Error);
        for (const reason of reasons) {
          expect(reason).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, path: dir, code: 'SQLITE_FULL' } });
        }
        // The batch names its op; the other writes get the file's error, not the batch's.
        expect(reasons[1]!.message).toMatch(/^batch op 1 \(appendProvenance\): SQLite database .* cannot be written: no space is left/);
        for (const i of [0, 2, 3, 4]) expect(reasons[i]!.message).toMatch(/^SQLite database .* cannot be written: no space is left/);
        conn!.pragma('max_page_count = 1073741823');
        // Nothing of the group is stored: a caller retrying every rejected write gets each exactly once.
        expect(await s.listProvenance('t', 'chain')).toEqual([]);
        expect(await s.getCounters('t')).toEqual({});
        expect(await s.getTrace('t', 'b')).toBeNull();
        await s.incrementCounters('t', { runs: 1 });
        for (const i of [1, 2, 3]) await s.appendProvenance('t', makeProvenance('chain', i));
        expect((await s.listProvenance('t', 'chain')).map((e) => e.rationale)).toEqual(['step 1', 'step 2', 'step 3']);
        expect(await s.getCounters('t')).toEqual({ runs: 1 });
        expect(await s.health()).toMatchObject({ status: 'ok' });
        await s.close();
      } finally {
        spy.mockRestore();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('fails the whole group with LIMIT_STORAGE_UNAVAILABLE when SQLite rolls it back after an error it does not name the file for (SQLITE_NOMEM)', async () => {
      const dir = tempDir();
      // A counter write that meets SQLITE_NOMEM after SQLite rolled back the transaction, as it does on NOMEM.
      let failing = false;
      const realPrepare = Database.prototype.prepare;
      const spy = vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
        const statement = realPrepare.call(this, sql);
        const db = this;
        return new Proxy(statement, {
          get(target, key) {
            if (key === 'run' && failing && /INSERT INTO counters/.test(sql)) {
              return () => {
                db.exec('ROLLBACK');
                throw new Database.SqliteError('out of memory', 'SQLITE_NOMEM');
              };
            }
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      } as typeof Database.prototype.prepare);
      try {
        const file = path.join(dir, 'nomem.db');
        const s = await open(file);
        failing = true;
        const results = await Promise.allSettled([s.createSession(makeSession('t', 's1')), s.incrementCounters('t', { n: 1 }), s.createSession(makeSession('t', 's2'))]);
        failing = false;
        for (const r of results) {
          expect(r).toMatchObject({ status: 'rejected', reason: { name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { file, code: 'SQLITE_NOMEM' } } });
          expect((r as PromiseRejectedResult).reason.message).toBe(`SQLite rolled back the transaction on ${file} (out of memory, SQLITE_NOMEM): this write and the others of its group commit were not stored`);
        }
        expect(await s.getSession('t', 's1')).toBeNull();
        expect(await s.getSession('t', 's2')).toBeNull();
        await s.close();
      } finally {
        spy.mockRestore();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('commits writes still queued when the store closes, and refuses writes after close', () => withStore(async (s, file) => {
      const pending = s.createTrace(makeTrace('t', 'late', 's1'));
      await s.close();
      await expect(pending).resolves.toMatchObject({ id: 'late' });
      await expect(s.createTrace(makeTrace('t', 'after', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      const again = await open(file);
      expect(await again.getTrace('t', 'late')).not.toBeNull();
      await again.close();
    }));
  });
});
