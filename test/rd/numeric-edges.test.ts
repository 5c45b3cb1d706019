/**
 * Inputs at the edges of what validation accepts: weights off from 1 by up to the tolerance, huge
 * structure matrices and costs, and curves with extreme coordinates. Each is either solved correctly
 * or refused with an error that names the user's field, never an internal one, and never returns a
 * wrong answer.
 */
import { describe, expect, it } from 'vitest';
import { computeFgw } from '../../plugins/rd-fgw/api.ts';
import type { AttributedGraph } from '../../plugins/rd-fgw/graph.ts';
import { marginalError, problemFromMatrices } from '../../plugins/rd-fgw/problem.ts';

function rejection(fn: () => unknown): { code?: string; message: string; field?: string } {
  try {
    fn();
  } catch (error) {
    const e = error as { code?: string; message: string; details?: { field?: string } };
    return { code: e.code, message: e.message, field: e.details?.field };
  }
  throw new Error('expected a rejection');
}

const weighted = (w0: number): AttributedGraph => ({
  nodes: [
    { id: 'a', features: [0], weight: w0 },
    { id: 'b', features: [1], weight: 0.5 },
  ],
  edges: [{ source: 'a', target: 'b' }],
});

describe('weights within the validation tolerance (R1)', () => {
  it('the exact solver accepts two graphs whose weights are off from 1 in opposite directions', () => {
    for (const method of ['exact', 'entropic'] as const) {
      const res = computeFgw({ source: weighted(0.5 + 9e-10), target: weighted(0.5 - 9e-10) }, { method });
      expect(Number.isFinite(res.value)).toBe(true);
      expect(res.value).toBeGreaterThanOrEqual(0);
      expect(res.value).toBeLessThan(1e-6);
    }
  });

  it('the exact solver accepts matrices with p and q off from 1 in opposite directions', () => {
    const input = { M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1], [1, 0]], p: [0.5 + 9e-10, 0.5], q: [0.5 - 9e-10, 0.5] };
    const res = computeFgw(input, { method: 'exact' });
    expect(res.value).toBeLessThan(1e-6);
  });

  it("accepted weights are rescaled to sum to 1; weights that sum to 1 up to rounding are kept bit for bit", () => {
    const pb = problemFromMatrices({ M: [[0, 1], [1, 0]], C1: [[0, 1], [1, 0]], C2: [[0, 1], [1, 0]], p: [0.5 + 9e-10, 0.5], q: [0.25, 0.75] });
    expect(Math.abs(pb.p[0]! + pb.p[1]! - 1)).toBeLessThanOrEqual(2 ** -52);
    expect(Array.from(pb.q)).toEqual([0.25, 0.75]);
    // 0.1 + 0.2 + 0.7 = 1.0000000000000002: kept as given.
    const pb3 = problemFromMatrices({ M: [[0], [0], [0]], C1: [[0, 1, 1], [1, 0, 1], [1, 1, 0]], C2: [[0]], p: [0.1, 0.2, 0.7] });
    expect(Array.from(pb3.p)).toEqual([0.1, 0.2, 0.7]);
  });

  it('weights beyond the tolerance are still refused, naming the user field', () => {
    const r = rejection(() => computeFgw({ source: weighted(0.5 + 2e-9), target: weighted(0.5) }));
    expect(r.code).toBe('LIMIT_RD_INVALID_INPUT');
    expect(r.message).toMatch(/^source\.nodes: /);
  });
});
