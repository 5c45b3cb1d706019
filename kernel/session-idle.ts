/**
 * Idle expiry of a runner's sessions (`sessionIdleMs`): a session that is never closed (no
 * orchestrator `sessionClosed`, a caller that forgets) would otherwise keep its state — a worker
 * and files, a context sequence, a conversation — for as long as the process lives. Shared by the
 * runners that keep per-session state (runner-python, runner-llama, the hosted runners) and by the
 * orchestrator (its `sessionIdleMs` releases an idle session's scope).
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { Logger } from './logger.ts';

/**
 * A runner's `sessionIdleMs` option: a session with no task started or ended for this long (ms),
 * and none running or waiting, is closed as by closeSession. Default 1 day, at least 1 s, at most 30 days.
 */
export const sessionIdleMsOption = () => z.number().int().min(1_000).max(30 * 86_400_000).default(86_400_000);

/** The most time between two looks for idle sessions, whatever `idleMs` is. */
const SWEEP_MAX_MS = 60_000;

/**
 * Closes the sessions of `sessions` that had no task for `idleMs`, through `close(key, tenant)` —
 * called with the map's key: a runner's own closeSession(id, tenant), so an idle session goes
 * exactly as a closed one does, or a caller's own release (the orchestrator's). Looks every
 * min(idleMs, 60 s) while there are sessions: call `watch()` whenever one is added; the timer
 * stops by itself once none is left, and is unref'd (it never keeps the process alive). A session
 * is never closed while `idleSince` says a task of it runs or waits. `close` is called in the turn
 * the session is found idle, so it must take the session out of `sessions` synchronously (before
 * its first await): a task arriving after that gets a new session.
 */
export class SessionIdleSweeper<S extends { readonly tenant: string; readonly id?: string }> {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly o: {
      /** The plugin's name, for the log lines. */
      plugin: string;
      idleMs: number;
      /** The sessions by id, or by a key of their own when each state has its `id` (read at each look). */
      sessions: ReadonlyMap<string, S>;
      /**
       * When a task of the session last started or ended (performance.now()), or undefined while
       * one runs or waits for its turn (the session is not idle then, however long it has been).
       */
      idleSince(state: S): number | undefined;
      /** The runner's closeSession (called with the map's key). */
      close(id: string, tenant: string): Promise<void>;
      logger?: Logger | undefined;
    },
  ) {}

  /** Starts looking for idle sessions, unless already looking (or stopped for good). */
  watch(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => this.sweep(), Math.min(this.o.idleMs, SWEEP_MAX_MS));
    this.#timer.unref();
  }

  /** One look: closes the sessions idle for idleMs now; stops the timer when no session is left. */
  sweep(): void {
    const now = performance.now();
    for (const [id, state] of [...this.o.sessions]) {
      const since = this.o.idleSince(state);
      if (since === undefined || now - since < this.o.idleMs) continue;
      // The map's key is the session id, unless the state names it (a key that holds the tenant too).
      const session = state.id ?? id;
      this.o.logger?.debug({ session }, `${this.o.plugin}: closing a session idle for sessionIdleMs`);
      this.o.close(id, state.tenant).catch((error: unknown) => this.o.logger?.warn({ err: error, session }, `${this.o.plugin}: could not close an idle session`));
    }
    if (this.o.sessions.size === 0) this.#clear();
  }

  /** Stops looking for good (the runner is being disposed). */
  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  #clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
