/**
 * failStaleRuns / `limit recover`: the traces a process left `running` when it died without shutting
 * down (SIGKILL, out of memory) are recorded as `error` (LIMIT_RUN_LOST, a `failed` entry) by
 * another process, on an operator's age threshold. The dead process is a runtime the test never
 * lets finish its runs (a runner that waits until aborted); the operator's is another runtime on the
 * same store. Real storage (SQLite and PostgreSQL), governance and orchestrator; Date is faked so
 * that the traces' ages are exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LimitError, createLogger, createRuntime, type BatchOp, type ConfigInput, type Logger, type Orchestrator, type Runtime, type Trace } from 'limit-graph';
import { dropSchemas, storagePlugins, uniqueSchema, type Backend } from '../helpers/storage-backend.ts';
import { runCli } from '../helpers/cli.ts';
import { spyRunner, spyRunnerPlugin, type SpyRunner } from './doubles.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const HOUR = 3_600_000;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Proc {
  rt: Runtime;
  orch: Orchestrator;
  runner: SpyRunner;
}

async function startProcess(backend: Backend, where: { sqlitePath: string; schema: string }, runnerName: string, logger?: Logger): Promise<Proc> {
  const runner = spyRunner(runnerName);
  const rt = await createRuntime({
    ...(logger ? { logger } : {}),
    config: {
      logLevel: 'silent',
      storage: backend,
      plugins: {
        ...storagePlugins(backend, { ...where, poolSize: 3 }),
        'governance-rules-jailbreak': true,
        governance: { packs: ['jailbreak'] },
        orchestrator: { closeWaitMs: 2_000 },
      },
    } as ConfigInput,
    plugins: [spyRunnerPlugin(runner)],
  });
  return { rt, orch: rt.resolve('orchestrator'), runner };
}

describe.each(['sqlite', 'postgres'] as const)('failStaleRuns (%s)', (backend) => {
  let dir: string;
  const schemas: string[] = [];
  let procs: Proc[] = [];
  let runs: Promise<unknown>[] = [];
  let where: { sqlitePath: string; schema: string };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-stale-'));
    where = { sqlitePath: path.join(dir, 'limit.db'), schema: uniqueSchema('orch_stale') };
    schemas.push(where.schema);
  });
  afterEach(async () => {
    vi.useRealTimers();
    // The "dead" process is closed last: its aborted runs meet the traces marked meanwhile.
    for (const p of procs.reverse()) await p.rt.close();
    await Promise.allSettled(runs);
    procs = [];
    runs = [];
    if (backend === 'postgres') await dropSchemas(schemas);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The process that dies: its runs (SLEEP) never finish on their own. */
  const dying = async () => {
    const p = await startProcess(backend, where, 'block');
    procs.push(p);
    return p;
  };
  /** The operator's process on the same store. */
  const operator = async () => {
    const p = await startProcess(backend, where, 'spy');
    procs.push(p);
    return p;
  };
  /** Starts a run in `p` and waits until its trace is stored and its input governed (its checkpoint). */
  const startRun = async (p: Proc, sessionId: string, input: string): Promise<Trace> => {
    const run = p.orch.run({ sessionId, runner: 'block', task: { input: `${input} SLEEP:600000` } });
    run.catch(() => undefined);
    runs.push(run);
    const storage = p.rt.resolve('storage');
    return until(`the trace of ${input}`, async () => {
      const trace = (await p.orch.listTraces(undefined, { sessionId })).items.find((t) => t.task.input.startsWith(`${input} `));
      return trace && (await storage.listCheckpoints('default', trace.id)).some((c) => c.label === 'governance:input') && trace;
    });
  };

  it('marks the running traces older than the threshold, with a chain that verifies; not a younger one, a quarantined one, nor a run live in this process', async () => {
    const dead = await dying();
    const op = await operator();
    const session = await dead.orch.openSession({ limits: { maxConcurrency: 3, timeoutMs: 86_400_000 } });
    const old = await startRun(dead, session.id, 'old');
    const held = await startRun(dead, session.id, 'held');
    await op.rt.resolve('governance').quarantine('default', held.id, { reason: 'looked at by a person', actor: 'alice' });
    vi.setSystemTime(T0 + 2 * HOUR - 60_000);
    const young = await startRun(dead, session.id, 'young');
    // The fourth waits for its semaphore slot: `running`, not timed, not in the runner.
    const waiting = await startRun(dead, session.id, 'waiting');
    expect(dead.runner.calls.map((c) => c.input.split(' ')[0])).toEqual(['old', 'held', 'young']);
    vi.setSystemTime(T0 + 2 * HOUR);

    // In the process that runs them, the runs are live: none is marked, the waiting one neither.
    const here = await dead.orch.failStaleRuns({ olderThanMs: HOUR });
    expect(here.marked).toEqual([]);
    expect(here.skipped).toEqual([{ traceId: old.id, reason: 'its run is in progress in this process' }]);
    const hereAll = await dead.orch.failStaleRuns({ olderThanMs: 1 });
    expect(hereAll.marked).toEqual([]);
    expect(hereAll.skipped.map((s) => s.traceId).sort()).toEqual([old.id, young.id, waiting.id].sort());

    // Another process cannot tell them from lost runs: the age is the operator's judgement.
    const result = await op.orch.failStaleRuns({ olderThanMs: HOUR, actor: 'operator' });
    expect(result).toEqual({ before: new Date(T0 + HOUR).toISOString(), marked: [old.id], skipped: [] });

    const marked = await op.orch.inspectTrace(undefined, old.id);
    expect(marked.trace).toMatchObject({
      status: 'error', completedAt: new Date(T0 + 2 * HOUR).toISOString(),
      output: { ok: false, error: { code: 'LIMIT_RUN_LOST', message: `The run was not finished by the process that started it (still running more than ${HOUR} ms after it was created); marked by failStaleRuns` } },
    });
    expect(marked.provenance.at(-1)).toMatchObject({ action: 'failed', actor: 'operator', data: { status: 'error', code: 'LIMIT_RUN_LOST' } });
    expect(marked.verification).toMatchObject({ verified: true });
    expect((await op.orch.getTrace(undefined, young.id))!.status).toBe('running');
    expect((await op.orch.getTrace(undefined, waiting.id))!.status).toBe('running');
    const quarantined = await op.orch.inspectTrace(undefined, held.id);
    expect(quarantined.trace.status).toBe('quarantined');
    expect(quarantined.provenance.map((e) => e.action)).not.toContain('failed');

    // The export path verifies the marked trace's chain, as `limit verify` does.
    const artifact = await op.orch.exportArtifact({ sessionId: session.id, format: 'jsonl' });
    expect(artifact.manifest.provenance.verified).toBe(true);
    expect(op.orch.verifyArtifact(artifact.files)).toMatchObject({ ok: true, problems: [] });

    // Once marked, a trace is not listed again.
    expect(await op.orch.failStaleRuns({ olderThanMs: HOUR })).toMatchObject({ marked: [], skipped: [] });
    // The waiting run, two hours old in a minute, is lost to another process's eye too.
    vi.setSystemTime(T0 + 3 * HOUR);
    expect((await op.orch.failStaleRuns({ olderThanMs: HOUR, sessionId: session.id })).marked.sort()).toEqual([young.id, waiting.id].sort());
  }, 60_000);

  it('leaves a trace whose status changes between its read and its write (a quarantine): the write is conditional on running', async () => {
    const dead = await dying();
    const op = await operator();
    const session = await dead.orch.openSession({ limits: { timeoutMs: 86_400_000 } });
    const trace = await startRun(dead, session.id, 'raced');
    vi.setSystemTime(T0 + 2 * HOUR);
    const storage = op.rt.resolve('storage');
    const getTrace = storage.getTrace;
    let raced = false;
    storage.getTrace = async (...args) => {
      const read = await getTrace.apply(storage, args);
      if (!raced && args[1] === trace.id) {
        raced = true; // after failStaleRuns read it `running`, before its write
        await op.rt.resolve('governance').quarantine('default', trace.id, { reason: 'meanwhile', actor: 'alice' });
      }
      return read;
    };
    try {
      const result = await op.orch.failStaleRuns({ olderThanMs: HOUR });
      expect(raced).toBe(true);
      expect(result).toMatchObject({ marked: [], skipped: [{ traceId: trace.id, reason: 'its status changed since it was listed (now quarantined)' }] });
    } finally {
      storage.getTrace = getTrace;
    }
    const detail = await op.orch.inspectTrace(undefined, trace.id);
    expect(detail.trace.status).toBe('quarantined');
    expect(detail.provenance.map((e) => e.action)).not.toContain('failed');
    expect(detail.verification).toMatchObject({ verified: true });
  }, 60_000);

  it('stops before its next trace when the runtime begins closing (LIMIT_RUNTIME_CLOSED, the traces marked stay marked), and is refused once the close has begun', async () => {
    const dead = await dying();
    const op = await operator();
    const session = await dead.orch.openSession({ limits: { maxConcurrency: 3, timeoutMs: 86_400_000 } });
    const traces: Trace[] = [];
    for (const [i, name] of ['first', 'second', 'third'].entries()) {
      vi.setSystemTime(T0 + i * 1_000);
      traces.push(await startRun(dead, session.id, name));
    }
    vi.setSystemTime(T0 + 2 * HOUR);
    const storage = op.rt.resolve('storage');
    const batch = storage.batch;
    let closing: Promise<unknown> | undefined;
    let refused: unknown;
    storage.batch = async (...args) => {
      const written = await batch.apply(storage, args);
      if (!closing) {
        // The operator's runtime begins closing after the sweep's first write: its drain waits for
        // the sweep, and a new call is refused from then on.
        closing = op.rt.close();
        await new Promise((resolve) => setImmediate(resolve));
        refused = await op.orch.failStaleRuns({ olderThanMs: HOUR }).then(() => null, (e: unknown) => e);
      }
      return written;
    };
    const error = await op.orch.failStaleRuns({ olderThanMs: HOUR }).then(() => null, (e: unknown) => e);
    expect(closing).toBeDefined();
    expect((await closing as { errors: unknown[] }).errors).toEqual([]);
    // Newest first: the third was marked, then the close stopped the sweep before the second.
    expect(error).toMatchObject({
      code: 'LIMIT_RUNTIME_CLOSED',
      message: 'The runtime began closing: marking stale runs stopped before its next trace; the 1 trace it marked stays marked',
      details: { before: new Date(T0 + HOUR).toISOString(), marked: [traces[2]!.id], skipped: [] },
    });
    expect(refused).toMatchObject({
      code: 'LIMIT_RUNTIME_CLOSED', message: 'The runtime is shutting down: no new work (a run, a recorded trace, a merge, a review, an RD series or point, a stale-run sweep) starts any more',
    });
    expect((await dead.orch.getTrace(undefined, traces[2]!.id))!.status).toBe('error');
    expect((await dead.orch.getTrace(undefined, traces[1]!.id))!.status).toBe('running');
    expect((await dead.orch.getTrace(undefined, traces[0]!.id))!.status).toBe('running');
  }, 60_000);

  it("loses a race with another process's failure record quietly: the trace marked by failStaleRuns meanwhile is not an error to log", async () => {
    const lines: { level: number; msg: string; traceId?: string }[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const dead = await startProcess(backend, where, 'block', logger);
    procs.push(dead);
    const op = await operator();
    const session = await dead.orch.openSession({ limits: { timeoutMs: 86_400_000 } });
    const trace = await startRun(dead, session.id, 'raced');
    const run = runs.at(-1)!;
    vi.setSystemTime(T0 + 2 * HOUR);
    const storage = dead.rt.resolve('storage');
    const batch = storage.batch;
    const actionOf = (ops: BatchOp[]) => ops.flatMap((o) => (o.op === 'appendProvenance' && o.input.traceId === trace.id ? [o.input.action] : []))[0];
    let raced = false;
    storage.batch = async (tenant, ops, ...rest) => {
      const action = actionOf(ops);
      // The run's final write fails (storage lost a moment): the pipeline salvages the trace as
      // `error`, and between its read (`running`) and its write the operator marks it.
      if (action === 'completed') throw new LimitError('LIMIT_STORAGE_UNAVAILABLE', 'injected: the final write failed');
      if (action === 'failed' && !raced) {
        raced = true;
        expect((await op.orch.failStaleRuns({ olderThanMs: HOUR })).marked).toEqual([trace.id]);
      }
      return batch.call(storage, tenant, ops, ...rest);
    };
    try {
      expect(dead.orch.cancel(undefined, trace.id)).toBe(true);
      await expect(run).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: 'injected: the final write failed' });
    } finally {
      storage.batch = batch;
    }
    expect(raced).toBe(true);
    const detail = await op.orch.inspectTrace(undefined, trace.id);
    expect(detail.trace.status).toBe('error');
    // One `failed` entry, the operator's: the salvage's write was refused.
    expect(detail.provenance.filter((e) => e.action === 'failed').map((e) => e.data)).toEqual([{ status: 'error', completedAt: detail.trace.completedAt, code: 'LIMIT_RUN_LOST', message: expect.stringContaining('marked by failStaleRuns') }]);
    expect(detail.verification).toMatchObject({ verified: true });
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    expect(lines.filter((l) => l.traceId === trace.id).map((l) => [l.level, l.msg])).toEqual([[20, 'the status of a trace changed before its failure was recorded: read again']]);
  }, 60_000);

  it('refuses bad options, naming the field, before it reads or writes anything', async () => {
    const dead = await dying();
    const op = await operator();
    const session = await dead.orch.openSession({ limits: { timeoutMs: 86_400_000 } });
    const stale = await startRun(dead, session.id, 'stale');
    vi.setSystemTime(T0 + 2 * HOUR);
    // Each refusal reads or writes nothing: the stale trace (a valid call would mark it) stays
    // running, with its entries as they were, and storage is not called at all.
    const entries = (await op.orch.inspectTrace(undefined, stale.id)).provenance.length;
    const storage = op.rt.resolve('storage');
    const used: string[] = [];
    const watched = ['listTraces', 'getTrace', 'batch'] as const;
    const originals = watched.map((name) => storage[name]);
    watched.forEach((name, i) => {
      (storage as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        used.push(name);
        return (originals[i] as (...a: unknown[]) => unknown).apply(storage, args);
      };
    });
    const untouched = async (what: string) => {
      expect(used, what).toEqual([]);
      watched.forEach((name, i) => ((storage as unknown as Record<string, unknown>)[name] = originals[i]));
      expect((await op.orch.getTrace(undefined, stale.id))!.status, what).toBe('running');
      expect((await op.orch.inspectTrace(undefined, stale.id)).provenance, what).toHaveLength(entries);
    };
    const bad: [unknown, string][] = [
      [{}, 'olderThanMs'],
      [{ olderThanMs: 0 }, 'olderThanMs'],
      [{ olderThanMs: -5 }, 'olderThanMs'],
      [{ olderThanMs: 1.5 }, 'olderThanMs'],
      [{ olderThanMs: '1h' }, 'olderThanMs'],
      [{ olderThanMs: Number.NaN }, 'olderThanMs'],
      [{ olderThanMs: 10 * 365 * 24 * HOUR + 1 }, 'olderThanMs'],
      [{ olderThanMs: HOUR, sessionId: '' }, 'sessionId'],
      [{ olderThanMs: HOUR, olderThan: 5 }, 'olderThan'],
    ];
    for (const [input, field] of bad) {
      const error = await op.orch.failStaleRuns(input as never).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(input)).toMatchObject({ code: 'LIMIT_VALIDATION' });
      expect((error as Error).message, JSON.stringify(input)).toContain(field);
    }
    const controller = new AbortController();
    controller.abort(new Error('Interrupted by SIGINT'));
    await expect(op.orch.failStaleRuns({ olderThanMs: HOUR, signal: controller.signal })).rejects.toMatchObject({ code: 'LIMIT_RUNNER_ABORTED', message: 'Marking stale runs was aborted: Interrupted by SIGINT' });
    await untouched('bad options, an aborted signal');
    // An unknown session is read (its lookup), but no trace is listed, read or written.
    await expect(op.orch.failStaleRuns({ olderThanMs: HOUR, sessionId: 'nope' })).rejects.toMatchObject({ code: 'LIMIT_NOT_FOUND', message: 'Session "nope" not found for tenant "default"' });
    expect((await op.orch.getTrace(undefined, stale.id))!.status).toBe('running');
    expect((await op.orch.inspectTrace(undefined, stale.id)).provenance).toHaveLength(entries);
    // The trace could be marked all along: the same call with good options marks it.
    expect((await op.orch.failStaleRuns({ olderThanMs: HOUR })).marked).toEqual([stale.id]);
  });
});

describe('limit recover', () => {
  let dir: string;
  let config: string;
  let dead: Proc | undefined;
  const cli = (...args: string[]) => runCli(['--config', config, ...args], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' } });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-recover-'));
    config = path.join(dir, 'limit.config.json');
    writeFileSync(config, JSON.stringify({
      storage: 'sqlite', dataDir: dir,
      plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db') }, 'governance-rules-jailbreak': true, governance: { packs: ['jailbreak'] }, 'runner-python': {}, orchestrator: {} },
    }));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await dead?.rt.close();
    dead = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('marks the stale runs of a dead process, prints what it did, and the export of the marked trace verifies', async () => {
    dead = await startProcess('sqlite', { sqlitePath: path.join(dir, 'limit.db'), schema: '' }, 'block');
    const session = await dead.orch.openSession({ id: 'night', limits: { timeoutMs: 86_400_000 } });
    const run = dead.orch.run({ sessionId: session.id, runner: 'block', task: { input: 'lost SLEEP:600000' } });
    run.catch(() => undefined);
    await until('the run to start', async () => dead!.runner.calls.length === 1);
    const [trace] = (await dead.orch.listTraces(undefined, { sessionId: 'night' })).items;
    vi.setSystemTime(T0 + 2 * HOUR);

    const younger = await cli('recover', '--older-than', '3h', '--json');
    expect(younger.stderr).toBe('');
    expect(JSON.parse(younger.stdout)).toEqual({ before: new Date(T0 - HOUR).toISOString(), marked: [], skipped: [] });

    const text = await cli('recover', '--older-than', '90m', '--session', 'night');
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toBe(`marked 1 trace running since before ${new Date(T0 + 30 * 60_000).toISOString()} as error (LIMIT_RUN_LOST): ${trace!.id}\n`);
    expect((await dead.orch.getTrace(undefined, trace!.id))).toMatchObject({ status: 'error', output: { error: { code: 'LIMIT_RUN_LOST' } } });

    const out = path.join(dir, 'night.json');
    expect((await cli('export', '--session', 'night', '--format', 'json', '--out', out)).code).toBe(0);
    const verified = await cli('verify', out);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('1 provenance chains verify');

    // Had the process been alive after all (here: closed now, its run aborted), the run's final
    // status is refused and the trace stays `error`; its chain still verifies.
    await dead.rt.close();
    dead = undefined;
    await expect(run).rejects.toMatchObject({ code: 'LIMIT_CONFLICT', details: { traceId: trace!.id } });
    const again = path.join(dir, 'night-again.json');
    expect((await cli('export', '--trace', trace!.id, '--format', 'json', '--out', again)).code).toBe(0);
    const still = await cli('verify', again, '--json');
    expect(still.code, still.stderr).toBe(0);
    expect(JSON.parse(still.stdout)).toMatchObject({ ok: true, chains: [{ traceId: trace!.id, verified: true }] });
  }, 60_000);

  it('acts on the tenant LIMIT_TENANT names, and on no other', async () => {
    dead = await startProcess('sqlite', { sqlitePath: path.join(dir, 'limit.db'), schema: '' }, 'block');
    await dead.orch.openSession({ id: 'night', tenant: 'acme', limits: { timeoutMs: 86_400_000 } });
    const run = dead.orch.run({ sessionId: 'night', tenant: 'acme', runner: 'block', task: { input: 'lost SLEEP:600000' } });
    run.catch(() => undefined);
    await until('the run to start', async () => dead!.runner.calls.length === 1);
    const [trace] = (await dead.orch.listTraces('acme', { sessionId: 'night' })).items;
    vi.setSystemTime(T0 + 2 * HOUR);
    const asTenant = (tenant: string, ...args: string[]) => runCli(['--config', config, ...args], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent', LIMIT_TENANT: tenant } });

    // The config's tenant (default) and another tenant see neither the session nor the trace.
    expect(JSON.parse((await cli('recover', '--older-than', '1h', '--json')).stdout)).toMatchObject({ marked: [], skipped: [] });
    const elsewhere = await asTenant('globex', 'recover', '--older-than', '1h', '--session', 'night');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain('LIMIT_NOT_FOUND: Session "night" not found');
    expect(await dead.orch.getTrace('acme', trace!.id)).toMatchObject({ status: 'running' });

    const mine = await asTenant('acme', 'recover', '--older-than', '1h', '--json');
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({ marked: [trace!.id], skipped: [] });
    expect(await dead.orch.getTrace('acme', trace!.id)).toMatchObject({ status: 'error', output: { error: { code: 'LIMIT_RUN_LOST' } } });
  }, 60_000);

  it('refuses a bad --older-than or --session with a message naming the option', async () => {
    for (const value of ['', 'abc', '0', '0h', '-1', '1h30m', '3651d', '522w', 'soon', ' 5m', '5m ']) {
      const r = await cli('recover', '--older-than', value);
      expect(r.code, value).toBe(1);
      expect(r.stderr, value).toContain(`LIMIT_VALIDATION: --older-than must be a duration from 1 ms to 3650 d: milliseconds (3600000) or an amount and a unit, ms, s, m, h, d or w (90s, 15m, 1.5h, 2d); got ${JSON.stringify(value)}`);
    }
    // The kernel's durations, as rateLimit.timeWindow reads them: a fraction, a long unit name.
    for (const [value, ms] of [['1.5h', 5_400_000], ['2 days', 172_800_000], ['3600000', 3_600_000]] as const) {
      const started = Date.now();
      const r = await cli('recover', '--older-than', value, '--json');
      expect(r.code, `${value}: ${r.stderr}`).toBe(0);
      const before = Date.parse(JSON.parse(r.stdout).before);
      expect(before, value).toBeGreaterThanOrEqual(started - ms);
      expect(before, value).toBeLessThanOrEqual(Date.now() - ms);
    }
    const missing = await cli('recover');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '--older-than <duration>' not specified");
    const empty = await cli('recover', '--older-than', '1h', '--session', '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('LIMIT_VALIDATION: Invalid options: --session:');
    const unknown = await cli('recover', '--older-than', '1h', '--session', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('LIMIT_NOT_FOUND: Session "nope" not found');
  }, 60_000);
});
