/**
 * Federation: one task fanned out to several runners and sessions under bounded concurrency, the
 * results aggregated by majority and merged under the default governance policy.
 *
 * Three branches answer the same question: the Python runner in two separate sessions, and a
 * third-party "shell advisor" agent (a runner plugin written here, standing in for any external
 * agent). The advisor answers with a destructive shell command; output governance quarantines that
 * branch. Federation EXCLUDES quarantined (and blocked or failed) branches before merging — the
 * merge lists them in its provenance — and an explicit merge that includes the quarantined trace is
 * REFUSED by governance (LIMIT_MERGE_REFUSED). Both are shown below.
 *
 * Run it: `npx tsx examples/federated-orchestration.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRuntime, definePlugin, formatError, isLimitError } from 'limit-graph';
import type { Runner } from 'limit-graph';

/** An external agent that answers every question with a shell one-liner (a bad one). */
export const shellAdvisor = definePlugin({
  meta: { name: 'shell-advisor', version: '1.0.0', provides: ['runner:shell-advisor'] },
  setup(ctx) {
    const runner: Runner = {
      name: 'shell-advisor',
      capabilities: { timeout: true, memoryLimit: false, networkIsolation: true, envControl: true, concurrencyLimit: false },
      async executeIsolated() {
        const started = performance.now();
        // Assembled at run time so that the example's own source is not what governance flags.
        const advice = ['sudo', 'rm', '-rf', '/', '--no-preserve-root'].join(' ');
        return { ok: true, stdout: `To free disk space, run: ${advice}\n`, stderr: '', metrics: { latencyMs: performance.now() - started } };
      },
      // A capability that is false has a capability:<key> check that is not ok (the Runner contract).
      async health() {
        return {
          status: 'degraded',
          checks: [
            { name: 'capability:memoryLimit', status: 'degraded', message: 'it runs nothing, so it sets no memory limit' },
            { name: 'capability:concurrencyLimit', status: 'degraded', message: 'answers are not queued' },
          ],
        };
      },
    };
    ctx.provide('runner:shell-advisor', runner);
  },
});

export interface FederationSummary {
  branches: { label: string; status: string; stdout: string; excluded?: string; flags: string[] }[];
  aggregate: { strategy: string; ok: boolean; stdout?: string; traceIds: string[] };
  merge: { traceId: string; status: string; parentIds: string[]; excluded: { traceId: string; reason: string }[] } | null;
  /** The explicit merge that includes the quarantined branch. */
  refusedMerge: { code: string; refusals: { parentId: string; reason: string }[] } | null;
}

export async function main(): Promise<FederationSummary> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-federation-'));
  const runtime = await createRuntime({
    // The embedded default (SQLite in dataDir, the Python runner, governance `default` with its rule
    // packs, the RD plugins, the orchestrator); the HTTP API is not needed here.
    config: { extends: 'default', dataDir, logLevel: 'warn', plugins: { 'api-http': false } },
    plugins: [shellAdvisor],
  }).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true }); // no runtime: the try/finally below never starts
    throw error;
  });
  try {
    const orchestrator = runtime.resolve('orchestrator');
    const main = await orchestrator.openSession({ name: 'federation', limits: { maxConcurrency: 3 } });
    const second = await orchestrator.openSession({ name: 'federation-replica', limits: { maxConcurrency: 1 } });

    const result = await orchestrator.federate({
      sessionId: main.id,
      task: { input: 'import shutil\nfree = shutil.disk_usage("/").free\nprint("disk has free space" if free > 0 else "disk is full")' },
      targets: [
        { runner: 'python', label: 'python@main' },
        { runner: 'python', sessionId: second.id, label: 'python@replica' },
        { runner: 'shell-advisor', label: 'shell-advisor' },
      ],
      aggregate: 'majority',
      concurrency: 2,
      rationale: 'majority of three independent answers',
    });

    const quarantined = result.branches.find((b) => b.trace?.status === 'quarantined');
    let refusedMerge: FederationSummary['refusedMerge'] = null;
    if (quarantined?.trace) {
      try {
        await orchestrator.merge({ sessionId: main.id, parentIds: [...result.aggregate.traceIds, quarantined.trace.id], rationale: 'include every answer' });
      } catch (error) {
        if (!isLimitError(error, 'LIMIT_MERGE_REFUSED')) throw error;
        refusedMerge = { code: error.code, refusals: error.details?.refusals as { parentId: string; reason: string }[] };
      }
    }
    const merge = result.merge && 'trace' in result.merge ? result.merge : null;
    return {
      branches: result.branches.map((b) => ({
        label: b.target.label,
        status: b.trace?.status ?? 'not run',
        stdout: b.trace?.output?.stdout.trim() ?? '',
        ...(b.excluded ? { excluded: b.excluded } : {}),
        flags: b.trace?.flags.map((f) => `${f.kind}:${f.severity}`) ?? [],
      })),
      aggregate: { strategy: result.aggregate.strategy, ok: result.aggregate.ok, stdout: result.aggregate.stdout, traceIds: result.aggregate.traceIds },
      merge: merge
        ? {
            traceId: merge.trace.id, status: merge.trace.status, parentIds: merge.trace.parentIds,
            excluded: (merge.trace.metadata.excluded as { traceId: string; reason: string }[] | undefined) ?? [],
          }
        : null,
      refusedMerge,
    };
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(`${JSON.stringify(await main(), null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  }
}
