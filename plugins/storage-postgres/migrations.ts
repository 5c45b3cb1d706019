/**
 * Schema migrations, applied in order, each once (recorded in schema_migrations), under an advisory
 * lock so that several API instances starting together apply each exactly once. `{s}` is replaced by
 * the quoted schema name. Never edit a shipped migration: add a new one.
 *
 * Ids use COLLATE "C" so that the database orders them by code unit, exactly as the cursors (and the
 * other backends) do; the database's default collation would order "a-b" and "ab" differently.
 */
import type pg from 'pg';
import { flagsBytes, rdPointsBytes, type Flag, type RdPoint, type SqlMigration } from 'limit-graph';
import { parseStoredJson } from './nul.ts';

/**
 * A migration of this backend: its `sql`, then (in the same transaction, under the same lock) its
 * `backfill`, for work SQL cannot express — measuring stored JSON exactly as the kernel does.
 */
export interface PgMigration extends SqlMigration {
  backfill?: (client: pg.PoolClient, schema: string) => Promise<void>;
}

/** Rows read, and rows updated, per round trip of a backfill, at most. */
const BACKFILL_BATCH = 1000;

/**
 * Stored JSON text a backfill reads per round trip, at most (a row larger than this is read
 * alone): rows can be large — one trace's flags up to 4 × maxRecordBytes (16 MiB by default), one
 * point up to maxRecordBytes — so BACKFILL_BATCH rows alone would not bound the memory.
 */
export const BACKFILL_BYTES = 32 * 1024 * 1024;

/**
 * Sets each row's `column` to the UTF-8 bytes of its items' JSON as JSON.stringify writes it (what
 * every write since the column exists adds, and what the kernel limits measure): `select` yields
 * (tenant, id, data) ordered by (tenant, id), `measure` gives the bytes of one stored JSON text. Reads
 * through a cursor, at most `maxBytes` of text (or one larger row) and BACKFILL_BATCH rows per FETCH,
 * and writes each batch of finished rows at once, so memory stays bounded whatever the store holds;
 * rows whose total is already right are not written (a NULL one is).
 */
export async function remeasure(
  client: pg.PoolClient, table: string, column: string, select: string, measure: (text: string) => number, maxBytes = BACKFILL_BYTES,
): Promise<void> {
  // Rows per FETCH: the byte budget over the largest row's text (measured first, in the server).
  const { rows: [largest] } = await client.query<{ n: number | string | null }>(`SELECT max(octet_length(data)) AS n FROM (${select}) q`);
  const perFetch = Math.max(1, Math.min(BACKFILL_BATCH, Math.floor(maxBytes / Math.max(1, Number(largest?.n ?? 0)))));
  let done: { tenant: string; id: string; bytes: number }[] = [];
  let open: { tenant: string; id: string; bytes: number } | undefined;
  const flush = async () => {
    if (done.length === 0) return;
    const chunk = done;
    done = [];
    await client.query(
      `UPDATE ${table} t SET ${column} = u.b FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(tenant, id, b)
       WHERE t.tenant = u.tenant AND t.id = u.id AND t.${column} IS DISTINCT FROM u.b`,
      [chunk.map((e) => e.tenant), chunk.map((e) => e.id), chunk.map((e) => e.bytes)],
    );
  };
  await client.query(`DECLARE limit_remeasure NO SCROLL CURSOR FOR ${select}`);
  for (;;) {
    const { rows } = await client.query<{ tenant: string; id: string; data: string }>(`FETCH ${perFetch} FROM limit_remeasure`);
    for (const r of rows) {
      if (!open || open.tenant !== r.tenant || open.id !== r.id) {
        if (open) done.push(open);
        open = { tenant: r.tenant, id: r.id, bytes: 0 };
      }
      open.bytes += measure(r.data);
    }
    if (done.length >= BACKFILL_BATCH) await flush();
    if (rows.length < perFetch) break;
  }
  await client.query('CLOSE limit_remeasure');
  if (open) done.push(open);
  await flush();
}

export const MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE {s}.sessions (
        tenant text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, status text NOT NULL, created_ms bigint NOT NULL, data jsonb NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX sessions_by_time ON {s}.sessions (tenant, created_ms DESC, id DESC);

      CREATE TABLE {s}.traces (
        tenant text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, session_id text COLLATE "C" NOT NULL, status text NOT NULL,
        created_ms bigint NOT NULL, data jsonb NOT NULL, flags jsonb NOT NULL DEFAULT '[]'::jsonb,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX traces_by_time ON {s}.traces (tenant, created_ms DESC, id DESC);
      CREATE INDEX traces_by_session ON {s}.traces (tenant, session_id, created_ms DESC, id DESC);
      CREATE INDEX traces_by_status ON {s}.traces (tenant, status, created_ms DESC, id DESC);

      CREATE TABLE {s}.flags (
        seq bigserial PRIMARY KEY, tenant text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, trace_id text COLLATE "C" NOT NULL,
        kind text NOT NULL, data jsonb NOT NULL,
        UNIQUE (tenant, id)
      );
      CREATE INDEX flags_by_kind ON {s}.flags (tenant, kind, trace_id);
      CREATE INDEX flags_by_trace ON {s}.flags (tenant, trace_id);

      CREATE TABLE {s}.checkpoints (seq bigserial PRIMARY KEY, tenant text COLLATE "C" NOT NULL, trace_id text COLLATE "C" NOT NULL, data jsonb NOT NULL);
      CREATE INDEX checkpoints_by_trace ON {s}.checkpoints (tenant, trace_id);

      CREATE TABLE {s}.quarantine (
        tenant text COLLATE "C" NOT NULL, trace_id text COLLATE "C" NOT NULL, quarantined boolean NOT NULL, data jsonb NOT NULL,
        PRIMARY KEY (tenant, trace_id)
      );

      -- The primary key is what keeps concurrent appenders (on any connection of any instance) from
      -- forking a chain: two writers that read the same head cannot both insert its successor.
      CREATE TABLE {s}.provenance (
        tenant text COLLATE "C" NOT NULL, trace_id text COLLATE "C" NOT NULL, seq integer NOT NULL, hash text NOT NULL, data jsonb NOT NULL,
        PRIMARY KEY (tenant, trace_id, seq)
      );

      CREATE TABLE {s}.rd_series (
        ord bigserial, tenant text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, session_id text COLLATE "C" NOT NULL, data jsonb NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX rd_series_by_session ON {s}.rd_series (tenant, session_id);
      CREATE TABLE {s}.rd_points (seq bigserial PRIMARY KEY, tenant text COLLATE "C" NOT NULL, series_id text COLLATE "C" NOT NULL, data jsonb NOT NULL);
      CREATE INDEX rd_points_by_series ON {s}.rd_points (tenant, series_id);

      CREATE TABLE {s}.counters (
        tenant text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL, value double precision NOT NULL,
        PRIMARY KEY (tenant, name)
      );
    `,
  },
  {
    version: 2,
    name: 'drop unused rd_series.ord',
    // Series are listed by (createdAt, id) from their data, as on every backend; the insertion
    // counter that version 1 created was never read.
    sql: `ALTER TABLE {s}.rd_series DROP COLUMN IF EXISTS ord;`,
  },
  {
    version: 3,
    name: 'escape U+E000 in stored JSON',
    // From here on U+E000 escapes NUL inside stored strings (nul.ts): one already stored stands for
    // itself, so it is doubled. Rows without it are not touched.
    sql: ['sessions', 'traces', 'flags', 'checkpoints', 'quarantine', 'provenance', 'rd_series', 'rd_points']
      .map((table) => `UPDATE {s}.${table} SET data = replace(data::text, U&'\\E000', U&'\\E000\\E000')::jsonb WHERE strpos(data::text, U&'\\E000') > 0;`)
      .concat(`UPDATE {s}.traces SET flags = replace(flags::text, U&'\\E000', U&'\\E000\\E000')::jsonb WHERE strpos(flags::text, U&'\\E000') > 0;`)
      .join('\n'),
  },
  {
    version: 4,
    name: 'stored JSON size of traces and sessions',
    // A page of a listing is bounded by bytes as well as by count (kernel PageBuilder): the size of
    // each row, kept by the server on every write, lets the listing query sum sizes without
    // converting or sending the records it leaves for the next page.
    sql: `
      ALTER TABLE {s}.traces ADD COLUMN IF NOT EXISTS bytes bigint GENERATED ALWAYS AS (octet_length(data::text) + octet_length(flags::text)) STORED;
      ALTER TABLE {s}.sessions ADD COLUMN IF NOT EXISTS bytes bigint GENERATED ALWAYS AS (octet_length(data::text)) STORED;
    `,
  },
  {
    version: 5,
    name: 'RD series point count, bytes and next step',
    // A series' points are bounded by count and bytes (kernel MAX_RD_POINTS, maxRdPointsBytes): the
    // totals live on the series row, so an append checks and updates them under the row lock it
    // takes anyway, without reading a point. Existing points are measured as jsonb text.
    sql: `
      ALTER TABLE {s}.rd_series ADD COLUMN IF NOT EXISTS point_count integer NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS point_bytes bigint NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS next_step bigint NOT NULL DEFAULT 0;
      UPDATE {s}.rd_series s SET point_count = p.n, point_bytes = p.b, next_step = p.m + 1
        FROM (SELECT tenant, series_id, count(*) AS n, sum(octet_length(data::text)) AS b, max((data->>'step')::bigint) AS m
              FROM {s}.rd_points GROUP BY tenant, series_id) p
        WHERE s.tenant = p.tenant AND s.id = p.series_id;
    `,
  },
  {
    version: 6,
    name: 'flag count and bytes of traces',
    // A trace's flags are bounded by count and bytes (kernel MAX_FLAGS_PER_TRACE, maxTraceFlagsBytes):
    // the totals live on the trace row, so an add checks and updates them in the UPDATE that appends
    // the flag, under its row lock, without reading a flag. Existing flags are measured as jsonb text.
    sql: `
      ALTER TABLE {s}.traces ADD COLUMN IF NOT EXISTS flag_count integer NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS flag_bytes bigint NOT NULL DEFAULT 0;
      UPDATE {s}.traces t SET flag_count = f.n, flag_bytes = f.b
        FROM (SELECT tenant, trace_id, count(*) AS n, sum(octet_length(data::text)) AS b FROM {s}.flags GROUP BY tenant, trace_id) f
        WHERE t.tenant = f.tenant AND t.id = f.trace_id;
    `,
  },
  {
    version: 7,
    name: 'flag and point bytes measured as JSON',
    // Migrations 5 and 6 measured the points and flags already stored as jsonb text — a space after
    // every ':' and ',', keys reordered, NUL and U+E000 as stored (nul.ts) — which overstates them
    // (10–30 %) against what every later write adds and the kernel limits measure: the UTF-8 bytes of
    // JSON.stringify. Each total is measured again from the records themselves (a trace's flags as
    // getTrace returns them, a series' points), so upgraded and new stores hold the same totals.
    sql: '',
    backfill: async (client, s) => {
      await remeasure(client, `${s}.traces`, 'flag_bytes',
        `SELECT tenant, id, flags::text AS data FROM ${s}.traces WHERE flag_count > 0 ORDER BY tenant, id`,
        (text) => flagsBytes(parseStoredJson(text) as Flag[]));
      await remeasure(client, `${s}.rd_series`, 'point_bytes',
        `SELECT tenant, series_id AS id, data::text AS data FROM ${s}.rd_points ORDER BY tenant, series_id`,
        (text) => rdPointsBytes([parseStoredJson(text) as RdPoint]));
    },
  },
  {
    version: 8,
    name: 'trace and session bytes measured as JSON',
    // Migration 4 sized listed rows by their jsonb text, which a NUL makes shorter than the JSON a
    // page returns (6 bytes as \u0000, 4 stored, nul.ts): a page of such records passed maxBytes. Each
    // write now stores the UTF-8 bytes of its record's JSON in `data_bytes`, as every backend measures
    // a page — a trace's without its flags (a listing adds the flags array: flag_bytes, brackets and
    // commas) — and the rows already stored are measured from their records.
    // Instances of the previous release may still run on this schema (a rolling upgrade): they list by
    // the generated `bytes` of migration 4, and insert and update rows without data_bytes. So `bytes`
    // stays (a later release may drop it, once no instance older than this migration can run), and
    // data_bytes is NULL wherever it is not known: unset by an insert, and set NULL by the trigger
    // below when an update changes `data` but not data_bytes — a listing then counts that row's
    // `bytes`, as before (an update of ours whose new size equals the old one falls back the same way).
    // Adding a nullable column without a default rewrites no row; the backfill updates rows in
    // batches, but under the ALTER TABLEs' locks, held to the migration's commit (README).
    sql: `
      ALTER TABLE {s}.traces ADD COLUMN IF NOT EXISTS data_bytes bigint;
      ALTER TABLE {s}.sessions ADD COLUMN IF NOT EXISTS data_bytes bigint;
      CREATE OR REPLACE FUNCTION {s}.data_bytes_unknown() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.data_bytes := NULL; RETURN NEW; END $$;
      DROP TRIGGER IF EXISTS data_bytes_unknown ON {s}.traces;
      CREATE TRIGGER data_bytes_unknown BEFORE UPDATE OF data ON {s}.traces FOR EACH ROW
        WHEN (NEW.data IS DISTINCT FROM OLD.data AND NEW.data_bytes IS NOT DISTINCT FROM OLD.data_bytes) EXECUTE FUNCTION {s}.data_bytes_unknown();
      DROP TRIGGER IF EXISTS data_bytes_unknown ON {s}.sessions;
      CREATE TRIGGER data_bytes_unknown BEFORE UPDATE OF data ON {s}.sessions FOR EACH ROW
        WHEN (NEW.data IS DISTINCT FROM OLD.data AND NEW.data_bytes IS NOT DISTINCT FROM OLD.data_bytes) EXECUTE FUNCTION {s}.data_bytes_unknown();
    `,
    backfill: async (client, s) => {
      const measure = (text: string) => Buffer.byteLength(JSON.stringify(parseStoredJson(text)), 'utf8');
      await remeasure(client, `${s}.traces`, 'data_bytes', `SELECT tenant, id, data::text AS data FROM ${s}.traces ORDER BY tenant, id`, measure);
      await remeasure(client, `${s}.sessions`, 'data_bytes', `SELECT tenant, id, data::text AS data FROM ${s}.sessions ORDER BY tenant, id`, measure);
    },
  },
  {
    version: 9,
    name: 'provenance bytes so far on each entry',
    // A trace's chain is bounded by count and bytes (kernel MAX_PROVENANCE_PER_TRACE,
    // maxTraceProvenanceBytes): each entry's row keeps the UTF-8 bytes of its chain's JSON up to and
    // including it, so an append reads its totals with the head it reads anyway (count = seq + 1)
    // and writes no other row. A nullable column without a default rewrites no row: entries stored
    // before (or by an instance of the previous release, during a rolling upgrade) have NULL, and an
    // append onto such a head measures the entries after the last one with a total as the kernel
    // does — each entry's JSON as read back, never jsonb's text, whose separators and stored NUL are
    // not the JSON's — and keeps that total on the head, refused or not (postgres-storage.ts).
    sql: `ALTER TABLE {s}.provenance ADD COLUMN IF NOT EXISTS chain_bytes bigint;`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
