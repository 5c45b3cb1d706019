/**
 * A recorded trace is governed before it is stored (its creation is pending in the batch its
 * governance records join): the orchestrator says so (GovernanceCallOptions.unstoredTrace, given
 * to rules as ctx.unstoredTrace), and the provenance rule then does not read the trace's own chain,
 * which cannot exist yet — only its parents'. A run's trace is stored before governance: no mark,
 * and the rule reads its chain as before. Real SQLite storage, governance and orchestrator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type GovernanceRule, type Orchestrator, type Runtime, type Storage } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

describe('governance of a trace that is not stored yet', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  const seen: { surface: string; unstoredTrace: boolean | undefined }[] = [];
  const probe: GovernanceRule = {
    id: 'acme.probe', flag: 'Unsafe', surfaces: ['input', 'output'],
    evaluate: (subject, ctx) => {
      if (subject.view?.name === 'raw' && (subject.field === 'task.input' || subject.field === 'output.stdout')) seen.push({ surface: subject.surface, unstoredTrace: ctx.unstoredTrace });
      return [];
    },
  };

  async function start(): Promise<{ orch: Orchestrator; chainReads: string[] }> {
    seen.length = 0;
    rt = await createRuntime({
      config: {
        logLevel: 'silent', storage: 'sqlite',
        plugins: {
          'storage-sqlite': { path: ':memory:' }, 'runner-python': false, orchestrator: {},
          'governance-rules-provenance': true, governance: { packs: ['provenance'], rules: [probe] },
        },
      },
      plugins: [spyRunnerPlugin(spyRunner('spy'))],
    });
    // Which traces' chains are read (the storage plugin's own method, counted, not replaced).
    const storage = rt.resolve('storage') as Storage;
    const chainReads: string[] = [];
    const list = storage.listProvenance.bind(storage);
    storage.listProvenance = (tenant, traceId) => {
      chainReads.push(traceId);
      return list(tenant, traceId);
    };
    return { orch: rt.resolve('orchestrator'), chainReads };
  }

  it('a recorded trace: rules get ctx.unstoredTrace on both surfaces, and its own chain is not read', async () => {
    const { orch, chainReads } = await start();
    const s = await orch.openSession({});
    const out = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'hello' }, output: { ok: true, stdout: 'hi', stderr: '' } });
    expect(out.trace.status).toBe('ok');
    expect(seen).toEqual([{ surface: 'input', unstoredTrace: true }, { surface: 'output', unstoredTrace: true }]);
    expect(chainReads).not.toContain(out.trace.id);
  });

  it('a recorded trace with parents: the parents\' chains are still verified (a missing one is flagged)', async () => {
    const { orch, chainReads } = await start();
    const s = await orch.openSession({});
    const parent = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'a' }, output: { ok: true, stdout: 'b', stderr: '' } });
    chainReads.length = 0;
    const child = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'c' }, output: { ok: true, stdout: 'd', stderr: '' }, parentIds: [parent.trace.id] });
    expect(chainReads).toEqual([parent.trace.id]);
    expect(child.verdicts.input?.findings.filter((f) => f.kind === 'Unverified')).toEqual([]);
  });

  it('a run: its trace is stored before governance, so no mark, and its own chain is read', async () => {
    const { orch, chainReads } = await start();
    const s = await orch.openSession({});
    const out = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'print(1)' } });
    expect(seen).toEqual([{ surface: 'input', unstoredTrace: undefined }, { surface: 'output', unstoredTrace: undefined }]);
    expect(chainReads).toContain(out.trace.id);
  });
});
