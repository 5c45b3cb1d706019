/**
 * Governance never makes a trace unstorable: a trace holds at most MAX_FLAGS_PER_TRACE flags (and
 * 4 × maxRecordBytes of them), so `assess` and `recordFlags` record only as many flags as the trace
 * can still take — the most severe findings — and say how many were left out; a manual flag on a
 * full trace is refused. Real governance service, rule packs and SQLite.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_FLAGS_PER_TRACE, type Finding, type Flag, type Runtime, type Trace } from 'limit-graph';
import { governanceRuntime, makeTrace, storeTrace } from './helpers.ts';

const oldFlags = (traceId: string, n: number): Flag[] => Array.from({ length: n }, (_, i) => ({
  id: `${traceId}-old-${i}`, traceId, kind: 'Anomaly', severity: 1, reason: 'earlier', ruleId: 'test.old', evidence: [], autoDetected: true, at: new Date().toISOString(),
}));
// Severities 1..10, shuffled: the three most severe are 10, 9 and 8.
const SEVERITIES = [3, 10, 1, 8, 5, 2, 9, 4, 7, 6];
const findings = (): Finding[] => SEVERITIES.map((severity, i) => ({ ruleId: `test.rule-${i}`, kind: 'Anomaly', severity, reason: `finding ${i}`, evidence: [] }));

describe('governance keeps a trace within its flag limits', () => {
  let rt: Runtime;
  beforeEach(async () => {
    rt = await governanceRuntime();
  });
  afterEach(async () => {
    await rt.close();
  });

  const nearlyFull = async (room: number): Promise<Trace> => {
    const trace = makeTrace('print(1)');
    return storeTrace(rt, { ...trace, flags: oldFlags(trace.id, MAX_FLAGS_PER_TRACE - room) });
  };

  it('recordFlags records the most severe findings the trace can still take and says how many were not recorded', async () => {
    const trace = await nearlyFull(3);
    const governance = rt.resolve('governance');
    const flags = await governance.recordFlags(trace, findings());
    // The three most severe, in the findings' order.
    expect(flags.map((f) => f.severity)).toEqual([10, 8, 9]);
    const storage = rt.resolve('storage');
    const stored = (await storage.getTrace(trace.tenant, trace.id))!;
    expect(stored.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
    const entry = (await storage.listProvenance(trace.tenant, trace.id)).find((e) => e.action === 'flagged')!;
    expect(entry.rationale).toContain('7 finding(s) not recorded as flags');
    expect(entry.rationale).toContain(`at most ${MAX_FLAGS_PER_TRACE.toLocaleString('en-US')} flags`);
    expect(entry.data).toMatchObject({ unrecordedFindings: 7 });
    expect(await governance.stats(trace.tenant)).toMatchObject({ 'flags.total': 3, 'flags.unrecorded': 7 });
    // A full trace takes none, and the call does not fail.
    expect(await governance.recordFlags(stored, findings())).toEqual([]);
    expect((await storage.getTrace(trace.tenant, trace.id))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
    expect(await governance.stats(trace.tenant)).toMatchObject({ 'flags.total': 3, 'flags.unrecorded': 17 });
  });

  it('assess weighs every finding but makes only the flags that fit; its verdict and checkpoint say how many were left out', async () => {
    rt.hooks.governInput.tap('test', (list) => [...list, ...findings()]);
    const trace = await nearlyFull(2);
    const governance = rt.resolve('governance');
    const assessed = await governance.assess!(trace, 'input');
    expect(assessed.verdict.findings.filter((f) => f.ruleId.startsWith('test.rule-'))).toHaveLength(10);
    expect(assessed.verdict.maxSeverity).toBe(10);
    expect(assessed.flags.map((f) => f.severity)).toEqual([10, 9]);
    expect(assessed.verdict.unrecordedFindings).toBe(assessed.verdict.findings.length - 2);
    const storage = rt.resolve('storage');
    await storage.batch(trace.tenant, assessed.ops);
    await assessed.committed();
    expect((await storage.getTrace(trace.tenant, trace.id))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
    const checkpoint = (await storage.listCheckpoints(trace.tenant, trace.id)).find((c) => c.label === 'governance:input')!;
    expect(checkpoint.details).toMatchObject({ unrecordedFindings: assessed.verdict.unrecordedFindings });
    expect(String(checkpoint.details.unrecordedReason)).toContain(`trace "${trace.id}" holds at most`);
    // A trace with room says nothing.
    const roomy = await storeTrace(rt, makeTrace('print(2)'));
    const fine = await governance.assess!(roomy, 'input');
    expect(fine.verdict.unrecordedFindings).toBeUndefined();
    expect(fine.flags).toHaveLength(fine.verdict.findings.length);
  });

  it('refuses a manual flag on a full trace with LIMIT_PAYLOAD_TOO_LARGE, writing nothing', async () => {
    const trace = await nearlyFull(0);
    const storage = rt.resolve('storage');
    const before = { provenance: (await storage.listProvenance(trace.tenant, trace.id)).length, checkpoints: (await storage.listCheckpoints(trace.tenant, trace.id)).length };
    const error = await rt.resolve('governance').flag(trace.tenant, trace.id, { kind: 'HighRisk', severity: 9, reason: 'again', actor: 'alice' }).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { traceId: trace.id, maxFlags: MAX_FLAGS_PER_TRACE } });
    expect((error as Error).message).toContain('nothing was written');
    expect((await storage.getTrace(trace.tenant, trace.id))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
    expect((await storage.listProvenance(trace.tenant, trace.id)).length).toBe(before.provenance);
    expect((await storage.listCheckpoints(trace.tenant, trace.id)).length).toBe(before.checkpoints);
  });
});
