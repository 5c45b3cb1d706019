/**
 * Merges and their review through the real governance engine (preset `default`, the jailbreak and
 * malicious packs) on SQLite in memory, with the spy runner of doubles.ts: what a merge leaves
 * behind when it fails midway, how governance counts merges, and how review input is checked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LimitError, MAX_MERGE_ANCESTRY, createRuntime, definePlugin, isLimitError, verifyTraceChain } from 'limit-graph';
import type { ConfigInput, GovernanceRule, Orchestrator, Runtime, Trace } from 'limit-graph';
import { rechain, spyRunner, spyRunnerPlugin } from './doubles.ts';

/** Assembled at run time, so that this file's own text is not what governance flags. */
const DESTRUCTIVE = ['sudo', 'rm', '-rf', '/', '--no-preserve-root'].join(' ');

/** Prints its input reversed: a harmless input whose output is what it decodes to. */
const reverse = { ...spyRunner('reverse'), executeIsolated: async (task: { input: string }) => ({ ok: true, stdout: [...task.input].reverse().join(''), stderr: '', metrics: { latencyMs: 1 } }) };

let notifierFails = false;
/** A notifier whose webhook is down while `notifierFails` is set: its traceFlagged tap throws. */
const notifier = definePlugin({
  meta: { name: 'test-notifier', version: '0.0.0' },
  setup(ctx) {
    ctx.hooks.traceFlagged.tapPromise(ctx.name, async () => {
      if (notifierFails) throw new Error('webhook unreachable');
    });
  },
});

async function runtime(governance: Record<string, unknown> = {}, sqlite: Record<string, unknown> = {}): Promise<Runtime> {
  return createRuntime({
    config: {
      logLevel: 'silent',
      storage: 'sqlite',
      plugins: {
        'storage-sqlite': { path: ':memory:', ...sqlite },
        governance: { preset: 'default', packs: ['jailbreak', 'malicious'], ...governance },
        'governance-rules-jailbreak': true,
        'governance-rules-malicious': true,
        orchestrator: true,
      },
    } as ConfigInput,
    plugins: [spyRunnerPlugin(spyRunner('spy')), spyRunnerPlugin(reverse), notifier],
  });
}

async function failure(p: Promise<unknown>): Promise<Error & { code: string; details?: Record<string, unknown> }> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(isLimitError(error), String(error)).toBe(true);
  return error as Error & { code: string; details?: Record<string, unknown> };
}

describe('merges through the real governance engine', () => {
  let rt: Runtime;
  let orch: Orchestrator;
  afterEach(async () => {
    notifierFails = false;
    await rt?.close();
  });

  /**
   * A runtime whose merges wait for review, and a run to merge. `withReview` false: the governance
   * service leaves `review` out (a custom one may), so the orchestrator records decisions itself.
   */
  async function reviewedParent(withReview: boolean): Promise<Trace> {
    rt = await runtime({ policy: { requireHumanReview: true } });
    orch = rt.resolve('orchestrator');
    if (!withReview) Object.defineProperty(rt.resolve('governance'), 'review', { value: undefined });
    const s = await orch.openSession();
    return (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } })).trace;
  }

  it('a merge naming several missing parents names the first of them in the order given, whichever lookup ends first', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const storage = rt.resolve('storage');
    const getTrace = storage.getTrace.bind(storage);
    // The first parent's lookup is the slow one: a merge that reported the first lookup to fail named the second.
    storage.getTrace = async (tenant, id) => {
      if (id === 'missing-first') await new Promise((r) => setTimeout(r, 50));
      return getTrace(tenant, id);
    };
    for (let i = 0; i < 2; i++) {
      const error = await failure(orch.merge({ parentIds: ['missing-first', 'missing-second'] }));
      expect(error).toMatchObject({ code: 'LIMIT_NOT_FOUND', message: 'Trace "missing-first" not found for tenant "default"', details: { traceId: 'missing-first' } });
    }
  });

  it("a merge whose parents' chain heads cannot be read names the first of them in the order given, whichever read fails first", async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } })).trace;
    const b = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'y' } })).trace;
    const storage = rt.resolve('storage');
    const listProvenance = storage.listProvenance.bind(storage);
    // Both parents' chains unreadable, the first parent's read the slow one: a merge that reported
    // the first read to fail named the second.
    storage.listProvenance = async (tenant, id) => {
      if (id === a.id) await new Promise((r) => setTimeout(r, 50));
      if (id === a.id || id === b.id) throw new LimitError('LIMIT_STORAGE_CORRUPT', `chain of ${id} is unreadable`, { details: { traceId: id } });
      return listProvenance(tenant, id);
    };
    for (let i = 0; i < 2; i++) {
      const error = await failure(orch.merge({ parentIds: [a.id, b.id] }));
      expect(error).toMatchObject({ code: 'LIMIT_STORAGE_CORRUPT', message: `chain of ${a.id} is unreadable` });
    }
  });

  it("a merge without sessionId whose parents' session is closed names the field it goes to (sessionId) and what to do; one naming the closed session says only that it is closed", async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const open = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    await orch.closeSession(undefined, s.id);
    const error = await failure(orch.merge({ parentIds: [a.id] }));
    expect(error).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', details: { field: 'sessionId', sessionId: s.id } });
    expect(error.message).toBe(`sessionId: the parents' session "${s.id}" is closed`);
    expect((error as { fix?: string }).fix).toContain('sessionId');
    const named = await failure(orch.merge({ parentIds: [a.id], sessionId: s.id }));
    expect(named).toMatchObject({ code: 'LIMIT_SESSION_CLOSED', message: `Session "${s.id}" is closed` });
    // Naming an open session is the way out.
    expect((await orch.merge({ parentIds: [a.id], sessionId: open.id })).trace.sessionId).toBe(open.id);
  });

  it('a traceFlagged tap that throws while a merge (or a run) is quarantined: the trace is quarantined, and the merge (or run) succeeds', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    notifierFails = true;
    // The tap runs after the commit: its failure is logged (naming the plugin and flag), not thrown —
    // the caller would otherwise retry what is stored already.
    const merged = await orch.merge({ parentIds: [parent.id], strategy: 'custom', output: { ok: true, stdout: `run: ${DESTRUCTIVE}`, stderr: '' } });
    expect(merged.trace.status).toBe('quarantined');
    const ran = await orch.run({ sessionId: s.id, runner: 'reverse', task: { input: [...DESTRUCTIVE].reverse().join('') } });
    expect(ran.trace.status).toBe('quarantined');

    const stored = (await orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.id !== parent.id);
    expect(stored.map((t) => t.runner).sort()).toEqual(['merge', 'reverse']);
    for (const t of stored) {
      const detail = await orch.inspectTrace(undefined, t.id);
      expect(t.status, t.runner).toBe('quarantined');
      expect(detail.quarantined).toBe(true);
      // Before, the tap's error ended the pipeline after the quarantine: no `completed` entry.
      expect(detail.provenance.map((e) => e.action).slice(-3)).toEqual(['flagged', 'quarantined', 'completed']);
      expect(detail.verification.verified).toBe(true);
    }
  });

  it('a merge that fails after its trace is stored ends as error with a failed entry, never running', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    // The final commit fails once the trace is stored (a storage error, a lost connection).
    const storage = rt.resolve('storage');
    const batch = storage.batch.bind(storage);
    storage.batch = async (tenant, ops) => {
      if (ops.some((o) => o.op === 'appendProvenance' && o.input.action === 'completed')) throw new Error('connection lost');
      return batch(tenant, ops);
    };
    const governance = rt.resolve('governance');
    const assess = governance.assess!.bind(governance);
    // Without assess the service writes as it goes: the merged trace is stored before the final commit.
    governance.assess = undefined;
    try {
      await expect(orch.merge({ parentIds: [parent.id] })).rejects.toThrow('connection lost');
    } finally {
      storage.batch = batch;
      governance.assess = assess;
    }
    const merged = (await orch.listTraces(undefined, { sessionId: s.id })).items.find((t) => t.runner === 'merge')!;
    expect(merged.status).toBe('error');
    const detail = await orch.inspectTrace(undefined, merged.id);
    expect(detail.provenance.at(-1)).toMatchObject({ action: 'failed', data: { status: 'error', message: 'connection lost' } });
    expect(detail.verification.verified).toBe(true);
  });

  it('a merge too large to store is LIMIT_PAYLOAD_TOO_LARGE naming the merge and what to do; in a federation it is reported with the branches', async () => {
    rt = await runtime({ policy: { blockUnsafeMerge: false } }, { maxRecordBytes: 20_000 });
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const big = async () => (await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'q' }, output: { ok: true, stdout: 'y'.repeat(8_000), stderr: '' } })).trace.id;
    const parents = [await big(), await big()];
    const error = await failure(orch.merge({ parentIds: parents, strategy: 'union' }));
    expect(error.code).toBe('LIMIT_PAYLOAD_TOO_LARGE');
    expect(error.message).toMatch(/^The union merge of 2 parents is too large to store: .*The trace is \d+ bytes as JSON; the limit is 20000 bytes \(its largest field, output, is \d+ bytes\)$/);
    expect((error as unknown as { fix: string }).fix).toMatch(/Merge fewer parents.*`concat`/);
    expect(error.details).toMatchObject({ strategy: 'union', parents: 2 });
    const merges = async () => (await orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.runner === 'merge');
    expect(await merges()).toEqual([]);
    expect((await orch.merge({ parentIds: parents, strategy: 'concat' })).trace.status).toBe('ok'); // stdout once fits

    const fed = await orch.federate({ sessionId: s.id, task: { input: 'y'.repeat(6_000) }, aggregate: 'all', targets: [{ runner: 'reverse' }, { runner: 'reverse' }] });
    expect(fed.branches.map((b) => b.trace?.status)).toEqual(['ok', 'ok']);
    expect(fed.merge).toMatchObject({ refused: true, code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^The union merge of 2 parents is too large to store/) });
    expect(await merges()).toHaveLength(1); // the concat merge above; none of the federation
  });

  it('a majority merge counts only ok parents, against a strict majority of all of them: failed parents never outvote an answer nor make an ok merge', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const run = async (input: string) => (await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace;
    const [answer, again, f1, f2, f3] = [await run('42'), await run('42'), await run('FAIL a'), await run('FAIL b'), await run('FAIL c')];

    // Before, the two failures' empty stdout outvoted the only answer, and three failures merged as ok "".
    for (const parents of [[answer, f1, f2], [f1, f2, f3]]) {
      const error = await failure(orch.merge({ parentIds: parents.map((p) => p.id), strategy: 'majority' }));
      expect(error.code).toBe('LIMIT_VALIDATION');
      expect(error.message).toMatch(/^No output is shared by a strict majority of the 3 parents: .*\(2 failed|\(3 failed/);
    }
    // One ok answer and one failure: 1 of 2 is no strict majority.
    expect((await failure(orch.merge({ parentIds: [answer.id, f1.id], strategy: 'majority' }))).code).toBe('LIMIT_VALIDATION');
    // Two agreeing answers of three parents win; the merge is ok with their stdout.
    const merged = (await orch.merge({ parentIds: [answer.id, f1.id, again.id], strategy: 'majority' })).trace;
    expect(merged).toMatchObject({ status: 'ok', output: { ok: true, stdout: '42', value: { agreed: [answer.id, again.id], of: 3 } } });
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.runner === 'merge')).toHaveLength(1);
  });

  it('governance counts a merge once its outcome is known: one the orchestrator refuses after validation is refused, not allowed; an input error is not counted', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const gov = rt.resolve('governance');
    const s = await orch.openSession();
    const run = async (input: string) => (await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace;
    const [f1, f2, a, b] = [await run('FAIL'), await run('FAIL 2'), await run('a'), await run('b')];
    const merges = () => gov.stats('default').then((st) => Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith('merges.'))));

    expect((await failure(orch.merge({ parentIds: [f1.id, f2.id], strategy: 'first-success' }))).code).toBe('LIMIT_MERGE_REFUSED');
    // Parents that share no majority output: the caller's input error (400), not a governance refusal.
    expect((await failure(orch.merge({ parentIds: [a.id, b.id], strategy: 'majority' }))).code).toBe('LIMIT_VALIDATION');
    expect(await merges()).toEqual({ 'merges.refused': 1 });
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:300 c' } });
    let runningId: string | undefined;
    while (!runningId) {
      await new Promise((r) => setTimeout(r, 5));
      runningId = (await orch.listTraces(undefined, { sessionId: s.id, status: 'running' })).items[0]?.id;
    }
    expect((await failure(orch.merge({ parentIds: [a.id, runningId] }))).code).toBe('LIMIT_MERGE_REFUSED');
    await running;
    expect(await merges()).toEqual({ 'merges.refused': 2 });
    await orch.merge({ parentIds: [a.id, b.id] });
    expect(await merges()).toEqual({ 'merges.refused': 2, 'merges.allowed': 1 });
    await rt.close();

    // Under requireHumanReview: a merge waiting for review is counted as review; merging it (a
    // pending-review parent) is refused and counted so; approving the first does not count again.
    rt = await runtime({ policy: { requireHumanReview: true } });
    orch = rt.resolve('orchestrator');
    const s2 = await orch.openSession();
    const c = (await orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'c' } })).trace;
    const pending = (await orch.merge({ parentIds: [c.id], actor: 'alice' })).trace;
    expect(pending.status).toBe('pending-review');
    expect((await failure(orch.merge({ parentIds: [pending.id] }))).code).toBe('LIMIT_MERGE_REFUSED');
    await orch.approveMerge(pending.id, { actor: 'bob' });
    const stats = await rt.resolve('governance').stats('default');
    expect([stats['merges.review'], stats['merges.refused'], stats['merges.allowed']]).toEqual([1, 1, undefined]);
  });

  it('merges.refused counts only refusals: a merge that failed (a rule throwing on the merged output, a beforeMerge tap crashing) is merges.failed', async () => {
    // Before, every error but a cancel or an input error counted as refused, though governance had
    // allowed the merge and nothing refused it.
    const flaky: GovernanceRule = {
      id: 'acme.flaky', flag: 'HighRisk', surfaces: ['output'],
      evaluate: (s) => {
        if (s.text.includes('AAA') && s.text.includes('BBB')) throw new Error('flaky rule crashed');
        return [];
      },
    };
    rt = await runtime({ rules: [flaky] });
    orch = rt.resolve('orchestrator');
    const gov = rt.resolve('governance');
    const merges = () => gov.stats('default').then((st) => Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith('merges.'))));
    const s = await orch.openSession();
    const run = async (input: string) => (await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace;
    const [a, b, c] = [await run('AAA'), await run('BBB'), await run('CCC')];

    expect(await failure(orch.merge({ parentIds: [a.id, b.id] }))).toMatchObject({ code: 'LIMIT_RULE_INVALID', message: expect.stringContaining('flaky rule crashed') });
    expect(await merges()).toEqual({ 'merges.failed': 1 });
    // A beforeMerge tap that crashes (its service is down) refuses nothing either.
    let crash = true;
    rt.hooks.beforeMerge.tapPromise('acme-guard', async (request) => {
      if (crash) throw new Error('guard service unreachable');
      return request.rationale === 'veto me' ? { by: 'acme-guard', reason: 'not today' } : undefined;
    });
    expect((await failure(orch.merge({ parentIds: [a.id, c.id] }))).code).not.toBe('LIMIT_MERGE_REFUSED');
    expect(await merges()).toEqual({ 'merges.failed': 2 });
    // Its veto is a refusal; a merge made is allowed.
    crash = false;
    expect((await failure(orch.merge({ parentIds: [a.id, c.id], rationale: 'veto me' }))).code).toBe('LIMIT_MERGE_REFUSED');
    await orch.merge({ parentIds: [a.id, c.id] });
    expect(await merges()).toEqual({ 'merges.failed': 2, 'merges.refused': 1, 'merges.allowed': 1 });
  });

  it("under requireDistinctReviewer the merge's author approving it is LIMIT_FORBIDDEN even when its parents became unmergeable; another reviewer hears of the parents", async () => {
    rt = await runtime({ policy: { requireHumanReview: true, requireDistinctReviewer: true } });
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' }, actor: 'carol' })).trace;
    const merged = (await orch.merge({ parentIds: [parent.id], actor: 'alice' })).trace;
    expect(merged.status).toBe('pending-review');
    await rt.resolve('governance').quarantine('default', parent.id, { reason: 'look closer', actor: 'carol' });

    const own = await failure(orch.approveMerge(merged.id, { actor: 'alice' }));
    expect([own.code, own.details]).toEqual(['LIMIT_FORBIDDEN', { traceId: merged.id, actor: 'alice', policy: 'requireDistinctReviewer' }]);
    expect(own.message).toMatch(/who may not approve it: the governance policy requires a distinct reviewer/);
    expect((await failure(orch.rejectMerge(merged.id, { actor: 'alice' }))).code).toBe('LIMIT_FORBIDDEN');
    const other = await failure(orch.approveMerge(merged.id, { actor: 'bob' }));
    expect([other.code, other.details?.traceId]).toEqual(['LIMIT_MERGE_REFUSED', merged.id]);
    expect((await orch.getTrace(undefined, merged.id))?.status).toBe('pending-review');
    expect((await orch.rejectMerge(merged.id, { actor: 'bob' })).status).toBe('rejected');
  });

  it.each([true, false])('of an approve and a reject at once, one is recorded and the other refused (governance service with review: %s)', async (withReview) => {
    const parent = await reviewedParent(withReview);
    const merged = (await orch.merge({ parentIds: [parent.id] })).trace;
    expect(merged.status).toBe('pending-review');
    const [approve, reject] = await Promise.allSettled([orch.approveMerge(merged.id, { actor: 'alice' }), orch.rejectMerge(merged.id, { actor: 'bob' })]);
    const decided = [approve, reject].filter((r) => r.status === 'fulfilled');
    const refused = [approve, reject].filter((r) => r.status === 'rejected');
    expect(decided).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const status = (decided[0] as PromiseFulfilledResult<{ status: string }>).value.status;
    // Said to the user as the decision that came first, not as the storage batch's refusal.
    const decision = status === 'ok' ? 'approved' : 'rejected';
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'LIMIT_CONFLICT', message: `Merge "${merged.id}" is no longer pending review (it is ${decision})`,
      details: { traceId: merged.id, status, decision }, fix: expect.stringContaining('requireHumanReview'),
    });
    const detail = await orch.inspectTrace(undefined, merged.id);
    expect(detail.trace.status).toBe(status);
    expect(detail.provenance.filter((e) => e.operation === 'review').map((e) => e.action)).toEqual(['review-requested', status === 'ok' ? 'approved' : 'rejected']);
    expect(detail.checkpoints.filter((c) => c.label === 'governance:review')).toHaveLength(1);
    expect(detail.verification.verified).toBe(true);
  });

  it("an approval or rejection is work in flight for the runtime's close: one in progress is waited for, one asked for once the close has begun is LIMIT_RUNTIME_CLOSED (not the storage's LIMIT_STORAGE_UNAVAILABLE)", async () => {
    const parent = await reviewedParent(true);
    const first = (await orch.merge({ parentIds: [parent.id], actor: 'alice' })).trace;
    const second = (await orch.merge({ parentIds: [parent.id], actor: 'alice' })).trace;
    const governance = rt.resolve('governance');
    const validateMerge = governance.validateMerge.bind(governance);
    governance.validateMerge = async (...args) => {
      await new Promise((r) => setTimeout(r, 300));
      return validateMerge(...args);
    };
    const approving = orch.approveMerge(first.id, { actor: 'bob' });
    await new Promise((r) => setTimeout(r, 50));
    const closing = rt.close();
    await new Promise((r) => setTimeout(r, 20));
    const during = await failure(orch.rejectMerge(second.id, { actor: 'bob' }));
    expect(during.code).toBe('LIMIT_RUNTIME_CLOSED');
    expect(during.message).toMatch(/The runtime is shutting down: no new work \(.*a review.*\) starts any more/);
    // Before, the close did not wait: the approval met storage closed under it (LIMIT_STORAGE_UNAVAILABLE).
    expect((await approving).status).toBe('ok');
    await closing;
    expect((await failure(orch.approveMerge(second.id, { actor: 'bob' }))).code).toBe('LIMIT_RUNTIME_CLOSED');
  });

  it('a quarantined ancestor refuses a merge as a quarantined parent does: quarantined output does not reach a new merge through an earlier one', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const gov = rt.resolve('governance');
    const s = await orch.openSession();
    const run = async (input: string) => (await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace;
    const [a, b, c] = [await run('secret=hunter2'), await run('two'), await run('three')];
    const m1 = (await orch.merge({ parentIds: [a.id, b.id] })).trace;
    const m2 = (await orch.merge({ parentIds: [m1.id, c.id] })).trace;
    await gov.quarantine('default', a.id, { reason: 'leaks a secret', actor: 'security' });
    expect((await failure(orch.merge({ parentIds: [a.id, c.id] }))).code).toBe('LIMIT_MERGE_REFUSED');
    // Before, merging m1 (made while a was clean) copied a's output into a new ok merge.
    for (const [parent, path] of [[m1, `${m1.id} → ${a.id}`], [m2, `${m2.id} → ${m1.id} → ${a.id}`]] as const) {
      const error = await failure(orch.merge({ parentIds: [c.id, parent.id] }));
      expect(error.code).toBe('LIMIT_MERGE_REFUSED');
      expect(error.details?.refusals).toEqual([{ parentId: parent.id, reason: `ancestor ${a.id} is quarantined: leaks a secret (reached through ${path})` }]);
    }
    expect((await gov.validateMerge({ tenant: 'default', sessionId: s.id, parentIds: [m2.id], strategy: 'union', rationale: '', actor: 'x' }, { count: false })).allowed).toBe(false);
    await gov.release('default', a.id, { reason: 'checked', actor: 'security' });
    expect((await orch.merge({ parentIds: [m2.id, c.id] })).trace.status).toBe('ok');
  });

  it('a merge ancestry past MAX_MERGE_ANCESTRY traces refuses the merge, saying its quarantine could not be checked whole', async () => {
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const leaf = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } })).trace;
    const merged = (await orch.merge({ parentIds: [leaf.id] })).trace;
    expect((await orch.merge({ parentIds: [merged.id] })).trace.status).toBe('ok');
    // Storage answers as if the merge stood on a chain of merges longer than the bound.
    const storage = rt.resolve('storage');
    const getTrace = storage.getTrace.bind(storage);
    storage.getTrace = async (tenant, id) => {
      const link = /^link-(\d+)$/.exec(id);
      if (link) return { ...merged, id, parentIds: [`link-${Number(link[1]) + 1}`] };
      const t = await getTrace(tenant, id);
      return t && id === merged.id ? { ...t, parentIds: ['link-0'] } : t;
    };
    const error = await failure(orch.merge({ parentIds: [merged.id] }));
    expect(error.code).toBe('LIMIT_MERGE_REFUSED');
    expect(error.details?.refusals).toEqual([{ parentId: merged.id, reason: `its merge ancestry holds more than ${MAX_MERGE_ANCESTRY} traces (MAX_MERGE_ANCESTRY): its ancestors cannot all be checked for quarantine` }]);
  });

  it('a merge quarantined by output governance goes back, on release, to what it would have been: pending-review under requireHumanReview (the review is not skipped), ok otherwise only while its parents may still be merged', async () => {
    /** Output governance finds the two halves harmless apart and unsafe together. */
    const combined = (r: Runtime) => r.hooks.governOutput.tapPromise('test-combined', async (findings, trace) =>
      (/PART1[\s\S]*PART2/.test(trace.output?.stdout ?? '') ? [...findings, { ruleId: 'test.combined', kind: 'Unsafe', severity: 9, reason: 'the halves together are unsafe', evidence: [] }] : findings));
    rt = await runtime({ policy: { requireHumanReview: true } });
    orch = rt.resolve('orchestrator');
    combined(rt);
    const gov = rt.resolve('governance');
    const s = await orch.openSession();
    const run = async (input: string) => (await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace;
    const [a, b] = [await run('PART1'), await run('PART2')];
    const merged = await orch.merge({ parentIds: [a.id, b.id], actor: 'alice' });
    expect([merged.trace.status, merged.validation.review]).toEqual(['quarantined', true]);
    expect((await rt.resolve('storage').getQuarantine('default', merged.trace.id))?.previousStatus).toBe('pending-review');
    await gov.release('default', merged.trace.id, { reason: 'false positive', actor: 'bob' });
    // Before, the release made it `ok`: the review it waited for was skipped.
    expect((await orch.getTrace(undefined, merged.trace.id))?.status).toBe('pending-review');
    expect((await orch.inspectTrace(undefined, merged.trace.id)).verification.verified).toBe(true);
    // Its approval checks the parents again, as any approval does.
    await gov.quarantine('default', a.id, { reason: 'leaks a secret', actor: 'security' });
    expect((await failure(orch.approveMerge(merged.trace.id, { actor: 'carol' }))).code).toBe('LIMIT_MERGE_REFUSED');
    await gov.release('default', a.id, { reason: 'checked', actor: 'security' });
    expect((await orch.approveMerge(merged.trace.id, { actor: 'carol' })).status).toBe('ok');
    expect((await orch.inspectTrace(undefined, merged.trace.id)).verification.verified).toBe(true);
    await rt.close();

    // Without review: ok on release, but not while a parent is quarantined (the merge holds its output).
    rt = await runtime();
    orch = rt.resolve('orchestrator');
    combined(rt);
    const gov2 = rt.resolve('governance');
    const s2 = await orch.openSession();
    const [c, d] = [(await orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'PART1' } })).trace, (await orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'PART2' } })).trace];
    const plain = (await orch.merge({ parentIds: [c.id, d.id] })).trace;
    expect(plain.status).toBe('quarantined');
    expect((await rt.resolve('storage').getQuarantine('default', plain.id))?.previousStatus).toBe('ok');
    await gov2.quarantine('default', c.id, { reason: 'leaks a secret', actor: 'security' });
    const refused = await failure(gov2.release('default', plain.id, { reason: 'false positive', actor: 'bob' }));
    expect(refused).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { traceId: plain.id, refusals: [{ parentId: c.id }] } });
    expect(refused.message).toContain(`${c.id}: parent is quarantined: leaks a secret`);
    expect((await orch.getTrace(undefined, plain.id))?.status).toBe('quarantined');
    await gov2.release('default', c.id, { reason: 'checked', actor: 'security' });
    // A parent quarantined while the release is written refuses it too (its write is conditional on the parents).
    const storage = rt.resolve('storage');
    const batch = storage.batch.bind(storage);
    let raced = false;
    storage.batch = async (tenant, ops) => {
      if (!raced && ops.some((o) => o.op === 'appendProvenance' && o.input.action === 'released' && o.input.traceId === plain.id)) {
        raced = true;
        await gov2.quarantine('default', d.id, { reason: 'also leaks', actor: 'security' });
      }
      return batch(tenant, ops);
    };
    const racing = await failure(gov2.release('default', plain.id, { reason: 'false positive', actor: 'bob' }));
    expect(racing).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', details: { traceId: plain.id, refusals: [{ parentId: d.id }] } });
    expect((await orch.getTrace(undefined, plain.id))?.status).toBe('quarantined');
    storage.batch = batch;
    await gov2.release('default', d.id, { reason: 'checked', actor: 'security' });
    await gov2.release('default', plain.id, { reason: 'false positive', actor: 'bob' });
    expect((await orch.getTrace(undefined, plain.id))?.status).toBe('ok');
    expect((await orch.inspectTrace(undefined, plain.id)).verification.verified).toBe(true);
  });

  it.each([true, false])('approving a merge whose output failed records error, as the same merge without review is, and the chain binds it (governance service with review: %s)', async (withReview) => {
    const parent = await reviewedParent(withReview);
    const failed = (await orch.run({ sessionId: parent.sessionId, runner: 'spy', task: { input: 'FAIL' } })).trace;
    expect(failed.status).toBe('error');
    const merged = (await orch.merge({ parentIds: [parent.id, failed.id], actor: 'alice' })).trace;
    expect([merged.status, merged.output?.ok]).toEqual(['pending-review', false]);
    // Before, an approval made it `ok` whatever its output said.
    const approved = await orch.approveMerge(merged.id, { actor: 'bob' });
    expect(approved.status).toBe('error');
    const detail = await orch.inspectTrace(undefined, merged.id);
    expect(detail.provenance.at(-1)).toMatchObject({ action: 'approved', data: { status: 'error', completedAt: approved.completedAt } });
    expect(detail.verification.verified).toBe(true);
    expect(verifyTraceChain({ ...detail.trace, status: 'ok' }, detail.provenance)).toMatchObject({ verified: false, reason: expect.stringMatching(/last status change \(approved\) set error/) });
    // A second review says what the first decided, and the status it gave.
    const again = await failure(orch.approveMerge(merged.id, { actor: 'carol' }));
    expect(again).toMatchObject({ code: 'LIMIT_CONFLICT', message: `Merge "${merged.id}" is no longer pending review (it is approved)`, details: { status: 'error', decision: 'approved' } });
    // A chain written before approvals recorded their status still reads `approved` as ok.
    const old = rechain(detail.provenance.map((e) => (e.action === 'approved' ? { ...e, data: { completedAt: approved.completedAt } } : e)));
    expect(verifyTraceChain({ ...detail.trace, status: 'ok' }, old)).toMatchObject({ verified: true });
    // An ok output is approved as ok, and a rejection is recorded with its status too.
    const fine = (await orch.merge({ parentIds: [parent.id], actor: 'alice' })).trace;
    expect((await orch.approveMerge(fine.id, { actor: 'bob' })).status).toBe('ok');
    const no = (await orch.merge({ parentIds: [parent.id], actor: 'alice' })).trace;
    expect((await orch.rejectMerge(no.id, { actor: 'bob' })).status).toBe('rejected');
    expect((await orch.inspectTrace(undefined, no.id)).provenance.at(-1)).toMatchObject({ action: 'rejected', data: { status: 'rejected' } });
  });

  it.each([true, false])('a review decision carries its completedAt in its own transaction, with no write after it (governance service with review: %s)', async (withReview) => {
    const parent = await reviewedParent(withReview);
    const approved = (await orch.merge({ parentIds: [parent.id] })).trace;
    const rejected = (await orch.merge({ parentIds: [parent.id] })).trace;
    expect([approved.completedAt, rejected.completedAt]).toEqual([undefined, undefined]);
    // A process that stops right after the decision's transaction: any separate write after it is lost.
    const storage = rt.resolve('storage');
    Object.defineProperty(storage, 'updateTrace', { configurable: true, value: async () => { throw new Error('process stopped'); } });
    const before = Date.now();
    for (const trace of [await orch.approveMerge(approved.id, { actor: 'alice' }), await orch.rejectMerge(rejected.id, { actor: 'bob' })]) {
      expect(trace.completedAt).toBeDefined();
      expect(Date.parse(trace.completedAt!)).toBeGreaterThanOrEqual(before - 1000);
      const stored = await storage.getTrace('default', trace.id);
      expect(stored).toMatchObject({ status: trace.status, completedAt: trace.completedAt });
    }
  });
});

