/**
 * Test doubles for the orchestrator's unit tests: an in-memory storage, a keyword governance engine
 * and a spy runner. The Done-when end-to-end tests use the real plugins instead (e2e.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  createRuntime, type ConfigInput, type Plugin, type Runtime,
  LimitError, applyTracePatch, hashProvenance, conflict, definePlugin, nextProvenanceEntry, notFound, paginate, nextRdStep, rdPointsBytes, rdSeriesSummary, withRdStep, validate, verifyProvenanceChain,
  compareNewestFirst, flagDigest,
} from 'limit-graph';
import type {
  Checkpoint, Counters, Finding, Flag, GovernancePolicy, GovernanceService, GovernanceVerdict, Orchestrator, ProvenanceEntry, ProvenanceInput, QuarantineState, RdSeries,
  Runner, RunResult, Session, Storage, Surface, TaskParsed, Trace, TracePatch, TraceStatus,
} from 'limit-graph';

/**
 * An in-memory storage that keeps the contract's write rules the orchestrator relies on, as the real
 * backends do: creating an existing id is LIMIT_CONFLICT, a missing record LIMIT_NOT_FOUND, patches
 * are applied by `applyTracePatch` (so a batch's `updateTrace` honours `ifStatus`), and `batch` is
 * validated with `validate.batch` and applied whole or not at all, in one synchronous step (so no
 * other call interleaves with it, as a transaction would). Listings are simplified.
 */
export function memoryStorage(): Storage {
  const state = {
    sessions: new Map<string, Session>(),
    traces: new Map<string, Trace>(),
    prov: new Map<string, ProvenanceEntry[]>(),
    checkpoints: new Map<string, Checkpoint[]>(),
    quarantine: new Map<string, QuarantineState>(),
    series: new Map<string, RdSeries>(),
    counters: new Map<string, Record<string, number>>(),
  };
  const { sessions, traces, prov, checkpoints, quarantine, series, counters } = state;
  const k = (t: string, id: string) => `${t}/${id}`;
  const trace = (t: string, id: string) => {
    const tr = traces.get(k(t, id));
    if (!tr) throw notFound('trace', t, id);
    return tr;
  };
  const clone = <T>(v: T): T => structuredClone(v);
  // The writes, synchronous so that `batch` applies them in one step.
  const write = {
    createSession(s: Session): Session {
      if (sessions.has(k(s.tenant, s.id))) throw conflict('session', s.tenant, s.id);
      sessions.set(k(s.tenant, s.id), clone(s));
      return clone(s);
    },
    createTrace(tr: Trace): Trace {
      if (traces.has(k(tr.tenant, tr.id))) throw conflict('trace', tr.tenant, tr.id);
      traces.set(k(tr.tenant, tr.id), clone({ ...tr, flags: tr.flags ?? [] }));
      return clone(tr);
    },
    updateTrace(t: string, id: string, patch: TracePatch, ifStatus?: TraceStatus, ifFlagCount?: number): Trace {
      const next = applyTracePatch(trace(t, id), clone(patch), ifStatus, ifFlagCount);
      traces.set(k(t, id), next);
      return clone(next);
    },
    appendProvenance(t: string, input: ProvenanceInput): ProvenanceEntry {
      trace(t, input.traceId);
      const list = prov.get(k(t, input.traceId)) ?? [];
      const e = nextProvenanceEntry(input, list.at(-1));
      list.push(e);
      prov.set(k(t, input.traceId), list);
      return clone(e);
    },
    addFlag(t: string, f: Flag): Flag { trace(t, f.traceId).flags.push(clone(f)); return clone(f); },
    addCheckpoint(t: string, c: Checkpoint): Checkpoint { trace(t, c.traceId); checkpoints.set(k(t, c.traceId), [...(checkpoints.get(k(t, c.traceId)) ?? []), clone(c)]); return clone(c); },
    setQuarantine(t: string, s: QuarantineState): QuarantineState { trace(t, s.traceId); quarantine.set(k(t, s.traceId), clone(s)); return clone(s); },
    incrementCounters(t: string, d: Counters): void { const c = counters.get(t) ?? {}; for (const [n, v] of Object.entries(d)) c[n] = (c[n] ?? 0) + v; counters.set(t, c); },
  };
  const restore = (saved: typeof state) => {
    for (const [name, map] of Object.entries(state) as [keyof typeof state, Map<string, unknown>][]) {
      map.clear();
      for (const [key, value] of saved[name]) map.set(key, value);
    }
  };
  return {
    backend: 'memory',
    supports: { multiProcess: false, crashSafe: false, transactions: true },
    async open() {}, async close() {}, async health() { return { status: 'ok', checks: [] }; }, async schemaVersion() { return 1; },
    async createSession(s) { return write.createSession(s); },
    async getSession(t, id) { return clone(sessions.get(k(t, id)) ?? null); },
    async listSessions(t) { return { items: [...sessions.values()].filter((s) => s.tenant === t).map(clone), nextCursor: null }; },
    async closeSession(t, id, at) {
      const s = sessions.get(k(t, id));
      if (!s) throw notFound('session', t, id);
      if (s.status === 'open') Object.assign(s, { status: 'closed', closedAt: at });
      return clone(s);
    },
    async createTrace(tr) { return write.createTrace(tr); },
    async updateTrace(t, id, patch) { return write.updateTrace(t, id, patch); },
    async getTrace(t, id) { return clone(traces.get(k(t, id)) ?? null); },
    async listTraces(t, q = {}) {
      const items = [...traces.values()].filter((tr) => tr.tenant === t && (!q.sessionId || tr.sessionId === q.sessionId)).sort(compareNewestFirst);
      return paginate(items.map(clone), q.limit ?? 100);
    },
    async appendProvenance(t, input) { return write.appendProvenance(t, input); },
    async listProvenance(t, id) { return clone(prov.get(k(t, id)) ?? []); },
    async verifyProvenance(t, id) { return verifyProvenanceChain(prov.get(k(t, id)) ?? []); },
    async addFlag(t, f) { return write.addFlag(t, f); },
    async listFlags(t, q = {}) { return [...traces.values()].filter((tr) => tr.tenant === t && (!q.traceId || tr.id === q.traceId)).flatMap((tr) => tr.flags).map(clone); },
    async addCheckpoint(t, c) { return write.addCheckpoint(t, c); },
    async listCheckpoints(t, id) { return clone(checkpoints.get(k(t, id)) ?? []); },
    async setQuarantine(t, s) { return write.setQuarantine(t, s); },
    async getQuarantine(t, id) { return clone(quarantine.get(k(t, id)) ?? null); },
    async listQuarantined(t) { return [...quarantine.entries()].filter(([key, s]) => key.startsWith(`${t}/`) && s.quarantined).map(([, s]) => clone(s)); },
    async createRdSeries(s) {
      if (series.has(k(s.tenant, s.id))) throw conflict('RD series', s.tenant, s.id);
      series.set(k(s.tenant, s.id), clone(s));
      return clone(s);
    },
    async appendRdPoint(t, id, p) {
      const s = series.get(k(t, id));
      if (!s) throw notFound('RD series', t, id);
      // Read and appended in one synchronous step: concurrent appends without a step get distinct ones.
      const point = withRdStep(id, clone(p), nextRdStep(s.points));
      s.points.push(point);
      return { seriesId: id, point: clone(point), pointCount: s.points.length, pointBytes: rdPointsBytes(s.points) };
    },
    async getRdSeries(t, id) { return clone(series.get(k(t, id)) ?? null); },
    async getRdSeriesSummary(t, id) { const s = series.get(k(t, id)); return s ? rdSeriesSummary(clone(s)) : null; },
    async listRdSeries(t, q = {}) { return [...series.values()].filter((s) => s.tenant === t && (!q.sessionId || s.sessionId === q.sessionId)).map(clone); },
    async incrementCounters(t, d) { write.incrementCounters(t, d); },
    async getCounters(t) { return { ...(counters.get(t) ?? {}) }; },
    // All or nothing, in one synchronous step: a refused op (an `ifStatus` that no longer holds, a
    // missing trace, an existing id) restores everything the batch wrote before it.
    async batch(t, ops) {
      const valid = validate.batch(t, ops);
      const saved = clone(state);
      for (let i = 0; i < valid.length; i++) {
        const op = valid[i]!;
        try {
          switch (op.op) {
            case 'createSession': write.createSession(op.session); break;
            case 'createTrace': write.createTrace(op.trace); break;
            case 'updateTrace': write.updateTrace(t, op.id, op.patch, op.ifStatus, op.ifFlagCount); break;
            case 'addFlag': write.addFlag(t, op.flag); break;
            case 'addCheckpoint': write.addCheckpoint(t, op.checkpoint); break;
            case 'setQuarantine': write.setQuarantine(t, op.state); break;
            case 'incrementCounters': write.incrementCounters(t, op.deltas); break;
            case 'appendProvenance': write.appendProvenance(t, op.input); break;
          }
        } catch (error) {
          restore(saved);
          if (error instanceof LimitError) throw new LimitError(error.code, `batch op ${i} (${op.op}): ${error.message}`, { cause: error, details: { index: i, ...error.details } });
          throw error;
        }
      }
    },
  };
}

export const memoryStoragePlugin = definePlugin({
  meta: { name: 'test-storage', version: '0.0.0', provides: ['storage'] },
  setup(ctx) {
    ctx.provide('storage', memoryStorage());
  },
});

export const POLICY: GovernancePolicy = {
  blockUnsafeMerge: true, requireProvenance: true, blockJailbreakTraces: true, blockAnomalyTraces: false, maxAnomalySeverity: 7,
  requireHumanReview: false, autoQuarantine: true, quarantineSeverity: 8, blockMaliciousTraces: true,
};

/** Keyword governance: JAILBREAK in the input blocks (severity 9); SECRET in the output is Malicious 9 (quarantine); WARN is Anomaly 3. */
export const keywordGovernancePlugin = definePlugin({
  meta: { name: 'test-governance', version: '0.0.0', provides: ['governance'], dependsOn: ['storage'] },
  options: z.object({ requireHumanReview: z.boolean().default(false) }),
  setup(ctx, options) {
    const policy = { ...POLICY, requireHumanReview: options.requireHumanReview };
    const storage = () => ctx.resolve('storage');
    const find = (trace: Trace, surface: Surface): Finding[] => {
      const text = surface === 'input' ? trace.task.input : `${trace.output?.stdout ?? ''}`;
      const out: Finding[] = [];
      if (surface === 'input' && text.includes('JAILBREAK')) out.push({ ruleId: 'kw.jailbreak', kind: 'Jailbreak', severity: 9, reason: 'jailbreak keyword', evidence: [] });
      if (surface === 'output' && text.includes('SECRET')) out.push({ ruleId: 'kw.secret', kind: 'Malicious', severity: 9, reason: 'secret leaked', evidence: [] });
      if (text.includes('WARN')) out.push({ ruleId: 'kw.warn', kind: 'Anomaly', severity: 3, reason: 'warning keyword', evidence: [] });
      return out;
    };
    const service: GovernanceService = {
      policy,
      async evaluate(trace, surface) {
        const findings = await ctx.hooks[surface === 'input' ? 'governInput' : 'governOutput'].promise(find(trace, surface), trace);
        const max = Math.max(0, ...findings.map((f) => f.severity));
        const verdict: GovernanceVerdict = findings.some((f) => f.kind === 'Jailbreak' && f.severity >= 8)
          ? { decision: 'block', findings, reasons: ['blockJailbreakTraces'] }
          : max >= policy.quarantineSeverity ? { decision: 'quarantine', findings, reasons: ['autoQuarantine'] } : { decision: 'allow', findings, reasons: [] };
        // Like the real engine: a checkpoint per evaluation, autoQuarantine applied here.
        await storage().addCheckpoint(trace.tenant, { traceId: trace.id, label: `governance:${surface}`, passed: verdict.decision === 'allow', details: { decision: verdict.decision }, at: new Date().toISOString() });
        if (verdict.decision === 'quarantine') await service.quarantine(trace.tenant, trace.id, { reason: 'autoQuarantine', actor: 'governance' });
        return verdict;
      },
      async recordFlags(trace, findings) {
        const flags: Flag[] = [];
        for (const f of findings) {
          const flag: Flag = { id: randomUUID(), traceId: trace.id, kind: f.kind, severity: f.severity, reason: f.reason, ruleId: f.ruleId, evidence: f.evidence, autoDetected: true, at: new Date().toISOString() };
          flags.push(await storage().addFlag(trace.tenant, flag));
          await ctx.hooks.traceFlagged.promise(trace, flag);
        }
        // Like the real service: an entry lists the flags, binding them to the chain (flagDigest).
        if (flags.length) {
          await storage().appendProvenance(trace.tenant, { traceId: trace.id, at: new Date().toISOString(), actor: 'governance', action: 'flagged', operation: 'flag', data: { flags: flags.map((f) => ({ id: f.id, kind: f.kind, severity: f.severity, ruleId: f.ruleId, sha256: flagDigest(f) })) } });
        }
        return flags;
      },
      async flag() { throw new Error('unused'); },
      async quarantine(tenant, traceId, input) {
        await storage().setQuarantine(tenant, { traceId, quarantined: true, reason: input.reason, actor: input.actor, at: new Date().toISOString() });
        await storage().updateTrace(tenant, traceId, { status: 'quarantined' });
      },
      async release() { throw new Error('unused'); },
      async validateMerge(request) {
        const refusals: { parentId: string; reason: string }[] = [];
        for (const id of request.parentIds) {
          const q = await storage().getQuarantine(request.tenant, id);
          if (q?.quarantined) refusals.push({ parentId: id, reason: 'quarantined' });
          const v = await storage().verifyProvenance(request.tenant, id);
          if (!v.verified || v.length === 0) refusals.push({ parentId: id, reason: 'provenance does not verify' });
        }
        return { allowed: refusals.length === 0, review: policy.requireHumanReview, refusals };
      },
      async stats() { return {}; },
    };
    ctx.provide('governance', service);
  },
});

export interface SpyRunner extends Runner {
  calls: TaskParsed[];
  closed: string[];
  /** The tenant each closeSession call named, in order. */
  closedTenants: (string | undefined)[];
  maxInFlight: number;
}

/** Echoes the task input to stdout; `FAIL` fails, `SLEEP:<ms>` waits (abortable), `HANG` ignores aborts. */
export function spyRunner(name = 'spy'): SpyRunner {
  let inFlight = 0;
  const runner: SpyRunner = {
    name, calls: [], closed: [], closedTenants: [], maxInFlight: 0,
    capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
    async executeIsolated(task, ctx): Promise<RunResult> {
      runner.calls.push(task);
      inFlight++;
      runner.maxInFlight = Math.max(runner.maxInFlight, inFlight);
      const started = performance.now();
      try {
        const sleep = /SLEEP:(\d+)/.exec(task.input);
        if (task.input.includes('HANG')) await new Promise((r) => setTimeout(r, 60_000).unref());
        if (sleep) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Number(sleep[1]));
            ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
          });
          if (ctx.signal.aborted) return { ok: false, stdout: '', stderr: '', error: { code: 'LIMIT_RUNNER_ABORTED', message: 'aborted' }, metrics: { latencyMs: performance.now() - started } };
        }
        if (task.input.includes('FAIL')) return { ok: false, stdout: '', stderr: 'boom', error: { code: 'LIMIT_RUNNER_TASK_ERROR', message: 'task failed' }, metrics: { latencyMs: performance.now() - started, exitCode: 1 } };
        return { ok: true, stdout: task.input.replace(/SLEEP:\d+/, '').trim(), stderr: '', metrics: { latencyMs: performance.now() - started, exitCode: 0 } };
      } finally {
        inFlight--;
      }
    },
    async health() { return { status: 'ok', checks: [] }; },
    async closeSession(id, tenant) { runner.closed.push(id); runner.closedTenants.push(tenant); },
  };
  return runner;
}

/** A runner whose tasks wait until `release()` lets the oldest go; `entered(n)` resolves once n have started. */
export function gateRunner() {
  const gates: (() => void)[] = [];
  const watchers: { n: number; resolve: () => void }[] = [];
  let entered = 0;
  const runner: Runner = {
    name: 'gate',
    capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
    async executeIsolated(task, ctx) {
      await new Promise<void>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        gates.push(resolve);
        entered++;
        for (const w of watchers.filter((x) => entered >= x.n)) w.resolve();
      });
      return { ok: true, stdout: `done ${task.input}`, stderr: '', metrics: { latencyMs: 1 } };
    },
    async health() {
      return { status: 'ok', checks: [] };
    },
  };
  return {
    plugin: definePlugin({ meta: { name: 'test-runner-gate', version: '0.0.0', provides: ['runner:gate'] }, setup: (ctx) => ctx.provide('runner:gate', runner) }),
    entered: (n: number) => new Promise<void>((resolve) => (entered >= n ? resolve() : watchers.push({ n, resolve }))),
    get started() {
      return entered;
    },
    /** Lets the oldest task still held go. */
    release: () => gates.shift()?.(),
  };
}

export function spyRunnerPlugin(runner: SpyRunner, pluginName = `test-runner-${runner.name}`) {
  return definePlugin({
    meta: { name: pluginName, version: '0.0.0', provides: [`runner:${runner.name}`] },
    setup(ctx) {
      ctx.provide(`runner:${runner.name}`, runner);
    },
  });
}

/**
 * A forged history for tamper tests: `entries` (a trace's chain) with its first entry's actor changed
 * and every hash recomputed, so that it verifies on its own, with other hashes than those recorded.
 */
export function rechain(entries: ProvenanceEntry[]): ProvenanceEntry[] {
  let prevHash = '0'.repeat(64);
  return entries.map((e, i) => {
    const body = { ...e, ...(i === 0 ? { actor: 'mallory' } : {}), prevHash };
    delete (body as Partial<ProvenanceEntry>).hash;
    const entry = { ...body, hash: hashProvenance(body) } as ProvenanceEntry;
    prevHash = entry.hash;
    return entry;
  });
}

/**
 * `traceId`'s chain in a SQLite store forged in place (rechain: its hashes recomputed, so it verifies
 * on its own), through `db`, a better-sqlite3 connection to the store's file.
 */
export async function forgeStoredChain(db: { prepare(sql: string): { run(...args: unknown[]): unknown } }, orch: Orchestrator, traceId: string): Promise<void> {
  const update = db.prepare('UPDATE provenance SET data = ?, hash = ? WHERE trace_id = ? AND seq = ?');
  for (const e of rechain((await orch.inspectTrace(undefined, traceId)).provenance)) update.run(JSON.stringify(e), e.hash, traceId, e.seq);
}

/** Three runs a, b, c of session `sessionId` and second = merge(first = merge(a, b), c). */
export async function mergeOfMerges(orch: Orchestrator, sessionId: string): Promise<Record<'a' | 'b' | 'c' | 'first' | 'second', Trace>> {
  const run = async (input: string) => (await orch.run({ sessionId, runner: 'spy', task: { input } })).trace;
  const a = await run('one');
  const b = await run('two');
  const c = await run('three');
  const first = (await orch.merge({ parentIds: [a.id, b.id], strategy: 'concat' })).trace;
  const second = (await orch.merge({ parentIds: [first.id, c.id], strategy: 'concat' })).trace;
  return { a, b, c, first, second };
}

/** A runtime on real SQLite (in memory) and governance without packs, with `orchestrator`'s options and the test's plugins. */
export function sqliteOrchestratorRuntime(orchestrator: Record<string, unknown>, plugins: Plugin[]): Promise<Runtime> {
  return createRuntime({
    config: {
      logLevel: 'silent',
      storage: 'sqlite',
      plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { packs: [] }, orchestrator },
    } as ConfigInput,
    plugins,
  });
}

/** Polls `check` (sync or async) every 25 ms until it holds or `ms` have passed; its last answer. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!(await check()) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return check();
}
