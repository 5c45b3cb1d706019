/**
 * Bad input to the orchestrator's programmatic API gets the answer the HTTP API gives: a LimitError
 * naming the field (never a raw ZodError or TypeError, never a silent default), and nothing stored.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LimitError, TASK_LIMITS, createRuntime, definePlugin, isLimitError } from 'limit-graph';
import type { Orchestrator, Runtime } from 'limit-graph';
import orchestratorPlugin from '../../plugins/orchestrator/index.ts';
import { keywordGovernancePlugin, memoryStoragePlugin, spyRunner, spyRunnerPlugin } from './doubles.ts';

const rdPlugin = definePlugin({
  meta: { name: 'test-rd', version: '0.0.0', provides: ['rd:count', 'rd:picky', 'knee:drop', 'knee:past'] },
  setup(ctx) {
    ctx.provide('rd:count', { name: 'count', distortion: (a, b) => ({ value: Math.abs(a.nodes.length - b.nodes.length), iterations: 1, converged: true, plan: [] }) });
    ctx.provide('knee:drop', { name: 'drop', detect: () => ({ index: null }) });
    // A buggy detector: an index one past the last point.
    ctx.provide('knee:past', { name: 'past', detect: (points) => ({ index: points.length }) });
    // Refuses every pair, naming both graphs in an algorithm's terms (source = the step's graph, target = the reference).
    ctx.provide('rd:picky', {
      name: 'picky',
      distortion: () => {
        throw new LimitError('LIMIT_RD_INVALID_INPUT', 'target.nodes[0].features: does not match source.nodes[1] (node id "source.x")', { details: { field: 'target.nodes[0].features' } });
      },
    });
  },
});

async function rejects(p: Promise<unknown> | (() => unknown), code: string, ...inMessage: string[]) {
  const error = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(() => undefined, (e: unknown) => e);
  expect(isLimitError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  for (const text of inMessage) expect((error as Error).message).toContain(text);
  return error as Error & { details?: Record<string, unknown> };
}

describe('orchestrator input validation', () => {
  let rt: Runtime;
  let orch: Orchestrator;

  beforeEach(async () => {
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(spyRunner('spy')), rdPlugin, orchestratorPlugin],
    });
    orch = rt.resolve('orchestrator');
  });
  afterEach(async () => {
    await rt.close();
  });

  const traceCount = async () => (await orch.listTraces(undefined, { limit: 1000 })).items.length;

  it('merge and federate: an unknown strategy or aggregate is LIMIT_VALIDATION naming the field', async () => {
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'b' } })).trace;
    await rejects(orch.merge({ parentIds: [a.id, b.id], strategy: 'bogus' as never }), 'LIMIT_VALIDATION', 'strategy');
    await rejects(orch.federate({ sessionId: s.id, task: { input: 'x' }, targets: [{ runner: 'spy' }], aggregate: 'bogus' as never }), 'LIMIT_VALIDATION', 'aggregate');
    expect(await traceCount()).toBe(2);
  });

  it("merge: an output with a strategy other than custom is LIMIT_VALIDATION naming output, not dropped; custom still needs one", async () => {
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'alpha' } })).trace;
    const b = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'beta' } })).trace;
    const output = { ok: false, stdout: 'my reconciled answer', stderr: '' };
    // Before, the union (the default) and concat merges were stored as computed, the caller's output ignored.
    await rejects(orch.merge({ parentIds: [a.id, b.id], output }), 'LIMIT_VALIDATION',
      'output: applies only to strategy "custom": strategy "union" (the default) computes the merged output from the parents');
    for (const strategy of ['union', 'concat', 'first-success', 'majority'] as const) {
      await rejects(orch.merge({ parentIds: [a.id, b.id], strategy, output }), 'LIMIT_VALIDATION', `output: applies only to strategy "custom": strategy "${strategy}" computes`);
    }
    await rejects(orch.merge({ parentIds: [a.id, b.id], strategy: 'custom' }), 'LIMIT_VALIDATION', 'output: strategy "custom" requires output');
    expect(await traceCount()).toBe(2);
    const custom = (await orch.merge({ parentIds: [a.id, b.id], strategy: 'custom', output })).trace;
    expect(custom).toMatchObject({ status: 'error', output: { ok: false, stdout: 'my reconciled answer' } });
  });

  it('run: a beforeRun tap returning an invalid request is LIMIT_VALIDATION naming the hook, the tap and the field, before anything is stored', async () => {
    let rewrite: (r: Record<string, unknown>) => unknown = (r) => r;
    const rewriter = definePlugin({
      meta: { name: 'test-rewriter', version: '0.0.0' },
      setup(ctx) {
        ctx.hooks.beforeRun.tapPromise(ctx.name, async (r) => rewrite(r as never) as never);
      },
    });
    const own = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(spyRunner('spy')), rewriter, orchestratorPlugin],
    });
    try {
      const o = own.resolve('orchestrator');
      const s = await o.openSession();
      const run = () => o.run({ sessionId: s.id, runner: 'spy', task: { input: 'hello' } });
      // Before, a bad task was a bare ZodError (no code, no hook), and metadata null storage's "Invalid batch op 0 (createTrace)".
      const cases: [(r: Record<string, unknown>) => unknown, string][] = [
        [(r) => ({ ...r, task: { ...(r.task as object), kind: 'shell' } }), 'task.kind: '],
        [(r) => ({ ...r, metadata: null }), 'metadata: '],
        [(r) => ({ ...r, parentIds: [42] }), 'parentIds.0: '],
        [(r) => ({ ...r, task: { ...(r.task as object), inptu: 'x' } }), 'task: Unrecognized key: "inptu"'],
        [() => 'a string', '(root): '],
      ];
      for (const [bad, field] of cases) {
        rewrite = bad;
        const error = await rejects(run(), 'LIMIT_VALIDATION', 'A beforeRun tap ("test-rewriter") returned an invalid run request: ', field);
        expect(error).toMatchObject({ hook: 'beforeRun', plugin: 'test-rewriter', details: { taps: ['test-rewriter'] } });
      }
      expect((await o.listTraces(undefined, { limit: 10 })).items).toEqual([]);
      // A valid rewrite still runs, as rewritten.
      rewrite = (r) => ({ ...r, task: { ...(r.task as object), input: 'rewritten' } });
      expect((await run()).trace.output?.stdout).toBe('rewritten');
    } finally {
      await own.close();
    }
  });

  it('federate: an invalid task is LIMIT_VALIDATION naming its field, before any branch runs', async () => {
    const s = await orch.openSession();
    const targets = [{ runner: 'spy' }, { runner: 'spy' }];
    await rejects(orch.federate({ sessionId: s.id, task: { inptu: 'print(1)' } as never, targets, aggregate: 'all' }), 'LIMIT_VALIDATION', 'task.input', 'task: Unrecognized key: "inptu"');
    await rejects(orch.federate({ sessionId: s.id, task: { input: 42 } as never, targets, aggregate: 'all' }), 'LIMIT_VALIDATION', 'task.input');
    await rejects(orch.federate({ sessionId: s.id, task: { input: 'x', kind: 'bogus' } as never, targets, aggregate: 'all' }), 'LIMIT_VALIDATION', 'task.kind');
    expect(await traceCount()).toBe(0);
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'x', kind: 'prompt' }, targets, aggregate: 'all' });
    expect(fed.branches.map((b) => b.trace?.task)).toEqual([{ input: 'x', kind: 'prompt' }, { input: 'x', kind: 'prompt' }]);
  });

  it('approveMerge / rejectMerge: the review input is checked first (an unknown key, a wrong type, a rationale too long), and nothing is recorded', async () => {
    await rt.close();
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin.configure({ requireHumanReview: true }), spyRunnerPlugin(spyRunner('spy')), orchestratorPlugin],
    });
    orch = rt.resolve('orchestrator');
    const s = await orch.openSession();
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    const merged = (await orch.merge({ parentIds: [parent.id] })).trace;
    expect(merged.status).toBe('pending-review');
    await rejects(orch.approveMerge(merged.id, { actor: 'bob', rationalle: 'checked both' } as never), 'LIMIT_VALIDATION', 'Invalid review input', 'rationalle');
    await rejects(orch.approveMerge(merged.id, { actor: 42 } as never), 'LIMIT_VALIDATION', 'Invalid review input: actor');
    await rejects(orch.approveMerge(merged.id, {} as never), 'LIMIT_VALIDATION', 'Invalid review input: actor');
    await rejects(orch.rejectMerge(merged.id, { actor: 'bob', rationale: { why: 'no' } } as never), 'LIMIT_VALIDATION', 'Invalid review input: rationale');
    await rejects(orch.rejectMerge(merged.id, { actor: 'bob', rationale: 'r'.repeat(8193) }), 'LIMIT_VALIDATION', 'Invalid review input: rationale');
    const detail = await orch.inspectTrace(undefined, merged.id);
    expect(detail.trace.status).toBe('pending-review');
    expect(detail.provenance.map((e) => e.action)).toEqual(['merge', 'review-requested']);
    expect((await orch.approveMerge(merged.id, { actor: 'bob', rationale: 'checked both' })).status).toBe('ok');
    expect((await orch.inspectTrace(undefined, merged.id)).provenance.at(-1)).toMatchObject({ action: 'approved', actor: 'bob', rationale: 'checked both' });
  });

  it('merge: parents of several sessions without a sessionId are LIMIT_VALIDATION naming sessionId (details.field, as over HTTP)', async () => {
    const [s1, s2] = [await orch.openSession(), await orch.openSession()];
    const a = (await orch.run({ sessionId: s1.id, runner: 'spy', task: { input: 'a' } })).trace;
    const b = (await orch.run({ sessionId: s2.id, runner: 'spy', task: { input: 'b' } })).trace;
    const error = await rejects(orch.merge({ parentIds: [a.id, b.id] }), 'LIMIT_VALIDATION', 'sessionId: the parents come from 2 sessions');
    expect(error.details).toEqual({ field: 'sessionId', sessions: [s1.id, s2.id] });
    expect(await traceCount()).toBe(2);
  });

  it('merge: a repeated parent is named with its position and the one it repeats', async () => {
    const s = await orch.openSession();
    const ids: string[] = [];
    for (const input of ['a', 'b', 'c']) ids.push((await orch.run({ sessionId: s.id, runner: 'spy', task: { input } })).trace.id);
    const error = await rejects(orch.merge({ parentIds: [ids[0]!, ids[1]!, ids[2]!, ids[1]!, ids[1]!] }), 'LIMIT_VALIDATION',
      `parentIds.3: "${ids[1]}" repeats parentIds.1; a merge names each parent once`, `parentIds.4: "${ids[1]}" repeats parentIds.1`);
    expect((error.details?.issues as { path: string }[]).map((i) => i.path)).toEqual(['parentIds.3', 'parentIds.4']);
    expect(await traceCount()).toBe(3);
  });

  it('refuses caller text that is not well-formed Unicode (half a surrogate pair), naming the field, before anything is written', async () => {
    const s = await orch.openSession();
    const half = 'caf\ud83d';
    const spy = rt.resolve('runner:spy') as ReturnType<typeof spyRunner>;
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: half } }), 'LIMIT_VALIDATION', 'Invalid run input: task.input: is not well-formed Unicode');
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x', toolOutputs: [{ name: 'a', content: 'ok' }, { name: 'b', content: half }] } }), 'LIMIT_VALIDATION', 'task.toolOutputs.1.content:');
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' }, metadata: { nested: { [half]: 1 } } }), 'LIMIT_VALIDATION', 'metadata.nested: the key "caf\\ud83d" is not well-formed Unicode');
    const output = { ok: true, stdout: `out ${half}`, stderr: '' };
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output }), 'LIMIT_VALIDATION', 'Invalid trace input: output.stdout:');
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output: { ok: true, stdout: '', stderr: '', value: { list: ['\udc00'] } } }), 'LIMIT_VALIDATION', 'output.value.list.0:');
    await rejects(orch.federate({ sessionId: s.id, task: { input: half }, targets: [{ runner: 'spy' }], aggregate: 'all' }), 'LIMIT_VALIDATION', 'task.input:');
    await rejects(orch.openSession({ name: half }), 'LIMIT_VALIDATION', 'name:');
    expect(spy.calls).toHaveLength(0);
    expect(await traceCount()).toBe(0);
    const parent = (await orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output: { ok: true, stdout: 'a', stderr: '' } })).trace;
    await rejects(orch.merge({ parentIds: [parent.id], rationale: half }), 'LIMIT_VALIDATION', 'rationale:');
    await rejects(orch.merge({ parentIds: [parent.id], strategy: 'custom', output }), 'LIMIT_VALIDATION', 'output.stdout:');
    expect(await traceCount()).toBe(1);
    // Whole pairs are text: an emoji is stored as given.
    const emoji = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'caf\ud83d\ude00' } });
    expect(emoji.trace.output?.stdout).toBe('caf😀');
  });

  it('a task holds at most TASK_LIMITS files, env variables, args and tool outputs: more is LIMIT_VALIDATION naming the field, before governance reads any', async () => {
    const s = await orch.openSession();
    const spy = rt.resolve('runner:spy') as ReturnType<typeof spyRunner>;
    const map = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, 'x']));
    const list = (n: number) => Array.from({ length: n }, () => 'x');
    const tools = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `t${i}`, content: 'x' }));
    const over = { files: map(TASK_LIMITS.files + 1), env: map(TASK_LIMITS.env + 1), args: list(TASK_LIMITS.args + 1), toolOutputs: tools(TASK_LIMITS.toolOutputs + 1) };
    const output = { ok: true, stdout: '', stderr: '' };
    for (const [key, value] of Object.entries(over)) {
      await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x', [key]: value } }), 'LIMIT_VALIDATION', `task.${key}: Too big: expected`);
      await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'x', [key]: value }, output }), 'LIMIT_VALIDATION', `task.${key}: Too big: expected`);
      await rejects(orch.federate({ sessionId: s.id, task: { input: 'x', [key]: value }, targets: [{ runner: 'spy' }], aggregate: 'all' }), 'LIMIT_VALIDATION', `task.${key}: Too big: expected`);
    }
    expect(spy.calls).toHaveLength(0);
    expect(await traceCount()).toBe(0);
    // At the limits, a task runs.
    const full = { files: map(TASK_LIMITS.files), env: map(TASK_LIMITS.env), args: list(TASK_LIMITS.args), toolOutputs: tools(TASK_LIMITS.toolOutputs) };
    expect((await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x', ...full } })).trace.status).toBe('ok');
  });

  it('federate: concurrency must be an integer ≥ 1', async () => {
    const s = await orch.openSession();
    for (const concurrency of [Number.NaN, 0, -3, 1.5]) {
      await rejects(orch.federate({ sessionId: s.id, task: { input: 'x' }, targets: [{ runner: 'spy' }], aggregate: 'all', concurrency }), 'LIMIT_VALIDATION', 'concurrency');
    }
    expect(await traceCount()).toBe(0);
  });

  it('recordTrace: a malformed output is LIMIT_VALIDATION naming it, and no trace is stored', async () => {
    const s = await orch.openSession();
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output: 'nope' as never }), 'LIMIT_VALIDATION', 'output');
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output: { ok: true } as never }), 'LIMIT_VALIDATION', 'output.stdout');
    expect(await traceCount()).toBe(0);
    const ok = await orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output: { ok: true, stdout: 'a', stderr: '' } });
    expect(ok.trace).toMatchObject({ status: 'ok', task: { kind: 'external' } });
  });

  it("run and recordTrace: a merge's markers (runner \"merge\", task kind \"merge\") and, on a recorded trace, a merge's metadata keys are LIMIT_VALIDATION naming the field: no trace poses as a merge, and nothing is stored", async () => {
    const s = await orch.openSession();
    const spy = rt.resolve('runner:spy') as ReturnType<typeof spyRunner>;
    const output = { ok: true, stdout: 'a', stderr: '' };
    const parent = (await orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'q' }, output })).trace;
    const before = await traceCount();
    // Before, this stored a trace that looked like a federation's merge in every listing and export.
    const forged = { sessionId: s.id, runner: 'merge', task: { input: 'forged', kind: 'merge' as const }, output, parentIds: [parent.id], metadata: { federation: true, strategy: 'majority', excluded: [] } };
    const error = await rejects(orch.recordTrace(forged), 'LIMIT_VALIDATION', 'runner: "merge" is the runner of merged traces', 'task.kind: "merge" is the task kind of merged traces',
      'metadata.strategy: is written by the server on merged traces', 'metadata.federation:', 'metadata.excluded:');
    expect((error.details?.issues as { path: string }[]).map((i) => i.path)).toEqual(['runner', 'task.kind', 'metadata.strategy', 'metadata.federation', 'metadata.excluded']);
    await rejects(orch.recordTrace({ ...forged, task: { input: 'x' }, metadata: {} }), 'LIMIT_VALIDATION', 'runner:');
    await rejects(orch.recordTrace({ ...forged, runner: 'ext', metadata: {} }), 'LIMIT_VALIDATION', 'task.kind:');
    for (const key of ['federation', 'excluded', 'strategy']) {
      await rejects(orch.recordTrace({ ...forged, runner: 'ext', task: { input: 'x' }, metadata: { note: 1, [key]: true } }), 'LIMIT_VALIDATION', `metadata.${key}:`);
    }
    await rejects(orch.run({ sessionId: s.id, runner: 'merge', task: { input: 'x' } }), 'LIMIT_VALIDATION', 'runner: "merge"');
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x', kind: 'merge' } }), 'LIMIT_VALIDATION', 'task.kind: "merge"');
    // A beforeRun tap cannot turn a run into one either.
    rt.hooks.beforeRun.tapPromise('test-poser', async (request) => ({ ...request, task: { ...request.task, kind: 'merge' } }));
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } }), 'LIMIT_VALIDATION', 'task.kind: "merge"');
    expect(spy.calls).toHaveLength(0);
    expect(await traceCount()).toBe(before);
    // Other keys, kinds and runner names are recorded as given; a run's metadata keeps its keys (a federation's branches carry `federation`).
    const kept = await orch.recordTrace({ ...forged, runner: 'merger', task: { input: 'x', kind: 'prompt' }, metadata: { note: 1 } });
    expect(kept.trace).toMatchObject({ status: 'ok', runner: 'merger', task: { kind: 'prompt' }, metadata: { note: 1 } });
  });

  it('verifyArtifact: a non-array is LIMIT_VALIDATION, not a TypeError', async () => {
    await rejects(() => orch.verifyArtifact(null as never), 'LIMIT_VALIDATION', 'artifact files');
    await rejects(() => orch.verifyArtifact([{ path: 'a.json', content: 1 }] as never), 'LIMIT_VALIDATION', '0.content');
  });

  it('openSession: an unknown limit is refused, as over HTTP', async () => {
    await rejects(orch.openSession({ limits: { timeoutMss: 5 } as never }), 'LIMIT_VALIDATION', 'limits', 'timeoutMss');
    await rejects(orch.openSession({ limits: { timeoutMs: -1 } }), 'LIMIT_VALIDATION', 'limits.timeoutMs');
    expect((await orch.listSessions(undefined)).items).toHaveLength(0);
  });

  it('run and recordTrace: a parent that does not exist in the tenant is LIMIT_NOT_FOUND naming it', async () => {
    const s = await orch.openSession();
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' }, parentIds: ['ghost'] }), 'LIMIT_NOT_FOUND', '"ghost"');
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'x' }, output: { ok: true, stdout: '', stderr: '' }, parentIds: ['ghost'] }), 'LIMIT_NOT_FOUND', '"ghost"');
    // Another tenant's trace is as missing as a made-up id.
    const other = await orch.openSession({ tenant: 'other' });
    const theirs = (await orch.run({ tenant: 'other', sessionId: other.id, runner: 'spy', task: { input: 'x' } })).trace;
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' }, parentIds: [theirs.id] }), 'LIMIT_NOT_FOUND', theirs.id);
    expect(await traceCount()).toBe(0);
    const parent = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'p' } })).trace;
    const child = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'c' }, parentIds: [parent.id] });
    expect(child.trace.parentIds).toEqual([parent.id]);
  });

  it('createRdSeries on a closed session is LIMIT_SESSION_CLOSED, like run and merge', async () => {
    const s = await orch.openSession();
    await orch.closeSession(undefined, s.id);
    await rejects(orch.createRdSeries({ sessionId: s.id, name: 'r' }), 'LIMIT_SESSION_CLOSED');
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'x' } }), 'LIMIT_SESSION_CLOSED');
  });

  it('run and recordTrace: an unknown key in the task is LIMIT_VALIDATION naming it (as over HTTP), not dropped, and nothing is stored', async () => {
    const s = await orch.openSession();
    await rejects(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'print(1)', langauge: 'python' } as never }), 'LIMIT_VALIDATION', 'task: Unrecognized key: "langauge"');
    await rejects(orch.recordTrace({ sessionId: s.id, runner: 'ext', task: { input: 'x', kidn: 'code' } as never, output: { ok: true, stdout: '', stderr: '' } }), 'LIMIT_VALIDATION', 'task: Unrecognized key: "kidn"');
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items).toEqual([]);
    expect((await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'print(1)', language: 'python' } })).trace.task.language).toBe('python');
  });

  it('createRdSeries: distortionAlgorithm or distortionOptions without a reference is LIMIT_RD_INVALID_INPUT naming it (no graph step could use them), and nothing is stored', async () => {
    const s = await orch.openSession();
    const storage = rt.resolve('storage');
    for (const field of ['distortionAlgorithm', 'distortionOptions'] as const) {
      const given = field === 'distortionAlgorithm' ? { distortionAlgorithm: 'count' } : { distortionOptions: { alpha: 0.3 } };
      const error = await rejects(orch.createRdSeries({ sessionId: s.id, name: 'r', ...given }), 'LIMIT_RD_INVALID_INPUT', `${field}: applies only to a series with a reference graph`);
      expect(error.details?.field).toBe(field);
    }
    expect(await storage.listRdSeries(s.tenant, { sessionId: s.id })).toEqual([]);
    // With a reference both are kept and used.
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r', reference: { nodes: [{ id: 'a', features: [0] }], edges: [] }, distortionAlgorithm: 'count', distortionOptions: { alpha: 0.3 } });
    expect(series.metadata).toMatchObject({ distortionAlgorithm: 'count', distortionOptions: { alpha: 0.3 } });
  });

  it("recordRdStep: an algorithm's error about its source/target is said of the step's graph and the series' reference, in field and message (a node id is left as given)", async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r', reference: { nodes: [{ id: 'a', features: [0] }], edges: [] }, distortionAlgorithm: 'picky' });
    const error = await rejects(orch.recordRdStep(series.id, { rate: 1, graph: { nodes: [{ id: 'a', features: [0] }], edges: [] } }), 'LIMIT_RD_INVALID_INPUT');
    expect(error.message).toBe('reference.nodes[0].features: does not match graph.nodes[1] (node id "source.x")');
    expect(error.details?.field).toBe('reference.nodes[0].features');
    expect((await rt.resolve('storage').getRdSeries(series.tenant, series.id))!.points).toEqual([]);
  });

  it('recordRdStep and createRdSeries: a graph or reference without nodes and edges arrays is LIMIT_VALIDATION naming them (not a TypeError after an algorithm that read nothing), and nothing is stored', async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r', reference: { nodes: [{ id: 'a', features: [0] }], edges: [] }, distortionAlgorithm: 'count' });
    for (const graph of [{}, { nodes: [{ id: 'a', features: [0] }] }, { nodes: 'a', edges: [] }]) {
      const error = await rejects(orch.recordRdStep(series.id, { rate: 1, graph: graph as never }), 'LIMIT_VALIDATION', 'Invalid RD step input');
      expect(error.message).toMatch(/graph\.(nodes|edges): .*expected array/);
    }
    expect((await rt.resolve('storage').getRdSeries(series.tenant, series.id))!.points).toEqual([]);
    await rejects(orch.createRdSeries({ sessionId: s.id, name: 'r', reference: { nodes: [] } as never, distortionAlgorithm: 'count' }), 'LIMIT_VALIDATION', 'reference.edges');
    // Keys beyond nodes and edges (directed, an algorithm's own) are kept for the algorithm.
    const step = await orch.recordRdStep(series.id, { rate: 1, graph: { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [], directed: true } });
    expect(step.point.distortion).toBe(1);
  });

  it("recordRdStep: a graph step's meta may not use a key its measurement writes (algorithm, iterations, converged, nodes, edges): LIMIT_VALIDATION naming meta.<key>, nothing stored; other keys and a distortion step's meta are kept as given", async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r', reference: { nodes: [{ id: 'a', features: [0] }], edges: [] }, distortionAlgorithm: 'count' });
    const graph = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    for (const key of ['algorithm', 'iterations', 'converged', 'nodes', 'edges']) {
      const error = await rejects(orch.recordRdStep(series.id, { rate: 1, graph, meta: { note: 'x', [key]: 'mine' } }), 'LIMIT_VALIDATION', `meta.${key}: is written by the measurement of \`graph\``);
      expect(error.message).not.toContain('meta.note');
    }
    expect((await rt.resolve('storage').getRdSeries(series.tenant, series.id))!.points).toEqual([]);
    const measured = await orch.recordRdStep(series.id, { rate: 1, graph, meta: { note: 'x' } });
    expect(measured.point.meta).toEqual({ note: 'x', algorithm: 'count', iterations: 1, converged: true, nodes: 2, edges: 1 });
    // A step that gives its distortion is not measured: its meta is stored as given, these keys too.
    const given = await orch.recordRdStep(series.id, { rate: 2, distortion: 0.5, meta: { algorithm: 'mine', nodes: 7 } });
    expect(given.point.meta).toEqual({ algorithm: 'mine', nodes: 7 });
  });

  it("createRdSeries and refine: metadata may not hold the series' server-kept keys (reference, distortionAlgorithm, distortionOptions): LIMIT_VALIDATION naming metadata.<key>, nothing stored; a series stored with them in metadata (before) is still measured", async () => {
    const s = await orch.openSession();
    const reference = { nodes: [{ id: 'a', features: [0] }], edges: [] };
    for (const [key, value] of [['reference', reference], ['distortionAlgorithm', 'nope'], ['distortionOptions', { solver: 'bogus' }]] as const) {
      const error = await rejects(orch.createRdSeries({ sessionId: s.id, name: 'r', metadata: { note: 'x', [key]: value } }), 'LIMIT_VALIDATION', `metadata.${key}: is the series'`, `top-level \`${key}\``);
      expect(error.message).not.toContain('metadata.note');
      await rejects(orch.refine({ sessionId: s.id, name: 'r', maxSteps: 1, detector: 'drop', metadata: { [key]: value }, step: () => ({ rate: 1, distortion: 0 }) }), 'LIMIT_VALIDATION', `metadata.${key}`);
    }
    expect(await rt.resolve('storage').listRdSeries(s.tenant, { sessionId: s.id })).toEqual([]);
    // Other keys are kept; the server's own keys come from the top-level fields.
    const made = await orch.createRdSeries({ sessionId: s.id, name: 'r', reference, distortionAlgorithm: 'count', metadata: { note: 'x' } });
    expect(made.metadata).toEqual({ note: 'x', reference, distortionAlgorithm: 'count' });
    // Backward compatible: a series stored earlier keeps these keys in its metadata and is read from there.
    await rt.resolve('storage').createRdSeries({ id: 'old-series', sessionId: s.id, tenant: s.tenant, name: 'old', points: [], createdAt: new Date().toISOString(), metadata: { reference, distortionAlgorithm: 'count' } });
    const step = await orch.recordRdStep('old-series', { rate: 1, graph: { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [] } });
    expect(step.point).toMatchObject({ distortion: 1, meta: { algorithm: 'count' } });
  });

  it("merge: metadata may not hold the keys the server writes on a merge (strategy, federation, excluded): LIMIT_VALIDATION naming metadata.<key>, nothing stored; federate() still writes them", async () => {
    const s = await orch.openSession();
    const a = (await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'a' } })).trace;
    for (const key of ['strategy', 'federation', 'excluded']) {
      await rejects(orch.merge({ parentIds: [a.id], metadata: { note: 'x', [key]: [{ traceId: a.id, reason: 'forged' }] } }), 'LIMIT_VALIDATION', `metadata.${key}`);
    }
    expect(await traceCount()).toBe(1);
    const fed = await orch.federate({ sessionId: s.id, task: { input: 'x' }, aggregate: 'first-success', metadata: { note: 'y', excluded: 'mine' }, targets: [{ runner: 'spy' }, { runner: 'spy' }] });
    const merged = fed.merge && 'trace' in fed.merge ? fed.merge.trace : undefined;
    expect(merged?.metadata).toMatchObject({ note: 'y', federation: true, strategy: 'first-success' });
    const excluded = merged!.metadata.excluded as { traceId: string; reason: string }[];
    expect(excluded.map((e) => e.reason)).toEqual(['not the first success']);
    const entry = (await rt.resolve('storage').listProvenance(s.tenant, merged!.id)).find((e) => e.action === 'merge');
    expect((entry!.data as { excluded: unknown }).excluded).toEqual(excluded);
  });

  it("rdKnee: a detector's index that is not one of the points is LIMIT_INTERNAL naming it, not a knee without a point", async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r' });
    for (const [rate, distortion] of [[1, 1], [2, 0.2], [3, 0.1]] as const) await orch.recordRdStep(series.id, { rate, distortion });
    await rejects(orch.rdKnee(undefined, series.id, 'past'), 'LIMIT_INTERNAL', 'knee:past returned index 3 for 3 point(s)');
    expect((await orch.rdKnee(undefined, series.id, 'drop')).index).toBeNull();
  });

  it('recordRdStep: its input is checked first (an unknown key, a wrong type, text that is not well-formed Unicode), and no point is stored', async () => {
    const s = await orch.openSession();
    const series = await orch.createRdSeries({ sessionId: s.id, name: 'r' });
    await rejects(orch.recordRdStep(series.id, { rate: 1, distortoin: 0.5 } as never), 'LIMIT_VALIDATION', 'Invalid RD step input', 'distortoin');
    await rejects(orch.recordRdStep(series.id, { rate: '1', distortion: 0.5 } as never), 'LIMIT_VALIDATION', 'rate');
    await rejects(orch.recordRdStep(series.id, { rate: 1, distortion: 0.5, meta: { note: 'half \ud83d' } }), 'LIMIT_VALIDATION', 'meta.note', 'not well-formed Unicode');
    expect((await rt.resolve('storage').getRdSeries(series.tenant, series.id))!.points).toEqual([]);
    expect((await orch.recordRdStep(series.id, { rate: 1, distortion: 0.5, meta: { note: 'a whole pair 😀' } })).pointCount).toBe(1);
  });

  it('exportArtifact: an unknown format is refused', async () => {
    const s = await orch.openSession();
    await rejects(orch.exportArtifact({ sessionId: s.id, format: 'xml' as never }), 'LIMIT_VALIDATION', 'format');
    const exported = await orch.exportArtifact({ sessionId: s.id, format: 'jsonl' });
    expect(orch.verifyArtifact(exported.files).ok).toBe(true);
  });

  it('refine: an unknown knee detector or RD algorithm is refused before the series is created and any step runs', async () => {
    const s = await orch.openSession();
    let calls = 0;
    const step = (i: number) => { calls++; return { rate: i, distortion: 1 / (i + 1) }; };
    const graph = { nodes: [{ id: 'a', features: [1] }], edges: [] };
    // Before, the 5 steps ran and were recorded, and the detector was looked up only for the knee at the end.
    await rejects(orch.refine({ sessionId: s.id, name: 'r', maxSteps: 5, detector: 'kneedel', step }), 'LIMIT_SERVICE_NOT_FOUND', 'No knee detector "kneedel" is registered');
    // No detector named, and none of the defaults (kneedle, menger) loaded here.
    await rejects(orch.refine({ sessionId: s.id, name: 'r', maxSteps: 5, step }), 'LIMIT_SERVICE_NOT_FOUND', 'No knee detector is registered');
    await rejects(orch.refine({ sessionId: s.id, name: 'r', maxSteps: 5, detector: 'drop', reference: graph, distortionAlgorithm: 'nope', step }), 'LIMIT_SERVICE_NOT_FOUND', 'No RD algorithm "nope"');
    expect(calls).toBe(0);
    expect(await rt.resolve('storage').listRdSeries('default', { sessionId: s.id })).toEqual([]);
  });

  it('refine: maxSteps must be an integer ≥ 1 and step a function', async () => {
    const s = await orch.openSession();
    const base = { sessionId: s.id, name: 'r', detector: 'drop', step: () => ({ rate: 1, distortion: 1 }) };
    await rejects(orch.refine({ ...base, maxSteps: Number.NaN }), 'LIMIT_VALIDATION', 'maxSteps');
    await rejects(orch.refine({ ...base, maxSteps: 2, step: undefined as never }), 'LIMIT_VALIDATION', 'step');
    const { series } = await orch.refine({ ...base, maxSteps: 2 });
    expect(series.points).toHaveLength(2);
  });
});
