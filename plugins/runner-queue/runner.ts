/**
 * The dispatching side: `executeIsolated` routes the task to the worker that holds its session,
 * sends it as a pg-boss job to that worker's queue, and waits for the job's output. Governance,
 * provenance and storage stay here, with the orchestrator; workers only execute.
 */
import type PgBoss from 'pg-boss';
import {
  ERROR_CODES, LimitError, checkSessionLimits, withDeadline, type Deadline, type HealthResult, type LimitErrorCode, type Logger, type RunContext, type RunResult, type Runner, type RunnerCapabilities, type RunnerFailureCode, type TaskParsed,
} from 'limit-graph';
import { RunAnswer, fromJsonb, toJsonb, type Job } from './jobs.ts';
import type { HeldRoute, Registry, WorkerRow } from './registry.ts';
import { channelOf } from './wakeups.ts';
import type { RunnerQueueOptionsParsed } from './options.ts';

const LIMITS: readonly Exclude<keyof RunnerCapabilities, 'timeout'>[] = ['memoryLimit', 'networkIsolation', 'envControl', 'concurrencyLimit', 'fileIsolation', 'processLimit', 'outputLimit'];
/** pg-boss refuses a job expiring 24 hours or more after it starts: a longer budget is cut to just under. */
const MAX_EXPIRE_SECONDS = 24 * 60 * 60 - 1;
/** How often a job nobody has taken yet checks that its worker is still alive, ms. */
const LIVENESS_MS = 1_000;

/** `code` when it is one of LIMIT-Graph's error codes (a failed job's, written by a worker). */
function knownCode(code: unknown): LimitErrorCode | undefined {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as LimitErrorCode) : undefined;
}

function failure(started: number, code: RunnerFailureCode | LimitErrorCode, message: string): RunResult {
  return { ok: false, stdout: '', stderr: message, error: { code, message }, metrics: { latencyMs: performance.now() - started } };
}

/** What the dispatcher uses of the plugin's connection (opened at boot). */
export interface QueueLink {
  boss(): PgBoss;
  registry(): Registry;
  /** This process's channel: workers notify it with the id of a job they finished. */
  readonly replyChannel: string;
  notify(channel: string, payload?: string): Promise<void>;
}

/** A job's doorbell: rung by the worker's notification, so the wait for its next look ends early. */
interface Bell {
  rung: boolean;
  wake?: () => void;
}

export class QueueRunner implements Runner {
  readonly name = 'queue';
  readonly #link: QueueLink;
  readonly #options: RunnerQueueOptionsParsed;
  readonly #logger: Logger;
  readonly #bells = new Map<string, Bell>();
  /**
   * The tenants this dispatcher ran each session id for (from the RunContext): closeSession without
   * a tenant releases that tenant's session when there is exactly one, never every tenant's.
   */
  readonly #tenants = new Map<string, Map<string, number>>();
  #pruned = performance.now();
  /** What the live workers' runners enforce, as last read from the registry (health, routing). */
  #workers: WorkerRow[] = [];
  /** Aborted by close(): the dispatches in flight end, their jobs cancelled, and new ones are refused. */
  readonly #closed = new AbortController();
  /** The executeIsolated calls in flight: close() waits for them (each cancels its job) before the connection closes. */
  readonly #dispatching = new Set<Promise<RunResult>>();

  /** The orchestrator's backstop waits past timeoutMs as long as the dispatch may (dispatchTimeoutMs). */
  get timeoutSlackMs(): number {
    return this.#options.dispatchTimeoutMs;
  }

  constructor(link: QueueLink, options: RunnerQueueOptionsParsed, logger: Logger) {
    this.#link = link;
    this.#options = options;
    this.#logger = logger;
  }

  /** A worker says it finished job `jobId` (a notification on replyChannel). */
  answered(jobId: string): void {
    const bell = this.#bells.get(jobId);
    if (!bell) return;
    bell.rung = true;
    bell.wake?.();
  }

  /** Waits `ms`, or less when the job's bell rings or `signal` aborts. */
  #nap(bell: Bell, ms: number, signal: AbortSignal): Promise<void> {
    if (bell.rung || signal.aborted) {
      bell.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        bell.wake = undefined;
        bell.rung = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      bell.wake = done;
    });
  }

  /**
   * A limit counts as enforced when every live worker's runner enforces it; the timeout always is
   * (the dispatch deadline here, the session's timeoutMs on the worker).
   */
  get capabilities(): RunnerCapabilities {
    const runner = this.#options.runner;
    const all = (key: keyof RunnerCapabilities) => this.#workers.length > 0 && this.#workers.every((w) => w.capabilities[runner]?.[key] === true);
    return {
      timeout: true,
      memoryLimit: all('memoryLimit'),
      networkIsolation: all('networkIsolation'),
      envControl: all('envControl'),
      concurrencyLimit: all('concurrencyLimit'),
      fileIsolation: all('fileIsolation'),
      processLimit: all('processLimit'),
      outputLimit: all('outputLimit'),
    };
  }

  executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    const work = this.#execute(task, ctx);
    this.#dispatching.add(work);
    // Not work.finally(…): a refused task (bad session limits) rejects, and that derived promise would go unhandled.
    const forget = () => void this.#dispatching.delete(work);
    work.then(forget, forget);
    return work;
  }

  /**
   * Ends the dispatches in flight as LIMIT_RUNNER_ABORTED saying that runner-queue closed, each
   * after cancelling its job (a worker running it sees the cancellation and aborts it), and answers
   * later tasks so at once. The plugin's dispose calls it before the connection closes: what is
   * still in flight then was not drained by the orchestrator (a direct caller), and waiting for it
   * could take the session's whole timeoutMs.
   */
  async close(): Promise<void> {
    this.#closed.abort();
    await Promise.allSettled([...this.#dispatching]);
  }

  /**
   * The failure of a task ended by `deadline` (undefined while it runs on): runner-queue closed
   * (close()), the caller aborted, or the time ran out. `sent`: the worker holding its job, whose
   * job is then cancelled (#dispatch's finally), and what a timeout says.
   */
  #stopped(started: number, deadline: Deadline, sent?: { workerId: string; timedOut: string }): RunResult | undefined {
    const why = deadline.stopped();
    if (!why) return undefined;
    if (this.#closed.signal.aborted) {
      return failure(started, 'LIMIT_RUNNER_ABORTED', sent
        ? `runner-queue: closed (its runtime is shutting down) before worker ${sent.workerId} answered; the task's job is cancelled`
        : 'runner-queue: closed (its runtime is shutting down); the task was not sent to a worker');
    }
    return failure(started, why.code, why.code === 'LIMIT_RUNNER_TIMEOUT' && sent ? sent.timedOut : why.message);
  }

  async #execute(task: TaskParsed, ctx: RunContext): Promise<RunResult> {
    // Checked here, not only by the worker's runner: a bad timeoutMs would make the dispatch's own budget.
    const limits = checkSessionLimits('runner-queue', ctx);
    const started = performance.now();
    this.#pruneTenants();
    const seen = this.#tenants.get(ctx.session.id) ?? new Map<string, number>();
    seen.set(ctx.session.tenant, performance.now());
    this.#tenants.set(ctx.session.id, seen);
    const budgetMs = limits.timeoutMs + this.#options.dispatchTimeoutMs;
    const deadline = withDeadline([ctx.signal, this.#closed.signal], budgetMs, 'runner-queue');
    try {
      // A worker that dies before it takes the task never ran it: the task goes to a live one.
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.#dispatch(task, ctx, started, deadline, budgetMs);
        if (outcome !== 'untaken' || attempt === 2) {
          return outcome === 'untaken' ? failure(started, 'LIMIT_RUNNER_UNAVAILABLE', 'runner-queue: two workers in a row stopped heartbeating before they took the task') : outcome;
        }
      }
    } catch (error) {
      return failure(started, 'LIMIT_RUNNER_UNAVAILABLE', `runner-queue: the queue's PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      deadline.clear();
    }
  }

  /** Forgets the tenants of sessions that had no task here for sessionIdleMs (looked at once a minute at most). */
  #pruneTenants(): void {
    const now = performance.now();
    if (now - this.#pruned < 60_000) return;
    this.#pruned = now;
    for (const [sessionId, seen] of this.#tenants) {
      for (const [tenant, usedAt] of seen) if (now - usedAt >= this.#options.sessionIdleMs) seen.delete(tenant);
      if (seen.size === 0) this.#tenants.delete(sessionId);
    }
  }

  /** One job on the session's worker; 'untaken' when that worker died before taking it (the job is cancelled). */
  async #dispatch(task: TaskParsed, ctx: RunContext, started: number, deadline: Deadline, budgetMs: number): Promise<RunResult | 'untaken'> {
    const { runner, queue, pollMs } = this.#options;
    const stopped = this.#stopped(started, deadline);
    if (stopped) return stopped;
    const registry = this.#link.registry();
    const route = await registry.route(ctx.session.tenant, ctx.session.id, runner);
    if (!route) {
      return failure(started, 'LIMIT_RUNNER_UNAVAILABLE', `runner-queue: no live worker runs runner:${runner} on queue "${queue}" (start one with \`limit worker\`)`);
    }
    if (route.moved) {
      this.#logger.warn({ sessionId: ctx.session.id, worker: route.workerId }, "runner-queue: the session's worker stopped heartbeating; the session moved to another worker and its runner state starts empty");
    }
    const job: Job = { kind: 'run', runner, task, session: ctx.session, traceId: ctx.traceId, reply: this.#link.replyChannel, generation: route.generation };
    const boss = this.#link.boss();
    const id = await boss.send(route.queue, toJsonb(job, ['kind', 'reply']), { retryLimit: 0, expireInSeconds: Math.min(Math.ceil(budgetMs / 1000), MAX_EXPIRE_SECONDS) });
    if (!id) return failure(started, 'LIMIT_RUNNER_FAILED', `runner-queue: pg-boss refused the job for queue "${route.queue}"`);
    const bell: Bell = { rung: false };
    this.#bells.set(id, bell);
    let answered = false;
    try {
      // The worker's loops look now instead of at their next poll.
      await this.#link.notify(channelOf('worker', route.workerId));
      let lastLiveness = performance.now();
      for (;;) {
        await this.#nap(bell, pollMs, deadline.signal);
        const why = this.#stopped(started, deadline, {
          workerId: route.workerId,
          timedOut: `runner-queue: no answer from worker ${route.workerId} within the session's timeoutMs + dispatchTimeoutMs (${budgetMs} ms)`,
        });
        if (why) return why;
        // The archive too: a worker's maintenance moves a finished job there (FINISHED_JOB_SECONDS).
        const state = await boss.getJobById(route.queue, id, { includeArchive: true });
        if (!state) return failure(started, 'LIMIT_RUNNER_UNAVAILABLE', `runner-queue: worker ${route.workerId} stopped before answering (its queue is gone)`);
        if (state.state === 'completed' || state.state === 'failed' || state.state === 'cancelled') {
          answered = true;
          if (state.state === 'completed') return this.#answer(started, route.workerId, state.output);
          if (state.state === 'cancelled') return failure(started, 'LIMIT_RUNNER_ABORTED', `runner-queue: the job on worker ${route.workerId} was cancelled`);
          const { message, code, unstored, value } = (state.output ?? {}) as { message?: unknown; code?: unknown; unstored?: unknown; value?: { message?: unknown } | null };
          // A job pg-boss failed itself (a worker's maintenance expiring it) says why under `value`.
          const why = typeof message === 'string' ? message : typeof value?.message === 'string' ? `pg-boss: ${value.message}` : 'no reason given';
          // The code of the LimitError the worker caught, as the orchestrator records a local runner's thrown one; else LIMIT_RUNNER_FAILED.
          return failure(started, knownCode(code) ?? 'LIMIT_RUNNER_FAILED', unstored === true
            ? `runner-queue: worker ${route.workerId} ran the task, but its result could not be stored in the queue's PostgreSQL (${why}); the task's output is lost`
            : `runner-queue: worker ${route.workerId} failed the task: ${why}`);
        }
        if (performance.now() - lastLiveness >= LIVENESS_MS) {
          lastLiveness = performance.now();
          if (!(await registry.isLive(route.workerId))) {
            // Queued when we looked: taken back only if the worker did not take it since (a worker
            // whose heartbeat is late may still be running), or the task could run twice.
            if ((state.state === 'created' || state.state === 'retry') && (await registry.cancelUntaken(route.queue, id))) {
              answered = true; // cancelled: nothing left to cancel
              return 'untaken';
            }
            // It was running: running it again elsewhere could repeat its side effects.
            return failure(started, 'LIMIT_RUNNER_UNAVAILABLE', `runner-queue: worker ${route.workerId} stopped heartbeating while it ran the task`);
          }
        }
      }
    } finally {
      this.#bells.delete(id);
      // Not answered (timeout, abort, a dead worker): the worker sees the cancellation and stops.
      if (!answered) await boss.cancel(route.queue, id).catch((error: unknown) => this.#logger.warn({ err: error, job: id }, 'runner-queue: could not cancel a job'));
    }
  }

  #answer(started: number, worker: string, output: unknown): RunResult {
    const parsed = RunAnswer.safeParse(fromJsonb(output));
    if (!parsed.success) {
      return failure(started, 'LIMIT_RUNNER_FAILED', `runner-queue: worker ${worker} answered with something that is not a run result (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    }
    const { worker: _worker, ...result } = parsed.data;
    return result;
  }

  /**
   * Forgets the session's route and tells its worker to release the session's runner state — of
   * `tenant` only: another tenant's session with the same id is left alone. Without a tenant, the
   * one this dispatcher ran the id for is used; when it ran the id for several tenants, or for
   * none, nothing is released (a warning or a debug line says so).
   *
   * The route is deleted and the `close` job sent in one transaction: when the job cannot be sent
   * (PostgreSQL fails, pg-boss refuses it), nothing is released — the route stays, so closing
   * again (or the worker's idle sweep) still releases the session — and this rejects with
   * LIMIT_RUNNER_UNAVAILABLE saying so. Deleting the route first left the worker's state of the
   * session with nothing that would ever close it.
   */
  async closeSession(sessionId: string, tenant?: string): Promise<void> {
    const seen = this.#tenants.get(sessionId);
    if (tenant === undefined) {
      if (!seen || seen.size !== 1) {
        if (seen && seen.size > 1) this.#logger.warn({ sessionId, tenants: seen.size }, 'runner-queue: closeSession without a tenant for a session id run for several tenants: nothing released');
        else this.#logger.debug({ sessionId }, 'runner-queue: closeSession without a tenant for a session id this dispatcher never ran: nothing released');
        return;
      }
      tenant = [...seen.keys()][0]!;
    }
    const boss = this.#link.boss();
    let sending: HeldRoute | undefined;
    let held: HeldRoute[];
    try {
      held = await this.#link.registry().release(sessionId, tenant, async (h, db) => {
        sending = h;
        const job: Job = { kind: 'close', tenant: h.tenant, sessionId, generation: h.generation };
        const id = await boss.send(h.queue, job, { retryLimit: 0, expireInSeconds: 60, db });
        if (!id) throw new Error(`pg-boss refused the job for queue "${h.queue}" (is the queue gone?)`);
      });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const to = sending ? ` to worker ${sending.workerId}` : '';
      throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', `runner-queue: could not send the close job of session "${sessionId}" (tenant "${tenant}")${to}: ${why}; nothing was released: the session keeps its route and its state on its worker`, {
        cause: error,
        details: { sessionId, tenant, ...(sending ? { worker: sending.workerId } : {}) },
        fix: "Close the session again once the queue's PostgreSQL answers; a session never closed is released by its worker after sessionIdleMs.",
      });
    }
    // Released: this dispatcher forgets the tenant it ran the id for only now (a failed close is retried with or without it).
    seen?.delete(tenant);
    if (seen?.size === 0) this.#tenants.delete(sessionId);
    for (const h of held) {
      // The job is queued: a lost wake-up only means the worker takes it at its next poll.
      await this.#link.notify(channelOf('worker', h.workerId)).catch((error: unknown) => {
        this.#logger.warn({ err: error, sessionId, worker: h.workerId }, "runner-queue: could not wake the session's worker for its close job; it takes the job at its next poll");
      });
    }
  }

  async health(): Promise<HealthResult> {
    const { runner, queue } = this.#options;
    try {
      this.#workers = await this.#link.registry().live(runner);
    } catch (error) {
      return { status: 'fail', message: `cannot read the worker registry: ${error instanceof Error ? error.message : String(error)}`, checks: [] };
    }
    const checks: NonNullable<HealthResult['checks']> = [{
      name: 'workers',
      status: this.#workers.length > 0 ? 'ok' : 'degraded',
      message: this.#workers.length > 0
        ? `${this.#workers.length} live worker(s) run runner:${runner} on queue "${queue}"`
        : `no live worker runs runner:${runner} on queue "${queue}": tasks fail as unavailable until one starts (\`limit worker\`)`,
    }];
    const caps = this.capabilities;
    for (const key of LIMITS) {
      if (caps[key] === false) {
        const lacking = this.#workers.filter((w) => w.capabilities[runner]?.[key] !== true).map((w) => w.id);
        checks.push({
          name: `capability:${key}`,
          status: 'degraded',
          message: this.#workers.length === 0
            ? `enforced (or not) by runner:${runner} on the workers, and no worker is live to say`
            : `runner:${runner} does not enforce it on worker(s) ${lacking.join(', ')} (see \`limit doctor\` there)`,
        });
      }
    }
    // The worst check speaks for the whole: a live worker lacking a limit is not "ok".
    const worst = checks.find((c) => c.status === 'fail') ?? checks.find((c) => c.status !== 'ok') ?? checks[0]!;
    return {
      status: worst.status,
      message: worst.message,
      checks,
      details: { runner, queue, workers: this.#workers.map((w) => ({ id: w.id, host: w.host, pid: w.pid })) },
    };
  }
}
