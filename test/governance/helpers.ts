import { createRuntime, type ConfigInput, type Runtime, type Trace } from 'limit-graph';
import { BUILT_IN_PACKS } from '../../presets/governance/packs.ts';

export const PACKS = BUILT_IN_PACKS;
export const packPlugins = (): Record<string, boolean> => Object.fromEntries(PACKS.map((p) => [`governance-rules-${p}`, true]));

/** A runtime with SQLite (in memory), every built-in rule pack and the governance plugin. */
export async function governanceRuntime(governance: Record<string, unknown> = {}, extra: Partial<ConfigInput> = {}): Promise<Runtime> {
  return createRuntime({
    config: {
      logLevel: 'silent',
      storage: 'sqlite',
      ...extra,
      plugins: { 'storage-sqlite': { path: ':memory:' }, ...packPlugins(), governance, ...(extra.plugins ?? {}) },
    } as ConfigInput,
  });
}

let n = 0;
export function makeTrace(input: string, over: Partial<Trace> = {}): Trace {
  n++;
  return {
    id: `t-${Date.now().toString(36)}-${n}`, sessionId: 's1', tenant: 'default', parentIds: [], runner: 'python',
    task: { input, kind: 'code' }, status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: {},
    ...over,
  };
}

/** Stores a trace with a `created` provenance entry, as the orchestrator does. */
export async function storeTrace(rt: Runtime, trace: Trace): Promise<Trace> {
  const storage = rt.resolve('storage');
  if (!(await storage.getSession(trace.tenant, trace.sessionId))) {
    await storage.createSession({ id: trace.sessionId, tenant: trace.tenant, name: '', status: 'open', createdAt: new Date().toISOString(), limits: { maxConcurrency: 4, allowNetwork: false, timeoutMs: 30000, memoryMb: 512 }, metadata: {} });
  }
  await storage.createTrace(trace);
  await storage.appendProvenance(trace.tenant, { traceId: trace.id, at: new Date().toISOString(), actor: 'test', action: 'created', operation: 'add' });
  return trace;
}
