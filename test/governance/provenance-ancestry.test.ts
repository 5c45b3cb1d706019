/**
 * The provenance rule pack (`provenance.chain`) checks a merge parent's whole merge ancestry, as
 * inspectTrace, merge validation (requireProvenance) and artifacts do: a grandparent's chain
 * rewritten after a merge of merges (its hashes recomputed, so that it verifies on its own) flags a
 * trace made of that merge. Real SQLite file, rewritten underneath the runtime with better-sqlite3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, type Orchestrator, type Runtime, type Storage } from 'limit-graph';
import { forgeStoredChain, mergeOfMerges, spyRunner, spyRunnerPlugin } from '../orchestrator/doubles.ts';

describe('provenance.chain: a parent that is a merge of merges', () => {
  let dir: string;
  let rt: Runtime;
  let orch: Orchestrator;
  let db: Database.Database;
  let chainReads: string[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-provrule-'));
    rt = await createRuntime({
      config: {
        logLevel: 'silent', storage: 'sqlite',
        plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db') }, 'runner-python': false, 'governance-rules-provenance': true, governance: { packs: ['provenance'] }, orchestrator: {} },
      },
      plugins: [spyRunnerPlugin(spyRunner())],
    });
    orch = rt.resolve('orchestrator');
    db = new Database(path.join(dir, 'limit.db'));
    // Which traces' chains are read (the storage plugin's own method, counted, not replaced).
    const storage = rt.resolve('storage') as Storage;
    chainReads = [];
    const list = storage.listProvenance.bind(storage);
    storage.listProvenance = (tenant, traceId) => {
      chainReads.push(traceId);
      return list(tenant, traceId);
    };
  });
  afterEach(async () => {
    db.close();
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const unverified = (findings: readonly { kind: string }[] | undefined) => (findings ?? []).filter((f) => f.kind === 'Unverified');

  it("flags a child of second = merge(first = merge(a, b), c) once a's chain is rewritten, reading each chain once", async () => {
    const s = await orch.openSession();
    const { a, b, c, first, second } = await mergeOfMerges(orch, s.id);
    const record = (parentIds: string[], input: string) => orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input }, output: { ok: true, stdout: 'ok', stderr: '' }, parentIds });

    // Clean: nothing flagged; second and b (b also reached through first) each read once.
    chainReads.length = 0;
    const clean = await record([second.id, b.id], 'clean');
    expect(unverified(clean.verdicts.input?.findings)).toEqual([]);
    expect([...chainReads].sort()).toEqual([second.id, b.id, first.id, c.id, a.id].sort());

    // a (a grandparent of second) rewritten with its hashes recomputed: a and second verify on their
    // own; second's ancestry does not.
    await forgeStoredChain(db, orch, a.id);
    const child = await record([second.id, c.id], 'after the rewrite');
    const head = `\\(seq \\d+, hash [0-9a-f]{64}\\): its entry at seq \\d+ has hash [0-9a-f]{64}`;
    expect(unverified(child.verdicts.input?.findings)).toEqual([expect.objectContaining({
      ruleId: 'provenance.chain', kind: 'Unverified', severity: 8,
      reason: expect.stringMatching(new RegExp(`^Parent ${second.id}'s provenance chain is broken at seq \\d+: ancestor ${a.id} no longer holds the chain head merge ${first.id} recorded ${head}; reached through this merge's parent ${first.id}$`)),
    })]);
    // c's ancestry is its own chain: not flagged. A child of a alone: a verifies on its own.
    const ofA = await record([a.id], 'of a');
    expect(unverified(ofA.verdicts.input?.findings)).toEqual([]);
  });
});
