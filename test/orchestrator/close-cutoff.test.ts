/**
 * A session's close waits at most closeWaitMs for the work in it; work that outlasts that — output
 * governance still evaluating a run's output, or a recorded trace's — is cut off before storage marks
 * the session closed: the close records its trace as `error` (a `failed` entry, LIMIT_SESSION_CLOSED),
 * and the work writes nothing more (its caller gets LIMIT_SESSION_CLOSED). Before, the run's final
 * status was written after storage said `closed`. Real SQLite storage, governance and orchestrator;
 * an output rule that waits until the test releases it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type GovernanceRule, type Orchestrator, type Runtime, type Storage } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

/** An output rule that waits, on outputs containing WAIT, until release(). */
function heldOutputRule() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const started = new Promise<void>((resolve) => (entered = resolve));
  const rule: GovernanceRule = {
    id: 'acme.held', flag: 'Unsafe', surfaces: ['output'],
    evaluate: async (subject) => {
      if (subject.view?.name !== 'raw' || !subject.text.includes('WAIT')) return [];
      entered();
      await released;
      return [];
    },
  };
  return { rule, started, release };
}

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

/** Storage's writes, in order, with the moment it marked a session closed among them. */
async function start(rule: GovernanceRule): Promise<{ orch: Orchestrator; log: string[] }> {
  rt = await createRuntime({
    config: {
      logLevel: 'silent', storage: 'sqlite',
      plugins: { 'storage-sqlite': { path: ':memory:' }, 'runner-python': false, orchestrator: { closeWaitMs: 50 }, governance: { packs: [], rules: [rule], ruleBudgetMs: 60_000 } },
    },
    plugins: [spyRunnerPlugin(spyRunner('spy'))],
  });
  const storage = rt.resolve('storage') as Storage;
  const log: string[] = [];
  const batch = storage.batch.bind(storage);
  storage.batch = async (tenant, ops) => {
    const result = await batch(tenant, ops);
    log.push(`batch ${ops.map((o) => o.op).join(',')}`);
    return result;
  };
  const closeSession = storage.closeSession.bind(storage);
  storage.closeSession = async (...args) => {
    const closed = await closeSession(...args);
    log.push('closed');
    return closed;
  };
  return { orch: rt.resolve('orchestrator'), log };
}

describe('work that outlasts closeWaitMs when its session closes', () => {
  it('a run whose output governance is still evaluating: cut off and recorded as error before storage says closed; its late final write is refused', async () => {
    const held = heldOutputRule();
    const { orch, log } = await start(held.rule);
    const s = await orch.openSession({});
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'WAIT' } }).then((o) => o, (e: unknown) => e);
    await held.started;
    const [trace] = (await orch.listTraces(undefined, { sessionId: s.id })).items;

    const closed = await orch.closeSession(undefined, s.id);
    expect(closed.status).toBe('closed');
    const atClose = log.length;
    const cut = await orch.inspectTrace(undefined, trace!.id);
    expect(cut.trace).toMatchObject({ status: 'error', output: { ok: true, stdout: 'WAIT' } });
    expect(cut.provenance.map((e) => e.action)).toEqual(['created', 'executed', 'failed']);
    expect(cut.provenance[2]!.data).toMatchObject({ status: 'error', code: 'LIMIT_SESSION_CLOSED', message: expect.stringContaining('closeWaitMs (50 ms)') });

    held.release();
    const outcome = await running;
    expect(outcome).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', details: { sessionId: s.id, traceId: trace!.id } });
    // Nothing of the run was written after storage marked the session closed.
    expect(log.slice(atClose)).toEqual([]);
    expect(log[atClose - 1]).toBe('closed');
    const after = await orch.inspectTrace(undefined, trace!.id);
    expect(after.provenance.map((e) => e.action)).toEqual(['created', 'executed', 'failed']);
    expect(after.checkpoints.map((c) => c.label)).toEqual(['governance:input']);
    expect(after.verification.verified).toBe(true);
  });

  it('a recorded trace whose output governance is still evaluating: stored as error by the close, before storage says closed; nothing written after', async () => {
    const held = heldOutputRule();
    const { orch, log } = await start(held.rule);
    const s = await orch.openSession({});
    const recording = orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'hi' }, output: { ok: true, stdout: 'WAIT', stderr: '' } }).then((o) => o, (e: unknown) => e);
    await held.started;

    await orch.closeSession(undefined, s.id);
    const atClose = log.length;
    const [trace] = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(trace).toMatchObject({ status: 'error', output: { ok: true, stdout: 'WAIT' } });

    held.release();
    expect(await recording).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', details: { sessionId: s.id, traceId: trace!.id } });
    expect(log.slice(atClose)).toEqual([]);
    expect(log[atClose - 1]).toBe('closed');
    const detail = await orch.inspectTrace(undefined, trace!.id);
    expect(detail.provenance.map((e) => e.action)).toEqual(['created', 'failed']);
    expect(detail.checkpoints).toEqual([]);
    expect(detail.verification.verified).toBe(true);
  });

  it.each(['run', 'recordTrace'] as const)('a %s still reading its parents (no trace yet) is cut off too: refused, nothing of it written after storage says closed', async (how) => {
    const { orch, log } = await start(heldOutputRule().rule);
    const s = await orch.openSession({});
    const parent = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'parent' } });
    // The parents' lookup waits until the test releases it: the close's wait (closeWaitMs) runs out meanwhile.
    const storage = rt!.resolve('storage') as Storage;
    const getTrace = storage.getTrace.bind(storage);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const looking = new Promise<void>((resolve) => (entered = resolve));
    storage.getTrace = async (tenant, id) => {
      if (id === parent.trace.id) {
        entered();
        await released;
      }
      return getTrace(tenant, id);
    };
    const work = how === 'run'
      ? orch.run({ sessionId: s.id, runner: 'spy', parentIds: [parent.trace.id], task: { input: 'child' } })
      : orch.recordTrace({ sessionId: s.id, runner: 'agent', parentIds: [parent.trace.id], task: { input: 'child' }, output: { ok: true, stdout: 'x', stderr: '' } });
    const settled = work.then((o) => o, (e: unknown) => e);
    await looking;
    await orch.closeSession(undefined, s.id);
    const atClose = log.length;
    release();
    expect(await settled).toMatchObject({ code: 'LIMIT_SESSION_CLOSED' });
    expect(log.slice(atClose)).toEqual([]);
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items.map((t) => t.id)).toEqual([parent.trace.id]);
  });
});
