/**
 * storage-postgres against the machine's real PostgreSQL server. Each test gets its own schema
 * (created by the migrations, dropped afterwards), so runs never collide. A missing server fails.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_FLAGS_PER_TRACE, createRuntime, flagsBytes, rdPointsBytes, type Storage } from 'limit-graph';
import { crashTest, makeFlag, makeProvenance, makeSession, makeTrace, multiProcessProvenance, multiProcessRdSteps, storageConformance, type StorageFixture } from 'limit-graph/testing';
import storagePostgres, { PostgresStorage, StoragePostgresOptions, redactUrl } from '../../plugins/storage-postgres/index.ts';
import { MIGRATIONS, SCHEMA_VERSION, remeasure } from '../../plugins/storage-postgres/migrations.ts';
import { PG_URL as URL, expectFlagLimitHolds, manyFlags } from '../helpers/storage-backend.ts';

const uniqueSchema = () => `limit_test_${process.pid}_${randomBytes(4).toString('hex')}`;

let admin: pg.Pool;
beforeAll(async () => {
  admin = new pg.Pool({ connectionString: URL, max: 2 });
  // Fails the file (not a skip) when the server is missing: CI must provide PostgreSQL.
  await admin.query('SELECT 1');
});
afterAll(async () => {
  await admin?.end();
});

const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).then(() => undefined);

/** Resolves once a statement naming `table` waits for a lock (polls pg_stat_activity, up to 5 s). */
/**
 * Runs `body` with `holder`, a connection of the test's own that takes the locks the store then meets;
 * afterwards, whatever `body` did: the holder rolled back and released, `s` closed, `cleanup` run,
 * the schema dropped.
 */
async function holding(schema: string, s: PostgresStorage, body: (holder: pg.PoolClient) => Promise<void>, cleanup?: () => Promise<void>): Promise<void> {
  const holder = await admin.connect();
  try {
    await body(holder);
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    holder.release();
    await s.close();
    await cleanup?.();
    await dropSchema(schema);
  }
}

const waitForLockWait = async (table: string): Promise<void> => {
  for (let i = 0; i < 500; i++) {
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`, [table]);
    if (rowCount) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`No statement on ${table} waited for a lock within 5 s`);
};

const open = async (schema: string, poolSize = 10): Promise<PostgresStorage> => {
  const s = new PostgresStorage({ url: URL, schema, poolSize, connectTimeoutMs: 10_000, maxRecordBytes: 4 * 1024 * 1024 });
  await s.open();
  return s;
};

storageConformance('storage-postgres', async (): Promise<StorageFixture> => {
  const schema = uniqueSchema();
  return {
    storage: await open(schema),
    reopen: () => open(schema),
    tamper: async (tenant, traceId, seq, patch) => {
      // A new hash goes where the store keeps it: the entry and its hash column.
      await admin.query(`UPDATE "${schema}".provenance SET data = data || $4::jsonb, hash = coalesce($5, hash) WHERE tenant = $1 AND trace_id = $2 AND seq = $3`, [tenant, traceId, seq, JSON.stringify(patch), patch.hash ?? null]);
    },
    // As entries stored before migration 9, or by an instance of the previous release (no chain_bytes).
    forgetProvenanceTotals: async (tenant, traceId) => {
      await admin.query(`UPDATE "${schema}".provenance SET chain_bytes = NULL WHERE tenant = $1 AND trace_id = $2`, [tenant, traceId]);
    },
    cleanup: () => dropSchema(schema),
  };
}, { supports: { multiProcess: true, crashSafe: true, transactions: true } });

describe('storage-postgres plugin', () => {
  it('is selected by STORAGE_BACKEND=postgres with DATABASE_URL, reports health, closes on dispose', async () => {
    const schema = uniqueSchema();
    try {
      const rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, env: { STORAGE_BACKEND: 'postgres', DATABASE_URL: URL, LIMIT_PG_SCHEMA: schema } });
      const storage = rt.resolve('storage') as PostgresStorage;
      expect(storage.backend).toBe('postgres');
      expect(storage.schema).toBe(schema);
      expect(await storage.schemaVersion()).toBe(SCHEMA_VERSION);
      expect((await rt.health()).find((h) => h.plugin === 'storage-postgres')).toMatchObject({ status: 'ok' });
      const { rows } = await admin.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1`, [schema]);
      expect(rows.map((r) => r.indexname)).toEqual(expect.arrayContaining(['traces_by_session', 'traces_by_status', 'flags_by_kind', 'provenance_pkey']));
      const types = await admin.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'traces' AND column_name = 'data'`, [schema]);
      expect(types.rows[0]).toEqual({ data_type: 'jsonb' });
      await rt.close();
      await expect(storage.getTrace('t', 'x')).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
    } finally {
      await dropSchema(schema);
    }
  });

  it('requires a postgres:// URL and reports an unreachable server as LIMIT_STORAGE_UNAVAILABLE without the password', async () => {
    await expect(createRuntime({ config: { logLevel: 'silent', storage: 'postgres', plugins: {} }, env: {} })).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
    const bad = createRuntime({
      config: { logLevel: 'silent', plugins: {} },
      plugins: [storagePostgres.configure({ url: 'postgres://u:hunter2@127.0.0.1:1/none', connectTimeoutMs: 2000 })],
      env: {},
    });
    const error = await bad.then(() => null, (e: unknown) => e as Error & { code: string; cause?: unknown });
    expect(error).not.toBeNull();
    const all = JSON.stringify([error!.message, (error as { cause?: Error }).cause?.message]);
    expect(all).toMatch(/LIMIT_STORAGE_UNAVAILABLE|Cannot reach PostgreSQL/);
    expect(all).not.toContain('hunter2');
    expect(redactUrl('postgres://u:hunter2@h/db')).toBe('postgres://u:***@h/db');
  });

  it('redacts a password given as a query parameter or holding an unencoded "@" in its errors', async () => {
    // pg reads ?password= and ?sslpassword= as credentials, and takes the userinfo up to the last "@".
    for (const [url, shown] of [
      ['postgres://u:hun@ter2@127.0.0.1:1/none', 'postgres://u:***@127.0.0.1:1/none'],
      ['postgres://u@127.0.0.1:1/none?password=hunter2', 'postgres://u@127.0.0.1:1/none?password=***'],
      ['postgres://u@127.0.0.1:1/none?sslmode=disable&sslpassword=hunter2', 'postgres://u@127.0.0.1:1/none?sslmode=disable&sslpassword=***'],
    ] as const) {
      // Direct construction: the options schema refuses ?sslpassword= (pg does not read it) before this.
      const store = new PostgresStorage({ url, schema: 'limit_never', poolSize: 1, connectTimeoutMs: 2000, maxRecordBytes: 1 << 20 });
      const error = await store.open().then(() => null, (e: unknown) => e as Error & { details?: unknown });
      expect(error).toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      expect(error!.message).toContain(`Cannot reach PostgreSQL at ${shown}:`);
      expect(JSON.stringify([error!.message, error!.details])).not.toMatch(/ter2/);
    }
  });

  it('applies migrations once when several instances start together', async () => {
    const schema = uniqueSchema();
    try {
      const stores = await Promise.all([open(schema, 2), open(schema, 2), open(schema, 2), open(schema, 2)]);
      const { rows } = await admin.query(`SELECT COUNT(*)::int AS n FROM "${schema}".schema_migrations`);
      expect(rows[0]).toEqual({ n: MIGRATIONS.length });
      for (const s of stores) await s.close();
    } finally {
      await dropSchema(schema);
    }
  });

  it('upgrades a schema of version 1 in place: the unused rd_series.ord column goes, the series stay', async () => {
    const schema = uniqueSchema();
    try {
      const first = await open(schema, 2);
      const series = { id: 'rd1', sessionId: 's1', tenant: 't', name: 'refinement', points: [{ step: 0, rate: 0, distortion: 1 }], createdAt: new Date(1e12).toISOString(), metadata: {} };
      await first.createRdSeries(series);
      await first.close();
      // Back to what version 1 left: the column and no record of version 2.
      await admin.query(`ALTER TABLE "${schema}".rd_series ADD COLUMN ord bigserial`);
      // Totals a version-1 store never kept: migration 5 counts them from the points.
      await admin.query(`UPDATE "${schema}".rd_series SET point_count = 0, point_bytes = 0, next_step = 0`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 1`);
      const columns = () => admin.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'rd_series' ORDER BY column_name`, [schema]).then((r) => r.rows.map((row) => row.column_name));
      expect(await columns()).toContain('ord');
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        // Migration 5 adds the series' point totals beside them.
        expect(await columns()).toEqual(['data', 'id', 'next_step', 'point_bytes', 'point_count', 'session_id', 'tenant']);
        expect(await upgraded.listRdSeries('t')).toEqual([series]);
        const { points: _p, ...rest } = series;
        // Stored as jsonb text (`{"rate": 0, …}`), a little more than the JSON the point was written as;
        // migration 7 measures the JSON, as every append and the kernel limit do.
        const { rows: [stored] } = await admin.query(`SELECT sum(octet_length(data::text))::int AS bytes FROM "${schema}".rd_points`);
        expect(stored.bytes).toBeGreaterThan(JSON.stringify(series.points[0]).length);
        expect(await upgraded.getRdSeriesSummary('t', 'rd1')).toEqual({ ...rest, pointCount: 1, pointBytes: rdPointsBytes(series.points), nextStep: 1 });
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('upgrades a schema of version 5 in place: migration 6 counts and measures the flags each trace already holds', async () => {
    const schema = uniqueSchema();
    try {
      const first = await open(schema, 2);
      await first.createTrace(makeTrace('t', 'full', 's1', 1e12, { flags: manyFlags('full', MAX_FLAGS_PER_TRACE) }));
      await first.createTrace(makeTrace('t', 'room', 's1', 1e12, { flags: manyFlags('room', MAX_FLAGS_PER_TRACE - 1) }));
      await first.createTrace(makeTrace('t', 'none', 's1', 1e12));
      await first.close();
      // Back to what version 5 left: no flag totals on the trace rows, no record of version 6.
      await admin.query(`ALTER TABLE "${schema}".traces DROP COLUMN flag_count, DROP COLUMN flag_bytes`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 5`);
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        // Stored as jsonb text, a little more than the JSON the flags were written as; the totals are
        // the JSON's bytes (migration 7), as every add and the kernel limit measure them.
        const { rows } = await admin.query(
          `SELECT t.id, t.flag_count AS count, t.flag_bytes::int AS bytes, (SELECT coalesce(sum(octet_length(f.data::text)), 0)::int FROM "${schema}".flags f WHERE f.trace_id = t.id) AS stored
           FROM "${schema}".traces t ORDER BY t.id`,
        );
        expect(rows.map((r) => ({ id: r.id, count: r.count, bytes: r.bytes }))).toEqual([
          { id: 'full', count: MAX_FLAGS_PER_TRACE, bytes: flagsBytes(manyFlags('full', MAX_FLAGS_PER_TRACE)) },
          { id: 'none', count: 0, bytes: 0 },
          { id: 'room', count: MAX_FLAGS_PER_TRACE - 1, bytes: flagsBytes(manyFlags('room', MAX_FLAGS_PER_TRACE - 1)) },
        ]);
        expect(rows[0].stored).toBeGreaterThan(flagsBytes(manyFlags('full', MAX_FLAGS_PER_TRACE)));
        await expectFlagLimitHolds(upgraded);
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it("upgrades a schema of version 8 in place: an append onto a chain stored before migration 9 measures it as each entry's JSON, and keeps the total even when refused", async () => {
    const schema = uniqueSchema();
    try {
      const max = 4 * 1024 * 1024;
      // NUL is 6 bytes in JSON (\u0000) and 4 as stored (nul.ts); jsonb's text adds a space after each ':' and ','.
      const entry = (i: number, bytes: number) => makeProvenance('tr1', i, { data: { text: 'x'.repeat(bytes), nul: '\u0000'.repeat(1000), list: [1, 2, 3] } });
      const first = await open(schema, 2);
      await first.createTrace(makeTrace('t', 'tr1', 's1', 1e12));
      await first.appendProvenance('t', entry(0, Math.floor(max * 0.9)));
      await first.appendProvenance('t', entry(1, Math.floor(max * 0.9)));
      await first.close();
      // Back to what version 8 left: no chain_bytes on the entries, no record of version 9.
      await admin.query(`ALTER TABLE "${schema}".provenance DROP COLUMN chain_bytes`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 8`);
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        const bytesOf = async () => (await admin.query(`SELECT seq, chain_bytes::int AS bytes FROM "${schema}".provenance ORDER BY seq`)).rows.map((r) => r.bytes);
        const exact = async () => (await upgraded.listProvenance('t', 'tr1')).reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
        const before = await exact();
        // 1.8 of the 2 × maxRecordBytes a client may fill are held: measured, a client's 0.3 more is
        // refused — and the head keeps the total measured, so the next append does not measure again.
        await expect(upgraded.appendProvenance('t', entry(2, Math.floor(max * 0.3)), { origin: 'client' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        expect(await bytesOf()).toEqual([null, before]);
        await expect(upgraded.batch('t', [{ op: 'appendProvenance', input: entry(2, Math.floor(max * 0.3)), origin: 'client' }])).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        await upgraded.appendProvenance('t', entry(2, Math.floor(max * 0.1)), { origin: 'client' });
        expect(await bytesOf()).toEqual([null, before, await exact()]);

        // During a rolling upgrade an instance of the previous release appends without chain_bytes:
        // only the entries after the last one that has its total are measured, onto that total.
        await admin.query(`UPDATE "${schema}".provenance SET chain_bytes = chain_bytes + 1000 WHERE seq = 2`);
        await upgraded.appendProvenance('t', entry(3, 10));
        await upgraded.appendProvenance('t', entry(4, 10));
        await admin.query(`UPDATE "${schema}".provenance SET chain_bytes = NULL WHERE seq > 2`);
        await upgraded.appendProvenance('t', entry(5, 10));
        expect((await bytesOf())[5]).toBe((await exact()) + 1000);
        expect(await upgraded.verifyProvenance('t', 'tr1')).toMatchObject({ verified: true, length: 6 });
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('upgrades a schema of version 6 in place: migration 7 measures the flag and point totals as JSON, as every write does', async () => {
    const schema = uniqueSchema();
    try {
      // JSON that jsonb's text form writes longer or shorter: separators, NUL and U+E000 (stored
      // substituted, nul.ts), non-ASCII, numbers jsonb spells out in full (1e21, 1e-7).
      const flags = [
        makeFlag('f1', 'tr1', 'Anomaly', { reason: 'a\u0000b \uE000 é, "x": [1, 2]' }),
        makeFlag('f2', 'tr1', 'HighRisk', { reason: 'plain' }),
      ];
      const points = [
        { step: 0, rate: 1.5, distortion: 2, meta: { k: 'a, b: c', nul: '\u0000\uE000' } },
        { step: 7, rate: 1e21, distortion: 1e-7 },
      ];
      const first = await open(schema, 2);
      await first.createTrace(makeTrace('t', 'tr1', 's1', 1e12, { flags }));
      await first.addFlag('t', makeFlag('f3', 'tr1', 'Anomaly', { reason: 'added, later' }));
      await first.createTrace(makeTrace('t', 'tr2', 's1', 1e12));
      await first.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points, createdAt: new Date(1e12).toISOString(), metadata: {} });
      await first.createRdSeries({ id: 'rd2', sessionId: 's1', tenant: 't', name: 'n', points: [], createdAt: new Date(1e12).toISOString(), metadata: {} });
      await first.appendProvenance('t', makeProvenance('tr1', 0));
      await first.appendProvenance('t', makeProvenance('tr1', 1));
      // More rows than one read of the migration's cursor (1,000), series and traces spanning reads.
      const many = Array.from({ length: 2_500 }, (_, i) => ({ step: i, rate: i / 3, distortion: 1 / (i + 1) }));
      await first.createRdSeries({ id: 'rd3', sessionId: 's1', tenant: 't', name: 'n', points: many, createdAt: new Date(1e12).toISOString(), metadata: {} });
      await first.batch('t', Array.from({ length: 1_200 }, (_, i) => ({ op: 'createTrace' as const, trace: makeTrace('t', `m${String(i).padStart(4, '0')}`, 's1', 1e12, { flags: [makeFlag(`mf${i}`, `m${String(i).padStart(4, '0')}`, 'Anomaly', { reason: `n, ${i}` })] }) })));
      await first.close();
      // What migrations 5 and 6 left in a store they upgraded: the totals measured as jsonb text.
      await admin.query(`UPDATE "${schema}".traces t SET flag_bytes = (SELECT coalesce(sum(octet_length(f.data::text)), 0) FROM "${schema}".flags f WHERE f.tenant = t.tenant AND f.trace_id = t.id)`);
      await admin.query(`UPDATE "${schema}".rd_series s SET point_bytes = (SELECT coalesce(sum(octet_length(p.data::text)), 0) FROM "${schema}".rd_points p WHERE p.tenant = s.tenant AND p.series_id = s.id)`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 6`);
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        const trace = (await upgraded.getTrace('t', 'tr1'))!;
        expect(trace.flags).toHaveLength(3);
        const { rows } = await admin.query(`SELECT id, flag_count AS count, flag_bytes::int AS bytes FROM "${schema}".traces ORDER BY id`);
        expect(rows.filter((r) => r.id.startsWith('tr'))).toEqual([{ id: 'tr1', count: 3, bytes: flagsBytes(trace.flags) }, { id: 'tr2', count: 0, bytes: 0 }]);
        const m = rows.filter((r) => r.id.startsWith('m'));
        expect(m).toHaveLength(1_200);
        for (const r of m) expect(r).toEqual({ id: r.id, count: 1, bytes: flagsBytes((await upgraded.getTrace('t', r.id))!.flags) });
        expect(await upgraded.getRdSeriesSummary('t', 'rd3')).toMatchObject({ pointCount: 2_500, pointBytes: rdPointsBytes(many), nextStep: 2_500 });
        expect(await upgraded.getRdSeriesSummary('t', 'rd1')).toMatchObject({ pointCount: 2, pointBytes: rdPointsBytes(points), nextStep: 8 });
        expect(await upgraded.getRdSeriesSummary('t', 'rd2')).toMatchObject({ pointCount: 0, pointBytes: 0, nextStep: 0 });
        const point = { step: 8, rate: 0, distortion: 0 };
        expect(await upgraded.appendRdPoint('t', 'rd1', point)).toMatchObject({ pointCount: 3, pointBytes: rdPointsBytes([...points, point]) });
        expect(await upgraded.verifyProvenance('t', 'tr1')).toMatchObject({ verified: true, length: 2 });
        expect((await upgraded.listTraces('t', { limit: 1 })).items).toHaveLength(1);
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('upgrades a schema of version 7 in place: migration 8 measures each trace and session as JSON (NUL included), so pages keep to maxBytes; instances of the previous release keep working beside it', async () => {
    const schema = uniqueSchema();
    try {
      const nul = '\u0000'.repeat(100_000);
      const first = await open(schema, 2);
      for (let i = 0; i < 3; i++) {
        await first.createTrace(makeTrace('t', `tr${i}`, 's1', 1e12 + i, { metadata: { blob: nul, n: 1e21 }, flags: i === 2 ? [makeFlag('f', 'tr2'), makeFlag('g', 'tr2')] : [] }));
        await first.createSession(makeSession('t', `s${i}`, { createdAt: new Date(1e12 + i).toISOString(), metadata: { blob: nul, e: '\uE000é' } }));
      }
      await first.close();
      // What version 7 had: no data_bytes, sizes generated from the jsonb text (migration 4's bytes).
      await admin.query(`DROP FUNCTION "${schema}".data_bytes_unknown() CASCADE`);
      await admin.query(`ALTER TABLE "${schema}".traces DROP COLUMN data_bytes`);
      await admin.query(`ALTER TABLE "${schema}".sessions DROP COLUMN data_bytes`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 7`);
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        const traces = await admin.query(`SELECT id, (data_bytes + flag_bytes + GREATEST(flag_count, 1) + 1)::int AS bytes FROM "${schema}".traces ORDER BY id`);
        const sessions = await admin.query(`SELECT id, data_bytes::int AS bytes FROM "${schema}".sessions ORDER BY id`);
        const jsonOf = (value: object) => Buffer.byteLength(JSON.stringify(value));
        for (const r of traces.rows) {
          const { flags, ...data } = (await upgraded.getTrace('t', r.id))!;
          expect(r.bytes).toBe(jsonOf(data) + jsonOf(flags));
        }
        for (const r of sessions.rows) expect(r.bytes).toBe(jsonOf((await upgraded.getSession('t', r.id))!));
        // About 600 kB of JSON each (400 kB stored): two a page.
        const budget = 1_500_000;
        expect((await upgraded.listTraces('t', { maxBytes: budget })).items.map((t) => t.id)).toEqual(['tr2', 'tr1']);
        expect((await upgraded.listSessions('t', { maxBytes: budget })).items.map((x) => x.id)).toEqual(['s2', 's1']);

        // An instance of the previous release (38ff644) on the same database, in a rolling upgrade:
        // its listing query, as it was, still runs (counting the stored text, 400 kB a row, as it did).
        const oldPage = async (table: string, columns: string[]) => (await admin.query(
          `SELECT ${columns.map((c) => `CASE WHEN k.keep THEN k.${c} END AS ${c}`).join(', ')}, k.bytes, k.keep FROM (
              SELECT p.*, (row_number() OVER w <= $2 AND (row_number() OVER w = 1 OR sum(p.bytes) OVER w <= $3)) AS keep FROM (
                SELECT ${columns.map((c) => `t.${c}`).join(', ')}, t.bytes, t.created_ms, t.id FROM "${schema}".${table} t WHERE tenant = $1
                ORDER BY t.created_ms DESC, t.id DESC LIMIT $2 + 1
              ) p WINDOW w AS (ORDER BY p.created_ms DESC, p.id DESC ROWS UNBOUNDED PRECEDING)
            ) k ORDER BY k.created_ms DESC, k.id DESC`, ['t', 100, budget])).rows;
        expect((await oldPage('traces', ['data', 'flags'])).filter((r) => r.keep).map((r) => r.data.id)).toEqual(['tr2', 'tr1', 'tr0']);
        expect((await oldPage('sessions', ['data'])).filter((r) => r.keep).map((r) => r.data.id)).toEqual(['s2', 's1', 's0']);
        // Rows it inserts (without data_bytes) count as it counts them: 400 kB each, so the page ends as before.
        const blob = 'x'.repeat(400_000);
        const { flags: _, ...tr3 } = makeTrace('t', 'tr3', 's1', 1e12 + 3, { metadata: { blob } });
        await admin.query(`INSERT INTO "${schema}".traces (tenant, id, session_id, status, created_ms, data, flags, flag_count, flag_bytes)
          SELECT a, b, c, d, e, f::jsonb, g::jsonb, h, i FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::integer[], $9::bigint[]) AS u(a, b, c, d, e, f, g, h, i)`,
          [['t'], ['tr3'], ['s1'], ['ok'], [1e12 + 3], [JSON.stringify(tr3)], ['[]'], [0], [0]]);
        const s3 = makeSession('t', 's3', { createdAt: new Date(1e12 + 3).toISOString(), metadata: { blob } });
        await admin.query(`INSERT INTO "${schema}".sessions (tenant, id, status, created_ms, data) VALUES ($1, $2, $3, $4, $5)`, ['t', 's3', 'open', 1e12 + 3, JSON.stringify(s3)]);
        expect((await upgraded.listTraces('t', { maxBytes: budget })).items.map((t) => t.id)).toEqual(['tr3', 'tr2']);
        expect((await upgraded.listSessions('t', { maxBytes: budget })).items.map((x) => x.id)).toEqual(['s3', 's2']);
        // A row it updates (data without data_bytes) counts as it counts it too, never by the size before.
        const grown = { ...(await upgraded.getTrace('t', 'tr2'))!, metadata: { blob: 'y'.repeat(1_200_000) } };
        const { flags: __, ...grownData } = grown;
        await admin.query(`UPDATE "${schema}".traces SET status = $3, data = $4 WHERE tenant = $1 AND id = $2`, ['t', 'tr2', 'ok', JSON.stringify(grownData)]);
        expect((await upgraded.listTraces('t', { maxBytes: budget })).items.map((t) => t.id)).toEqual(['tr3']);
        // Our next write of such a row stores its JSON's bytes again.
        const closed = await upgraded.closeSession('t', 's3', new Date(1e12 + 4).toISOString());
        const { rows: [s3Row] } = await admin.query(`SELECT data_bytes::int AS bytes FROM "${schema}".sessions WHERE id = 's3'`);
        expect(s3Row.bytes).toBe(jsonOf(closed));
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('migration 7 reads a bounded amount of text per round trip, however large the rows (remeasure)', async () => {
    const schema = uniqueSchema();
    const client = await admin.connect();
    try {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`CREATE TABLE "${schema}".totals (tenant text COLLATE "C", id text COLLATE "C", bytes bigint NOT NULL DEFAULT 0, PRIMARY KEY (tenant, id))`);
      await client.query(`CREATE TABLE "${schema}".items (tenant text COLLATE "C", id text COLLATE "C", n int, data jsonb NOT NULL)`);
      // 40 owners of 3 items each: most items small, a few of 100 kB (a large flag set, a large point).
      const items: { id: string; n: number; text: string }[] = [];
      for (let o = 0; o < 40; o++) {
        for (let n = 0; n < 3; n++) items.push({ id: `o${String(o).padStart(2, '0')}`, n, text: JSON.stringify({ o, n, pad: 'x'.repeat(o % 13 === 0 && n === 1 ? 100_000 : 10) }) });
      }
      await client.query(`INSERT INTO "${schema}".totals (tenant, id) SELECT 't', id FROM unnest($1::text[]) AS u(id) GROUP BY id`, [items.map((i) => i.id)]);
      await client.query(`INSERT INTO "${schema}".items SELECT 't', id, n, data::jsonb FROM unnest($1::text[], $2::int[], $3::text[]) AS u(id, n, data)`, [items.map((i) => i.id), items.map((i) => i.n), items.map((i) => i.text)]);
      const fetched: { rows: number; bytes: number }[] = [];
      const query = client.query.bind(client) as (text: string) => Promise<pg.QueryResult>;
      const spy = Object.assign(Object.create(client) as pg.PoolClient, {
        query: async (text: string, values?: unknown[]) => {
          const result = await (values ? client.query(text, values) : query(text));
          if (text.startsWith('FETCH')) fetched.push({ rows: result.rows.length, bytes: result.rows.reduce((n, r) => n + Buffer.byteLength(r.data), 0) });
          return result;
        },
      });
      const budget = 150_000;
      await client.query('BEGIN');
      await remeasure(spy, `"${schema}".totals`, 'bytes', `SELECT tenant, id, data::text AS data FROM "${schema}".items ORDER BY tenant, id, n`, (text) => Buffer.byteLength(JSON.stringify(JSON.parse(text))), budget);
      await client.query('COMMIT');
      // One row of 100 kB allows one fetch of 150 kB / 100 kB = 1 row: never 1,000 rows of 100 kB.
      expect(fetched.length).toBeGreaterThan(1);
      for (const f of fetched) expect(f.rows === 1 || f.bytes <= budget, JSON.stringify(f)).toBe(true);
      expect(fetched.reduce((n, f) => n + f.rows, 0)).toBe(items.length);
      const { rows } = await client.query(`SELECT id, bytes::int AS bytes FROM "${schema}".totals ORDER BY id`);
      const expected = new Map<string, number>();
      for (const i of items) expected.set(i.id, (expected.get(i.id) ?? 0) + Buffer.byteLength(JSON.stringify(JSON.parse(i.text))));
      expect(rows).toEqual([...expected].map(([id, bytes]) => ({ id, bytes })));
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      await dropSchema(schema);
    }
  });

  it('a migration that fails leaves the schema at its old version, whole, with an error naming the migration and that version', async () => {
    const schema = uniqueSchema();
    try {
      const first = await open(schema, 2);
      await first.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't', name: 'n', points: [{ step: 0, rate: 1, distortion: 2 }], createdAt: new Date(1e12).toISOString(), metadata: {} });
      await first.close();
      // A version-4 schema holding a point whose step migration 5 cannot read as an integer.
      await admin.query(`ALTER TABLE "${schema}".rd_series DROP COLUMN point_count, DROP COLUMN point_bytes, DROP COLUMN next_step`);
      await admin.query(`ALTER TABLE "${schema}".traces DROP COLUMN flag_count, DROP COLUMN flag_bytes`);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 4`);
      await admin.query(`UPDATE "${schema}".rd_points SET data = jsonb_set(data, '{step}', '1.5')`);
      const s = new PostgresStorage({ url: URL, schema, poolSize: 2, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
      const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; details: unknown });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schema, migration: 5, migrationName: MIGRATIONS[4]!.name, schemaVersion: 4 } });
      expect(error!.message).toBe(`PostgreSQL migration 5 ("${MIGRATIONS[4]!.name}") of schema "${schema}" failed: invalid input syntax for type bigint: "1.5"; the schema was left at version 4`);
      await expect(s.createTrace(makeTrace('t', 'tr1', 's1'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      const { rows } = await admin.query(`SELECT max(version) AS v FROM "${schema}".schema_migrations`);
      expect(rows[0]).toEqual({ v: 4 });
      const columns = await admin.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND column_name IN ('point_count', 'flag_count')`, [schema]);
      expect(columns.rows).toEqual([]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('upgrades a schema of version 2 in place: a U+E000 stored as it was (before it escaped NUL) reads back unchanged', async () => {
    const schema = uniqueSchema();
    try {
      const first = await open(schema, 2);
      const text = 'private \uE000 use, \uE0000 and \uE000\uE000';
      await first.createSession(makeSession('t', 's1'));
      await first.close();
      // What version 2 stored: the character as it was, in a session, a trace and its flags.
      const trace = makeTrace('t', 'tr1', 's1', 1e12, { metadata: { text } });
      const flag = makeFlag('f1', 'tr1', 'Anomaly', { reason: text });
      const { flags: _f, ...data } = trace;
      await admin.query(`UPDATE "${schema}".sessions SET data = jsonb_set(data, '{name}', to_jsonb($1::text))`, [text]);
      await admin.query(`INSERT INTO "${schema}".traces (tenant, id, session_id, status, created_ms, data, flags) VALUES ('t', 'tr1', 's1', 'ok', 1000000000000, $1::jsonb, $2::jsonb)`, [JSON.stringify(data), JSON.stringify([flag])]);
      await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version > 2`);
      const upgraded = await open(schema, 2);
      try {
        expect(await upgraded.schemaVersion()).toBe(SCHEMA_VERSION);
        expect((await upgraded.getSession('t', 's1'))!.name).toBe(text);
        expect(await upgraded.getTrace('t', 'tr1')).toEqual({ ...trace, flags: [flag] });
      } finally {
        await upgraded.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('refuses at open a schema newer than it knows, naming the schema and both versions, and writes nothing', async () => {
    const schema = uniqueSchema();
    try {
      await (await open(schema, 2)).close();
      await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (99, 'future')`);
      const s = new PostgresStorage({ url: URL, schema, poolSize: 2, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
      const error = await s.open().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schemaVersion: 99, knownVersion: SCHEMA_VERSION } });
      expect(error!.message).toBe(`The PostgreSQL schema "${schema}" at ${redactUrl(URL)} has schema version 99; this plugin knows up to ${SCHEMA_VERSION}`);
      expect(error!.fix).toMatch(/Upgrade limit-graph/);
      await expect(s.createTrace(makeTrace('t', 'tr1', 's'))).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE' });
      const { rows } = await admin.query(`SELECT COUNT(*)::int AS n FROM "${schema}".traces`);
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      await dropSchema(schema);
    }
  });

  it('keeps one chain when two pools (two instances) append to one trace concurrently', async () => {
    const schema = uniqueSchema();
    const stores: Storage[] = [];
    try {
      stores.push(await open(schema, 4), await open(schema, 4));
      await stores[0]!.createTrace({ id: 'tr', sessionId: 's', tenant: 't', parentIds: [], runner: 'r', task: { input: 'x', kind: 'code' }, status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: {} });
      await Promise.all(stores.flatMap((s, k) => Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 50; i++) await s.appendProvenance('t', { traceId: 'tr', at: new Date().toISOString(), actor: `i${k}w${w}`, action: 'a' });
      })));
      expect(await stores[1]!.verifyProvenance('t', 'tr')).toEqual({ verified: true, length: 400, brokenAt: null });
    } finally {
      for (const s of stores) await s.close();
      await dropSchema(schema);
    }
  });

  it('commits concurrent batches of two instances that increment the same counters in opposite op orders', async () => {
    const schema = uniqueSchema();
    const stores: Storage[] = [];
    try {
      stores.push(await open(schema, 4), await open(schema, 4));
      // What governance writes for a recorded trace: the input evaluation's counters, then the output's.
      const ops = (first: string, second: string) => [
        { op: 'incrementCounters' as const, deltas: { [`decision.${first}`]: 1, evaluations: 1 } },
        { op: 'incrementCounters' as const, deltas: { [`decision.${second}`]: 1, evaluations: 1 } },
      ];
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.batch('t', i % 4 < 2 ? ops('allow', 'flag') : ops('flag', 'allow'))));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await stores[0]!.getCounters('t')).toEqual({ 'decision.allow': 40, 'decision.flag': 40, evaluations: 80 });
    } finally {
      for (const s of stores) await s.close();
      await dropSchema(schema);
    }
  });

  it("takes a batch's counter row locks once, in name order, whatever the order of its ops", async () => {
    const schema = uniqueSchema();
    const s = await open(schema, 2);
    await holding(schema, s, async (holder) => {
      await s.incrementCounters('t', { a: 1, b: 1 });
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".counters WHERE tenant = 't' AND name = 'b' FOR UPDATE`);
      // The batch names b first: in op order it would wait for b holding nothing; in name order it holds a.
      const batch = s.batch('t', [{ op: 'incrementCounters', deltas: { b: 1 } }, { op: 'incrementCounters', deltas: { a: 1 } }]);
      await waitForLockWait(`"${schema}".counters`);
      await expect(holder.query(`SELECT 1 FROM "${schema}".counters WHERE tenant = 't' AND name = 'a' FOR UPDATE NOWAIT`)).rejects.toMatchObject({ code: '55P03' });
      await holder.query('ROLLBACK');
      await batch;
      expect(await s.getCounters('t')).toEqual({ a: 2, b: 2 });
    });
  });

  it('runs a batch chosen as deadlock victim again, transparently', async () => {
    const schema = uniqueSchema();
    const s = await open(schema, 2);
    await holding(schema, s, async (holder) => {
      await s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'x', 's') }, { op: 'createTrace', trace: makeTrace('t', 'y', 's') }]);
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".traces WHERE tenant = 't' AND id = 'y' FOR UPDATE`);
      // The batch locks x, then waits for y; the holder then wants x: a deadlock. The batch waits
      // 300 ms longer, so its deadlock check (deadlock_timeout after it began waiting) runs first and
      // finds the cycle: the batch is the victim.
      const batch = s.batch('t', [{ op: 'updateTrace', id: 'x', patch: { metadata: { by: 'batch' } } }, { op: 'updateTrace', id: 'y', patch: { metadata: { by: 'batch' } } }]);
      await waitForLockWait(`"${schema}".traces`);
      await new Promise((r) => setTimeout(r, 300));
      await holder.query(`SELECT 1 FROM "${schema}".traces WHERE tenant = 't' AND id = 'x' FOR UPDATE`);
      await holder.query('ROLLBACK');
      await batch;
      expect((await s.getTrace('t', 'x'))!.metadata).toEqual({ by: 'batch' });
      expect((await s.getTrace('t', 'y'))!.metadata).toEqual({ by: 'batch' });
    });
  });

  it('reports an exhausted pool as LIMIT_STORAGE_UNAVAILABLE naming the server, poolSize and connectTimeoutMs', async () => {
    const schema = uniqueSchema();
    // A password in the URL (trust auth ignores it) must not reach the message.
    const url = URL.replace(/^(postgres(?:ql)?:\/\/)([^:@/]+)@/, '$1$2:hunter2@');
    const s = new PostgresStorage({ url, schema, poolSize: 1, connectTimeoutMs: 300, maxRecordBytes: 1 << 20 });
    await s.open();
    await holding(schema, s, async (holder) => {
      // The pool's one connection waits on a lock the holder keeps: the next call finds none free.
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".counters IN ACCESS EXCLUSIVE MODE`);
      const blocked = s.incrementCounters('t', { x: 1 });
      await waitForLockWait(`"${schema}".counters`);
      for (const call of [() => s.getTrace('t', 'any'), () => s.batch('t', [{ op: 'incrementCounters', deltas: { y: 1 } }]), () => s.updateTrace('t', 'any', { status: 'ok' })]) {
        const error = await call().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { server: redactUrl(url), schema, poolSize: 1, connectTimeoutMs: 300 } });
        expect(error!.message).toContain(`${redactUrl(url)} (schema "${schema}") came free within connectTimeoutMs (300 ms): all poolSize (1) connections are in use`);
        expect(error!.message).not.toContain('hunter2');
        expect(error!.fix).toMatch(/poolSize.*connectTimeoutMs/);
      }
      await holder.query('ROLLBACK');
      await blocked;
      expect(await s.getCounters('t')).toEqual({ x: 1 });
    });
  });

  it('a call waiting for a pooled connection when close() is called fails at once, not after connectTimeoutMs as "pool exhausted"', async () => {
    const schema = uniqueSchema();
    const s = new PostgresStorage({ url: URL, schema, poolSize: 1, connectTimeoutMs: 20_000, maxRecordBytes: 1 << 20 });
    await s.open();
    await holding(schema, s, async (holder) => {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".counters IN ACCESS EXCLUSIVE MODE`);
      const blocked = s.incrementCounters('t', { x: 1 }).then(() => null, (e: unknown) => e);
      await waitForLockWait(`"${schema}".counters`);
      const waiting = s.getTrace('t', 'any').then(() => null, (e: unknown) => e as Error & { code: string });
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const closing = s.close();
      const error = await waiting;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE' });
      expect(error!.message).toBe(`PostgreSQL storage (schema "${schema}") was closed while this call waited for a connection; nothing of it was stored`);
      // The call holding the connection finishes; close() waits for it.
      await holder.query('ROLLBACK');
      expect(await blocked).toBeNull();
      await closing;
    });
  });

  it('a connection killed mid-transaction (57P01) fails that call as LIMIT_STORAGE_UNAVAILABLE saying the server ended it, stores nothing of it, crashes nothing, and the pool recovers', async () => {
    const schema = uniqueSchema();
    const s = await open(schema, 2);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    await holding(schema, s, async (holder) => {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".counters IN ACCESS EXCLUSIVE MODE`);
      // The batch inserts its trace, then waits on the counters lock, inside its transaction.
      // Its outcome is taken at once: the batch may fail before pg_terminate_backend's own answer
      // arrives, and a rejection with no handler yet would be reported as unhandled.
      const batch = s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'a1', 's1') }, { op: 'incrementCounters', deltas: { x: 1 } }])
        .then(() => null, (e: unknown) => e as Error & { code: string; fix?: string });
      await waitForLockWait(`"${schema}".counters`);
      const { rows } = await admin.query(`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`, [`"${schema}".counters`]);
      expect(rows).toEqual([{ killed: true }]);
      const error = await batch;
      // Not "Cannot reach PostgreSQL": the server answered, ending the connection; a retry gets another.
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { sqlState: '57P01', schema } });
      expect(error!.message).toMatch(new RegExp(`^batch op 1 \\(incrementCounters\\): PostgreSQL at postgres://.* \\(schema "${schema}"\\) ended this call's connection \\(terminating connection due to administrator command, 57P01\\): nothing of the call was stored .*retry it$`));
      expect(error!.message).not.toContain('Cannot reach');
      expect(error!.fix).toMatch(/^Retry: .*pg_terminate_backend/);
      await holder.query('ROLLBACK');
      // pg emits 'error' on the dead client after failing its query; it must not reach the process.
      await new Promise((r) => setTimeout(r, 100));
      expect(uncaught).toEqual([]);
      // Nothing of the batch was stored, and the next calls get a live connection.
      expect(await s.getTrace('t', 'a1')).toBeNull();
      for (let i = 0; i < 3; i++) await s.incrementCounters('t', { x: 1 });
      expect(await s.getCounters('t')).toEqual({ x: 3 });
    }, async () => {
      process.off('uncaughtException', onUncaught);
    });
  });

  it('a connection dropped without a word (network, server crash) mid-transaction is LIMIT_STORAGE_UNAVAILABLE, not a raw pg error', async () => {
    const schema = uniqueSchema();
    // A loopback TCP relay to the server: destroying its sockets is a connection cut without an ErrorResponse.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((down) => {
      const up = net.connect(Number(new globalThis.URL(URL).port || 5432), new globalThis.URL(URL).hostname);
      for (const sock of [down, up]) { sockets.add(sock); sock.on('error', () => undefined); sock.on('close', () => sockets.delete(sock)); }
      down.pipe(up).pipe(down);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const relayed = new globalThis.URL(URL);
    relayed.hostname = '127.0.0.1';
    relayed.port = String((relay.address() as net.AddressInfo).port);
    const s = new PostgresStorage({ url: relayed.toString(), schema, poolSize: 2, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    await s.open();
    await holding(schema, s, async (holder) => {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".counters IN ACCESS EXCLUSIVE MODE`);
      const batch = s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'a1', 's1') }, { op: 'incrementCounters', deltas: { x: 1 } }]);
      await waitForLockWait(`"${schema}".counters`);
      for (const sock of sockets) sock.destroy();
      const error = await batch.then(() => null, (e: unknown) => e as Error & { code: string });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE' });
      expect(error!.message).toMatch(/Cannot reach PostgreSQL at postgres:\/\/.*: Connection terminated unexpectedly/);
      await holder.query('ROLLBACK');
      // The server rolls the cut transaction back: nothing of the batch is stored; the store reconnects.
      expect(await s.getTrace('t', 'a1')).toBeNull();
      expect(await s.getCounters('t')).toEqual({});
    }, async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => relay.close(r));
    });
  });

  it("turns TCP keepalive on for the pool's connections, so a peer gone silent between statements is found by the OS", async () => {
    const schema = uniqueSchema();
    // Calls through: the real socket gets the setting; the spy only records it.
    const spy = vi.spyOn(net.Socket.prototype, 'setKeepAlive');
    const s = new PostgresStorage({ url: URL, schema, poolSize: 1, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    try {
      await s.open();
      await s.getCounters('t');
      expect(spy.mock.calls).toContainEqual([true, 10_000]);
    } finally {
      spy.mockRestore();
      await s.close();
      await dropSchema(schema);
    }
  });

  it('a network gone silent mid-call (no RST/FIN: a black hole) fails the call within queryTimeoutMs as LIMIT_STORAGE_UNAVAILABLE and discards the connection', async () => {
    const schema = uniqueSchema();
    // A loopback TCP relay to the server that, while `silent`, drops what it is sent both ways and closes nothing;
    // `silentFrom` turns it silent at the first chunk from the client that contains the string.
    let silent = false;
    let silentFrom: string | undefined;
    const conns: { down: net.Socket; up: net.Socket; closed: boolean }[] = [];
    const target = new globalThis.URL(URL);
    const relay = net.createServer((down) => {
      const up = net.connect(Number(target.port || 5432), target.hostname);
      const conn = { down, up, closed: false };
      conns.push(conn);
      for (const [from, to] of [[down, up], [up, down]] as const) {
        from.on('error', () => undefined);
        from.on('close', () => { conn.closed = true; to.destroy(); });
        from.on('data', (chunk: Buffer) => {
          if (from === down && silentFrom !== undefined && chunk.includes(silentFrom)) silent = true;
          if (!silent) to.write(chunk);
        });
      }
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const relayed = new globalThis.URL(URL);
    relayed.hostname = '127.0.0.1';
    relayed.port = String((relay.address() as net.AddressInfo).port);
    relayed.password = 'hunter2';
    const queryTimeoutMs = 1_000;
    // One connection: a call given back the dead one would wait behind its unanswered statement.
    const s = new PostgresStorage({ url: relayed.toString(), schema, poolSize: 1, connectTimeoutMs: 10_000, queryTimeoutMs, maxRecordBytes: 1 << 20 });
    /** The call's outcome, or 'hung' when it has not settled within 5 s. */
    const settle = (p: Promise<unknown>) => Promise.race([
      p.then(() => 'ok' as const, (e: unknown) => e as Error & { code: string; details: Record<string, unknown> }),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5_000)),
    ]);
    try {
      await s.open();
      await s.incrementCounters('t', { x: 1 });
      const batch = () => s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'a1', 's1') }, { op: 'incrementCounters', deltas: { x: 1 } }]);
      // A plain call, a batch at its BEGIN, a batch at its second statement (after BEGIN and the first op).
      for (const [call, from] of [[() => s.getCounters('t'), ''], [batch, ''], [batch, '.counters']] as const) {
        const used = conns.filter((c) => !c.closed);
        expect(used).toHaveLength(1);
        silentFrom = from;
        const started = Date.now();
        const error = await settle(call());
        const elapsed = Date.now() - started;
        expect(error).not.toBe('hung');
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { schema, queryTimeoutMs } });
        expect(elapsed).toBeGreaterThanOrEqual(queryTimeoutMs - 20);
        // Within the bound, once: a ROLLBACK queued behind the unanswered statement would wait out another queryTimeoutMs.
        expect(elapsed).toBeLessThan(queryTimeoutMs * 1.8);
        const message = (error as Error).message;
        expect(message).toContain(`PostgreSQL at postgres://`);
        expect(message).toContain(`:${relayed.port}/`);
        expect(message).toContain(`(schema "${schema}") sent no reply within queryTimeoutMs (${queryTimeoutMs} ms)`);
        expect(message).not.toContain('hunter2');
        // The connection was ended, not pooled again.
        for (let i = 0; i < 100 && !used[0]!.closed; i++) await new Promise((r) => setTimeout(r, 10));
        expect(used[0]!.closed).toBe(true);
        // The network is back: the next call opens a new connection and succeeds.
        silent = false;
        silentFrom = undefined;
        expect(await settle(s.getCounters('t'))).toBe('ok');
      }
      expect(await s.getCounters('t')).toEqual({ x: 1 });
      expect(await s.getTrace('t', 'a1')).toBeNull();
    } finally {
      silent = false;
      await s.close();
      for (const c of conns) { c.down.destroy(); c.up.destroy(); }
      await new Promise((r) => relay.close(r));
      await dropSchema(schema);
    }
  });

  it('fails a call that waits lockTimeoutMs for a row another session holds FOR UPDATE as LIMIT_STORAGE_UNAVAILABLE, instead of hanging', async () => {
    const schema = uniqueSchema();
    const url = URL.replace(/^(postgres(?:ql)?:\/\/)([^:@/]+)@/, '$1$2:hunter2@');
    const s = new PostgresStorage({ url, schema, poolSize: 2, connectTimeoutMs: 10_000, lockTimeoutMs: 300, maxRecordBytes: 1 << 20 });
    await s.open();
    await holding(schema, s, async (holder) => {
      await s.createTrace(makeTrace('t', 'held', 's1', undefined, { status: 'running' }));
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".traces WHERE tenant = 't' AND id = 'held' FOR UPDATE`);
      const started = Date.now();
      for (const call of [() => s.updateTrace('t', 'held', { status: 'ok' }), () => s.addFlag('t', makeFlag('f1', 'held')), () => s.batch('t', [{ op: 'updateTrace', id: 'held', patch: { status: 'ok' } }])]) {
        const error = await call().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { server: redactUrl(url), schema, lockTimeoutMs: 300 } });
        expect(error!.message).toContain(`(schema "${schema}"): a row or table this call needs stayed locked by another transaction for lockTimeoutMs (300 ms)`);
        expect(error!.message).not.toContain('hunter2');
        expect(error!.fix).toMatch(/pg_locks.*lockTimeoutMs/);
      }
      expect(Date.now() - started).toBeLessThan(5_000);
      await holder.query('ROLLBACK');
      // Nothing of the failed calls was stored; once the lock is gone the same call succeeds.
      expect(await s.getTrace('t', 'held')).toMatchObject({ status: 'running', flags: [] });
      expect(await s.updateTrace('t', 'held', { status: 'ok' })).toMatchObject({ status: 'ok' });
    });
  });

  it('cancels a statement on the server once it runs past queryTimeoutMs (statement_timeout), as LIMIT_STORAGE_UNAVAILABLE', async () => {
    const schema = uniqueSchema();
    const queryTimeoutMs = 300;
    const s = new PostgresStorage({ url: URL, schema, poolSize: 1, connectTimeoutMs: 10_000, queryTimeoutMs, maxRecordBytes: 1 << 20 });
    await s.open();
    const app = s.applicationName;
    /** This store's connections: pid and what each runs now. */
    const connections = async () => (await admin.query<{ pid: number; state: string }>(`SELECT pid, state FROM pg_stat_activity WHERE application_name = $1`, [app])).rows;
    try {
      await s.incrementCounters('t', { x: 1 });
      // A runaway statement: every write to counters sleeps 30 s on the server.
      await admin.query(`CREATE FUNCTION "${schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$`);
      await admin.query(`CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON "${schema}".counters FOR EACH ROW EXECUTE FUNCTION "${schema}".slow()`);
      for (const call of [() => s.incrementCounters('t', { x: 1 }), () => s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'a1', 's1') }, { op: 'incrementCounters', deltas: { x: 1 } }])]) {
        const started = Date.now();
        const error = await call().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { schema, queryTimeoutMs, sqlState: '57014' } });
        expect(error!.message).toContain(`(schema "${schema}") cancelled a statement of this call after queryTimeoutMs (${queryTimeoutMs} ms) (canceling statement due to statement timeout); nothing of the call was stored`);
        expect(error!.fix).toMatch(/queryTimeoutMs/);
        // The server stopped it: no connection of this store still runs it.
        expect((await connections()).filter((c) => c.state !== 'idle')).toEqual([]);
      }
      await admin.query(`DROP TRIGGER slow ON "${schema}".counters`);
      expect(await s.getTrace('t', 'a1')).toBeNull();
      expect(await s.getCounters('t')).toEqual({ x: 1 });
    } finally {
      await s.close();
      await dropSchema(schema);
    }
  });

  it('a migration at open waiting lockTimeoutMs for a lock another session holds fails open, naming the migration and the session that held it', async () => {
    const schema = uniqueSchema();
    const s = await open(schema);
    await s.close();
    // Migrations 7 and 8 pending again: they read and update traces.
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version >= 7`);
    const late = new PostgresStorage({ url: URL, schema, poolSize: 2, connectTimeoutMs: 10_000, lockTimeoutMs: 300, maxRecordBytes: 1 << 20 });
    await holding(schema, late, async (holder) => {
      await holder.query(`SET application_name = 'holder_${schema}'`);
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".traces IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      const error = await Promise.race([
        late.open().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown }),
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5_000)),
      ]);
      expect(error).not.toBe('hung');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_MIGRATION_FAILED', details: { schema, migration: 7, schemaVersion: 6, lockTimeoutMs: 300 } });
      expect((error as Error).message).toContain(`PostgreSQL migration 7 ("flag and point bytes measured as JSON") of schema "${schema}" waited lockTimeoutMs (300 ms) for a lock another session holds`);
      expect((error as Error).message).toContain(`pid ${pid} (application_name 'holder_${schema}', idle in transaction) holds AccessExclusiveLock on ${schema}.traces`);
      expect((error as Error).message).toContain('the schema was left at version 6');
      expect((error as { fix: string }).fix).toMatch(/pg_locks.*lockTimeoutMs/);
      await holder.query('ROLLBACK');
      // Once the lock is gone the same store opens and migrates.
      await late.open();
      expect(await late.schemaVersion()).toBe(SCHEMA_VERSION);
    });
  });

  it('a start waiting for another instance frozen mid-migration goes on once the server ends that session (idleInTransactionTimeoutMs)', async () => {
    const schema = uniqueSchema();
    await (await open(schema)).close();
    // Migration 7 pending again; the first instance to run it freezes inside it (a process stopped
    // between two statements: its session idle in transaction, holding the migration lock).
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 7`);
    const m7 = MIGRATIONS.find((m) => m.version === 7)! as { backfill?: (typeof MIGRATIONS)[number]['backfill'] };
    const backfill = m7.backfill!;
    let thaw!: () => void;
    const thawed = new Promise<void>((r) => { thaw = r; });
    let froze!: () => void;
    const frozen = new Promise<void>((r) => { froze = r; });
    let first = true;
    m7.backfill = async (client, s) => {
      if (first) {
        first = false;
        froze();
        await thawed;
      }
      return backfill(client, s);
    };
    const config = { url: URL, schema, poolSize: 2, connectTimeoutMs: 10_000, idleInTransactionTimeoutMs: 1000, maxRecordBytes: 1 << 20 };
    const stuck = new PostgresStorage(config);
    const next = new PostgresStorage(config);
    try {
      const stuckOpen = stuck.open().then(() => null, (e: unknown) => e as Error & { code: string; fix: string; details: unknown });
      await frozen;
      // Before, the second start waited on the advisory lock as long as the frozen process lived.
      const started = Date.now();
      const opened = await Promise.race([next.open().then(() => 'open', (e: unknown) => e), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8_000))]);
      expect(opened).toBe('open');
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(await next.schemaVersion()).toBe(SCHEMA_VERSION);
      // The frozen instance, once it runs again, finds its session ended and its migration undone.
      thaw();
      const error = await stuckOpen;
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { schema, idleInTransactionTimeoutMs: 1000, sqlState: '25P03' } });
      expect(error!.message).toContain(`(schema "${schema}") ended the session of this call's transaction: it stayed idle in transaction past idleInTransactionTimeoutMs (1000 ms)`);
      expect(error!.fix).toMatch(/idleInTransactionTimeoutMs/);
      expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations WHERE version = 7`)).rows).toEqual([{ n: 1 }]);
    } finally {
      m7.backfill = backfill;
      thaw();
      await stuck.close();
      await next.close();
      await dropSchema(schema);
    }
  });

  it('idleInTransactionTimeoutMs: 60 s by default, 0 (the server\'s setting) or at least 1000 ms', () => {
    const parse = (v?: number) => StoragePostgresOptions.safeParse({ url: URL, ...(v === undefined ? {} : { idleInTransactionTimeoutMs: v }) });
    expect(parse().data?.idleInTransactionTimeoutMs).toBe(60_000);
    expect(parse(0).data?.idleInTransactionTimeoutMs).toBe(0);
    expect(parse(500).error?.issues[0]?.message).toBe("Expected 0 (the server's setting) or at least 1000 ms");
    expect(parse(-1).success).toBe(false);
    expect(parse(1.5).success).toBe(false);
  });

  it('opens a schema created for its role by a DBA, though the role may not create schemas in the database', async () => {
    const schema = uniqueSchema();
    const role = `${schema}_role`;
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
    const url = new globalThis.URL(URL);
    url.username = role;
    const s = new PostgresStorage({ url: url.toString(), schema, poolSize: 1, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    try {
      await s.open();
      await s.incrementCounters('t', { x: 1 });
      expect(await s.schemaVersion()).toBe(SCHEMA_VERSION);
      // Without the schema, CREATE on the database is needed: refused, naming the grant.
      const missing = new PostgresStorage({ url: url.toString(), schema: `${schema}_x`, poolSize: 1, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
      const error = await missing.open().then(() => null, (e: unknown) => e as Error & { code?: string; fix?: string });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { sqlState: '42501' } });
      expect(error!.fix).toMatch(/CREATE on the database while the schema is missing/);
    } finally {
      await s.close();
      await dropSchema(schema);
      await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    }
  });

  it('reports a role or server out of connection slots (53300) as LIMIT_STORAGE_UNAVAILABLE naming the limit, at open and at each call', async () => {
    const schema = uniqueSchema();
    const role = `${schema}_role`;
    await admin.query(`CREATE ROLE "${role}" LOGIN CONNECTION LIMIT 1`);
    await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
    const url = new globalThis.URL(URL);
    url.username = role;
    const make = (poolSize: number) => new PostgresStorage({ url: url.toString(), schema, poolSize, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    const expectNoSlot = (error: (Error & { code?: string; fix?: string }) | null) => {
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { server: url.toString(), schema, sqlState: '53300' } });
      expect(error!.message).toContain(`refused the operation: too many connections for role "${role}" (53300)`);
      expect(error!.fix).toMatch(/CONNECTION LIMIT.*poolSize/);
    };
    const s = make(2);
    const other = make(1);
    try {
      await s.open();
      // The role's one slot is held by s: another store cannot open, and a second connection of s is refused.
      expectNoSlot(await other.open().then(() => null, (e: unknown) => e as Error));
      const results = await Promise.allSettled([s.batch('t', [{ op: 'incrementCounters', deltas: { x: 1 } }]), s.getCounters('t')]);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(1);
      expectNoSlot((refused[0] as PromiseRejectedResult).reason as Error);
    } finally {
      await s.close();
      await other.close();
      await dropSchema(schema);
      await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    }
  });

  it('reports a server that cannot accept connections now (57P03: starting up, shutting down, in recovery) as LIMIT_STORAGE_UNAVAILABLE, to retry', async () => {
    // A server answering every startup with the FATAL a starting PostgreSQL sends.
    const fields = Buffer.from('SFATAL\0C57P03\0Mthe database system is starting up\0\0');
    const header = Buffer.alloc(5);
    header.write('E');
    header.writeInt32BE(fields.length + 4, 1);
    const server = net.createServer((socket) => socket.once('data', () => socket.end(Buffer.concat([header, fields]))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `postgres://u:hunter2@127.0.0.1:${(server.address() as net.AddressInfo).port}/db`;
    try {
      const error = await new PostgresStorage({ url, schema: 'limit', poolSize: 1, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 }).open().then(() => null, (e: unknown) => e as Error & { code?: string; fix?: string });
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { server: redactUrl(url), schema: 'limit', sqlState: '57P03' } });
      expect(error!.message).toContain('refused the operation: the database system is starting up (57P03)');
      expect(error!.message).not.toContain('hunter2');
      expect(error!.fix).toMatch(/starting up.*retry/i);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('keeps its connection pooled after a statement error (a duplicate id, a cancelled statement): no reconnect per refused call', async () => {
    const schema = uniqueSchema();
    const s = new PostgresStorage({ url: URL, schema, poolSize: 1, connectTimeoutMs: 10_000, queryTimeoutMs: 300, maxRecordBytes: 1 << 20 });
    const pids = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [s.applicationName])).rows.map((r) => r.pid);
    try {
      await s.open();
      await s.createSession(makeSession('t', 's1'));
      const before = await pids();
      expect(before).toHaveLength(1);
      await expect(s.createSession(makeSession('t', 's1'))).rejects.toMatchObject({ code: 'LIMIT_CONFLICT' });
      await admin.query(`CREATE FUNCTION "${schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$`);
      await admin.query(`CREATE TRIGGER slow BEFORE INSERT ON "${schema}".counters FOR EACH ROW EXECUTE FUNCTION "${schema}".slow()`);
      await expect(s.incrementCounters('t', { x: 1 })).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', details: { sqlState: '57014' } });
      expect(await s.getSession('t', 's1')).toMatchObject({ id: 's1' });
      expect(await pids()).toEqual(before);
    } finally {
      await s.close();
      await dropSchema(schema);
    }
  });

  it("names its connections in pg_stat_activity (application_name limit-graph:<schema>) unless the URL names them", async () => {
    const schema = uniqueSchema();
    const s = await open(schema, 2);
    const named = new PostgresStorage({ url: `${URL}${URL.includes('?') ? '&' : '?'}application_name=probe_${schema}`, schema, poolSize: 1, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    try {
      await named.open();
      await Promise.all([s.getCounters('t'), named.getCounters('t')]);
      const { rows } = await admin.query(`SELECT DISTINCT application_name FROM pg_stat_activity WHERE strpos(application_name, $1) > 0 ORDER BY 1`, [schema]);
      expect(s.applicationName).toBe(`limit-graph:${schema}`);
      expect(rows.map((r) => r.application_name)).toEqual([`limit-graph:${schema}`, `probe_${schema}`]);
    } finally {
      await s.close();
      await named.close();
      await dropSchema(schema);
    }
  });

  it('reports a read-only server (a standby after failover, default_transaction_read_only) as LIMIT_STORAGE_UNAVAILABLE at open and at each write', async () => {
    // A database of this test's own: its default_transaction_read_only reaches no one else's connections.
    const db = uniqueSchema();
    await admin.query(`CREATE DATABASE "${db}"`);
    const dbUrl = new globalThis.URL(URL);
    dbUrl.pathname = `/${db}`;
    const url = dbUrl.toString();
    const make = () => new PostgresStorage({ url, schema: 'limit', poolSize: 2, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    const s = make();
    try {
      await s.open();
      await s.createTrace(makeTrace('t', 'a', 's1'));
      expect(await s.health()).toMatchObject({ status: 'ok', checks: [{ name: 'query', status: 'ok' }, { name: 'writable', status: 'ok' }] });
      await admin.query(`ALTER DATABASE "${db}" SET default_transaction_read_only = on`);
      // Connections opened from now on are read-only: the pooled ones go, as in a failover.
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]);
      const expectReadOnly = (error: (Error & { code?: string; fix?: string; details?: unknown }) | null, statement: string) => {
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE', details: { server: url, schema: 'limit', sqlState: '25006' } });
        expect(error!.message).toContain(`PostgreSQL at ${url} (schema "limit") refused the operation: cannot execute ${statement} in a read-only transaction (25006)`);
        expect(error!.fix).toMatch(/read-only .*point DATABASE_URL at the primary/);
      };
      const write = async (call: () => Promise<unknown>) => {
        // The first call may meet a pooled connection the server just ended; the next ones open new ones.
        for (let i = 0; ; i++) {
          const error = await call().then(() => null, (e: unknown) => e as Error & { code?: string; details?: { sqlState?: string } });
          if (i < 2 && error && (!error.details?.sqlState || error.details.sqlState === '57P01')) continue;
          return error;
        }
      };
      expectReadOnly(await write(() => s.createTrace(makeTrace('t', 'b', 's1'))), 'INSERT');
      const batchError = await write(() => s.batch('t', [{ op: 'createTrace', trace: makeTrace('t', 'c', 's1') }]));
      expectReadOnly(batchError, 'INSERT');
      expect(batchError!.message).toMatch(/^batch op 0 \(createTrace\): PostgreSQL at /);
      const runError = await s.batch('t', [{ op: 'incrementCounters', deltas: { y: 1 } }, { op: 'createTrace', trace: makeTrace('t', 'd', 's1') }, { op: 'createTrace', trace: makeTrace('t', 'e', 's1') }]).then(() => null, (e: unknown) => e as Error);
      expect(runError!.message).toMatch(/^batch ops 1–2 \(createTrace\): PostgreSQL at /);
      expectReadOnly(await write(() => s.incrementCounters('t', { x: 1 })), 'INSERT');
      expect(await s.getTrace('t', 'a')).toMatchObject({ id: 'a' });
      // Not ready: health fails (GET /ready answers 503), naming the cause.
      const health = await s.health();
      expect(health).toMatchObject({ status: 'fail', checks: [{ name: 'query', status: 'ok' }, { name: 'writable', status: 'fail' }] });
      expect(health.message).toBe(`PostgreSQL ${url} schema "limit" (v${SCHEMA_VERSION}) is read-only (a hot standby, or default_transaction_read_only): writes fail; point DATABASE_URL at the primary, writable server`);
      // A store opening on it is refused the same way, naming no migration and no made-up version.
      const error = await make().open().then(() => null, (e: unknown) => e as Error & { code?: string });
      // (The schema exists: the first statement refused creates the migrations table.)
      expectReadOnly(error, 'CREATE TABLE');
    } finally {
      await s.close();
      await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    }
  });

  it('reports its database dropped while open as LIMIT_STORAGE_UNAVAILABLE naming the database, on every call', async () => {
    const db = uniqueSchema();
    await admin.query(`CREATE DATABASE "${db}"`);
    const dbUrl = new globalThis.URL(URL);
    dbUrl.pathname = `/${db}`;
    const s = new PostgresStorage({ url: dbUrl.toString(), schema: 'limit', poolSize: 2, connectTimeoutMs: 10_000, maxRecordBytes: 1 << 20 });
    try {
      await s.open();
      await s.createTrace(makeTrace('t', 'a', 's1'));
      await admin.query(`DROP DATABASE "${db}" WITH (FORCE)`);
      for (let i = 0; i < 3; i++) {
        // The pooled connections were ended (57P01); new ones are refused (3D000): both unavailable, never a raw pg error.
        const error = await s.getTrace('t', 'a').then(() => null, (e: unknown) => e as Error & { code?: string });
        expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_UNAVAILABLE' });
        if (i > 0) expect(error!.message).toBe(`Cannot reach PostgreSQL at ${dbUrl.toString()}: database "${db}" does not exist`);
      }
    } finally {
      await s.close();
      await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    }
  });

  it('stores a 1,000-trace batch with one multi-row insert and reports which id conflicted', async () => {
    const schema = uniqueSchema();
    const s = await open(schema);
    try {
      const trace = (i: number) => ({ id: `b${i}`, sessionId: 's', tenant: 't', parentIds: [], runner: 'r', task: { input: 'x', kind: 'code' as const }, status: 'ok' as const, flags: [], createdAt: new Date(1e12 + i).toISOString(), metadata: {} });
      await s.batch('t', Array.from({ length: 1000 }, (_, i) => ({ op: 'createTrace' as const, trace: trace(i) })));
      expect((await s.listTraces('t', { limit: 1000 })).items).toHaveLength(1000);
      await expect(s.batch('t', [{ op: 'createTrace', trace: trace(5000) }, { op: 'createTrace', trace: trace(7) }])).rejects.toMatchObject({
        code: 'LIMIT_CONFLICT',
        message: expect.stringContaining('"b7"'),
      });
      expect(await s.getTrace('t', 'b5000')).toBeNull();
    } finally {
      await s.close();
      await dropSchema(schema);
    }
  });

  it('refuses half a surrogate pair (which JSONB cannot hold) as LIMIT_VALIDATION, not a raw driver error', async () => {
    const schema = uniqueSchema();
    const s = await open(schema);
    try {
      const trace = { id: 'h1', sessionId: 's', tenant: 't', parentIds: [], runner: 'r', task: { input: 'half a pair: \ud83d', kind: 'code' as const }, status: 'ok' as const, flags: [], createdAt: new Date().toISOString(), metadata: {} };
      await expect(s.createTrace(trace)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringContaining('half a surrogate pair') });
      expect(await s.getTrace('t', 'h1')).toBeNull();
      await s.createTrace({ ...trace, task: { ...trace.task, input: 'a whole pair: \ud83d\ude80' } });
      expect((await s.getTrace('t', 'h1'))!.task.input).toBe('a whole pair: 🚀');
    } finally {
      await s.close();
      await dropSchema(schema);
    }
  });
});

describe('storage-postgres across processes', () => {
  it('three processes appending to one trace build one gapless, verifying chain', async () => {
    const schema = uniqueSchema();
    try {
      const result = await multiProcessProvenance({ plugin: 'storage-postgres', options: { url: URL, schema, poolSize: 4 } }, { processes: 3, appendsEach: 100 });
      expect(result.seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(result.verification).toEqual({ verified: true, length: 300, brokenAt: null });
      expect(result.perWriter).toEqual({ 'process-0': 100, 'process-1': 100, 'process-2': 100 });
      // Every round of 5 appends was released to the 3 writers at once: 20 races, each round one block
      // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
      expect(result.rounds).toEqual({ writersPerRound: Array(20).fill(3), ordered: true });
      expect(result.switches).toBeGreaterThanOrEqual(2 * 20);
    } finally {
      await dropSchema(schema);
    }
  });

  it('three processes appending RD points without step to one series give every point its own step, consecutive', async () => {
    const schema = uniqueSchema();
    try {
      // Before, the orchestrator read the largest step and then appended: two processes could both store the same step.
      const result = await multiProcessRdSteps({ plugin: 'storage-postgres', options: { url: URL, schema, poolSize: 4 } }, { processes: 3, appendsEach: 60 });
      expect(result.steps).toEqual(Array.from({ length: 180 }, (_, i) => i));
      expect(result.perWriter).toEqual({ 'process-0': 60, 'process-1': 60, 'process-2': 60 });
      // Every round of 5 appends was released to the 3 writers at once: 12 races, each round one block
      // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
      expect(result.rounds).toEqual({ writersPerRound: Array(12).fill(3), ordered: true });
      expect(result.switches).toBeGreaterThanOrEqual(2 * 12);
    } finally {
      await dropSchema(schema);
    }
  });

  it('keeps every acknowledged write of a writer killed with SIGKILL', async () => {
    const schema = uniqueSchema();
    try {
      const result = await crashTest({ plugin: 'storage-postgres', options: { url: URL, schema, poolSize: 2 } }, { minAcks: 100 });
      expect(result.missing).toEqual([]);
      expect(result.verification.verified).toBe(true);
      expect(result.verification.length).toBeGreaterThanOrEqual(result.acknowledged.length);
      expect(result.counter).toBeGreaterThanOrEqual(result.acknowledged.length);
    } finally {
      await dropSchema(schema);
    }
  });
});

describe('storage-postgres: a stored row that is not a record (null, a number, an array, a string)', () => {
  /** Rejects with LIMIT_STORAGE_CORRUPT naming the table and the row. */
  const corrupt = async (call: Promise<unknown>, table: string, row: Record<string, string | number>, value: string) => {
    const error = await call.then(() => null, (e: unknown) => e as Error & { code?: string; details?: Record<string, unknown>; fix?: string });
    expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_STORAGE_CORRUPT', details: { table, row } });
    expect(error!.message).toContain(`is not ${table === 'traces' && value.startsWith('flags:') ? 'an array of JSON objects' : 'a JSON object'}: ${value.replace(/^flags:/, '')} (table ${table}, ${Object.entries(row).map(([c, v]) => `${c} ${JSON.stringify(v)}`).join(', ')})`);
    expect(error!.fix).toContain(`FROM "`);
  };

  it('is LIMIT_STORAGE_CORRUPT naming the table and the row at every read, and is never written over', async () => {
    const schema = uniqueSchema();
    const s = await open(schema, 2);
    const q = (sql: string) => admin.query(sql.replaceAll('{s}', `"${schema}"`));
    try {
      for (const id of ['s1', 's2', 's3', 's4']) await s.createSession(makeSession('t', id));
      for (const id of ['a', 'b', 'c', 'd', 'e']) await s.createTrace(makeTrace('t', id, 's1'));
      await s.appendProvenance('t', makeProvenance('a', 0));
      await s.appendProvenance('t', makeProvenance('a', 1));
      await s.addFlag('t', makeFlag('f1', 'a'));
      await s.addCheckpoint('t', { traceId: 'a', label: 'c', passed: true, details: {}, at: new Date(1e12).toISOString() });
      await s.setQuarantine('t', { traceId: 'a', quarantined: true, reason: 'r', actor: 'x', at: new Date(1e12).toISOString() });
      const rd = (id: string) => ({ id, sessionId: 's1', tenant: 't', name: 'n', points: [{ step: 0, rate: 1, distortion: 2 }, { step: 1, rate: 2, distortion: 1 }], createdAt: new Date(1e12).toISOString(), metadata: {} });
      await s.createRdSeries(rd('rd1'));
      await s.createRdSeries(rd('rd2'));

      // sessions: null, 42, [1,2], "x".
      await q(`UPDATE {s}.sessions SET data = 'null'::jsonb WHERE id = 's1'`);
      await q(`UPDATE {s}.sessions SET data = '42'::jsonb WHERE id = 's2'`);
      await q(`UPDATE {s}.sessions SET data = '[1,2]'::jsonb WHERE id = 's3'`);
      await q(`UPDATE {s}.sessions SET data = '"x"'::jsonb WHERE id = 's4'`);
      await corrupt(s.getSession('t', 's1'), 'sessions', { tenant: 't', id: 's1' }, 'null');
      await corrupt(s.getSession('t', 's2'), 'sessions', { tenant: 't', id: 's2' }, '42');
      await corrupt(s.getSession('t', 's3'), 'sessions', { tenant: 't', id: 's3' }, '[1,2]');
      await corrupt(s.getSession('t', 's4'), 'sessions', { tenant: 't', id: 's4' }, '"x"');
      // Newest first by created_ms, then id: s4 is the first row of the page.
      await corrupt(s.listSessions('t'), 'sessions', { tenant: 't', id: 's4' }, '"x"');
      await corrupt(s.closeSession('t', 's1', new Date(2e12).toISOString()), 'sessions', { tenant: 't', id: 's1' }, 'null');
      expect((await q(`SELECT data FROM {s}.sessions WHERE id = 's1'`)).rows[0].data).toBeNull();

      // traces: data null, [1,2], 42, "x"; a flags column that is not an array of records.
      await q(`UPDATE {s}.traces SET data = 'null'::jsonb WHERE id = 'a'`);
      await q(`UPDATE {s}.traces SET data = '[1,2]'::jsonb WHERE id = 'b'`);
      await q(`UPDATE {s}.traces SET data = '42'::jsonb WHERE id = 'c'`);
      await q(`UPDATE {s}.traces SET data = '"x"'::jsonb WHERE id = 'd'`);
      await q(`UPDATE {s}.traces SET flags = '[1,2]'::jsonb WHERE id = 'e'`);
      await corrupt(s.getTrace('t', 'a'), 'traces', { tenant: 't', id: 'a' }, 'null');
      await corrupt(s.getTrace('t', 'b'), 'traces', { tenant: 't', id: 'b' }, '[1,2]');
      await corrupt(s.getTrace('t', 'c'), 'traces', { tenant: 't', id: 'c' }, '42');
      await corrupt(s.getTrace('t', 'd'), 'traces', { tenant: 't', id: 'd' }, '"x"');
      await corrupt(s.getTrace('t', 'e'), 'traces', { tenant: 't', id: 'e' }, 'flags:[1,2]');
      await corrupt(s.listTraces('t'), 'traces', { tenant: 't', id: 'e' }, 'flags:[1,2]');
      // Neither updateTrace nor a batch's updateTrace writes over a damaged row.
      await corrupt(s.updateTrace('t', 'a', { status: 'error' }), 'traces', { tenant: 't', id: 'a' }, 'null');
      const batch = await s.batch('t', [{ op: 'updateTrace', id: 'c', patch: { status: 'error' } }]).then(() => null, (e: unknown) => e as Error & { code?: string });
      expect(batch).toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT' });
      expect(batch!.message).toMatch(/^batch op 0 \(updateTrace\): .*is not a JSON object: 42 \(table traces, tenant "t", id "c"\)/);
      expect((await q(`SELECT id, status, data FROM {s}.traces WHERE id IN ('a', 'c') ORDER BY id`)).rows).toEqual([{ id: 'a', status: 'ok', data: null }, { id: 'c', status: 'ok', data: 42 }]);

      // A flags column that is not an array is not appended to (null || [flag] would be NULL).
      await q(`UPDATE {s}.traces SET flags = '42'::jsonb WHERE id = 'b'`);
      await corrupt(s.addFlag('t', makeFlag('f2', 'b')), 'traces', { tenant: 't', id: 'b' }, 'flags:42');
      await q(`UPDATE {s}.traces SET flags = 'null'::jsonb WHERE id = 'd'`);
      await corrupt(s.addFlag('t', makeFlag('f3', 'd')), 'traces', { tenant: 't', id: 'd' }, 'flags:null');
      expect((await q(`SELECT id, flags, flag_count FROM {s}.traces WHERE id IN ('b', 'd') ORDER BY id`)).rows).toEqual([{ id: 'b', flags: 42, flag_count: 0 }, { id: 'd', flags: null, flag_count: 0 }]);
      expect((await q(`SELECT count(*)::int AS n FROM {s}.flags WHERE id IN ('f2', 'f3')`)).rows[0].n).toBe(0);

      // provenance, flags, checkpoints, quarantine.
      await q(`UPDATE {s}.provenance SET data = '"x"'::jsonb WHERE seq = 1`);
      await corrupt(s.listProvenance('t', 'a'), 'provenance', { tenant: 't', trace_id: 'a', seq: 1 }, '"x"');
      await corrupt(s.verifyProvenance('t', 'a'), 'provenance', { tenant: 't', trace_id: 'a', seq: 1 }, '"x"');
      await q(`UPDATE {s}.flags SET data = 'null'::jsonb`);
      await corrupt(s.listFlags('t', { traceId: 'a' }), 'flags', { tenant: 't', id: 'f1' }, 'null');
      await q(`UPDATE {s}.checkpoints SET data = '[1,2]'::jsonb`);
      const { rows: [cp] } = await q(`SELECT seq::int AS seq FROM {s}.checkpoints`);
      await corrupt(s.listCheckpoints('t', 'a'), 'checkpoints', { tenant: 't', trace_id: 'a', seq: cp.seq }, '[1,2]');
      await q(`UPDATE {s}.quarantine SET data = '42'::jsonb`);
      await corrupt(s.getQuarantine('t', 'a'), 'quarantine', { tenant: 't', trace_id: 'a' }, '42');
      await corrupt(s.listQuarantined('t'), 'quarantine', { tenant: 't', trace_id: 'a' }, '42');

      // RD series: the series row, and one of its points (named by its own row).
      await q(`UPDATE {s}.rd_series SET data = 'null'::jsonb WHERE id = 'rd1'`);
      await corrupt(s.getRdSeriesSummary('t', 'rd1'), 'rd_series', { tenant: 't', id: 'rd1' }, 'null');
      await corrupt(s.getRdSeries('t', 'rd1'), 'rd_series', { tenant: 't', id: 'rd1' }, 'null');
      await corrupt(s.listRdSeries('t'), 'rd_series', { tenant: 't', id: 'rd1' }, 'null');
      await q(`UPDATE {s}.rd_series SET data = '[1,2]'::jsonb WHERE id = 'rd1'`);
      await corrupt(s.getRdSeries('t', 'rd1'), 'rd_series', { tenant: 't', id: 'rd1' }, '[1,2]');
      await q(`UPDATE {s}.rd_series SET data = '{"id":"rd1","sessionId":"s1","tenant":"t","name":"n","createdAt":"2001-09-09T01:46:40.000Z","metadata":{}}'::jsonb WHERE id = 'rd1'`);
      const { rows: [point] } = await q(`SELECT max(seq)::int AS seq FROM {s}.rd_points WHERE series_id = 'rd2'`);
      await q(`UPDATE {s}.rd_points SET data = '42'::jsonb WHERE seq = ${point.seq}`);
      await corrupt(s.getRdSeries('t', 'rd2'), 'rd_points', { tenant: 't', series_id: 'rd2', seq: point.seq }, '42');
      await corrupt(s.listRdSeries('t'), 'rd_points', { tenant: 't', series_id: 'rd2', seq: point.seq }, '42');
      // The other records stay readable.
      expect(await s.getRdSeries('t', 'rd1')).toMatchObject({ id: 'rd1', points: [{ step: 0 }, { step: 1 }] });
      expect(await s.getTrace('t', 'e').catch(() => null)).toBeNull();
      await q(`UPDATE {s}.traces SET flags = '[]'::jsonb WHERE id = 'e'`);
      expect(await s.getTrace('t', 'e')).toMatchObject({ id: 'e', flags: [] });
    } finally {
      await s.close();
      await dropSchema(schema);
    }
  });
});
