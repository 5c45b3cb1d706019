/**
 * The orchestrator's programmatic inputs as zod schemas: every public method parses its input with
 * one of these before it reads or writes anything, so a call from code gets the same answer as the
 * same request over HTTP (LIMIT_VALIDATION naming the field; an unknown key is an error, not
 * silently dropped). Nested records the orchestrator passes on unchanged (a run's task, which
 * RunRequest parses; an RD graph, which the rd plugin checks) are only checked for being objects
 * here, so nothing is parsed twice.
 */
import { Id, MergeStrategy, RunMetrics, RunOutput, SessionLimits, Task, Tenant, parseOrThrow, z } from 'limit-graph';

const Metadata = z.record(z.string(), z.unknown());
const Text = (max: number) => z.string().max(max);
const Actor = z.string().min(1).max(256);
const Signal = z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'Expected an AbortSignal');
const Fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'Expected a function');
const AnObject = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'Expected an object');
const Output = RunOutput.extend({ error: RunOutput.shape.error.unwrap().strict().optional() }).strict();

/** Each limit optional: missing ones take the kernel's defaults. Unknown limits are refused. */
const SessionLimitsPatch = z
  .object(Object.fromEntries(Object.entries(SessionLimits.shape).map(([k, v]) => [k, v.removeDefault().optional()])) as {
    [K in keyof typeof SessionLimits.shape]: z.ZodOptional<ReturnType<(typeof SessionLimits.shape)[K]['removeDefault']>>;
  })
  .strict();

export const OpenSessionInput = z
  .object({ tenant: Tenant.optional(), id: Id.optional(), name: Text(256).optional(), limits: SessionLimitsPatch.optional(), metadata: Metadata.optional() })
  .strict();

/** A merge names each parent once: a repeat is named by its position and the one it repeats. */
function eachOnce(ids: string[], ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  ids.forEach((id, i) => {
    const seen = first.get(id);
    if (seen === undefined) first.set(id, i);
    else ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(id)} repeats parentIds.${seen}; a merge names each parent once` });
  });
}

export const RunInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id,
    runner: z.string().min(1).max(128),
    task: AnObject, // RunRequest parses it (after the beforeRun hook)
    parentIds: z.array(Id).optional(),
    metadata: Metadata.optional(),
    actor: Actor.optional(),
    signal: Signal.optional(),
  })
  .strict();

export const RecordTraceInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id,
    runner: z.string().min(1).max(128),
    task: Task.extend({ kind: Task.shape.kind.unwrap().default('external') }),
    output: Output,
    metrics: RunMetrics.strict().optional(),
    parentIds: z.array(Id).optional(),
    metadata: Metadata.optional(),
    actor: Actor.optional(),
    source: Text(1024).optional(),
  })
  .strict();

export const MergeInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id.optional(),
    parentIds: z.array(Id).min(1, 'A merge needs at least one parent trace').superRefine(eachOnce),
    strategy: MergeStrategy.optional(),
    rationale: Text(8192).optional(),
    actor: Actor.optional(),
    output: Output.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => b.strategy !== 'custom' || b.output !== undefined, { message: 'strategy "custom" requires output', path: ['output'] });

export const ReviewInputSchema = z.object({ tenant: Tenant.optional(), actor: Actor, rationale: Text(8192).optional() }).strict();

export const FederateInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id,
    // Parsed once here, not by each branch's run: a bad task is refused before anything runs.
    task: Task.strict(),
    targets: z
      .array(z.object({ runner: z.string().min(1).max(128), sessionId: Id.optional(), label: Text(256).optional() }).strict())
      .min(1, 'Federation needs at least one target'),
    concurrency: z.number().int().min(1).optional(),
    aggregate: z.enum(['all', 'first-success', 'majority']),
    merge: z.boolean().optional(),
    rationale: Text(8192).optional(),
    actor: Actor.optional(),
    metadata: Metadata.optional(),
    signal: Signal.optional(),
  })
  .strict();

const rdSeriesShape = {
  tenant: Tenant.optional(),
  sessionId: Id,
  name: z.string().min(1).max(256),
  reference: AnObject.optional(), // the rd plugin checks the graph
  distortionAlgorithm: z.string().min(1).max(64).optional(),
  distortionOptions: AnObject.optional(), // the rd plugin checks its own options
  metadata: Metadata.optional(),
};
export const CreateRdSeriesInputSchema = z.object(rdSeriesShape).strict();
export const RefineInputSchema = z
  .object({ ...rdSeriesShape, maxSteps: z.number().int().min(1), step: Fn, detector: z.string().min(1).max(64).optional() })
  .strict();

export const ExportInputSchema = z
  .object({ tenant: Tenant.optional(), sessionId: Id.optional(), traceIds: z.array(Id).min(1).optional(), format: z.enum(['json', 'jsonl', 'csv']).default('json') })
  .strict()
  .refine((b) => (b.sessionId === undefined) !== (b.traceIds === undefined), { message: 'Give exactly one of sessionId or traceIds', path: ['sessionId'] });

export const ArtifactFilesSchema = z.array(z.object({ path: z.string().min(1), content: z.string() }).strict());

/** Parses an orchestrator input or throws LIMIT_VALIDATION naming each bad field (the kernel's parseOrThrow). */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  return parseOrThrow(schema, value, what);
}
