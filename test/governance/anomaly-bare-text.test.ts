/**
 * A bare-text check (`governance check`, `eval`, `GovernanceService.check`) has no tenant, runner or
 * metrics of its own: every one was the trace `check` of tenant `check`, so anomaly.baseline took the
 * first into a baseline of its own and skipped the rest, until 10,000 real traces had pushed `check`
 * out of the traces it remembers — then the next check was taken again. A check's verdict depended on
 * how many unrelated traces the process had governed: after enough of them an ordinary long text was
 * "Anomaly". Bare texts are now outside the baseline: never taken, never scored.
 */
import { describe, expect, it } from 'vitest';
import type { RuleContext, Trace } from 'limit-graph';
import { GovernanceEngine } from '../../plugins/governance/engine.ts';
import { createAnomalyRules, SEEN_TRACES } from '../../plugins/governance-rules-anomaly/rules.ts';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';

const real = (i: number): Trace => ({
  id: `t${i}`, sessionId: 's', tenant: 'acme', parentIds: [], runner: 'python', task: { input: 'q', kind: 'code' }, output: { ok: true, stdout: 'ok', stderr: '' },
  metrics: { latencyMs: 10 }, status: 'running', flags: [], createdAt: new Date(0).toISOString(), metadata: {},
});

describe('anomaly.baseline and bare-text checks', () => {
  it('a check is never taken into a baseline nor scored, however many traces ran between checks', async () => {
    const rules = createAnomalyRules({ window: 50, minSamples: 2, zThreshold: 4, repeatLines: 20, maxTenants: 4, maxRunnersPerTenant: 4 });
    const engine = new GovernanceEngine({ rules, preset: GOVERNANCE_PRESETS.default, ruleBudgetMs: 1000, maxScanChars: 65_536, minSeverity: 1 });
    const baseline = rules.find((r) => r.id === 'anomaly.baseline')!;
    const others = async (from: number) => {
      for (let i = from; i < from + SEEN_TRACES; i++) await baseline.evaluate({ surface: 'output', field: 'output.stdout', text: 'ok', trace: real(i), view: { name: 'raw', text: 'ok' } } as never, { budgetMs: 1000 } as RuleContext);
    };
    const anomalies = async (text: string) => (await engine.check(text, 'output')).findings.filter((f) => f.ruleId === 'anomaly.baseline');
    expect(await anomalies('short text')).toEqual([]);
    await others(0);
    expect(await anomalies('short text')).toEqual([]);
    await others(SEEN_TRACES);
    // Two checks taken before: this one was scored against them (outputLength z ≫ 4).
    expect(await anomalies('a longer text, '.repeat(200))).toEqual([]);
  });

  it('a check still gets the stateless anomaly rules (a repeated line)', async () => {
    const rules = createAnomalyRules({ window: 50, minSamples: 2, zThreshold: 4, repeatLines: 20, maxTenants: 4, maxRunnersPerTenant: 4 });
    const engine = new GovernanceEngine({ rules, preset: GOVERNANCE_PRESETS.default, ruleBudgetMs: 1000, maxScanChars: 65_536, minSeverity: 1 });
    const v = await engine.check('the same line again\n'.repeat(30), 'output');
    expect(v.findings.map((f) => f.ruleId)).toContain('anomaly.repetition');
  });
});
