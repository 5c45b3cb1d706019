/**
 * Schema migrations, applied in order, each once (recorded in schema_migrations). Never edit a
 * shipped migration: add a new one.
 *
 * Records are stored as JSON text (`data`) next to the columns queries filter and sort on; the JSON
 * is what the zod schemas validated, so reading a record back is one JSON.parse.
 */
import type { SqlMigration } from 'limit-graph';

export const MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE sessions (
        tenant TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX sessions_by_time ON sessions (tenant, created_ms DESC, id DESC);

      -- flags: the trace's flags as a JSON array (kept in step with the flags table by addFlag),
      -- so that get and list return traces without a join.
      CREATE TABLE traces (
        tenant TEXT NOT NULL, id TEXT NOT NULL, session_id TEXT NOT NULL, status TEXT NOT NULL,
        created_ms INTEGER NOT NULL, data TEXT NOT NULL, flags TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX traces_by_time ON traces (tenant, created_ms DESC, id DESC);
      CREATE INDEX traces_by_session ON traces (tenant, session_id, created_ms DESC, id DESC);
      CREATE INDEX traces_by_status ON traces (tenant, status, created_ms DESC, id DESC);

      CREATE TABLE flags (
        seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, id TEXT NOT NULL, trace_id TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
        UNIQUE (tenant, id)
      );
      CREATE INDEX flags_by_kind ON flags (tenant, kind, trace_id);
      CREATE INDEX flags_by_trace ON flags (tenant, trace_id);

      CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, trace_id TEXT NOT NULL, data TEXT NOT NULL);
      CREATE INDEX checkpoints_by_trace ON checkpoints (tenant, trace_id);

      CREATE TABLE quarantine (
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, quarantined INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (tenant, trace_id)
      );
      CREATE INDEX quarantine_active ON quarantine (tenant, quarantined);

      -- The primary key is what keeps concurrent appenders (other processes included) from forking
      -- a chain: two writers that read the same head cannot both insert its successor.
      CREATE TABLE provenance (
        tenant TEXT NOT NULL, trace_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (tenant, trace_id, seq)
      ) WITHOUT ROWID;

      CREATE TABLE rd_series (
        tenant TEXT NOT NULL, id TEXT NOT NULL, session_id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX rd_series_by_session ON rd_series (tenant, session_id);
      CREATE TABLE rd_points (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, series_id TEXT NOT NULL, data TEXT NOT NULL);
      CREATE INDEX rd_points_by_series ON rd_points (tenant, series_id);

      CREATE TABLE counters (
        tenant TEXT NOT NULL, name TEXT NOT NULL, value NUMERIC NOT NULL,
        PRIMARY KEY (tenant, name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'RD series point count, bytes and next step',
    // A series' points are bounded by count and bytes (kernel MAX_RD_POINTS, maxRdPointsBytes): the
    // totals live on the series row, so an append checks and updates them without reading a point.
    sql: `
      ALTER TABLE rd_series ADD COLUMN point_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rd_series ADD COLUMN point_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rd_series ADD COLUMN next_step INTEGER NOT NULL DEFAULT 0;
      UPDATE rd_series SET
        point_count = (SELECT COUNT(*) FROM rd_points p WHERE p.tenant = rd_series.tenant AND p.series_id = rd_series.id),
        point_bytes = (SELECT COALESCE(SUM(octet_length(p.data)), 0) FROM rd_points p WHERE p.tenant = rd_series.tenant AND p.series_id = rd_series.id),
        next_step = (SELECT COALESCE(MAX(json_extract(p.data, '$.step')) + 1, 0) FROM rd_points p WHERE p.tenant = rd_series.tenant AND p.series_id = rd_series.id);
    `,
  },
  {
    version: 3,
    name: 'flag count and bytes of traces',
    // A trace's flags are bounded by count and bytes (kernel MAX_FLAGS_PER_TRACE, maxTraceFlagsBytes):
    // the totals live on the trace row, so an add checks and updates them in its write transaction
    // without reading a flag. Existing flags are measured from their rows.
    sql: `
      ALTER TABLE traces ADD COLUMN flag_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE traces ADD COLUMN flag_bytes INTEGER NOT NULL DEFAULT 0;
      UPDATE traces SET
        flag_count = (SELECT COUNT(*) FROM flags f WHERE f.tenant = traces.tenant AND f.trace_id = traces.id),
        flag_bytes = (SELECT COALESCE(SUM(octet_length(f.data)), 0) FROM flags f WHERE f.tenant = traces.tenant AND f.trace_id = traces.id)
        WHERE flags <> '[]';
    `,
  },
  {
    version: 4,
    name: 'provenance bytes so far on each entry',
    // A trace's chain is bounded by count and bytes (kernel MAX_PROVENANCE_PER_TRACE,
    // maxTraceProvenanceBytes): each entry's row keeps the UTF-8 bytes of its chain up to and
    // including it, so an append reads its totals with the head it reads anyway (count = seq + 1),
    // and writes no other row. Entries stored before (and by an older process still running) have
    // NULL: an append onto such a head measures its chain once from the rows.
    sql: `
      ALTER TABLE provenance ADD COLUMN chain_bytes INTEGER;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
