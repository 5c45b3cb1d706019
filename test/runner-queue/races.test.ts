/**
 * runner-queue's close races, made deterministic: the worker's local runner is an in-memory fake
 * whose closeSession and tasks wait at gates the test opens, and the points the test waits for are
 * events (a gate reached, a job handed to the worker's handler), never sleeps. Real PostgreSQL and
 * pg-boss carry the jobs, as in production; each file run has its own schema, dropped afterwards.
 *
 * The first group drives a QueueWorker built here (not through a runtime) so that the test sees
 * the moment pg-boss hands it a job, holds a job's hand-off, and holds the idle sweep between its
 * DELETE and its decision.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { describe, expect, it, vi } from 'vitest';
import { LimitError, Task, createLogger, createRuntime, definePlugin, type HealthResult, type LimitErrorCode, type RunContext, type RunResult, type Runner, type Runtime, type TaskParsed } from 'limit-graph';
import { makeRunContext } from 'limit-graph/testing';
import runnerQueue, { QueueRunner, RunnerQueueOptions } from '../../plugins/runner-queue/index.ts';
import { QueueWorker } from '../../plugins/runner-queue/worker.ts';
import { Registry } from '../../plugins/runner-queue/registry.ts';
import { Listener, notify } from '../../plugins/runner-queue/wakeups.ts';
import { PG_URL as URL, adminPool } from '../helpers/storage-backend.ts';

const SCHEMA = `limit_queue_races_${process.pid}_${randomBytes(3).toString('hex')}`;
const TENANT = 'conformance'; // makeRunContext's
const logger = createLogger({ level: 'silent' });

const admin = adminPool(SCHEMA);

interface Gate {
  /** Resolved when the gated call reaches the gate. */
  reached: Promise<void>;
  open(): void;
}
function gate(): Gate & { arrive(): Promise<void> } {
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const opened = new Promise<void>((r) => (open = r));
  return { reached, open, arrive: () => (reach(), opened) };
}

/**
 * An in-memory runner with state per session: a task's lines are `set k v` (stdout nothing) and
 * `get k` (stdout `k=v`, or `k=-` when unset), `throw CODE` (throws LimitError CODE; `throw plain`, an Error). closeSession drops the session's state when it ends.
 * `holdClose(s)` / `holdTask(s)` make the next close / task of session s wait at a gate.
 */
class FakeRunner implements Runner {
  readonly name = 'fake';
  readonly capabilities = { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false };
  readonly state = new Map<string, Map<string, string>>();
  /** What happened, in order: `run <s>` (a task started), `close <s>` (a close began), `closed <s>`. */
  readonly events: string[] = [];
  readonly #closeGates = new Map<string, ReturnType<typeof gate>>();
  readonly #taskGates = new Map<string, ReturnType<typeof gate>>();
  readonly #gates: Gate[] = [];

  /** Opens every gate (a failed test's clean-up: nothing is left waiting). */
  openAll(): void {
    for (const g of this.#gates) g.open();
  }

  holdClose(sessionId: string): Gate {
    const g = gate();
    this.#closeGates.set(sessionId, g);
    this.#gates.push(g);
    return g;
  }

  holdTask(sessionId: string): Gate {
    const g = gate();
    this.#taskGates.set(sessionId, g);
    this.#gates.push(g);
    return g;
  }

  async executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    const id = ctx.session.id;
    this.events.push(`run ${id}`);
    const g = this.#taskGates.get(id);
    this.#taskGates.delete(id);
    if (g) await g.arrive();
    const vars = this.state.get(id) ?? new Map<string, string>();
    this.state.set(id, vars);
    const out: string[] = [];
    for (const line of task.input.split('\n')) {
      const [op, k, v] = line.trim().split(' ');
      if (op === 'throw') throw k === 'plain' ? new Error('fake: a bug') : new LimitError(k as LimitErrorCode, `fake: refused (${k})`, { fix: `fix for ${k}` });
      if (op === 'set') vars.set(k!, v!);
      if (op === 'get') out.push(`${k}=${vars.get(k!) ?? '-'}`);
    }
    return { ok: true, stdout: out.join(' '), stderr: '', metrics: { latencyMs: 0 } };
  }

  async closeSession(sessionId: string): Promise<void> {
    this.events.push(`close ${sessionId}`);
    const g = this.#closeGates.get(sessionId);
    this.#closeGates.delete(sessionId);
    if (g) await g.arrive();
    this.state.delete(sessionId);
    this.events.push(`closed ${sessionId}`);
  }

  async health(): Promise<HealthResult> {
    return { status: 'ok', message: 'fake' };
  }
}

/** Options of every runtime here: timings short enough for an idle sweep (every 10th heartbeat) about once a second. */
const OPTIONS = { url: URL, schema: SCHEMA, runner: 'fake', pollMs: 20, workerTimeoutMs: 2_000 };
const WORKER = { enabled: true, pollMs: 500, heartbeatMs: 100, concurrency: 4, runners: ['fake'] };

/** A dispatch-only runtime sending runner:fake's tasks through the queue. */
const dispatcher = (): Promise<Runtime> =>
  createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [runnerQueue.configure(OPTIONS)] });

/**
 * A QueueWorker running `runner` on this schema, built as the plugin's Connection builds it, with
 * two windows for the test: `handed(s)` resolves once pg-boss has handed a run job of session s to
 * the worker's handler and the handler's synchronous part has run (it has looked for a close of
 * the session under way: it waits for it, or has called the runner); `holdSweep()` makes the next
 * idle sweep that forgets sessions wait, its routes already deleted, before it decides what to close;
 * `delay(kind, s)` makes pg-boss's hand-off of the next `kind` job ('run' or 'close') of session s
 * to the handler wait at a gate (the job taken by one of the worker's loops, its handler not
 * started: `handled` resolves once it has run); `send(job)` puts a job of our own making on the
 * worker's queue.
 */
/**
 * A pool, a started pg-boss on it and a Registry, on the test schema; `end()` stops the boss and
 * ends the pool. `statements` holds pg-boss's statements still running, as the plugin's Connection
 * tracks them; `holdFetch(queue)` makes the next fetch of that queue (a poll loop's) wait at a gate
 * before it is sent to PostgreSQL — a fetch in flight.
 */
async function queueParts(max: number) {
  const options = RunnerQueueOptions.parse(OPTIONS);
  const pool = new pg.Pool({ connectionString: URL, max });
  const statements = new Set<Promise<unknown>>();
  let fetchHeld: { queue: string; gate: ReturnType<typeof gate> } | undefined;
  const holdFetch = (queue: string): Gate => {
    const g = gate();
    fetchHeld = { queue, gate: g };
    return g;
  };
  const executeSql = (text: string, values: unknown[]) => {
    const held = fetchHeld;
    // pg-boss's fetch of the next jobs: `… FOR UPDATE SKIP LOCKED …`, the queue its first value.
    const isFetch = held !== undefined && text.includes('FOR UPDATE SKIP LOCKED') && values?.[0] === held.queue;
    if (isFetch) fetchHeld = undefined;
    const query = isFetch ? held.gate.arrive().then(() => pool.query(text, values)) : pool.query(text, values);
    statements.add(query);
    void query.finally(() => statements.delete(query)).catch(() => undefined);
    return query;
  };
  const boss = new PgBoss({ db: { executeSql }, schema: SCHEMA, schedule: false, supervise: false });
  boss.on('error', () => undefined);
  await boss.start();
  const registry = new Registry(pool, SCHEMA, options.workerTimeoutMs, options.sessionIdleMs);
  const end = async () => {
    await boss.stop({ graceful: true, close: false, wait: true });
    await pool.end();
  };
  return { options, pool, boss, registry, end, statements, holdFetch };
}

async function directWorker(runner: FakeRunner, workerOptions: Partial<typeof WORKER> = {}) {
  const options = RunnerQueueOptions.parse({ ...OPTIONS, worker: { ...WORKER, ...workerOptions } });
  const { pool, boss, registry, end, statements, holdFetch } = await queueParts(4);
  await registry.migrate();
  const listener = new Listener(URL, logger);
  const waiting = new Map<string, () => void>();
  const handed = (sessionId: string) => new Promise<void>((resolve) => waiting.set(sessionId, resolve));
  const delayed = new Map<string, ReturnType<typeof gate> & { done: () => void }>();
  const delays: Gate[] = [];
  const delay = (kind: 'run' | 'close', sessionId: string) => {
    const g = gate();
    delays.push(g);
    let done!: () => void;
    const handled = new Promise<void>((resolve) => (done = resolve));
    delayed.set(`${kind} ${sessionId}`, { ...g, done });
    return { reached: g.reached, open: g.open, handled };
  };
  const watched = new Proxy(boss, {
    get(target, prop) {
      if (prop === 'work') {
        return (queue: string, opts: PgBoss.WorkOptions, handler: (jobs: PgBoss.Job<unknown>[]) => Promise<unknown>) =>
          target.work(queue, opts, (jobs: PgBoss.Job<unknown>[]) => {
            const data = jobs[0]?.data as { kind?: string; sessionId?: string; session?: { id?: string } };
            const delayKey = `${data.kind} ${data.kind === 'close' ? data.sessionId : data.session?.id}`;
            const held = delayed.get(delayKey);
            if (held) {
              delayed.delete(delayKey);
              return held.arrive().then(() => handler(jobs)).finally(held.done);
            }
            const handling = handler(jobs);
            const session = data.session?.id;
            if (session !== undefined) waiting.get(session)?.();
            return handling;
          });
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  let sweep: (ReturnType<typeof gate> & { forgot?: string[] }) | undefined;
  const holdSweep = () => (sweep = gate());
  const expire = registry.expire.bind(registry);
  registry.expire = async (workerId, busy) => {
    const forgotten = await expire(workerId, busy);
    const held = sweep;
    if (held && forgotten.length > 0) {
      sweep = undefined;
      held.forgot = forgotten.map((f) => f.sessionId);
      await held.arrive();
    }
    return forgotten;
  };
  let beat: ReturnType<typeof gate> | undefined;
  const holdHeartbeat = () => (beat = gate());
  const heartbeat = registry.heartbeat.bind(registry);
  registry.heartbeat = async (id) => {
    const held = beat;
    beat = undefined;
    if (held) await held.arrive();
    return heartbeat(id);
  };
  const wakeups = {
    listen: (channel: string, on: (payload: string) => void) => listener.listen(channel, on),
    notify: (channel: string, payload?: string) => notify(pool, channel, payload),
    bossStatements: () => [...statements],
  };
  const worker = new QueueWorker(watched, registry, wakeups, options, new Map([['fake', runner]]), logger);
  await worker.start();
  return {
    handed,
    /** Holds the next fetch of this worker's queue before it is sent (queueParts' holdFetch). */
    holdFetch: () => holdFetch(worker.queue),
    holdSweep,
    holdHeartbeat,
    id: worker.id,
    stop: () => worker.stop(),
    delay,
    send: (job: object) => boss.send(worker.queue, job, { retryLimit: 0 }),
    close: async () => {
      sweep?.open();
      beat?.open();
      for (const g of delays) g.open();
      await worker.stop();
      await listener.close();
      await end();
    },
  };
}

const run = (d: Runtime, input: string, sessionId: string) => d.resolve('runner:queue').executeIsolated(Task.parse({ input }), makeRunContext({ sessionId }));
const session = (name: string) => `s-${name}-${randomBytes(4).toString('hex')}`;
/** Makes the session's route look idle for two days (sessionIdleMs defaults to one): the next sweep forgets it. */
const makeIdle = (sessionId: string) => admin.query(`UPDATE "${SCHEMA}".limit_session_routes SET used_at = now() - interval '2 days' WHERE session_id = $1`, [sessionId]);
/** The job with that id once it has finished (completed or failed). */
const outcome = async (id: string | null) => {
  for (;;) {
    const q = await admin.query(`SELECT state, output FROM "${SCHEMA}".job WHERE id = $1`, [id]);
    const row = q.rows[0] as { state: string; output: { stdout?: string; message?: string } };
    if (row.state === 'completed' || row.state === 'failed') return row;
    await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the job
  }
};
/** Lets every callback already queued (promise continuations, no I/O) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `body` with a fake runner, a worker built directly on it (directWorker) and a dispatcher,
 * then opens every gate left shut and closes both, whatever the body did.
 */
async function withDirectWorker(body: (h: { fake: FakeRunner; w: Awaited<ReturnType<typeof directWorker>>; d: Runtime }) => Promise<void>): Promise<void> {
  const fake = new FakeRunner();
  const w = await directWorker(fake);
  const d = await dispatcher();
  try {
    await body({ fake, w, d });
  } finally {
    fake.openAll();
    await d.close();
    await w.close();
  }
}

describe('runner-queue close races (deterministic)', () => {
  it.each<[how: string, name: string, close: (d: Runtime, s: string) => Promise<unknown>]>([
    ['a close job', 'close-job', (d, s) => (d.resolve('runner:queue') as QueueRunner).closeSession(s, TENANT)],
    ['the idle sweep', 'idle-closing', (_d, s) => makeIdle(s)],
  ])('a run arriving while %s closes its session waits for that close to end, then runs on fresh state that stays (the close never takes what it did)', async (_how, name, close) => {
    await withDirectWorker(async ({ fake, w, d }) => {
      const s = session(name);
      expect((await run(d, 'set kept 42', s)).ok).toBe(true);
      const closing = fake.holdClose(s);
      await close(d, s);
      await closing.reached; // the route is deleted and the session's close has begun on the runner
      const handed = w.handed(s);
      const next = run(d, 'get kept\nset mine 7', s);
      await handed;
      // The worker has the job and is waiting: the runner has not seen the task, the close still holds the old state.
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`]);
      expect(fake.state.get(s)?.get('kept')).toBe('42');
      closing.open();
      const r = await next;
      expect([r.ok, r.stdout]).toEqual([true, 'kept=-']);
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`, `run ${s}`]);
      // What it did was not closed away.
      expect((await run(d, 'get mine', s)).stdout).toBe('mine=7');
      expect(fake.events.filter((e) => e.startsWith('close'))).toEqual([`close ${s}`, `closed ${s}`]);
    });
  }, 30_000);

  it("a run arriving after the idle sweep deleted its route but before the sweep decided starts afresh (a new route's state); the sweep then closes nothing of it", async () => {
    await withDirectWorker(async ({ fake, w, d }) => {
      const s = session('idle-deciding');
      expect((await run(d, 'set kept 42', s)).ok).toBe(true);
      const sweep = w.holdSweep();
      await makeIdle(s);
      await sweep.reached; // its DELETE is done: the route is gone
      expect(await admin.query(`SELECT 1 FROM "${SCHEMA}".limit_session_routes WHERE session_id = $1`, [s]).then((q) => q.rowCount)).toBe(0);
      // The run routes the session anew (to this worker, the only one): a new route generation, so
      // the worker closes the deleted route's state first and runs afresh — as it would on another
      // worker, and as it does when the sweep's decision comes first.
      const r = await run(d, 'get kept\nset mine 7', s);
      expect([r.ok, r.stdout]).toEqual([true, 'kept=-']);
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`, `run ${s}`]);
      sweep.open();
      await settle(); // the sweep's decision and any close it began run in promise continuations
      // The sweep finds state of a later route than the one it deleted: it closes nothing.
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`, `run ${s}`]);
      expect((await run(d, 'get kept\nget mine', s)).stdout).toBe('kept=- mine=7');
    });
  }, 30_000);

  it('a run job handed over before the close job of its earlier route (two loops) closes that state first, then runs afresh; the late close leaves what it did', async () => {
    await withDirectWorker(async ({ fake, w, d }) => {
      const s = session('late-close');
      expect((await run(d, 'set kept 42', s)).ok).toBe(true);
      const close = w.delay('close', s);
      await (d.resolve('runner:queue') as QueueRunner).closeSession(s, TENANT);
      await close.reached; // one loop took the close job; its handler has not started
      // The session's next task is routed anew and taken by another loop, whose handler starts first.
      const r = await run(d, 'get kept\nset mine 7', s);
      expect([r.ok, r.stdout]).toEqual([true, 'kept=-']);
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`, `run ${s}`]);
      close.open();
      await close.handled;
      // The close job's handler ran last: it found the new route's state and left it.
      const closed = await admin.query(`SELECT state, output FROM "${SCHEMA}".job WHERE data->>'kind' = 'close' AND data->>'sessionId' = $1`, [s]);
      expect(closed.rows).toEqual([{ state: 'completed', output: { closed: s, tenant: TENANT, runners: [], kept: ['fake'] } }]);
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`, `run ${s}`]);
      expect((await run(d, 'get kept\nget mine', s)).stdout).toBe('kept=- mine=7');
    });
  }, 30_000);

  it('a run job sent before its session was closed but handed to the worker after the close job ran is refused, and leaves no state', async () => {
    await withDirectWorker(async ({ fake, w, d }) => {
      const s = session('late-run');
      expect((await run(d, 'set kept 42', s)).ok).toBe(true);
      const late = w.delay('run', s);
      const next = run(d, 'get kept\nset late 1', s); // sent on the session's route, as it is now
      await late.reached; // one loop took the run job; its handler has not started
      await (d.resolve('runner:queue') as QueueRunner).closeSession(s, TENANT);
      const closeJob = (await admin.query(`SELECT id FROM "${SCHEMA}".job WHERE data->>'kind' = 'close' AND data->>'sessionId' = $1`, [s])).rows[0].id as string;
      expect((await outcome(closeJob)).state).toBe('completed'); // another loop handled the close job
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`]);
      late.open();
      const r = await next;
      expect([r.ok, r.error?.code]).toEqual([false, 'LIMIT_CONFLICT']); // the worker's code, as a local runner's refusal is recorded
      const refused = (await admin.query(`SELECT state, output FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = $1 AND data->'task'->>'input' LIKE '%set late%'`, [s])).rows[0] as { state: string; output: { code?: string; message?: string } };
      expect(refused.state).toBe('failed');
      expect(refused.output.code).toBe('LIMIT_CONFLICT');
      expect(refused.output.message).toMatch(new RegExp(`^Session "${s}" was closed on worker w-\\w+ after this task was sent \\(route generation \\d+, closed up to \\d+\\): the task did not run$`));
      // The task never reached the runner, and no state of the closed route was made (nothing would close it).
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`]);
      expect(fake.state.has(s)).toBe(false);
      // The session's next task is routed anew and runs afresh.
      expect((await run(d, 'get kept', s)).stdout).toBe('kept=-');
    });
  }, 30_000);

  it('jobs without a route generation (older dispatchers) act as before; a run job of an earlier route than the state held is refused', async () => {
    const runJob = (s: string, input: string, generation?: number) => ({
      kind: 'run', runner: 'fake', task: Task.parse({ input }), session: { id: s, tenant: TENANT, limits: makeRunContext({ sessionId: s }).session.limits }, traceId: 't', generation,
    });
    await withDirectWorker(async ({ fake, w, d }) => {
      const s = session('versionless');
      await admin.query(`SELECT nextval('"${SCHEMA}".limit_session_route_generation') FROM generate_series(1, 2)`); // the session's generation is 3 or more
      expect((await run(d, 'set kept 42', s)).ok).toBe(true);
      const generation = Number((await admin.query(`SELECT generation FROM "${SCHEMA}".limit_session_routes WHERE session_id = $1`, [s])).rows[0].generation);
      // A run job without a generation runs on the state held.
      expect((await outcome(await w.send(runJob(s, 'get kept')))).output.stdout).toBe('kept=42');
      // One of an earlier route than the state held did not run: its session was closed since.
      const stale = await outcome(await w.send(runJob(s, 'set stale 1', generation - 1)));
      expect(stale.state).toBe('failed');
      expect(stale.output.message).toMatch(new RegExp(`^Session "${s}" was closed and started again on worker w-\\w+ after this task was sent \\(route generation ${generation - 1}, the session's now ${generation}\\): the task did not run$`));
      // A close job without a generation closes the state held, whatever its route.
      expect((await outcome(await w.send({ kind: 'close', tenant: TENANT, sessionId: s }))).state).toBe('completed');
      expect(fake.events).toEqual([`run ${s}`, `run ${s}`, `close ${s}`, `closed ${s}`]);
      expect(fake.state.has(s)).toBe(false);
    });
  }, 30_000);
});

describe("runner-queue close() with a job in flight", () => {
  /** A worker runtime whose runner:fake is `fake`; `logged(text)` resolves once a log line holding `text` is written. */
  const workerRuntime = (fake: FakeRunner, logged?: { text: string; then: () => void }) => {
    const plugin = definePlugin({
      meta: { name: 'runner-fake', version: '1.0.0', provides: ['runner:fake'] },
      setup(ctx) {
        ctx.provide('runner:fake', fake);
      },
    });
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void (logged && line.includes(logged.text) && logged.then()) } as never });
    return createRuntime({ config: { logLevel: 'silent', plugins: {} }, logger: log, plugins: [plugin, runnerQueue.configure({ ...OPTIONS, worker: WORKER })] });
  };

  it("a worker's close() waits for the task it is running: the answer reaches the dispatcher, then close() ends", async () => {
    const fake = new FakeRunner();
    let stopping!: () => void;
    const waiting = new Promise<void>((resolve) => (stopping = resolve));
    const w = await workerRuntime(fake, { text: 'worker stopping: finishing its running jobs', then: () => stopping() });
    const d = await dispatcher();
    try {
      const s = session('worker-close');
      const task = fake.holdTask(s);
      const running = run(d, 'set x 1\nget x', s);
      await task.reached;
      const order: string[] = [];
      const closed = w.close().then((report) => (order.push('closed'), report));
      await waiting; // close() has stopped taking jobs and waits for this one
      // And the worker stays registered and heartbeating meanwhile: the task is released once a
      // heartbeat came after that point (or once close() ended, which fails the test below).
      const workers = `"${SCHEMA}".limit_workers`;
      const since = (await admin.query(`SELECT max(heartbeat_at) AS at FROM ${workers}`)).rows[0].at as Date;
      while (!order.includes('closed') && !(await admin.query(`SELECT 1 FROM ${workers} WHERE heartbeat_at > $1`, [since])).rowCount) {
        await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the registry
      }
      order.push('released');
      task.open();
      const r = await running;
      expect([r.ok, r.stdout]).toEqual([true, 'x=1']);
      expect((await closed).errors).toEqual([]);
      expect(order).toEqual(['released', 'closed']);
    } finally {
      fake.openAll();
      await d.close();
      await w.close();
    }
  }, 30_000);

  it("a dispatcher's close() with a task in flight ends it at once, saying so, and does not hang", async () => {
    const fake = new FakeRunner();
    const w = await workerRuntime(fake);
    const d = await dispatcher();
    const s = session('dispatcher-close');
    const task = fake.holdTask(s);
    const queue = d.resolve('runner:queue');
    try {
      const running = queue.executeIsolated(Task.parse({ input: 'get x' }), makeRunContext({ sessionId: s }));
      await task.reached;
      expect((await d.close()).errors).toEqual([]);
      const r = await running;
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('LIMIT_RUNNER_ABORTED');
      expect(r.error?.message).toMatch(/^runner-queue: closed \(its runtime is shutting down\) before worker w-\w+ answered; the task's job is cancelled$/);
      // Cancelled before the connection closed: the worker sees it (and aborts the task).
      const job = await admin.query(`SELECT state FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = $1`, [s]);
      expect(job.rows).toEqual([{ state: 'cancelled' }]);
      // A task given to the closed runner is answered so at once.
      const late = await queue.executeIsolated(Task.parse({ input: 'get x' }), makeRunContext({ sessionId: s }));
      expect([late.ok, late.error?.code, late.error?.message]).toEqual([false, 'LIMIT_RUNNER_ABORTED', 'runner-queue: closed (its runtime is shutting down); the task was not sent to a worker']);
    } finally {
      fake.openAll();
      await d.close();
      await w.close();
    }
  }, 30_000);
});

describe('runner-queue: a worker reaped while it was paused', () => {
  it('registers again with its queue: a reaper that deleted the queue (idle, nobody consuming it) does not leave a live worker that every task routed to it fails on', async () => {
    await withDirectWorker(async ({ d }) => {
      const s = session('before-reap');
      expect((await run(d, 'set x 1\nget x', s)).stdout).toBe('x=1');
      const { id, queue } = (await admin.query(`SELECT id, queue FROM "${SCHEMA}".limit_workers`)).rows[0] as { id: string; queue: string };
      // What another worker's #reap does to one whose heartbeat is older than workerTimeoutMs and
      // whose queue has been idle as long (a long GC, a suspended VM): unregister it, drop its queue.
      const reaper = new Registry(admin, SCHEMA, 2_000, 86_400_000);
      await reaper.unregister(id);
      await reaper.dropQueue(queue);
      // Its next heartbeat finds its row gone and registers again.
      while (!(await admin.query(`SELECT 1 FROM "${SCHEMA}".limit_workers WHERE id = $1`, [id])).rowCount) {
        await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the registry
      }
      const r = await run(d, 'get x\nset y 2\nget y', session('after-reap'));
      expect([r.ok, r.error?.message, r.stdout]).toEqual([true, undefined, 'x=- y=2']);
      // A reaper that listed the queue as nobody's before the worker came back keeps it now…
      await reaper.dropQueue(queue);
      const queued = async () => (await admin.query(`SELECT 1 FROM "${SCHEMA}".queue WHERE name = $1`, [queue])).rowCount === 1;
      expect(await queued()).toBe(true);
      // …and should it go all the same (that reaper's delete landing after the worker's return), the next heartbeat makes it again.
      await admin.query(`BEGIN; DELETE FROM "${SCHEMA}".job WHERE name = '${queue}'; SELECT "${SCHEMA}".delete_queue('${queue}'); COMMIT`);
      while (!(await queued())) await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the queue
      expect((await run(d, 'get y', session('after-drop'))).stdout).toBe('y=-');
    });
  }, 30_000);
});

describe('runner-queue: a worker that looks dead while its job is still queued', () => {
  it('takes the job between the dispatcher\'s look and its cancel: the task is not sent again (it would run twice); the dispatcher says the worker stopped heartbeating while it ran', async () => {
    const fake = new FakeRunner();
    // The worker polls rarely: the job stays queued until the test wakes it.
    const w = await directWorker(fake, { pollMs: 60_000 });
    const { options, pool, boss, registry, end } = await queueParts(2);
    const s = session('looks-dead');
    const task = fake.holdTask(s);
    let workerChannel = '';
    let looked = false;
    // The dispatcher's look at its worker's liveness comes while the job is still queued; the
    // worker (paused a while, its heartbeat late) takes the job just then.
    registry.isLive = async () => {
      if (looked) return true;
      looked = true;
      await notify(pool, workerChannel);
      await task.reached;
      return false;
    };
    const link = {
      boss: () => boss,
      registry: () => registry,
      replyChannel: 'limit-queue:dispatcher:looks-dead',
      // The dispatcher's first wake-up of the worker is lost: the job waits for the worker's poll.
      notify: async (channel: string) => {
        workerChannel = channel;
        if (looked) await notify(pool, channel);
      },
    };
    const runner = new QueueRunner(link, options, logger);
    try {
      const r = await runner.executeIsolated(Task.parse({ input: 'set x 1' }), makeRunContext({ sessionId: s }));
      task.open();
      expect([r.ok, r.error?.code]).toEqual([false, 'LIMIT_RUNNER_UNAVAILABLE']);
      expect(r.error?.message).toMatch(/^runner-queue: worker w-\w+ stopped heartbeating while it ran the task$/);
      // One job, cancelled (the worker aborts the task): none sent again.
      const jobs = await admin.query(`SELECT state FROM "${SCHEMA}".job WHERE data->>'kind' = 'run' AND data->'session'->>'id' = $1`, [s]);
      expect(jobs.rows).toEqual([{ state: 'cancelled' }]);
      expect(fake.events).toEqual([`run ${s}`]);
    } finally {
      fake.openAll();
      await runner.close();
      await end();
      await w.close();
    }
  }, 30_000);
});

describe('runner-queue: a worker stopping while a heartbeat is under way', () => {
  it('leaves the registry for good: the heartbeat that ends after stop() unregistered does not register the stopped worker again', async () => {
    const fake = new FakeRunner();
    const w = await directWorker(fake);
    try {
      const beat = w.holdHeartbeat();
      await beat.reached; // a heartbeat has begun; its UPDATE is not sent yet
      const stopped = w.stop();
      await new Promise((resolve) => setTimeout(resolve, 200)); // room for stop() to unregister, were it not waiting for the heartbeat
      beat.open();
      await stopped;
      await new Promise((resolve) => setTimeout(resolve, 300)); // three heartbeat periods: none comes after stop()
      expect((await admin.query(`SELECT id FROM "${SCHEMA}".limit_workers WHERE id = $1`, [w.id])).rows).toEqual([]);
    } finally {
      await w.close();
    }
  }, 30_000);
});

describe("runner-queue: a worker stopping while one of its loops is still taking a job", () => {
  const workers = `"${SCHEMA}".limit_workers`;
  const heartbeatOf = async (id: string) => ((await admin.query(`SELECT heartbeat_at FROM ${workers} WHERE id = $1`, [id])).rows[0] as { heartbeat_at: Date } | undefined)?.heartbeat_at;

  /**
   * Calls stop() while the job is held (`hold`), then checks that it has not ended and that the
   * worker is still registered and heartbeating — it waits for a heartbeat after stop() began (or
   * for stop() to end, or the worker to leave, which fail the test) — then opens the hold: the task
   * runs, its answer reaches the dispatcher, and only then stop() ends and the worker leaves.
   */
  const stopAcross = async (w: Awaited<ReturnType<typeof directWorker>>, fake: FakeRunner, hold: Gate, running: Promise<RunResult>, s: string) => {
    let stopped = false;
    const stopping = w.stop().then(() => void (stopped = true));
    const since = await heartbeatOf(w.id);
    for (let now = since; now && !stopped && now.getTime() === since!.getTime(); now = await heartbeatOf(w.id)) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the registry
    }
    expect(stopped, 'stop() ended while a job its loop had taken was still to be handed over').toBe(false);
    expect(await heartbeatOf(w.id), 'the worker left the registry while a job its loop had taken was still to be handed over').toBeDefined();
    hold.open();
    const r = await running;
    expect([r.ok, r.stdout, r.error]).toEqual([true, 'x=1', undefined]);
    await stopping;
    expect(await heartbeatOf(w.id)).toBeUndefined();
    expect(fake.events).toEqual([`run ${s}`]);
  };

  it("waits for a job whose hand-off to the handler comes after stop() (pg-boss had taken it): the task runs, answers, and then the worker leaves", async () => {
    const fake = new FakeRunner();
    const w = await directWorker(fake);
    const d = await dispatcher();
    try {
      const s = session('stop-handoff');
      const handOff = w.delay('run', s);
      const running = run(d, 'set x 1\nget x', s);
      await handOff.reached; // the job is active: a loop took it; its hand-off waits
      await stopAcross(w, fake, handOff, running, s);
    } finally {
      fake.openAll();
      await d.close();
      await w.close();
    }
  }, 30_000);

  it("waits for a loop's fetch still in flight at stop() (not yet sent to PostgreSQL): it takes the job, the task runs, and then the worker leaves", async () => {
    const fake = new FakeRunner();
    const w = await directWorker(fake, { concurrency: 1 });
    const d = await dispatcher();
    try {
      const s = session('stop-fetch');
      const fetch = w.holdFetch();
      await fetch.reached; // the one loop's next fetch waits before it is sent
      const running = run(d, 'set x 1\nget x', s);
      for (const until = Date.now() + 10_000; Date.now() < until && !(await admin.query(`SELECT 1 FROM "${SCHEMA}".job WHERE data->'session'->>'id' = $1`, [s])).rowCount;) {
        await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the queue
      }
      await stopAcross(w, fake, fetch, running, s);
    } finally {
      fake.openAll();
      await d.close();
      await w.close();
    }
  }, 30_000);
});

describe('runner-queue: a close job that cannot be sent', () => {
  it.each<[how: string, send: () => Promise<string | null>]>([
    ['PostgreSQL fails the send', () => Promise.reject(new Error('Connection terminated unexpectedly'))],
    ['pg-boss refuses the job (no id)', () => Promise.resolve(null)],
  ])("when %s, closeSession rejects saying so and keeps the route: closing again releases the session's state on its worker", async (_how, failedSend) => {
    const fake = new FakeRunner();
    const w = await directWorker(fake);
    const { options, pool, boss, registry, end } = await queueParts(2);
    let failNextClose = false;
    // The boss the dispatcher sees: its next send of a close job fails as `failedSend` says.
    const faulty = new Proxy(boss, {
      get(target, prop) {
        if (prop === 'send') {
          return (name: string, data: { kind?: string }, opts: PgBoss.SendOptions) => {
            if (data.kind === 'close' && failNextClose) {
              failNextClose = false;
              return failedSend();
            }
            return target.send(name, data, opts);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const link = { boss: () => faulty, registry: () => registry, replyChannel: 'limit-queue:dispatcher:close-fails', notify: (channel: string, payload?: string) => notify(pool, channel, payload) };
    const runner = new QueueRunner(link, options, logger);
    const routed = async (s: string) => (await admin.query(`SELECT 1 FROM "${SCHEMA}".limit_session_routes WHERE session_id = $1`, [s])).rowCount;
    try {
      const s = session('close-fails');
      expect((await runner.executeIsolated(Task.parse({ input: 'set kept 42' }), makeRunContext({ sessionId: s }))).ok).toBe(true);
      failNextClose = true;
      const refused = await runner.closeSession(s, TENANT).then(() => undefined, (error: unknown) => error);
      expect(refused).toMatchObject({ code: 'LIMIT_RUNNER_UNAVAILABLE' });
      expect((refused as Error).message).toMatch(new RegExp(`^runner-queue: could not send the close job of session "${s}" \\(tenant "${TENANT}"\\) to worker w-\\w+: .+; nothing was released: the session keeps its route and its state on its worker$`));
      // The route is still there: neither the idle sweep nor a later close would find the session otherwise.
      expect(await routed(s)).toBe(1);
      expect(fake.state.get(s)?.get('kept')).toBe('42');
      // Closing again (here without a tenant: this dispatcher still knows the one it ran the id for) releases it.
      await runner.closeSession(s);
      expect(await routed(s)).toBe(0);
      for (const until = Date.now() + 10_000; !fake.events.includes(`closed ${s}`) && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 20)); // the interval between two looks at the runner
      expect(fake.events).toEqual([`run ${s}`, `close ${s}`, `closed ${s}`]);
      expect(fake.state.has(s)).toBe(false);
    } finally {
      await runner.close();
      await end();
      await w.close();
    }
  }, 30_000);
});

describe('runner-queue: the LISTEN connection', () => {
  it('a late error of a connection already replaced leaves its successor in use: no third connection, and close() ends every one', async () => {
    // Every pg.Client the Listener makes, recorded (wakeups.ts makes them with `new pg.Client`).
    const made: pg.Client[] = [];
    const Client = pg.Client;
    pg.Client = class extends Client {
      constructor(config?: string | pg.ClientConfig) {
        super(config);
        made.push(this);
      }
    };
    const listener = new Listener(URL, logger);
    const channel = `limit-queue:test:${randomBytes(4).toString('hex')}`;
    const heard: string[] = [];
    /** Notifies the channel until the listener hears it (a reconnection takes its 1 s delay). */
    const heardAgain = async (payload: string) => {
      for (const until = Date.now() + 10_000; !heard.includes(payload) && Date.now() < until;) {
        await notify(admin, channel, payload);
        await new Promise((resolve) => setTimeout(resolve, 50)); // the interval between two notifications
      }
      expect(heard).toContain(payload);
    };
    try {
      await listener.listen(channel, (payload) => heard.push(payload));
      await heardAgain('first');
      const [old] = made as [pg.Client];
      old.emit('error', new Error('Connection terminated unexpectedly')); // lost: the listener reconnects
      // The old connection ends asynchronously and may still deliver a notification sent meanwhile:
      // wait for its successor (made after the 1 s reconnection delay), then hear through it.
      await vi.waitFor(() => expect(made).toHaveLength(2), { timeout: 10_000, interval: 50 });
      await heardAgain('second');
      expect(made).toHaveLength(2);
      // The dead connection reports another error after its successor took over.
      old.emit('error', new Error('Connection terminated unexpectedly'));
      await listener.listen(`${channel}:2`, () => undefined);
      expect(made).toHaveLength(2); // the successor still in use: no connection made in its place
      await heardAgain('third');
    } finally {
      pg.Client = Client;
      await listener.close();
    }
    // None of the listener's connections is left open (one would keep the process alive).
    const pids = made.map((c) => (c as unknown as { processID: number }).processID);
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 50))) { // the interval between two looks
      if ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rowCount === 0) break;
    }
    expect((await admin.query('SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rows).toEqual([]);
  }, 30_000);
});

describe("runner-queue: a worker's failure codes", () => {
  it.each<[thrown: string, code: string, message: RegExp]>([
    ['LIMIT_RUNNER_UNAVAILABLE', 'LIMIT_RUNNER_UNAVAILABLE', /^runner-queue: worker w-\w+ failed the task: fake: refused \(LIMIT_RUNNER_UNAVAILABLE\)$/],
    ['LIMIT_RUNNER_TIMEOUT', 'LIMIT_RUNNER_TIMEOUT', /^runner-queue: worker w-\w+ failed the task: fake: refused \(LIMIT_RUNNER_TIMEOUT\)$/],
    ['LIMIT_PAYLOAD_TOO_LARGE', 'LIMIT_PAYLOAD_TOO_LARGE', /^runner-queue: worker w-\w+ failed the task: fake: refused \(LIMIT_PAYLOAD_TOO_LARGE\)$/],
    ['plain', 'LIMIT_RUNNER_FAILED', /^runner-queue: worker w-\w+ failed the task: fake: a bug$/],
  ])("a task whose runner on the worker throws %s ends with code %s: a LimitError's code is kept, as when a local runner throws it (an Error without one is LIMIT_RUNNER_FAILED)", async (thrown, code, message) => {
    await withDirectWorker(async ({ d }) => {
      const s = session('codes');
      const r = await run(d, `throw ${thrown}`, s);
      expect([r.ok, r.error?.code]).toEqual([false, code]);
      expect(r.error?.message).toMatch(message);
      expect(r.stderr).toBe(r.error?.message);
      // The failed job keeps the error's fix too (the result's error has no field for it).
      const job = (await admin.query(`SELECT output FROM "${SCHEMA}".job WHERE data->'session'->>'id' = $1`, [s])).rows[0] as { output: { code?: string; fix?: string } };
      expect(job.output).toMatchObject(thrown === 'plain' ? {} : { code: thrown, fix: `fix for ${thrown}` });
    });
  }, 30_000);
});

describe('runner-queue: a boot that fails part-way', () => {
  it('undoes what it had started: the pg-boss already started (its supervision timer) is stopped, and boot fails with LIMIT_RUNNER_UNAVAILABLE naming the cause', async () => {
    // The registry's migration fails: a limit_session_routes of another shape is there already
    // (CREATE TABLE IF NOT EXISTS keeps it; its index on worker_id then fails), after pg-boss started.
    const schema = `${SCHEMA}_boot`;
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`CREATE TABLE "${schema}".limit_session_routes (tenant text, session_id text)`);
    // Every pg-boss the plugin starts, and those that then stopped (pg-boss emits 'stopped' once stop is done).
    const started: PgBoss[] = [];
    const stopped = new Set<PgBoss>();
    const start = PgBoss.prototype.start;
    const spy = vi.spyOn(PgBoss.prototype, 'start').mockImplementation(function (this: PgBoss) {
      started.push(this);
      this.on('stopped', () => stopped.add(this));
      return start.call(this);
    });
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } as never });
    try {
      // worker.enabled: pg-boss supervises (a 2-minute interval timer that keeps the process alive).
      const error = await createRuntime({
        config: { logLevel: 'silent', plugins: {} }, logger: log,
        plugins: [runnerQueue.configure({ ...OPTIONS, schema, worker: WORKER })],
      }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(LimitError);
      expect((error as LimitError).code).toBe('LIMIT_RUNNER_UNAVAILABLE');
      expect((error as LimitError).message).toMatch(/^runner-queue: cannot open the queue on 127\.0\.0\.1:5432: .*worker_id.* does not exist/);
      expect(started).toHaveLength(1);
      expect(stopped.has(started[0]!)).toBe(true);
      // Nothing ran against the ended pool, nor failed to be undone.
      expect(lines.filter((line) => !line.includes('LIMIT_RUNNER_UNAVAILABLE'))).toEqual([]);
    } finally {
      spy.mockRestore();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  }, 30_000);
});

describe("runner-queue: the registry's transactions", () => {
  it('a connection whose ROLLBACK failed is discarded, not given back to the pool still in the failed transaction', async () => {
    const pool = new pg.Pool({ connectionString: URL, max: 1 });
    // The statement of the work fails (its schema does not exist) and so does the ROLLBACK after it:
    // the ROLLBACK of the next transaction's connection is refused without being sent, as when it
    // cannot get through, while the connection itself stays up.
    const registry = new Registry(pool, `${SCHEMA}_none`, 2_000, 60_000);
    pool.once('acquire', (client: pg.PoolClient) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) =>
        args[0] === 'ROLLBACK' ? Promise.reject(new Error('the ROLLBACK did not get through')) : query(...args);
    });
    try {
      await expect(registry.dropQueue('q')).rejects.toThrow(/does not exist/);
      // The pool's next statement runs on a new connection, not on the one still in the failed transaction.
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
