/**
 * runner-queue against the machine's real PostgreSQL: dispatchers and workers are separate
 * runtimes (and, in the crash test, a separate `limit worker` process) that meet only through
 * pg-boss's tables and the registry. Each file run gets its own schema, dropped afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PgBoss from 'pg-boss';
import { afterAll, describe, expect, it } from 'vitest';
import { Task, createRuntime, definePlugin, type Runtime } from 'limit-graph';
import { makeRunContext, runnerConformance } from 'limit-graph/testing';
import runnerPython from '../../plugins/runner-python/index.ts';
import runnerQueue, { type QueueRunner } from '../../plugins/runner-queue/index.ts';
import { PYTHON, PYTHON_TASKS } from '../runner-python/helpers.ts';
import { PG_URL as URL, adminPool } from '../helpers/storage-backend.ts';
import { runCli } from '../helpers/cli.ts';
import { main } from '../../kernel/cli/main.ts';

const SCHEMA = `limit_queue_test_${process.pid}_${randomBytes(3).toString('hex')}`;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Short timings so that dead workers are noticed in a test's time. */
const TIMING = { pollMs: 20, workerTimeoutMs: 2_000 };
const WORKER = { enabled: true, pollMs: 500, heartbeatMs: 300, concurrency: 6 };

const admin = adminPool(SCHEMA);
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-queue-'));
  // Session uids of runner-python must traverse it to reach their own directories.
  chmodSync(dir, 0o711);
  dirs.push(dir);
  return dir;
}

/** An API-side runtime: runner-queue dispatching, no local runner. */
async function dispatcher(extra: Record<string, unknown> = {}): Promise<Runtime> {
  return createRuntime({
    config: { dataDir: tempDir(), logLevel: 'silent', plugins: {} },
    plugins: [runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING, ...extra })],
  });
}

/** A worker runtime: runner-python executing what the queue brings. */
async function worker(extra: Record<string, unknown> = {}): Promise<Runtime> {
  const dir = tempDir();
  return createRuntime({
    config: { dataDir: dir, logLevel: 'silent', plugins: {} },
    plugins: [
      runnerPython.configure({ python: PYTHON, workDir: path.join(dir, 'sessions') }),
      runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING, worker: { ...WORKER, ...extra } }),
    ],
  });
}

const route = async (sessionId: string): Promise<string | undefined> =>
  ((await admin.query(`SELECT worker_id FROM "${SCHEMA}".limit_session_routes WHERE session_id = $1`, [sessionId])).rows[0] as { worker_id: string } | undefined)?.worker_id;

/** The tenants that have a route for the session id, sorted. */
const routes = async (sessionId: string): Promise<string[]> =>
  (await admin.query(`SELECT tenant FROM "${SCHEMA}".limit_session_routes WHERE session_id = $1 ORDER BY tenant`, [sessionId])).rows.map((r: { tenant: string }) => r.tenant);

/** Waits until a worker has finished a close job for the session id. */
async function closeJobDone(sessionId: string): Promise<void> {
  for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const r = await admin.query(`SELECT 1 FROM "${SCHEMA}".job WHERE data->>'kind' = 'close' AND data->>'sessionId' = $1 AND state = 'completed'`, [sessionId]);
    if (r.rowCount) return;
  }
  throw new Error(`no close job for ${sessionId} completed within 20 s`);
}

/**
 * A worker whose runner:gated is runner-python with a closeSession that waits for the test's
 * go-ahead (`release`): a close (idle expiry, a close job) is held open while tasks arrive.
 * `closing` and `started` list the session ids closed and started on it; `closeEnded(id)` resolves
 * once a close of the session has ended (runner-python's close included).
 */
async function gatedWorker(extra: Record<string, unknown> = {}) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const closing: string[] = [];
  const started: string[] = [];
  const ended = new Map<string, () => void>();
  const endedAt = new Map<string, Promise<void>>();
  const closeEnded = (sessionId: string): Promise<void> => {
    let p = endedAt.get(sessionId);
    if (!p) endedAt.set(sessionId, (p = new Promise<void>((resolve) => ended.set(sessionId, resolve))));
    return p;
  };
  const gated = definePlugin({
    meta: { name: 'runner-gated', version: '1.0.0', provides: ['runner:gated'], dependsOn: ['runner:python'] },
    setup(ctx) {
      const python = () => ctx.resolve('runner:python');
      ctx.provide('runner:gated', {
        name: 'gated',
        get capabilities() { return python().capabilities; },
        executeIsolated: (task, run) => {
          started.push(run.session.id);
          return python().executeIsolated(task, run);
        },
        closeSession: async (sessionId, tenant) => {
          closing.push(sessionId);
          await gate;
          try {
            await python().closeSession?.(sessionId, tenant);
          } finally {
            void closeEnded(sessionId);
            ended.get(sessionId)!();
          }
        },
        health: () => python().health(),
      });
    },
  });
  const dir = tempDir();
  const w = await createRuntime({
    config: { dataDir: dir, logLevel: 'silent', plugins: {} },
    plugins: [
      runnerPython.configure({ python: PYTHON, workDir: path.join(dir, 'sessions') }),
      gated,
      runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING, worker: { ...WORKER, runners: ['gated'], ...extra } }),
    ],
  });
  return { w, release, closing, started, closeEnded };
}

/** Waits until `n` run jobs of the sessions are active (taken by a worker). */
async function runJobsActive(sessions: string[], n: number): Promise<boolean> {
  for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const active = await admin.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = ANY($1) AND state = 'active'`, [sessions]);
    if ((active.rows[0] as { n: number }).n === n) return true;
  }
  return false;
}

const run = (rt: Runtime, input: string, sessionId: string) =>
  rt.resolve('runner:queue').executeIsolated(Task.parse({ input }), makeRunContext({ sessionId }));

// Every run of the suite goes through PostgreSQL to a worker runtime and back.
runnerConformance('runner-queue (→ runner-python on a worker)', async () => {
  const w = await worker();
  const d = await dispatcher();
  return { runner: d.resolve('runner:queue'), close: async () => void (await Promise.all([d.close(), w.close()])) };
}, {
  tasks: PYTHON_TASKS,
  // The worker's idle poll (500 ms, pg-boss's minimum) comes on top of the runner's own time.
  graceMs: 3_000,
});

describe('runner-queue routing', () => {
  it('keeps a session on one worker while several are live, and spreads sessions over them', async () => {
    const [a, b] = [await worker(), await worker()];
    const d = await dispatcher();
    try {
      const sessions = ['s-1', 's-2', 's-3', 's-4'].map((s) => `${s}-${randomBytes(3).toString('hex')}`);
      for (const s of sessions) expect((await run(d, `x = ${JSON.stringify(s)}`, s)).ok).toBe(true);
      const holders = await Promise.all(sessions.map(route));
      // Least-loaded assignment: four sessions over two idle workers, two each.
      expect(new Set(holders).size).toBe(2);
      for (const s of sessions) {
        const recall = await run(d, 'print(x)', s);
        expect(recall.stdout.trim()).toBe(s);
      }
      expect(await Promise.all(sessions.map(route))).toEqual(holders);
    } finally {
      await Promise.all([d.close(), a.close(), b.close()]);
    }
  }, 60_000);

  it('does not wait for polls: the dispatcher wakes the worker and the worker the dispatcher (LISTEN/NOTIFY)', async () => {
    // Both fallback polls far longer than the test: only the notifications can make it quick.
    const w = await worker({ pollMs: 60_000 });
    const d = await dispatcher({ pollMs: 60_000 });
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      expect((await run(d, 'print("warm")', s)).ok).toBe(true);
      const started = performance.now();
      for (let i = 0; i < 5; i++) expect((await run(d, `print(${i})`, s)).stdout.trim()).toBe(String(i));
      // Waiting on a poll would take 60 s (the test's own timeout); 15 s for five runs leaves a loaded machine room.
      expect(performance.now() - started).toBeLessThan(15_000);
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('answers LIMIT_RUNNER_UNAVAILABLE, saying how to start a worker, when none is live', async () => {
    const d = await dispatcher({ runner: `nobody${randomBytes(2).toString('hex')}` });
    try {
      const r = await run(d, 'print(1)', `s-${randomBytes(3).toString('hex')}`);
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('LIMIT_RUNNER_UNAVAILABLE');
      expect(r.error?.message).toMatch(/no live worker runs runner:nobody.*limit worker/);
      const health = await d.resolve('runner:queue').health();
      expect(health.status).toBe('degraded');
      expect(health.checks?.find((c) => c.name === 'workers')?.message).toMatch(/no live worker/);
    } finally {
      await d.close();
    }
  }, 30_000);

  it('is degraded, not ok, while a live worker does not enforce a limit, and says which', async () => {
    const name = `lax${randomBytes(2).toString('hex')}`;
    const lax = definePlugin({
      meta: { name: `runner-${name}`, version: '1.0.0', provides: [`runner:${name}`] },
      setup(ctx) {
        ctx.provide(`runner:${name}`, {
          name,
          capabilities: { timeout: true, memoryLimit: true, networkIsolation: false, envControl: true, concurrencyLimit: true },
          executeIsolated: async () => ({ ok: true, stdout: '', stderr: '', metrics: { latencyMs: 1 } }),
          health: async () => ({ status: 'degraded' }),
        });
      },
    });
    const w = await createRuntime({
      config: { dataDir: tempDir(), logLevel: 'silent', plugins: {} },
      plugins: [lax, runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING, worker: { ...WORKER, runners: [name] } })],
    });
    const d = await dispatcher({ runner: name });
    try {
      const health = await d.resolve('runner:queue').health();
      expect(health.checks?.find((c) => c.name === 'workers')?.status).toBe('ok');
      expect(health.status).toBe('degraded');
      expect(health.message).toMatch(new RegExp(`runner:${name} does not enforce it on worker\\(s\\) `));
      expect(health.checks?.find((c) => c.name === 'capability:networkIsolation')?.status).toBe('degraded');
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 30_000);

  it('closing a session releases its state on the worker and forgets the route', async () => {
    const w = await worker();
    const d = await dispatcher();
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      expect((await run(d, 'kept = 41 + 1', s)).ok).toBe(true);
      // The worker holds the state (else "gone" below would prove nothing), and the session is routed to it.
      expect((await run(d, 'print(globals().get("kept", "gone"))', s)).stdout.trim()).toBe('42');
      expect(await route(s)).toMatch(/^w-[0-9a-f]{8}$/);
      await (d.resolve('runner:queue') as QueueRunner).closeSession(s, 'conformance');
      expect(await route(s)).toBeUndefined();
      // The close job reaches the worker through its queue; then the session starts empty.
      let recall = '';
      // A deadline, not a count of tries: on a loaded machine each try takes longer.
      for (const until = Date.now() + 20_000; recall !== 'gone' && Date.now() < until;) {
        recall = (await run(d, 'print(globals().get("kept", "gone"))', s)).stdout.trim();
        if (recall !== 'gone') await new Promise((r) => setTimeout(r, 100));
      }
      expect(recall).toBe('gone');
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('a scope released in one process (its runtime closing, an idle scope) keeps the session\'s route and worker state for the others; a closed one releases them', async () => {
    const w = await worker();
    const d = await dispatcher();
    let d2: Runtime | undefined;
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      expect((await run(d, 'kept = 41 + 1', s)).ok).toBe(true);
      const holder = await route(s);
      expect(holder).toMatch(/^w-[0-9a-f]{8}$/);
      // A scope let go while the session goes on: the sessionClosed tap leaves the worker's session be.
      const idle = await d.openSession({ id: s, tenant: 'conformance' });
      await idle.close('released');
      // So does the runtime's close, for the scopes it still has (an API instance restarting).
      await d.openSession({ id: s, tenant: 'conformance' });
      await d.close();
      expect(await route(s)).toBe(holder);
      // Another instance carries on with the session's state on its worker.
      d2 = await dispatcher();
      expect((await run(d2, 'print(globals().get("kept", "gone"))', s)).stdout.trim()).toBe('42');
      // The session's end (reason closed) releases the route, through the same tap.
      await (await d2.openSession({ id: s, tenant: 'conformance' })).close();
      expect(await route(s)).toBeUndefined();
    } finally {
      await Promise.all([d.close(), d2?.close(), w.close()]);
    }
  }, 60_000);

  it('a session idle for sessionIdleMs is forgotten: its route (and load) and its state on the worker go', async () => {
    const w = await worker();
    const d = await dispatcher();
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      expect((await run(d, 'kept = 42', s)).ok).toBe(true);
      expect((await run(d, 'print(globals().get("kept", "gone"))', s)).stdout.trim()).toBe('42');
      // As if its last task was two days ago (sessionIdleMs defaults to one day).
      await admin.query(`UPDATE "${SCHEMA}".limit_session_routes SET used_at = now() - interval '2 days' WHERE session_id = $1`, [s]);
      for (const until = Date.now() + 20_000; (await route(s)) !== undefined && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
      expect(await route(s)).toBeUndefined();
      expect((await run(d, 'print(globals().get("kept", "gone"))', s)).stdout.trim()).toBe('gone');
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('a task arriving while its idle session is being closed waits for the close, then starts afresh; the close never takes what it did', async () => {
    // The idle expiry's close is held open (at the gate) while the sessions' next tasks arrive.
    const { w, release, closing, started } = await gatedWorker();
    const d = await dispatcher({ runner: 'gated' });
    try {
      const sessions = ['a', 'b'].map((s) => `s-${s}-${randomBytes(3).toString('hex')}`);
      for (const s of sessions) expect((await run(d, 'kept = 42', s)).ok).toBe(true);
      await admin.query(`UPDATE "${SCHEMA}".limit_session_routes SET used_at = now() - interval '2 days' WHERE session_id = ANY($1)`, [sessions]);
      // The expiry has deleted the routes and begun closing (held at the gate).
      for (const until = Date.now() + 20_000; closing.length === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
      expect(closing.length).toBeGreaterThan(0);
      expect(await Promise.all(sessions.map(route))).toEqual([undefined, undefined]);
      started.length = 0;
      const next = sessions.map((s) => run(d, 'print(globals().get("kept", "gone"))\nmine = 7', s));
      // The gate opens once both tasks started on the runner, or 500 ms after the worker took both jobs.
      for (const until = Date.now() + 20_000; started.length < 2 && Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
        const active = await admin.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = ANY($1) AND state = 'active'`, [sessions]);
        if ((active.rows[0] as { n: number }).n === 2) {
          await new Promise((r) => setTimeout(r, 500));
          break;
        }
      }
      release();
      const results = await Promise.all(next);
      // Started after the close: empty state, and nothing of the task closed away afterwards.
      expect(results.map((r) => [r.ok, r.stdout.trim()])).toEqual([[true, 'gone'], [true, 'gone']]);
      for (const s of sessions) expect((await run(d, 'print(mine)', s)).stdout.trim()).toBe('7');
      expect(closing.sort()).toEqual([...sessions].sort());
    } finally {
      release();
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('a task cancelled while it waits for its session\'s close ends then, frees its worker slot and never starts (as a cancelled queued task)', async () => {
    // One slot: while the cancelled task held it, no other task could run until the close ended.
    const { w, release, closing, started, closeEnded } = await gatedWorker({ concurrency: 1 });
    const d = await dispatcher({ runner: 'gated' });
    try {
      const [held, other] = ['held', 'other'].map((s) => `s-${s}-${randomBytes(3).toString('hex')}`) as [string, string];
      expect((await run(d, 'kept = 1', held)).ok).toBe(true);
      await admin.query(`UPDATE "${SCHEMA}".limit_session_routes SET used_at = now() - interval '2 days' WHERE session_id = $1`, [held]);
      for (const until = Date.now() + 20_000; closing.length === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
      expect(closing).toEqual([held]);
      started.length = 0;
      const controller = new AbortController();
      const cancelled = d.resolve('runner:queue').executeIsolated(Task.parse({ input: 'print("ran")' }), makeRunContext({ sessionId: held, signal: controller.signal }));
      // The worker took it and waits for the close (held at the gate); then the caller cancels.
      expect(await runJobsActive([held], 1)).toBe(true);
      controller.abort();
      expect((await cancelled).error?.code).toBe('LIMIT_RUNNER_ABORTED');
      // The close is still held, and the worker's one slot is free: another session's task runs now.
      const next = await Promise.race([run(d, 'print(2)', other), new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000))]);
      expect(next === 'stuck' ? next : [next.ok, next.stdout.trim()]).toEqual([true, '2']);
      release();
      // After the close the cancelled task still never starts. A task waiting for the close would
      // start in the turns right after it ended (no I/O between): once it ended and the next
      // macrotask has come, it would have been listed.
      await closeEnded(held);
      await new Promise((r) => setImmediate(r));
      expect(started).toEqual([other]);
    } finally {
      release();
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it("closing another tenant's session with the same id leaves this tenant's state on the worker and its route", async () => {
    const w = await worker();
    const d = await dispatcher();
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      const x = makeRunContext({ sessionId: s });
      const y = { ...x, session: { ...x.session, tenant: 'tenant-y' } };
      const q = d.resolve('runner:queue') as QueueRunner;
      expect((await q.executeIsolated(Task.parse({ input: 'kept = 41 + 1' }), x)).ok).toBe(true);
      const refused = await q.executeIsolated(Task.parse({ input: 'print(globals().get("kept", "gone"))' }), y);
      expect(refused.ok).toBe(false);
      expect(refused.stdout).not.toContain('42');
      await q.closeSession(s, 'tenant-y');
      expect(await routes(s)).toEqual(['conformance']);
      // Wait until the worker has run Y's close job, then X's state must still be there.
      await closeJobDone(s);
      expect((await q.executeIsolated(Task.parse({ input: 'print(globals().get("kept", "gone"))' }), x)).stdout.trim()).toBe('42');
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('closeSession without a tenant releases only the tenant this dispatcher ran the id for, and nothing when that is ambiguous', async () => {
    const w = await worker();
    const [d, other] = [await dispatcher(), await dispatcher()];
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      const x = makeRunContext({ sessionId: s });
      const y = { ...x, session: { ...x.session, tenant: 'tenant-y' } };
      const q = d.resolve('runner:queue') as QueueRunner;
      // Y's run of the id goes through another dispatcher (another API instance): its route exists.
      await q.executeIsolated(Task.parse({ input: 'kept = 1' }), x);
      await other.resolve('runner:queue').executeIsolated(Task.parse({ input: 'kept = 2' }), y);
      expect(await routes(s)).toEqual(['conformance', 'tenant-y']);
      await q.closeSession(s);
      expect(await routes(s)).toEqual(['tenant-y']);

      // This dispatcher ran the id for two tenants: without a tenant it cannot tell which to close.
      const s2 = `s-${randomBytes(3).toString('hex')}`;
      const x2 = makeRunContext({ sessionId: s2 });
      await q.executeIsolated(Task.parse({ input: 'kept = 1' }), x2);
      await q.executeIsolated(Task.parse({ input: 'kept = 2' }), { ...x2, session: { ...x2.session, tenant: 'tenant-y' } });
      await q.closeSession(s2);
      expect(await routes(s2)).toEqual(['conformance', 'tenant-y']);
      await q.closeSession(s2, 'tenant-y');
      expect(await routes(s2)).toEqual(['conformance']);
    } finally {
      await Promise.all([d.close(), other.close(), w.close()]);
    }
  }, 60_000);

  it('moves the sessions of a killed `limit worker` process to a live worker, which reaps the dead one', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'limit.config.mjs'), `export default ${JSON.stringify({
      dataDir: dir,
      logLevel: 'warn',
      plugins: {
        'runner-python': { python: PYTHON, workDir: path.join(dir, 'sessions') },
        'runner-queue': { url: URL, schema: SCHEMA, ...TIMING, worker: { ...WORKER, enabled: false } },
      },
    })};\n`);
    const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin/limit.js'), 'worker', '--config', path.join(dir, 'limit.config.mjs'), '--concurrency', '2'], {
      cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => void (out += c.toString()));
    const d = await dispatcher();
    let b: Runtime | undefined;
    try {
      for (let i = 0; i < 300 && !/consuming/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/worker (w-[0-9a-f]{8}) consuming limit-runs\.w-/);
      const processWorker = /worker (w-[0-9a-f]{8})/.exec(out)![1]!;
      const s = `s-${randomBytes(3).toString('hex')}`;
      const first = await run(d, 'import os\nprint(os.getpid() > 0)', s);
      expect(first.ok, first.stderr).toBe(true);
      expect(await route(s)).toBe(processWorker);

      child.kill('SIGKILL');
      b = await worker();
      const second = await run(d, 'print("after the crash")', s);
      expect(second.ok, second.stderr).toBe(true);
      expect(second.stdout).toContain('after the crash');
      const holder = await route(s);
      expect(holder).not.toBe(processWorker);
      // The live worker unregisters the dead one, and deletes its queue once idle for workerTimeoutMs.
      const left = async () => ({
        worker: (await admin.query(`SELECT 1 FROM "${SCHEMA}".limit_workers WHERE id = $1`, [processWorker])).rowCount,
        queue: (await admin.query(`SELECT 1 FROM "${SCHEMA}".queue WHERE name = $1`, [`limit-runs.${processWorker}`])).rowCount,
      });
      let now = await left();
      for (let i = 0; i < 100 && (now.worker || now.queue); i++) {
        await new Promise((r) => setTimeout(r, 200));
        now = await left();
      }
      expect(now).toEqual({ worker: 0, queue: 0 });
    } finally {
      child.kill('SIGKILL');
      await Promise.all([d.close(), b?.close()]);
    }
  }, 90_000);
});

describe('runner-queue workers', () => {
  it('a worker that stops cleanly hands its sessions on: the next task of the session runs on a live worker', async () => {
    const a = await worker();
    const d = await dispatcher();
    let b: Runtime | undefined;
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      expect((await run(d, 'print("on a")', s)).ok).toBe(true);
      const first = await route(s);
      expect(first).toMatch(/^w-[0-9a-f]{8}$/);
      b = await worker();
      await a.close();
      const r = await run(d, 'print("on b")', s);
      expect(r.ok, r.stderr).toBe(true);
      const second = await route(s);
      expect(second).toMatch(/^w-[0-9a-f]{8}$/);
      expect(second).not.toBe(first);
      // The one live worker left is b: the route names it.
      const live = (await admin.query(`SELECT id FROM "${SCHEMA}".limit_workers WHERE id = ANY($1)`, [[first, second]])).rows.map((r: { id: string }) => r.id);
      expect(live).toEqual([second]);
    } finally {
      await Promise.all([d.close(), b?.close()]);
    }
  }, 60_000);

  it('a worker stopping cleanly keeps heartbeating while its running task finishes, longer than workerTimeoutMs', async () => {
    const a = await worker();
    const d = await dispatcher();
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      // The task outlasts workerTimeoutMs (2 s): a stopping worker silent meanwhile looks dead, and
      // its dispatcher gives up on the task and cancels it.
      const running = run(d, 'import time\ntime.sleep(3.5)\nprint("finished")', s);
      for (const until = Date.now() + 10_000; !(await route(s)) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
      // The task is on a (the only) worker before it is stopped.
      expect(await route(s)).toMatch(/^w-[0-9a-f]{8}$/);
      await new Promise((r) => setTimeout(r, 300));
      await a.close();
      const r = await running;
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.stdout).toBe('finished\n');
    } finally {
      await d.close();
    }
  }, 60_000);

  it("in the documented set-up (dispatch-only instance, `limit worker` without worker.enabled) the worker runs pg-boss's maintenance: finished jobs are archived, then deleted; a running job expires", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'limit.config.json'), JSON.stringify({
      dataDir: dir,
      plugins: {
        'runner-python': { python: PYTHON, workDir: path.join(dir, 'sessions') },
        // As README's "On each worker machine", with short timings; maintenance every second.
        'runner-queue': { url: URL, schema: SCHEMA, ...TIMING, worker: { pollMs: 500, heartbeatMs: 300, maintenanceMs: 1_000 } },
      },
    }));
    const stop = new AbortController();
    let out = '';
    const cli = main(['node', 'limit', 'worker', '--config', path.join(dir, 'limit.config.json')], {
      stdout: (t) => void (out += t), stderr: (t) => void (out += t), cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' }, signal: stop.signal,
    });
    const d = await dispatcher();
    /** Where the job is now: 'job' (with its state), 'archive', or 'gone'. */
    const where = async (id: string): Promise<string> => {
      const job = await admin.query(`SELECT state FROM "${SCHEMA}".job WHERE id = $1`, [id]);
      if (job.rowCount) return `job ${(job.rows[0] as { state: string }).state}`;
      return (await admin.query(`SELECT 1 FROM "${SCHEMA}".archive WHERE id = $1`, [id])).rowCount ? 'archive' : 'gone';
    };
    const until = async (id: string, wanted: string, ms: number): Promise<string> => {
      let now = await where(id);
      for (const end = Date.now() + ms; now !== wanted && Date.now() < end; now = await where(id)) await new Promise((r) => setTimeout(r, 100));
      return now;
    };
    try {
      for (let i = 0; i < 300 && !/consuming/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/consuming/);
      const s = `s-${randomBytes(3).toString('hex')}`;
      const r = await d.resolve('runner:queue').executeIsolated(Task.parse({ input: 'import os\nprint(os.environ["TOKEN"])', env: { TOKEN: 'task-secret' } }), makeRunContext({ sessionId: s }));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const [job] = (await admin.query(`SELECT id, data->'task'->'env' AS env FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = $1`, [s])).rows as { id: string; env: unknown }[];
      // The finished job holds the task's env (and its output) ...
      expect(job!.env).toEqual({ TOKEN: 'task-secret' });
      expect(await where(job!.id)).toBe('job completed');
      // ... until it is FINISHED_JOB_SECONDS old: then the worker's maintenance archives it (the clock moved on here) ...
      await admin.query(`UPDATE "${SCHEMA}".job SET completed_on = now() - interval '61 seconds' WHERE id = $1`, [job!.id]);
      expect(await until(job!.id, 'archive', 10_000)).toBe('archive');
      // ... where the dispatcher can still read it, and which it leaves FINISHED_JOB_SECONDS later.
      await admin.query(`UPDATE "${SCHEMA}".archive SET archived_on = now() - interval '61 seconds' WHERE id = $1`, [job!.id]);
      expect(await until(job!.id, 'gone', 10_000)).toBe('gone');

      // A running job past its expiry (the dispatcher's budget; here its start moved a day back) is failed by
      // the maintenance, and the worker aborts its task.
      const running = d.resolve('runner:queue').executeIsolated(Task.parse({ input: 'import time\ntime.sleep(20)' }), makeRunContext({ sessionId: s }));
      let active: string | undefined;
      for (const end = Date.now() + 10_000; !active && Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        active = ((await admin.query(`SELECT id FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = $1 AND state = 'active'`, [s])).rows[0] as { id: string } | undefined)?.id;
      }
      expect(active).toBeDefined();
      await admin.query(`UPDATE "${SCHEMA}".job SET started_on = now() - interval '1 day' WHERE id = $1`, [active]);
      expect(await until(active!, 'job failed', 10_000)).toBe('job failed');
      const expired = (await admin.query(`SELECT output FROM "${SCHEMA}".job WHERE id = $1`, [active])).rows[0] as { output: unknown };
      expect(expired.output).toEqual({ value: { message: 'job failed by timeout in active state' } });
      const result = await running;
      expect(result.error?.message).toMatch(/^runner-queue: worker w-[0-9a-f]{8} failed the task: pg-boss: job failed by timeout in active state$/);
    } finally {
      stop.abort();
      expect(await cli).toBe(0);
      await d.close();
    }
  }, 90_000);

  it("runs a task of a session whose timeoutMs is the longest allowed (24 h): pg-boss's expiry is capped under its 24-hour limit", async () => {
    const w = await worker();
    const d = await dispatcher();
    try {
      // The orchestrator's backstop waits this long past timeoutMs: the dispatch's own budget.
      expect(d.resolve('runner:queue').timeoutSlackMs).toBe(10_000);
      const r = await d.resolve('runner:queue').executeIsolated(Task.parse({ input: 'print("long")' }), makeRunContext({ limits: { timeoutMs: 86_400_000 } }));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.stdout).toBe('long\n');
    } finally {
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);

  it('answers a result holding NUL or half a surrogate pair whole (PostgreSQL jsonb refuses both), as the local runner returned it', async () => {
    // A runner whose output is what the task says, so that half a surrogate pair reaches the queue
    // (runner-python makes its own output well-formed).
    const raw = definePlugin({
      meta: { name: 'runner-raw', version: '1.0.0', provides: ['runner:raw'] },
      setup(ctx) {
        ctx.provide('runner:raw', {
          name: 'raw',
          capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: true },
          executeIsolated: async (task) => ({ ok: true, stdout: task.input, stderr: '', value: { [task.input]: [task.input] }, metrics: { latencyMs: 1 } }),
          health: async () => ({ status: 'ok' }),
        });
      },
    });
    const dir = tempDir();
    const w = await createRuntime({
      config: { dataDir: dir, logLevel: 'silent', plugins: {} },
      plugins: [
        runnerPython.configure({ python: PYTHON, workDir: path.join(dir, 'sessions') }),
        raw,
        runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING, worker: { ...WORKER, runners: ['python', 'raw'] } }),
      ],
    });
    const d = await dispatcher();
    const dRaw = await dispatcher({ runner: 'raw' });
    try {
      const s = `s-${randomBytes(3).toString('hex')}`;
      const nul = await run(d, 'import sys\nprint("a\\x00b")\nsys.stdout.flush()\nsys.stdout.buffer.write(b"\\x00\\xff\\n")\n"v\\x00"', s);
      expect(nul.ok, JSON.stringify(nul.error)).toBe(true);
      expect(nul.stdout).toBe('a\u0000b\n\u0000\ufffd\n');
      expect(nul.value).toBe('v\u0000');
      // Still the same session on its worker (the answer was the task's, not a failure).
      expect((await run(d, 'print("next")', s)).stdout).toBe('next\n');
      for (const text of ['x\udcff y', 'a\u0000b\ud800']) {
        const r = await run(dRaw, text, `s-${randomBytes(3).toString('hex')}`);
        expect(r.ok, JSON.stringify(r.error)).toBe(true);
        expect(r.stdout).toBe(text);
        expect(r.value).toEqual({ [text]: [text] });
      }
      // What is not a problem for jsonb is stored as it is, readable in the table.
      const plain = await run(dRaw, 'plain 😀', `s-${randomBytes(3).toString('hex')}`);
      expect(plain.stdout).toBe('plain 😀');
      const stored = await admin.query(`SELECT output FROM "${SCHEMA}".job WHERE output->>'stdout' = 'plain 😀'`);
      expect(stored.rowCount).toBe(1);
    } finally {
      await Promise.all([d.close(), dRaw.close(), w.close()]);
    }
  }, 60_000);

  it('fails a malformed job with a message naming the field, and keeps working', async () => {
    const w = await worker();
    const d = await dispatcher();
    const boss = new PgBoss({ connectionString: URL, schema: SCHEMA, supervise: false, schedule: false });
    boss.on('error', () => undefined);
    try {
      await boss.start();
      const { queue } = (await admin.query(`SELECT queue FROM "${SCHEMA}".limit_workers ORDER BY started_at DESC LIMIT 1`)).rows[0] as { queue: string };
      const id = (await boss.send(queue, { kind: 'run', runner: 'python', task: { input: 42 } }))!;
      let job = await boss.getJobById<unknown>(queue, id);
      for (let i = 0; i < 50 && job?.state !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        job = await boss.getJobById<unknown>(queue, id);
      }
      expect(job?.state).toBe('failed');
      expect(JSON.stringify(job?.output)).toMatch(/malformed job .*task\.input/);
      expect((await run(d, 'print("still here")', `s-${randomBytes(3).toString('hex')}`)).stdout).toContain('still here');
    } finally {
      await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
      await Promise.all([d.close(), w.close()]);
    }
  }, 60_000);
});

describe('runner-queue in the run pipeline', () => {
  it('runs a governed task on a worker: the trace, its output and its provenance are stored by the dispatching side', async () => {
    const w = await worker();
    const rt = await createRuntime({
      config: {
        dataDir: tempDir(), logLevel: 'silent', storage: 'sqlite',
        plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { preset: 'default', packs: ['malicious'] }, 'governance-rules-malicious': true, orchestrator: {} },
      },
      plugins: [runnerQueue.configure({ url: URL, schema: SCHEMA, ...TIMING })],
    });
    try {
      const orch = rt.resolve('orchestrator');
      const session = await orch.openSession({ name: 'queued' });
      const outcome = await orch.run({ sessionId: session.id, runner: 'queue', task: { input: 'print(6 * 7)' } });
      expect(outcome.trace.status).toBe('ok');
      expect(outcome.trace.output?.stdout.trim()).toBe('42');
      expect(outcome.trace.runner).toBe('queue');
      const detail = await orch.inspectTrace(undefined, outcome.trace.id);
      expect(detail.verification.verified).toBe(true);
      expect(detail.provenance.map((e) => e.action)).toContain('executed');
      await orch.closeSession(undefined, session.id);
      expect(await route(session.id)).toBeUndefined();
    } finally {
      await Promise.all([rt.close(), w.close()]);
    }
  }, 60_000);
});

describe('runner-queue configuration errors', () => {
  it('refuses a worker whose runner is not loaded, naming the plugin to enable', async () => {
    const error = await createRuntime({
      config: { dataDir: tempDir(), logLevel: 'silent', plugins: {} },
      plugins: [runnerQueue.configure({ url: URL, schema: SCHEMA, worker: { enabled: true } })],
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_RUNNER_NOT_FOUND' });
    expect(String((error as Error).message)).toMatch(/runner:python, which no loaded plugin provides/);
    expect((error as { fix?: string }).fix).toMatch(/runner-python/);
  }, 30_000);

  it('reports an unreachable PostgreSQL at boot as LIMIT_RUNNER_UNAVAILABLE without the password', async () => {
    const error = await createRuntime({
      config: { dataDir: tempDir(), logLevel: 'silent', plugins: {} },
      plugins: [runnerQueue.configure({ url: 'postgres://u:secret@127.0.0.1:1/test', schema: SCHEMA })],
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_RUNNER_UNAVAILABLE', fix: expect.stringMatching(/Check url .*PostgreSQL accepts connections/) });
    expect(JSON.stringify({ m: (error as Error).message, c: String((error as Error).cause), f: (error as { fix?: string }).fix })).not.toContain('secret');
    expect((error as Error).message).toMatch(/^runner-queue: cannot open the queue on 127\.0\.0\.1:1: .*ECONNREFUSED/);
  }, 30_000);

  it('`limit worker` refuses a worker.heartbeatMs over half of workerTimeoutMs, as worker.enabled is refused', async () => {
    // The options check it only for worker.enabled; `limit worker` starts a worker whatever that says,
    // and one whose heartbeat is rarer than half the timeout would look dead to the dispatchers between beats.
    const dir = tempDir();
    writeFileSync(path.join(dir, 'limit.config.json'), JSON.stringify({
      dataDir: dir,
      plugins: {
        'runner-python': { python: PYTHON, workDir: path.join(dir, 'sessions') },
        'runner-queue': { url: URL, schema: SCHEMA, workerTimeoutMs: 2_000, worker: { heartbeatMs: 1_500 } },
      },
    }));
    const r = await runCli(['worker', '--config', path.join(dir, 'limit.config.json')], {
      cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' }, signal: AbortSignal.timeout(15_000),
    });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).not.toMatch(/consuming/);
    expect(r.stderr).toMatch(/LIMIT_PLUGIN_OPTIONS_INVALID: runner-queue: worker\.heartbeatMs must be at most half of workerTimeoutMs, .*\(worker\.heartbeatMs 1500, workerTimeoutMs 2000\)/);
    expect(r.stderr).toMatch(/fix: .*heartbeatMs to at most 1000/);
  }, 30_000);

  it('validates its options with the field named', async () => {
    const error = await createRuntime({
      config: { dataDir: tempDir(), logLevel: 'silent', plugins: {} },
      plugins: [runnerQueue.configure({ url: 'mysql://x', schema: SCHEMA })],
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_PLUGIN_OPTIONS_INVALID' });
    expect((error as Error).message).toContain('(runner-queue).url: Expected a postgres:// or postgresql:// URL');
  });
});
