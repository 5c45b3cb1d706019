import type { HealthResult, RunMetrics, RunOutput, SessionLimits, TaskParsed } from '../model/index.ts';
import type { Logger } from '../logger.ts';

/** What a runner knows about the session it executes in. */
export interface RunSession {
  id: string;
  tenant: string;
  limits: SessionLimits;
}

/**
 * What a runner gets with each task: the session it runs in (id, tenant, limits), the trace it runs
 * for, a signal that aborts it, and a logger.
 */
export interface RunContext {
  session: RunSession;
  traceId: string;
  /** Aborted when the caller cancels or the session closes; runners must stop promptly. */
  signal: AbortSignal;
  logger?: Logger;
}

/**
 * A finished task: its output (`ok`, stdout, stderr, value, error) and metrics. A failed task is a
 * result with `ok: false` and `error`, not a thrown error. The orchestrator checks it as it receives
 * it (`parseRunResult`: RunOutput, RunMetrics, a JSON `value`); one that breaks the contract is
 * recorded as this runner's failed run, LIMIT_RUNNER_FAILED naming the runner and the field.
 */
export interface RunResult extends RunOutput {
  metrics: RunMetrics;
}

/**
 * How session limits combine with a runner's own options: the stricter wins — the smaller
 * `timeoutMs`, `memoryMb` and `maxConcurrency`, and `allowNetwork` only when both allow it.
 */
export type EffectiveLimits = SessionLimits;

/**
 * Which limits a runner enforces on this platform; `limit doctor` shows the ones it cannot. For
 * every key that is false, `health()` lists a check named `capability:<key>` (e.g.
 * `capability:networkIsolation`) with a non-ok status and a message saying why — a limit that
 * cannot be enforced is reported, never silently ignored. The conformance suite checks this.
 */
export interface RunnerCapabilities {
  timeout: boolean;
  memoryLimit: boolean;
  networkIsolation: boolean;
  envControl: boolean;
  concurrencyLimit: boolean;
  /**
   * Sessions cannot read each other's files (separate directories and OS-level permissions). What
   * that covers beyond a session's own directory (files its tasks leave in a shared /tmp) is the
   * runner's to document; a runner claims no more than it enforces.
   */
  fileIsolation?: boolean;
  /** The number of processes a task may start is bounded (fork bombs). */
  processLimit?: boolean;
  /** Output beyond a configured size is truncated. */
  outputLimit?: boolean;
}

/**
 * A runner executes tasks in isolation per session. A failure of the task itself (non-zero exit,
 * timeout, vendor error) is a result with ok=false and `error`, not a thrown error; runners throw
 * only for misuse (unknown session, runtime closed, session limits SessionLimits refuses — checked
 * with checkSessionLimits from runner-helpers, LIMIT_VALIDATION naming the runner and the field). Session state belongs to the session's tenant:
 * a task of another tenant with the same session id never sees it — a runner holding that id
 * refuses it with LIMIT_CONFLICT (the conformance suite checks this).
 */
export interface Runner {
  /** Short name, also the container key suffix: `runner:<name>`. */
  readonly name: string;
  readonly capabilities: RunnerCapabilities;
  /**
   * How long past the session's `timeoutMs` a task of this runner may take by design, in ms: time it
   * spends before its `timeoutMs` starts (runner-queue: a job waiting for a remote worker, its
   * `dispatchTimeoutMs`). The orchestrator's backstop, which aborts a run whose runner does not come
   * back, waits this much longer. Missing (or not a non-negative number): 0.
   */
  readonly timeoutSlackMs?: number;
  executeIsolated(task: TaskParsed, ctx: RunContext): Promise<RunResult>;
  health(): Promise<HealthResult>;
  /**
   * Releases a session's workers, contexts and files. `tenant` is the session's (the orchestrator
   * always passes it): a runner whose state outlives this process's registry — a queue's workers —
   * releases only that tenant's session of the id.
   */
  closeSession?(sessionId: string, tenant?: string): Promise<void>;
}
