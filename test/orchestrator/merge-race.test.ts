/**
 * A parent quarantined while a merge of it is being stored or approved, on SQLite and PostgreSQL:
 * the merge's write is conditional on every parent still having the status it was checked with
 * (statusUnchangedOps, in the same transaction), so a merge never ends `ok` or `pending-review`
 * over a parent quarantined before it was written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type BatchOp, type ConfigInput, type GovernanceService, type Orchestrator, type Runtime, type Storage, type Trace } from 'limit-graph';
import { packPlugins } from '../governance/helpers.ts';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';
import { dropSchemas, storagePlugins, uniqueSchema, type Backend } from '../helpers/storage-backend.ts';

interface Fixture {
  rt: Runtime;
  orch: Orchestrator;
  storage: Storage;
  governance: GovernanceService;
  /** Runs `before` once, just before the next batch that `matches` is written. */
  beforeBatch(matches: (ops: readonly BatchOp[]) => boolean, before: () => Promise<void>): void;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function fixture(backend: Backend, requireHumanReview: boolean, blockUnsafeMerge = true): Promise<Fixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-merge-race-'));
  const schema = uniqueSchema('orch_merge_race');
  const rt = await createRuntime({
    config: {
      logLevel: 'silent', storage: backend,
      plugins: { ...storagePlugins(backend, { sqlitePath: path.join(dir, 'limit.db'), schema }), ...packPlugins(), governance: { policy: { requireHumanReview, blockUnsafeMerge } }, orchestrator: {} },
    } as ConfigInput,
    plugins: [spyRunnerPlugin(spyRunner('spy'))],
  });
  cleanup = async () => {
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'postgres') await dropSchemas([schema]);
  };
  const storage = rt.resolve('storage');
  const batch = storage.batch.bind(storage);
  let hook: { matches: (ops: readonly BatchOp[]) => boolean; before: () => Promise<void> } | undefined;
  storage.batch = async (tenant, ops) => {
    const h = hook;
    if (h?.matches(ops)) {
      hook = undefined;
      await h.before();
    }
    return batch(tenant, ops);
  };
  return {
    rt, orch: rt.resolve('orchestrator'), storage, governance: rt.resolve('governance'),
    beforeBatch: (matches, before) => (hook = { matches, before }),
  };
}

/** Two runs, a and b, in a new session and their merge, waiting for review (a fixture with requireHumanReview). */
async function pendingMerge(f: Fixture): Promise<{ a: Trace; b: Trace; merged: Trace }> {
  const s = await f.orch.openSession();
  const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
  const b = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
  const merged = (await f.orch.merge({ parentIds: [a.id, b.id], actor: 'alice' })).trace;
  expect(merged.status).toBe('pending-review');
  return { a, b, merged };
}

/** Whether the batch writes a provenance entry with this action (on any trace). */
const writes = (action: string) => (ops: readonly BatchOp[]) => ops.some((op) => op.op === 'appendProvenance' && op.input.action === action);

describe.each<Backend>(['sqlite', 'postgres'])('a parent quarantined during a merge (%s)', (backend) => {
  it.each([true, false])('between the approval\'s check and its write: the approval is refused, the merge stays pending-review (governance review: %s)', async (withReview) => {
    const f = await fixture(backend, true);
    if (!withReview) Object.defineProperty(f.governance, 'review', { value: undefined });
    const { a, b, merged } = await pendingMerge(f);

    f.beforeBatch(writes('approved'), () => f.governance.quarantine('default', b.id, { reason: 'found harmful', actor: 'carol' }));
    const error = await f.orch.approveMerge(merged.id, { actor: 'bob' }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { refusals: [{ parentId: b.id }] } });
    expect((error as Error).message).toContain('is quarantined');
    expect((await f.storage.getTrace('default', b.id))!.status).toBe('quarantined');
    const detail = await f.orch.inspectTrace(undefined, merged.id);
    expect(detail.trace.status).toBe('pending-review');
    expect(detail.provenance.map((e) => e.action)).not.toContain('approved');
    expect(detail.checkpoints.filter((c) => c.label === 'governance:review')).toHaveLength(0);
    // The parents were not written to: their chains and records are as they were, and still verify.
    expect((await f.orch.inspectTrace(undefined, a.id)).verification.verified).toBe(true);
    // Rejecting it is still possible (a rejection does not depend on the parents).
    expect((await f.orch.rejectMerge(merged.id, { actor: 'bob' })).status).toBe('rejected');
  });

  it('after the approval is written, a quarantine of a parent still applies (the two are ordered, not lost)', async () => {
    const f = await fixture(backend, true);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const merged = (await f.orch.merge({ parentIds: [a.id], actor: 'alice' })).trace;
    expect((await f.orch.approveMerge(merged.id, { actor: 'bob' })).status).toBe('ok');
    await f.governance.quarantine('default', a.id, { reason: 'found harmful', actor: 'carol' });
    expect((await f.storage.getTrace('default', a.id))!.status).toBe('quarantined');
    expect((await f.storage.getTrace('default', a.id))!.metadata).toEqual(a.metadata);
  });

  it.each([false, true])('between the merge\'s check and its write: the merge is refused, no merged trace ends ok or pending-review (requireHumanReview: %s)', async (review) => {
    const f = await fixture(backend, review);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
    f.beforeBatch(writes(review ? 'review-requested' : 'completed'), () => f.governance.quarantine('default', a.id, { reason: 'found harmful', actor: 'carol' }));
    const error = await f.orch.merge({ parentIds: [a.id, b.id] }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { refusals: [{ parentId: a.id }] } });
    const merges = (await f.orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.runner === 'merge');
    expect(merges.map((t) => t.status).filter((st) => st === 'ok' || st === 'pending-review')).toEqual([]);
  });
});

/**
 * A parent flagged (no status change) while a merge of it is being stored or approved, under
 * blockUnsafeMerge (on in the default preset): the merge's write is conditional on every parent
 * still holding the flags it was checked with, so a flag the policy acts on, added after the check,
 * refuses the merge instead of being in it.
 */
describe.each<Backend>(['sqlite', 'postgres'])('a parent flagged during a merge under blockUnsafeMerge (%s)', (backend) => {
  // Severity 5: in the default preset's review band (a flag blockUnsafeMerge acts on), below quarantineSeverity (no status change).
  const unsafeFlag = { kind: 'Jailbreak', severity: 5, reason: 'found suspicious', actor: 'carol' } as const;

  it('a flag added before the merge refuses it (the check itself)', async () => {
    const f = await fixture(backend, false);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    expect((await f.governance.flag('default', a.id, unsafeFlag)).autoQuarantined).toBe(false);
    await expect(f.orch.merge({ parentIds: [a.id] })).rejects.toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { refusals: [{ parentId: a.id }] } });
  });

  it.each([false, true])('between the merge\'s check and its write: the merge is refused (requireHumanReview: %s)', async (review) => {
    const f = await fixture(backend, review);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
    f.beforeBatch(writes(review ? 'review-requested' : 'completed'), async () => {
      expect((await f.governance.flag('default', a.id, unsafeFlag)).autoQuarantined).toBe(false);
    });
    const error = await f.orch.merge({ parentIds: [a.id, b.id] }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { refusals: [{ parentId: a.id }] } });
    // Checked again after the write was refused: governance's own refusal, naming the flag.
    expect((error as Error).message).toContain('blockUnsafeMerge: parent carries policy-violating flags (Jailbreak 5');
    expect((await f.storage.getTrace('default', a.id))!.status).toBe('ok');
    const merges = (await f.orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.runner === 'merge');
    expect(merges.map((t) => t.status).filter((st) => st === 'ok' || st === 'pending-review')).toEqual([]);
  });

  it.each([true, false])('between the approval\'s check and its write: the approval is refused, the merge stays pending-review (governance review: %s)', async (withReview) => {
    const f = await fixture(backend, true);
    if (!withReview) Object.defineProperty(f.governance, 'review', { value: undefined });
    const { a, b, merged } = await pendingMerge(f);

    f.beforeBatch(writes('approved'), async () => {
      expect((await f.governance.flag('default', b.id, unsafeFlag)).autoQuarantined).toBe(false);
    });
    const error = await f.orch.approveMerge(merged.id, { actor: 'bob' }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { traceId: merged.id, refusals: [{ parentId: b.id }] } });
    expect((error as Error).message).toContain('blockUnsafeMerge: parent carries policy-violating flags (Jailbreak 5');
    const detail = await f.orch.inspectTrace(undefined, merged.id);
    expect(detail.trace.status).toBe('pending-review');
    expect(detail.provenance.map((e) => e.action)).not.toContain('approved');
    // Approving again now sees the flag in the check itself.
    await expect(f.orch.approveMerge(merged.id, { actor: 'bob' })).rejects.toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { refusals: [{ parentId: b.id }] } });
  });

  it('a flag that blockUnsafeMerge does not act on, added between the check and the write, does not refuse the merge when the policy is off', async () => {
    // The policy is the engine's frozen copy: set from the config, as a user would.
    const f = await fixture(backend, false, false);
    expect(f.governance.policy.blockUnsafeMerge).toBe(false);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    f.beforeBatch(writes('completed'), async () => { await f.governance.flag('default', a.id, unsafeFlag); });
    expect((await f.orch.merge({ parentIds: [a.id] })).trace.status).toBe('ok');
  });

  // Severity 1: below the default preset's review band, so blockUnsafeMerge allows it.
  const harmlessFlag = { kind: 'HighRisk', severity: 1, reason: 'noted', actor: 'carol' } as const;

  it.each([false, true])('a flag the policy allows, added between the merge\'s check and its write: the parents are checked again and the merge is written (requireHumanReview: %s)', async (review) => {
    const f = await fixture(backend, review);
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
    let flagged = false;
    f.beforeBatch(writes(review ? 'review-requested' : 'completed'), async () => {
      await f.governance.flag('default', a.id, harmlessFlag);
      flagged = true;
    });
    const merged = (await f.orch.merge({ parentIds: [a.id, b.id] })).trace;
    expect(flagged).toBe(true);
    expect(merged.status).toBe(review ? 'pending-review' : 'ok');
    expect((await f.storage.getTrace('default', a.id))!.flags).toHaveLength(1);
    // Counted once, as the merge it is.
    expect((await f.governance.stats('default'))[review ? 'merges.review' : 'merges.allowed']).toBe(1);
    expect((await f.governance.stats('default'))['merges.refused']).toBeUndefined();
    const merges = (await f.orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.runner === 'merge');
    expect(merges).toHaveLength(1);
  });

  it.each([true, false])('a flag the policy allows, added between the approval\'s check and its write: the approval is written (governance review: %s)', async (withReview) => {
    const f = await fixture(backend, true);
    if (!withReview) Object.defineProperty(f.governance, 'review', { value: undefined });
    const s = await f.orch.openSession();
    const a = (await f.orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const merged = (await f.orch.merge({ parentIds: [a.id], actor: 'alice' })).trace;
    let flagged = false;
    f.beforeBatch(writes('approved'), async () => {
      await f.governance.flag('default', a.id, harmlessFlag);
      flagged = true;
    });
    expect((await f.orch.approveMerge(merged.id, { actor: 'bob' })).status).toBe('ok');
    expect(flagged).toBe(true);
    expect((await f.orch.inspectTrace(undefined, merged.id)).provenance.filter((e) => e.action === 'approved')).toHaveLength(1);
  });
});
