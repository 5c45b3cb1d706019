/**
 * Advanced features: a custom governance rule written inline, a rate–distortion refinement loop
 * whose knee is detected, and an artifact export verified — then tampered with and refused.
 *
 * - The custom rule flags Python that prints environment variables (a common leak in agent code)
 *   as HighRisk 8; under the default preset that quarantines the trace.
 * - The refinement loop grows a graph towards a reference graph; each step's FGW distortion to the
 *   reference (rd:fgw) and its rate (nodes + edges) go into an RD series; the knee detector reports
 *   the step after which more rate buys little distortion.
 * - The session is exported as JSONL with a SHA-256 manifest; `verifyArtifact` passes, and fails
 *   once one byte of a trace is changed.
 *
 * Run it: `npx tsx examples/advanced-features.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRuntime, formatError } from 'limit-graph';
import type { AttributedGraph, GovernanceRule } from 'limit-graph';

/** The custom rule: printing the process environment leaks secrets into traces. */
export const envLeakRule: GovernanceRule = {
  id: 'example.env-leak',
  flag: 'HighRisk',
  surfaces: ['input'],
  description: 'Code that prints the whole process environment',
  evaluate(subject) {
    const m = /print\s*\(\s*(?:dict\()?\s*os\.environ\b/.exec(subject.text);
    if (!m) return [];
    return [{
      ruleId: 'example.env-leak', kind: 'HighRisk', severity: 8, reason: 'Prints the process environment (secrets leak into the trace)',
      evidence: [{ field: subject.field, start: m.index, end: m.index + m[0].length, excerpt: m[0] }],
    }];
  },
};

/** A path graph of `n` nodes with 2-d features on the unit circle. */
export function pathGraph(n: number): AttributedGraph {
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `v${i}`, features: [Math.cos(i / 3), Math.sin(i / 3)] }));
  return { nodes, edges: nodes.slice(1).map((v, i) => ({ source: nodes[i]!.id, target: v.id })) };
}

export interface AdvancedSummary {
  customRule: { traceId: string; status: string; executed: boolean; flags: string[] };
  rd: { points: { step: number; rate: number; distortion: number }[]; detector: string; knee: { step: number; rate: number; distortion: number } | null };
  export: { format: string; parts: Record<string, number>; verified: boolean; tamperedVerified: boolean; tamperedProblems: string[] };
}

export async function main(): Promise<AdvancedSummary> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-advanced-'));
  const runtime = await createRuntime({
    // The embedded default (SQLite in dataDir, the Python runner, governance `default` with its rule
    // packs, the RD plugins, the orchestrator); the HTTP API is not needed here.
    config: { extends: 'default', dataDir, logLevel: 'warn', plugins: { 'api-http': false, governance: { preset: 'default', rules: [envLeakRule] } } },
  }).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true }); // no runtime: the try/finally below never starts
    throw error;
  });
  try {
    const orchestrator = runtime.resolve('orchestrator');
    const session = await orchestrator.openSession({ name: 'advanced' });

    // 1. The custom rule at work.
    const leak = await orchestrator.run({ sessionId: session.id, runner: 'python', task: { input: 'import os\nprint(dict(os.environ))' } });
    await orchestrator.run({ sessionId: session.id, runner: 'python', task: { input: 'print("a clean neighbour")' } });

    // 2. A refinement loop: graphs of 2, 4, … 16 nodes measured against a 16-node reference.
    const reference = pathGraph(16);
    const { series, knee } = await orchestrator.refine({
      sessionId: session.id, name: 'path refinement', reference, maxSteps: 8, detector: 'kneedle',
      step: (i) => {
        const g = pathGraph(2 * (i + 1));
        return { graph: g, rate: g.nodes.length + g.edges.length };
      },
    });

    // 3. Export, verify, tamper, verify again.
    const artifact = await orchestrator.exportArtifact({ sessionId: session.id, format: 'jsonl' });
    const verified = orchestrator.verifyArtifact(artifact.files).ok;
    const tampered = artifact.files.map((f) => ({ ...f, content: f.content.replace('a clean neighbour', 'a clean neighbor') }));
    const again = orchestrator.verifyArtifact(tampered);
    await orchestrator.closeSession(undefined, session.id);

    return {
      customRule: { traceId: leak.trace.id, status: leak.trace.status, executed: leak.executed, flags: leak.trace.flags.map((f) => `${f.kind}:${f.severity}:${f.ruleId}`) },
      rd: {
        points: series.points.map((p) => ({ step: p.step, rate: p.rate, distortion: Math.round(p.distortion * 1e4) / 1e4 })),
        detector: knee.detector,
        knee: knee.point ? { step: knee.point.step, rate: knee.point.rate, distortion: knee.point.distortion } : null,
      },
      export: {
        format: artifact.manifest.encoding,
        parts: Object.fromEntries(Object.entries(artifact.manifest.parts).map(([k, v]) => [k, v.records])),
        verified,
        tamperedVerified: again.ok,
        tamperedProblems: again.problems,
      },
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
