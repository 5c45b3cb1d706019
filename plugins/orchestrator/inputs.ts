/**
 * The orchestrator's programmatic inputs as zod schemas: every public method parses its input with
 * one of these before it reads or writes anything, so a call from code gets the same answer as the
 * same request over HTTP (LIMIT_VALIDATION naming the field; an unknown key is an error, not
 * silently dropped; text that is not well-formed Unicode is an error on every backend). Nested
 * records the orchestrator passes on unchanged (a run's task, which RunRequest parses; an RD graph,
 * which the rd plugin checks) are only checked for being objects here, so nothing is parsed twice.
 */
import { Id, MergeStrategy, eachParentOnce, outputOnlyWithCustom, RunMetrics, RunOutput, SessionLimits, Task, Tenant, illFormedText, parseOrThrow, refuseMeasuredMetaKeys, refuseReservedKeys, z } from 'limit-graph';
import { MAX_ARTIFACT_CHARS } from './artifact.ts';

const Metadata = z.record(z.string(), z.unknown());
const Text = (max: number) => z.string().max(max);
const Actor = z.string().min(1).max(256);
const Signal = z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'Expected an AbortSignal');
const Fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'Expected a function');
const AnObject = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'Expected an object');
/**
 * A graph as every `rd:*` algorithm takes it (AttributedGraph): `nodes` and `edges` arrays. Their
 * entries are the algorithm's to check (rd-fgw names the node or edge at fault); the orchestrator
 * itself reads the arrays (a step's point meta counts nodes and edges).
 */
const GraphShape = z.looseObject({ nodes: z.array(z.unknown()), edges: z.array(z.unknown()) });
const Output = RunOutput.extend({ error: RunOutput.shape.error.unwrap().strict().optional() }).strict();

/**
 * Caller-supplied text must be well-formed Unicode. Half a surrogate pair (`'\ud83d'` alone, which
 * JavaScript strings allow) is not text: PostgreSQL refuses it while SQLite and files store it, and
 * canonical JSON (provenance, artifacts) cannot hold it. So every backend refuses it here, naming
 * the first string (or key) that holds one, before anything is read or written. What a runner
 * prints is mended to U+FFFD instead (the orchestrator's `wellFormed`): no caller wrote it.
 * (The kernel's illFormedText walks plain objects and arrays only, and cyclic values safely.)
 */
function wellFormedText(value: unknown, ctx: z.RefinementCtx): void {
  const [bad] = illFormedText(value, 1);
  if (!bad) return;
  if (bad.key) ctx.addIssue({ code: 'custom', path: bad.path.slice(0, -1), message: `the key ${JSON.stringify(bad.path.at(-1))} ${NOT_TEXT}` });
  else ctx.addIssue({ code: 'custom', path: bad.path, message: `${NOT_TEXT}; String.prototype.toWellFormed() replaces it with U+FFFD` });
}
const NOT_TEXT = 'is not well-formed Unicode: it holds half a surrogate pair (a lone \\uD800–\\uDFFF)';

/** Each limit optional: missing ones take the kernel's defaults. Unknown limits are refused. */
const SessionLimitsPatch = z
  .object(Object.fromEntries(Object.entries(SessionLimits.shape).map(([k, v]) => [k, v.removeDefault().optional()])) as {
    [K in keyof typeof SessionLimits.shape]: z.ZodOptional<ReturnType<(typeof SessionLimits.shape)[K]['removeDefault']>>;
  })
  .strict();

export const OpenSessionInput = z
  .object({ tenant: Tenant.optional(), id: Id.optional(), name: Text(256).optional(), limits: SessionLimitsPatch.optional(), metadata: Metadata.optional() })
  .strict()
  .superRefine(wellFormedText);

/** A run's task: an object with Task's keys only, as over HTTP (a misspelt key is an error, not dropped). */
const RunTask = AnObject.superRefine((task, ctx) => {
  const unknown = Object.keys(task).filter((k) => !Object.hasOwn(Task.shape, k));
  if (unknown.length) ctx.addIssue({ code: 'custom', message: `Unrecognized key${unknown.length === 1 ? '' : 's'}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}` });
});

/**
 * Keys of a record's `metadata` the orchestrator writes itself and reads back (or records in
 * provenance): a caller's metadata may not hold them, or it could set what the server manages —
 * an RD series' reference graph, algorithm and options, stored in the series' metadata and read
 * back at each step, would skip the checks the top-level fields get (the graph's size and shape, the
 * algorithm's existence, its options); a merge's `excluded` would reach its server-written `merge`
 * provenance entry, and a recorded trace holding a merge's keys would pose as a federation's merge.
 * Each such key is refused (LIMIT_VALIDATION at `metadata.<key>`), not silently replaced. Series
 * stored before keep these keys in their metadata and are read as before.
 */
export const RD_SERIES_SERVER_META_KEYS = ['reference', 'distortionAlgorithm', 'distortionOptions'] as const;
export const MERGE_SERVER_META_KEYS = ['strategy', 'federation', 'excluded'] as const;

const SERVER_META_WHY: Record<string, string> = {
  reference: 'is the series\' reference graph, which the server keeps itself; give it as the top-level `reference` (checked as a graph), not in metadata',
  distortionAlgorithm: 'is the series\' RD algorithm, which the server keeps itself; give it as the top-level `distortionAlgorithm`, not in metadata',
  distortionOptions: 'is the series\' algorithm options, which the server keeps itself; give them as the top-level `distortionOptions`, not in metadata',
  strategy: 'is the merge\'s strategy, which the server writes itself; give it as the top-level `strategy`, not in metadata',
  federation: 'is written by the server on a federation\'s merge (federate()); give your own value another key',
  excluded: 'is written by the server on a federation\'s merge (the branches it left out, also recorded in its `merge` provenance entry); give your own value another key',
};

/** A refinement refusing each of `keys` in the input's `metadata`: one issue per key, at `metadata.<key>`. */
const refuseServerMetaKeys = (keys: readonly string[]) =>
  refuseReservedKeys('metadata', keys, (key) => SERVER_META_WHY[key] ?? 'is written by the server; give your own value another key');

/**
 * What marks a trace as a merge — runner `merge`, task kind `merge` — is written by merge() and
 * federate() only: a run or a recorded trace holding either is refused (LIMIT_VALIDATION at `runner`
 * or `task.kind`), so no trace poses as a merge in listings, exports and merge ancestry (a "merge"
 * naming a quarantined trace as its parent, with no `merge` provenance entry to check).
 */
export const MERGE_RUNNER = 'merge';
export function refuseMergeMarkers(input: { runner?: unknown; task?: unknown }, ctx: z.RefinementCtx): void {
  if (input.runner === MERGE_RUNNER) {
    ctx.addIssue({ code: 'custom', path: ['runner'], message: `"${MERGE_RUNNER}" is the runner of merged traces, which only merge() and federate() write; name another runner` });
  }
  const task = input.task as { kind?: unknown } | undefined;
  if (task && typeof task === 'object' && task.kind === 'merge') {
    ctx.addIssue({ code: 'custom', path: ['task', 'kind'], message: '"merge" is the task kind of merged traces, which only merge() and federate() write; use another kind (a recorded trace\'s default is "external")' });
  }
}

export const RunInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id,
    runner: z.string().min(1).max(128),
    task: RunTask, // RunRequest parses its values (after the beforeRun hook)
    parentIds: z.array(Id).optional(),
    metadata: Metadata.optional(),
    actor: Actor.optional(),
    signal: Signal.optional(),
  })
  .strict()
  .superRefine(wellFormedText)
  .superRefine(refuseMergeMarkers);

export const RecordTraceInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id,
    runner: z.string().min(1).max(128),
    task: Task.extend({ kind: Task.shape.kind.unwrap().default('external') }).strict(),
    output: Output,
    metrics: RunMetrics.strict().optional(),
    parentIds: z.array(Id).optional(),
    metadata: Metadata.optional(),
    actor: Actor.optional(),
    source: Text(1024).optional(),
    signal: Signal.optional(),
  })
  .strict()
  .superRefine(wellFormedText)
  .superRefine(refuseMergeMarkers)
  .superRefine(refuseReservedKeys('metadata', MERGE_SERVER_META_KEYS, (key) => `is written by the server on merged traces (${key === 'strategy' ? 'the merge\'s strategy' : 'a federation\'s merge'}); a recorded trace may not hold it, so that it cannot pose as a merge: give your own value another key`));

export const MergeInputSchema = z
  .object({
    tenant: Tenant.optional(),
    sessionId: Id.optional(),
    parentIds: z.array(Id).min(1, 'A merge needs at least one parent trace').superRefine(eachParentOnce),
    strategy: MergeStrategy.optional(),
    rationale: Text(8192).optional(),
    actor: Actor.optional(),
    output: Output.optional(),
    metadata: Metadata.optional(),
    signal: Signal.optional(),
  })
  .strict()
  .superRefine(outputOnlyWithCustom)
  .superRefine(wellFormedText)
  .superRefine(refuseServerMetaKeys(MERGE_SERVER_META_KEYS));

export const ReviewInputSchema = z.object({ tenant: Tenant.optional(), actor: Actor, rationale: Text(8192).optional(), signal: Signal.optional() }).strict().superRefine(wellFormedText);

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
  .strict()
  .superRefine(wellFormedText);

const rdSeriesShape = {
  tenant: Tenant.optional(),
  sessionId: Id,
  name: z.string().min(1).max(256),
  reference: GraphShape.optional(), // the rd plugin checks the nodes and edges
  distortionAlgorithm: z.string().min(1).max(64).optional(),
  distortionOptions: AnObject.optional(), // the rd plugin checks its own options
  metadata: Metadata.optional(),
};
export const CreateRdSeriesInputSchema = z.object(rdSeriesShape).strict().superRefine(wellFormedText).superRefine(refuseServerMetaKeys(RD_SERIES_SERVER_META_KEYS));
export const RefineInputSchema = z
  .object({ ...rdSeriesShape, maxSteps: z.number().int().min(1), step: Fn, detector: z.string().min(1).max(64).optional(), signal: Signal.optional() })
  .strict()
  .superRefine(wellFormedText)
  .superRefine(refuseServerMetaKeys(RD_SERIES_SERVER_META_KEYS));

/** A list (the field `name`) of ids none of which repeats: each repetition is an issue at its index naming the first occurrence. */
const distinctIds = (name: string) => z.array(Id).superRefine((ids, ctx) => {
  const first = new Map<string, number>();
  ids.forEach((id, i) => {
    const j = first.get(id);
    if (j === undefined) first.set(id, i);
    else ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(id)} repeats ${name}.${j}; list each id once` });
  });
});

/** One refinement step: the numbers are checked as an RD point by storage; the graph by the rd plugin. */
export const RdStepInputSchema = z
  .object({
    tenant: Tenant.optional(),
    rate: z.number(),
    graph: GraphShape.optional(),
    distortion: z.number().optional(),
    step: z.number().int().optional(),
    meta: Metadata.optional(),
    timeLimitMs: z.number().positive().optional(),
    signal: Signal.optional(),
  })
  .strict()
  .superRefine(wellFormedText)
  .superRefine(refuseMeasuredMetaKeys);

export const ExportInputSchema = z
  .object({
    tenant: Tenant.optional(), sessionId: Id.optional(), traceIds: distinctIds('traceIds').min(1).optional(), format: z.enum(['json', 'jsonl', 'csv']).default('json'),
    maxChars: z.number().int().min(1).max(MAX_ARTIFACT_CHARS).default(MAX_ARTIFACT_CHARS),
    signal: Signal.optional(),
  })
  .strict()
  .refine((b) => (b.sessionId === undefined) !== (b.traceIds === undefined), { message: 'Give exactly one of sessionId or traceIds', path: ['sessionId'] });

/** The largest `olderThanMs` of failStaleRuns: ten years (365-day years). */
export const MAX_STALE_MS = 10 * 365 * 24 * 60 * 60 * 1000;

export const FailStaleRunsInputSchema = z
  .object({
    tenant: Tenant.optional(),
    olderThanMs: z.number().int().min(1).max(MAX_STALE_MS),
    sessionId: Id.optional(),
    actor: Actor.optional(),
    signal: Signal.optional(),
  })
  .strict()
  .superRefine(wellFormedText);

export const ArtifactFilesSchema = z.array(z.object({ path: z.string().min(1), content: z.string() }).strict());

/** Parses an orchestrator input or throws LIMIT_VALIDATION naming each bad field (the kernel's parseOrThrow). */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  return parseOrThrow(schema, value, what);
}
