/**
 * One entry point for FGW: graphs or matrices in, value + coupling + diagnostics out.
 */
import { isLimitError } from 'limit-graph';
import { checkDeadline, deadlineOf, invalid } from './errors.ts';
import { type ExactDiagnostics, type FgwResult, fgwExact } from './exact.ts';
import { type EntropicDiagnostics, type InnerSolver, fgwEntropic } from './entropic.ts';
import { type AttributedGraph, type GraphOptions, problemFromGraphs } from './graph.ts';
import { type FgwProblem, type FgwStart, type MatrixInput, type StartRun, checkAlpha, featureTermHasTies, featureTermIsConstant, northWestCorner, problemFromMatrices, toSparsePlan } from './problem.ts';

export type FgwMethod = 'exact' | 'entropic';

export interface FgwOptions extends GraphOptions {
  method?: FgwMethod;
  /** Weight of the structure term, in [0, 1] (default 0.5). */
  alpha?: number;
  /** Entropic only: ε > 0, absolute (default 0.1). */
  epsilon?: number;
  /** Entropic only: 'log' (default) or 'scaling' (the reference replica). */
  solver?: InnerSolver;
  /** Outer iterations: LPs for exact (default 10000), PGD steps for entropic (default 1000). */
  maxIter?: number;
  /** Exact: relative and absolute cost-change tolerance (default 1e-9); entropic: ‖ΔT‖_F (default 1e-9). */
  tol?: number;
  innerMaxIter?: number;
  innerTol?: number;
  /** Exact: start each LP from the previous basis (default false: every LP is solved cold like the reference). */
  warmStartLp?: boolean;
  symmetric?: boolean | 'auto';
  /**
   * Wall-clock limit in ms (default: none), from the start of `computeFgw` — building the matrices
   * counts — or of `solveFgw`. Past it the computation stops with LIMIT_RD_NOT_CONVERGED
   * (details.field 'timeLimitMs').
   */
  timeLimitMs?: number;
}

export type FgwInput = MatrixInput | { source: AttributedGraph; target: AttributedGraph };

export type AnyFgwResult = FgwResult<ExactDiagnostics> | FgwResult<EntropicDiagnostics>;

/**
 * Graphs when the input names either graph: `{ source }` alone is a graph pair missing its target
 * (refused naming `target`), not matrices missing C1.
 */
function isGraphPair(x: FgwInput): x is { source: AttributedGraph; target: AttributedGraph } {
  if (!('source' in x) && !('target' in x)) return false;
  const pair = x as { source?: unknown; target?: unknown };
  for (const side of ['source', 'target'] as const) {
    if (pair[side] === undefined) throw invalid(side, `is required (graphs need source and target; or give matrices { M, C1, C2, p?, q? } without either)`);
  }
  return true;
}

export function toProblem(input: FgwInput, options: GraphOptions = {}): FgwProblem {
  if (input === null || typeof input !== 'object') throw invalid('input', 'expected { source, target } graphs or { M, C1, C2, p?, q? }');
  return isGraphPair(input) ? problemFromGraphs(input.source, input.target, options) : problemFromMatrices(input, options.maxMemoryMb);
}

/** One run of the chosen solver from `G0` (undefined: the reference's start p·qᵀ). */
function solveFrom(pb: FgwProblem, options: FgwOptions, G0: Float64Array | undefined): AnyFgwResult {
  const method = options.method ?? 'exact';
  const alpha = options.alpha ?? 0.5;
  const start = G0 === undefined ? {} : { G0 };
  if (method === 'exact') {
    return fgwExact(pb, {
      alpha,
      ...(options.maxIter !== undefined ? { maxIter: options.maxIter } : {}),
      ...(options.tol !== undefined ? { tolRel: options.tol, tolAbs: options.tol } : {}),
      warmStartLp: options.warmStartLp ?? false,
      symmetric: options.symmetric ?? 'auto',
      ...start,
      ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    });
  }
  if (method === 'entropic') {
    return fgwEntropic(pb, {
      alpha,
      epsilon: options.epsilon ?? 0.1,
      solver: options.solver ?? 'log',
      ...(options.maxIter !== undefined ? { maxIter: options.maxIter } : {}),
      ...(options.tol !== undefined ? { tol: options.tol } : {}),
      ...(options.innerMaxIter !== undefined ? { innerMaxIter: options.innerMaxIter } : {}),
      ...(options.innerTol !== undefined ? { innerTol: options.innerTol } : {}),
      symmetric: options.symmetric ?? 'auto',
      ...start,
      ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    });
  }
  throw invalid('method', `must be 'exact' or 'entropic', got ${String(method)}`);
}

/** What the entropic method minimises: the FGW value plus ε·Σ T log T. */
function regularised(result: AnyFgwResult, epsilon: number): number {
  let s = 0;
  for (let k = 0; k < result.plan.length; k++) {
    const t = result.plan[k]!;
    if (t > 0) s += t * Math.log(t);
  }
  return result.value + epsilon * s;
}

/**
 * The structure term of an exact result is certainly at its minimum (0, up to the rounding of the
 * largest squared structure entry): with a constant feature term nothing can do better.
 */
function structureTermIsZero(result: AnyFgwResult, pb: FgwProblem): boolean {
  let c = 0;
  for (const C of [pb.C1, pb.C2]) for (let k = 0; k < C.length; k++) if (C[k]! > c) c = C[k]!;
  return Math.abs(result.gwTerm) <= 64 * Number.EPSILON * c * c;
}

/**
 * Both terms of an exact result are 0 (to the rounding of the largest entry of M and of C²): since
 * M ≥ 0, ⟨M, T⟩ ≥ 0 for every coupling, so nothing does better (a graph with itself matched node
 * by node).
 */
function valueIsZero(result: AnyFgwResult, pb: FgwProblem): boolean {
  let m = 0;
  for (let k = 0; k < pb.M.length; k++) if (pb.M[k]! > m) m = pb.M[k]!;
  return structureTermIsZero(result, pb) && Math.abs(result.linTerm) <= 64 * Number.EPSILON * m;
}

/**
 * FGW from the reference's start p·qᵀ. FGW is not convex: the solvers return a local optimum (a
 * stationary point of the iteration), and `converged` says the iteration met its stopping test, not
 * that no coupling does better. When the feature term is the same for every coupling (α = 1, or
 * equal or empty features on a side: pure Gromov–Wasserstein), nothing in the start tells the
 * nodes apart, and on symmetric structures (paths, cycles, stars, graphs without edges) the iteration
 * stops at a poor stationary point — the product itself, or the first vertex it reaches (a path with
 * itself: 1.11 at α = 0.5 where matching each node with itself gives 0). For such problems a second
 * run starts from the north-west-corner coupling (node order; for a graph with itself the identity)
 * and the better result is kept: the lower value (exact) or the lower FGW + ε·Σ T log T (entropic,
 * what it minimises), lower by more than 1e-9 relative (else the reference start's);
 * `diagnostics.starts` then lists both runs. The same holds for the nodes that the features do not
 * tell apart when features repeat (node types, one-hot labels: tied rows or columns of M on nodes
 * with mass, `featureTermHasTies`): p·qᵀ treats them alike and the first LP breaks the tie
 * arbitrarily (an 8-cycle of alternating types with itself: 0.5 exact, 1.5 entropic), so such
 * problems get the second run too, at α > 0 (α = 0 is a plain, convex OT). An exact first run
 * that is certainly optimal needs no second one: structure term 0 with a constant feature term,
 * both terms 0 otherwise (M ≥ 0). `timeLimitMs` bounds both runs together.
 */
export function solveFgw(pb: FgwProblem, options: FgwOptions = {}): AnyFgwResult {
  const method = options.method ?? 'exact';
  const alpha = options.alpha ?? 0.5;
  // One deadline for both runs: timeLimitMs bounds the whole computation.
  const deadline = options.deadline ?? deadlineOf(options.timeLimitMs);
  const timed = deadline === undefined ? options : { ...options, deadline };
  const first = solveFrom(pb, timed, undefined);
  const constant = featureTermIsConstant(pb, checkAlpha(alpha));
  if (!constant && (alpha === 0 || !featureTermHasTies(pb))) return first;
  if (method === 'exact' && (constant ? structureTermIsZero(first, pb) : valueIsZero(first, pb))) return first;
  const run = (r: AnyFgwResult, start: FgwStart, kept: boolean): StartRun => ({ start, kept, value: r.value, iterations: r.iterations, converged: r.converged });
  let second: AnyFgwResult;
  try {
    second = solveFrom(pb, timed, northWestCorner(pb.p, pb.q));
  } catch (error) {
    // The time limit bounds the whole computation; any other failure of the second run (an
    // entropic plan that is not a coupling from that start) leaves the first result standing.
    if (!isLimitError(error) || error.details?.field === 'timeLimitMs') throw error;
    return withStarts(first, [run(first, 'product', true), { start: 'north-west-corner', kept: false, error: error.message }]);
  }
  const score = (r: AnyFgwResult): number => (method === 'entropic' ? regularised(r, options.epsilon ?? 0.1) : r.value);
  const [a, b] = [score(first), score(second)];
  // Better by more than the solvers' own tolerance: two runs that end at the same point, to
  // rounding, keep the reference's.
  const keepSecond = b < a - 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-9);
  return withStarts(keepSecond ? second : first, [run(first, 'product', !keepSecond), run(second, 'north-west-corner', keepSecond)]);
}

function withStarts(result: AnyFgwResult, starts: StartRun[]): AnyFgwResult {
  return { ...result, diagnostics: { ...result.diagnostics, starts } } as AnyFgwResult;
}

/** Validates the input, builds the matrices and solves, all within `timeLimitMs` when one is given. */
export function computeFgw(input: FgwInput, options: FgwOptions = {}): AnyFgwResult {
  const deadline = options.deadline ?? deadlineOf(options.timeLimitMs);
  const timed = deadline === undefined ? options : { ...options, deadline };
  const pb = toProblem(input, timed);
  checkDeadline(deadline, 'building the matrices');
  return solveFgw(pb, timed);
}

/** The plan of a result as [i, j, mass] for entries above `threshold` (default 0). */
export function sparsePlan(result: { plan: ArrayLike<number>; n1: number; n2: number }, threshold = 0): [number, number, number][] {
  return toSparsePlan(result.plan, result.n1, result.n2, threshold);
}
