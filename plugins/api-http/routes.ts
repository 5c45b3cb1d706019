/**
 * The endpoints. Each one passes the caller's tenant to the service it calls, so tenant scoping is
 * the services' contract (a record of another tenant is "not found") rather than a filter here.
 */
import {
  LimitError, detectKnee, measureDistortion,
  type GovernanceService, type HealthResult, type KneeDetector, type Orchestrator, type RdAlgorithm, type RdPoint, type Runner, type RunOutcome,
  type Storage, type TraceStatus,
} from 'limit-graph';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { defineRoute, issuesToFieldErrors, type RouteSpec } from './glue.ts';
import { ApiProblem } from './problem.ts';
import {
  CreateSessionBody, DistortionResponse, ExportBody, ExportResponse, FlagBody, FlagResponse, GovernanceStatsResponse, HealthResponse, IdParams, KneeBody, KneeQuery,
  KneeResponse, MergeBody, MergeResponse, ProvenanceBody, ProvenanceResponse, RdPointResponse, RdSeries, ReadyResponse, ReasonBody, RecordTraceBody,
  ReviewBody, RunBody, RunOutcomeResponse, Session, SessionListQuery, Trace, TraceListQuery, page, rdSchemas,
} from './schemas.ts';

/** How routes reach the runtime's services; each getter throws LIMIT_SERVICE_NOT_FOUND when absent. */
export interface Services {
  orchestrator(): Orchestrator;
  governance(): GovernanceService;
  storage(): Storage;
  has(key: string): boolean;
  keys(prefix: string): string[];
  rd(name: string): RdAlgorithm;
  knee(name: string): KneeDetector;
  runner(key: string): Runner;
  version: string;
  startedAt: number;
  readyTimeoutMs: number;
}

const STD = [400, 401, 429];

/**
 * The governance decision, or `quarantine` for a trace that ended quarantined though governance
 * allowed it (or asked for review): a person quarantined it while it ran, and it stays so.
 */
function decisionOf(outcome: RunOutcome) {
  // A cancelled run lacks the verdict of the evaluation its cancel aborted, never both.
  const verdict = outcome.verdicts.output ?? outcome.verdicts.input;
  if (!verdict) throw new LimitError('LIMIT_INTERNAL', `The outcome of trace ${outcome.trace.id} has no governance verdict`, { details: { traceId: outcome.trace.id } });
  const decision = verdict.decision;
  return outcome.trace.status === 'quarantined' && (decision === 'allow' || decision === 'review') ? 'quarantine' : decision;
}

function outcomeBody(outcome: RunOutcome) {
  return { trace: outcome.trace, decision: decisionOf(outcome), executed: outcome.executed, verdicts: outcome.verdicts, checkpoints: outcome.checkpoints };
}

async function withTimeout(promise: Promise<HealthResult>, ms: number): Promise<HealthResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthResult>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'fail', message: `no answer within ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([promise.catch((e: unknown) => ({ status: 'fail' as const, message: e instanceof Error ? e.message : String(e) })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function pickDetector(s: Services, requested: string | undefined, where: string): string {
  if (requested) {
    if (!s.has(`knee:${requested}`)) {
      throw new ApiProblem(422, 'LIMIT_RD_INVALID_INPUT', `Unknown knee detector "${requested}"; available: ${s.keys('knee:').map((k) => k.slice(5)).join(', ') || 'none'}`, [
        { path: where, message: 'Unknown knee detector' },
      ]);
    }
    return requested;
  }
  const available = s.keys('knee:').map((k) => k.slice(5));
  const chosen = ['kneedle', 'menger'].find((d) => available.includes(d)) ?? available[0];
  if (!chosen) throw new LimitError('LIMIT_SERVICE_NOT_FOUND', 'No knee detector is loaded (enable knee-kneedle or knee-menger)', { details: { key: 'knee:*' } });
  return chosen;
}

/**
 * POST /rd/knee's `options`, checked against the detector's per-call schema (`callOptions`) as the
 * glue checks a body: an option the detector lacks or a value it refuses is 400 LIMIT_VALIDATION
 * naming `body.options.<key>`, never passed on. None given: undefined (the configured options).
 */
function kneeCallOptions(detector: KneeDetector, name: string, options: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (options === undefined) return undefined;
  const schema = detector.callOptions;
  const known = schema ? Object.keys(schema.shape) : [];
  const takes = known.length ? `the options of knee:${name} are ${known.join(', ')}` : `knee:${name} takes no per-call options`;
  if (!schema) {
    const keys = Object.keys(options);
    if (keys.length === 0) return undefined;
    const errors = keys.map((key) => ({ path: `body.options.${key}`, message: `Unrecognized key: ${JSON.stringify(key)} (${takes})` }));
    throw new ApiProblem(400, 'LIMIT_VALIDATION', `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors, {}, `Leave out body.options: ${takes}.`);
  }
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const errors = issuesToFieldErrors('body.options', parsed.error).map((e) => (e.message.startsWith('Unrecognized key') ? { ...e, message: `${e.message} (${takes})` } : e));
    throw new ApiProblem(400, 'LIMIT_VALIDATION', `Invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors, {}, `Correct or leave out the options named in errors (${takes}); options left out keep the plugin's configured values.`);
  }
  return parsed.data as Record<string, unknown>;
}

/**
 * Aborts when the client's connection closes before the response is written (it hung up, or timed
 * out): a run it asked for is cancelled, a distortion stopped instead of computed for nobody, a trace
 * or merge it asked to record is not stored unless its write had begun, an export stops reading.
 *
 * It listens to the socket, not to the response: a response queued behind another on the same
 * connection (HTTP/1.1 pipelining) has no socket yet and never emits 'close' when the client hangs
 * up, while the socket's 'close' reaches every request on it. A socket already closed when the route
 * starts aborts at once. The listener leaves the socket when the response is done, as a kept-alive
 * socket serves further requests.
 */
export function abortedWhenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  const socket = reply.request.raw.socket as Socket | null | undefined;
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection before the response'));
  };
  if (!socket || socket.destroyed) {
    onClose();
    return controller.signal;
  }
  socket.once('close', onClose);
  const done = () => socket.off('close', onClose);
  res.once('finish', done);
  res.once('close', done);
  return controller.signal;
}

function pickRd(s: Services, requested: string | undefined, where: string): RdAlgorithm {
  const name = requested ?? 'fgw';
  if (!s.has(`rd:${name}`)) {
    if (requested === undefined) throw new LimitError('LIMIT_SERVICE_NOT_FOUND', 'No distortion algorithm "rd:fgw" is loaded (enable rd-fgw)', { details: { key: 'rd:fgw' } });
    throw new ApiProblem(422, 'LIMIT_RD_INVALID_INPUT', `Unknown distortion algorithm "${name}"; available: ${s.keys('rd:').map((k) => k.slice(3)).join(', ') || 'none'}`, [
      { path: where, message: 'Unknown distortion algorithm' },
    ]);
  }
  return s.rd(name);
}

/**
 * The readiness checks: storage's and every runner's health, statuses only (messages may name hosts
 * or paths, and /ready needs no key), each cut at readyTimeoutMs.
 */
async function readiness(s: Services): Promise<{ status: 'ok' | 'fail'; checks: { name: string; status: HealthResult['status'] }[] }> {
  const targets: [string, () => Promise<HealthResult>][] = [];
  targets.push(['storage', () => (s.has('storage') ? s.storage().health() : Promise.resolve({ status: 'fail', message: 'no storage plugin' }))]);
  for (const key of s.keys('runner:')) targets.push([key, () => s.runner(key).health()]);
  const checks = await Promise.all(targets.map(async ([name, run]) => ({ name, status: (await withTimeout(Promise.resolve().then(run), s.readyTimeoutMs)).status })));
  return { status: checks.every((c) => c.status !== 'fail') ? 'ok' : 'fail', checks };
}

export function buildRoutes(s: Services, options: { maxGraphNodes: number; rdTimeLimitMs: number }): RouteSpec[] {
  const rd = rdSchemas(options.maxGraphNodes);
  // /ready is public and not rate-limited (a probe): requests that arrive while its checks run share
  // that one round of checks, so no number of callers runs more than one at a time.
  let checking: ReturnType<typeof readiness> | undefined;
  return [
    // ───────────── service ─────────────
    defineRoute({
      method: 'GET', url: '/health', tag: 'service', public: true, probe: true, summary: 'Liveness: the process answers.',
      responses: { schema: HealthResponse, description: 'The server is up.' },
      handler: () => ({ status: 'ok' as const, uptimeS: Math.round((Date.now() - s.startedAt) / 1000), version: s.version }),
    }),
    defineRoute({
      method: 'GET', url: '/ready', tag: 'service', public: true, probe: true, summary: 'Readiness: storage and every runner report healthy (503 otherwise).',
      responses: {
        schema: ReadyResponse, description: 'Every dependency is usable.',
        errorText: { 503: 'A dependency check failed (application/json: status "fail" and the checks), or the server is shutting down (a LIMIT_RUNTIME_CLOSED problem document)' },
        errorSchema: { 503: ReadyResponse },
      },
      handler: async ({ reply }) => {
        checking ??= readiness(s).finally(() => {
          checking = undefined;
        });
        const ready = await checking;
        reply.code(ready.status === 'ok' ? 200 : 503);
        return ready;
      },
    }),

    // ───────────── sessions ─────────────
    defineRoute({
      method: 'POST', url: '/sessions', tag: 'sessions', summary: 'Open a session.', body: CreateSessionBody, bodyOptional: true, status: 201,
      responses: { schema: Session, description: 'The new session.', errors: [...STD, 409] },
      handler: ({ body, principal }) => s.orchestrator().openSession({ ...body, tenant: principal.tenant }),
    }),
    defineRoute({
      method: 'GET', url: '/sessions', tag: 'sessions', summary: "List the caller's sessions, newest first.", query: SessionListQuery,
      responses: { schema: page(Session), description: 'A page of sessions; pass nextCursor as cursor for the next one.', errors: STD },
      handler: ({ query, principal }) => s.orchestrator().listSessions(principal.tenant, query),
    }),
    defineRoute({
      method: 'GET', url: '/sessions/:id', tag: 'sessions', summary: 'Get a session.', params: IdParams,
      responses: { schema: Session, description: 'The session.', errors: [...STD, 404] },
      handler: async ({ params, principal }) => {
        const session = await s.orchestrator().getSession(principal.tenant, params.id);
        if (!session) throw new LimitError('LIMIT_NOT_FOUND', `Session "${params.id}" not found`, { details: { field: 'params.id' } });
        return session;
      },
    }),
    defineRoute({
      method: 'POST', url: '/sessions/:id/close', tag: 'sessions', summary: "Close a session: its running tasks in this server are aborted (another server sharing the storage finishes its own), workers released.", params: IdParams,
      responses: { schema: Session, description: 'The closed session (closing a closed session returns it unchanged).', errors: [...STD, 404] },
      handler: ({ params, principal }) => s.orchestrator().closeSession(principal.tenant, params.id),
    }),
    defineRoute({
      method: 'POST', url: '/sessions/:id/runs', tag: 'runs', summary: 'Run a task through a runner under governance.', params: IdParams, body: RunBody, status: 201,
      responses: {
        schema: RunOutcomeResponse, description: 'The final trace and the governance decision (a blocked task is recorded, not executed).', errors: [...STD, 404, 409, 422],
        errorText: { 429: 'Rate limit exceeded (see Retry-After), or too many runs of the session waiting for a slot: LIMIT_SESSION_BUSY (the orchestrator option maxWaitingRuns; no Retry-After, nothing of the run stored)' },
      },
      handler: async ({ params, body, principal, reply }) => {
        // A client that hangs up cancels its run instead of leaving a worker busy.
        const outcome = await s.orchestrator().run({
          tenant: principal.tenant, sessionId: params.id, runner: body.runner, task: body.task, parentIds: body.parentIds,
          metadata: body.metadata, actor: principal.actor, signal: abortedWhenClientLeaves(reply),
        });
        return outcomeBody(outcome);
      },
    }),

    // ───────────── traces ─────────────
    defineRoute({
      method: 'POST', url: '/traces', tag: 'traces', summary: 'Record an externally produced trace (input and output governance apply).', body: RecordTraceBody, status: 201,
      responses: { schema: RunOutcomeResponse, description: 'The recorded trace and the governance decision.', errors: [...STD, 404, 409] },
      handler: async ({ body, principal, reply }) => outcomeBody(await s.orchestrator().recordTrace({ ...body, tenant: principal.tenant, actor: principal.actor, signal: abortedWhenClientLeaves(reply) })),
    }),
    defineRoute({
      method: 'GET', url: '/traces/:id', tag: 'traces', summary: 'Get a trace (with its flags).', params: IdParams,
      responses: { schema: Trace, description: 'The trace.', errors: [...STD, 404] },
      handler: async ({ params, principal }) => {
        const trace = await s.orchestrator().getTrace(principal.tenant, params.id);
        if (!trace) throw new LimitError('LIMIT_NOT_FOUND', `Trace "${params.id}" not found`, { details: { field: 'params.id' } });
        return trace;
      },
    }),
    defineRoute({
      method: 'GET', url: '/traces', tag: 'traces', summary: 'List traces, newest first, with filters and cursor pagination.', query: TraceListQuery,
      responses: { schema: page(Trace), description: 'A page of traces.', errors: STD },
      handler: ({ query, principal }) => {
        const status = typeof query.status === 'string' ? (query.status.split(',') as TraceStatus[]) : query.status;
        return s.orchestrator().listTraces(principal.tenant, { ...query, status });
      },
    }),
    defineRoute({
      method: 'POST', url: '/traces/:id/provenance', tag: 'provenance', summary: "Append an entry to a trace's hash-chained provenance.", params: IdParams, body: ProvenanceBody, status: 201,
      responses: {
        schema: ProvenanceResponse.shape.entries.element,
        description: "The appended entry (seq, prevHash and hash assigned by storage). A client's entries may take a trace's chain to at most 8,000 entries and 2 × maxRecordBytes of JSON (the rest is kept for governance decisions and the server's own entries): past that, 413 LIMIT_PAYLOAD_TOO_LARGE naming the trace and the limit — body.data when the bytes are passed, params.id when the entries are — and nothing is stored.",
        errors: [...STD, 404, 409],
      },
      handler: ({ params, body, principal }) =>
        // A client's entry: it may not use the room kept for governance decisions and the server's own entries.
        s.storage().appendProvenance(principal.tenant, { ...body, traceId: params.id, actor: principal.actor, at: new Date().toISOString() }, { origin: 'client' }),
    }),
    defineRoute({
      method: 'GET', url: '/traces/:id/provenance', tag: 'provenance', summary: "A trace's provenance entries and the chain verification.", params: IdParams,
      responses: { schema: ProvenanceResponse, description: 'Entries in seq order plus { verified, brokenAt }: the whole chain, at most MAX_PROVENANCE_PER_TRACE (10,000) entries and 4 × maxRecordBytes of JSON.', errors: [...STD, 404] },
      handler: async ({ params, principal }) => {
        const detail = await s.orchestrator().inspectTrace(principal.tenant, params.id);
        return { traceId: params.id, entries: detail.provenance, ...detail.verification };
      },
    }),

    // ───────────── governance ─────────────
    defineRoute({
      method: 'POST', url: '/governance/flag', tag: 'governance', summary: 'Flag a trace by hand.', body: FlagBody, status: 201,
      responses: { schema: FlagResponse, description: 'The stored flag, with autoQuarantined: true (and quarantineReason) when it quarantined the trace. A trace that holds MAX_FLAGS_PER_TRACE (1,000) flags, or 4 × maxRecordBytes of them, answers 413 LIMIT_PAYLOAD_TOO_LARGE and stores nothing.', errors: [...STD, 404] },
      handler: ({ body, principal }) =>
        s.governance().flag(principal.tenant, body.traceId, { kind: body.kind, severity: body.severity, reason: body.reason, actor: principal.actor }),
    }),
    defineRoute({
      method: 'GET', url: '/governance/stats', tag: 'governance', summary: "Governance counters of the caller's tenant.",
      responses: { schema: GovernanceStatsResponse, description: 'Counter name → value.', errors: STD },
      handler: ({ principal }) => s.governance().stats(principal.tenant),
    }),
    defineRoute({
      method: 'POST', url: '/traces/:id/quarantine', tag: 'governance', summary: 'Quarantine a trace.', params: IdParams, body: ReasonBody,
      responses: { schema: Trace, description: 'The trace after quarantine.', errors: [...STD, 404, 409] },
      handler: async ({ params, body, principal }) => {
        await s.governance().quarantine(principal.tenant, params.id, { reason: body.reason, actor: principal.actor });
        return s.orchestrator().getTrace(principal.tenant, params.id);
      },
    }),
    defineRoute({
      method: 'POST', url: '/traces/:id/release', tag: 'governance', summary: 'Release a quarantined trace.', params: IdParams, body: ReasonBody,
      responses: { schema: Trace, description: 'The trace after release.', errors: [...STD, 403, 404, 409] },
      handler: async ({ params, body, principal }) => {
        await s.governance().release(principal.tenant, params.id, { reason: body.reason, actor: principal.actor });
        return s.orchestrator().getTrace(principal.tenant, params.id);
      },
    }),

    // ───────────── merges ─────────────
    defineRoute({
      method: 'POST', url: '/merges', tag: 'merges', summary: 'Merge traces into a new trace under governance.', body: MergeBody, status: 201,
      responses: { schema: MergeResponse, description: 'The merged trace (status ok, or pending-review) and the validation.', errors: [...STD, 404, 409] },
      handler: ({ body, principal, reply }) => s.orchestrator().merge({ ...body, tenant: principal.tenant, actor: principal.actor, signal: abortedWhenClientLeaves(reply) }),
    }),
    defineRoute({
      method: 'POST', url: '/merges/:id/approve', tag: 'merges', summary: 'Approve a merge waiting for review.', params: IdParams, body: ReviewBody, bodyOptional: true,
      responses: { schema: Trace, description: 'The merged trace, now ok.', errors: [...STD, 403, 404, 409] },
      handler: ({ params, body, principal, reply }) => s.orchestrator().approveMerge(params.id, { tenant: principal.tenant, actor: principal.actor, rationale: body.rationale, signal: abortedWhenClientLeaves(reply) }),
    }),
    defineRoute({
      method: 'POST', url: '/merges/:id/reject', tag: 'merges', summary: 'Reject a merge waiting for review.', params: IdParams, body: ReviewBody, bodyOptional: true,
      responses: { schema: Trace, description: 'The merged trace, now rejected.', errors: [...STD, 403, 404, 409] },
      handler: ({ params, body, principal, reply }) => s.orchestrator().rejectMerge(params.id, { tenant: principal.tenant, actor: principal.actor, rationale: body.rationale, signal: abortedWhenClientLeaves(reply) }),
    }),

    // ───────────── rate–distortion ─────────────
    defineRoute({
      method: 'POST', url: '/rd/distortion', tag: 'rd', summary: 'Distortion (FGW by default) between two attributed graphs.', body: rd.DistortionBody,
      fields: { source: 'body.source', target: 'body.target' },
      responses: { schema: DistortionResponse, description: 'The distortion value and the coupling.', errors: [...STD, 422] },
      handler: async ({ body, reply }) => {
        const algorithm = pickRd(s, body.algorithm, 'body.algorithm');
        // The server's time limit, not the client's. rd-fgw computes in a worker thread (distortionAsync),
        // so the event loop keeps serving; an algorithm without distortionAsync still blocks it.
        const signal = abortedWhenClientLeaves(reply);
        return { algorithm: algorithm.name, ...(await measureDistortion(algorithm, body.source, body.target, { ...body.options, timeLimitMs: options.rdTimeLimitMs, signal })) };
      },
    }),
    defineRoute({
      method: 'POST', url: '/rd/series', tag: 'rd', summary: 'Create a rate–distortion series in a session.', body: rd.RdSeriesBody, status: 201,
      responses: { schema: RdSeries, description: 'The new series.', errors: [...STD, 404, 409, 422] },
      handler: ({ body, principal }) => {
        if (body.distortionAlgorithm !== undefined) pickRd(s, body.distortionAlgorithm, 'body.distortionAlgorithm');
        return s.orchestrator().createRdSeries({ ...body, tenant: principal.tenant });
      },
    }),
    defineRoute({
      method: 'POST', url: '/rd/series/:id/points', tag: 'rd', summary: 'Record a refinement step (a graph measured against the reference, or a distortion).', params: IdParams, body: rd.RdPointBody, status: 201,
      // The orchestrator names a step's errors graph.… (body.graph) and reference.… (the stored reference, not in the request);
      // source/target are an algorithm's own names for the same two graphs.
      fields: { graph: 'body.graph', reference: null, source: 'body.graph', target: null },
      responses: {
        schema: RdPointResponse,
        description: "The point as recorded and the series' point count and bytes (not its other points: GET /rd/knee?series= returns them all). A series full to its limits answers 413; one whose session is closed, 409 LIMIT_SESSION_CLOSED.",
        errors: [...STD, 404, 409, 422],
      },
      handler: ({ params, body, principal, reply }) =>
        s.orchestrator().recordRdStep(params.id, { ...body, tenant: principal.tenant, timeLimitMs: options.rdTimeLimitMs, signal: abortedWhenClientLeaves(reply) }),
    }),
    defineRoute({
      method: 'GET', url: '/rd/knee', tag: 'rd', summary: "The knee of a stored series' rate–distortion curve.", query: KneeQuery,
      responses: { schema: KneeResponse, description: 'Index into points (sorted by rate), or null when there is no knee.', errors: [...STD, 404, 422] },
      handler: ({ query, principal }) => s.orchestrator().rdKnee(principal.tenant, query.series, pickDetector(s, query.detector, 'query.detector')),
    }),
    defineRoute({
      method: 'POST', url: '/rd/knee', tag: 'rd', summary: 'The knee of ad hoc points (x = rate, y = distortion).', body: KneeBody,
      responses: { schema: KneeResponse, description: 'Index into points (sorted by rate), or null when there is no knee.', errors: [...STD, 422] },
      handler: ({ body }) => {
        const detector = pickDetector(s, body.detector, 'body.detector');
        const knee = s.knee(detector);
        const callOptions = kneeCallOptions(knee, detector, body.options);
        const sorted = body.points
          .map((p, i) => ({ at: i, point: { step: p.step ?? i, rate: p.rate, distortion: p.distortion } as RdPoint }))
          .sort((a, b) => a.point.rate - b.point.rate || a.point.step - b.point.step);
        const points = sorted.map((p) => p.point);
        // A point the detector refuses is named as the request gave it (body.points.<i>), not by its place after the sort.
        // A call option the detector suggests (Menger's normalize: true) is named as this request sets it.
        const optionHint = (key: string, value: unknown) => `send "options": { ${JSON.stringify(key)}: ${JSON.stringify(value)} } in the body`;
        const index = detectKnee(knee, detector, points.map((p) => ({ x: p.rate, y: p.distortion })), callOptions, {
          pointName: (k) => ({ field: `points[${sorted[k]!.at}]`, label: `points[${sorted[k]!.at}]` }),
          optionHint,
        });
        return { detector, index, point: index === null ? null : (points[index] ?? null), points };
      },
    }),

    // ───────────── artifacts ─────────────
    defineRoute({
      method: 'POST', url: '/artifacts/export', tag: 'artifacts', summary: 'Export a session or a set of traces with provenance, flags, checkpoints and RD series.', body: ExportBody,
      responses: { schema: ExportResponse, description: 'The manifest (SHA-256 per part, chain verification) and the files.', errors: [...STD, 404, 409] },
      handler: ({ body, principal, reply }) => s.orchestrator().exportArtifact({ ...body, tenant: principal.tenant, signal: abortedWhenClientLeaves(reply) }),
    }),
  ];
}

