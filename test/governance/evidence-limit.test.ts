/**
 * Governance never makes a trace unstorable, whatever one rule or tap returns: a finding keeps at
 * most MAX_FINDING_EVIDENCE evidence spans (the first ones; its reason says how many were left
 * out), and a flag larger than the backend's maxRecordBytes by itself is not made (counted as an
 * unrecorded finding), where before one finding citing 60,000 spans was a 6 MB flag that storage
 * refused, failing recordTrace (413, nothing stored) and leaving a run's output ungoverned.
 * Real governance service, orchestrator and SQLite.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, evidenceSpan, type GovernanceRule, type Runtime } from 'limit-graph';
import { MAX_FINDING_EVIDENCE } from '../../plugins/governance/engine.ts';
import { spyRunner, spyRunnerPlugin } from '../orchestrator/doubles.ts';

/** Cites every K of the raw text: one finding with as many evidence spans as there are Ks. */
const everyKey = (reason = (n: number) => `${n} keys`): GovernanceRule => ({
  id: 'acme.every-key', flag: 'HighRisk', surfaces: ['input', 'output'],
  evaluate(subject) {
    if (subject.view && subject.view.name !== 'raw') return [];
    const evidence = [];
    for (let i = subject.text.indexOf('K'); i >= 0; i = subject.text.indexOf('K', i + 1)) evidence.push(evidenceSpan(subject, i, i + 1));
    return evidence.length ? [{ ruleId: 'acme.every-key', kind: 'HighRisk', severity: 4, reason: reason(evidence.length), evidence }] : [];
  },
});

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function start(rules: GovernanceRule[], storage: Record<string, unknown> = {}): Promise<Runtime> {
  rt = await createRuntime({
    config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:', ...storage }, orchestrator: {}, 'runner-python': false, governance: { packs: [], rules } } },
    plugins: [spyRunnerPlugin(spyRunner('spy'))],
  });
  return rt;
}

describe('a finding keeps at most MAX_FINDING_EVIDENCE evidence spans', () => {
  it('a rule citing 60,000 spans: its finding keeps the first ones and says how many were left out; the trace is recorded with its flag', async () => {
    await start([everyKey()]);
    const text = 'K'.repeat(60_000);
    const verdict = await rt!.resolve('governance').check!(text, 'input');
    const [finding] = verdict.findings.filter((f) => f.ruleId === 'acme.every-key');
    expect(finding!.evidence).toHaveLength(MAX_FINDING_EVIDENCE);
    expect(finding!.evidence.map((e) => e.start)).toEqual([0, 1, 2, 3, 4]);
    expect(finding!.reason).toBe(`60000 keys (${(60_000 - MAX_FINDING_EVIDENCE).toLocaleString('en-US')} more evidence spans left out: a finding keeps at most ${MAX_FINDING_EVIDENCE})`);

    const orch = rt!.resolve('orchestrator');
    const s = await orch.openSession({});
    const outcome = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: text, kind: 'external' }, output: { ok: true, stdout: 'fine', stderr: '' } });
    expect(outcome.trace.status).toBe('ok');
    const flag = outcome.trace.flags.find((f) => f.ruleId === 'acme.every-key');
    expect(flag?.evidence).toHaveLength(MAX_FINDING_EVIDENCE);
    expect(await rt!.resolve('governance').stats('default')).toMatchObject({ 'flags.rule.acme.every-key': 1 });
  });

  it('a governInput tap adding such a finding is trimmed the same way', async () => {
    await start([]);
    const evidence = Array.from({ length: 20 }, (_, i) => ({ field: 'task.input', start: i, end: i + 1, excerpt: 'K' }));
    rt!.hooks.governInput.tap('acme-tap', (findings) => [...findings, { ruleId: 'acme.tap', kind: 'HighRisk', severity: 4, reason: 'tap', evidence }]);
    const trace = { id: 't-ev-tap', sessionId: 's1', tenant: 'default', parentIds: [], runner: 'python', task: { input: 'K'.repeat(30), kind: 'code' as const }, status: 'ok' as const, flags: [], createdAt: new Date().toISOString(), metadata: {} };
    const verdict = await rt!.resolve('governance').evaluate(trace, 'input');
    const [finding] = verdict.findings.filter((f) => f.ruleId === 'acme.tap');
    expect(finding!.evidence).toHaveLength(MAX_FINDING_EVIDENCE);
    expect(finding!.reason).toBe(`tap (${20 - MAX_FINDING_EVIDENCE} more evidence spans left out: a finding keeps at most ${MAX_FINDING_EVIDENCE})`);
  });

  it('a reason at the 2,048-character limit gives way to the note, which is kept whole', async () => {
    await start([everyKey(() => 'r'.repeat(2048))]);
    const verdict = await rt!.resolve('governance').check!('K'.repeat(9), 'input');
    const [finding] = verdict.findings.filter((f) => f.ruleId === 'acme.every-key');
    expect(finding!.reason).toHaveLength(2048);
    expect(finding!.reason.endsWith(`… (4 more evidence spans left out: a finding keeps at most ${MAX_FINDING_EVIDENCE})`)).toBe(true);
  });
});

describe('a flag larger than maxRecordBytes by itself is not made', () => {
  it('is counted as an unrecorded finding; the trace and its other flags are stored', async () => {
    // A reason of 2,048 control characters is 12 KiB as JSON (\u0001 each): over a 4 KiB maxRecordBytes.
    const huge: GovernanceRule = {
      id: 'acme.huge', flag: 'HighRisk', surfaces: ['input'],
      evaluate: (s) => (s.view && s.view.name !== 'raw') || !s.text.includes('HUGE') ? [] : [{ ruleId: 'acme.huge', kind: 'HighRisk', severity: 6, reason: '\u0001'.repeat(2048), evidence: [] }],
    };
    const small: GovernanceRule = {
      id: 'acme.small', flag: 'Anomaly', surfaces: ['input'],
      evaluate: (s) => (s.view && s.view.name !== 'raw') || !s.text.includes('HUGE') ? [] : [{ ruleId: 'acme.small', kind: 'Anomaly', severity: 2, reason: 'small', evidence: [] }],
    };
    await start([huge, small], { maxRecordBytes: 4096 });
    const orch = rt!.resolve('orchestrator');
    const s = await orch.openSession({});
    const outcome = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'HUGE', kind: 'external' }, output: { ok: true, stdout: 'fine', stderr: '' } });
    expect(outcome.trace.status).toBe('ok');
    expect(outcome.trace.flags.map((f) => f.ruleId)).toEqual(['acme.small']);
    expect(outcome.verdicts.input?.unrecordedFindings).toBe(1);
    expect(outcome.checkpoints.find((c) => c.label === 'governance:input')?.details).toMatchObject({ unrecordedFindings: 1 });
    expect(await rt!.resolve('governance').stats('default')).toMatchObject({ 'flags.unrecorded': 1, 'flags.rule.acme.small': 1 });
  });
});
