/**
 * Request schemas of the HTTP API. They reuse the kernel's model schemas (one source of truth for a
 * record's shape) but are strict at every level: an unknown field is an error, not silently dropped.
 */
import {
  ChainVerification, Checkpoint, Decision, Finding, Flag, FlagKind, Id, MAX_EXPORT_TRACE_IDS, MAX_RD_POINTS, MergeStrategy, ProvenanceAction, ProvenanceEntry, ProvenanceOperation, SYSTEM_PROVENANCE_ACTIONS,
  RdPoint, RdSeries as RdSeriesRecord, RunMetrics, Session, SessionLimits, SessionStatus, Severity, TASK_LIMITS, Task, Timestamp, Trace, TraceStatus, boundedRecord, decimalInt, outputOnlyWithCustom, refuseMeasuredMetaKeys, refuseReversedTimeRange, systemProvenanceAction, z,
} from 'limit-graph';
import type { ArtifactFormat, ArtifactPartName } from 'limit-graph';

/** Plugin-style names (`python`, `fgw`, `kneedle`): the suffix of a container key. */
export const ServiceName = z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9_-]*$/, 'Expected a lower-case name such as "python"');
export const Metadata = z.record(z.string().max(256), z.unknown());
const Text = (max: number) => z.string().max(max);

export const IdParams = z.object({ id: Id }).strict();

// ───────────── sessions ─────────────

/** Each limit optional here: missing ones take the kernel's defaults in the orchestrator. */
export const SessionLimitsPatch = z
  .object(Object.fromEntries(Object.entries(SessionLimits.shape).map(([k, v]) => [k, v.removeDefault().optional()])) as {
    [K in keyof typeof SessionLimits.shape]: z.ZodOptional<ReturnType<(typeof SessionLimits.shape)[K]['removeDefault']>>;
  })
  .strict();

/**
 * No `id`: the server always generates session ids for HTTP clients. Runners keep per-session state
 * by id alone, so a client-chosen id could reach another tenant's session state or squat its ids.
 */
export const CreateSessionBody = z
  .object({ name: Text(256).optional(), limits: SessionLimitsPatch.optional(), metadata: Metadata.optional() })
  .strict();

/** Digits only (decimalInt); documented in OpenAPI as the integer range it is. */
const Limit = decimalInt(1, 1000)
  .describe('Most records on the page (default 100). A page also ends early, with nextCursor, once its records reach 16 MiB of JSON.');
const Cursor = z.string().min(1).max(1024);

export const SessionListQuery = z.object({ status: SessionStatus.optional(), limit: Limit.optional(), cursor: Cursor.optional() }).strict();

// ───────────── traces and runs ─────────────

/** The kernel's Task, stricter: file names and tool names are bounded too; the counts are TASK_LIMITS'. */
export const TaskBody = Task.extend({
  files: boundedRecord(z.string().min(1).max(512), TASK_LIMITS.files).optional(),
  toolOutputs: z.array(z.object({ name: z.string().min(1).max(256), content: z.string().max(1_000_000) }).strict()).max(TASK_LIMITS.toolOutputs).optional(),
}).strict();

export const RunOutputBody = z
  .object({
    ok: z.boolean(),
    stdout: z.string(),
    stderr: z.string(),
    value: z.unknown().optional(),
    error: z.object({ code: z.string().min(1).max(128), message: z.string().max(8192) }).strict().optional(),
  })
  .strict();

export const RunBody = z
  .object({
    runner: ServiceName,
    task: TaskBody,
    parentIds: z.array(Id).max(256).optional(),
    metadata: Metadata.optional(),
  })
  .strict();

export const RecordTraceBody = z
  .object({
    sessionId: Id,
    runner: z.string().min(1).max(128),
    /** `kind` defaults to `external` here (the orchestrator's default for recorded traces), not `code`. */
    task: TaskBody.extend({ kind: Task.shape.kind.unwrap().optional() }),
    output: RunOutputBody,
    metrics: RunMetrics.strict().optional(),
    parentIds: z.array(Id).max(256).optional(),
    metadata: Metadata.optional(),
    /** Where the trace came from (recorded in its `created` provenance entry). */
    source: Text(1024).optional(),
  })
  .strict();

const STATUS_LIST = new RegExp(`^(${TraceStatus.options.join('|')})(,(${TraceStatus.options.join('|')}))*$`);
export const TraceListQuery = z
  .object({
    sessionId: Id.optional(),
    /** One status, a comma-separated list, or the parameter repeated. */
    status: z.union([z.string().regex(STATUS_LIST, `Expected statuses among ${TraceStatus.options.join(', ')}`), z.array(TraceStatus).min(1).max(8)]).optional(),
    flagKind: FlagKind.optional(),
    from: Timestamp.describe('Traces created at or after this time (inclusive).').optional(),
    to: Timestamp.describe('Traces created before this time (exclusive).').optional(),
    limit: Limit.optional(),
    cursor: Cursor.optional(),
  })
  .strict()
  .superRefine(refuseReversedTimeRange);

export const ProvenanceBody = z
  .object({
    // Compared folded (case, Unicode compatibility forms, accents, invisible characters, separators):
    // `Approved` or `created\u200b` would read as an entry the server wrote.
    action: ProvenanceAction.superRefine((a, ctx) => {
      const system = systemProvenanceAction(a);
      if (system === undefined) return;
      ctx.addIssue({
        code: 'custom',
        message: `${system === a ? 'is' : `reads as "${system}" (compared ignoring case, Unicode compatibility forms, accents, invisible characters and separators), which is`} one the server records itself (${SYSTEM_PROVENANCE_ACTIONS.join(', ')}); append an action of your own, e.g. "reviewed"`,
      });
    }),
    operation: ProvenanceOperation.optional(),
    source: Text(1024).optional(),
    rationale: Text(8192).optional(),
    data: z.unknown().optional(),
  })
  .strict();

// ───────────── governance ─────────────

export const FlagBody = z.object({ traceId: Id, kind: FlagKind, severity: Severity, reason: z.string().min(1).max(2048) }).strict();
export const ReasonBody = z.object({ reason: z.string().min(1).max(2048) }).strict();

// ───────────── merges ─────────────

export const MergeBody = z
  .object({
    sessionId: Id.optional(),
    parentIds: z.array(Id).min(1).max(256),
    strategy: MergeStrategy.optional(),
    rationale: Text(8192).optional(),
    output: RunOutputBody.optional().describe('The merged output, with strategy "custom" only (which requires it); with any other strategy the output is computed from the parents, and an output given is refused (400, errors[].path body.output).'),
    metadata: Metadata.optional(),
  })
  .strict()
  .superRefine(outputOnlyWithCustom);

export const ReviewBody = z.object({ rationale: Text(8192).optional() }).strict();

// ───────────── rate–distortion ─────────────

export function graphSchema(maxNodes: number) {
  return z
    .object({
      nodes: z
        .array(z.object({ id: z.string().min(1).max(256), features: z.array(z.number().finite()).max(4096), weight: z.number().finite().min(0).optional() }).strict())
        .min(1)
        .max(maxNodes, `At most ${maxNodes} nodes per graph (option maxGraphNodes)`),
      edges: z
        .array(z.object({ source: z.string().min(1).max(256), target: z.string().min(1).max(256), weight: z.number().finite().optional() }).strict())
        .max(100_000),
      directed: z.boolean().optional(),
    })
    .strict();
}

export const DistortionOptionsBody = z
  .object({
    alpha: z.number().min(0).max(1).optional(),
    method: z.enum(['exact', 'entropic']).optional(),
    epsilon: z.number().finite().positive().optional(),
    /** Capped at 10000 (the exact solver's default); the server's rdTimeLimitMs bounds the time regardless. */
    maxIter: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();

export function rdSchemas(maxNodes: number) {
  const Graph = graphSchema(maxNodes);
  return {
    Graph,
    DistortionBody: z
      .object({ source: Graph, target: Graph, algorithm: ServiceName.optional(), options: DistortionOptionsBody.optional() })
      .strict(),
    RdSeriesBody: z
      .object({
        sessionId: Id,
        name: z.string().min(1).max(256),
        reference: Graph.optional(),
        distortionAlgorithm: ServiceName.optional(),
        distortionOptions: DistortionOptionsBody.optional(),
        metadata: Metadata.optional(),
      })
      .strict(),
    RdPointBody: z
      .object({
        rate: z.number().finite().min(0),
        graph: Graph.optional(),
        distortion: z.number().finite().min(0).optional(),
        step: z.number().int().min(0).optional(),
        meta: Metadata.optional(),
      })
      .strict()
      .refine((b) => (b.graph === undefined) !== (b.distortion === undefined), { message: 'Give exactly one of graph or distortion', path: ['distortion'] })
      .superRefine(refuseMeasuredMetaKeys),
  };
}

export const KneeQuery = z.object({ series: Id, detector: ServiceName.optional() }).strict();
export const KneeBody = z
  .object({
    points: z.array(z.object({ rate: RdPoint.shape.rate, distortion: RdPoint.shape.distortion, step: RdPoint.shape.step.optional() }).strict()).min(1).max(100_000),
    detector: ServiceName.optional(),
    options: z
      .record(z.string().max(64), z.unknown())
      .optional()
      .describe(
        "Per-call options of the detector, checked against its own per-call schema (knee:<name>'s callOptions): kneedle takes S, curve, direction and online; " +
          "menger takes normalize; another detector, its own. An option the detector lacks, or a value it refuses, answers 400 naming body.options.<key>. " +
          'Options left out keep the plugin\'s configured values. GET /rd/knee has no options: it uses the configured ones.',
      ),
  })
  .strict();

// ───────────── artifacts ─────────────

export const ExportBody = z
  .object({ sessionId: Id.optional(), traceIds: z.array(Id).min(1).max(MAX_EXPORT_TRACE_IDS).optional(), format: z.enum(['json', 'jsonl', 'csv']).default('json') })
  .strict()
  .refine((b) => (b.sessionId === undefined) !== (b.traceIds === undefined), { message: 'Give exactly one of sessionId or traceIds', path: ['sessionId'] });

// ───────────── responses (documentation) ─────────────

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const HealthResponse = z.object({ status: z.literal('ok'), uptimeS: z.number(), version: z.string() });
export const ReadyResponse = z.object({
  status: z.enum(['ok', 'fail']),
  checks: z.array(z.object({ name: z.string(), status: z.enum(['ok', 'degraded', 'fail']) })),
});
/** What governance decided about one surface of a trace (GovernanceVerdict, kernel/contracts/governance.ts). */
export const VerdictResponse = z
  .object({
    decision: Decision,
    findings: z.array(Finding.loose()).describe("The rules' findings (a flag is made of each one recorded)."),
    reasons: z.array(z.string()).describe('Why the decision was taken (the policy field that applied).'),
    maxSeverity: z.number().optional().describe('Highest finding severity (0 when there is none).'),
    overBudget: z.array(z.string()).optional().describe('Rules that ran past their time budget (their findings so far are kept).'),
    unrecordedFindings: z.number().int().optional().describe('Findings not stored as flags because the trace holds no more (MAX_FLAGS_PER_TRACE); the decision weighs them all.'),
  })
  .loose();
export const RunOutcomeResponse = z.object({
  trace: Trace,
  decision: z.enum(['allow', 'block', 'quarantine', 'review']),
  executed: z.boolean(),
  verdicts: z
    .object({ input: VerdictResponse.optional(), output: VerdictResponse.optional() })
    .describe('The governance verdict of each surface evaluated: `input` (the task, before it ran) and `output` (what it produced); a surface not evaluated (a blocked task has no output, a cancelled evaluation none) is absent.'),
  checkpoints: z.array(Checkpoint),
});
/** The stored flag, and whether it quarantined its trace (autoQuarantine; GovernanceService.flag). */
export const FlagResponse = Flag.extend({
  autoQuarantined: z.boolean().describe('True when this flag quarantined the trace (autoQuarantine), in the same transaction.'),
  quarantineReason: z.string().optional().describe('The reason recorded with that quarantine.'),
});
export const ProvenanceResponse = z.object({ traceId: Id, entries: z.array(ProvenanceEntry) }).extend(ChainVerification.shape);
/** Governance counter name (`quarantined`, `flags.manual`, …) → value, as the tenant's storage counters hold them. */
export const GovernanceStatsResponse = z.record(z.string(), z.number());
export const MergeResponse = z.object({ trace: Trace, validation: z.object({ allowed: z.boolean(), review: z.boolean(), refusals: z.array(z.object({ parentId: z.string(), reason: z.string() })) }) });
export const DistortionResponse = z
  .object({
    algorithm: z.string(),
    value: z.number(),
    iterations: z.number(),
    converged: z.boolean(),
    plan: z.array(z.tuple([z.number(), z.number(), z.number()])),
    // What rd-fgw adds (other algorithms may add fields of their own, hence loose).
    method: z.string().optional().describe("FGW solver used: 'exact' or 'entropic' (rd-fgw)."),
    alpha: z.number().optional().describe('Weight of the structure (GW) term against the feature term (rd-fgw).'),
    linTerm: z.number().optional().describe('The feature (Wasserstein) term of the objective (rd-fgw).'),
    gwTerm: z.number().optional().describe('The structure (Gromov–Wasserstein) term of the objective (rd-fgw).'),
    n1: z.number().int().optional().describe('Nodes of the source graph (rd-fgw).'),
    n2: z.number().int().optional().describe('Nodes of the target graph (rd-fgw).'),
  })
  .loose();
export const RdPointResponse = z.object({
  seriesId: z.string(),
  point: RdPoint.describe('The point as recorded: its step (given, else one more than the largest), rate, distortion (given or measured) and meta.'),
  pointCount: z.number().int().describe(`Points the series holds with this one (at most ${MAX_RD_POINTS.toLocaleString('en-US')}).`),
  pointBytes: z.number().int().describe("Bytes of the series' points as JSON, each measured alone (at most 4 × the storage's maxRecordBytes: 16 MiB by default)."),
});
export const KneeResponse = z.object({ seriesId: z.string().optional(), detector: z.string(), index: z.number().int().nullable(), point: RdPoint.nullable(), points: z.array(RdPoint) });
const PART_NAMES = ['sessions', 'traces', 'provenance', 'flags', 'checkpoints', 'rdSeries'] as const satisfies readonly ArtifactPartName[];
// Every part name of the kernel's ArtifactPartName: a part added there fails to compile here.
type MissingPart = Exclude<ArtifactPartName, (typeof PART_NAMES)[number]>;
export const EVERY_ARTIFACT_PART: [MissingPart] extends [never] ? true : never = true;
const ArtifactPartResponse = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 (hex) of the part's serialised records (the orchestrator README, Export)."),
  records: z.number().int().min(0),
  file: z.string().optional().describe('csv: the file holding the part.'),
});
/** The export's manifest (ArtifactManifest, kernel/contracts/orchestrator.ts). */
export const ArtifactManifestResponse = z.object({
  format: z.literal('limit-graph-artifact'),
  version: z.literal(1),
  encoding: z.enum(['json', 'jsonl', 'csv'] as const satisfies readonly ArtifactFormat[]),
  createdAt: Timestamp,
  tenant: z.string(),
  sessionIds: z.array(z.string()),
  traceIds: z.array(z.string()),
  parts: z.object(Object.fromEntries(PART_NAMES.map((n) => [n, ArtifactPartResponse])) as Record<(typeof PART_NAMES)[number], typeof ArtifactPartResponse>),
  provenance: z.object({ verified: z.boolean(), chains: z.array(ChainVerification.extend({ traceId: z.string() })) }).describe('Provenance verification at export time, per trace.'),
  mended: z
    .array(z.object({ part: z.enum(PART_NAMES), index: z.number().int().min(0), id: z.string(), field: z.string() }))
    .optional()
    .describe('Stored text that was not well-formed Unicode, exported with U+FFFD in its place: each field so mended. Absent when none was.'),
});
export const ExportResponse = z.object({ manifest: ArtifactManifestResponse, files: z.array(z.object({ path: z.string(), content: z.string() })) });

/**
 * An RD series as answered: its metadata holds the series' reference graph, algorithm and options
 * (written by the server from the body's own fields; refused in the body's metadata) beside the
 * client's own keys.
 */
export const RdSeries = RdSeriesRecord.extend({
  metadata: z
    .object({
      reference: z
        .object({
          nodes: z.array(z.object({ id: z.string(), features: z.array(z.number()), weight: z.number().optional() }).loose()),
          edges: z.array(z.object({ source: z.string(), target: z.string(), weight: z.number().optional() }).loose()),
          directed: z.boolean().optional(),
        })
        .loose()
        .optional()
        .describe("The series' reference graph (the body's `reference`): graph steps are measured against it."),
      distortionAlgorithm: z.string().optional().describe('The RD algorithm (rd:<name>) of graph steps; present with `reference`.'),
      distortionOptions: z.record(z.string(), z.unknown()).optional().describe("The algorithm's options (the body's `distortionOptions`)."),
    })
    .catchall(z.unknown())
    .describe("The body's `metadata` keys, and the series' reference, algorithm and options the server keeps here."),
});
export { Session, Trace, Flag };
