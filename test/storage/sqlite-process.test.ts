/**
 * SQLite across OS processes: several writers on one file keep one provenance chain, and a writer
 * killed with SIGKILL loses none of the writes it acknowledged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crashTest, multiProcessProvenance, multiProcessRdSteps, withStorage, type BackendSpec } from 'limit-graph/testing';

describe('storage-sqlite across processes', () => {
  let dir: string;
  let backend: BackendSpec;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-sqlite-mp-'));
    backend = { plugin: 'storage-sqlite', options: { path: path.join(dir, 'shared.db') } };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('three processes appending to one trace build one gapless, verifying chain', async () => {
    const result = await multiProcessProvenance(backend, { processes: 3, appendsEach: 150 });
    expect(result.seqs).toEqual(Array.from({ length: 450 }, (_, i) => i));
    expect(result.verification).toEqual({ verified: true, length: 450, brokenAt: null });
    expect(result.perWriter).toEqual({ 'process-0': 150, 'process-1': 150, 'process-2': 150 });
    // Every round of 5 appends was released to the 3 writers at once: 30 races, each round one block
    // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
    expect(result.rounds).toEqual({ writersPerRound: Array(30).fill(3), ordered: true });
    expect(result.switches).toBeGreaterThanOrEqual(2 * 30);
  });

  it('three processes appending RD points without step to one series give every point its own step, consecutive', async () => {
    // Before, the orchestrator read the largest step and then appended: two processes could both store the same step.
    const result = await multiProcessRdSteps(backend, { processes: 3, appendsEach: 100 });
    expect(result.steps).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(result.perWriter).toEqual({ 'process-0': 100, 'process-1': 100, 'process-2': 100 });
    // Every round of 5 appends was released to the 3 writers at once: 20 races, each round one block
    // of the stored order after the one before, holding all 3 writers (so at least 2 switches a round).
    expect(result.rounds).toEqual({ writersPerRound: Array(20).fill(3), ordered: true });
    expect(result.switches).toBeGreaterThanOrEqual(2 * 20);
  });

  it('keeps every acknowledged write of a writer killed with SIGKILL and reopens cleanly', async () => {
    const result = await crashTest({ ...backend, options: { ...backend.options, synchronous: 'full' } }, { minAcks: 150 });
    expect(result.signal).toBe('SIGKILL');
    expect(result.acknowledged.length).toBeGreaterThanOrEqual(150);
    expect(result.missing).toEqual([]);
    expect(result.verification.verified).toBe(true);
    expect(result.verification.length).toBeGreaterThanOrEqual(result.acknowledged.length);
    expect(result.counter).toBeGreaterThanOrEqual(result.acknowledged.length);
    // The store is writable after the crash (the WAL was recovered, no stale lock).
    await withStorage(backend, async (s) => {
      await s.incrementCounters('crash', { afterCrash: 1 });
      expect((await s.getCounters('crash')).afterCrash).toBe(1);
    });
  });
});
