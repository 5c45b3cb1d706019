/**
 * Two runtimes (two `limit serve`, or a server and a worker) sharing one store record steps of one RD
 * series at once, without `step`: every step gets its own step number, because storage gives the
 * default step in the append's own transaction. Real SQLite file and real PostgreSQL schema.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from 'limit-graph';
import { PG_URL } from '../helpers/storage-backend.ts';
import { packPlugins } from '../governance/helpers.ts';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

async function twoRuntimes(plugins: Record<string, unknown>, storage: string): Promise<[Runtime, Runtime]> {
  const open = () => createRuntime({ config: { logLevel: 'silent', storage, plugins: { ...plugins, ...packPlugins(), governance: {}, orchestrator: {} } }, plugins: [spyRunnerPlugin(spyRunner())], env: {} });
  const a = await open();
  try {
    return [a, await open()];
  } catch (error) {
    await a.close();
    throw error;
  }
}

/** Each runtime records `each` steps without `step` at once; returns the steps stored, in append order. */
async function recordAtOnce([a, b]: [Runtime, Runtime], each: number): Promise<{ returned: number[]; stored: number[] }> {
  const orchA = a.resolve('orchestrator');
  const orchB = b.resolve('orchestrator');
  const session = await orchA.openSession({ name: 'shared' });
  const series = await orchA.createRdSeries({ sessionId: session.id, name: 'shared' });
  const appended = await Promise.all(
    Array.from({ length: 2 * each }, (_, i) => (i % 2 ? orchB : orchA).recordRdStep(series.id, { rate: i, distortion: 1 / (i + 1) })),
  );
  const stored = (await b.resolve('storage').getRdSeries(series.tenant, series.id))!.points;
  return { returned: appended.map((p) => p.point.step).sort((x, y) => x - y), stored: stored.map((p) => p.step).sort((x, y) => x - y) };
}

/** Ten steps from each runtime at once: returned and stored, they are the steps 0–19, each once. */
async function expectDistinctSteps(runtimes: [Runtime, Runtime]): Promise<void> {
  const { returned, stored } = await recordAtOnce(runtimes, 10);
  const steps = Array.from({ length: 20 }, (_, i) => i);
  expect(returned).toEqual(steps);
  expect(stored).toEqual(steps);
}

describe('RD steps recorded at once by two runtimes sharing a store get distinct steps', () => {
  it('SQLite: two runtimes on one file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-rd-shared-'));
    const runtimes = await twoRuntimes({ 'storage-sqlite': { path: path.join(dir, 'limit.db') } }, 'sqlite');
    try {
      // Before, each runtime read the largest step and then appended: both stored the same steps.
      await expectDistinctSteps(runtimes);
    } finally {
      for (const rt of runtimes) await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: two runtimes on one schema', async () => {
    const schema = `limit_test_rd_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      const runtimes = await twoRuntimes({ 'storage-postgres': { url: PG_URL, schema, poolSize: 4 } }, 'postgres');
      try {
        await expectDistinctSteps(runtimes);
      } finally {
        for (const rt of runtimes) await rt.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});
