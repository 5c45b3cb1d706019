/**
 * The two real storage backends the integration tests run on: SQLite in a file (or in memory) and
 * PostgreSQL on the machine's server, in a schema of its own that the test drops afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
