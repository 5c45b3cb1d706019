/**
 * runner-queue: runs tasks on worker machines through a pg-boss queue on the PostgreSQL the API
 * instances already share (see README.md). Provides `runner:queue` and the `limit worker` command.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { LimitError, definePlugin, hostOf, parseNumberOption, type CommandRegistry, type PluginContext, type Runner, type Runtime, type EnvOptional } from 'limit-graph';
import { HEARTBEAT_MESSAGE, RunnerQueueOptions, heartbeatFits, type RunnerQueueOptionsInput, type RunnerQueueOptionsParsed } from './options.ts';
import { Registry } from './registry.ts';
import { QueueRunner, type QueueLink } from './runner.ts';
import { Listener, channelOf, notify } from './wakeups.ts';
import { QueueWorker, type WorkerWakeups } from './worker.ts';

export { QueueRunner } from './runner.ts';
export { QueueWorker } from './worker.ts';
export { RunnerQueueOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { LIMIT_QUEUE_URL: 'url' } as const;

/**
 * DATABASE_URL is the queue's url only when nothing else gives one (url, LIMIT_QUEUE_URL) and
 * storage-postgres reads it too: the queue then shares the storage's database. It is the storage's
 * variable: it never moves a queue the config places elsewhere, and it is not a queue URL under
 * storage-sqlite (which reads it too, as a sqlite:// URL).
 */
const ENV_FALLBACK = { DATABASE_URL: { option: 'url', withPlugin: 'storage-postgres' } } as const;

declare module 'limit-graph' {
  interface Cradle {
    'runner:queue': QueueRunner;
  }
  interface PluginOptionsRegistry {
    'runner-queue': EnvOptional<RunnerQueueOptionsInput, typeof ENV>;
  }
}

/**
 * How long a finished job (completed, failed or cancelled) stays in pg-boss's job table, and then
 * again in its archive table, at least, in seconds: a worker's maintenance (every
 * worker.maintenanceMs) archives it once it is older than this, and deletes it from the archive
 * once it has been there this long. A job holds the whole task — its env, which may carry secrets,
 * its input and files — and its answer holds the task's output: kept no longer than its dispatcher
 * needs to read the answer, which it does when the worker notifies it, else at its next poll
 * (pollMs, at most 60 s), from the job table or the archive. So a finished job is gone about two
 * minutes (plus up to two maintenance periods) after it finished. 60 s is also pg-boss's smallest
 * archive interval that it does not warn about.
 */
export const FINISHED_JOB_SECONDS = 60;

interface Opened {
  pool: pg.Pool;
  boss: PgBoss;
  /** pg-boss's statements still running (its db adapter adds each): close() waits for them. */
  statements: Set<Promise<unknown>>;
  registry: Registry;
  listener: Listener;
}

/**
 * The connection, pg-boss, the registry and the LISTEN connection, opened at boot (or by `limit
 * worker`) and closed once; the dispatcher's QueueLink and the worker's wake-ups.
 */
class Connection implements QueueLink, WorkerWakeups {
  readonly #options: RunnerQueueOptionsParsed;
  readonly #ctx: PluginContext;
  #opened: Promise<Opened> | undefined;
  #live: Opened | undefined;
  readonly replyChannel = channelOf('dispatcher', randomUUID().slice(0, 8));
  /** Told the ids of the jobs workers finished (notifications on replyChannel). */
  onAnswer: (jobId: string) => void = () => undefined;
  worker: QueueWorker | undefined;

  constructor(ctx: PluginContext, options: RunnerQueueOptionsParsed) {
    this.#ctx = ctx;
    this.#options = options;
  }

  open(): Promise<Opened> {
    this.#opened ??= (async () => {
      const { url, schema, poolSize, workerTimeoutMs } = this.#options;
      const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'limit-graph runner-queue' });
      pool.on('error', (error) => this.#ctx.logger.warn({ err: error }, 'runner-queue: idle connection failed'));
      // What each step started, undone in reverse order when a later step fails: pg-boss's timers
      // and the LISTEN connection would otherwise keep the process alive, or run
      // against the ended pool.
      const undo: { what: string; run: () => Promise<unknown> }[] = [{ what: 'end the pool', run: () => pool.end() }];
      try {
        const statements = new Set<Promise<unknown>>();
        const boss = new PgBoss({
          db: {
            executeSql: (text, values) => {
              const query = pool.query(text, values);
              statements.add(query);
              void query.finally(() => statements.delete(query)).catch(() => undefined);
              return query;
            },
          },
          schema,
          schedule: false,
          // pg-boss's own maintenance timer is off in every process: each worker runs maintenance
          // itself (QueueWorker, every worker.maintenanceMs), so that a process runs it exactly when
          // it runs a worker — `limit worker` as much as worker.enabled — and dispatch-only
          // instances never do. What it does with finished jobs is set here, in every process alike.
          supervise: false,
          archiveCompletedAfterSeconds: FINISHED_JOB_SECONDS,
          archiveFailedAfterSeconds: FINISHED_JOB_SECONDS,
          deleteAfterSeconds: FINISHED_JOB_SECONDS,
        });
        boss.on('error', (error) => this.#ctx.logger.warn({ err: error }, 'runner-queue: pg-boss reported an error'));
        // Before start: a start that failed part-way may have started some of it (stop does nothing when none).
        undo.push({
          what: 'stop pg-boss',
          run: async () => {
            await boss.stop({ graceful: false, close: false, wait: true });
            await Promise.allSettled([...statements]);
          },
        });
        await boss.start();
        const registry = new Registry(pool, schema, workerTimeoutMs, this.#options.sessionIdleMs);
        await registry.migrate();
        const listener = new Listener(url, this.#ctx.logger);
        // Before listen: its connection may be up when the LISTEN fails.
        undo.push({ what: 'close the LISTEN connection', run: () => listener.close() });
        await listener.listen(this.replyChannel, (jobId) => this.onAnswer(jobId));
        this.#live = { pool, boss, statements, registry, listener };
        return this.#live;
      } catch (error) {
        for (const step of undo.reverse()) {
          await step.run().catch((undoError: unknown) => this.#ctx.logger.warn({ err: undoError }, `runner-queue: could not ${step.what} after the queue failed to open`));
        }
        throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', `runner-queue: cannot open the queue on ${hostOf(url)}: ${error instanceof Error ? error.message : String(error)}`, {
          plugin: this.#ctx.name, cause: error,
          fix: 'Check url (or LIMIT_QUEUE_URL / DATABASE_URL) and that PostgreSQL accepts connections from here.',
        });
      }
    })();
    return this.#opened;
  }

  boss = (): PgBoss => this.#required().boss;
  registry = (): Registry => this.#required().registry;
  notify = (channel: string, payload?: string): Promise<void> => notify(this.#required().pool, channel, payload);
  listen = (channel: string, onNotify: (payload: string) => void): Promise<void> => this.#required().listener.listen(channel, onNotify);
  bossStatements = (): Promise<unknown>[] => [...this.#required().statements];

  #required(): Opened {
    if (!this.#live) {
      throw new LimitError('LIMIT_RUNNER_UNAVAILABLE', 'runner-queue is not started: the runtime did not boot', { plugin: this.#ctx.name, fix: 'Create the runtime with boot enabled (the default).' });
    }
    return this.#live;
  }

  /** Starts consuming tasks for the local runners named in worker.runners (default: the `runner` option). */
  async startWorker(concurrency?: number): Promise<QueueWorker> {
    if (this.worker) return this.worker;
    if (!heartbeatFits(this.#options)) {
      const { heartbeatMs } = this.#options.worker;
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `runner-queue: ${HEARTBEAT_MESSAGE} (worker.heartbeatMs ${heartbeatMs}, workerTimeoutMs ${this.#options.workerTimeoutMs})`, {
        plugin: this.#ctx.name,
        details: { field: 'plugins.runner-queue.worker.heartbeatMs', heartbeatMs, workerTimeoutMs: this.#options.workerTimeoutMs },
        fix: `Set plugins['runner-queue'].worker.heartbeatMs to at most ${Math.floor(this.#options.workerTimeoutMs / 2)}, or raise workerTimeoutMs to at least ${heartbeatMs * 2}.`,
      });
    }
    const { boss, registry } = await this.open();
    const names = this.#options.worker.runners ?? [this.#options.runner];
    const runners = new Map<string, Runner>();
    for (const name of names) {
      const key = `runner:${name}` as const;
      if (name === 'queue' || !this.#ctx.has(key)) {
        throw new LimitError('LIMIT_RUNNER_NOT_FOUND', `runner-queue: the worker should run runner:${name}, which ${name === 'queue' ? 'would send tasks back to the queue' : 'no loaded plugin provides'}`, {
          plugin: this.#ctx.name,
          fix: `Enable the runner's plugin (e.g. 'runner-${name === 'queue' ? 'python' : name}') in this worker's limit.config.ts, or set worker.runners.`,
        });
      }
      runners.set(name, this.#ctx.resolve(key));
    }
    const options = concurrency === undefined ? this.#options : { ...this.#options, worker: { ...this.#options.worker, concurrency } };
    const worker = new QueueWorker(boss, registry, this, options, runners, this.#ctx.logger);
    await worker.start();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    if (!this.#opened) return;
    const opened = await this.#opened.catch(() => undefined);
    if (!opened) return;
    if (this.worker) await this.worker.stop().catch((error: unknown) => this.#ctx.logger.warn({ err: error }, 'runner-queue: worker did not stop cleanly'));
    await opened.boss.stop({ graceful: true, close: false, wait: true });
    // pg-boss's stop does not wait for its worker loops: a fetch still running may return a job,
    // whose handler then runs, and pg-boss completes (or fails) each job after its handler without
    // awaiting it. Ending the pool under those was an unhandled rejection ("Cannot use a pool after
    // calling end on the pool"): wait until no statement and no job runs, over a turn of the event loop.
    do {
      await Promise.allSettled([...opened.statements, ...(this.worker?.running() ?? [])]);
      await new Promise((resolve) => setImmediate(resolve));
    } while (opened.statements.size > 0 || (this.worker?.running().length ?? 0) > 0);
    await opened.listener.close();
    await opened.pool.end();
  }
}

const parseConcurrency = (value: string): number => parseNumberOption('--concurrency', value, { integer: true, min: 1, max: 256 });

function registerWorker(registry: CommandRegistry, connection: Connection): void {
  registry.program
    .command('worker')
    .description('execute queued tasks for the API instances (runner-queue) until SIGINT/SIGTERM, then finish running tasks and stop')
    .option('--concurrency <n>', 'tasks executed at once (default: worker.concurrency)')
    .action(async (opts: { concurrency?: string }) => {
      const concurrency = opts.concurrency === undefined ? undefined : parseConcurrency(opts.concurrency);
      const runtime: Runtime = await registry.runtime();
      const stop = registry.untilStopped();
      const worker = await connection.startWorker(concurrency);
      registry.print(`limit-graph worker ${worker.id} consuming ${worker.queue}`);
      const signal = await stop;
      runtime.logger.info({ signal }, 'runner-queue: stopping the worker: finishing running tasks');
      await runtime.close();
    });
}

export default definePlugin({
  meta: {
    name: 'runner-queue',
    version: '1.0.0',
    description: 'Runs tasks on worker machines through a pg-boss queue on PostgreSQL; `limit worker`',
    provides: ['runner:queue'],
    // Local runners boot first: a worker resolves them when it starts.
    optionalDependsOn: ['runner:*'],
    env: ENV,
    envFallback: ENV_FALLBACK,
  },
  options: RunnerQueueOptions,
  setup(ctx, options) {
    const connection = new Connection(ctx, options);
    const runner = new QueueRunner(connection, options, ctx.logger);
    connection.onAnswer = (jobId) => runner.answered(jobId);
    ctx.provide('runner:queue', runner);
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await connection.open();
      if (options.worker.enabled) await connection.startWorker();
    });
    ctx.hooks.sessionClosed.tapPromise(ctx.name, async (session) => {
      // A scope this process lets go while the session goes on (the runtime's close, an idle scope):
      // other processes may still run its tasks on the worker, so its route and state stay (the idle
      // sweep of the routes frees them once nobody runs any).
      if (session.closeReason !== 'closed') return;
      await runner.closeSession(session.id, session.tenant).catch((error: unknown) => ctx.logger.warn({ err: error, sessionId: session.id }, 'runner-queue: could not release the session on its worker'));
    });
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerWorker(registry, connection));
    return {
      // Dispatches still in flight end first (their jobs cancelled), while the connection is open.
      dispose: async () => {
        await runner.close();
        await connection.close();
      },
      // A worker finishes its running tasks before it stops (each bounded by its runner's timeout): no limit of the kernel's.
      closeTimeoutMs: 0,
      health: async () => {
        const health = await runner.health();
        const worker = connection.worker;
        return worker ? { ...health, details: { ...health.details, thisWorker: { id: worker.id, queue: worker.queue } } } : health;
      },
    };
  },
});
