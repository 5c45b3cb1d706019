/**
 * Wake-ups over PostgreSQL LISTEN/NOTIFY, so that neither side waits for its next poll: a
 * dispatcher notifies the worker it sent a job to (pg-boss's loops otherwise look every
 * `worker.pollMs`), and a worker notifies the dispatcher whose job it finished. A notification only
 * says "look now": the job's state in pg-boss stays the truth, and polling stays the fallback when
 * a notification is lost (a dropped connection, a process that was not listening yet).
 */
import pg from 'pg';
import type { Logger } from 'limit-graph';

/** Channel names are identifiers (≤ 63 bytes); ours are quoted, so "-" is fine. */
export const channelOf = (kind: 'worker' | 'dispatcher', id: string): string => `limit-queue:${kind}:${id}`;

export async function notify(pool: pg.Pool, channel: string, payload = ''): Promise<void> {
  await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

/** One listening connection for the channels of this process; reconnects when it is lost. */
export class Listener {
  readonly #url: string;
  readonly #logger: Logger;
  readonly #channels = new Map<string, (payload: string) => void>();
  #client: Promise<pg.Client> | undefined;
  #closed = false;

  constructor(url: string, logger: Logger) {
    this.#url = url;
    this.#logger = logger;
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<void> {
    this.#channels.set(channel, onNotify);
    const client = await this.#connect();
    await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
  }

  /**
   * The connection in use, or a new one. Only the connection in use clears `#client` when it is
   * lost: a late error (or end) of one already replaced — pg may report more than one error for a
   * dead connection — is ignored, or its successor would be left open, listening and never closed
   * (keeping the process alive), and a third connection made in its place. A connection that
   * fails while connecting is reported to the caller waiting for it (#relisten retries).
   */
  #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client({ connectionString: this.#url, application_name: 'limit-graph runner-queue (listen)' });
    client.on('notification', (n) => this.#channels.get(n.channel)?.(n.payload ?? ''));
    let state: 'connecting' | 'up' | 'lost' = 'connecting';
    const connecting = (async () => {
      await client.connect();
      if (state === 'connecting') state = 'up';
      return client;
    })();
    const lost = (error?: Error) => {
      if (state === 'lost' || this.#closed) return;
      const wasUp = state === 'up';
      state = 'lost';
      client.removeAllListeners('end'); // the 'error' listener stays: a late error of this client is ignored here, not thrown
      client.end().catch(() => undefined);
      if (!wasUp || this.#client !== connecting) return;
      this.#logger.warn({ err: error }, 'runner-queue: the LISTEN connection was lost; polling until it is back');
      this.#client = undefined;
      setTimeout(() => void this.#relisten(), 1_000).unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    this.#client = connecting;
    connecting.catch(() => {
      state = 'lost';
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      if (this.#client === connecting) this.#client = undefined;
    });
    return connecting;
  }

  async #relisten(): Promise<void> {
    if (this.#closed) return;
    try {
      const client = await this.#connect();
      for (const channel of this.#channels.keys()) await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    } catch (error) {
      this.#logger.warn({ err: error }, 'runner-queue: cannot LISTEN yet; retrying');
      setTimeout(() => void this.#relisten(), 5_000).unref();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    if (!client) return;
    client.removeAllListeners('end');
    await client.end().catch(() => undefined);
  }
}
