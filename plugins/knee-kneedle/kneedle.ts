/**
 * Kneedle (Satopää, Albrecht, Irwin, Raghavan 2011), without smoothing:
 * 1. min–max normalise x and y (after a stable sort by x);
 * 2. convex/decreasing: yt = 1 − yn; concave/increasing: yt = yn; the two mirrored shapes flip
 *    the curve (concave/decreasing: yt = reversed yn; convex/increasing: yt = reversed 1 − yn)
 *    and map the index back, as the kneed library does;
 * 3. difference curve d = yt − xn;
 * 4. local maxima: d[i] ≥ both neighbours, local minima: d[i] ≤ both (a missing neighbour counts
 *    as equal, so endpoints can qualify);
 * 5. threshold of a maximum m: T_m = d[m] − S·mean(|diff(xn)|);
 * 6. scan i from the first maximum to n − 2: at a maximum set thr = T_i, candidate = i and turn
 *    detection on; then, at a minimum, thr = 0 and detection off; if detection is on and
 *    d[i+1] < thr, the candidate is a knee.
 * Offline = the first knee, online = the last. No maximum or no knee → null; fewer than 3 points
 * or a straight line (constant y included) → null. A point repeated (the same x and y) is read once:
 * the knee is the first of its copies.
 */
import { invalid, PLUGIN } from './errors.ts';
import { type CurveInput, isStraightLine, minMax, sortCurve } from 'limit-graph';

export type CurveShape = 'convex' | 'concave';
export type CurveDirection = 'decreasing' | 'increasing';

export interface KneedleOptions {
  /** Sensitivity S > 0 (default 1). */
  S?: number;
  curve?: CurveShape;
  direction?: CurveDirection;
  /** Report the online (last) knee instead of the offline (first) one. */
  online?: boolean;
}

export interface KneedleResult {
  /** Knee in the caller's original order (offline or online as asked), or null. */
  index: number | null;
  /** Both answers, in the caller's original order. */
  offlineIndex: number | null;
  onlineIndex: number | null;
  /** The same in sorted order. */
  offlineSortedIndex: number | null;
  onlineSortedIndex: number | null;
  /** Debug data, in the (possibly flipped) scan order of the difference curve. */
  differenceCurve: number[];
  localMaxima: number[];
  localMinima: number[];
  thresholds: Record<number, number>;
  order: number[];
  flipped: boolean;
}

export function kneedle(curve: CurveInput, options: KneedleOptions = {}): KneedleResult {
  const S = options.S ?? 1;
  if (typeof S !== 'number' || !Number.isFinite(S) || S <= 0) throw invalid('S', `must be a finite number > 0, got ${String(S)}`);
  const shape = options.curve ?? 'convex';
  const direction = options.direction ?? 'decreasing';
  if (shape !== 'convex' && shape !== 'concave') throw invalid('curve', `must be 'convex' or 'concave', got ${String(shape)}`);
  if (direction !== 'decreasing' && direction !== 'increasing') {
    throw invalid('direction', `must be 'decreasing' or 'increasing', got ${String(direction)}`);
  }
  const sorted = sortCurve(curve, { plugin: PLUGIN });
  const kept = distinctPoints(sorted.x, sorted.y);
  if (kept.length < sorted.x.length) return withRepeats(kneedle({ x: kept.map((k) => sorted.x[k]!), y: kept.map((k) => sorted.y[k]!) }, options), kept, sorted.order);
  const n = sorted.x.length;
  const order = Array.from(sorted.order);
  const empty: KneedleResult = {
    index: null,
    offlineIndex: null,
    onlineIndex: null,
    offlineSortedIndex: null,
    onlineSortedIndex: null,
    differenceCurve: [],
    localMaxima: [],
    localMinima: [],
    thresholds: {},
    order,
    flipped: false,
  };
  // A line has no knee whatever shape was announced (a flat or mislabelled line would otherwise
  // put a knee on its first point).
  if (n < 3 || isStraightLine(sorted.x, sorted.y)) return empty;
  const xn = minMax(sorted.x);
  const yn = minMax(sorted.y);
  const flipped = (shape === 'concave' && direction === 'decreasing') || (shape === 'convex' && direction === 'increasing');
  const yt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const src = flipped ? n - 1 - i : i;
    const v = yn[src]!;
    yt[i] = shape === 'convex' ? 1 - v : v;
  }
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = yt[i]! - xn[i]!;

  const isMax = new Uint8Array(n);
  const isMin = new Uint8Array(n);
  const maxima: number[] = [];
  const minima: number[] = [];
  for (let i = 0; i < n; i++) {
    const left = i > 0 ? d[i - 1]! : d[i]!;
    const right = i < n - 1 ? d[i + 1]! : d[i]!;
    if (d[i]! >= left && d[i]! >= right) {
      isMax[i] = 1;
      maxima.push(i);
    }
    if (d[i]! <= left && d[i]! <= right) {
      isMin[i] = 1;
      minima.push(i);
    }
  }
  let meanStep = 0;
  for (let i = 1; i < n; i++) meanStep += Math.abs(xn[i]! - xn[i - 1]!);
  meanStep /= n - 1;
  const thresholds: Record<number, number> = {};
  for (const m of maxima) thresholds[m] = d[m]! - S * meanStep;

  let first: number | null = null;
  let last: number | null = null;
  if (maxima.length > 0) {
    let thr = 0;
    let candidate = -1;
    let detecting = false;
    for (let i = maxima[0]!; i <= n - 2; i++) {
      if (isMax[i]) {
        thr = thresholds[i]!;
        candidate = i;
        detecting = true;
      }
      if (isMin[i]) {
        thr = 0;
        detecting = false;
      }
      if (detecting && d[i + 1]! < thr) {
        if (first === null) first = candidate;
        last = candidate;
      }
    }
  }
  // Back to sorted order (undo the flip), then to the caller's order.
  const toSorted = (k: number | null): number | null => (k === null ? null : flipped ? n - 1 - k : k);
  const offS = toSorted(first);
  const onS = toSorted(last);
  const offlineIndex = offS === null ? null : order[offS]!;
  const onlineIndex = onS === null ? null : order[onS]!;
  return {
    index: options.online ? onlineIndex : offlineIndex,
    offlineIndex,
    onlineIndex,
    offlineSortedIndex: offS,
    onlineSortedIndex: onS,
    differenceCurve: Array.from(d),
    localMaxima: maxima,
    localMinima: minima,
    thresholds,
    order,
    flipped,
  };
}

/**
 * Sorted indices of the points to keep: each point once, a repeat of an earlier point (the same x
 * and y) left out — also when points of another y at that x lie between the copies (the sort keeps
 * equal x in the caller's order). A repeated measurement says nothing new about the curve's shape,
 * but it would put a flat step in the difference curve — a local maximum by step 4's ≥ — where online
 * Kneedle reports a knee that is not there, or report the knee at a later copy.
 */
function distinctPoints(x: Float64Array, y: Float64Array): number[] {
  const kept: number[] = [];
  // The y values already kept at the current x (sorted: equal x are consecutive).
  let seen = new Set<number>();
  for (let i = 0; i < x.length; i++) {
    if (i === 0 || x[i] !== x[i - 1]) seen = new Set<number>();
    if (seen.has(y[i]!)) continue;
    seen.add(y[i]!);
    kept.push(i);
  }
  return kept;
}

/**
 * The result for the curve without its repeated points (`kept`: their sorted indices; `order`:
 * sorted index → caller's index) in the indices of the whole curve: a knee is the first of the
 * points at its place. The debug data stay those of the scanned curve, its `order` mapping them to
 * the caller's indices.
 */
function withRepeats(result: KneedleResult, kept: readonly number[], order: ArrayLike<number>): KneedleResult {
  const sortedIndex = (k: number | null): number | null => (k === null ? null : kept[k]!);
  const callerIndex = (k: number | null): number | null => (k === null ? null : order[kept[k]!]!);
  // The scanned curve is sorted already, so its own indices are sorted ones.
  return {
    ...result,
    index: callerIndex(result.index),
    offlineIndex: callerIndex(result.offlineIndex),
    onlineIndex: callerIndex(result.onlineIndex),
    offlineSortedIndex: sortedIndex(result.offlineSortedIndex),
    onlineSortedIndex: sortedIndex(result.onlineSortedIndex),
    order: kept.map((k) => order[k]!),
  };
}
