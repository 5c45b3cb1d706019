/** What travels through the queue, validated on both ends (a job is data from another process). */
import { z } from 'zod';
import { RunMetrics, RunOutput, SessionLimits, Task, toWellFormed } from 'limit-graph';

/**
 * The generation of the session's route the job belongs to (Registry's Route.generation): the
 * worker keeps a session's runner state per generation. Absent in jobs of dispatchers from before
 * it existed: such a run job runs on the state the worker holds, such a close job closes it.
 */
const Generation = z.number().int().positive().optional();

export const RunJob = z.object({
  kind: z.literal('run'),
  runner: z.string().min(1),
  task: Task,
  session: z.object({ id: z.string().min(1), tenant: z.string().min(1), limits: SessionLimits }),
  traceId: z.string().min(1),
  /** The dispatcher's LISTEN channel, notified with the job id once the job is finished. */
  reply: z.string().min(1).max(63).optional(),
  generation: Generation,
});

export type RunJobParsed = z.output<typeof RunJob>;

export const CloseJob = z.object({ kind: z.literal('close'), tenant: z.string().min(1), sessionId: z.string().min(1), generation: Generation });

export const Job = z.discriminatedUnion('kind', [RunJob, CloseJob]);
export type Job = z.input<typeof Job>;

/** A worker's answer: the local runner's RunResult and who ran it. */
export const RunAnswer = RunOutput.extend({ metrics: RunMetrics, worker: z.string().optional() });

/**
 * What goes through the queue's jsonb columns (a job's data, its answer) as PostgreSQL can hold it.
 * jsonb refuses a NUL (`\u0000`) and half a surrogate pair in a string, and ordinary output holds
 * both (`print("a\x00b")`, bytes a task wrote, a `str` made from them): such a value travels as its
 * JSON text, which jsonb stores as it is and `fromJsonb` turns back into exactly the value it was.
 * Anything else is stored as it is (readable in the table). `visible` fields (ids, the job's kind)
 * stay beside the text for whoever reads the row without decoding it.
 */
const Encoded = z.object({ encoding: z.literal('json'), json: z.string() }).passthrough();

export function toJsonb(value: object, visible: readonly string[] = []): object {
  const json = JSON.stringify(value);
  // JSON.stringify escapes exactly NUL (\u0000) and half surrogate pairs (\ud800–\udfff) this way;
  // a task's own backslash-u text only makes a harmless false positive.
  if (!/\\u0000|\\u[dD][89a-fA-F]/.test(json)) return value;
  const fields = value as Record<string, unknown>;
  const kept = visible.filter((key) => fields[key] !== undefined).map((key) => [key, fields[key]]);
  return { ...Object.fromEntries(kept), encoding: 'json', json };
}

/** A stored job or answer as it was sent: decoded when toJsonb encoded it, else as it is. */
export function fromJsonb(stored: unknown): unknown {
  const encoded = Encoded.safeParse(stored);
  if (!encoded.success) return stored;
  try {
    return JSON.parse(encoded.data.json) as unknown;
  } catch {
    return stored; // not what toJsonb wrote: the schema that reads it says what is wrong
  }
}

/** Text (a failure's message) that jsonb can store: NUL written as `\0`, half surrogate pairs as U+FFFD. */
export function storableText(text: string): string {
  return toWellFormed(text).replaceAll('\u0000', '\\0');
}
