/**
 * A small agent benchmark: a batch of tasks through one runner in one session (bounded by the
 * session's maxConcurrency), reporting success rates and latency percentiles — both the runner's
 * own latency and the whole governed pipeline's (governance, storage, provenance included).
 *
 * Run it: `npx tsx examples/agent-benchmark.ts [tasks] [concurrency]` (whole numbers: tasks 1–10000,
 * default 20; concurrency 1–1024, default 4; anything else is refused, exit 1). All tasks are sent
 * at once, so the orchestrator's `maxWaitingRuns` is raised to the number of tasks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createRuntime, formatError, isLimitError, LimitError, parseNumberOption } from 'limit-graph';
import type { Trace } from 'limit-graph';

export interface BenchmarkSummary {
  runner: string;
  tasks: number;
  concurrency: number;
  byStatus: Record<string, number>;
  successRate: number;
  /** Tasks expected to fail (they raise on purpose) that did fail: the runner reports failures faithfully. */
  expectedFailures: number;
  runnerLatencyMs: Percentiles;
  pipelineLatencyMs: Percentiles;
  throughputPerSec: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  const round = (v: number) => Math.round(v * 100) / 100;
  return { p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.at(-1) ?? 0) };
}

/** Task i: mostly small computations; every 5th raises, so the success rate is known in advance. */
function task(i: number): string {
  if (i % 5 === 4) return `raise ValueError("task ${i} fails on purpose")`;
  return `import hashlib\nprint(hashlib.sha256(b"${i}" * ${100 + i}).hexdigest()[:16])`;
}

const LIMITS = { tasks: 10_000, concurrency: 1024 } as const; // concurrency: a session's maxConcurrency

/**
 * `value` as a whole number from 1 to the limit of `name`, read by the kernel's parseNumberOption
 * (decimal digits only: not '0x4', '1e3', ' 8', '2.5'); its error says it was agent-benchmark's.
 */
function checked(name: keyof typeof LIMITS, value: string): number {
  try {
    return parseNumberOption(name, value, { integer: true, min: 1, max: LIMITS[name] });
  } catch (error) {
    if (!isLimitError(error)) throw error;
    throw new LimitError(error.code, `agent-benchmark: ${error.message}`, {
      details: error.details, cause: error,
      fix: 'Run it as `npx tsx examples/agent-benchmark.ts [tasks] [concurrency]`, e.g. `20 4`.',
    });
  }
}

/** The command line's `[tasks] [concurrency]`: decimal whole numbers in range, or absent (the defaults). */
export function parseBenchmarkArgs(args: readonly string[]): { tasks?: number; concurrency?: number } {
  if (args.length > 2) throw new LimitError('LIMIT_VALIDATION', `agent-benchmark takes at most two arguments, [tasks] [concurrency]; got ${args.length}`);
  const parsed: { tasks?: number; concurrency?: number } = {};
  (['tasks', 'concurrency'] as const).forEach((name, i) => {
    const arg = args[i];
    if (arg !== undefined) parsed[name] = checked(name, arg);
  });
  return parsed;
}

export async function main(options: { tasks?: number; concurrency?: number } = {}): Promise<BenchmarkSummary> {
  const tasks = options.tasks === undefined ? 20 : checked('tasks', String(options.tasks));
  const concurrency = options.concurrency === undefined ? 4 : checked('concurrency', String(options.concurrency));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-'));
  const runtime = await createRuntime({
    // The embedded default (SQLite in dataDir, the Python runner, governance `default` with its rule
    // packs, the RD plugins, the orchestrator); the HTTP API is not needed here.
    config: { extends: 'default', dataDir, logLevel: 'warn', plugins: { 'api-http': false, 'runner-python': { maxConcurrency: concurrency }, orchestrator: { maxWaitingRuns: tasks } } },
  }).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true }); // no runtime: the try/finally below never starts
    throw error;
  });
  try {
    const orchestrator = runtime.resolve('orchestrator');
    const session = await orchestrator.openSession({ name: 'benchmark', limits: { maxConcurrency: concurrency, timeoutMs: 20_000 } });
    const pipeline: number[] = [];
    const started = performance.now();
    const traces: Trace[] = await Promise.all(
      Array.from({ length: tasks }, async (_, i) => {
        const t0 = performance.now();
        const { trace } = await orchestrator.run({ sessionId: session.id, runner: 'python', task: { input: task(i) } });
        pipeline.push(performance.now() - t0);
        return trace;
      }),
    );
    const elapsed = performance.now() - started;
    await orchestrator.closeSession(undefined, session.id);
    const byStatus: Record<string, number> = {};
    for (const t of traces) byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
    return {
      runner: 'python',
      tasks,
      concurrency,
      byStatus,
      successRate: (byStatus.ok ?? 0) / tasks,
      expectedFailures: traces.filter((t, i) => i % 5 === 4 && t.status === 'error').length,
      runnerLatencyMs: percentiles(traces.map((t) => t.metrics?.latencyMs ?? 0)),
      pipelineLatencyMs: percentiles(pipeline),
      throughputPerSec: Math.round((tasks / (elapsed / 1000)) * 100) / 100,
    };
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(`${JSON.stringify(await main(parseBenchmarkArgs(process.argv.slice(2))), null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  }
}
