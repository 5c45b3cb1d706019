/**
 * How many storage writes each governance operation makes. Every operation is one `storage.batch`
 * (one transaction); a change that goes back to record-by-record writes fails here, not only in a
 * benchmark. The storage is the real SQLite backend behind a counting proxy.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, type BatchOp, type Finding, type GovernanceRule, type Runtime, type Storage } from 'limit-graph';
import { SqliteStorage } from '../../plugins/storage-sqlite/index.ts';
import { spyRunner, spyRunnerPlugin } from '../orchestrator/doubles.ts';
import { makeTrace, packPlugins, storeTrace } from './helpers.ts';

const WRITES = new Set(['createSession', 'closeSession', 'createTrace', 'updateTrace', 'appendProvenance', 'addFlag', 'addCheckpoint', 'setQuarantine', 'createRdSeries', 'appendRdPoint', 'incrementCounters', 'batch']);

const opName = (o: BatchOp) => (o.op === 'appendProvenance' ? `prov:${o.input.action}` : o.op);

/** `inner` with every write call logged: `batch[op,op,…]` for a batch, the method name otherwise. */
function countingStorage(inner: Storage, log: string[]): Storage {
  return new Proxy(inner, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (typeof prop === 'string' && WRITES.has(prop)) log.push(prop === 'batch' ? `batch[${(args[1] as BatchOp[]).map(opName).join(',')}]` : prop);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

// Severity 8 HighRisk: the default preset quarantines it (quarantineSeverity 8, autoQuarantine on).
const codename: GovernanceRule = {
  id: 'acme.codename', flag: 'HighRisk', surfaces: ['input'],
  evaluate: (s) => {
    const i = s.text.indexOf('PROJECT-X');
    return i < 0 ? [] : [{ ruleId: 'acme.codename', kind: 'HighRisk', severity: 8, reason: 'internal codename', evidence: [] }];
  },
};

const finding = (ruleId: string, over: Partial<Finding> = {}): Finding => ({ ruleId, kind: 'Malicious', severity: 5, reason: `test ${ruleId}`, evidence: [], ...over });

describe('governance writes each operation through one storage batch', () => {
  let rt: Runtime;
  let log: string[];
  let inner: SqliteStorage;

  beforeEach(async () => {
    log = [];
    inner = new SqliteStorage({ file: ':memory:', synchronous: 'normal', busyTimeoutMs: 1000, maxRecordBytes: 64 * 1024 });
    const counting = definePlugin({
      meta: { name: 'storage-counting', version: '1.0.0', provides: ['storage'] },
      setup(ctx) {
        ctx.provide('storage', countingStorage(inner, log), { dispose: () => inner.close() });
        ctx.hooks.boot.tapPromise(ctx.name, () => inner.open());
      },
    });
    rt = await createRuntime({ config: { logLevel: 'silent', plugins: { ...packPlugins(), governance: { rules: [codename] }, orchestrator: {} } }, plugins: [counting, spyRunnerPlugin(spyRunner())] });
    rt.hooks.traceFlagged.tapPromise('test', async (trace, flag) => {
      // The flag is already committed when the hook runs.
      const stored = await inner.listFlags(trace.tenant, { traceId: flag.traceId });
      log.push(`hook:traceFlagged(${stored.some((f) => f.id === flag.id) ? 'stored' : 'NOT STORED'})`);
    });
  });
  afterEach(async () => {
    await rt.close();
  });

  const stored = async (input: string) => {
    const trace = await storeTrace(rt, makeTrace(input, { task: { input, kind: 'prompt' } }));
    log.length = 0;
    return trace;
  };

  it('evaluate: counters and checkpoint in one batch; an auto-quarantine joins the same batch', async () => {
    const gov = rt.resolve('governance');
    const benign = await stored('Summarise the quarterly report in three bullet points.');
    expect((await gov.evaluate(benign, 'input')).decision).toBe('allow');
    expect(log).toEqual(['batch[incrementCounters,addCheckpoint]']);

    const secret = await stored('What is the launch date of PROJECT-X?');
    log.length = 0;
    expect((await gov.evaluate(secret, 'input')).decision).toBe('quarantine');
    expect(log).toEqual(['batch[incrementCounters,addCheckpoint,setQuarantine,updateTrace,prov:quarantined,addCheckpoint,incrementCounters]']);
    const storage = rt.resolve('storage');
    expect((await storage.getTrace('default', secret.id))!.status).toBe('quarantined');
    expect((await storage.listCheckpoints('default', secret.id)).map((c) => c.label)).toEqual(['governance:input', 'governance:quarantine']);
    expect((await storage.listProvenance('default', secret.id)).map((e) => e.action)).toEqual(['created', 'quarantined']);
    expect(await gov.stats('default')).toMatchObject({ evaluations: 2, 'decision.allow': 1, 'decision.quarantine': 1, quarantined: 1 });

    // Not stored: counted, no checkpoint, still one write.
    log.length = 0;
    await gov.evaluate(makeTrace('hello'), 'input');
    expect(log).toEqual(['batch[incrementCounters]']);
  });

  it('recordFlags: n flags, their provenance entry and counters in one batch, then one traceFlagged per flag', async () => {
    const gov = rt.resolve('governance');
    const trace = await stored('anything');
    const flags = await gov.recordFlags(trace, [finding('a.one'), finding('a.two', { kind: 'Unsafe' }), finding('a.three')]);
    expect(log).toEqual([
      'batch[addFlag,addFlag,addFlag,prov:flagged,incrementCounters]',
      'hook:traceFlagged(stored)', 'hook:traceFlagged(stored)', 'hook:traceFlagged(stored)',
    ]);
    const storage = rt.resolve('storage');
    expect((await storage.listFlags('default', { traceId: trace.id })).map((f) => f.id)).toEqual(flags.map((f) => f.id));
    expect(await gov.stats('default')).toMatchObject({ 'flags.total': 3, 'flags.kind.Malicious': 2, 'flags.kind.Unsafe': 1, 'flags.rule.a.two': 1 });
  });

  it('recordFlags is all or nothing: a flag storage refuses leaves no flag, entry, counter or hook', async () => {
    const gov = rt.resolve('governance');
    const trace = await stored('anything');
    const storage = rt.resolve('storage');
    // Another writer fills the trace's flags to near this store's cap (4 × 64 KiB) just before the
    // batch: recordFlags sized its flags against the trace as it read it, and storage refuses the
    // second in the batch's transaction, after the first was applied.
    const evidence = (n: number) => Array.from({ length: n }, (_, i) => ({ field: 'task.input', start: i, end: i + 1, excerpt: 'x'.repeat(500) }));
    const batch = inner.batch.bind(inner);
    inner.batch = async (tenant, ops) => {
      inner.batch = batch;
      for (let i = 0; i < 4; i++) await inner.addFlag(tenant, { id: `0190a000-0000-7000-8000-00000000000${i}`, traceId: trace.id, kind: 'Unsafe', severity: 2, reason: 'meanwhile', ruleId: 'other', evidence: evidence(115), autoDetected: true, at: new Date().toISOString() });
      return batch(tenant, ops);
    };
    const big = (id: string) => finding(id, { evidence: evidence(20) });
    await expect(gov.recordFlags(trace, [big('a.one'), big('a.two')])).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(log).toEqual(['batch[addFlag,addFlag,prov:flagged,incrementCounters]']);
    expect((await storage.listFlags('default', { traceId: trace.id })).map((f) => f.ruleId)).toEqual(['other', 'other', 'other', 'other']);
    expect((await storage.listProvenance('default', trace.id)).map((e) => e.action)).toEqual(['created']);
    expect(await gov.stats('default')).toEqual({});
  });

  it('quarantine, release, review and a manual flag are one batch each', async () => {
    const gov = rt.resolve('governance');
    const storage = rt.resolve('storage');
    const trace = await stored('anything');
    await gov.quarantine('default', trace.id, { reason: 'looks odd', actor: 'alice' });
    expect(log).toEqual(['batch[setQuarantine,updateTrace,prov:quarantined,addCheckpoint,incrementCounters]']);
    log.length = 0;
    await gov.release('default', trace.id, { reason: 'fine after all', actor: 'bob' });
    expect(log).toEqual(['batch[setQuarantine,updateTrace,prov:released,addCheckpoint,incrementCounters]']);
    log.length = 0;
    const flag = await gov.flag('default', trace.id, { kind: 'Unsafe', severity: 6, reason: 'manual look', actor: 'carol' });
    expect(log).toEqual(['batch[addFlag,prov:flagged,addCheckpoint,incrementCounters]', 'hook:traceFlagged(stored)']);
    // Severity 6 is under the default preset's quarantineSeverity (7): no quarantine.
    expect(flag).toEqual({ ...(await storage.listFlags('default', { traceId: trace.id }))[0], autoQuarantined: false });

    await storage.updateTrace('default', trace.id, { status: 'pending-review' });
    log.length = 0;
    await gov.review!('default', trace.id, { approved: true, reason: 'ok', actor: 'dave' });
    expect(log).toEqual(['batch[updateTrace,prov:approved,addCheckpoint,incrementCounters]']);
    expect((await storage.listProvenance('default', trace.id)).map((e) => e.action)).toEqual(['created', 'quarantined', 'released', 'flagged', 'approved']);
    expect((await storage.verifyProvenance('default', trace.id)).verified).toBe(true);
  });

  it('a flag that reaches quarantineSeverity: the flag and the auto-quarantine in one batch (flag and recordFlags)', async () => {
    const gov = rt.resolve('governance');
    const storage = rt.resolve('storage');
    const trace = await stored('anything');
    const flag = await gov.flag('default', trace.id, { kind: 'Malicious', severity: 9, reason: 'exfiltrates', actor: 'carol' });
    expect(flag.autoQuarantined).toBe(true);
    expect(log).toEqual([
      'batch[addFlag,prov:flagged,addCheckpoint,incrementCounters,setQuarantine,updateTrace,prov:quarantined,addCheckpoint,incrementCounters]',
      'hook:traceFlagged(stored)',
    ]);
    expect((await storage.getTrace('default', trace.id))!.status).toBe('quarantined');

    const other = await stored('anything else');
    await gov.recordFlags(other, [finding('a.one'), finding('a.severe', { severity: 8 })]);
    expect(log).toEqual([
      'batch[addFlag,addFlag,prov:flagged,incrementCounters,setQuarantine,updateTrace,prov:quarantined,addCheckpoint,incrementCounters]',
      'hook:traceFlagged(stored)', 'hook:traceFlagged(stored)',
    ]);
    expect(await gov.stats('default')).toMatchObject({ quarantined: 2, 'flags.total': 3 });
  });

  it('assess writes nothing: its ops, committed by the caller, store what evaluate + recordFlags would', async () => {
    const gov = rt.resolve('governance');
    const storage = rt.resolve('storage');
    const trace = await stored('What is the launch date of PROJECT-X?');
    const assessed = await gov.assess!(trace, 'input');
    expect(log).toEqual([]);
    expect(assessed.verdict.decision).toBe('quarantine');
    expect(assessed.flags.map((f) => [f.ruleId, f.traceId])).toEqual([['acme.codename', trace.id]]);
    expect(assessed.ops.map(opName)).toEqual(['incrementCounters', 'addCheckpoint', 'setQuarantine', 'updateTrace', 'prov:quarantined', 'addCheckpoint', 'incrementCounters', 'addFlag', 'prov:flagged', 'incrementCounters']);
    await storage.batch('default', assessed.ops);
    await assessed.committed();
    expect(log.slice(1)).toEqual(['hook:traceFlagged(stored)']);
    expect((await storage.getTrace('default', trace.id))!.status).toBe('quarantined');
    expect((await storage.listFlags('default', { traceId: trace.id })).map((f) => f.id)).toEqual(assessed.flags.map((f) => f.id));
    expect((await storage.listProvenance('default', trace.id)).map((e) => e.action)).toEqual(['created', 'quarantined', 'flagged']);
    expect(await gov.stats('default')).toMatchObject({ evaluations: 1, 'decision.quarantine': 1, quarantined: 1, 'flags.total': 1 });
  });

  it('orchestrator.recordTrace: the trace, its governance records and its final status in one batch', async () => {
    const orchestrator = rt.resolve('orchestrator');
    const session = await orchestrator.openSession({});
    log.length = 0;
    const benign = await orchestrator.recordTrace({
      sessionId: session.id, runner: 'agent', task: { input: 'Summarise the quarterly report in three bullet points.' },
      output: { ok: true, stdout: '- revenue up', stderr: '' },
    });
    expect(log).toEqual([
      'batch[createTrace,prov:created,incrementCounters,addCheckpoint,incrementCounters,addCheckpoint,prov:completed]',
    ]);
    expect(benign.trace.status).toBe('ok');
    expect(benign.checkpoints.map((c) => c.label)).toEqual(['governance:input', 'governance:output']);

    log.length = 0;
    const flagged = await orchestrator.recordTrace({
      sessionId: session.id, runner: 'agent', task: { input: 'What is the launch date of PROJECT-X?' },
      output: { ok: true, stdout: 'soon', stderr: '' },
    });
    // Input quarantine: the records so far are committed before the quarantine check, then the final
    // status, with the status a release gives back in place of the quarantine's `running`.
    expect(log).toEqual([
      'batch[createTrace,prov:created,incrementCounters,addCheckpoint,setQuarantine,updateTrace,prov:quarantined,addCheckpoint,incrementCounters,addFlag,prov:flagged,incrementCounters]',
      'hook:traceFlagged(stored)',
      'batch[updateTrace,setQuarantine,prov:completed]',
    ]);
    expect(flagged.trace.status).toBe('quarantined');
    const storage = rt.resolve('storage');
    expect((await storage.listProvenance('default', flagged.trace.id)).map((e) => e.action)).toEqual(['created', 'quarantined', 'flagged', 'completed']);
    expect((await storage.verifyProvenance('default', flagged.trace.id)).verified).toBe(true);
  });

  it('orchestrator.recordTrace: a failure of output governance before the one batch still stores the trace, held quarantined as error', async () => {
    const orchestrator = rt.resolve('orchestrator');
    const session = await orchestrator.openSession({});
    rt.hooks.governOutput.tapPromise('test-failing', async () => {
      throw new Error('output hook exploded');
    });
    log.length = 0;
    await expect(orchestrator.recordTrace({
      sessionId: session.id, runner: 'agent', task: { input: 'hello' }, output: { ok: true, stdout: 'hi', stderr: '' },
    })).rejects.toThrow(/output hook exploded/);
    // Its output was never governed: stored in one batch with the failure and a quarantine holding it.
    expect(log).toEqual(['batch[createTrace,prov:created,setQuarantine,updateTrace,prov:failed,prov:quarantined,addCheckpoint]']);
    const storage = rt.resolve('storage');
    const [trace] = (await storage.listTraces('default', { sessionId: session.id })).items;
    expect(trace).toMatchObject({ status: 'quarantined', output: { ok: true, stdout: 'hi' } });
    expect(await storage.getQuarantine('default', trace!.id)).toMatchObject({ quarantined: true, previousStatus: 'error' });
    expect((await storage.listProvenance('default', trace!.id)).map((e) => e.action)).toEqual(['created', 'failed', 'quarantined']);
  });
});
