import { z } from 'zod';
import { postgresUrl } from 'limit-graph';

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/**
 * A worker renews its heartbeat every worker.heartbeatMs, and one silent for workerTimeoutMs is
 * dead: at most half of it, or a live worker looks dead between heartbeats. Checked with the
 * options when worker.enabled, and by every worker's start (`limit worker` starts one whatever
 * worker.enabled says).
 */
export const heartbeatFits = (o: { workerTimeoutMs: number; worker: { heartbeatMs: number } }): boolean => o.worker.heartbeatMs * 2 <= o.workerTimeoutMs;
export const HEARTBEAT_MESSAGE = 'worker.heartbeatMs must be at most half of workerTimeoutMs, or live workers would look dead between heartbeats';

/** Options of runner-queue; README.md documents each one. */
export const RunnerQueueOptions = z
  .object({
    /**
     * postgres://… of the PostgreSQL that holds the queue. Env LIMIT_QUEUE_URL overrides it; when
     * neither gives one, DATABASE_URL does, if storage-postgres is enabled (meta.envFallback).
     */
    url: postgresUrl({ missing: 'Expected a PostgreSQL URL: set url or LIMIT_QUEUE_URL (DATABASE_URL only when storage is postgres)' }),
    /** Schema of pg-boss's tables and of the worker registry; created when missing. */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'Expected a lower-case SQL identifier (letters, digits, "_")').default('limit_queue'),
    /** Prefix of the queues: every worker consumes `<queue>.<worker id>`. */
    queue: z.string().regex(NAME, 'Expected a queue name of lower-case letters, digits, "-" and "_"').default('limit-runs'),
    /** The worker-side runner that executes this runner's tasks (`python` → `runner:python` on the workers). */
    runner: z.string().regex(NAME, 'Expected a runner name such as "python"').default('python'),
    /** Connections of this process to the queue's PostgreSQL. */
    poolSize: z.number().int().min(1).max(100).default(4),
    /**
     * How often a waiting task reads its job's state, ms: the fallback for a lost notification
     * (workers notify the dispatcher when a job is finished).
     */
    pollMs: z.number().int().min(10).max(60_000).default(1_000),
    /**
     * How long past the session's timeoutMs a task may wait for a worker to take it and answer
     * (queueing, the worker's poll, its start-up) before it ends as LIMIT_RUNNER_TIMEOUT, ms.
     */
    dispatchTimeoutMs: z.number().int().min(100).max(3_600_000).default(10_000),
    /**
     * A session with no task for this long is forgotten, ms: its route (no longer counted in its
     * worker's load), the worker's runner state (closed as by closeSession) and the records of its
     * tenant. Sessions that are never closed would otherwise be kept, and counted, forever.
     */
    sessionIdleMs: z.number().int().min(60_000).max(30 * 86_400_000).default(86_400_000),
    /** A worker whose heartbeat is older than this is dead: its sessions move to a live worker, ms. */
    workerTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(20_000),
    /** Consume tasks here too (what `limit worker` runs); off on API instances that only dispatch. */
    worker: z
      .object({
        enabled: z.boolean().default(false),
        /** Local runners this worker executes for others; default: the `runner` option alone. */
        runners: z.array(z.string().regex(NAME, 'Expected a runner name such as "python"')).min(1).optional(),
        /** Tasks this worker executes at once (one pg-boss poll loop each). */
        concurrency: z.number().int().min(1).max(256).default(4),
        /**
         * How often the worker's queue is polled when it is idle, ms (pg-boss's minimum is 500): the
         * fallback for a lost notification (dispatchers notify the worker when they send a job).
         */
        pollMs: z.number().int().min(500).max(60_000).default(2_000),
        /** How often the worker renews its heartbeat, ms. */
        heartbeatMs: z.number().int().min(100).max(600_000).default(5_000),
        /**
         * How often the worker runs pg-boss's maintenance, ms: it fails running jobs past their
         * expiry, and archives, then deletes, finished jobs (FINISHED_JOB_SECONDS). Every process
         * that runs a worker runs it; dispatch-only instances do not.
         */
        maintenanceMs: z.number().int().min(1_000).max(600_000).default(30_000),
      })
      .strict()
      .default({ enabled: false, concurrency: 4, pollMs: 2_000, heartbeatMs: 5_000, maintenanceMs: 30_000 }),
  })
  .strict()
  .refine((o) => !o.worker.enabled || heartbeatFits(o), {
    message: HEARTBEAT_MESSAGE,
    path: ['worker', 'heartbeatMs'],
  });

export type RunnerQueueOptionsInput = z.input<typeof RunnerQueueOptions>;
export type RunnerQueueOptionsParsed = z.output<typeof RunnerQueueOptions>;
