import { describe, expect, it } from 'vitest';
import { isStraightLine } from 'limit-graph';
import { kneedle } from '../../plugins/knee-kneedle/kneedle.ts';
import { mengerCurvature, mengerKnee } from '../../plugins/knee-menger/menger.ts';
import { loadReference, referenceFiles } from './reference.ts';

interface MengerRef {
  kappa: (number | null)[];
  argmax: number;
  rel_margin_top2: number | null;
}

interface Curve {
  id: string;
  curve?: 'convex' | 'concave';
  direction?: 'decreasing' | 'increasing';
  x: number[];
  y: number[];
  menger_raw: MengerRef;
  menger_normalized: MengerRef;
  kneedle: {
    S: number;
    offline_index: number | null;
    online_index: number | null;
    difference_curve: number[];
    local_maxima: number[];
    local_minima: number[];
    thresholds: Record<string, number>;
  };
  /** The x of each knee found by the kneed 0.8.6 library (null: none). */
  kneed_0_8_6_crosscheck?: { offline: { knee_x: number | null }; online: { knee_x: number | null } };
}

/** The reference stores the raw argmax; all-zero curvature (or < 3 points) means no knee. */
function expectedMenger(ref: MengerRef): number | null {
  const interior = ref.kappa.filter((k): k is number => k !== null);
  return interior.length === 0 || interior.every((k) => k === 0) ? null : ref.argmax;
}

function closeRel(a: number, b: number, rtol: number): boolean {
  return Math.abs(a - b) <= rtol * Math.max(Math.abs(b), 1e-300) || Math.abs(a - b) <= 1e-15;
}

for (const file of referenceFiles('knee')) {
  const { curves } = loadReference<{ curves: Curve[] }>(file);

  describe(`knee detection vs ${file}`, () => {
    for (const c of curves) {
      const shape = { curve: c.curve ?? 'convex', direction: c.direction ?? 'decreasing' } as const;

      it(`${c.id}: Menger, raw coordinates`, () => {
        const res = mengerKnee({ x: c.x, y: c.y });
        expect(res.index).toBe(expectedMenger(c.menger_raw));
        c.menger_raw.kappa.forEach((k, i) => {
          if (k === null) expect(res.kappa[i]).toBeNull();
          else expect(closeRel(res.kappa[i]!, k, 1e-12), `κ[${i}] ${res.kappa[i]} vs ${k}`).toBe(true);
        });
        if (c.menger_raw.rel_margin_top2 !== null) expect(closeRel(res.relMarginTop2!, c.menger_raw.rel_margin_top2, 1e-9)).toBe(true);
      });

      it(`${c.id}: Menger, min–max normalised`, () => {
        const res = mengerKnee({ x: c.x, y: c.y }, { normalize: true });
        expect(res.index).toBe(expectedMenger(c.menger_normalized));
        c.menger_normalized.kappa.forEach((k, i) => {
          if (k === null) expect(res.kappa[i]).toBeNull();
          else expect(closeRel(res.kappa[i]!, k, 1e-12), `κ[${i}] ${res.kappa[i]} vs ${k}`).toBe(true);
        });
      });

      it(`${c.id}: Kneedle offline and online`, () => {
        const off = kneedle({ x: c.x, y: c.y }, { S: c.kneedle.S, ...shape });
        const on = kneedle({ x: c.x, y: c.y }, { S: c.kneedle.S, ...shape, online: true });
        expect(off.index).toBe(c.kneedle.offline_index);
        expect(on.index).toBe(c.kneedle.online_index);
        expect(off.offlineIndex).toBe(c.kneedle.offline_index);
        expect(off.onlineIndex).toBe(c.kneedle.online_index);
        expect(off.localMaxima).toEqual(c.kneedle.local_maxima);
        expect(off.localMinima).toEqual(c.kneedle.local_minima);
        c.kneedle.difference_curve.forEach((d, i) => expect(Math.abs(off.differenceCurve[i]! - d)).toBeLessThanOrEqual(1e-12));
        for (const [m, t] of Object.entries(c.kneedle.thresholds)) expect(Math.abs(off.thresholds[Number(m)]! - t)).toBeLessThanOrEqual(1e-12);
        // The same knees as the third-party kneed library, by x.
        const kneed = c.kneed_0_8_6_crosscheck;
        if (kneed) {
          expect(off.index === null ? null : c.x[off.index], 'kneed offline knee_x').toBe(kneed.offline.knee_x);
          expect(on.index === null ? null : c.x[on.index], 'kneed online knee_x').toBe(kneed.online.knee_x);
        }
      });
    }
  });
}

describe('knee edge cases', () => {
  const methods = {
    'menger raw': (x: number[], y: number[]) => mengerKnee({ x, y }).index,
    'menger normalised': (x: number[], y: number[]) => mengerKnee({ x, y }, { normalize: true }).index,
    kneedle: (x: number[], y: number[]) => kneedle({ x, y }).index,
    'kneedle online': (x: number[], y: number[]) => kneedle({ x, y }, { online: true }).index,
  };

  // The knee of y = e^(−3x) at the x of the unsorted-input test, from an independent implementation of
  // the definitions in shared/reference/rd/README.md §3 (one that reproduces every knee_public.json index).
  const SORTED_KNEE: Record<keyof typeof methods, number> = { 'menger raw': 2, 'menger normalised': 4, kneedle: 3, 'kneedle online': 3 };

  for (const [name, knee] of Object.entries(methods)) {
    it(`${name}: fewer than three points or a straight line have no knee`, () => {
      expect(knee([], [])).toBeNull();
      expect(knee([1], [2])).toBeNull();
      expect(knee([1, 2], [2, 1])).toBeNull();
      expect(knee([0, 1, 2, 3, 4], [8, 6, 4, 2, 0])).toBeNull();
      // A line through values that are not exact in binary: collinear up to rounding only.
      const x = Array.from({ length: 25 }, (_, i) => 0.1 * i + 0.3);
      expect(knee(x, x.map((v) => 1.7 - 0.3 * v))).toBeNull();
      expect(knee([0, 1, 2, 3], [5, 5, 5, 5])).toBeNull();
    });

    it(`${name}: unsorted input is sorted by x and the index refers to the caller's order`, () => {
      const x = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4];
      const y = x.map((v) => Math.exp(-3 * v));
      const sortedIndex = knee(x, y);
      expect(sortedIndex).toBe(SORTED_KNEE[name as keyof typeof methods]);
      const perm = [7, 2, 11, 0, 5, 9, 1, 4, 10, 3, 8, 6];
      const px = perm.map((i) => x[i]!);
      const py = perm.map((i) => y[i]!);
      const idx = knee(px, py);
      // The caller's index of the sorted knee: perm[idx] is it.
      expect(idx).toBe(perm.indexOf(sortedIndex!));
      expect(perm[idx!]).toBe(sortedIndex);
    });
  }

  it('a straight line sampled at a large x offset has no knee, normalised or not (rd-audit #4)', () => {
    // x = 1e6 + 0.1·i is off the line by ulps of 1e6, which min–max scaling made look like a bend:
    // normalised Menger answered 7 (index 2 at 1e9, 7 at 1e12).
    for (const offset of [1e6, 1e9, 1e12]) {
      const x = Array.from({ length: 11 }, (_, i) => offset + 0.1 * i);
      const y = Array.from({ length: 11 }, (_, i) => 2 - 0.1 * i);
      expect(mengerKnee({ x, y }, { normalize: true }).index, `offset ${offset}`).toBeNull();
      expect(mengerKnee({ x, y }).index, `offset ${offset}`).toBeNull();
      expect(kneedle({ x, y }).index, `offset ${offset}`).toBeNull();
      expect(isStraightLine(Float64Array.from(x), Float64Array.from(y))).toBe(true);
      // A real bend at the same offset is still one.
      const bent = y.map((v, i) => (i < 4 ? v : 1.6 - 0.01 * (i - 4)));
      expect(mengerKnee({ x, y: bent }, { normalize: true }).index, `offset ${offset}, bent`).toBe(4);
    }
  });

  it('raw Menger keeps the knee when x is shifted by a large constant with exact differences (rd-audit #5)', () => {
    // y = e^(−i): knee 1 at x = i and x = 1e13 + i, but null at 1e14 + i (a tolerance from |x|).
    const y = Array.from({ length: 11 }, (_, i) => Math.exp(-i));
    const base = mengerKnee({ x: y.map((_, i) => i), y });
    expect(base.index).toBe(1);
    for (const offset of [1e13, 1e14, 1e15, -1e15]) {
      const res = mengerKnee({ x: y.map((_, i) => offset + i), y });
      expect(res.index, `offset ${offset}`).toBe(1);
      // The differences are exact, so κ is that of the unshifted curve.
      expect(res.kappa, `offset ${offset}`).toEqual(base.kappa);
      // Normalised Menger and Kneedle agreed already; they still do.
      expect(mengerKnee({ x: y.map((_, i) => offset + i), y }, { normalize: true }).index).toBe(mengerKnee({ x: y.map((_, i) => i), y }, { normalize: true }).index);
      expect(kneedle({ x: y.map((_, i) => offset + i), y }).index).toBe(kneedle({ x: y.map((_, i) => i), y }).index);
    }
  });

  it('duplicate x values keep their input order and are all kept', () => {
    const res = mengerKnee({ x: [0, 1, 1, 2, 3, 4, 5, 6], y: [8, 4, 3, 1.5, 1, 0.7, 0.5, 0.4] });
    expect(res.order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const swapped = mengerKnee({ x: [1, 0, 1, 2], y: [3, 8, 4, 1.5] });
    // Stable sort: (1, 3) stays before (1, 4), so the sorted curve is 8, 3, 4, 1.5.
    expect(swapped.order).toEqual([1, 0, 2, 3]);
    // Identical points give a zero-length side and zero curvature.
    expect(mengerCurvature(0, 0, 0, 0, 1, 1)).toBe(0);
  });

  it('Kneedle reads a repeated point once: no spurious online knee, indices of the whole curve', () => {
    const x = Array.from({ length: 12 }, (_, i) => i);
    const y = x.map((v) => Math.exp(-v / 1.5));
    const plain = kneedle({ x, y }, { online: true });
    // The knee of e^(−x/1.5) at x = 0..11 (README §3, computed independently): index 3, online and offline.
    expect([plain.index, plain.offlineIndex]).toEqual([3, 3]);
    // A copy of point 8 after the knee: a flat step in the difference curve, read as a maximum
    // (≥ both neighbours) where the online scan found a knee at the copy (index 9) before.
    const after = { x: [...x.slice(0, 9), x[8]!, ...x.slice(9)], y: [...y.slice(0, 9), y[8]!, ...y.slice(9)] };
    const repeated = kneedle(after, { online: true });
    expect(repeated.index).toBe(plain.index);
    expect(repeated.onlineSortedIndex).toBe(plain.onlineSortedIndex);
    expect(repeated.offlineIndex).toBe(plain.offlineIndex);
    // Given in reverse order: the knee is reported at the caller's index of the first copy.
    const reversed = kneedle({ x: [...after.x].reverse(), y: [...after.y].reverse() }, { online: true });
    expect(reversed.index).toBe(after.x.length - 1 - plain.index!);
    expect(reversed.order).toHaveLength(x.length);
    // Three points, two of them the same: fewer than 3 distinct points, no knee.
    expect(kneedle({ x: [0, 1, 1], y: [1, 0, 0] }).index).toBeNull();
  });

  it('Kneedle reads a repeated point once also when another point of the same x lies between the copies', () => {
    // (0, 0) twice, (0, 3) between them in the caller's order (the stable sort keeps it there).
    const pts = [{ x: 0, y: 0 }, { x: 0, y: 3 }, { x: 3, y: 1 }, { x: 0, y: 0 }, { x: 2, y: 2 }, { x: 1, y: 1 }];
    const once = [pts[0]!, pts[1]!, pts[2]!, pts[4]!, pts[5]!];
    const callerIndex = [0, 1, 2, 4, 5];
    for (const online of [false, true]) {
      const expected = kneedle(once, { online }).index;
      // Before, the later copy was kept: a different difference curve, and the online knee at index 3.
      expect(kneedle(pts, { online }).index, `online: ${online}`).toBe(expected === null ? null : callerIndex[expected]);
    }
    expect(kneedle(pts, { online: true }).index).not.toBe(3);
  });

  it('accepts RD points ({ rate, distortion }) and { x, y } points', () => {
    const pts = [0, 1, 2, 3, 4, 5, 6].map((r) => ({ rate: r, distortion: Math.pow(2, -2 * r) }));
    const a = mengerKnee(pts, { normalize: true }).index;
    const b = mengerKnee(pts.map((p) => ({ x: p.rate, y: p.distortion })), { normalize: true }).index;
    expect(a).toBe(b);
    // D = 2^(−2R), R = 0..6, min–max normalised: κ is largest at R = 2 (README §3, computed independently).
    expect(a).toBe(2);
  });

  it('Kneedle shapes: mirrored curves find the mirrored knee', () => {
    const x = Array.from({ length: 21 }, (_, i) => i / 2);
    const dec = x.map((v) => Math.exp(-v / 1.5));
    const base = kneedle({ x, y: dec }).index!;
    // concave/increasing: 1 − y of the convex decreasing curve.
    expect(kneedle({ x, y: dec.map((v) => 1 - v) }, { curve: 'concave', direction: 'increasing' }).index).toBe(base);
    // convex/increasing and concave/decreasing: the curves reflected in x.
    const rx = x.map((v) => 10 - v);
    expect(kneedle({ x: rx, y: dec }, { curve: 'convex', direction: 'increasing' }).index).toBe(base);
    expect(kneedle({ x: rx, y: dec.map((v) => 1 - v) }, { curve: 'concave', direction: 'decreasing' }).index).toBe(base);
    // A larger sensitivity can only delay or remove the knee.
    const strict = kneedle({ x, y: dec }, { S: 5 }).index;
    expect(strict === null || strict >= base).toBe(true);
  });

  it('rejects invalid input with coded errors naming the field', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => mengerKnee({ x: [0, 1, 2], y: [1, 2] }), /^y: has 2 values but x has 3/],
      [() => mengerKnee({ x: [0, Number.NaN, 2], y: [1, 2, 3] }), /^x\[1\]/],
      [() => kneedle({ x: [0, 1, 2], y: [1, 2, 3] }, { S: 0 }), /^S/],
      [() => kneedle({ x: [0, 1, 2], y: [1, 2, 3] }, { curve: 'wavy' as 'convex' }), /^curve/],
      [() => kneedle([{ x: 0, y: 1 }, { x: 1 } as { x: number; y: number }]), /^points\[1\]\.y/],
    ];
    for (const [fn, message] of cases) expect(fn).toThrow(expect.objectContaining({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringMatching(message) }));
  });
});
