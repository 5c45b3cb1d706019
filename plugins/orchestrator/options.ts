import { sessionIdleMsOption } from 'limit-graph';
import { z } from 'zod';

export const OrchestratorOptions = z
  .object({
    /** Actor recorded in provenance when a call names none. */
    actor: z.string().min(1).max(256).default('orchestrator'),
    /**
     * Extra time past a session's timeoutMs before the orchestrator itself aborts a run. Runners
     * enforce timeoutMs; this backstop catches one that does not return, so no trace stays `running`.
     */
    timeoutGraceMs: z.number().int().min(0).max(600_000).default(2_000),
    /** How long closeSession waits for aborted runs to record their traces. */
    closeWaitMs: z.number().int().min(0).max(600_000).default(10_000),
    /**
     * A session with no run in this process for this long (ms) has its scope here let go — the
     * runners' state for it (a Python worker and files, a model context, a conversation) is released
     * as by a close — while it stays open: its next run attaches a new scope. Default 1 day.
     */
    sessionIdleMs: sessionIdleMsOption(),
    /**
     * The most runs of one session that may wait for a slot (its maxConcurrency) in this process; one
     * more is refused at once with LIMIT_SESSION_BUSY, before its trace is stored, so a client cannot
     * pile up waiting runs (each holding memory, a `running` trace, an HTTP connection) without end.
     */
    maxWaitingRuns: z.number().int().min(0).max(100_000).default(1_000),
  })
  .strict();
export type OrchestratorOptions = z.output<typeof OrchestratorOptions>;
