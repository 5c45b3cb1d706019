/**
 * The two real storage backends the integration tests run on: SQLite in a file (or in memory) and
 * PostgreSQL on the machine's server, in a schema of its own that the test drops afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { MAX_FLAGS_PER_TRACE, type Flag, type Storage } from 'limit-graph';
import { makeFlag } from 'limit-graph/testing';

export type Backend = 'sqlite' | 'postgres';

/** The PostgreSQL server the tests use (`LIMIT_TEST_DATABASE_URL` overrides the local one). */
export const PG_URL = process.env.LIMIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test (or test process) uses: `prefix` plus 12 random hex digits. */
export const uniqueSchema = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/**
 * The `plugins` entry that selects `backend`: `storage-sqlite` at `sqlitePath`, or
 * `storage-postgres` in `schema` (with `poolSize` connections when given).
 */
export function storagePlugins(backend: Backend, where: { sqlitePath: string; schema: string; poolSize?: number }): Record<string, Record<string, unknown>> {
  if (backend === 'sqlite') return { 'storage-sqlite': { path: where.sqlitePath } };
  return { 'storage-postgres': { url: PG_URL, schema: where.schema, ...(where.poolSize === undefined ? {} : { poolSize: where.poolSize }) } };
}

/** Drops the PostgreSQL schemas in `schemas` (and everything in them) over one connection, and empties the array. */
export async function dropSchemas(schemas: string[]): Promise<void> {
  const names = schemas.splice(0);
  if (names.length === 0) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * An admin pool on the test database for the calling test file, which owns the PostgreSQL schema
 * `schema`: checked before the file's tests (a missing server fails the file, never skips it — CI
 * must provide PostgreSQL), the schema dropped and the pool ended after them.
 */
export function adminPool(schema: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  beforeAll(async () => {
    await pool.query('SELECT 1');
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  return pool;
}

/** `n` Anomaly flags on `traceId`, with non-ASCII reasons (their JSON bytes differ from their length). */
export const manyFlags = (traceId: string, n: number): Flag[] =>
  Array.from({ length: n }, (_, i) => makeFlag(`${traceId}-${i}`, traceId, 'Anomaly', { reason: `é ${i}` }));

/**
 * The flag limit on an upgraded store whose traces `full` (MAX_FLAGS_PER_TRACE flags), `room` (one
 * fewer) and `none` (no flag) of tenant `t` were written before the upgrade: its totals hold.
 */
export async function expectFlagLimitHolds(upgraded: Storage): Promise<void> {
  await expect(upgraded.addFlag('t', makeFlag('x1', 'full'))).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
  await upgraded.addFlag('t', makeFlag('x2', 'room'));
  await expect(upgraded.addFlag('t', makeFlag('x3', 'room'))).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
  await upgraded.addFlag('t', makeFlag('x4', 'none'));
  expect((await upgraded.getTrace('t', 'room'))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
}
