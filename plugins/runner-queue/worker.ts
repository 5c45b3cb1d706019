/**
 * The executing side (`limit worker`): consumes its own queue `<queue>.<worker id>`, runs each
 * task on a local runner with the session and limits the job carries, and answers with the
 * RunResult as the job's output. It registers and heartbeats in the registry so that dispatchers
 * route sessions to it, and reaps workers that stopped heartbeating (their queues and routes).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type PgBoss from 'pg-boss';
import { LimitError, isLimitError, untilAborted, type Logger, type Runner } from 'limit-graph';
import { Job, fromJsonb, storableText, toJsonb, type RunJobParsed } from './jobs.ts';
import type { Registry } from './registry.ts';
import type { RunnerQueueOptionsParsed } from './options.ts';
import { channelOf } from './wakeups.ts';

/** The LISTEN/NOTIFY side a worker uses (see wakeups.ts), and what it needs to know of pg-boss's connection. */
export interface WorkerWakeups {
  listen(channel: string, onNotify: (payload: string) => void): Promise<void>;
  notify(channel: string, payload?: string): Promise<void>;
  /**
   * pg-boss's statements still running (every one its db adapter was given): a fetch of one of
   * this worker's poll loops among them. stop() waits for those running when it stopped the loops.
   */
  bossStatements(): Promise<unknown>[];
}

/** How often a running task checks that its job is still active (cancelled → abort), ms. */
const CANCEL_POLL_MS = 250;

export class QueueWorker {
  readonly id = `w-${randomUUID().slice(0, 8)}`;
  readonly queue: string;
  readonly #boss: PgBoss;
  readonly #registry: Registry;
  readonly #options: RunnerQueueOptionsParsed;
  readonly #runners: ReadonlyMap<string, Runner>;
  readonly #logger: Logger;
  readonly #wakeups: WorkerWakeups;
  readonly #inFlight = new Set<Promise<unknown>>();
  /**
   * The ids of the jobs handed to this worker's handler whose outcome is not written yet: the
   * running ones, and (rarely) one whose outcome could not be written at all (it stays active
   * until it expires). stop() tells by them a job its loops took but did not hand over yet.
   */
  readonly #handed = new Set<string>();
  /**
   * The tenant whose session each (runner, session id) on this worker belongs to, set by its first
   * run job and cleared by that tenant's close job. Local runners key their state by session id
   * only, so a close job of another tenant with the same id must not reach them, and a run job of
   * another tenant on a live id is refused here (as the Runner contract asks of runners). It also
   * holds the generation of the session's route that the state belongs to (Owner.generation).
   */
  readonly #owners = new Map<string, Owner>();
  /**
   * The closes under way on the local runners (a close job, idle expiry), by (runner, session id):
   * a run job of that session arriving meanwhile waits for its close to end, then starts the
   * session afresh — never on the state being closed, nor losing what it did to that close.
   */
  readonly #closing = new Map<string, Promise<void>>();
  /**
   * The latest route generation closed here of each (tenant, session id) — by a close job or the
   * idle sweep, whether or not this worker held state of it — and when: a run job of that route or
   * an earlier one, sent before the close but handed over after it, is refused (#enter) instead of
   * starting state that nothing would close. One entry per session, dropped by the idle sweep once
   * older than sessionIdleMs (no job waits that long for its hand-off).
   */
  readonly #closed = new Map<string, { generation: number; at: number }>();
  /** Run jobs started so far: tells the idle expiry which sessions had a task since it began. */
  #started = 0;
  /** pg-boss's ids of this worker's poll loops, to wake them on a notification. */
  readonly #loops: string[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #beats = 0;
  /**
   * The heartbeats under way (one may overlap a sweep's slow closes, which must not delay the
   * next): stop() waits for them before it unregisters.
   */
  readonly #beating = new Set<Promise<void>>();
  /** Set by stop() once its running jobs are done: no heartbeat starts, none registers again. */
  #leaving = false;
  #maintenance: NodeJS.Timeout | undefined;
  /** pg-boss's maintenance under way, if any (one at a time): stop() waits for it. */
  #maintaining: Promise<void> | undefined;

  constructor(boss: PgBoss, registry: Registry, wakeups: WorkerWakeups, options: RunnerQueueOptionsParsed, runners: ReadonlyMap<string, Runner>, logger: Logger) {
    this.#boss = boss;
    this.#registry = registry;
    this.#wakeups = wakeups;
    this.#options = options;
    this.#runners = runners;
    this.#logger = logger;
    this.queue = `${options.queue}.${this.id}`;
  }

  async start(): Promise<void> {
    await this.#reap();
    await this.#createQueue();
    await this.#register();
    const { concurrency, pollMs, heartbeatMs } = this.#options.worker;
    for (let i = 0; i < concurrency; i++) {
      this.#loops.push(await this.#boss.work<unknown>(this.queue, { batchSize: 1, pollingIntervalSeconds: pollMs / 1000 }, ([job]) => this.#track(this.#handle(job!))));
    }
    // A dispatcher that sent a job says so: every loop looks now (one of them takes it).
    await this.#wakeups.listen(channelOf('worker', this.id), () => {
      for (const loop of this.#loops) this.#boss.notifyWorker(loop);
    });
    this.#heartbeat = setInterval(() => {
      if (this.#leaving) return;
      const beating: Promise<void> = this.#beat().finally(() => this.#beating.delete(beating));
      this.#beating.add(beating);
    }, heartbeatMs);
    this.#heartbeat.unref();
    // pg-boss's maintenance: nothing else runs it (every Connection opens pg-boss without its own
    // timer), so without it no running job ever expired, and every finished job — the task with
    // its env, and its output — stayed in the job table for good. Once now, then every maintenanceMs.
    this.#maintain();
    this.#maintenance = setInterval(() => this.#maintain(), this.#options.worker.maintenanceMs);
    this.#maintenance.unref();
    this.#logger.info({ worker: this.id, queue: this.queue, runners: [...this.#runners.keys()], concurrency }, 'runner-queue: worker started');
  }

  /**
   * Stops taking jobs, lets running ones finish and leaves the registry, so that dispatchers route
   * its sessions elsewhere. Its queue stays until it has been idle for workerTimeoutMs (answers
   * not read yet stay readable); a live worker's sweep deletes it then.
   *
   * pg-boss's offWork only tells its poll loops to stop: a loop whose fetch is in flight still
   * takes that job (it is `active` from then on) and hands it to the handler afterwards. So the
   * worker leaves only once its loops have: every pg-boss statement running when they were told
   * to stop has ended (a fetch among them; pg-boss starts none after offWork), no job of its
   * queue is active without having been handed over, and every job handed over is finished and
   * its answer written. Until then it heartbeats: a worker silent for workerTimeoutMs looks dead,
   * and its dispatchers would give up on (and cancel) the tasks it is finishing. It used to leave
   * as soon as the jobs running at offWork were done: a job handed over after that ran on a worker
   * no longer registered nor heartbeating, and its dispatcher reported it dead and cancelled it.
   */
  async stop(): Promise<void> {
    await this.#boss.offWork(this.queue);
    await Promise.allSettled(this.#wakeups.bossStatements());
    // A fetch that has returned hands its job over in the promise callbacks that follow.
    await new Promise((resolve) => setImmediate(resolve));
    await this.#drain();
    clearInterval(this.#heartbeat);
    clearInterval(this.#maintenance);
    // A heartbeat still under way would otherwise find the row gone after the unregister below
    // and register this stopped worker again: dispatchers would route sessions to it.
    this.#leaving = true;
    await Promise.allSettled([...this.#beating, this.#maintaining]);
    await this.#registry.unregister(this.id);
    this.#logger.info({ worker: this.id }, 'runner-queue: worker stopped');
  }

  /** The jobs this worker is handling now (one taken by a fetch still running at stop() comes after it). */
  running(): Promise<unknown>[] {
    return [...this.#inFlight];
  }

  /**
   * Waits (stop()) until every job handed over is finished and no job of this worker's queue is
   * active without having been handed over — taken by a loop's fetch whose hand-off is still to
   * come. Such a job is waited for at most workerTimeoutMs (it cannot take that long; a warning
   * names it should it), and the queue is looked at again every 50 ms meanwhile.
   */
  async #drain(): Promise<void> {
    let told = false;
    let waitingSince: number | undefined;
    for (;;) {
      const running = [...this.#inFlight];
      if (running.length > 0 && !told) {
        told = true;
        this.#logger.info({ worker: this.id, running: running.length }, 'runner-queue: worker stopping: finishing its running jobs');
      }
      await Promise.allSettled(running);
      let untaken: string[];
      try {
        untaken = (await this.#registry.activeJobs(this.queue)).filter((id) => !this.#handed.has(id));
      } catch (error) {
        this.#logger.warn({ err: error, worker: this.id }, 'runner-queue: worker stopping: could not look for jobs its loops took but did not hand over yet; leaving without waiting for them');
        return;
      }
      if (untaken.length === 0) {
        if (this.#inFlight.size === 0) return;
        continue;
      }
      waitingSince ??= performance.now();
      if (performance.now() - waitingSince >= this.#options.workerTimeoutMs) {
        this.#logger.warn({ worker: this.id, jobs: untaken }, `runner-queue: worker stopping: jobs its loops took were not handed to it within workerTimeoutMs (${this.#options.workerTimeoutMs} ms); leaving without them (they expire)`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  /** Creates this worker's pg-boss queue; nothing when it exists. */
  async #createQueue(): Promise<void> {
    await this.#boss.createQueue(this.queue, { name: this.queue, retryLimit: 0 });
  }

  async #register(): Promise<void> {
    const capabilities = Object.fromEntries([...this.#runners].map(([name, runner]) => [name, runner.capabilities]));
    await this.#registry.register({ id: this.id, queue: this.queue, runners: [...this.#runners.keys()], capabilities, host: os.hostname(), pid: process.pid });
  }

  async #beat(): Promise<void> {
    try {
      // Reaped while this process was paused (a long GC, a suspended VM): register again, with
      // its queue, which the reaper deletes too once it has been idle for workerTimeoutMs —
      // queue first, so that no dispatcher routes a task to a queue that is not there.
      const beat = await this.#registry.heartbeat(this.id);
      if (beat !== 'ok' && !this.#leaving) {
        this.#logger.warn({ worker: this.id, queue: this.queue }, `runner-queue: this worker was ${beat === 'gone' ? 'reaped (it did not heartbeat for workerTimeoutMs)' : 'left without its queue'}: creating its queue${beat === 'gone' ? ' and registering' : ''} again`);
        await this.#createQueue();
        if (beat === 'gone') await this.#register();
      }
      if (++this.#beats % 10 === 0) {
        await this.#reap();
        await this.#expire();
      }
    } catch (error) {
      this.#logger.warn({ err: error, worker: this.id }, 'runner-queue: heartbeat failed');
    }
  }

  /**
   * Runs pg-boss's maintenance, unless one is still under way: fails running jobs past their
   * expiry (a run job's is its dispatcher's budget, a close job's 60 s), then archives finished
   * jobs older than FINISHED_JOB_SECONDS and deletes archived ones older than that (index.ts).
   * pg-boss holds a lock while it does, so workers maintaining at once take turns. A failure is
   * logged, and the next period tries again.
   */
  #maintain(): void {
    if (this.#leaving || this.#maintaining) return;
    this.#maintaining = this.#boss
      .maintain()
      .catch((error: unknown) => this.#logger.warn({ err: error, worker: this.id }, 'runner-queue: pg-boss maintenance failed (job expiry, archiving finished jobs); retrying in worker.maintenanceMs'))
      .finally(() => (this.#maintaining = undefined));
  }

  /**
   * Forgets this worker's sessions that had no task for sessionIdleMs (never closed): their routes,
   * their owner records and their state in the local runners (closed as a close job would). A
   * session with a task running, or started since this sweep began, or whose state belongs to a
   * later route than the one deleted (a task of the new route started afresh meanwhile), is kept.
   * The closes all begin in the same turn as the decision (#close): a run
   * job of the session arriving after it waits for its close and starts afresh.
   */
  async #expire(): Promise<void> {
    const since = this.#started;
    const now = Date.now();
    for (const [key, c] of this.#closed) if (now - c.at >= this.#options.sessionIdleMs) this.#closed.delete(key);
    const busy = [...this.#owners].filter(([, o]) => o.running > 0).map(([key, o]) => ({ tenant: o.tenant, sessionId: key.slice(key.indexOf('\u0000') + 1) }));
    const closes: Promise<void>[] = [];
    for (const { tenant, sessionId, generation } of await this.#registry.expire(this.id, busy)) {
      this.#noteClosed(tenant, sessionId, generation);
      const held = [...this.#runners].filter(([name]) => {
        const o = this.#owners.get(ownerKey(name, sessionId));
        return o?.tenant === tenant && o.running === 0 && o.started <= since && !later(o.generation, generation);
      });
      closes.push(this.#close(held, sessionId, tenant).catch((error: unknown) => {
        this.#logger.warn({ err: error, worker: this.id, sessionId }, 'runner-queue: a local runner failed to close an idle session');
      }));
      this.#logger.debug({ worker: this.id, sessionId }, 'runner-queue: forgetting a session idle for sessionIdleMs');
    }
    await Promise.all(closes);
  }

  /** Remembers that route `generation` of `tenant`'s session `sessionId` was closed (#closed); nothing for a job without one. */
  #noteClosed(tenant: string, sessionId: string, generation: number | undefined): void {
    if (generation === undefined) return;
    const key = closedKey(tenant, sessionId);
    const known = this.#closed.get(key);
    this.#closed.set(key, { generation: Math.max(generation, known?.generation ?? generation), at: Date.now() });
  }

  /**
   * Closes `tenant`'s session `sessionId` in `runners`: their owner records go at once, and a run
   * job of the session arriving before the runner's close has ended waits for it (#closing). Rejects
   * when a runner's close failed (after all of them ended).
   */
  async #close(runners: [string, Runner][], sessionId: string, tenant: string): Promise<void> {
    // Synchronous up to the first await: the records go and #closing is set in the caller's turn.
    const results = await Promise.allSettled(runners.map(([name, runner]) => {
      const key = ownerKey(name, sessionId);
      this.#owners.delete(key);
      const earlier = this.#closing.get(key);
      const work = Promise.resolve(earlier).then(() => runner.closeSession?.(sessionId, tenant));
      const closing: Promise<void> = work.then(() => undefined, () => undefined).finally(() => {
        if (this.#closing.get(key) === closing) this.#closing.delete(key);
      });
      this.#closing.set(key, closing);
      return work;
    }));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * The owner record a run job runs under, counted as running and stored — or, while the session's
   * state is not yet the one of the job's route, what to wait for before asking again: a close of
   * the session under way (idle expiry, a close job), after which the task starts afresh, or the
   * close begun here of the state of an earlier route of the session (the job's route generation is
   * larger), exactly as that route's close job would close it — whose hand-off to another of this
   * worker's loops may come after this job's: it then finds later state and leaves it. It rejects
   * when a runner's close failed. A job of an earlier route than the state held is refused (its
   * session was closed since it was sent), and so is one of a route closed here (#closed) — also
   * when no state is held: it was sent before that close and handed over after it. A job without a generation (a dispatcher from before
   * them) runs on the state held, as it did. Synchronous: the record is taken in the caller's turn.
   */
  #enter(data: RunJobParsed, runner: Runner, key: string): Owner | Promise<void> {
    const { id: sessionId, tenant } = data.session;
    const closed = this.#closed.get(closedKey(tenant, sessionId));
    if (closed && data.generation !== undefined && data.generation <= closed.generation) {
      throw new LimitError('LIMIT_CONFLICT', `Session "${sessionId}" was closed on worker ${this.id} after this task was sent (route generation ${data.generation}, closed up to ${closed.generation}): the task did not run`, {
        details: { sessionId }, fix: 'Send the task again: it runs in the session as it is now (afresh).',
      });
    }
    const closing = this.#closing.get(key);
    if (closing) return closing;
    const owner = this.#owners.get(key);
    if (owner === undefined) {
      const record: Owner = { tenant, running: 1, started: ++this.#started, generation: data.generation };
      this.#owners.set(key, record);
      return record;
    }
    if (owner.tenant !== tenant) {
      throw new LimitError('LIMIT_CONFLICT', `Session id "${sessionId}" is in use on worker ${this.id} by another tenant`, {
        details: { sessionId }, fix: 'Use the session ids the server generates; they are unique.',
      });
    }
    if (later(owner.generation, data.generation)) {
      throw new LimitError('LIMIT_CONFLICT', `Session "${sessionId}" was closed and started again on worker ${this.id} after this task was sent (route generation ${data.generation}, the session's now ${owner.generation}): the task did not run`, {
        details: { sessionId }, fix: 'Send the task again: it runs in the session as it is now.',
      });
    }
    if (!later(data.generation, owner.generation)) {
      owner.generation ??= data.generation;
      owner.running++;
      owner.started = ++this.#started;
      return owner;
    }
    this.#logger.debug({ worker: this.id, sessionId, generation: data.generation, held: owner.generation }, "runner-queue: a task of a later route of the session: closing the earlier route's state first");
    return this.#close([[data.runner, runner]], sessionId, tenant).catch((error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      throw new LimitError('LIMIT_RUNNER_FAILED', `runner:${data.runner} on worker ${this.id} could not close the state of an earlier route of session "${sessionId}" before this task: ${why}`);
    });
  }

  /** Unregisters dead workers (their sessions move), then deletes queues nobody consumes any more. */
  async #reap(): Promise<void> {
    for (const dead of await this.#registry.dead()) {
      if (dead.id === this.id) continue;
      await this.#registry.unregister(dead.id);
      this.#logger.warn({ worker: dead.id, host: dead.host, pid: dead.pid }, 'runner-queue: reaped a worker that stopped heartbeating');
    }
    for (const queue of await this.#registry.orphanQueues(`${this.#options.queue}.w-`, this.#options.workerTimeoutMs)) {
      await this.#registry.dropQueue(queue).catch((error: unknown) => this.#logger.warn({ err: error, queue }, "runner-queue: could not delete a stopped worker's queue"));
    }
  }

  /**
   * Runs a job and writes its outcome itself, awaited: pg-boss completes (or fails) after the
   * handler without waiting, and a stopping worker must not leave before its answers are written,
   * nor tell a dispatcher to look before they are. pg-boss's own call then finds the job no longer
   * active and changes nothing.
   */
  async #handle(job: PgBoss.Job<unknown>): Promise<undefined> {
    this.#handed.add(job.id);
    let outcome: { ok: true; output: object } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, output: await this.#execute(job) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (outcome.ok) {
      if (await this.#complete(job, outcome.output)) this.#handed.delete(job.id);
    } else {
      const e = outcome.error;
      // The code travels to the dispatcher's result; the fix stays in the job (a result's error has no field for it).
      await this.#boss.fail(this.queue, job.id, {
        message: storableText(e instanceof Error ? e.message : String(e)),
        ...(isLimitError(e) ? { code: e.code, ...(e.fix ? { fix: storableText(e.fix) } : {}) } : {}),
      });
      this.#handed.delete(job.id);
    }
    const reply = (job.data as { reply?: unknown } | null)?.reply;
    if (typeof reply === 'string') await this.#wakeups.notify(reply, job.id).catch(() => undefined);
    return undefined;
  }

  /**
   * Writes a finished job's answer: as it is, or as its JSON text when jsonb could not hold it
   * (toJsonb). Should the write still fail, the job fails saying the result could not be
   * stored (`unstored`): the task ran, and its failure is not the task's. False when neither
   * could be written (the job stays active).
   */
  async #complete(job: PgBoss.Job<unknown>, output: object): Promise<boolean> {
    try {
      await this.#boss.complete(this.queue, job.id, toJsonb(output, ['worker']));
      return true;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.#logger.warn({ err: error, worker: this.id, job: job.id }, 'runner-queue: could not store a task result');
      return this.#boss.fail(this.queue, job.id, { message: storableText(why), code: 'LIMIT_RUNNER_FAILED', unstored: true }).then(
        () => true,
        (failed: unknown) => {
          this.#logger.warn({ err: failed, worker: this.id, job: job.id }, 'runner-queue: could not mark the job failed either; its dispatcher times out');
          return false;
        },
      );
    }
  }

  async #execute(job: PgBoss.Job<unknown>): Promise<object> {
    const parsed = Job.safeParse(fromJsonb(job.data));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new LimitError('LIMIT_VALIDATION', `malformed job ${job.id}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    const data = parsed.data;
    if (data.kind === 'close') {
      // Only the runners that hold this tenant's session of the id: another tenant's is left alone,
      // and so is state of a later route of the session (a run job of it was handed over first and
      // already closed the state this job is about, then started afresh).
      const held: [string, Runner][] = [];
      const kept: string[] = [];
      for (const [name, runner] of this.#runners) {
        const o = this.#owners.get(ownerKey(name, data.sessionId));
        if (o?.tenant !== data.tenant) continue;
        if (later(o.generation, data.generation)) kept.push(name);
        else held.push([name, runner]);
      }
      if (kept.length > 0) {
        this.#logger.debug({ worker: this.id, sessionId: data.sessionId, generation: data.generation, runners: kept }, "runner-queue: a close job of an earlier route of the session: the session's state now is a later route's, kept");
      }
      // Noted before the close begins (same turn): a run job of this route handed over from now on is refused.
      this.#noteClosed(data.tenant, data.sessionId, data.generation);
      await this.#close(held, data.sessionId, data.tenant);
      return { closed: data.sessionId, tenant: data.tenant, runners: held.map(([name]) => name), ...(kept.length > 0 ? { kept } : {}) };
    }
    const runner = this.#runners.get(data.runner);
    if (!runner) {
      throw new LimitError('LIMIT_RUNNER_NOT_FOUND', `worker ${this.id} does not run runner:${data.runner} (it runs ${[...this.#runners.keys()].join(', ')})`);
    }
    const key = ownerKey(data.runner, data.session.id);
    // Watched for cancellation from the moment the job is taken, so that a cancel while the task
    // waits for its session's close ends it then, as a cancel of a queued job does, and it never starts.
    const controller = new AbortController();
    const watch = setInterval(() => {
      this.#boss.getJobById(this.queue, job.id).then(
        (now) => {
          if (!now || now.state !== 'active') controller.abort(new LimitError('LIMIT_RUNNER_ABORTED', `job ${job.id} was cancelled by its dispatcher`));
        },
        () => undefined,
      );
    }, CANCEL_POLL_MS);
    try {
      // Waits (cancellable) until the session's state is its route's: the record is then taken in
      // the same turn as the task starts on the runner.
      let entered = this.#enter(data, runner, key);
      while (entered instanceof Promise) {
        const settled = entered.then(() => undefined, (error: unknown) => ({ error }));
        await untilAborted(settled, controller.signal);
        const failed = await settled;
        if (failed) throw failed.error;
        entered = this.#enter(data, runner, key);
      }
      const record = entered;
      try {
        const result = await runner.executeIsolated(data.task, { session: data.session, traceId: data.traceId, signal: controller.signal, logger: this.#logger });
        return { ...result, worker: this.id };
      } finally {
        record.running--;
      }
    } finally {
      clearInterval(watch);
    }
  }
}

interface Owner {
  tenant: string;
  /** Tasks of the session running here now. */
  running: number;
  /** The #started count of its last task. */
  started: number;
  /** The generation of the session's route this state belongs to; undefined when its jobs carried none (older dispatchers). */
  generation?: number;
}

/** Whether route generation `a` is later than `b`; never when either is unknown (a job from before generations). */
function later(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && a > b;
}

function closedKey(tenant: string, sessionId: string): string {
  return `${tenant}\u0000${sessionId}`;
}

function ownerKey(runner: string, sessionId: string): string {
  return `${runner}\u0000${sessionId}`;
}
