/**
 * Who can run what, kept beside pg-boss's tables: live workers (heartbeat, runners, the limits
 * their runners enforce) and which worker holds each session. Sessions stay on one worker because
 * runners keep state per session (Python globals, a chat history); a session moves only when its
 * worker stops heartbeating. Routing goes through constraints (one row per session, a conditional
 * upsert), so API instances on several machines agree without locks of their own.
 */
import type pg from 'pg';
import type { RunnerCapabilities } from 'limit-graph';

export interface WorkerRow {
  id: string;
  queue: string;
  runners: string[];
  /** Per runner, the limits it enforces on that worker. */
  capabilities: Record<string, RunnerCapabilities>;
  host: string;
  pid: number;
}

export interface Route {
  workerId: string;
  queue: string;
  /** The session was on another worker that died: its runner state is gone. */
  moved: boolean;
  /**
   * The route's generation: drawn from one sequence when the route is made or moves, so a later
   * route of the session (after a close, an idle expiry, a move) always has a larger one. Jobs
   * carry it; a worker keeps runner state per generation (worker.ts).
   */
  generation: number;
}

/** A session's route deleted by Registry.release: the worker that held it and the route's generation. */
export interface HeldRoute {
  tenant: string;
  workerId: string;
  queue: string;
  generation: number;
}

/** A connection as pg-boss's ConnectionOptions.db takes it: a send on it joins that connection's transaction. */
export interface Db {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

export class Registry {
  readonly #pool: pg.Pool;
  readonly #workers: string;
  readonly #routes: string;
  readonly #generations: string;
  readonly #staleSecs: number;
  readonly #idleSecs: number;
  readonly #schema: string;

  constructor(pool: pg.Pool, schema: string, workerTimeoutMs: number, sessionIdleMs: number) {
    this.#pool = pool;
    this.#schema = `"${schema}"`;
    this.#workers = `"${schema}".limit_workers`;
    this.#routes = `"${schema}".limit_session_routes`;
    this.#generations = `"${schema}".limit_session_route_generation`;
    this.#staleSecs = workerTimeoutMs / 1000;
    this.#idleSecs = sessionIdleMs / 1000;
  }

  /** Creates the tables; serialised by an advisory lock, as several processes may start at once. */
  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('limit-graph:runner-queue'))");
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#workers} (
        id text PRIMARY KEY, queue text NOT NULL, runners text[] NOT NULL, capabilities jsonb NOT NULL,
        host text NOT NULL, pid integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), heartbeat_at timestamptz NOT NULL DEFAULT now())`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#routes} (
        tenant text NOT NULL, session_id text NOT NULL, worker_id text NOT NULL, assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, session_id))`);
      await client.query(`CREATE INDEX IF NOT EXISTS limit_session_routes_worker ON ${this.#routes} (worker_id)`);
      // When the session last had a task routed (sessionIdleMs): idle routes neither count nor stay.
      await client.query(`ALTER TABLE ${this.#routes} ADD COLUMN IF NOT EXISTS used_at timestamptz NOT NULL DEFAULT now()`);
      // The route's generation (Route.generation): routes that exist already get one each here.
      await client.query(`CREATE SEQUENCE IF NOT EXISTS ${this.#generations}`);
      await client.query(`ALTER TABLE ${this.#routes} ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT nextval('${this.#generations}')`);
    });
  }

  /**
   * Queues named `<prefix>…` that no registered worker consumes and whose jobs have not moved for
   * `idleMs`: a stopped or dead worker's queue, once its dispatchers had time to read the answers.
   */
  async orphanQueues(prefix: string, idleMs: number): Promise<string[]> {
    const r = await this.#pool.query(
      `SELECT q.name FROM ${this.#schema}.queue q
       WHERE left(q.name, length($1)) = $1
         AND NOT EXISTS (SELECT 1 FROM ${this.#workers} w WHERE w.queue = q.name)
         AND NOT EXISTS (SELECT 1 FROM ${this.#schema}.job j WHERE j.name = q.name AND greatest(j.created_on, j.started_on, j.completed_on) > now() - make_interval(secs => $2))`,
      [prefix, idleMs / 1000],
    );
    return r.rows.map((row: { name: string }) => row.name);
  }

  /**
   * Deletes a worker's pg-boss queue with the jobs still in it. pg-boss 10's deleteQueue fails
   * while the queue holds jobs in any state (its partition references the queue row), so the jobs
   * go first, in one transaction that holds the queue row: a job sent meanwhile waits, then fails.
   * A queue whose worker registered again since orphanQueues looked (one reaped while it was
   * paused) is kept; should it go all the same, that worker's next heartbeat creates it again.
   */
  async dropQueue(queue: string): Promise<void> {
    await this.#transaction(async (client) => {
      const held = await client.query(`SELECT 1 FROM ${this.#schema}.queue WHERE name = $1 FOR UPDATE`, [queue]);
      if (held.rowCount === 0) return;
      const consumed = await client.query(`SELECT 1 FROM ${this.#workers} WHERE queue = $1`, [queue]);
      if (consumed.rowCount !== 0) return;
      await client.query(`DELETE FROM ${this.#schema}.job WHERE name = $1`, [queue]);
      await client.query(`SELECT ${this.#schema}.delete_queue($1)`, [queue]);
    });
  }

  /** The ids of the jobs of `queue` that a worker has taken and not finished (pg-boss's `active`). */
  async activeJobs(queue: string): Promise<string[]> {
    const r = await this.#pool.query(`SELECT id FROM ${this.#schema}.job WHERE name = $1 AND state = 'active'`, [queue]);
    return r.rows.map((row: { id: string }) => row.id);
  }

  /**
   * Cancels job `id` of `queue` only while no worker has taken it (pg-boss's `created` or `retry`),
   * in one statement: true when it was cancelled so, false when a worker took it first (or it
   * ended). pg-boss's cancel also cancels a running job, which cannot tell the two apart.
   */
  async cancelUntaken(queue: string, id: string): Promise<boolean> {
    const r = await this.#pool.query(
      `UPDATE ${this.#schema}.job SET completed_on = now(), state = 'cancelled' WHERE name = $1 AND id = $2 AND state IN ('created', 'retry')`,
      [queue, id],
    );
    return r.rowCount === 1;
  }

  /**
   * Runs `work` in a transaction on a connection of the pool. A connection whose ROLLBACK failed is
   * discarded, not given back: it may still be in the failed transaction (every statement of its
   * next user refused) or broken.
   */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async register(w: WorkerRow): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#workers} (id, queue, runners, capabilities, host, pid) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET queue = $2, runners = $3, capabilities = $4, host = $5, pid = $6, started_at = now(), heartbeat_at = now()`,
      [w.id, w.queue, w.runners, JSON.stringify(w.capabilities), w.host, w.pid],
    );
  }

  /**
   * Renews a worker's heartbeat: 'gone' when its row is gone (another process reaped it),
   * 'unqueued' when its row is there but its pg-boss queue is not (a reaper deleted it as
   * nobody's while the worker was away, then the worker registered again), else 'ok'.
   */
  async heartbeat(id: string): Promise<'ok' | 'gone' | 'unqueued'> {
    const r = await this.#pool.query(
      `UPDATE ${this.#workers} w SET heartbeat_at = now() WHERE id = $1
       RETURNING EXISTS (SELECT 1 FROM ${this.#schema}.queue q WHERE q.name = w.queue) AS queued`,
      [id],
    );
    const row = r.rows[0] as { queued: boolean } | undefined;
    return row === undefined ? 'gone' : row.queued ? 'ok' : 'unqueued';
  }

  /** Removes a worker and its routes (a clean stop, or a reaped dead worker). */
  async unregister(id: string): Promise<void> {
    await this.#pool.query(`WITH gone AS (DELETE FROM ${this.#routes} WHERE worker_id = $1) DELETE FROM ${this.#workers} WHERE id = $1`, [id]);
  }

  /** Workers whose heartbeat is older than workerTimeoutMs. */
  async dead(): Promise<WorkerRow[]> {
    const r = await this.#pool.query(`SELECT id, queue, runners, capabilities, host, pid FROM ${this.#workers} WHERE heartbeat_at <= now() - make_interval(secs => $1)`, [this.#staleSecs]);
    return r.rows as WorkerRow[];
  }

  /** Live workers that run `runner`. */
  async live(runner: string): Promise<WorkerRow[]> {
    const r = await this.#pool.query(
      `SELECT id, queue, runners, capabilities, host, pid FROM ${this.#workers} WHERE $1 = ANY(runners) AND heartbeat_at > now() - make_interval(secs => $2) ORDER BY id`,
      [runner, this.#staleSecs],
    );
    return r.rows as WorkerRow[];
  }

  async isLive(workerId: string): Promise<boolean> {
    const r = await this.#pool.query(`SELECT 1 FROM ${this.#workers} WHERE id = $1 AND heartbeat_at > now() - make_interval(secs => $2)`, [workerId, this.#staleSecs]);
    return r.rowCount === 1;
  }

  /**
   * The worker that holds the session, assigning the least loaded live worker of `runner` when it
   * has none or its worker died; undefined when no live worker runs `runner`.
   */
  async route(tenant: string, sessionId: string, runner: string): Promise<Route | undefined> {
    // Two tries: a concurrent assignment to a worker that then dies between our two statements.
    for (let attempt = 0; attempt < 2; attempt++) {
      const held = await this.#held(tenant, sessionId, runner);
      if (held) return { ...held, moved: false };
      const pick = await this.#pool.query(
        `SELECT w.id, w.queue, (SELECT count(*) FROM ${this.#routes} r WHERE r.worker_id = w.id AND r.used_at > now() - make_interval(secs => $3)) AS load
         FROM ${this.#workers} w WHERE $1 = ANY(w.runners) AND w.heartbeat_at > now() - make_interval(secs => $2)
         ORDER BY load, random() LIMIT 1`,
        [runner, this.#staleSecs, this.#idleSecs],
      );
      const candidate = pick.rows[0] as { id: string; queue: string } | undefined;
      if (!candidate) return undefined;
      // Takes the session only if nobody holds it or its holder is dead: a live holder wins.
      const taken = await this.#pool.query(
        `INSERT INTO ${this.#routes} AS r (tenant, session_id, worker_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, session_id) DO UPDATE SET worker_id = EXCLUDED.worker_id, assigned_at = now(), used_at = now(), generation = EXCLUDED.generation
           WHERE NOT EXISTS (SELECT 1 FROM ${this.#workers} w WHERE w.id = r.worker_id AND w.heartbeat_at > now() - make_interval(secs => $4) AND $5 = ANY(w.runners))
         RETURNING (xmax <> 0) AS moved, r.generation`,
        [tenant, sessionId, candidate.id, this.#staleSecs, runner],
      );
      const row = taken.rows[0] as { moved: boolean; generation: string } | undefined;
      if (row) return { workerId: candidate.id, queue: candidate.queue, moved: row.moved, generation: Number(row.generation) };
    }
    const held = await this.#held(tenant, sessionId, runner);
    return held ? { ...held, moved: false } : undefined;
  }

  async #held(tenant: string, sessionId: string, runner: string): Promise<Omit<Route, 'moved'> | undefined> {
    const r = await this.#pool.query(
      `UPDATE ${this.#routes} r SET used_at = now() FROM ${this.#workers} w
       WHERE w.id = r.worker_id AND r.tenant = $1 AND r.session_id = $2 AND $3 = ANY(w.runners) AND w.heartbeat_at > now() - make_interval(secs => $4)
       RETURNING w.id AS "workerId", w.queue, r.generation`,
      [tenant, sessionId, runner, this.#staleSecs],
    );
    const row = r.rows[0] as { workerId: string; queue: string; generation: string } | undefined;
    return row && { workerId: row.workerId, queue: row.queue, generation: Number(row.generation) };
  }

  /**
   * Deletes the routes to `workerId` that had no task for sessionIdleMs, except those of the
   * sessions in `busy` (running there now); returns the sessions they were, with the routes' generations.
   */
  async expire(workerId: string, busy: { tenant: string; sessionId: string }[]): Promise<{ tenant: string; sessionId: string; generation: number }[]> {
    const r = await this.#pool.query(
      `DELETE FROM ${this.#routes} WHERE worker_id = $1 AND used_at <= now() - make_interval(secs => $2)
         AND (tenant, session_id) NOT IN (SELECT * FROM unnest($3::text[], $4::text[]))
       RETURNING tenant, session_id AS "sessionId", generation`,
      [workerId, this.#idleSecs, busy.map((b) => b.tenant), busy.map((b) => b.sessionId)],
    );
    return (r.rows as { tenant: string; sessionId: string; generation: string }[]).map((row) => ({ ...row, generation: Number(row.generation) }));
  }

  /**
   * Forgets the route of `tenant`'s session `sessionId` and, in the same transaction, has `deliver`
   * send the close job of each route deleted (the worker that held it, the route's generation) on
   * `db`, the transaction's connection. Either both happen or neither: when a delivery fails (or
   * the commit), the transaction rolls back and the error is rethrown — the route stays, so a later
   * close (or the idle sweep) still finds the session and releases its state on the worker.
   */
  async release(sessionId: string, tenant: string, deliver: (held: HeldRoute, db: Db) => Promise<void>): Promise<HeldRoute[]> {
    return this.#transaction(async (client) => {
      const r = await client.query(
        `DELETE FROM ${this.#routes} r USING ${this.#workers} w
         WHERE r.session_id = $1 AND r.tenant = $2 AND w.id = r.worker_id
         RETURNING r.tenant, w.id AS "workerId", w.queue, r.generation`,
        [sessionId, tenant],
      );
      const held = (r.rows as { tenant: string; workerId: string; queue: string; generation: string }[]).map((row) => ({ ...row, generation: Number(row.generation) }));
      const db: Db = { executeSql: (text, values) => client.query(text, values) };
      for (const h of held) await deliver(h, db);
      return held;
    });
  }
}
