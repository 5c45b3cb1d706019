/**
 * When Kneedle reports an end point, as the knee-kneedle README and docs/rd.md state it: the first
 * point of the scan (x order for convex/decreasing and concave/increasing, reversed for the mirrored
 * shapes) can be the knee, the other end never; a 3-point evenly spaced curve monotone in the
 * announced direction has no knee with S ≥ 1. Every example the documents give is run here.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from 'limit-graph';
import { kneedle, type CurveDirection, type CurveShape } from '../../plugins/knee-kneedle/kneedle.ts';
import { mengerKnee } from '../../plugins/knee-menger/menger.ts';

const SHAPES: { curve: CurveShape; direction: CurveDirection; first: 'first' | 'last' }[] = [
  { curve: 'convex', direction: 'decreasing', first: 'first' },
  { curve: 'concave', direction: 'increasing', first: 'first' },
  { curve: 'concave', direction: 'decreasing', first: 'last' },
  { curve: 'convex', direction: 'increasing', first: 'last' },
];

describe('kneedle: end points, as documented', () => {
  it('the README and docs/rd.md examples give the indices they state', () => {
    expect(kneedle({ x: [1, 3, 5], y: [0, 0.5, 0.1] }).index).toBe(0);
    expect(kneedle({ x: [1, 3, 5], y: [0, 0.5, 0.1] }, { online: true }).index).toBe(0);
    expect(mengerKnee({ x: [1, 3, 5], y: [0, 0.5, 0.1] }).index).toBe(1);
    expect(kneedle({ x: [0, 1, 2, 3, 4], y: [1, 0.9, 0.8, 0.1, 0] }).index).toBe(0);
    expect(kneedle({ x: [0, 1, 2, 3, 4], y: [1, 0.9, 0.2, 0.1, 0] }, { curve: 'concave' }).index).toBe(4);
    expect(kneedle({ x: [0, 1, 2], y: [1, 0.1, 0] }, { S: 0.5 }).index).toBe(1);
    expect(kneedle({ x: [0, 1, 2], y: [1, 0.1, 0] }).index).toBeNull();
  });

  for (const { curve, direction, first } of SHAPES) {
    it(`${curve}/${direction}: the ${first} point can be the knee, the other end never`, () => {
      const next = mulberry32(7);
      let atScanStart = 0;
      for (let t = 0; t < 3000; t++) {
        const n = 3 + (t % 7);
        const x = Array.from({ length: n }, (_, i) => i);
        const y = x.map(() => next());
        for (const online of [false, true]) {
          const k = kneedle({ x, y }, { curve, direction, online }).index;
          const other = first === 'first' ? n - 1 : 0;
          expect(k, JSON.stringify({ y, online })).not.toBe(other);
          if (k === (first === 'first' ? 0 : n - 1)) atScanStart++;
        }
      }
      expect(atScanStart).toBeGreaterThan(0);
    });

    it(`${curve}/${direction}: a 3-point evenly spaced curve monotone in that direction has no knee with S ≥ 1`, () => {
      for (let i = 0; i <= 200; i++) {
        const m = i / 200;
        const y = direction === 'decreasing' ? [1, m, 0] : [0, m, 1];
        for (const S of [1, 1.5, 3]) {
          for (const online of [false, true]) expect(kneedle({ x: [0, 1, 2], y }, { curve, direction, S, online }).index, `${m} S=${S}`).toBeNull();
        }
      }
    });
  }
});
