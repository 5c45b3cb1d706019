/**
 * FGW solver timings on random attributed graphs (seeded): exact (conditional gradient + network
 * simplex) and entropic (PGD + stabilised log-domain Sinkhorn with Newton), for n = 50, 100, 200,
 * 400, 8 features, α = 0.5, ε = 0.1. Each figure is the median of a few runs. Baselines measured in the
 * same run, reported as ratios:
 *   - one plain exact OT (EMD) of the same size, for the exact solver;
 *   - the reference-replica scaling Sinkhorn (same outer loop), for the entropic solver.
 *
 *   npx tsx bench/rd.ts [--sizes 50,100,200,400] [--runs 3] [--epsilon 0.1]
 *   npm run bench -- rd
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { emd } from '../plugins/rd-fgw/emd.ts';
import { fgwEntropic } from '../plugins/rd-fgw/entropic.ts';
import { fgwExact } from '../plugins/rd-fgw/exact.ts';
import { type AttributedGraph, problemFromGraphs } from '../plugins/rd-fgw/graph.ts';
import type { FgwProblem } from '../plugins/rd-fgw/problem.ts';
import { wasmGemmAvailable } from '../plugins/rd-fgw/wasm-gemm.ts';

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A connected random graph: a random spanning tree plus ~n extra edges (mean degree ≈ 4),
 * Gaussian features of dimension `dim`, uniform node weights.
 */
export function randomGraph(n: number, dim: number, seed: number): AttributedGraph {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r() || 1e-300)) * Math.cos(2 * Math.PI * r());
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: Array.from({ length: dim }, gauss) }));
  const edges: { source: string; target: string }[] = [];
  for (let i = 1; i < n; i++) edges.push({ source: `v${Math.floor(r() * i)}`, target: `v${i}` });
  for (let k = 0; k < n; k++) {
    const a = Math.floor(r() * n);
    const b = Math.floor(r() * n);
    if (a !== b) edges.push({ source: `v${a}`, target: `v${b}` });
  }
  return { nodes, edges };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export interface RdBenchOptions {
  sizes?: number[];
  runs?: number;
  epsilon?: number;
  alpha?: number;
  dim?: number;
}

export async function runRdBench(options: RdBenchOptions = {}): Promise<Record<string, unknown>> {
  const sizes = options.sizes ?? [50, 100, 200, 400];
  const runs = options.runs ?? 3;
  const epsilon = options.epsilon ?? 0.1;
  const alpha = options.alpha ?? 0.5;
  const dim = options.dim ?? 8;
  const results: Record<string, unknown>[] = [];
  // Warm-up on a small instance so that the first timed size does not pay for JIT compilation.
  const warm = problemFromGraphs(randomGraph(40, dim, 7), randomGraph(40, dim, 8), { normalize: true });
  for (let k = 0; k < 20; k++) {
    fgwExact(warm, { alpha });
    fgwEntropic(warm, { alpha, epsilon });
    emd(warm.p, warm.q, warm.M);
  }
  for (const n of sizes) {
    const build = time(() => {
      const pb = problemFromGraphs(randomGraph(n, dim, 1000 + n), randomGraph(n, dim, 2000 + n), { normalize: true });
      // Feature costs scaled to [0, 1] like the structures, so neither term swamps the other.
      let mx = 0;
      for (const v of pb.M) if (v > mx) mx = v;
      for (let k = 0; k < pb.M.length; k++) pb.M[k] = pb.M[k]! / mx;
      return pb;
    });
    const pb: FgwProblem = build.value;
    // Cheap sizes get more repetitions (stabler medians); the largest fewer, to stay near a minute.
    const reps = n <= 100 ? 4 * runs : n >= 400 ? Math.min(runs, 3) : runs;

    const exactTimes: number[] = [];
    let exact = fgwExact(pb, { alpha });
    for (let k = 0; k < reps; k++) {
      const t = time(() => fgwExact(pb, { alpha }));
      exactTimes.push(t.ms);
      exact = t.value;
    }
    const emdTimes: number[] = [];
    for (let k = 0; k < reps; k++) emdTimes.push(time(() => emd(pb.p, pb.q, pb.M)).ms);

    const entTimes: number[] = [];
    let ent = fgwEntropic(pb, { alpha, epsilon });
    for (let k = 0; k < reps; k++) {
      const t = time(() => fgwEntropic(pb, { alpha, epsilon }));
      entTimes.push(t.ms);
      ent = t.value;
    }
    const replica = time(() => fgwEntropic(pb, { alpha, epsilon, solver: 'scaling' }));

    const exactMs = median(exactTimes);
    const emdMs = median(emdTimes);
    const entMs = median(entTimes);
    results.push({
      n,
      buildMs: round(build.ms),
      exact: {
        ms: round(exactMs),
        iterations: exact.iterations,
        value: exact.value,
        pivots: exact.diagnostics.lpPivots.reduce((a, b) => a + b, 0),
        msPerIteration: round(exactMs / exact.iterations),
        baselineEmdMs: round(emdMs),
        ratioToOneEmd: round(exactMs / emdMs),
      },
      entropic: {
        ms: round(entMs),
        iterations: ent.iterations,
        converged: ent.converged,
        value: ent.value,
        innerSweeps: ent.diagnostics.innerSweeps,
        baselineScalingReplicaMs: round(replica.ms),
        scalingReplicaIterations: replica.value.iterations,
        ratioToScalingReplica: round(entMs / replica.ms),
      },
    });
  }
  return {
    benchmark: 'rd',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: { alpha, epsilon, features: dim, runs, graphs: 'random connected, mean degree ≈ 4, shortest-path structure ÷ diameter, feature cost ÷ its max, uniform weights', median: true, wasmGemm: wasmGemmAvailable() },
    results,
  };
}

/** `limit bench rd` entry point. */
export async function run(args: string[] = []): Promise<unknown> {
  const sizes = arg(args, 'sizes')?.split(',').map(Number);
  const runs = arg(args, 'runs');
  const epsilon = arg(args, 'epsilon');
  return runRdBench({
    ...(sizes ? { sizes } : {}),
    ...(runs ? { runs: Number(runs) } : {}),
    ...(epsilon ? { epsilon: Number(epsilon) } : {}),
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await run(process.argv.slice(2)), null, 2));
}
