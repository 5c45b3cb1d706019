/** What travels through the queue, validated on both ends (a job is data from another process). */
import { z } from 'zod';
import { RunMetrics, RunOutput, SessionLimits, Task } from 'limit-graph';

export const RunJob = z.object({
  kind: z.literal('run'),
  runner: z.string().min(1),
  task: Task,
  session: z.object({ id: z.string().min(1), tenant: z.string().min(1), limits: SessionLimits }),
  traceId: z.string().min(1),
  /** The dispatcher's LISTEN channel, notified with the job id once the job is finished. */
  reply: z.string().min(1).max(63).optional(),
});

export const CloseJob = z.object({ kind: z.literal('close'), tenant: z.string().min(1), sessionId: z.string().min(1) });

export const Job = z.discriminatedUnion('kind', [RunJob, CloseJob]);
export type Job = z.input<typeof Job>;

/** A worker's answer: the local runner's RunResult and who ran it. */
export const RunAnswer = RunOutput.extend({ metrics: RunMetrics, worker: z.string().optional() });
