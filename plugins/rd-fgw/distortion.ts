/**
 * `distortion`'s result from a solve — shared by the synchronous service method and the worker
 * thread of `distortionAsync`, so both give the same fields from the same code.
 */
import type { AttributedGraph as ContractGraph, DistortionResult } from 'limit-graph';
import { type AnyFgwResult, computeFgw } from './api.ts';
import type { RdFgwComputeOptions } from './options.ts';

/** What `distortion` returns: the contract's fields plus the two terms of the objective. */
export interface FgwDistortion extends DistortionResult {
  method: 'exact' | 'entropic';
  alpha: number;
  /** ⟨M, T⟩ (without the 1 − α factor). */
  linTerm: number;
  /** Σ (C1[i][k] − C2[j][l])² T[i][j] T[k][l] (without the α factor). */
  gwTerm: number;
  n1: number;
  n2: number;
}

/**
 * The distortion an FGW objective value reports: never below 0. The objective is a sum of
 * non-negative terms; the tracked cost can end a few ulps below 0 (a graph against itself: −2.9e-13
 * for a 50-node path), and a distortion must never be negative. `compute` keeps the raw value;
 * `distortion`, `distortionAsync`, the API and `limit rd fgw` report this one.
 */
export function distortionValue(raw: number): number {
  return Math.max(0, raw);
}

/** Every field of an FgwDistortion except the plan, and the full result the plan is taken from. */
export function solveDistortion(source: ContractGraph, target: ContractGraph, opts: RdFgwComputeOptions): { summary: Omit<FgwDistortion, 'plan'>; result: AnyFgwResult } {
  const result = computeFgw({ source, target }, opts);
  return {
    result,
    summary: {
      value: distortionValue(result.value),
      iterations: result.iterations,
      converged: result.converged,
      method: opts.method,
      alpha: opts.alpha,
      linTerm: result.linTerm,
      gwTerm: result.gwTerm,
      n1: result.n1,
      n2: result.n2,
    },
  };
}

/** The result in the order `distortion` has always listed its fields (the plan fourth). */
export function withPlan(summary: Omit<FgwDistortion, 'plan'>, plan: [number, number, number][]): FgwDistortion {
  const { value, iterations, converged, ...rest } = summary;
  return { value, iterations, converged, plan, ...rest };
}
