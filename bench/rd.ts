/**
 * FGW solver timings on random attributed graphs (seeded): exact (conditional gradient + network
 * simplex) and entropic (PGD + stabilised scaling Sinkhorn with absorption, log-sum-exp repair and
 * Newton), for n = 50, 100, 200, 400, 8 features, α = 0.5, ε = 0.1. Each figure is the median of a
 * few runs (best also given). Baselines measured in the
 * same run, reported as ratios:
 *   - one plain exact OT (EMD) of the same size, for the exact solver;
 *   - the reference-replica scaling Sinkhorn (same outer loop), for the entropic solver.
 *
 * With --python PATH (a Python with POT installed) the reference implementation is timed on the
 * same problems in the same run, interleaved — one of our runs, then one of POT's, repeated — with
 * single-threaded BLAS and the same repetitions; reported: medians, bests, their ratios ours/POT,
 * and `pairedRatioToPot`, the median over repetitions of (our run / the POT run right after it),
 * which load on a shared machine disturbs least. The interpreter is checked before anything runs
 * (it starts, and imports numpy and ot; a LimitError naming --python and what to install otherwise).
 * POT < 0.9 has no entropic FGW: its entropic GW
 * loop is run with the gradient mixed with (1 − α)·M, as POT ≥ 0.9's function does (see POT_SCRIPT).
 *
 *   npx tsx bench/rd.ts [--sizes 50,100,200,400] [--runs 3] [--epsilon 0.1] [--python /usr/bin/python3]
 *   npm run bench -- rd
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { emd } from '../plugins/rd-fgw/emd.ts';
import { fgwEntropic } from '../plugins/rd-fgw/entropic.ts';
import { fgwExact } from '../plugins/rd-fgw/exact.ts';
import { type AttributedGraph, problemFromGraphs } from '../plugins/rd-fgw/graph.ts';
import type { FgwProblem } from '../plugins/rd-fgw/problem.ts';
import { runAsScript } from './_script.ts';
import { checkPython, pythonOption } from './_python.ts';
import { EntropicKernel } from '../plugins/rd-fgw/wasm-entropic.ts';
import { wasmGemmAvailable } from '../plugins/rd-fgw/wasm-gemm.ts';
import { LimitError, optionalNumberOption, parseNumberOption, rawOption, mulberry32 as rng } from 'limit-graph';

const arg = rawOption;


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
  /** A Python interpreter with POT (`import ot`): time the reference on the same problems. */
  python?: string;
}

/**
 * The reference side, one Python process per problem size that stays up: it answers one line per
 * command ("exact" or "entropic": one timed run; "count": iteration counts), so that the runs of
 * both implementations can be interleaved — on a shared machine, load then hits both alike.
 */
const POT_SCRIPT = `
import json, sys, time, warnings
import numpy as np, ot
warnings.filterwarnings('ignore')
d = json.load(open(sys.argv[1]))
n1, n2 = d['n1'], d['n2']
M = np.array(d['M']).reshape(n1, n2); C1 = np.array(d['C1']).reshape(n1, n1); C2 = np.array(d['C2']).reshape(n2, n2)
p = np.array(d['p']); q = np.array(d['q'])
alpha, epsilon = d['alpha'], d['epsilon']
native = hasattr(ot.gromov, 'entropic_fused_gromov_wasserstein')
counts = {'outer': 0, 'sweeps': 0}

def pgd(sinkhorn):
    # POT < 0.9 has entropic_gromov_wasserstein (alpha = 1) only. This is its loop, built from the
    # same POT primitives, with the gradient mixed with M as POT >= 0.9's entropic_fused_gromov_wasserstein
    # (PGD, symmetric C) does: start p q^T, tens = alpha*gwggrad + (1-alpha)*M, ot.sinkhorn,
    # ||T - Tprev|| tested at iterations 0, 10, 20, ..., value excluding the entropy.
    T = np.outer(p, q)
    constC, hC1, hC2 = ot.gromov.init_matrix(C1, C2, p, q, 'square_loss')
    cpt, err = 0, 1
    while err > 1e-9 and cpt < 1000:
        Tprev = T
        tens = alpha * ot.gromov.gwggrad(constC, hC1, hC2, T) + (1 - alpha) * M
        T = sinkhorn(p, q, tens, epsilon, method='sinkhorn')
        if cpt % 10 == 0:
            err = np.linalg.norm(T - Tprev)
        cpt += 1
    counts['outer'] = cpt
    return T, {'fgw_dist': (1 - alpha) * np.sum(M * T) + alpha * ot.gromov.gwloss(constC, hC1, hC2, T)}

def counted_sinkhorn(a, b, C, reg, **kw):
    T, log = ot.sinkhorn(a, b, C, reg, log=True, **kw)
    counts['sweeps'] += log['niter'] + 1
    return T

fns = {
    'exact': lambda: ot.gromov.fused_gromov_wasserstein(M, C1, C2, p, q, alpha=alpha, log=True),
    'entropic': (lambda: ot.gromov.entropic_fused_gromov_wasserstein(M, C1, C2, p, q, epsilon=epsilon, alpha=alpha, log=True))
                if native else (lambda: pgd(ot.sinkhorn)),
}
for fn in fns.values():
    fn()
print(json.dumps({'pot': ot.__version__, 'entropicImpl': 'ot.gromov.entropic_fused_gromov_wasserstein' if native else
    'POT ' + ot.__version__ + ' entropic_gromov_wasserstein loop + (1-alpha)*M (init_matrix, gwggrad, gwloss, ot.sinkhorn)'}), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'count':
        r = fns['exact']()
        out = {'exact': len(r[1]['loss']) - 1 if 'loss' in r[1] else None}
        if not native:
            counts['sweeps'] = 0
            pgd(counted_sinkhorn)
            out['entropic'] = counts['outer']
            out['entropicSweeps'] = counts['sweeps']
        print(json.dumps(out), flush=True)
        continue
    t0 = time.perf_counter(); r = fns[cmd](); ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({'ms': ms, 'value': float(r[1]['fgw_dist'])}), flush=True)
`;

/** What the reference needs of `--python`: numpy, and POT (the module `ot`). */
const POT_MODULES = [{ module: 'numpy', pip: 'numpy' }, { module: 'ot', pip: 'POT' }];

class PotProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private readonly dir: string;
  private stderr = '';
  /** Why the process could not be started (spawn's 'error' event: ENOENT, EACCES). */
  private failure: Error | undefined;
  /** Settles once the process has ended and its output is read (also after a failed start). */
  private readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(private readonly python: string, pb: FgwProblem, alpha: number, epsilon: number) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-rd-'));
    const file = path.join(this.dir, 'problem.json');
    writeFileSync(file, JSON.stringify({ n1: pb.n1, n2: pb.n2, M: Array.from(pb.M), C1: Array.from(pb.C1), C2: Array.from(pb.C2), p: Array.from(pb.p), q: Array.from(pb.q), alpha, epsilon }));
    // Single-threaded BLAS: our solver runs on one thread too.
    const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
    this.child = spawn(python, ['-c', POT_SCRIPT, file], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('error', (error) => (this.failure ??= error));
    this.child.stdin.on('error', () => undefined); // a write after the process ended: next() reports why it ended
    this.child.stderr.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    this.closed = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  private async next<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) {
      const { code, signal } = await this.closed;
      const how = this.failure ? `could not be started (${(this.failure as NodeJS.ErrnoException).code ?? this.failure.message})` : signal ? `was killed (${signal})` : `exited with ${code}`;
      const last = this.stderr.trim().split('\n').at(-1);
      throw new LimitError('LIMIT_VALIDATION', `bench rd: the POT reference (--python ${this.python}) ${how} before it answered${last ? `: ${last}` : ''}`, {
        details: { field: '--python', value: this.python, code, signal, stderr: this.stderr },
        ...(this.failure ? { cause: this.failure } : {}),
        fix: `The reference needs a Python with numpy and POT (${this.python} -m pip install numpy POT); details.stderr holds its error output. Leave --python out to time our solvers alone.`,
      });
    }
    try {
      return JSON.parse(r.value) as T;
    } catch {
      throw new LimitError('LIMIT_VALIDATION', `bench rd: the POT reference (--python ${this.python}) printed ${JSON.stringify(r.value.slice(0, 200))} where a JSON line was expected`, {
        details: { field: '--python', value: this.python, stderr: this.stderr },
        fix: 'Check that nothing in that Python prints on stdout at startup (sitecustomize, a PYTHONSTARTUP file).',
      });
    }
  }

  ready(): Promise<{ pot: string; entropicImpl: string }> {
    return this.next();
  }

  run(name: 'exact' | 'entropic'): Promise<{ ms: number; value: number }> {
    this.child.stdin.write(`${name}\n`);
    return this.next();
  }

  count(): Promise<{ exact: number | null; entropic?: number; entropicSweeps?: number }> {
    this.child.stdin.write('count\n');
    return this.next();
  }

  close(): void {
    if (!this.child.stdin.destroyed) this.child.stdin.end();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Times `ours` and, when given, the reference run right after it, `reps` times (interleaved). */
async function timePair<T>(reps: number, ours: () => T, pot: (() => Promise<{ ms: number; value: number }>) | null) {
  const mine: number[] = [];
  const theirs: number[] = [];
  let value: T | undefined;
  let potValue = NaN;
  for (let k = 0; k < reps; k++) {
    const t = time(ours);
    mine.push(t.ms);
    value = t.value;
    if (pot) {
      const r = await pot();
      theirs.push(r.ms);
      potValue = r.value;
    }
  }
  return { mine, theirs, value: value as T, potValue };
}

function potFigures(mine: number[], theirs: number[]): Record<string, number> {
  return {
    potMs: round(median(theirs)),
    potBestMs: round(Math.min(...theirs)),
    ratioToPot: round(median(mine) / median(theirs)),
    bestRatioToPot: round(Math.min(...mine) / Math.min(...theirs)),
    // Each of our runs against the reference run right after it, then the median of those ratios.
    pairedRatioToPot: round(median(mine.map((m, k) => m / theirs[k]!))),
  };
}

export async function runRdBench(options: RdBenchOptions = {}): Promise<Record<string, unknown>> {
  const sizes = options.sizes ?? [50, 100, 200, 400];
  const runs = options.runs ?? 3;
  const epsilon = options.epsilon ?? 0.1;
  const alpha = options.alpha ?? 0.5;
  const dim = options.dim ?? 8;
  const results: Record<string, unknown>[] = [];
  let reference: { pot: string; entropicImpl: string } | null = null;
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

    const potProc = options.python ? new PotProcess(options.python, pb, alpha, epsilon) : null;
    try {
      if (potProc) reference = await potProc.ready();
      fgwExact(pb, { alpha });
      const ex = await timePair(reps, () => fgwExact(pb, { alpha }), potProc ? () => potProc.run('exact') : null);
      const exact = ex.value;
      const exactTimes = ex.mine;
      const emdTimes: number[] = [];
      for (let k = 0; k < reps; k++) emdTimes.push(time(() => emd(pb.p, pb.q, pb.M)).ms);

      fgwEntropic(pb, { alpha, epsilon });
      const en = await timePair(reps, () => fgwEntropic(pb, { alpha, epsilon }), potProc ? () => potProc.run('entropic') : null);
      const ent = en.value;
      const entTimes = en.mine;
      const replica = time(() => fgwEntropic(pb, { alpha, epsilon, solver: 'scaling' }));
      const counts = potProc ? await potProc.count() : null;

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
          bestMs: round(Math.min(...exactTimes)),
          msPerIteration: round(exactMs / exact.iterations),
          baselineEmdMs: round(emdMs),
          ratioToOneEmd: round(exactMs / emdMs),
          ...(counts ? { potValue: ex.potValue, potIterations: counts.exact, ...potFigures(ex.mine, ex.theirs) } : {}),
        },
        entropic: {
          ms: round(entMs),
          bestMs: round(Math.min(...entTimes)),
          iterations: ent.iterations,
          converged: ent.converged,
          value: ent.value,
          innerSweeps: ent.diagnostics.innerSweeps,
          baselineScalingReplicaMs: round(replica.ms),
          scalingReplicaIterations: replica.value.iterations,
          ratioToScalingReplica: round(entMs / replica.ms),
          ...(counts
            ? {
                potValue: en.potValue,
                potIterations: counts.entropic ?? null,
                potInnerSweeps: counts.entropicSweeps ?? null,
                valueRelDiffToPot: Number((Math.abs(ent.value - en.potValue) / Math.abs(en.potValue)).toPrecision(2)),
                ...potFigures(en.mine, en.theirs),
              }
            : {}),
        },
      });
    } finally {
      potProc?.close();
    }
  }
  return {
    benchmark: 'rd',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: { alpha, epsilon, features: dim, runs, graphs: 'random connected, mean degree ≈ 4, shortest-path structure ÷ diameter, feature cost ÷ its max, uniform weights', median: true, wasmGemm: wasmGemmAvailable(), wasmEntropic: EntropicKernel.create(1, 1) !== null, ...(reference ? { reference: { ...reference, blas: 'OPENBLAS_NUM_THREADS=1' } } : {}) },
    results,
  };
}

/** The options run() reads, for `limit bench` (which refuses any other). */
export const options = {
  sizes: 'graph sizes, comma-separated (default 50,100,200,400)',
  runs: 'runs per figure (default 3)',
  epsilon: 'entropic regularisation (default 0.1)',
  python: 'a Python with POT installed, to time the reference implementation too',
};

/** The values of the options (see `options`), checked — a LimitError naming the flag — before anything runs: `limit bench` calls it for every benchmark it is asked for before running any, run() for its own. */
export function parseOptions(args: readonly string[]): RdBenchOptions {
  const sizes = arg(args, 'sizes')?.split(',').map((v) => parseNumberOption('--sizes', v, { integer: true, min: 2 }));
  const runs = optionalNumberOption('--runs', arg(args, 'runs'), { integer: true, min: 1 });
  const epsilon = optionalNumberOption('--epsilon', arg(args, 'epsilon'), { min: 1e-12 });
  const given = arg(args, 'python');
  const python = given === undefined ? undefined : pythonOption('--python', given);
  // Before anything runs: the interpreter starts and has numpy and POT (not found after the other sizes, or benchmarks, ran).
  if (python !== undefined) checkPython('--python', python, POT_MODULES, 'the rd benchmark times POT, the reference FGW implementation, with it');
  return {
    ...(python !== undefined ? { python } : {}),
    ...(sizes ? { sizes } : {}),
    ...(runs !== undefined ? { runs } : {}),
    ...(epsilon !== undefined ? { epsilon } : {}),
  };
}

/** `limit bench rd` entry point. */
export async function run(args: string[] = []): Promise<unknown> {
  return runRdBench(parseOptions(args));
}

runAsScript(import.meta.url, run, options);
