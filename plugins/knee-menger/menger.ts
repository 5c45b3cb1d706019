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
 *
 * Raw curvature is computed on the curve translated to its first point (κ does not change, and the
 * collinearity tolerance then follows the rounding of the differences, not of a constant offset), in per-triangle power-of-two scaled differences, so it neither overflows
 * nor underflows at any finite coordinates (it is 1/length: 1e-200 at coordinates around 1e200). Points
 * so close that κ itself exceeds the double range (spacing below about 1e-308) are refused
 * (LIMIT_RD_INVALID_INPUT naming the point) instead of giving κ = ∞.
 */
import { type CurveInput, LimitError, isStraightLine, minMax, sortCurve } from 'limit-graph';

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

/**
 * Menger curvature of the triangle a, b, c. The differences are scaled by a power of two that brings
 * the largest to [1, 2) before the squares and products, and κ is scaled back (κ scales as 1/length):
 * exact for ordinary coordinates (bit for bit the unscaled formula), and no overflow or underflow of
 * |ab|·|bc|·|ca| or of the cross product at any finite coordinates (a side far shorter than the
 * longest is measured by Math.hypot, see sideLength). Only κ itself can leave the double
 * range (points closer than about 1e-308), and is then ∞.
 */
export function mengerCurvature(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  let abx = bx - ax;
  let aby = by - ay;
  let acx = cx - ax;
  let acy = cy - ay;
  let bcx = cx - bx;
  let bcy = cy - by;
  // Differences of coordinates beyond ±8.9e307 can overflow: take them from halved coordinates.
  let half = 1;
  if (!Number.isFinite(abx + aby + acx + acy + bcx + bcy)) {
    half = 2;
    abx = bx / 2 - ax / 2;
    aby = by / 2 - ay / 2;
    acx = cx / 2 - ax / 2;
    acy = cy / 2 - ay / 2;
    bcx = cx / 2 - bx / 2;
    bcy = cy / 2 - by / 2;
  }
  const big = Math.max(Math.abs(abx), Math.abs(aby), Math.abs(acx), Math.abs(acy), Math.abs(bcx), Math.abs(bcy));
  if (big === 0) return 0;
  // s = 2^e with big/s in [1, 2); multiplying by a power of two is exact (above the subnormals).
  const s = pow2(Math.floor(Math.log2(big)));
  const inv = 1 / s;
  const sInv = Number.isFinite(inv) ? inv : 0;
  if (sInv === 0) {
    // s = 2^-1074.. range: 1/s overflows; scale in two steps.
    return mengerCurvature(ax * 2 ** 600, ay * 2 ** 600, bx * 2 ** 600, by * 2 ** 600, cx * 2 ** 600, cy * 2 ** 600) * 2 ** 600;
  }
  abx *= sInv;
  aby *= sInv;
  acx *= sInv;
  acy *= sInv;
  bcx *= sInv;
  bcy *= sInv;
  const ab = sideLength(abx, aby);
  const bc = sideLength(bcx, bcy);
  const ca = sideLength(acx, acy);
  if (ab === 0 || bc === 0 || ca === 0) return 0;
  const cross = abx * acy - aby * acx;
  // Bound on the rounding error of `cross` given the magnitudes of the coordinates (in the same units).
  const scale = sInv / half;
  const mx = Math.max(Math.abs(ax), Math.abs(bx), Math.abs(cx)) * scale;
  const my = Math.max(Math.abs(ay), Math.abs(by), Math.abs(cy)) * scale;
  const noise = 16 * EPS * (mx * (Math.abs(aby) + Math.abs(acy)) + my * (Math.abs(abx) + Math.abs(acx)));
  if (Math.abs(cross) <= noise) return 0;
  const area = 0.5 * Math.abs(cross);
  return (4 * area) / (ab * bc * ca) / s / half;
}

/**
 * √(x² + y²) of a scaled side (|x|, |y| < 2). The plain formula, bit for bit as before, where x² + y²
 * is at least 2^-969: a square below the normal range (2^-1022) then changes the sum by less than its
 * rounding. Below, a short side's squares underflow (a side under about 1e-154 of the longest became
 * 0, and κ 0: a V of height 1e200 and width 2 had no knee), so Math.hypot, which scales instead.
 */
function sideLength(x: number, y: number): number {
  const sq = x * x + y * y;
  return sq >= 2 ** -969 ? Math.sqrt(sq) : Math.hypot(x, y);
}

/** 2^e for any integer e in the double range (Math.pow is not exact on every engine for large |e|). */
function pow2(e: number): number {
  if (e > 1023) return Infinity;
  if (e >= -1022) return 2 ** e;
  return 2 ** (e + 600) * 2 ** -600;
}

/**
 * v − v[0]: raw curvature is computed on the curve translated to its first point, so that the
 * collinearity tolerance (which grows with the coordinates' magnitude) reflects the rounding of the
 * differences actually used, not a constant offset: at x = 1e14 + i every difference is exact, yet a
 * tolerance from |x| ≈ 1e14 zeroed every κ. κ itself does not change with a translation. Left as
 * given when a difference overflows (a span beyond the largest double; mengerCurvature halves then).
 */
function fromFirst(v: Float64Array): Float64Array {
  const out = new Float64Array(v.length);
  const v0 = v[0] ?? 0;
  for (let i = 0; i < v.length; i++) {
    const d = v[i]! - v0;
    if (!Number.isFinite(d)) return v;
    out[i] = d;
  }
  return out;
}

export function mengerKnee(curve: CurveInput, options: MengerOptions = {}): MengerResult {
  const sorted = sortCurve(curve, { plugin: 'knee-menger' });
  const normalized = options.normalize ?? false;
  const x = normalized ? minMax(sorted.x) : fromFirst(sorted.x);
  const y = normalized ? minMax(sorted.y) : fromFirst(sorted.y);
  const n = x.length;
  const kappa: (number | null)[] = new Array<number | null>(n).fill(null);
  let best = -1;
  let bestK = 0;
  let second = 0;
  for (let i = 1; i < n - 1; i++) {
    const k = mengerCurvature(x[i - 1]!, y[i - 1]!, x[i]!, y[i]!, x[i + 1]!, y[i + 1]!);
    if (k === Infinity) {
      const at = sorted.order[i]!;
      const field = Array.isArray(curve) ? `points[${at}]` : `x[${at}]`;
      // Raw coordinates: normalize: true may help. The remedy is given as the call option
      // (details.option, see detectKnee), which each caller names its own way: --normalize on the
      // CLI, body.options.normalize over HTTP, plugins['knee-menger'].normalize for a stored series.
      const scale = 'scale the curve up (multiply its x or its y values by a common factor)';
      throw new LimitError(
        'LIMIT_RD_INVALID_INPUT',
        `${field}: this point and its neighbours (in x order) are so close together (about ${Math.max(Math.abs(x[i]! - x[i - 1]!), Math.abs(y[i]! - y[i - 1]!)).toPrecision(3)} apart) that their Menger curvature overflows a double`,
        {
          plugin: 'knee-menger',
          details: { field, ...(normalized ? {} : { option: { normalize: true }, otherwise: scale }) },
          fix: normalized ? `The curve is already min–max normalised: ${scale}, or spread its points apart.` : `Pass the option normalize: true (min–max scales both axes first), or ${scale}.`,
        },
      );
    }
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
