/**
 * Output governance that fails (a custom rule throws on the output, a governOutput tap throws or
 * returns an invalid finding) must not leave the runner's output stored as a usable trace nobody
 * checked. Before, the pipeline salvaged such a trace as a plain `error` holding the output: no
 * flag, no quarantine, and a merge took it as a parent. Now the trace is held quarantined (its
 * release gives back `error`), with its `failed` entry and the quarantine's records, so merges
 * refuse it. Real SQLite storage, governance and orchestrator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, type GovernanceRule, type Orchestrator, type Runtime } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

/** Jailbreak 9 on JAILBREAK-ME: what the output would be flagged for had governance completed. */
const jb: GovernanceRule = {
  id: 'acme.jb', flag: 'Jailbreak', surfaces: ['output'],
  evaluate: (s) => {
    const i = s.text.indexOf('JAILBREAK-ME');
    return i < 0 ? [] : [{ ruleId: 'acme.jb', kind: 'Jailbreak', severity: 9, reason: 'jailbreak marker', evidence: [] }];
  },
};
/** Throws on an output holding EVIL (a custom rule with a bug). */
const flaky: GovernanceRule = {
  id: 'acme.flaky', flag: 'HighRisk', surfaces: ['output'],
  evaluate: (s) => {
    if (s.text.includes('EVIL')) throw new Error('flaky rule crashed');
    return [];
  },
};

/** A governOutput tap (a DLP service): DOWN makes it throw, GARBAGE makes it return an invalid finding. */
const dlp = definePlugin({
  meta: { name: 'acme-dlp', version: '1.0.0' },
  setup(ctx) {
    ctx.hooks.governOutput.tapPromise(ctx.name, async (findings, trace) => {
      const out = trace.output?.stdout ?? '';
      if (out.includes('DOWN')) throw new Error('DLP service unreachable');
      if (out.includes('GARBAGE')) return [...findings, { ruleId: 'acme.dlp', kind: 'Malicious', severity: 99, reason: 'x', evidence: [] }];
      return findings;
    });
  },
});

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function start(rules: GovernanceRule[] = [jb, flaky]): Promise<Orchestrator> {
  rt = await createRuntime({
    config: {
      logLevel: 'silent', storage: 'sqlite',
      plugins: { 'storage-sqlite': { path: ':memory:' }, 'runner-python': false, orchestrator: {}, governance: { packs: [], rules } },
    },
    plugins: [spyRunnerPlugin(spyRunner('spy')), dlp],
  });
  return rt.resolve('orchestrator');
}

const CASES = [
  { name: 'a rule throws on the output', stdout: 'JAILBREAK-ME EVIL', code: 'LIMIT_RULE_INVALID', message: 'flaky rule crashed' },
  { name: 'a governOutput tap throws', stdout: 'JAILBREAK-ME DOWN', code: 'LIMIT_HOOK_TAP_FAILED', message: 'DLP service unreachable' },
  { name: 'a governOutput tap returns an invalid finding', stdout: 'JAILBREAK-ME GARBAGE', code: 'LIMIT_RULE_INVALID', message: 'severity' },
] as const;

describe('output governance that fails holds the output quarantined, never a mergeable error', () => {
  for (const c of CASES) {
    it(`${c.name}: run and recordTrace`, async () => {
      const orch = await start();
      const s = await orch.openSession({});
      const clean = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'hi' }, output: { ok: true, stdout: 'fine', stderr: '' } });
      await expect(orch.run({ sessionId: s.id, runner: 'spy', task: { input: c.stdout } })).rejects.toMatchObject({ code: c.code, message: expect.stringContaining(c.message) });
      await expect(orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'x' }, output: { ok: true, stdout: c.stdout, stderr: '' } }))
        .rejects.toMatchObject({ code: c.code });
      const failed = (await orch.listTraces(undefined, { sessionId: s.id })).items.filter((t) => t.id !== clean.trace.id);
      expect(failed.map((t) => t.runner).sort()).toEqual(['agent', 'spy']);
      const storage = rt!.resolve('storage');
      const governance = rt!.resolve('governance');
      for (const t of failed) {
        // The output is kept (its chain binds it) but held: quarantined, and a release gives back `error`.
        expect(t).toMatchObject({ status: 'quarantined', output: { stdout: c.stdout } });
        const q = await storage.getQuarantine('default', t.id);
        expect(q).toMatchObject({ quarantined: true, previousStatus: 'error', reason: expect.stringMatching(/^Output governance did not complete/) });
        expect(q!.reason).toContain(c.code);
        const detail = await orch.inspectTrace(undefined, t.id);
        expect(detail.provenance.slice(-2).map((e) => [e.action, (e.data as { status?: string }).status])).toEqual([['failed', 'error'], ['quarantined', undefined]]);
        expect(detail.provenance.at(-1)).toMatchObject({ action: 'quarantined', operation: 'quarantine', data: { auto: true, ungoverned: 'output' } });
        expect(detail.checkpoints.at(-1)).toMatchObject({ label: 'governance:quarantine', passed: false, details: { ungoverned: 'output' } });
        expect(detail.verification.verified).toBe(true);
        // No merge takes it: governance refuses it, and so does the orchestrator.
        const validation = await governance.validateMerge({ tenant: 'default', sessionId: s.id, parentIds: [t.id, clean.trace.id], strategy: 'union', rationale: '', actor: 'x' }, { count: false });
        expect(validation.allowed).toBe(false);
        expect(validation.refusals).toEqual([{ parentId: t.id, reason: expect.stringContaining('quarantined') }]);
        await expect(orch.merge({ sessionId: s.id, parentIds: [t.id, clean.trace.id], strategy: 'custom', output: { ok: true, stdout: 'summary', stderr: '' } }))
          .rejects.toMatchObject({ code: 'LIMIT_MERGE_REFUSED' });
      }
      // A person who looked at it may release it: it is then the failed run it was.
      const run = failed.find((t) => t.runner === 'spy')!;
      await governance.release('default', run.id, { reason: 'checked by hand', actor: 'reviewer' });
      expect((await storage.getTrace('default', run.id))?.status).toBe('error');
      expect((await orch.inspectTrace(undefined, run.id)).verification.verified).toBe(true);
    });
  }

  it('a merge whose output governance fails leaves no trace behind (the service assesses: nothing was stored)', async () => {
    const orch = await start();
    const s = await orch.openSession({});
    const a = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'a' }, output: { ok: true, stdout: 'fine', stderr: '' } });
    await expect(orch.merge({ sessionId: s.id, parentIds: [a.trace.id], strategy: 'custom', output: { ok: true, stdout: 'JAILBREAK-ME DOWN', stderr: '' } }))
      .rejects.toMatchObject({ code: 'LIMIT_HOOK_TAP_FAILED' });
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items.map((t) => t.id)).toEqual([a.trace.id]);
  });

  it('input governance that fails: a run (no output yet) stays a plain error; a recorded trace, whose output was never governed, is held', async () => {
    const orch = await start([{ ...flaky, id: 'acme.flaky-input', surfaces: ['input'] }]);
    const s = await orch.openSession({});
    await expect(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'EVIL' } })).rejects.toMatchObject({ code: 'LIMIT_RULE_INVALID' });
    await expect(orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'EVIL' }, output: { ok: true, stdout: 'JAILBREAK-ME', stderr: '' } }))
      .rejects.toMatchObject({ code: 'LIMIT_RULE_INVALID' });
    const traces = (await orch.listTraces(undefined, { sessionId: s.id })).items;
    expect(traces.find((t) => t.runner === 'spy')).toMatchObject({ status: 'error', output: { ok: false, error: { code: 'LIMIT_RULE_INVALID' } } });
    expect(traces.find((t) => t.runner === 'agent')).toMatchObject({ status: 'quarantined', output: { stdout: 'JAILBREAK-ME' } });
    for (const t of traces) expect((await orch.inspectTrace(undefined, t.id)).verification.verified).toBe(true);
  });
});
