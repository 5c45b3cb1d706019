/**
 * runner-python overhead. Baseline, measured in the same run: a bare `<python> -c pass` spawn of the
 * same interpreter through execa. Reports the cold execution (sandboxed process per task) as a
 * ratio to that baseline, and the warm per-call latency (p50/p99) of a session's worker.
 *
 * --python (checked before anything runs: not empty or padded, and it starts) and --cgroup (a path,
 * auto or none) are read as runner-python's options.
 *
 *   npx tsx bench/python.ts [--python /usr/bin/python3] [--cold 40] [--warm 1000]
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { SessionLimits, Task, optionalNumberOption, parseTextOption, pathText, rawOption, type RunContext } from 'limit-graph';
import { PythonRunner } from '../plugins/runner-python/runner.ts';
import { RunnerPythonOptions } from '../plugins/runner-python/options.ts';
import { runAsScript } from './_script.ts';
import { checkPython } from './_python.ts';

const arg = rawOption;

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { n: s.length, p50: r(quantile(s, 0.5)), p90: r(quantile(s, 0.9)), p99: r(quantile(s, 0.99)), min: r(s[0]!), max: r(s[s.length - 1]!) };
}

/** The options run() reads, for `limit bench` (which refuses any other). */
export const options = {
  python: 'the Python interpreter (default /usr/bin/python3)',
  cold: 'cold executions (default 40)',
  warm: 'warm calls (default 1000)',
  cgroup: "runner-python's cgroupRoot (default auto)",
};

/**
 * The values of the options (see `options`), checked — a LimitError naming the flag — before anything runs: `limit bench` calls it for every benchmark it is asked for before running any, run() for its own.
 * `--python` is checked with runner-python's own `python` schema (not empty, not padded) and must start as a Python
 * interpreter; `--cgroup` is a path (or auto, none), as pathText() takes one.
 */
export function parseOptions(args: readonly string[]): { python: string; coldN: number; warmN: number; cgroup: string | undefined } {
  const given = arg(args, 'python');
  const python = given === undefined ? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3') : parseTextOption('--python', given, RunnerPythonOptions.shape.python);
  const coldN = optionalNumberOption('--cold', arg(args, 'cold'), { integer: true, min: 1 }) ?? 40;
  const warmN = optionalNumberOption('--warm', arg(args, 'warm'), { integer: true, min: 1 }) ?? 1000;
  const cgroupGiven = arg(args, 'cgroup');
  const cgroup = cgroupGiven === undefined ? undefined : parseTextOption('--cgroup', cgroupGiven, pathText());
  checkPython('--python', python);
  return { python, coldN, warmN, cgroup };
}

export async function run(args: string[]): Promise<unknown> {
  const { python, coldN, warmN, cgroup } = parseOptions(args);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-py-'));
  chmodSync(dir, 0o711);
  const ctx = (id: string): RunContext => ({
    session: { id, tenant: 'bench', limits: SessionLimits.parse({ timeoutMs: 60_000 }) },
    traceId: 'bench',
    signal: new AbortController().signal,
  });
  const task = Task.parse({ input: 'pass' });
  const make = (warm: boolean) => new PythonRunner({ options: RunnerPythonOptions.parse({ python, warm, ...(cgroup !== undefined ? { cgroupRoot: cgroup } : {}) }), workDir: path.join(dir, warm ? 'warm' : 'cold') });
  const cold = make(false);
  const warm = make(true);
  try {
    const platform = await cold.start();
    await warm.start();
    // Interleave baseline and cold runs so drift on a shared machine hits both alike.
    const bare: number[] = [];
    const coldMs: number[] = [];
    for (let i = 0; i < coldN + 3; i++) {
      let t = performance.now();
      await execa(platform.executable, ['-c', 'pass']);
      const b = performance.now() - t;
      t = performance.now();
      const r = await cold.executeIsolated(task, ctx('cold'));
      const c = performance.now() - t;
      if (!r.ok) throw new Error(`cold run failed: ${JSON.stringify(r.error)}`);
      if (i >= 3) {
        bare.push(b);
        coldMs.push(c);
      }
    }
    const warmMs: number[] = [];
    const first = performance.now();
    await warm.executeIsolated(task, ctx('warm'));
    const workerStartMs = performance.now() - first;
    for (let i = 0; i < warmN + 20; i++) {
      const t = performance.now();
      const r = await warm.executeIsolated(task, ctx('warm'));
      if (!r.ok) throw new Error(`warm run failed: ${JSON.stringify(r.error)}`);
      if (i >= 20) warmMs.push(performance.now() - t);
    }
    const bareStats = stats(bare);
    const coldStats = stats(coldMs);
    const warmStats = stats(warmMs);
    return {
      bench: 'python',
      python: platform.executable,
      version: platform.version,
      sandbox: cold.capabilities,
      baseline: { what: `execa("${platform.executable}", ["-c", "pass"])`, ms: bareStats },
      cold: { what: 'executeIsolated("pass"), warm: false (process per task: netns, cgroup, rlimits, uid)', ms: coldStats, ratioP50: Math.round((coldStats.p50 / bareStats.p50) * 1000) / 1000 },
      warm: { what: 'executeIsolated("pass") on a session worker', workerStartMs: Math.round(workerStartMs * 1000) / 1000, ms: warmStats },
      targets: { warmP50Ms: 2, coldRatio: 1.3, warmP50Met: warmStats.p50 <= 2, coldRatioMet: coldStats.p50 / bareStats.p50 <= 1.3 },
    };
  } finally {
    await cold.dispose();
    await warm.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

runAsScript(import.meta.url, run, options);
