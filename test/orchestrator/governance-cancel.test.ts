/**
 * A run cancelled while input governance evaluates it: the rule in flight has its ctx.signal aborted
 * and the run is recorded as a cancel during the runner's execution is (status error, output error
 * LIMIT_RUNNER_ABORTED), with no verdict of the aborted evaluation. Output governance is never cut:
 * a runner's output is always governed whole. Real SQLite storage, the real
 * governance plugin with a custom async rule whose answer the test controls, the real orchestrator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type GovernanceRule, type Orchestrator, type RuleContext, type Runtime, type Surface } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

/** An async rule on `surface` that waits, on texts containing WAIT, until the test answers (or its signal aborts). */
function gatedRule(surface: Surface) {
  const calls: { signal: AbortSignal | undefined; answer: () => void }[] = [];
  const watchers: (() => void)[] = [];
  const rule: GovernanceRule = {
    id: `acme.gate-${surface}`, flag: 'Unsafe', surfaces: [surface],
    evaluate: (subject, ctx: RuleContext) => {
      if (!subject.text.includes('WAIT') || subject.view?.name !== 'raw') return [];
      return new Promise((resolve) => {
        calls.push({ signal: ctx.signal, answer: () => resolve([]) });
        for (const w of watchers.splice(0)) w();
      });
    },
  };
  return { rule, calls, entered: () => new Promise<void>((resolve) => (calls.length ? resolve() : watchers.push(resolve))) };
}

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function start(rule: GovernanceRule, spy = spyRunner('spy'), policy: Record<string, unknown> = {}): Promise<Orchestrator> {
  rt = await createRuntime({
    config: {
      logLevel: 'silent', storage: 'sqlite',
      plugins: { 'storage-sqlite': { path: ':memory:' }, 'runner-python': false, orchestrator: {}, governance: { packs: [], rules: [rule], ruleBudgetMs: 60_000, policy } },
    },
    plugins: [spyRunnerPlugin(spy)],
  });
  return rt.resolve('orchestrator');
}

describe('a run cancelled while governance evaluates it', () => {
  it('during input governance: the rule\'s signal aborts, the runner is never called, and the run is recorded as cancelled', async () => {
    const gate = gatedRule('input');
    const spy = spyRunner('spy');
    const orch = await start(gate.rule, spy);
    const s = await orch.openSession({});
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'print("WAIT")' } });
    await gate.entered();
    const [trace] = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(trace!.status).toBe('running');
    expect(orch.cancel(undefined, trace!.id)).toBe(true);
    const out = await running; // no answer from the rule: the cancel alone ends its evaluation

    const signal = gate.calls[0]!.signal!;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: `Trace "${trace!.id}" was cancelled` });
    expect(spy.calls).toEqual([]);
    expect(out.executed).toBe(true); // as for a run cancelled while waiting for its slot
    expect(out.verdicts.input).toBeUndefined(); // never an 'allow' from the aborted evaluation
    expect(out.verdicts.output?.decision).toBe('allow'); // the abort's error record, governed
    expect(out.trace).toMatchObject({ status: 'error', output: { ok: false, stdout: '', error: { code: 'LIMIT_RUNNER_ABORTED', message: `Trace "${trace!.id}" was cancelled` } } });
    const detail = await orch.inspectTrace(undefined, trace!.id);
    expect(detail.checkpoints.map((c) => c.label)).toEqual(['governance:output']);
    expect(detail.provenance.map((e) => e.action)).toEqual(['created', 'executed', 'completed']);
    expect(detail.provenance[1]!.data).toMatchObject({ ok: false, error: 'LIMIT_RUNNER_ABORTED' });
    expect(detail.provenance[2]!.data).toMatchObject({ status: 'error', aborted: { during: 'governance:input', code: 'LIMIT_RUNNER_ABORTED' } });
    expect(detail.verification.verified).toBe(true);
    gate.calls[0]!.answer(); // a late answer changes nothing
  });

  it('during output governance: the evaluation is not cut — what the runner produced is governed whole before it is stored', async () => {
    const gate = gatedRule('output');
    const orch = await start(gate.rule);
    const s = await orch.openSession({});
    const caller = new AbortController();
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'WAIT' }, signal: caller.signal });
    await gate.entered();
    caller.abort(new Error('user went away'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gate.calls[0]!.signal!.aborted).toBe(false);
    gate.calls[0]!.answer();
    const out = await running;

    expect([out.verdicts.input?.decision, out.verdicts.output?.decision]).toEqual(['allow', 'allow']);
    expect(out.trace).toMatchObject({ status: 'ok', output: { ok: true, stdout: 'WAIT' } });
    const detail = await orch.inspectTrace(undefined, out.trace.id);
    expect(detail.checkpoints.map((c) => c.label)).toEqual(['governance:input', 'governance:output']);
    expect(detail.verification.verified).toBe(true);
  });

  it('nothing else changes: an uncancelled run whose rule answers ends ok with both verdicts', async () => {
    const gate = gatedRule('input');
    const orch = await start(gate.rule);
    const s = await orch.openSession({});
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'WAIT' } });
    await gate.entered();
    gate.calls[0]!.answer();
    const out = await running;
    expect(gate.calls[0]!.signal!.aborted).toBe(false);
    expect(out.trace).toMatchObject({ status: 'ok', output: { ok: true, stdout: 'WAIT' } });
    expect([out.verdicts.input?.decision, out.verdicts.output?.decision]).toEqual(['allow', 'allow']);
  });
});

/**
 * A recorded trace, a merge and a merge's review under the caller's `signal`: a cancel before the
 * write rejects with LIMIT_RUNNER_ABORTED and writes nothing (no trace, no checkpoint, no counter);
 * once the write has begun it completes, and the record is stored whole.
 */
describe('a recorded trace or a merge cancelled by its caller', () => {
  /** Nothing of the cancelled call is stored: the session holds only `kept`, and governance counted nothing more than `counted`. */
  async function nothingWritten(orch: Orchestrator, sessionId: string, kept: string[] = [], counted: Record<string, number> = {}) {
    expect((await orch.listTraces(undefined, { sessionId })).items.map((t) => t.id)).toEqual(kept);
    expect(await rt!.resolve('governance').stats('default')).toEqual(counted);
  }

  const recorded = (sessionId: string, input: string, stdout = 'done') => ({ sessionId, runner: 'agent', task: { input }, output: { ok: true, stdout, stderr: '' } });

  it('an already aborted signal: refused before anything is read or written', async () => {
    const orch = await start(gatedRule('input').rule);
    const s = await orch.openSession({});
    const caller = new AbortController();
    caller.abort(new Error('deadline passed'));
    await expect(orch.recordTrace({ ...recorded(s.id, 'hello'), signal: caller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('deadline passed') });
    await nothingWritten(orch, s.id);
  });

  it.each(['input', 'output'] as const)('during %s governance: the rule\'s signal aborts, the call rejects, and no trace or governance record is stored', async (surface) => {
    const gate = gatedRule(surface);
    const orch = await start(gate.rule);
    const s = await orch.openSession({});
    const caller = new AbortController();
    const recording = orch.recordTrace({ ...recorded(s.id, 'WAIT', 'WAIT'), signal: caller.signal });
    await gate.entered();
    caller.abort(new Error('the client went away'));
    await expect(recording).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('the client went away') });
    expect(gate.calls[0]!.signal!.aborted).toBe(true);
    await nothingWritten(orch, s.id);
    gate.calls[0]!.answer(); // a late answer changes nothing
    await nothingWritten(orch, s.id);
  });

  it('a cancel once the write has begun: the write completes and the trace is stored whole', async () => {
    const orch = await start(gatedRule('input').rule);
    const s = await orch.openSession({});
    const storage = rt!.resolve('storage');
    const batch = storage.batch.bind(storage);
    const caller = new AbortController();
    storage.batch = (tenant, ops) => {
      caller.abort(new Error('too late'));
      return batch(tenant, ops);
    };
    const out = await orch.recordTrace({ ...recorded(s.id, 'hello'), signal: caller.signal });
    expect(caller.signal.aborted).toBe(true);
    expect(out.trace).toMatchObject({ status: 'ok', output: { ok: true, stdout: 'done' } });
    const detail = await orch.inspectTrace(undefined, out.trace.id);
    expect(detail.checkpoints.map((c) => c.label)).toEqual(['governance:input', 'governance:output']);
    expect(detail.verification.verified).toBe(true);
  });

  it('a merge cancelled while its merged output is governed: rejected, no merge trace, not counted', async () => {
    const gate = gatedRule('output');
    const orch = await start(gate.rule);
    const s = await orch.openSession({});
    const parent = (await orch.recordTrace(recorded(s.id, 'hello'))).trace;
    const counted = await rt!.resolve('governance').stats('default');
    const caller = new AbortController();
    const merging = orch.merge({ parentIds: [parent.id], strategy: 'custom', output: { ok: true, stdout: 'WAIT', stderr: '' }, signal: caller.signal });
    await gate.entered();
    caller.abort(new Error('the client went away'));
    await expect(merging).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: expect.stringContaining('the client went away') });
    expect(gate.calls[0]!.signal!.aborted).toBe(true);
    await nothingWritten(orch, s.id, [parent.id], counted);
  });

  it('a merge or a review whose signal aborted before: refused, nothing written, the merge still pending review', async () => {
    const orch = await start(gatedRule('input').rule, undefined, { requireHumanReview: true });
    const s = await orch.openSession({});
    const parent = (await orch.recordTrace(recorded(s.id, 'hello'))).trace;
    const caller = new AbortController();
    caller.abort();
    const counted = await rt!.resolve('governance').stats('default');
    await expect(orch.merge({ parentIds: [parent.id], signal: caller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED' });
    await nothingWritten(orch, s.id, [parent.id], counted);

    const merged = (await orch.merge({ parentIds: [parent.id] })).trace;
    expect(merged.status).toBe('pending-review');
    for (const review of [orch.approveMerge.bind(orch), orch.rejectMerge.bind(orch)]) {
      await expect(review(merged.id, { actor: 'reviewer', signal: caller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED' });
    }
    const detail = await orch.inspectTrace(undefined, merged.id);
    expect(detail.trace.status).toBe('pending-review');
    expect(detail.provenance.map((e) => e.action)).toEqual(['merge', 'review-requested']);
  });
});
