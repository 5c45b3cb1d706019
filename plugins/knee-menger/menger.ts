/**
 * Knee by maximum Menger curvature.
 *
 * For each interior point b with neighbours a, c (after sorting by x):
 *   κ = 4·Area(a, b, c) / (|ab|·|bc|·|ca|),   Area = ½·|(b − a) × (c − a)|,
 * κ = 0 when a side has length 0 (repeated points) or when a, b, c are collinear to within the
 * rounding error of the coordinates (so a straight line sampled in floating point has no knee).
 * The knee is the interior point of largest κ, the first one on ties. Fewer than 3 points, or κ = 0
 * everywhere (a straight line), give no knee (null) — never the first point.
 *
 * `normalize` (default false: raw coordinates) min–max scales each axis to [0, 1] first; raw
 * curvature depends on the units of x and y, the normalised one does not.
 */
import { type CurveInput, isStraightLine, minMax, sortCurve } from 'limit-graph';

export interface MengerOptions {
  normalize?: boolean;
}

export interface MengerResult {
  /** Index of the knee in the caller's original point order, or null. */
  index: number | null;
  /** Index of the knee after sorting by x, or null. */
  sortedIndex: number | null;
  /** κ of each point in sorted order (null at the endpoints). */
  kappa: (number | null)[];
  /** order[k] = original index of the k-th sorted point. */
  order: number[];
  /** (κ₁ − κ₂)/κ₁ for the two largest curvatures; small means a fragile choice. */
  relMarginTop2: number | null;
  normalized: boolean;
}

const EPS = Number.EPSILON;

/** Menger curvature of the triangle a, b, c. */
export function mengerCurvature(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const abx = bx - ax;
  const aby = by - ay;
  const acx = cx - ax;
  const acy = cy - ay;
  const bcx = cx - bx;
  const bcy = cy - by;
  const ab = Math.sqrt(abx * abx + aby * aby);
  const bc = Math.sqrt(bcx * bcx + bcy * bcy);
  const ca = Math.sqrt(acx * acx + acy * acy);
  if (ab === 0 || bc === 0 || ca === 0) return 0;
  const cross = abx * acy - aby * acx;
  // Bound on the rounding error of `cross` given the magnitudes of the coordinates.
  const mx = Math.max(Math.abs(ax), Math.abs(bx), Math.abs(cx));
  const my = Math.max(Math.abs(ay), Math.abs(by), Math.abs(cy));
  const noise = 16 * EPS * (mx * (Math.abs(aby) + Math.abs(acy)) + my * (Math.abs(abx) + Math.abs(acx)));
  if (Math.abs(cross) <= noise) return 0;
  const area = 0.5 * Math.abs(cross);
  return (4 * area) / (ab * bc * ca);
}

export function mengerKnee(curve: CurveInput, options: MengerOptions = {}): MengerResult {
  const sorted = sortCurve(curve, { plugin: 'knee-menger' });
  const normalized = options.normalize ?? false;
  const x = normalized ? minMax(sorted.x) : sorted.x;
  const y = normalized ? minMax(sorted.y) : sorted.y;
  const n = x.length;
  const kappa: (number | null)[] = new Array<number | null>(n).fill(null);
  let best = -1;
  let bestK = 0;
  let second = 0;
  for (let i = 1; i < n - 1; i++) {
    const k = mengerCurvature(x[i - 1]!, y[i - 1]!, x[i]!, y[i]!, x[i + 1]!, y[i + 1]!);
    kappa[i] = k;
    if (k > bestK) {
      second = bestK;
      bestK = k;
      best = i;
    } else if (k > second) {
      second = k;
    }
  }
  const order = Array.from(sorted.order);
  const hasKnee = best >= 0 && !isStraightLine(sorted.x, sorted.y);
  return {
    index: hasKnee ? order[best]! : null,
    sortedIndex: hasKnee ? best : null,
    kappa,
    order,
    relMarginTop2: hasKnee && n > 3 ? (bestK - second) / bestK : null,
    normalized,
  };
}
