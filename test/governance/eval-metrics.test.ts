/** `limit governance eval`'s metrics (computeMetrics): per-source rates over a source whose items have different labels. */
import { describe, expect, it } from 'vitest';
import { computeMetrics, roundMetrics, type EvalItem } from '../../plugins/governance/metrics.ts';

const item = (id: string, label: string, positive: boolean): EvalItem => ({ id, label, positive, severity: positive ? 8 : 0, latencyMs: 1 });

describe('governance eval metrics', () => {
  it('fprBySource counts benign items only; a source mixing labels is labelled mixed', () => {
    // mix-1 benign (allowed), mix-2 jailbreak (flagged), mix-3 benign (flagged): 1 false positive of 2 benign.
    const m = roundMetrics(computeMetrics([item('mix-1', 'benign', false), item('mix-2', 'jailbreak', true), item('mix-3', 'benign', true), item('atk-1', 'injection', true), item('ok-1', 'benign', false)], 10));
    expect(m.perLabel.benign!.fpr).toBe(0.3333);
    expect(m.fprBySource).toEqual({ mix: 0.5, ok: 0 });
    expect(m.perSource.mix).toEqual({ label: 'mixed', count: 3, flagged: 2, rate: 0.6667 });
    expect(m.perSource.atk).toEqual({ label: 'injection', count: 1, flagged: 1, rate: 1 });
    // A source whose first item is an attack still gets the FPR of its benign items.
    expect(computeMetrics([item('s-1', 'harmful', true), item('s-2', 'benign', true), item('s-3', 'benign', false)], 10).fprBySource).toEqual({ s: 0.5 });
  });
});
