/**
 * anomaly.baseline takes each trace's metrics once, though the engine calls it once per window of a
 * long output. The set of traces taken was cleared all at once past 10,000 entries, the trace just
 * added with it: the next window of that trace counted it again and repeated its finding.
 */
import { describe, expect, it } from 'vitest';
import type { RuleContext, RuleSubject, Trace } from 'limit-graph';
import { createAnomalyRules, SEEN_TRACES } from '../../plugins/governance-rules-anomaly/rules.ts';

const trace = (id: string, stdout: string, latencyMs: number): Trace => ({
  id, sessionId: 's', tenant: 't', parentIds: [], runner: 'r', task: { input: 'q', kind: 'prompt' }, output: { ok: true, stdout, stderr: '' },
  metrics: { latencyMs }, status: 'running', flags: [], createdAt: new Date(0).toISOString(), metadata: {},
});
const windowOf = (t: Trace, offset: number): RuleSubject => ({ surface: 'output', field: 'output.stdout', text: t.output!.stdout, trace: t, offset });
const ctx = { budgetMs: 1000 } as RuleContext;

describe('anomaly.baseline, once per trace', () => {
  it('the trace past the remembered count: its second window adds nothing and repeats no finding', async () => {
    const [baseline] = createAnomalyRules({ window: 50, minSamples: 5, zThreshold: 4, repeatLines: 20, maxTenants: 4, maxRunnersPerTenant: 4 });
    for (let i = 0; i < SEEN_TRACES; i++) expect(await baseline!.evaluate(windowOf(trace(`u${i}`, 'x'.repeat(100 + (i % 3)), 100 + (i % 5)), 0), ctx)).toEqual([]);
    const odd = trace('odd', 'y'.repeat(5000), 9000);
    expect((await baseline!.evaluate(windowOf(odd, 0), ctx)).length).toBeGreaterThan(0);
    expect(await baseline!.evaluate(windowOf(odd, 4096), ctx)).toEqual([]);
    // The oldest trace is the one forgotten.
    expect((await baseline!.evaluate(windowOf(trace('u1', 'x'.repeat(101), 101), 0), ctx))).toEqual([]);
  });
});
