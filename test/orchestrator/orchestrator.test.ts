import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, isLimitError } from 'limit-graph';
import type { Orchestrator, Runtime, Trace } from 'limit-graph';
import orchestratorPlugin from '../../plugins/orchestrator/index.ts';
import { nonNegative } from '../../plugins/orchestrator/orchestrator.ts';
import { keywordGovernancePlugin, memoryStoragePlugin, spyRunner, spyRunnerPlugin, type SpyRunner } from './doubles.ts';

/** Simple RD doubles: distortion = |node count difference|; knee = the point after the largest drop. */
const rdPlugin = definePlugin({
  meta: { name: 'test-rd', version: '0.0.0', provides: ['rd:count', 'rd:slow', 'knee:drop'] },
  setup(ctx) {
    ctx.provide('rd:count', { name: 'count', distortion: (a, b) => ({ value: Math.abs(a.nodes.length - b.nodes.length), iterations: 1, converged: true, plan: [] }) });
    // Measures off the caller's thread, taking longer for smaller graphs: steps recorded at once finish in reverse order.
    ctx.provide('rd:slow', {
      name: 'slow',
      distortion: () => ({ value: 0, iterations: 1, converged: true, plan: [] }),
      distortionAsync: async (a) => {
        await new Promise((resolve) => setTimeout(resolve, 40 / a.nodes.length));
        return { value: a.nodes.length, iterations: 1, converged: true, plan: [] };
      },
    });
    ctx.provide('knee:drop', {
      name: 'drop',
      detect: (pts) => {
        let best = -1;
        let index: number | null = null;
        for (let i = 1; i < pts.length; i++) {
          const drop = pts[i - 1]!.y - pts[i]!.y;
          if (drop > best) [best, index] = [drop, i];
        }
        return { index };
      },
    });
  },
});

async function expectCode(p: Promise<unknown>, code: string) {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(isLimitError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as { message: string; details?: Record<string, unknown> };
}

describe('orchestrator (test doubles for storage, governance, runners)', () => {
  let rt: Runtime;
  let orch: Orchestrator;
  let spy: SpyRunner;
  let other: SpyRunner;
  const seen: string[] = [];

  beforeEach(async () => {
    spy = spyRunner('spy');
    other = spyRunner('other');
    seen.length = 0;
    const observer = definePlugin({
      meta: { name: 'observer', version: '0.0.0' },
      setup(ctx) {
        ctx.hooks.beforeRun.tapPromise('observer', async (r) => { seen.push('beforeRun'); return { ...r, metadata: { ...r.metadata, observed: true } }; });
        ctx.hooks.governInput.tapPromise('observer', async (f) => { seen.push('governInput'); return f; });
        ctx.hooks.governOutput.tapPromise('observer', async (f, t) => {
          seen.push('governOutput');
          if (t.output?.stdout.includes('EXPLODE')) throw new Error('output governance fell over');
          return f;
        });
        ctx.hooks.afterRun.tapPromise('observer', async (t) => { seen.push(`afterRun:${t.status}`); });
        ctx.hooks.beforeMerge.tapPromise('observer', async (m) => (m.rationale === 'veto me' ? { reason: 'not today', by: 'observer' } : undefined));
      },
    });
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(spy), spyRunnerPlugin(other), rdPlugin, observer, orchestratorPlugin.configure({ timeoutGraceMs: 200 })],
    });
    orch = rt.resolve('orchestrator');
  });
  afterEach(async () => {
    await rt.close();
  });

  it('runs a clean task through every hook and persists trace, checkpoints and provenance', async () => {
    const s = await orch.openSession({ name: 'a' });
    expect(rt.getSession(s.id)?.tenant).toBe('default');
    const out = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'hello' } });
    expect(out.executed).toBe(true);
    expect(out.trace.status).toBe('ok');
    expect(out.trace.output?.stdout).toBe('hello');
    expect(out.trace.metadata.observed).toBe(true);
    expect(seen).toEqual(['beforeRun', 'governInput', 'governOutput', 'afterRun:ok']);
    const detail = await orch.inspectTrace(undefined, out.trace.id);
    expect(detail.provenance.map((e) => e.action)).toEqual(['created', 'executed', 'completed']);
    expect(detail.provenance[0]!.operation).toBe('add');
    expect(detail.verification.verified).toBe(true);
    expect(detail.checkpoints.map((c) => [c.label, c.passed])).toEqual([['governance:input', true], ['governance:output', true]]);
  });

  it("refuses an explicit session id another tenant has open in this process, without naming that tenant", async () => {
    const a = await orch.openSession({ id: 'shared-id', tenant: 'tenant-a' });
    const err = await expectCode(orch.openSession({ id: a.id, tenant: 'tenant-b' }), 'LIMIT_CONFLICT');
    expect(err.message).not.toContain('tenant-a');
    expect(JSON.stringify(err.details ?? {})).not.toContain('tenant-a');
    expect(await orch.getSession('tenant-b', a.id)).toBeNull();
    expect(rt.getSession(a.id)?.tenant).toBe('tenant-a');
    // The same tenant gets the usual "already exists"; after A closes it, the kernel registry is free.
    await expectCode(orch.openSession({ id: a.id, tenant: 'tenant-a' }), 'LIMIT_CONFLICT');
    await orch.closeSession('tenant-a', a.id);
    // The kernel registry's own conflict message does not name a tenant either.
    await rt.openSession({ id: 'kernel-only', tenant: 'tenant-a' });
    const kernelErr = await expectCode(rt.openSession({ id: 'kernel-only', tenant: 'tenant-b' }), 'LIMIT_CONFLICT');
    expect(kernelErr.message).not.toContain('tenant-a');
    expect(JSON.stringify(kernelErr.details ?? {})).not.toContain('tenant-a');
  });

  it('does not execute a blocked task', async () => {
    const s = await orch.openSession();
    const out = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'JAILBREAK now' } });
    expect(out.executed).toBe(false);
    expect(out.trace.status).toBe('blocked');
    expect(spy.calls).toHaveLength(0);
    expect(out.trace.flags.map((f) => f.kind)).toEqual(['Jailbreak']);
    expect(out.checkpoints[0]).toMatchObject({ label: 'governance:input', passed: false });
    const detail = await orch.inspectTrace(undefined, out.trace.id);
    expect(detail.provenance.map((e) => e.action)).toEqual(['created', 'flagged', 'blocked']);
    expect(seen).toContain('afterRun:blocked');
  });

  it('quarantines a flagged output', async () => {
    const s = await orch.openSession();
    const out = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'the SECRET is 42' } });
    expect(out.trace.status).toBe('quarantined');
    expect((await orch.inspectTrace(undefined, out.trace.id)).quarantined).toBe(true);
  });

  it('a trace quarantined by a person while it runs stays quarantined (the final status is written only from running)', async () => {
    const s = await orch.openSession();
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:300 hi' } });
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      await new Promise((r) => setTimeout(r, 10));
      id = (await orch.listTraces(undefined, { sessionId: s.id })).items.find((t) => t.status === 'running')?.id;
    }
    expect(id).toBeDefined();
    await rt.resolve('governance').quarantine('default', id!, { reason: 'looks harmful', actor: 'carol' });
    const out = await running;
    expect(out.trace.status).toBe('quarantined');
    const detail = await orch.inspectTrace(undefined, id!);
    expect(detail.trace.status).toBe('quarantined');
    expect(detail.provenance.at(-1)).toMatchObject({ action: 'completed', data: { status: 'quarantined', runStatus: 'ok' } });
    expect(detail.verification.verified).toBe(true);
  });

  it('records runner failures, timeouts and unknown runners', async () => {
    const s = await orch.openSession({ limits: { timeoutMs: 100 } });
    const failed = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'FAIL' } });
    expect(failed.trace).toMatchObject({ status: 'error', output: { ok: false, error: { code: 'LIMIT_RUNNER_TASK_ERROR' } } });
    const hung = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'HANG' } });
    expect(hung.trace.status).toBe('error');
    expect(hung.trace.output?.error?.code).toBe('LIMIT_RUNNER_TIMEOUT');
    await expectCode(orch.run({ sessionId: s.id, runner: 'nope', task: { input: 'x' } }), 'LIMIT_RUNNER_NOT_FOUND');
    await expectCode(orch.run({ sessionId: 'missing', runner: 'spy', task: { input: 'x' } }), 'LIMIT_NOT_FOUND');
  });

  it("waits a runner's timeoutSlackMs past timeoutMs before its backstop fires (runner-queue's dispatchTimeoutMs)", async () => {
    // A queue's task may wait for a worker before its timeoutMs starts: the backstop (timeoutMs +
    // timeoutGraceMs = 250 ms here) used to abort it long before the runner's own limit.
    const queued = Object.assign(spyRunner('slack'), { timeoutSlackMs: 500 });
    const own = await createRuntime({ config: { plugins: {} }, plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(queued), orchestratorPlugin.configure({ timeoutGraceMs: 200 })] });
    try {
      const o = own.resolve('orchestrator');
      const s = await o.openSession({ limits: { timeoutMs: 50 } });
      const late = await o.run({ sessionId: s.id, runner: 'slack', task: { input: 'SLEEP:400 done' } });
      expect(late.trace).toMatchObject({ status: 'ok', output: { ok: true, stdout: 'done' } });
      // Still a backstop: a runner that never comes back is stopped at timeoutMs + slack + grace.
      const started = performance.now();
      const hung = await o.run({ sessionId: s.id, runner: 'slack', task: { input: 'HANG' } });
      expect(hung.trace.output?.error).toMatchObject({ code: 'LIMIT_RUNNER_TIMEOUT', message: 'Execution exceeded 50 ms and the runner did not stop' });
      expect(performance.now() - started).toBeGreaterThanOrEqual(700);
    } finally {
      await own.close();
    }
  });

  it("does not time a run's wait for its session slot: timeoutMs and the backstop start once it has the slot (as the README says)", async () => {
    // timeoutMs 50 + timeoutGraceMs 200: the third run waits ~400 ms for its slot, then runs 200 ms.
    const s = await orch.openSession({ limits: { maxConcurrency: 1, timeoutMs: 50 } });
    const outs = await Promise.all([1, 2, 3].map((i) => orch.run({ sessionId: s.id, runner: 'spy', task: { input: `SLEEP:200 ${i}` } })));
    expect(outs.map((o) => [o.trace.status, o.trace.output?.stdout])).toEqual([['ok', '1'], ['ok', '2'], ['ok', '3']]);
    expect(spy.maxInFlight).toBe(1);
  });

  it('bounds concurrency per session and aborts running tasks on close', async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 2 } });
    await Promise.all(Array.from({ length: 6 }, () => orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:40 x' } })));
    expect(spy.maxInFlight).toBe(2);

    const s2 = await orch.openSession();
    const running = orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'SLEEP:5000 y' } });
    await new Promise((r) => setTimeout(r, 50));
    const closed = await orch.closeSession(undefined, s2.id);
    expect(closed.status).toBe('closed');
    const out = await running;
    expect(out.trace.status).toBe('error');
    expect(out.trace.output?.error?.code).toMatch(/ABORTED|SESSION_CLOSED/);
    expect(spy.closed).toContain(s2.id);
    expect(other.closed).toContain(s2.id);
    expect(spy.closedTenants.at(spy.closed.lastIndexOf(s2.id))).toBe('default'); // the session's tenant, for runners whose state outlives this process
    await expectCode(orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'z' } }), 'LIMIT_SESSION_CLOSED');
  });

  it('refuses a run (and every other write into the session) that arrives while the session is closing, and runs nothing in it afterwards', async () => {
    const s = await orch.openSession();
    const before = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'before' } });
    const rd = await orch.createRdSeries({ sessionId: s.id, name: 'curve' });
    // Hold the close at its last step, where storage still says `open`.
    const storage = rt.resolve('storage');
    const closeStored = storage.closeSession.bind(storage);
    let release!: () => void;
    storage.closeSession = async (...args) => {
      await new Promise<void>((r) => (release = r));
      return closeStored(...args);
    };
    const closing = orch.closeSession(undefined, s.id);
    await new Promise((r) => setTimeout(r, 10));
    expect((await orch.getSession(undefined, s.id))?.status).toBe('open');
    await expectCode(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'during' } }), 'LIMIT_SESSION_CLOSED');
    // Not only runs: a recorded trace, a merge, an RD series or point, a federation into it.
    await expectCode(orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'q' }, output: { ok: true, stdout: 'a', stderr: '' } }), 'LIMIT_SESSION_CLOSED');
    await expectCode(orch.merge({ parentIds: [before.trace.id] }), 'LIMIT_SESSION_CLOSED');
    await expectCode(orch.createRdSeries({ sessionId: s.id, name: 'late' }), 'LIMIT_SESSION_CLOSED');
    await expectCode(orch.recordRdStep(rd.id, { rate: 1, distortion: 0.5 }), 'LIMIT_SESSION_CLOSED');
    await expectCode(orch.federate({ sessionId: s.id, task: { input: 'f' }, aggregate: 'all', targets: [{ runner: 'spy' }] }), 'LIMIT_SESSION_CLOSED');
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items.map((t) => t.id)).toEqual([before.trace.id]);
    release();
    expect((await closing).status).toBe('closed');
    await expectCode(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'after' } }), 'LIMIT_SESSION_CLOSED');
    expect(spy.calls.map((c) => c.input)).toEqual(['before']);
    expect(rt.getSession(s.id)).toBeUndefined(); // no scope was opened again for the refused run
  });

  it('a second closeSession during a close waits for the first: it returns once the runs are recorded and storage says closed', async () => {
    const s = await orch.openSession();
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:5000 slow' } });
    while (spy.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    // The aborted run is slow to record its output: the first close waits for it.
    const storage = rt.resolve('storage');
    const batch = storage.batch.bind(storage);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    storage.batch = async (tenant, ops) => {
      if (ops.some((op) => op.op === 'appendProvenance' && op.input.action === 'executed')) await held;
      return batch(tenant, ops);
    };
    const first = orch.closeSession(undefined, s.id);
    await new Promise((r) => setTimeout(r, 10));
    let secondDone = false;
    const second = orch.closeSession(undefined, s.id).then((closed) => ((secondDone = true), closed));
    await new Promise((r) => setTimeout(r, 50));
    expect(secondDone).toBe(false); // the first close is still waiting for the run
    release();
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual(['closed', 'closed']);
    expect(b.closedAt).toBe(a.closedAt);
    expect((await running).trace.status).toBe('error');
  });

  it('a close that begins while a run is past its session check waits for that run: no trace is written after the session closed', async () => {
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'parent' } })).trace;
    // Hold the run at its parents' check, after it has found the session open.
    const storage = rt.resolve('storage');
    const getTrace = storage.getTrace.bind(storage);
    let reached!: () => void;
    const atCheck = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let armed = true;
    storage.getTrace = async (tenant, id) => {
      if (armed && id === parent.id) {
        armed = false;
        reached();
        await held;
      }
      return getTrace(tenant, id);
    };
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:5000 late' }, parentIds: [parent.id] }).catch((e: unknown) => e);
    await atCheck;
    let closedYet = false;
    const closing = orch.closeSession(undefined, s.id).then((c) => ((closedYet = true), c));
    await new Promise((r) => setTimeout(r, 50));
    expect(closedYet).toBe(false); // the close waits for the run it did not see start
    release();
    const closed = await closing;
    const outcome = (await running) as { trace: Trace };
    expect(outcome.trace.status).toBe('error');
    const traces = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(traces).toHaveLength(2);
    for (const t of traces) {
      expect(t.status).not.toBe('running');
      expect(t.completedAt! <= closed.closedAt!, `${t.id} completed ${t.completedAt}, session closed ${closed.closedAt}`).toBe(true);
    }
  });

  it.each(['recordTrace', 'merge'] as const)('a close that begins while a %s is past its session check waits for it: nothing is written after the session closed', async (what) => {
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'parent' } })).trace;
    // Hold the write after it found the session open: at its parents' check (recordTrace), or at
    // the read of their chain heads (merge).
    const storage = rt.resolve('storage');
    const method = what === 'recordTrace' ? 'getTrace' : 'listProvenance';
    const original = storage[method].bind(storage) as (tenant: string, id: string) => Promise<unknown>;
    let reached!: () => void;
    const atCheck = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let armed = true;
    (storage as unknown as Record<string, unknown>)[method] = async (tenant: string, id: string) => {
      if (armed && id === parent.id) {
        armed = false;
        reached();
        await held;
      }
      return original(tenant, id);
    };
    const writing = what === 'recordTrace'
      ? orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'q' }, parentIds: [parent.id], output: { ok: true, stdout: 'a', stderr: '' } })
      : orch.merge({ parentIds: [parent.id] });
    await atCheck;
    let closedYet = false;
    const closing = orch.closeSession(undefined, s.id).then((c) => ((closedYet = true), c));
    await new Promise((r) => setTimeout(r, 50));
    expect(closedYet).toBe(false);
    release();
    const closed = await closing;
    expect((await writing).trace.status).toBe('ok');
    const traces = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(traces).toHaveLength(2);
    for (const t of traces) expect(t.completedAt! <= closed.closedAt!, `${t.id} completed ${t.completedAt}, session closed ${closed.closedAt}`).toBe(true);
  });

  it('refuses RD points in a closed session, as it refuses new series there', async () => {
    const s = await orch.openSession();
    const rd = await orch.createRdSeries({ sessionId: s.id, name: 'd' });
    await orch.recordRdStep(rd.id, { rate: 1, distortion: 0.5 });
    await orch.closeSession(undefined, s.id);
    await expectCode(orch.recordRdStep(rd.id, { rate: 2, distortion: 0.25 }), 'LIMIT_SESSION_CLOSED');
    expect((await rt.resolve('storage').getRdSeries('default', rd.id))!.points).toHaveLength(1);
  });

  it('a merge whose output failed (a failed parent in concat or union) is an error, as a failed run is', async () => {
    const s = await orch.openSession();
    const ok = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'fine' } })).trace;
    const failed = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'FAIL' } })).trace;
    expect(failed.status).toBe('error');
    for (const strategy of ['concat', 'union'] as const) {
      const merged = await orch.merge({ parentIds: [ok.id, failed.id], strategy });
      expect(merged.trace).toMatchObject({ status: 'error', output: { ok: false } });
    }
    expect((await orch.merge({ parentIds: [ok.id], strategy: 'concat' })).trace.status).toBe('ok');
  });

  it('refuses runs in a session another process closed, though its scope is live here', async () => {
    const s = await orch.openSession();
    await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'first' } });
    await rt.resolve('storage').closeSession('default', s.id, new Date().toISOString()); // as the CLI would
    await expectCode(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'second' } }), 'LIMIT_SESSION_CLOSED');
    expect(spy.calls.map((c) => c.input)).toEqual(['first']);
    // closeSession here then lets go of the scope and the runners' workers, not only at runtime close.
    expect(rt.getSession(s.id)?.closed).toBe(false);
    expect((await orch.closeSession(undefined, s.id)).status).toBe('closed');
    expect(rt.getSession(s.id)).toBeUndefined();
    expect(spy.closed).toEqual([s.id]);
  });

  it('merges, refuses quarantined parents, honours vetoes', async () => {
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'one' } })).trace;
    const b = (await orch.run({ sessionId: s.id, runner: 'other', task: { input: 'two' } })).trace;
    const q = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SECRET' } })).trace;
    const merged = await orch.merge({ parentIds: [a.id, b.id], strategy: 'concat', rationale: 'join' });
    expect(merged.trace).toMatchObject({ status: 'ok', parentIds: [a.id, b.id], output: { stdout: 'onetwo' } });
    const prov = (await orch.inspectTrace(undefined, merged.trace.id)).provenance;
    expect(prov[0]).toMatchObject({ action: 'merge', operation: 'merge', rationale: 'join' });
    const refusal = await expectCode(orch.merge({ parentIds: [a.id, q.id] }), 'LIMIT_MERGE_REFUSED');
    // Only the quarantined parent is refused, once (the clean one is not named).
    expect(refusal.details?.refusals).toEqual([{ parentId: q.id, reason: expect.stringContaining('quarantined') }]);
    expect(refusal.message).toContain(q.id);
    const veto = await expectCode(orch.merge({ parentIds: [a.id, b.id], rationale: 'veto me' }), 'LIMIT_MERGE_REFUSED');
    expect(veto.message).toBe(`Merge of ${a.id}, ${b.id} vetoed by observer: not today`);
    expect(veto.details).toMatchObject({ vetoedBy: 'observer', refusals: [{ parentId: '*', reason: 'vetoed by observer: not today' }] });
    // Neither refused merge left a trace behind: the session holds the three runs and the one merge.
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items.map((t) => t.id).sort()).toEqual([a.id, b.id, q.id, merged.trace.id].sort());
  });

  it('federates with one failing branch, excludes it and merges the rest', async () => {
    const s = await orch.openSession();
    rt.resolve('runner:other').executeIsolated = async () => ({ ok: false, stdout: '', stderr: 'down', error: { code: 'LIMIT_RUNNER_FAILED', message: 'down' }, metrics: { latencyMs: 1 } });
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'answer 42' }, targets: [{ runner: 'spy' }, { runner: 'other' }, { runner: 'spy' }], aggregate: 'majority', concurrency: 2 });
    expect(fed.branches.map((b) => b.trace?.status)).toEqual(['ok', 'error', 'ok']);
    expect(fed.branches[1]!.excluded).toContain('status error');
    expect(fed.aggregate).toMatchObject({ ok: true, stdout: 'answer 42' });
    expect(fed.merge && 'trace' in fed.merge ? fed.merge.trace.parentIds : []).toEqual(fed.aggregate.traceIds);
    const all = await orch.federate({ sessionId: s.id, task: { input: 'x' }, targets: [{ runner: 'spy' }, { runner: 'other' }], aggregate: 'all' });
    expect(all.aggregate.ok).toBe(false);
    expect(all.aggregate.traceIds).toHaveLength(1);
    const first = await orch.federate({ sessionId: s.id, task: { input: 'SLEEP:30 fast' }, targets: [{ runner: 'spy' }, { runner: 'spy' }, { runner: 'spy' }], aggregate: 'first-success', concurrency: 1 });
    expect(first.aggregate.ok).toBe(true);
    expect(first.branches.filter((b) => b.trace)).toHaveLength(1);
  });

  it('waits for review, then approves or rejects', async () => {
    await rt.close();
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin.configure({ requireHumanReview: true }), spyRunnerPlugin(spy), orchestratorPlugin],
    });
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
    const m1 = await orch.merge({ parentIds: [a.id, b.id] });
    expect(m1.trace.status).toBe('pending-review');
    const approved = await orch.approveMerge(m1.trace.id, { actor: 'alice', rationale: 'looks right' });
    expect(approved.status).toBe('ok');
    await expectCode(orch.approveMerge(m1.trace.id, { actor: 'alice' }), 'LIMIT_CONFLICT');
    const m2 = await orch.merge({ parentIds: [a.id] });
    // A review is a decision about a stored trace, not new work: it is taken after the session closed.
    await orch.closeSession(undefined, s.id);
    expect((await orch.rejectMerge(m2.trace.id, { actor: 'bob' })).status).toBe('rejected');
    const actions = (await orch.inspectTrace(undefined, m1.trace.id)).provenance.map((e) => e.action);
    expect(actions).toEqual(['merge', 'review-requested', 'approved']);
  });

  it('holds a trace quarantined (as error) with a "failed" entry when output governance throws mid-pipeline (run, recordTrace, merge)', async () => {
    const s = await orch.openSession();
    const clean = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'fine' } })).trace;
    await expect(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'EXPLODE' } })).rejects.toThrow('output governance fell over');
    await expect(orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'x' }, output: { ok: true, stdout: 'EXPLODE', stderr: '' } })).rejects.toThrow('output governance fell over');
    // This service cannot assess: the merged trace is stored before its output is evaluated.
    await expect(orch.merge({ parentIds: [clean.id], strategy: 'custom', output: { ok: true, stdout: 'EXPLODE', stderr: '' } })).rejects.toThrow('output governance fell over');
    const traces = (await orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.id !== clean.id);
    expect(traces.map((t) => t.runner).sort()).toEqual(['agent', 'merge', 'spy']);
    for (const t of traces) {
      // Its output was never governed: held quarantined, not a plain error a merge would take.
      expect(t.status).toBe('quarantined');
      expect(await rt.resolve('storage').getQuarantine('default', t.id)).toMatchObject({ quarantined: true, previousStatus: 'error' });
      const detail = await orch.inspectTrace(undefined, t.id);
      expect(detail.provenance.at(-2)).toMatchObject({ action: 'failed', data: { status: 'error', message: expect.stringContaining('output governance fell over') } });
      expect(detail.provenance.at(-1)).toMatchObject({ action: 'quarantined', data: { ungoverned: 'output' } });
      expect(detail.verification.verified).toBe(true);
      await expectCode(orch.merge({ parentIds: [clean.id, t.id] }), 'LIMIT_MERGE_REFUSED');
    }
    // The run kept the runner's real output (its chain binds it); its status holds it.
    expect(traces.find((t) => t.runner === 'spy')?.output?.stdout).toContain('EXPLODE');
  });

  it('tracks an RD series and reports its knee', async () => {
    const s = await orch.openSession();
    const graph = (n: number) => ({ nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [i] })), edges: [] });
    const { series, knee } = await orch.refine({
      sessionId: s.id, name: 'r', reference: graph(10), distortionAlgorithm: 'count', detector: 'drop', maxSteps: 5,
      step: (i) => ({ graph: graph([1, 8, 9, 10, 10][i]!), rate: i + 1 }),
    });
    expect(series.points.map((p) => p.distortion)).toEqual([9, 2, 1, 0, 0]);
    expect(knee.index).toBe(1);
    expect(knee.point?.step).toBe(1);
    await expectCode(orch.recordRdStep(series.id, { rate: 1 }), 'LIMIT_RD_INVALID_INPUT');
  });

  it('steps of one series recorded at once get distinct default steps (storage gives the step in the append)', async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'parallel', reference: { nodes: [{ id: 'r', features: [0] }], edges: [] }, distortionAlgorithm: 'slow' });
    const graph = (n: number) => ({ nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [0] })), edges: [] });
    // Before, all four read step 0 before any was appended, and all were stored as step 0.
    const appended = await Promise.all([
      orch.recordRdStep(series.id, { rate: 1, graph: graph(1) }),
      orch.recordRdStep(series.id, { rate: 2, graph: graph(2) }),
      orch.recordRdStep(series.id, { rate: 3, graph: graph(4) }),
      orch.recordRdStep(series.id, { rate: 4, distortion: 0.5 }),
    ]);
    expect(appended.map((a) => a.point.step).sort()).toEqual([0, 1, 2, 3]);
    const stored = (await orch.rdKnee(undefined, series.id, 'drop')).points;
    expect(stored.map((p) => p.step).sort()).toEqual([0, 1, 2, 3]);
    // An explicit step is kept as given, and the next default one follows the largest.
    await orch.recordRdStep(series.id, { rate: 5, distortion: 0.1, step: 10 });
    expect((await orch.recordRdStep(series.id, { rate: 6, distortion: 0.05 })).point.step).toBe(11);
  });

  it('refuses an explicit step that would leave a series no next step, and the series goes on (rd-audit #7)', async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'steps' });
    // Was stored; every later step without `step` then failed validation (step max + 1 is not a safe integer).
    const refused = await expectCode(orch.recordRdStep(series.id, { rate: 5, distortion: 0.1, step: Number.MAX_SAFE_INTEGER }), 'LIMIT_RD_INVALID_INPUT');
    expect(refused.details?.field).toBe('step');
    expect(refused.message).toMatch(/^step: 9007199254740991 leaves RD series .* no next step/);
    const next = await orch.recordRdStep(series.id, { rate: 6, distortion: 0.05 });
    expect(next.point.step).toBe(0);
    const highest = await orch.recordRdStep(series.id, { rate: 7, distortion: 0.04, step: Number.MAX_SAFE_INTEGER - 1 });
    expect(highest.point.step).toBe(Number.MAX_SAFE_INTEGER - 1);
    // Checked before a graph is measured (this series has no reference: the graph would be refused for that).
    const graphRefused = await expectCode(orch.recordRdStep(series.id, { rate: 8, graph: { nodes: [], edges: [] } }), 'LIMIT_RD_INVALID_INPUT');
    expect(graphRefused.message).toMatch(/has no next step/);
    expect((await orch.recordRdStep(series.id, { rate: 8, distortion: 0.03, step: 1 })).point.step).toBe(1);
  });

  it('reads a solver\'s rounding-level negative distortion as 0 and refuses a clearly negative one', () => {
    expect(nonNegative(-4.440892098500626e-16, 'fgw', 's')).toBe(0);
    expect(nonNegative(0.25, 'fgw', 's')).toBe(0.25);
    let error: unknown;
    try {
      nonNegative(-0.01, 'fgw', 's');
    } catch (e) {
      error = e;
    }
    expect(isLimitError(error, 'LIMIT_RD_INVALID_INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/rd:fgw returned a negative distortion \(-0\.01\)/);
    // NaN and ±∞ are no distortion at all, said as such (NaN is not "negative"; ∞ is not stored).
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      let thrown: unknown;
      try {
        nonNegative(bad, 'mine', 's');
      } catch (e) {
        thrown = e;
      }
      expect(isLimitError(thrown, 'LIMIT_RD_INVALID_INPUT'), String(bad)).toBe(true);
      expect((thrown as Error).message).toBe(`rd:mine returned a distortion that is not a finite number (${String(bad)}) for a step of RD series "s"`);
    }
  });

  it('escapes formula-like CSV cells with a leading quote, and the artifact still verifies', async () => {
    const { encodeCsv, parseCsv } = await import('../../plugins/orchestrator/csv.ts');
    const values = ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1', "'=already", "''@x", "'plain", '-1.5', '+3', '1e-5', 'safe', '', 'a=b'];
    const text = encodeCsv(['v'], values.map((v) => [v]));
    const written = text.split('\r\n').slice(1, -1);
    expect(written.slice(0, 6)).toEqual(["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "\"'\r=1\""]);
    expect(written.slice(6, 9)).toEqual(["''=already", "'''@x", "'plain"]);
    expect(written.slice(9)).toEqual(['-1.5', '+3', '1e-5', 'safe', '""', 'a=b']);
    // Parsing restores every value exactly.
    expect(parseCsv(text).slice(1).map((r) => r[0])).toEqual(values);

    // Whitespace before a trigger (which LibreOffice's and Google Sheets' imports trim), and LF or NUL
    // first (as tab and CR), are escaped too; the round trip stays exact.
    const spaced = [' =1+1', '  +1', '\n=HYPERLINK("http://x")', '\r\n@SUM(A1)', '\t -2+3', '\u00a0=1', '\n', '\0x', "' =1", "'\n@x", ' plain', ' -', 'a =b'];
    const spacedText = encodeCsv(['v'], spaced.map((v) => [v]));
    const spacedCells = parseCsv(spacedText.replaceAll("'", '\u0001')).slice(1).map((r) => r[0]);
    expect(spacedCells.slice(0, 10).every((c) => c!.startsWith('\u0001'))).toBe(true);
    expect(spacedCells.slice(10)).toEqual([' plain', "\u0001 -", 'a =b']);
    expect(parseCsv(spacedText).slice(1).map((r) => r[0])).toEqual(spaced);

    const s = await orch.openSession({ name: '=HYPERLINK("http://x")' });
    await orch.recordTrace({
      sessionId: s.id, runner: '@ext', source: "=cmd|' /C calc'!A0",
      task: { kind: 'external', input: '+SUM(1,2)' }, output: { ok: true, stdout: '-2+3', stderr: "'=x" },
    });
    await orch.recordTrace({
      sessionId: s.id, runner: 'ext', task: { input: ' =1+1' }, output: { ok: true, stdout: '\n@SUM(A1)', stderr: '\t -2+3' },
    });
    const art = await orch.exportArtifact({ sessionId: s.id, format: 'csv' });
    const csv = art.files.filter((f) => f.path.endsWith('.csv'));
    expect(csv.length).toBeGreaterThan(0);
    // No cell of any CSV file starts with a formula character once CSV quoting is removed.
    const cells: string[] = [];
    for (const f of csv) for (const row of parseCsv(f.content.replaceAll("'", '\u0001'))) for (const cell of row) cells.push(cell ?? '');
    for (const cell of cells) expect(cell).not.toMatch(/^\s*[=+@]|^[\t\r\n\0]|^\s*-(?![\d.])/);
    // The cells checked include the dangerous values, neutralised (the ' read as \u0001 above).
    expect(cells).toEqual(expect.arrayContaining(['\u0001=HYPERLINK("http://x")', '\u0001+SUM(1,2)', '\u0001 =1+1']));
    expect(csv.map((f) => f.content).join('\n')).toContain("'=cmd|' /C calc'!A0");
    expect(art.manifest.provenance.verified).toBe(true);
    const verified = orch.verifyArtifact(art.files);
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it.each(['json', 'jsonl', 'csv'] as const)('exports a session as %s that verifies, and detects tampering', async (format) => {
    const s = await orch.openSession();
    await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'line, with "quotes"\nand newline' } });
    await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'JAILBREAK' } });
    const rd = await orch.createRdSeries({ sessionId: s.id, name: 'd' });
    await orch.recordRdStep(rd.id, { rate: 1, distortion: 0.5 });
    const art = await orch.exportArtifact({ sessionId: s.id, format });
    expect(art.manifest.parts.traces.records).toBe(2);
    expect(art.manifest.provenance.verified).toBe(true);
    const ok = orch.verifyArtifact(art.files);
    expect(ok.problems).toEqual([]);
    expect(ok.ok).toBe(true);

    // Content tampering: the part digest no longer matches.
    const tampered = art.files.map((f) => ({ ...f, content: f.content.replace('and newline', 'and NEWLINE') }));
    const bad = orch.verifyArtifact(tampered);
    expect(bad.ok).toBe(false);
    expect(bad.parts.find((p) => p.name === 'traces')?.ok).toBe(false);

    // Provenance tampering with the digest recomputed: the chain itself breaks.
    if (format === 'json') {
      const doc = JSON.parse(art.files[0]!.content) as { manifest: typeof art.manifest; parts: { provenance: { actor: string }[] } };
      doc.parts.provenance[0]!.actor = 'mallory';
      const { buildArtifact } = await import('../../plugins/orchestrator/artifact.ts');
      const parts = doc.parts as unknown as Parameters<typeof buildArtifact>[0];
      const rebuilt = buildArtifact({ ...parts, tenant: 'default', sessionIds: [s.id], traceIds: art.manifest.traceIds }, 'json', art.manifest.createdAt);
      doc.manifest.parts = rebuilt.manifest.parts;
      const res = orch.verifyArtifact([{ path: 'a.json', content: JSON.stringify(doc) }]);
      expect(res.ok).toBe(false);
      expect(res.problems.join('\n')).toMatch(/chain broken at seq 0/);
    }
  });

  it('records external traces under governance', async () => {
    const s = await orch.openSession();
    const out = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'q' }, output: { ok: true, stdout: 'SECRET', stderr: '' } });
    expect(out.trace.status).toBe('quarantined');
    expect(out.trace.task.kind).toBe('external');
    const blocked = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'JAILBREAK' }, output: { ok: true, stdout: 'x', stderr: '' } });
    expect(blocked.trace.status).toBe('blocked');
    const all: Trace[] = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(all).toHaveLength(2);
  });

  it('writes each step of its own in one batch: a recorded trace is two orchestrator transactions, a merge two', async () => {
    const s = await orch.openSession();
    const storage = rt.resolve('storage');
    const writes: string[] = [];
    const single = ['createTrace', 'updateTrace', 'appendProvenance', 'addCheckpoint', 'addFlag', 'setQuarantine', 'incrementCounters'] as const;
    const originals = single.map((m) => [m, storage[m]] as const);
    for (const [m, fn] of originals) (storage as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => { writes.push(m); return (fn as (...a: unknown[]) => unknown).apply(storage, args); };
    const batch = storage.batch.bind(storage);
    storage.batch = async (tenant, ops) => {
      writes.push(`batch[${ops.map((o) => (o.op === 'appendProvenance' ? `prov:${o.input.action}` : o.op)).join(',')}]`);
      // Ops inside a batch go through the single methods of this double: do not count them twice.
      const mark = writes.length;
      await batch(tenant, ops);
      writes.length = mark;
    };
    try {
      const rec = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'q' }, output: { ok: true, stdout: 'fine', stderr: '' } });
      expect(rec.trace.status).toBe('ok');
      // The keyword governance double writes one checkpoint per evaluation itself; the rest is ours.
      expect(writes).toEqual([
        'batch[createTrace,prov:created]', 'addCheckpoint', 'addCheckpoint', 'batch[updateTrace,prov:completed]',
      ]);
      expect(rec.checkpoints.map((c) => c.label)).toEqual(['governance:input', 'governance:output']);
      writes.length = 0;
      await orch.merge({ parentIds: [rec.trace.id], rationale: 'one' });
      // The merged output is governed too (this double cannot assess, so its checkpoint comes between);
      // the outcome is written only while the parent is still as checked (its updateTrace with ifStatus).
      expect(writes).toEqual(['batch[createTrace,prov:merge,addCheckpoint]', 'addCheckpoint', 'batch[updateTrace,updateTrace,prov:completed]']);
    } finally {
      for (const [m, fn] of originals) (storage as unknown as Record<string, unknown>)[m] = fn;
      storage.batch = batch;
    }
  });
});
