/**
 * One entry point for FGW: graphs or matrices in, value + coupling + diagnostics out.
 */
import { checkDeadline, deadlineOf, invalid } from './errors.ts';
import { type ExactDiagnostics, type FgwResult, fgwExact } from './exact.ts';
import { type EntropicDiagnostics, type InnerSolver, fgwEntropic } from './entropic.ts';
import { type AttributedGraph, type GraphOptions, problemFromGraphs } from './graph.ts';
import { type FgwProblem, type MatrixInput, problemFromMatrices, toSparsePlan } from './problem.ts';

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

function isGraphPair(x: FgwInput): x is { source: AttributedGraph; target: AttributedGraph } {
  return typeof x === 'object' && x !== null && 'source' in x && 'target' in x;
}

export function toProblem(input: FgwInput, options: GraphOptions = {}): FgwProblem {
  if (input === null || typeof input !== 'object') throw invalid('input', 'expected { source, target } graphs or { M, C1, C2, p?, q? }');
  return isGraphPair(input) ? problemFromGraphs(input.source, input.target, options) : problemFromMatrices(input, options.maxMemoryMb);
}

export function solveFgw(pb: FgwProblem, options: FgwOptions = {}): AnyFgwResult {
  const method = options.method ?? 'exact';
  const alpha = options.alpha ?? 0.5;
  if (method === 'exact') {
    return fgwExact(pb, {
      alpha,
      ...(options.maxIter !== undefined ? { maxIter: options.maxIter } : {}),
      ...(options.tol !== undefined ? { tolRel: options.tol, tolAbs: options.tol } : {}),
      warmStartLp: options.warmStartLp ?? false,
      symmetric: options.symmetric ?? 'auto',
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
      ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    });
  }
  throw invalid('method', `must be 'exact' or 'entropic', got ${String(method)}`);
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
