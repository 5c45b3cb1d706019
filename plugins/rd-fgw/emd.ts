/**
 * Exact optimal transport (earth mover's distance) by the primal network simplex on the complete
 * bipartite graph rows → columns.
 *
 * Why it is built this way:
 * - Rows and columns with zero mass are dropped before solving: they can carry no flow, and
 *   keeping them would only add degenerate pivots.
 * - The start is the classic artificial basis: a root node joined to every node by an artificial
 *   arc (supply side cost 0, demand side a big-M cost). It is strongly feasible, and the
 *   leaving-arc rule (the last blocking arc met when walking the cycle from its apex in the
 *   direction of the entering arc) keeps it so, which rules out cycling on degenerate pivots. The
 *   root also absorbs the last ulps by which Σa and Σb differ in floating point.
 * - Entering arcs are chosen by block search over blocks of ≈ √(arcs).
 * - Degenerate problems (uniform weights, tied costs) have many optimal vertices and Frank–Wolfe
 *   on FGW follows whichever one the LP returns. To land on the same vertex as the reference
 *   implementation (POT's LEMON-derived network simplex), the decisions that pick the vertex are
 *   made the same way: node and arc numbering (reversed, arcs interleaved with stride √(arcs)),
 *   the heuristic initial pivots (cheapest incoming arc of each demand node), the block scan that
 *   resumes at the arc where the previous block stopped, the relative tolerance 2.22e-15 on
 *   reduced costs and the tie rules of the ratio test. These choices are independent of how the
 *   tree is stored; here it is parent / depth / doubly linked child lists.
 * - Potentials are updated incrementally while pivoting, which accumulates rounding; when no
 *   entering arc is left they are recomputed exactly from the tree and the search is repeated,
 *   so the returned basis is optimal for the potentials it reports ("exact to floating point").
 * - A solver object can solve again with new costs from its previous basis (warm start): the
 *   basis depends only on the marginals, which Frank–Wolfe keeps fixed between its LPs.
 */
import { type Deadline, checkDeadline, invalid, notConverged } from './errors.ts';

export type EmdStatus = 'optimal' | 'max_iter';

export interface EmdResult {
  /** Dense row-major plan, n1 × n2. */
  plan: Float64Array;
  /** Σ plan ∘ M. */
  cost: number;
  /** Dual potentials: M[i][j] − u[i] − v[j] ≥ 0 everywhere and = 0 where plan > 0 (up to rounding). */
  u: Float64Array;
  v: Float64Array;
  /** Number of simplex pivots in this solve. */
  pivots: number;
  status: EmdStatus;
  /**
   * Non-basic arcs whose reduced cost is zero up to rounding (1e-12 relative): when > 0 the LP
   * has other optimal vertices and which one is returned is a matter of tie-breaking.
   */
  zeroReducedCosts: number;
}

export interface EmdOptions {
  /** Maximum number of pivots; default max(100000, 100·(n1+n2)). */
  maxPivots?: number;
}

export interface SolveOptions extends EmdOptions {
  /** Start from the previous basis of this solver object (when there is one). */
  warmStart?: boolean;
  /** Stop with LIMIT_RD_NOT_CONVERGED once this time is past (tested every 256 pivots). */
  deadline?: Deadline;
  /** Write the plan into this buffer (length n1·n2) instead of allocating one. */
  plan?: Float64Array;
  /** Compute the dual potentials u, v (default true); without them they come back empty. */
  duals?: boolean;
  /**
   * Called (and expected to throw) with the first non-finite cost entry, for callers whose cost is
   * not the user's M (the FGW linearisation); default: LIMIT_RD_INVALID_INPUT naming `M[i][j]`.
   */
  onNonFiniteCost?: (i: number, j: number, value: number) => never;
}

const NO_DUALS = new Float64Array(0);

/** Relative tolerance on reduced costs: an arc enters only if it improves by more than rounding noise. */
const PIVOT_EPS = 2.2204460492503131e-15;
const LOWER = 1;
const TREE = 0;

export class TransportSimplex {
  readonly n1: number;
  readonly n2: number;
  private readonly m: number;
  private readonly n: number;
  private readonly N: number;
  private readonly mn: number;
  private readonly root: number;
  private readonly rowIdx: Int32Array;
  private readonly colIdx: Int32Array;
  /** Supply of each internal node (rows positive, columns negative). */
  private readonly supply: Float64Array;

  // Arcs in internal order; real arcs first, then one artificial arc per node.
  private readonly src: Int32Array;
  private readonly tgt: Int32Array;
  /** Internal real arc → index i·n + j in the compressed m×n cost matrix. */
  private readonly cell: Int32Array;
  /** Compressed cell i·n + j → internal real arc. */
  private readonly arcOf: Int32Array;
  /** Internal real arc → index into the caller's dense n1×n2 matrix. */
  private readonly dense: Int32Array;
  private readonly cost: Float64Array;
  /** cost[e] for non-tree real arcs, +∞ for tree arcs: the block scan needs no state test. */
  private readonly scan: Float64Array;
  private readonly flow: Float64Array;
  private readonly state: Int8Array;

  // Spanning tree.
  private readonly parent: Int32Array;
  private readonly pred: Int32Array;
  /** 1 when pred[u] points from u to its parent. */
  private readonly up: Uint8Array;
  private readonly depth: Int32Array;
  private readonly firstChild: Int32Array;
  private readonly nextSib: Int32Array;
  private readonly prevSib: Int32Array;
  private readonly pi: Float64Array;
  private readonly stack: Int32Array;
  private readonly stem: Int32Array;

  private hasBasis = false;
  private nextArc = 0;
  private inArc = 0;
  private readonly blockSize: number;

  /**
   * @param a row masses (length n1, ≥ 0)
   * @param b column masses (length n2, ≥ 0); rescaled by Σa/Σb, as the reference does, so both
   *          sides carry the same mass up to rounding.
   */
  constructor(a: ArrayLike<number>, b: ArrayLike<number>) {
    const n1 = a.length;
    const n2 = b.length;
    this.n1 = n1;
    this.n2 = n2;
    let sa = 0;
    let sb = 0;
    let m = 0;
    let n = 0;
    for (let i = 0; i < n1; i++) {
      const x = a[i]!;
      if (!(x >= 0) || !Number.isFinite(x)) throw invalid(`a[${i}]`, `must be a finite number ≥ 0, got ${x}`);
      sa += x;
      if (x > 0) m++;
    }
    for (let j = 0; j < n2; j++) {
      const x = b[j]!;
      if (!(x >= 0) || !Number.isFinite(x)) throw invalid(`b[${j}]`, `must be a finite number ≥ 0, got ${x}`);
      sb += x;
      if (x > 0) n++;
    }
    if (m === 0) throw invalid('a', 'has no positive mass');
    if (n === 0) throw invalid('b', 'has no positive mass');
    if (Math.abs(sa - sb) > 1e-9 * Math.max(sa, sb)) {
      throw invalid('b', `total mass ${sb} differs from the total mass of a (${sa}) by more than 1e-9 relative`);
    }
    const N = m + n;
    const mn = m * n;
    this.m = m;
    this.n = n;
    this.N = N;
    this.mn = mn;
    this.root = N;
    this.rowIdx = new Int32Array(m);
    this.colIdx = new Int32Array(n);
    this.supply = new Float64Array(N);
    // Internal node of row i is N−1−i, of column j is n−1−j (reversed numbering).
    for (let i = 0, k = 0; i < n1; i++) {
      if (a[i]! > 0) {
        this.rowIdx[k] = i;
        this.supply[N - 1 - k] = a[i]!;
        k++;
      }
    }
    for (let j = 0, k = 0; j < n2; j++) {
      const bj = b[j]!;
      if (bj > 0) {
        this.colIdx[k] = j;
        this.supply[n - 1 - k] = -((bj * sa) / sb);
        k++;
      }
    }

    const arcs = mn + N;
    this.src = new Int32Array(arcs);
    this.tgt = new Int32Array(arcs);
    this.cell = new Int32Array(mn);
    this.arcOf = new Int32Array(mn);
    // Cells are visited from the last to the first and dealt out with stride k, so that every
    // block of the scan sees arcs from all over the matrix.
    const k = Math.max(Math.floor(Math.sqrt(mn)), 10);
    let pos = 0;
    let pass = 0;
    for (let t = 0; t < mn; t++) {
      const g = mn - 1 - t;
      const i = (g / n) | 0;
      const j = g - i * n;
      this.src[pos] = N - 1 - i;
      this.tgt[pos] = n - 1 - j;
      this.cell[pos] = g;
      this.arcOf[g] = pos;
      pos += k;
      if (pos >= mn) pos = ++pass;
    }
    this.dense = new Int32Array(mn);
    for (let e = 0; e < mn; e++) {
      const g = this.cell[e]!;
      const i = (g / n) | 0;
      this.dense[e] = this.rowIdx[i]! * n2 + this.colIdx[g - i * n]!;
    }
    this.cost = new Float64Array(arcs);
    this.scan = new Float64Array(mn);
    this.flow = new Float64Array(arcs);
    this.state = new Int8Array(arcs);
    const nodes = N + 1;
    this.parent = new Int32Array(nodes);
    this.pred = new Int32Array(nodes);
    this.up = new Uint8Array(nodes);
    this.depth = new Int32Array(nodes);
    this.firstChild = new Int32Array(nodes);
    this.nextSib = new Int32Array(nodes);
    this.prevSib = new Int32Array(nodes);
    this.pi = new Float64Array(nodes);
    this.stack = new Int32Array(nodes);
    this.stem = new Int32Array(nodes);
    this.blockSize = Math.max(Math.floor(Math.sqrt(mn)), 10);
  }

  /**
   * Solves min ⟨M, T⟩ over couplings of (a, b). M is dense row-major n1 × n2 and must be finite.
   * With `warmStart` (and a previous solve on this object) pivoting starts from the last basis.
   */
  solve(M: ArrayLike<number>, options: SolveOptions = {}): EmdResult {
    const { n1, n2, m, n, mn, N } = this;
    if (M.length !== n1 * n2) throw invalid('M', `expected ${n1}×${n2} = ${n1 * n2} entries, got ${M.length}`);
    const { cost, dense } = this;
    let maxCost = 0;
    let minCost = 0;
    // c·0 is NaN exactly when c is NaN or ±∞: one flag for the whole matrix.
    let poison = 0;
    for (let e = 0; e < mn; e++) {
      const c = M[dense[e]!]!;
      cost[e] = c;
      poison += c * 0;
      if (c > maxCost) maxCost = c;
      else if (c < minCost) minCost = c;
    }
    if (poison !== 0) this.reportNonFinite(M, options.onNonFiniteCost);
    // The big-M below, and the potentials (up to about 2·big-M) and reduced costs (up to about
    // 5·big-M) built from it, must stay finite: costs whose big-M would reach about 2^1020 are
    // solved divided by an exact power of two (an LP's optimal plans do not change with the scale
    // of its costs; the cost is summed from M itself). Unscaled, the big-M overflowed to ∞ and the
    // simplex stopped with mass on the artificial arcs, reported as optimal.
    const unit = costUnit(Math.max(maxCost, -minCost), N);
    if (unit !== 1) {
      const s = 1 / unit;
      for (let e = 0; e < mn; e++) cost[e] = cost[e]! * s;
      maxCost *= s;
      minCost *= s;
    }
    // Big-M of the artificial arcs; with negative costs it must also outweigh any negative path.
    const art = (maxCost + 1 - minCost * (minCost < 0 ? 1 : 0)) * N;

    if (!(options.warmStart && this.hasBasis)) {
      this.initBasis(art);
      this.hasBasis = true;
      this.initialPivots();
    } else {
      for (let u = 0; u < N; u++) {
        const e = mn + u;
        if (this.src[e] === this.root) cost[e] = art;
      }
      this.recomputePotentials();
      this.nextArc = 0;
    }

    const { scan, state: st } = this;
    for (let e = 0; e < mn; e++) scan[e] = st[e] === TREE ? Infinity : cost[e]!;

    const maxPivots = options.maxPivots ?? Math.max(100_000, 100 * (n1 + n2));
    let pivots = 0;
    let status: EmdStatus = 'optimal';
    for (let round = 0; round < 8; round++) {
      while (true) {
        const e = this.findEnteringArc();
        if (e < 0) break;
        if (pivots >= maxPivots) {
          status = 'max_iter';
          break;
        }
        if ((pivots & 255) === 255 && options.deadline !== undefined) checkDeadline(options.deadline, `LP pivot ${pivots + 1}`);
        this.pivot(e);
        pivots++;
      }
      if (status !== 'optimal') break;
      // Exact potentials from the tree; continue only if they reveal an improving arc.
      this.recomputePotentials();
      this.nextArc = 0;
      if (!this.hasImprovingArc()) break;
    }
    if (status === 'optimal') this.checkArtificialFlow();

    const plan = options.plan ?? new Float64Array(n1 * n2);
    if (options.plan) plan.fill(0);
    let total = 0;
    const { flow, state } = this;
    for (let e = 0; e < mn; e++) {
      if (state[e] === TREE && flow[e]! > 0) {
        const pos = dense[e]!;
        plan[pos] = flow[e]!;
        total += flow[e]! * M[pos]!;
      }
    }
    const { u, v } = options.duals === false ? { u: NO_DUALS, v: NO_DUALS } : unit === 1 ? this.duals(M) : this.scaledDuals(M, unit);
    return { plan, cost: total, u, v, pivots, status, zeroReducedCosts: this.countZeroReducedCosts() };
  }

  private reportNonFinite(M: ArrayLike<number>, onNonFinite?: (i: number, j: number, value: number) => never): never {
    const { n1, n2 } = this;
    for (let k = 0; k < n1 * n2; k++) {
      if (Number.isFinite(M[k]!)) continue;
      if (onNonFinite) onNonFinite(Math.floor(k / n2), k % n2, M[k]!);
      throw invalid(`M[${Math.floor(k / n2)}][${k % n2}]`, `must be finite, got ${M[k]}`);
    }
    throw invalid('M', 'contains a non-finite entry');
  }

  /**
   * An optimal basis carries all the mass on real arcs: the artificial ones hold at most the ulps by
   * which Σa and Σb differ. More than that means the big-M did not work (it overflowed, or rounding
   * swamped it), and the plan is not a coupling of a and b: an internal error, never an optimum.
   */
  private checkArtificialFlow(): void {
    const { mn, N, flow, state, supply } = this;
    let mass = 0;
    let stuck = 0;
    for (let u = 0; u < N; u++) {
      if (supply[u]! > 0) mass += supply[u]!;
      if (state[mn + u] === TREE) stuck += flow[mn + u]!;
    }
    if (!(stuck <= 1e-9 * mass)) {
      throw notConverged(
        'M',
        `internal error: the network simplex ended with mass ${stuck} of ${mass} on its artificial arcs, so its plan is not a coupling of a and b (please report it with the input)`,
      );
    }
  }

  /**
   * Duals of a solve whose costs were scaled by 1/unit: computed on the scaled costs, shifted so
   * that the smallest row potential is 0 (optimal row potentials span at most the cost range), then
   * multiplied back. Refused when they still do not fit in a double.
   */
  private scaledDuals(M: ArrayLike<number>, unit: number): { u: Float64Array; v: Float64Array } {
    const Ms = Float64Array.from(M, (c) => c / unit);
    const { u, v } = this.duals(Ms);
    let shift = Infinity;
    for (let i = 0; i < u.length; i++) if (u[i]! < shift) shift = u[i]!;
    for (let i = 0; i < u.length; i++) u[i] = (u[i]! - shift) * unit;
    for (let j = 0; j < v.length; j++) v[j] = (v[j]! + shift) * unit;
    for (const [name, w] of [['u', u], ['v', v]] as const) {
      for (let k = 0; k < w.length; k++) {
        if (!Number.isFinite(w[k]!)) {
          throw invalid('M', `entries up to ${Math.max(...Array.from(M, Math.abs))} are too large for dual potentials in a double (${name}[${k}] overflows); scale M down, or ask for the cost only (emd2, or duals: false)`);
        }
      }
    }
    return { u, v };
  }

  /** u = −π(row), v = π(col); rows/columns without mass get the tightest dual-feasible value. */
  private duals(M: ArrayLike<number>): { u: Float64Array; v: Float64Array } {
    const { n1, n2, m, n, N } = this;
    const u = new Float64Array(n1).fill(Number.NaN);
    const v = new Float64Array(n2).fill(Number.NaN);
    for (let i = 0; i < m; i++) u[this.rowIdx[i]!] = -this.pi[N - 1 - i]!;
    for (let j = 0; j < n; j++) v[this.colIdx[j]!] = this.pi[n - 1 - j]!;
    for (let i = 0; i < n1; i++) {
      if (!Number.isNaN(u[i]!)) continue;
      let best = Infinity;
      for (let j = 0; j < n; j++) {
        const cj = this.colIdx[j]!;
        const r = M[i * n2 + cj]! - v[cj]!;
        if (r < best) best = r;
      }
      u[i] = best;
    }
    for (let j = 0; j < n2; j++) {
      if (!Number.isNaN(v[j]!)) continue;
      let best = Infinity;
      for (let i = 0; i < n1; i++) {
        const r = M[i * n2 + j]! - u[i]!;
        if (r < best) best = r;
      }
      v[j] = best;
    }
    return { u, v };
  }

  private initBasis(art: number): void {
    const { N, mn, root, parent, pred, up, depth, firstChild, nextSib, prevSib, pi, flow, state, supply, src, tgt, cost } = this;
    flow.fill(0);
    state.fill(LOWER, 0, mn);
    parent[root] = -1;
    pred[root] = -1;
    depth[root] = 0;
    pi[root] = 0;
    prevSib[root] = -1;
    nextSib[root] = -1;
    firstChild[root] = N > 0 ? 0 : -1;
    for (let u = 0; u < N; u++) {
      const e = mn + u;
      parent[u] = root;
      pred[u] = e;
      depth[u] = 1;
      firstChild[u] = -1;
      prevSib[u] = u - 1;
      nextSib[u] = u + 1 < N ? u + 1 : -1;
      state[e] = TREE;
      if (supply[u]! >= 0) {
        up[u] = 1;
        src[e] = u;
        tgt[e] = root;
        flow[e] = supply[u]!;
        cost[e] = 0;
        pi[u] = 0;
      } else {
        up[u] = 0;
        src[e] = root;
        tgt[e] = u;
        flow[e] = -supply[u]!;
        cost[e] = art;
        pi[u] = art;
      }
    }
    this.nextArc = 0;
    this.inArc = 0;
  }

  /** Head start: for each demand node (last column first), its cheapest incoming arc, last row winning ties. */
  private initialPivots(): void {
    const { m, n, cost, arcOf, state, pi, src, tgt } = this;
    const chosen = this.stem; // scratch, n ≤ N entries
    let count = 0;
    for (let j = n - 1; j >= 0; j--) {
      let best = Infinity;
      let bestArc = -1;
      for (let i = m - 1; i >= 0; i--) {
        const e = arcOf[i * n + j]!;
        const c = cost[e]!;
        if (c < best) {
          best = c;
          bestArc = e;
        }
      }
      if (bestArc >= 0) chosen[count++] = bestArc;
    }
    const list = chosen.slice(0, count);
    for (let x = 0; x < count; x++) {
      const e = list[x]!;
      if (state[e]! * (cost[e]! + pi[src[e]!]! - pi[tgt[e]!]!) >= 0) continue;
      this.pivot(e);
    }
  }

  /**
   * Block search: scans from where the last block stopped; at the end of each block the most
   * negative reduced cost seen so far enters if it beats the relative tolerance.
   */
  private findEnteringArc(): number {
    const { mn, scan, pi, src, tgt, blockSize } = this;
    let min = 0;
    let cnt = blockSize;
    let inArc = this.inArc;
    const start = this.nextArc;
    let e = start;
    for (; e !== mn; ++e) {
      const c = scan[e]! + pi[src[e]!]! - pi[tgt[e]!]!;
      if (c < min) {
        min = c;
        inArc = e;
      }
      if (--cnt === 0) {
        if (min < -PIVOT_EPS * this.scale(inArc)) {
          this.nextArc = e;
          this.inArc = inArc;
          return inArc;
        }
        cnt = blockSize;
      }
    }
    for (e = 0; e !== start; ++e) {
      const c = scan[e]! + pi[src[e]!]! - pi[tgt[e]!]!;
      if (c < min) {
        min = c;
        inArc = e;
      }
      if (--cnt === 0) {
        if (min < -PIVOT_EPS * this.scale(inArc)) {
          this.nextArc = e;
          this.inArc = inArc;
          return inArc;
        }
        cnt = blockSize;
      }
    }
    this.inArc = inArc;
    if (min >= -PIVOT_EPS * this.scale(inArc)) return -1;
    return inArc;
  }

  private hasImprovingArc(): boolean {
    const { mn, cost, pi, state, src, tgt } = this;
    for (let e = 0; e < mn; e++) {
      const c = state[e]! * (cost[e]! + pi[src[e]!]! - pi[tgt[e]!]!);
      if (c < 0 && c < -PIVOT_EPS * this.scale(e)) return true;
    }
    return false;
  }

  private countZeroReducedCosts(): number {
    const { mn, cost, pi, state, src, tgt } = this;
    let count = 0;
    for (let e = 0; e < mn; e++) {
      if (state[e] === TREE) continue;
      const c = cost[e]! + pi[src[e]!]! - pi[tgt[e]!]!;
      if (Math.abs(c) <= 1e-12 * this.scale(e)) count++;
    }
    return count;
  }

  private scale(e: number): number {
    const ps = Math.abs(this.pi[this.src[e]!]!);
    const pt = Math.abs(this.pi[this.tgt[e]!]!);
    const a = ps > pt ? ps : pt;
    const c = Math.abs(this.cost[e]!);
    return a > c ? a : c;
  }

  private pivot(inArc: number): void {
    const { parent, pred, up, depth, flow, pi, cost, stem } = this;
    const s = this.src[inArc]!;
    const t = this.tgt[inArc]!;

    let a = s;
    let b = t;
    while (a !== b) {
      const da = depth[a]!;
      const db = depth[b]!;
      if (da > db) a = parent[a]!;
      else if (db > da) b = parent[b]!;
      else {
        a = parent[a]!;
        b = parent[b]!;
      }
    }
    const join = a;

    // Blocking arcs lose flow when pushing along s → t: on the s side those pointing up, on the
    // t side those pointing down. Ties go to the last one met from the apex (strong feasibility).
    let delta = Infinity;
    let uOut = -1;
    let outOnS = true;
    for (let w = s; w !== join; w = parent[w]!) {
      if (up[w]) {
        const f = flow[pred[w]!]!;
        if (f < delta) {
          delta = f;
          uOut = w;
          outOnS = true;
        }
      }
    }
    for (let w = t; w !== join; w = parent[w]!) {
      if (!up[w]) {
        const f = flow[pred[w]!]!;
        if (f <= delta) {
          delta = f;
          uOut = w;
          outOnS = false;
        }
      }
    }
    if (uOut < 0) throw new Error('network simplex: unbounded cycle (internal error)');

    if (delta > 0) {
      flow[inArc] = flow[inArc]! + delta;
      for (let w = s; w !== join; w = parent[w]!) {
        const e = pred[w]!;
        flow[e] = up[w] ? flow[e]! - delta : flow[e]! + delta;
      }
      for (let w = t; w !== join; w = parent[w]!) {
        const e = pred[w]!;
        flow[e] = up[w] ? flow[e]! + delta : flow[e]! - delta;
      }
    }
    const outArc = pred[uOut]!;
    flow[outArc] = 0;
    this.state[outArc] = LOWER;
    this.state[inArc] = TREE;
    this.scan[inArc] = Infinity;
    if (outArc < this.mn) this.scan[outArc] = cost[outArc]!;

    const uIn = outOnS ? s : t;
    const vIn = outOnS ? t : s;
    const sigma = uIn === s ? pi[vIn]! - pi[uIn]! - cost[inArc]! : pi[vIn]! - pi[uIn]! + cost[inArc]!;

    // Stem uIn, parent(uIn), …, uOut: its parent pointers are reversed.
    let k = 0;
    for (let w = uIn; ; w = parent[w]!) {
      stem[k++] = w;
      if (w === uOut) break;
    }
    for (let x = 0; x < k; x++) this.detach(stem[x]!);
    for (let x = k - 1; x >= 1; x--) {
      const w = stem[x]!;
      const below = stem[x - 1]!;
      pred[w] = pred[below]!;
      up[w] = up[below] ? 0 : 1;
      parent[w] = below;
    }
    pred[uIn] = inArc;
    up[uIn] = uIn === s ? 1 : 0;
    parent[uIn] = vIn;
    for (let x = 0; x < k; x++) this.attach(stem[x]!, parent[stem[x]!]!);

    // The moved subtree: shift potentials by sigma, recompute depths.
    const stack = this.stack;
    const firstChild = this.firstChild;
    const nextSib = this.nextSib;
    let sp = 0;
    stack[sp++] = uIn;
    while (sp > 0) {
      const u = stack[--sp]!;
      depth[u] = depth[parent[u]!]! + 1;
      pi[u] = pi[u]! + sigma;
      for (let c = firstChild[u]!; c >= 0; c = nextSib[c]!) stack[sp++] = c;
    }
  }

  private detach(u: number): void {
    const p = this.parent[u]!;
    const prev = this.prevSib[u]!;
    const next = this.nextSib[u]!;
    if (prev >= 0) this.nextSib[prev] = next;
    else this.firstChild[p] = next;
    if (next >= 0) this.prevSib[next] = prev;
    this.prevSib[u] = -1;
    this.nextSib[u] = -1;
  }

  private attach(u: number, p: number): void {
    const head = this.firstChild[p]!;
    this.nextSib[u] = head;
    this.prevSib[u] = -1;
    if (head >= 0) this.prevSib[head] = u;
    this.firstChild[p] = u;
  }

  /** Exact potentials from the tree: π(root) = 0 and zero reduced cost on every tree arc. */
  private recomputePotentials(): void {
    const { parent, pred, up, depth, pi, cost, stack, root, firstChild, nextSib } = this;
    pi[root] = 0;
    depth[root] = 0;
    let sp = 0;
    for (let c = firstChild[root]!; c >= 0; c = nextSib[c]!) stack[sp++] = c;
    while (sp > 0) {
      const u = stack[--sp]!;
      const p = parent[u]!;
      const c = cost[pred[u]!]!;
      pi[u] = up[u] ? pi[p]! - c : pi[p]! + c;
      depth[u] = depth[p]! + 1;
      for (let ch = firstChild[u]!; ch >= 0; ch = nextSib[ch]!) stack[sp++] = ch;
    }
  }
}

/**
 * The power of two by which costs up to `big` in absolute value are divided before solving, so that
 * the big-M (range + 1)·N stays below 2^1020: 1 (no scaling, bit-for-bit the plain solve) unless
 * 2·big·N is at least about 2^1019.
 */
function costUnit(big: number, N: number): number {
  if (!(big > 0)) return 1;
  const e = Math.ceil(Math.log2(big)) + Math.ceil(Math.log2(N)) + 1;
  return e > 1019 ? 2 ** (e - 1019) : 1;
}

/** One-shot exact OT: min ⟨M, T⟩ over T ≥ 0 with T·1 = a, Tᵀ·1 = b. M is dense row-major. */
export function emd(a: ArrayLike<number>, b: ArrayLike<number>, M: ArrayLike<number>, options: EmdOptions = {}): EmdResult {
  return new TransportSimplex(a, b).solve(M, options);
}

/** Plain OT cost (POT's emd2). */
export function emd2(a: ArrayLike<number>, b: ArrayLike<number>, M: ArrayLike<number>, options: EmdOptions = {}): number {
  return new TransportSimplex(a, b).solve(M, { ...options, duals: false }).cost;
}
