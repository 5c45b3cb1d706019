/**
 * The orchestrator's `maxWaitingRuns`: a session's runs waiting for a slot (maxConcurrency) are
 * bounded per process. One more is refused at once with LIMIT_SESSION_BUSY before its trace is
 * stored; the runs already waiting are not touched, and once a slot frees another may wait.
 * Real SQLite storage and governance; a runner whose tasks wait until the test lets them go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isLimitError, type Runtime } from 'limit-graph';
import { gateRunner, sqliteOrchestratorRuntime, waitUntil } from './doubles.ts';

async function start(orchestrator: Record<string, unknown>) {
  const gate = gateRunner();
  const rt = await sqliteOrchestratorRuntime(orchestrator, [gate.plugin]);
  return { rt, gate, orch: rt.resolve('orchestrator'), storage: rt.resolve('storage') };
}

describe('orchestrator maxWaitingRuns', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('with maxConcurrency 1 and maxWaitingRuns 2: one runs, two wait, a fourth is refused storing nothing; once a slot frees another may wait', async () => {
    const s = await start({ maxWaitingRuns: 2 });
    rt = s.rt;
    const session = await s.orch.openSession({ limits: { maxConcurrency: 1 } });
    const run = (input: string) => s.orch.run({ sessionId: session.id, runner: 'gate', task: { kind: 'prompt', input } });
    const traces = async () => (await s.storage.listTraces('default', { sessionId: session.id })).items;

    const a = run('a');
    await s.gate.entered(1);
    const b = run('b');
    const c = run('c');
    // Both stored as `running`, waiting for the slot.
    expect(await waitUntil(async () => (await traces()).length === 3)).toBe(true);

    const refused = await run('d').then(() => undefined, (e: unknown) => e);
    expect(isLimitError(refused, 'LIMIT_SESSION_BUSY')).toBe(true);
    expect(refused).toMatchObject({
      status: 429,
      message: expect.stringMatching(new RegExp(`Session "${session.id}" is busy: every slot of its maxConcurrency \\(1\\) is taken and 2 more runs wait for one, the most the orchestrator option maxWaitingRuns \\(2\\) allows`)),
      fix: expect.stringContaining('maxWaitingRuns'),
      details: { sessionId: session.id, tenant: 'default', waiting: 2, maxWaitingRuns: 2, maxConcurrency: 1 },
    });
    // Nothing of it was stored: still the three traces, none of them d's, all running.
    const stored = await traces();
    expect(stored.map((t) => t.task.input).sort()).toEqual(['a', 'b', 'c']);
    expect(stored.every((t) => t.status === 'running')).toBe(true);
    expect(s.gate.started).toBe(1);

    // The first finishes: b takes the slot, c still waits, so one more may wait — and then no more.
    s.gate.release();
    expect((await a).trace.status).toBe('ok');
    await s.gate.entered(2);
    const e = run('e');
    expect(await waitUntil(async () => (await traces()).length === 4)).toBe(true);
    await expect(run('f')).rejects.toMatchObject({ code: 'LIMIT_SESSION_BUSY', details: { waiting: 2 } });

    // The runs that waited are untouched: each runs in its turn and ends ok.
    s.gate.release();
    await s.gate.entered(3);
    s.gate.release();
    await s.gate.entered(4);
    s.gate.release();
    const outcomes = await Promise.all([b, c, e]);
    expect(outcomes.map((o) => [o.trace.task.input, o.trace.status, o.trace.output?.stdout])).toEqual([
      ['b', 'ok', 'done b'], ['c', 'ok', 'done c'], ['e', 'ok', 'done e'],
    ]);
    expect((await traces()).map((t) => t.task.input).sort()).toEqual(['a', 'b', 'c', 'e']);
    // Idle again: a new run is let in.
    const g = run('g');
    await s.gate.entered(5);
    s.gate.release();
    expect((await g).trace.status).toBe('ok');
  });

  it('counts runs arriving at once exactly: the free slot is taken by one of them, maxWaitingRuns more wait, the rest are refused', async () => {
    const s = await start({ maxWaitingRuns: 2 });
    rt = s.rt;
    const session = await s.orch.openSession({ limits: { maxConcurrency: 1 } });
    const all = Array.from({ length: 6 }, (_, i) =>
      s.orch.run({ sessionId: session.id, runner: 'gate', task: { kind: 'prompt', input: `r${i}` } }).then(
        (outcome) => ({ ok: outcome.trace.status }), (error: unknown) => ({ code: isLimitError(error) ? error.code : String(error) })));
    await s.gate.entered(1);
    // The three let in are stored; the refusals came before anything of theirs was.
    expect(await waitUntil(async () => (await s.storage.listTraces('default', { sessionId: session.id })).items.length === 3)).toBe(true);
    for (let i = 1; i <= 3; i++) {
      await s.gate.entered(i);
      s.gate.release();
    }
    const results = await Promise.all(all);
    expect(results.filter((r) => 'ok' in r)).toEqual([{ ok: 'ok' }, { ok: 'ok' }, { ok: 'ok' }]);
    expect(results.filter((r) => 'code' in r)).toEqual([{ code: 'LIMIT_SESSION_BUSY' }, { code: 'LIMIT_SESSION_BUSY' }, { code: 'LIMIT_SESSION_BUSY' }]);
    expect((await s.storage.listTraces('default', { sessionId: session.id })).items).toHaveLength(3);
  });

  it('a run cancelled while waiting frees its place; maxWaitingRuns 0 refuses every run beyond maxConcurrency', async () => {
    const s = await start({ maxWaitingRuns: 1 });
    rt = s.rt;
    const session = await s.orch.openSession({ limits: { maxConcurrency: 1 } });
    const run = (input: string, signal?: AbortSignal) => s.orch.run({ sessionId: session.id, runner: 'gate', task: { kind: 'prompt', input }, ...(signal ? { signal } : {}) });
    const a = run('a');
    await s.gate.entered(1);
    const controller = new AbortController();
    const b = run('b', controller.signal);
    expect(await waitUntil(async () => (await s.storage.listTraces('default', { sessionId: session.id })).items.length === 2)).toBe(true);
    await expect(run('c')).rejects.toMatchObject({ code: 'LIMIT_SESSION_BUSY' });
    controller.abort();
    const cancelled = await b;
    expect(cancelled.trace.status).toBe('error');
    expect(cancelled.trace.output?.error?.code).toBe('LIMIT_RUNNER_ABORTED');
    // Its place in the queue is free again.
    const d = run('d');
    expect(await waitUntil(async () => (await s.storage.listTraces('default', { sessionId: session.id })).items.length === 3)).toBe(true);
    s.gate.release();
    await s.gate.entered(2);
    s.gate.release();
    expect((await a).trace.status).toBe('ok');
    expect((await d).trace.status).toBe('ok');

    const none = await start({ maxWaitingRuns: 0 });
    const other = none.rt;
    try {
      const busy = await none.orch.openSession({ limits: { maxConcurrency: 1 } });
      const first = none.orch.run({ sessionId: busy.id, runner: 'gate', task: { kind: 'prompt', input: 'x' } });
      await none.gate.entered(1);
      await expect(none.orch.run({ sessionId: busy.id, runner: 'gate', task: { kind: 'prompt', input: 'y' } })).rejects.toMatchObject({
        code: 'LIMIT_SESSION_BUSY', details: { waiting: 0, maxWaitingRuns: 0 },
      });
      none.gate.release();
      expect((await first).trace.status).toBe('ok');
    } finally {
      await other.close();
    }
  });

  it('a federation over more branches than may wait: those refused are excluded as failed before a trace was recorded; the others run and merge', async () => {
    const s = await start({ maxWaitingRuns: 1 });
    rt = s.rt;
    const session = await s.orch.openSession({ limits: { maxConcurrency: 1 } });
    const federation = s.orch.federate({
      sessionId: session.id, task: { kind: 'prompt', input: 'q' }, aggregate: 'all',
      targets: [{ runner: 'gate' }, { runner: 'gate' }, { runner: 'gate' }, { runner: 'gate' }],
    });
    for (let i = 1; i <= 2; i++) {
      await s.gate.entered(i);
      s.gate.release();
    }
    const outcome = await federation;
    const ran = outcome.branches.filter((b) => b.trace);
    const refused = outcome.branches.filter((b) => b.error);
    expect(ran).toHaveLength(2);
    expect(ran.every((b) => b.trace!.status === 'ok' && !b.excluded)).toBe(true);
    expect(refused).toHaveLength(2);
    for (const b of refused) {
      expect(b.error!.code).toBe('LIMIT_SESSION_BUSY');
      expect(b.excluded).toMatch(/^failed before a trace was recorded: Session ".+" is busy: .*maxWaitingRuns \(1\)/);
    }
    expect(outcome.aggregate).toMatchObject({ ok: false, reason: '2 of 4 branches did not succeed', traceIds: ran.map((b) => b.trace!.id) });
    expect(outcome.merge && 'trace' in outcome.merge ? outcome.merge.trace.parentIds : undefined).toEqual(ran.map((b) => b.trace!.id));
    // Two branch traces and the merge: nothing of the refused branches.
    expect((await s.storage.listTraces('default', { sessionId: session.id })).items).toHaveLength(3);
  });

  it.each([[-1], [1.5], [100_001], ['10']])('refuses maxWaitingRuns %j, naming the option', async (value) => {
    await expect(start({ maxWaitingRuns: value })).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('maxWaitingRuns') });
  });
});
