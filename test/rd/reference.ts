/**
 * Loads the reference vectors of ../shared/reference/rd (beside the repository root), or of the
 * directory named by LIMIT_RD_REFERENCE_DIR (used to run the held-out set through the same tests).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const referenceDir: string = (() => {
  const env = process.env.LIMIT_RD_REFERENCE_DIR;
  if (env) return isAbsolute(env) ? env : resolve(process.cwd(), env);
  return fileURLToPath(new URL('../../../shared/reference/rd/', import.meta.url));
})();

export function loadReference<T>(file: string): T {
  return JSON.parse(readFileSync(join(referenceDir, file), 'utf8')) as T;
}

/**
 * Every `<kind>*.json` file of the reference directory (fgw_public.json, and whatever a held-out
 * directory names its files), so the same tests run over any set in the reference format.
 */
export function referenceFiles(kind: 'fgw' | 'rate' | 'knee'): string[] {
  const files = readdirSync(referenceDir)
    .filter((f) => f.startsWith(kind) && f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no ${kind}*.json reference file in ${referenceDir}`);
  return files;
}

export type Sparse = [number, number, number][];

export interface FgwExactRef {
  value: number;
  value_at_plan: number;
  lin_term: number;
  gw_term: number;
  n_iter: number;
  plan_sparse: Sparse;
  marginal_err: number;
  perm_values: number[];
  perm_rel_spread: number;
  multistart_values: number[];
  best_value_seen: number;
  worst_value_seen: number;
  stable: boolean;
  emd2_check?: number;
}

export interface FgwEntropicRef {
  epsilon: number;
  value: number | null;
  outer_iter: number;
  converged: boolean;
  sinkhorn_not_converged_warnings: number;
  sinkhorn_numerical_error_warnings: number;
  plan_marginal_err: number;
  logdomain_value: number | null;
  logdomain_outer_iter: number;
  logdomain_converged: boolean;
  perm_rel_diff: number;
  robust: boolean;
}

export interface FgwCase {
  id: string;
  n1: number;
  n2: number;
  symmetric: boolean;
  M: number[][];
  C1: number[][];
  C2: number[][];
  p: number[];
  q: number[];
  perms: [number[], number[]][];
  G0_random_vertices_sparse: Sparse[];
  results: { alpha: number; exact: FgwExactRef; entropic: FgwEntropicRef[] }[];
}

export interface FgwFile {
  cases: FgwCase[];
}

/** The instance relabelled by [a, b]: M[a[i]][b[j]], C1[a[i]][a[k]], C2[b[j]][b[l]], p[a[i]], q[b[j]]. */
export function permuteCase(c: FgwCase, a: number[], b: number[]): { M: number[][]; C1: number[][]; C2: number[][]; p: number[]; q: number[] } {
  return {
    M: a.map((ai) => b.map((bj) => c.M[ai]![bj]!)),
    C1: a.map((ai) => a.map((ak) => c.C1[ai]![ak]!)),
    C2: b.map((bj) => b.map((bl) => c.C2[bj]![bl]!)),
    p: a.map((ai) => c.p[ai]!),
    q: b.map((bj) => c.q[bj]!),
  };
}

/** |x − ref| ≤ rtol·|ref| + atol */
export function close(x: number, ref: number, rtol: number, atol: number): boolean {
  return Math.abs(x - ref) <= rtol * Math.abs(ref) + atol;
}
