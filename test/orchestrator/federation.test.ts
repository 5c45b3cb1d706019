/**
 * Federation and cancellation (test doubles for storage, governance and runners): what a caller's
 * abort records, what a federation does once aborted, the order of its merge and why each branch
 * was left out of it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime } from 'limit-graph';
import type { Orchestrator, Runtime } from 'limit-graph';
import orchestratorPlugin from '../../plugins/orchestrator/index.ts';
import { keywordGovernancePlugin, memoryStoragePlugin, spyRunner, spyRunnerPlugin, type SpyRunner } from './doubles.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('federation and cancellation', () => {
  let rt: Runtime;
  let orch: Orchestrator;
  let spy: SpyRunner;

  beforeEach(async () => {
    spy = spyRunner('spy');
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(spy), spyRunnerPlugin(spyRunner('other')), orchestratorPlugin.configure({ timeoutGraceMs: 200 })],
    });
    orch = rt.resolve('orchestrator');
  });
  afterEach(async () => {
    await rt.close();
  });

  it("records a run cancelled through the caller's signal as LIMIT_RUNNER_ABORTED, running or waiting for its slot", async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 1 } });
    const controller = new AbortController();
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'HANG' }, signal: controller.signal });
    const waiting = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:10 queued' }, signal: controller.signal });
    await sleep(50);
    controller.abort(); // a DOMException AbortError, as most callers abort
    for (const out of await Promise.all([running, waiting])) {
      expect(out.trace.status).toBe('error');
      expect(out.trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_ABORTED', message: 'Execution was aborted: This operation was aborted' });
    }
    expect(spy.calls.map((c) => c.input)).toEqual(['HANG']); // the queued run never reached the runner

    // A runner that answers the abort itself, and a reason of the caller's own.
    const reasoned = new AbortController();
    setTimeout(() => reasoned.abort(new Error('user cancelled')), 30);
    const answered = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:5000 x' }, signal: reasoned.signal });
    expect(answered.trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_ABORTED', message: 'Execution was aborted: user cancelled' });
  });

  it('returns the outcome of a federation the runtime closes under: running branches finish, the rest and the merge are refused LIMIT_RUNTIME_CLOSED', async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 8 } });
    let closing: Promise<unknown> | undefined;
    const watch = setInterval(() => spy.calls.length === 2 && (clearInterval(watch), (closing = rt.close())), 5);
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'SLEEP:100 answer' }, aggregate: 'all', concurrency: 2, targets: Array.from({ length: 4 }, () => ({ runner: 'spy' })) });
    await closing;
    expect(spy.calls).toHaveLength(2);
    expect(fed.branches.map((b) => b.trace?.status ?? null)).toEqual(['ok', 'ok', null, null]);
    for (const b of fed.branches.slice(2)) {
      expect(b.error?.code).toBe('LIMIT_RUNTIME_CLOSED');
      expect(b.excluded).toMatch(/^failed before a trace was recorded: The runtime is shutting down/);
    }
    expect(fed.aggregate).toMatchObject({ ok: false, reason: '2 of 4 branches did not succeed' });
    expect(fed.merge).toMatchObject({ refused: true, code: 'LIMIT_RUNTIME_CLOSED' });
  });

  it('stops a federation the caller aborts: nothing more starts, nothing is merged, and the outcome says so', async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 8 } });
    const controller = new AbortController();
    // Aborted while the second branch runs.
    const watch = setInterval(() => spy.calls.length === 2 && (clearInterval(watch), controller.abort(new Error('user cancelled'))), 5);
    const fed = await orch.federate({
      sessionId: s.id, task: { input: 'SLEEP:50 answer' }, aggregate: 'all', concurrency: 1, signal: controller.signal,
      targets: Array.from({ length: 6 }, () => ({ runner: 'spy' })),
    });
    expect(spy.calls).toHaveLength(2); // the first finished, the second was running when the abort came
    expect(fed.branches.map((b) => b.trace?.status ?? null)).toEqual(['ok', 'error', null, null, null, null]);
    expect(fed.branches[1]!.trace?.output?.error?.code).toBe('LIMIT_RUNNER_ABORTED');
    for (const b of fed.branches.slice(2)) expect(b.excluded).toBe('not started: the federation was aborted (user cancelled)');
    expect(fed.aggregate).toEqual({ strategy: 'all', ok: false, traceIds: [], reason: 'the federation was aborted (user cancelled)' });
    expect(fed.merge).toBeUndefined();
    const stored = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(stored.map((t) => t.runner).sort()).toEqual(['spy', 'spy']); // the two branches; no merge

    // A signal aborted before the call: nothing runs and nothing is stored.
    const before = await orch.federate({
      sessionId: s.id, task: { input: 'answer' }, aggregate: 'majority', signal: AbortSignal.abort(),
      targets: [{ runner: 'spy' }, { runner: 'other' }],
    });
    expect(before.branches.map((b) => [b.trace, b.excluded])).toEqual([
      [undefined, 'not started: the federation was aborted (This operation was aborted)'],
      [undefined, 'not started: the federation was aborted (This operation was aborted)'],
    ]);
    expect(before.aggregate.ok).toBe(false);
    expect(spy.calls).toHaveLength(2);
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items).toHaveLength(2);
  });

  it('stops a federation aborted while its merge is being made: the merge is cancelled, nothing is merged, and the outcome says so', async () => {
    const s = await orch.openSession();
    const controller = new AbortController();
    // The abort arrives once every branch has run, while the merge is under way (its beforeMerge veto).
    rt.hooks.beforeMerge.tapPromise('test-abort', async () => {
      controller.abort(new Error('user cancelled'));
      return undefined;
    });
    const fed = await orch.federate({
      sessionId: s.id, task: { input: 'answer' }, aggregate: 'all', signal: controller.signal,
      targets: [{ runner: 'spy' }, { runner: 'other' }],
    });
    expect(fed.branches.map((b) => b.trace?.status)).toEqual(['ok', 'ok']);
    expect(fed.aggregate).toEqual({ strategy: 'all', ok: false, traceIds: [], reason: 'the federation was aborted (user cancelled)' });
    expect(fed.merge).toBeUndefined();
    const stored = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(stored.map((t) => t.runner).sort()).toEqual(['other', 'spy']); // the two branches; no merge
  });

  it('aggregates and merges the branches in the order of the targets, not the order they finished in', async () => {
    const s = await orch.openSession();
    const other = rt.resolve('runner:other');
    const fast = other.executeIsolated.bind(other);
    other.executeIsolated = async (task, ctx) => {
      await sleep(80);
      return fast(task, ctx);
    };
    const targets = [{ runner: 'other' }, { runner: 'spy' }, { runner: 'other' }];
    const all = await orch.federate({ sessionId: s.id, task: { input: 'same' }, aggregate: 'all', targets });
    const ids = all.branches.map((b) => b.trace!.id);
    expect(all.aggregate.traceIds).toEqual(ids);
    const merged = all.merge && 'trace' in all.merge ? all.merge.trace : undefined;
    expect(merged?.parentIds).toEqual(ids);
    expect((merged?.output?.value as { runner: string }[]).map((v) => v.runner)).toEqual(['other', 'spy', 'other']);
    const majority = await orch.federate({ sessionId: s.id, task: { input: 'same' }, aggregate: 'majority', targets });
    expect(majority.aggregate.traceIds).toEqual(majority.branches.map((b) => b.trace!.id));
  });

  it("a majority merge's value says how many branches the majority was of, not only how many agreed", async () => {
    const s = await orch.openSession();
    rt.resolve('runner:other').executeIsolated = async () => ({ ok: true, stdout: 'something else', stderr: '', metrics: { latencyMs: 1 } });
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'same' }, aggregate: 'majority', targets: [{ runner: 'spy' }, { runner: 'other' }, { runner: 'spy' }] });
    const agreed = [fed.branches[0]!.trace!.id, fed.branches[2]!.trace!.id];
    expect(fed.aggregate).toMatchObject({ ok: true, traceIds: agreed, stdout: 'same' });
    const merged = fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined;
    expect(merged?.parentIds).toEqual(agreed);
    // Before, `of` was 2: the agreeing parents the merge is made of.
    expect(merged?.output?.value).toEqual({ agreed, of: 3 });
    // A majority merge() of its own is of its parents.
    const other = fed.branches[1]!.trace!.id;
    const plain = await orch.merge({ parentIds: [...agreed, other], strategy: 'majority' });
    expect(plain.trace.output?.value).toEqual({ agreed, of: 3 });
  });

  it('gives the cause of each failed branch it leaves out of the merge: the error code and message', async () => {
    const s = await orch.openSession();
    const tight = await orch.openSession({ limits: { timeoutMs: 50 } });
    // runner:other fails its task in one session and never comes back in the other.
    rt.resolve('runner:other').executeIsolated = async (_task, ctx) => {
      if (ctx.session.id === tight.id) return new Promise(() => {});
      return { ok: false, stdout: '', stderr: 'boom', error: { code: 'LIMIT_RUNNER_TASK_ERROR', message: 'exit status 1' }, metrics: { latencyMs: 1 } };
    };
    const fed = await orch.federate({
      sessionId: s.id, task: { input: 'x' }, aggregate: 'all',
      targets: [{ runner: 'spy' }, { runner: 'other' }, { runner: 'other', sessionId: tight.id }],
    });
    const reasons = [
      'status error (LIMIT_RUNNER_TASK_ERROR: exit status 1)',
      'status error (LIMIT_RUNNER_TIMEOUT: Execution exceeded 50 ms and the runner did not stop)',
    ];
    expect(fed.branches.map((b) => b.excluded)).toEqual([undefined, ...reasons]);
    const merged = fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined;
    expect((merged?.metadata.excluded as { reason: string }[]).map((e) => e.reason)).toEqual(reasons);

    // first-success: the branches it stopped say so.
    const first = await orch.federate({ sessionId: s.id, task: { input: 'SLEEP:40 x' }, aggregate: 'first-success', targets: [{ runner: 'spy' }, { runner: 'spy' }, { runner: 'spy' }] });
    const stopped = first.branches.filter((b) => b.trace?.status === 'error');
    expect(stopped).toHaveLength(2);
    for (const b of stopped) expect(b.excluded).toMatch(/^status error \(LIMIT_RUNNER_ABORTED: Another branch \(spy@.+\) succeeded first\)$/);
  });

  it("passes the caller's metadata to the branches and to the merge, whose federation keys stay its own", async () => {
    const s = await orch.openSession();
    const fed = await orch.federate({
      sessionId: s.id, task: { input: 'x' }, aggregate: 'all', metadata: { ticket: 'OPS-7', federation: 'mine', excluded: 'mine' },
      targets: [{ runner: 'spy' }, { runner: 'other' }],
    });
    expect(fed.branches.map((b) => b.target.runner)).toEqual(['spy', 'other']);
    for (const b of fed.branches) expect(b.trace?.metadata).toMatchObject({ ticket: 'OPS-7', federation: { label: b.target.label, aggregate: 'all' } });
    const merged = fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined;
    expect(merged?.metadata).toEqual({ ticket: 'OPS-7', federation: true, excluded: [], strategy: 'union' });
  });

  it('names the stored trace of a branch whose run failed after recording it, and lists it among the excluded', async () => {
    const s = await orch.openSession();
    // A notifier's afterRun tap that is down for runner:other: the run throws, its trace is stored (ok).
    rt.hooks.afterRun.tapPromise('test-notifier', async (trace) => {
      if (trace.runner === 'other') throw new Error('notifier down');
    });
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'x' }, aggregate: 'all', targets: [{ runner: 'spy' }, { runner: 'other' }] });
    const [, failed] = fed.branches;
    expect(failed!.error?.code).toBe('LIMIT_HOOK_TAP_FAILED');
    const stored = (await orch.listTraces(undefined, { sessionId: s.id })).items.find((t) => t.runner === 'other');
    expect(failed!.trace?.id).toBe(stored!.id);
    expect(failed!.excluded).toBe(`failed after its trace was recorded (LIMIT_HOOK_TAP_FAILED: ${failed!.error!.message}); the trace is ok`);
    const merged = fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined;
    expect(merged?.parentIds).toEqual([fed.branches[0]!.trace!.id]);
    expect(merged?.metadata.excluded).toEqual([{ traceId: stored!.id, reason: failed!.excluded }]);
  });

  it('checks the receiving session before any branch runs, and reports a merge that fails after the fan-out in the outcome', async () => {
    const main = await orch.openSession();
    const elsewhere = await orch.openSession();
    await orch.closeSession(undefined, main.id);
    const targets = [{ runner: 'spy', sessionId: elsewhere.id }, { runner: 'other', sessionId: elsewhere.id }];
    const closed = await orch.federate({ sessionId: main.id, task: { input: 'x' }, aggregate: 'all', targets }).catch((e: unknown) => e);
    expect(closed).toMatchObject({ code: 'LIMIT_SESSION_CLOSED' });
    const missing = await orch.federate({ sessionId: 'no-such-session', task: { input: 'x' }, aggregate: 'all', targets }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'LIMIT_NOT_FOUND' });
    // A target's session too, named by its place in targets: no branch runs, nothing is merged.
    const open = await orch.openSession();
    const typo = await orch.federate({ sessionId: open.id, task: { input: 'x' }, aggregate: 'all', targets: [...targets, { runner: 'spy', sessionId: 'no-such-session' }] }).catch((e: unknown) => e);
    expect(typo).toMatchObject({ code: 'LIMIT_NOT_FOUND', message: 'targets.2.sessionId: Session "no-such-session" not found for tenant "default"', details: { field: 'targets.2.sessionId' } });
    // An unknown runner too (before, the error did not say which target named it).
    const runner = await orch.federate({ sessionId: open.id, task: { input: 'x' }, aggregate: 'all', targets: [...targets, { runner: 'nope' }] }).catch((e: unknown) => e);
    expect(runner).toMatchObject({
      code: 'LIMIT_RUNNER_NOT_FOUND', message: 'targets.2.runner: Runner "nope" is not registered (available: spy, other)',
      details: { field: 'targets.2.runner', runner: 'nope', available: ['spy', 'other'] },
    });
    const shut = await orch.openSession();
    await orch.closeSession(undefined, shut.id);
    const closedTarget = await orch.federate({ sessionId: open.id, task: { input: 'x' }, aggregate: 'all', targets: [{ runner: 'other', sessionId: shut.id }, ...targets] }).catch((e: unknown) => e);
    expect(closedTarget).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', details: { field: 'targets.0.sessionId' } });
    expect((await orch.listTraces(undefined, { sessionId: open.id })).items).toHaveLength(0);
    expect(spy.calls).toHaveLength(0);
    expect((await orch.listTraces(undefined, { sessionId: elsewhere.id })).items).toHaveLength(0);

    // Closed while the branches run: the branches are kept, the merge's failure is in the outcome.
    const receiving = await orch.openSession();
    const fanOut = orch.federate({ sessionId: receiving.id, task: { input: 'SLEEP:100 x' }, aggregate: 'all', targets });
    await sleep(30);
    await orch.closeSession(undefined, receiving.id);
    const fed = await fanOut;
    expect(fed.branches.map((b) => b.trace?.status)).toEqual(['ok', 'ok']);
    expect(fed.aggregate).toMatchObject({ ok: true, traceIds: fed.branches.map((b) => b.trace!.id) });
    expect(fed.merge).toEqual({
      refused: true, code: 'LIMIT_SESSION_CLOSED', message: `Session "${receiving.id}" is closed`,
      refusals: [{ parentId: '*', reason: `Session "${receiving.id}" is closed` }],
    });
  });
});

describe('federation: a branch governance would not merge is excluded like a failed one', () => {
  let rt: Runtime;
  let orch: Orchestrator;

  beforeEach(async () => {
    rt = await createRuntime({
      config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { preset: 'default', packs: [] }, orchestrator: true } },
      plugins: [spyRunnerPlugin(spyRunner('spy')), spyRunnerPlugin(spyRunner('suspect'))],
    });
    orch = rt.resolve('orchestrator');
    // runner:suspect answers at once, with an output governance flags in the review band (Unsafe 5):
    // its trace is ok, but blockUnsafeMerge refuses it as a merge parent.
    rt.hooks.governOutput.tapPromise('test-suspect', async (findings, trace) =>
      (trace.runner === 'suspect' ? [...findings, { ruleId: 'test.suspect', kind: 'Unsafe', severity: 5, reason: 'suspect output', evidence: [] }] : findings));
  });
  afterEach(async () => {
    await rt.close();
  });

  const REFUSED = /^status ok, but governance refuses it as a merge parent \(blockUnsafeMerge: parent carries policy-violating flags \(Unsafe 5 test\.suspect\)\)$/;
  const mergedOf = (fed: Awaited<ReturnType<Orchestrator['federate']>>) => (fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined);

  it('first-success: the flagged branch never wins, the fan-out goes on, and the clean answer is merged', async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 4 } });
    // The suspect answers at once; the clean branches take 150 ms.
    rt.resolve('runner:suspect').executeIsolated = async (task) => ({ ok: true, stdout: task.input.replace(/^SLEEP:\d+ /, ''), stderr: '', metrics: { latencyMs: 1 } });
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'SLEEP:150 answer' }, aggregate: 'first-success', targets: [{ runner: 'spy' }, { runner: 'suspect' }, { runner: 'spy' }] });
    const [first, suspect, last] = fed.branches;
    expect(suspect!.trace?.status).toBe('ok');
    expect(suspect!.excluded).toMatch(REFUSED);
    // Before, the suspect branch won: the clean ones were aborted and the merge was refused.
    const winner = [first!, last!].find((b) => !b.excluded)!;
    expect(winner.trace?.status).toBe('ok');
    expect(fed.aggregate).toMatchObject({ ok: true, traceIds: [winner.trace!.id], stdout: 'answer' });
    const merged = mergedOf(fed);
    expect(merged?.status).toBe('ok');
    expect(merged?.parentIds).toEqual([winner.trace!.id]);
    expect((merged?.metadata.excluded as { traceId: string; reason: string }[]).find((e) => e.traceId === suspect!.trace!.id)?.reason).toMatch(REFUSED);
  });

  it('all and majority: the flagged branch does not count, and the merge of the others is made, not refused', async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 4 } });
    const all = await orch.federate({ sessionId: s.id, task: { input: 'answer' }, aggregate: 'all', targets: [{ runner: 'spy' }, { runner: 'suspect' }] });
    expect(all.branches[1]!.excluded).toMatch(REFUSED);
    expect(all.aggregate).toMatchObject({ ok: false, traceIds: [all.branches[0]!.trace!.id], reason: '1 of 2 branches did not succeed' });
    expect(mergedOf(all)?.parentIds).toEqual([all.branches[0]!.trace!.id]);

    // The suspect branch prints the same stdout, but its vote does not count: 2 of 3 still agree.
    const majority = await orch.federate({ sessionId: s.id, task: { input: 'answer' }, aggregate: 'majority', targets: [{ runner: 'spy' }, { runner: 'suspect' }, { runner: 'spy' }] });
    expect(majority.branches.map((b) => b.excluded)).toEqual([undefined, expect.stringMatching(REFUSED), undefined]);
    expect(majority.aggregate).toMatchObject({ ok: true, stdout: 'answer', traceIds: [majority.branches[0]!.trace!.id, majority.branches[2]!.trace!.id] });
    expect(mergedOf(majority)?.status).toBe('ok');
    // Two of three flagged: no majority among the mergeable ones.
    const none = await orch.federate({ sessionId: s.id, task: { input: 'answer' }, aggregate: 'majority', targets: [{ runner: 'suspect' }, { runner: 'spy' }, { runner: 'suspect' }] });
    expect(none.aggregate).toMatchObject({ ok: false, traceIds: [] });
    expect(none.merge).toBeUndefined();
  });
});
