/**
 * Curve input shared by the knee detectors: x/y arrays or a list of points, validated, then sorted
 * by x with a stable sort. Points with equal x keep the order in which they were given and are all
 * kept (no averaging, no de-duplication); results report indices in the caller's original order.
 * A curve whose points all lie on one straight line (within 1e-12 after min–max scaling of both
 * axes — this includes a constant y) has no knee.
 */
import { invalid } from './errors.ts';

export type CurveInput =
  | { x: ArrayLike<number>; y: ArrayLike<number> }
  | readonly { x: number; y: number }[]
  /** RD points: rate on the x axis, distortion on the y axis. */
  | readonly { rate: number; distortion: number }[];

export interface SortedCurve {
  x: Float64Array;
  y: Float64Array;
  /** order[k] = index in the caller's input of the k-th point after sorting by x. */
  order: Int32Array;
}

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a finite number, got ${String(v)}`);
  return v;
}

export function sortCurve(input: CurveInput): SortedCurve {
  let xs: number[];
  let ys: number[];
  if (Array.isArray(input)) {
    xs = [];
    ys = [];
    input.forEach((pt: unknown, i: number) => {
      if (pt === null || typeof pt !== 'object') throw invalid(`points[${i}]`, 'expected { x, y } or { rate, distortion }');
      const o = pt as Record<string, unknown>;
      if ('rate' in o || 'distortion' in o) {
        xs.push(finite(o.rate, `points[${i}].rate`));
        ys.push(finite(o.distortion, `points[${i}].distortion`));
      } else {
        xs.push(finite(o.x, `points[${i}].x`));
        ys.push(finite(o.y, `points[${i}].y`));
      }
    });
  } else {
    if (input === null || typeof input !== 'object') throw invalid('curve', 'expected { x, y } or a list of points');
    const { x, y } = input as { x: ArrayLike<number>; y: ArrayLike<number> };
    if (!x || typeof x.length !== 'number') throw invalid('x', 'must be an array of numbers');
    if (!y || typeof y.length !== 'number') throw invalid('y', 'must be an array of numbers');
    if (x.length !== y.length) throw invalid('y', `has ${y.length} values but x has ${x.length}`);
    xs = Array.from({ length: x.length }, (_, i) => finite(x[i], `x[${i}]`));
    ys = Array.from({ length: y.length }, (_, i) => finite(y[i], `y[${i}]`));
  }
  const idx = xs.map((_, i) => i);
  // Array.prototype.sort is stable: equal x keep their input order.
  idx.sort((a, b) => xs[a]! - xs[b]!);
  return {
    x: Float64Array.from(idx, (i) => xs[i]!),
    y: Float64Array.from(idx, (i) => ys[i]!),
    order: Int32Array.from(idx),
  };
}

/** (v − min)/(max − min); an axis with max = min becomes all zeros. */
export function minMax(v: Float64Array): Float64Array {
  let mn = Infinity;
  let mx = -Infinity;
  for (const t of v) {
    if (t < mn) mn = t;
    if (t > mx) mx = t;
  }
  const out = new Float64Array(v.length);
  const span = mx - mn;
  if (!(span > 0)) return out;
  for (let i = 0; i < v.length; i++) out[i] = (v[i]! - mn) / span;
  return out;
}

/**
 * True when every point lies within 1e-12 of the chord from the first to the last point, both
 * axes min–max scaled (a constant axis scales to 0).
 */
export function isStraightLine(x: Float64Array, y: Float64Array): boolean {
  const n = x.length;
  if (n < 3) return true;
  const xn = minMax(x);
  const yn = minMax(y);
  const cx = xn[n - 1]! - xn[0]!;
  const cy = yn[n - 1]! - yn[0]!;
  const len = Math.hypot(cx, cy);
  for (let i = 1; i < n - 1; i++) {
    const dx = xn[i]! - xn[0]!;
    const dy = yn[i]! - yn[0]!;
    const dist = len > 0 ? Math.abs(dx * cy - dy * cx) / len : Math.hypot(dx, dy);
    if (dist > 1e-12) return false;
  }
  return true;
}
