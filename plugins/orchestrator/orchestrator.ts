/**
 * The orchestrator service: sessions, the governed run pipeline, merges, federation, RD tracking
 * and artifact export. It reaches storage, governance, runners and RD plugins only through the
 * container, so any backend or runner that meets its contract plugs in.
 */
import {
  DEFAULT_MAX_RECORD_BYTES, LimitError, MAX_PAGE_BYTES, MAX_TIMER_MS, MergeRequest, RunRequest, SessionIdleSweeper, Task, allInOrder, applyTracePatch, assertRdPointsFit, bytesOverLimit, detectKnee, isFlagsConflict, isLimitError, isStatusConflict, mapStringsDeep, measureDistortion, newId, outputDigests, parseRunResult, recordDigests, sha256, statusUnchangedOps, toWellFormed, verifyMergeAncestryAsync, verifyTraceChain,
} from 'limit-graph';
import type {
  ArtifactExport, ChainVerification, CreateRdSeriesInput, ExportInput, FailStaleRunsInput, FailStaleRunsResult, FederateInput, FederationBranch, FederationOutcome,
  Flag, GovernanceService, GovernanceVerdict, Logger, MergeInput, MergeOutcome, OpenSessionRequest, Orchestrator,
  BatchOp, Page, ProvenanceEntry, ProvenanceInput, RdKnee, RdPointAppended, RdSeries, RdStepInput, RecordTraceInput, RefineInput, ReviewInput,
  RunInput, RunOutcome, RunOutput, Runner, Runtime, PluginContext, Session, SessionHandle, SessionQuery, Storage, Trace,
  TraceDetail, TraceQuery, TaskParsed, AttributedGraph, DistortionOptions, DistortionResult, MergeCount, MergeValidation,
} from 'limit-graph';
import { Semaphore, abortMessage, abortReason } from './semaphore.ts';
import { ArtifactBudget, SNAPSHOT_ATTEMPTS, buildArtifact, verifyArtifactFiles, type ArtifactData, type TraceSnapshot } from './artifact.ts';
import type { OrchestratorOptions } from './options.ts';
import {
  ArtifactFilesSchema, CreateRdSeriesInputSchema, ExportInputSchema, FailStaleRunsInputSchema, FederateInputSchema, MERGE_SERVER_META_KEYS, MergeInputSchema, OpenSessionInput,
  RdStepInputSchema, RecordTraceInputSchema, RefineInputSchema, ReviewInputSchema, RunInputSchema, checkInput, refuseMergeMarkers,
} from './inputs.ts';

const now = () => new Date().toISOString();

/** What federate() adds to its merge: the branches it left out (see #merge), and how many there were. */
interface FederatedMerge {
  excluded: { traceId: string; reason: string }[];
  /** Every branch of the federation: what a `majority` merge's `of` counts (its parents are only those that agreed). */
  branches: number;
}

/**
 * Writes of a merge (or its approval) tried when its parents' flags change between its check and
 * its write (#whileParentsUnchanged): each retry follows a fresh check of the parents.
 */
const MERGE_WRITE_ATTEMPTS = 3;

/** Statuses a parent may not have in a merge, whatever the policy says. */
const UNMERGEABLE: Record<string, string> = {
  running: 'is still running',
  blocked: 'was blocked by input governance and never executed',
  'pending-review': 'is waiting for human review',
  rejected: 'was rejected in review',
  quarantined: 'is quarantined',
};

interface LiveSession {
  handle: SessionHandle;
  /** The session's id and tenant (the handle's), as the idle sweeper reads them. */
  readonly id: string;
  readonly tenant: string;
  semaphore: Semaphore;
  /** Runs in flight, those waiting for their slot included: traceId → its controller and completion. */
  running: Map<string, { controller: AbortController; done: Promise<unknown> }>;
  /**
   * The runs in `running` that have not had their slot yet (#admit): from their registration, through
   * their trace's creation and input governance, to the semaphore granting them one.
   */
  unslotted: number;
  /** When the scope was attached or a run of it last ended (performance.now()), for sessionIdleMs. */
  usedAt: number;
}

export interface OrchestratorDeps {
  /** For sessions and hooks. */
  runtime: () => Runtime;
  /** The plugin context's container access: unlike runtime.resolve it still works while the runtime closes. */
  container: Pick<PluginContext, 'resolve' | 'has' | 'keys'>;
  storage: () => Storage;
  governance: () => GovernanceService;
  logger: Logger;
  defaultTenant: string;
  options: OrchestratorOptions;
}

export class OrchestratorService implements Orchestrator {
  readonly #live = new Map<string, LiveSession>();
  /**
   * Scopes being opened for sessions stored elsewhere (#liveSession): concurrent first runs of one
   * session wait for the same one instead of each making its own.
   */
  readonly #attaching = new Map<string, Promise<LiveSession>>();
  /** Sessions whose close is in progress in this process, with that close (a second close waits for it). */
  readonly #closing = new Map<string, Promise<Session>>();
  /** Recorded traces, merges, RD series and points in progress per session (#enterOpenSession): its close waits for them, as for its runs. */
  readonly #sessionWrites = new Map<string, Set<Promise<unknown>>>();
  /** Runs, recorded traces, merges, reviews, RD series and points in progress: the runtime's close waits for them (drain). */
  readonly #inFlight = new Set<InFlight>();
  /** The work in flight by the id of the trace it writes (#own), for the write gate (#gated). */
  readonly #byTrace = new Map<string, InFlight>();
  /**
   * Aborted when the runtime's close begins (drain, or dispose without one): new work is refused
   * from then on (#track), and work that may go on for long and can stop anywhere — a failStaleRuns
   * sweep — joins it into its cancellation, so it stops before its next trace instead of outlasting
   * closeWaitMs and meeting storage closed under it.
   */
  readonly #closeBegun = new AbortController();
  /**
   * Lets go of the scope of a session with no run for sessionIdleMs (#detach): a session that is
   * never closed would otherwise keep its scope, semaphore and the runners' state for it in this
   * process for as long as the process lives. The session stays open; its next run attaches again.
   */
  readonly #idle: SessionIdleSweeper<LiveSession>;
  constructor(private readonly deps: OrchestratorDeps) {
    this.#idle = new SessionIdleSweeper({
      plugin: 'orchestrator',
      idleMs: deps.options.sessionIdleMs,
      sessions: this.#live,
      idleSince: (live) => (live.running.size > 0 || this.#attaching.has(key(live.tenant, live.id)) ? undefined : live.usedAt),
      close: (k) => this.#detach(k),
      logger: deps.logger,
    });
  }

  get #storage(): Storage {
    return this.deps.storage();
  }
  get #governance(): GovernanceService {
    return this.deps.governance();
  }
  get #runtime(): Runtime {
    return this.deps.runtime();
  }
  #tenant(tenant: string | undefined): string {
    return tenant ?? this.deps.defaultTenant;
  }
  #actor(actor: string | undefined): string {
    return actor ?? this.deps.options.actor;
  }

  // ───────────────────────────── sessions ─────────────────────────────

  async openSession(given: OpenSessionRequest = {}): Promise<Session> {
    const input = checkInput(OpenSessionInput, given, 'session');
    const tenant = this.#tenant(input.tenant);
    const id = input.id ?? newId();
    if (await this.#storage.getSession(tenant, id)) {
      throw new LimitError('LIMIT_CONFLICT', `Session "${id}" already exists`, { details: { sessionId: id, tenant } });
    }
    // Runners and the kernel registry key session state by id alone: an explicit id that another
    // tenant has open in this process must not be shared. The error does not name that tenant.
    const kernelHandle = this.#runtime.getSession(id);
    if (kernelHandle && !kernelHandle.closed && kernelHandle.tenant !== tenant) {
      throw new LimitError('LIMIT_CONFLICT', `Session id "${id}" is in use by another tenant in this process`, {
        details: { sessionId: id }, fix: 'Leave id out to get a generated one.',
      });
    }
    // The kernel scope validates the limits and gives the defaults; storage keeps the same record.
    const handle = await this.#runtime.openSession({ id, tenant, name: input.name, limits: input.limits, metadata: input.metadata });
    try {
      const stored = await this.#storage.createSession(handle.session);
      this.#attach(handle);
      return stored;
    } catch (error) {
      // Released, not closed: the session may exist all the same — another process created this id
      // between the check above and the write (LIMIT_CONFLICT) — and what runners keep for it
      // elsewhere (runner-queue's worker session) is that process's to release.
      await handle.close('released').catch(() => undefined);
      throw error;
    }
  }

  getSession(tenant: string | undefined, id: string): Promise<Session | null> {
    return this.#storage.getSession(this.#tenant(tenant), id);
  }

  listSessions(tenant: string | undefined, query?: SessionQuery): Promise<Page<Session>> {
    return this.#storage.listSessions(this.#tenant(tenant), query);
  }

  async closeSession(tenantIn: string | undefined, id: string): Promise<Session> {
    const tenant = this.#tenant(tenantIn);
    const session = await this.#requireSession(tenant, id);
    const k = key(tenant, id);
    // A close already in progress here: the same close, so this one returns only once its runs are
    // recorded and storage says `closed`, as that one does.
    const inProgress = this.#closing.get(k);
    if (inProgress) return inProgress;
    if (session.status === 'closed') {
      // Closed by another process (the CLI, another API instance): the scope still live here, and
      // the runners' workers for it, are let go now rather than when the runtime closes.
      const live = this.#live.get(k);
      if (live) await this.#closeScope(live);
      return session;
    }
    // From here no run may start in the session (#liveSession refuses it), though storage still
    // says `open` until the runs in flight have stopped. The close starts after it is registered,
    // so every run it does not see in its scope sees it (#run).
    const closing = Promise.resolve().then(() => this.#close(tenant, id)).finally(() => {
      this.#closing.delete(k); // storage says `closed` now (or the close failed and it stays open)
    });
    this.#closing.set(k, closing);
    return closing;
  }

  async #close(tenant: string, id: string): Promise<Session> {
    const k = key(tenant, id);
    const writes = [...(this.#sessionWrites.get(k) ?? [])];
    const live = this.#live.get(k);
    if (live) {
      await this.#closeScope(live);
    } else {
      await this.#releaseRunners(id, tenant);
    }
    await settleWithin(writes, this.deps.options.closeWaitMs);
    await this.#cutOff(tenant, id);
    return this.#storage.closeSession(tenant, id, now());
  }

  /**
   * The last step of a close before storage marks the session closed: the work in the session still
   * in progress after the close's wait (closeWaitMs) — a run whose output governance is still
   * evaluating, a recorded trace or a merge not written yet — is cut off: it may start no write any
   * more (#gated refuses it with LIMIT_SESSION_CLOSED), the writes it has under way are waited for
   * (a storage write, not an evaluation), and its trace is recorded as `error` with a `failed` entry
   * (LIMIT_SESSION_CLOSED), as the runtime's dispose does — a recorded trace is stored so, a merge
   * not written yet stays unwritten. So no trace of the session is written after storage says `closed`.
   */
  async #cutOff(tenant: string, id: string): Promise<void> {
    // Work that entered the session but has no trace yet (still reading its parents) is cut off too:
    // its trace, once made, is refused at its first write (#gated).
    const k = key(tenant, id);
    const stragglers = [...this.#inFlight].filter((e) => e.session === k || (e.trace?.tenant === tenant && e.trace.sessionId === id));
    for (const e of stragglers) e.cutOff = true;
    await Promise.allSettled(stragglers.flatMap((e) => [...(e.writing ?? [])]));
    const error = new LimitError('LIMIT_SESSION_CLOSED', `Session "${id}" closed while the trace was being recorded, and it was not finished within closeWaitMs (${this.deps.options.closeWaitMs} ms)`, {
      details: { sessionId: id, tenant, closeWaitMs: this.deps.options.closeWaitMs },
    });
    for (const e of stragglers) if (e.trace) await this.#salvage(e.trace, e.actor ?? this.deps.options.actor, error, e.creation, { cutOff: true });
  }

  /**
   * Runs `write`, a write of the work in flight that owns `trace` (#own), unless a close of its
   * session cut that work off (#cutOff): then it is refused with LIMIT_SESSION_CLOSED and nothing is
   * written. The check and the start of the write are one synchronous step, and the write is kept
   * while under way, so a cut-off waits for every write that began before it and none begins after.
   */
  #gated<T>(trace: Pick<Trace, 'id' | 'tenant' | 'sessionId'>, write: () => Promise<T>): Promise<T> {
    return this.#gatedBy(this.#byTrace.get(trace.id), write, () => new LimitError('LIMIT_SESSION_CLOSED', `Session "${trace.sessionId}" closed before trace "${trace.id}" was recorded: it was still being governed or written after closeWaitMs (${this.deps.options.closeWaitMs} ms), so the close recorded the trace as error and nothing more of it is written`, {
      details: { sessionId: trace.sessionId, tenant: trace.tenant, traceId: trace.id, closeWaitMs: this.deps.options.closeWaitMs },
      fix: 'Raise the orchestrator option closeWaitMs, or close the session once its work has finished.',
    }));
  }

  /**
   * The write of an RD series or point (`what`) of the work in flight `entry` (#gatedBy): refused
   * with LIMIT_SESSION_CLOSED once a close of its session cut that work off (its graph still being
   * measured after closeWaitMs, say), so nothing of it lands after storage marked the session closed.
   */
  #gatedRd<T>(entry: InFlight, tenant: string, sessionId: string, what: string, about: Record<string, unknown>, write: () => Promise<T>): Promise<T> {
    return this.#gatedBy(entry, write, () => new LimitError('LIMIT_SESSION_CLOSED', `Session "${sessionId}" closed before ${what} was recorded: it was still in progress after closeWaitMs (${this.deps.options.closeWaitMs} ms), so nothing of it was written`, {
      details: { sessionId, tenant, ...about, closeWaitMs: this.deps.options.closeWaitMs },
      fix: 'Raise the orchestrator option closeWaitMs, or close the session once its work has finished.',
    }));
  }

  /**
   * Runs `write` for the work in flight `owner` unless a close cut that work off (`refusal`, thrown);
   * the check and the start of the write are one synchronous step, and the write is kept in
   * `owner.writing` while under way, which the cut-off waits for.
   */
  async #gatedBy<T>(owner: InFlight | undefined, write: () => Promise<T>, refusal: () => LimitError): Promise<T> {
    if (owner?.cutOff) throw refusal();
    const writing = write();
    if (!owner) return writing;
    const set = (owner.writing ??= new Set());
    set.add(writing);
    try {
      return await writing;
    } finally {
      set.delete(writing);
    }
  }

  /** Makes `trace` the one the work in flight `entry` writes (what #salvage and #gated need). */
  #own(entry: InFlight, trace: Trace, actor: string, creation?: BatchOp[]): void {
    Object.assign(entry, { trace, actor, ...(creation ? { creation } : {}) });
    this.#byTrace.set(trace.id, entry);
  }

  /**
   * Aborts the session signal (running tasks stop) and fires sessionClosed, whose tap releases every
   * runner's workers for this session; then the scope is disposed, and its runs get up to
   * closeWaitMs to record their traces.
   */
  async #closeScope(live: LiveSession): Promise<void> {
    const inFlight = [...live.running.values()].map((r) => r.done);
    await live.handle.close();
    // A close that joined a release already in progress (the runtime's close, an idle detach) keeps
    // that reason, and the runners' taps kept what the session holds elsewhere: the session ends, so
    // every runner lets go of it now.
    if (live.handle.closeReason !== 'closed') await this.#releaseRunners(live.id, live.tenant);
    await settleWithin(inFlight, this.deps.options.closeWaitMs);
  }

  /**
   * Called from the sessionClosed tap. When the session ends (reason `closed`), every runner lets go
   * of it (closeSession). When only this process lets its scope go (`released`: an idle scope, the
   * runtime's close) no runner is asked to: the session goes on, and each runner's own sessionClosed
   * tap decides by the reason — state kept in this process goes, state shared with other processes
   * (runner-queue's worker sessions) stays for the runs of those.
   */
  async onSessionClosed(handle: SessionHandle): Promise<void> {
    const k = key(handle.tenant, handle.id);
    if (this.#live.get(k)?.handle === handle) this.#live.delete(k);
    if (handle.closeReason === 'closed') await this.#releaseRunners(handle.id, handle.tenant);
  }

  async #releaseRunners(sessionId: string, tenant: string): Promise<void> {
    const { container } = this.deps;
    for (const k of container.keys('runner:')) {
      const runner = container.resolve(k as `runner:${string}`);
      await runner.closeSession?.(sessionId, tenant).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, runner: runner.name, sessionId }, 'runner failed to release a session');
      });
    }
  }

  #attach(handle: SessionHandle): LiveSession {
    const live: LiveSession = {
      handle, id: handle.id, tenant: handle.tenant, semaphore: new Semaphore(handle.limits.maxConcurrency), running: new Map(), unslotted: 0, usedAt: performance.now(),
    };
    this.#live.set(key(handle.tenant, handle.id), live);
    this.#idle.watch();
    return live;
  }

  /**
   * The idle sweeper's close: the scope of a session idle for sessionIdleMs is taken out of #live in
   * this turn and closed as `released` — the runners' taps let go of what they keep for it in this
   * process (not runner-queue's worker sessions, which other processes may be using) — while the
   * session stays open in storage, as a session opened by another process is before its first run
   * here; the next run attaches a scope again (#liveSession). A session whose close is in progress is
   * left to that close.
   */
  async #detach(k: string): Promise<void> {
    const live = this.#live.get(k);
    if (!live || live.running.size > 0 || this.#closing.has(k)) return;
    this.#live.delete(k);
    await live.handle.close('released');
  }

  async #requireSession(tenant: string, id: string): Promise<Session> {
    const session = await this.#storage.getSession(tenant, id);
    if (!session) throw new LimitError('LIMIT_NOT_FOUND', `Session "${id}" not found for tenant "${tenant}"`, { details: { sessionId: id, tenant } });
    return session;
  }

  /**
   * The session, which must be open: every write into a session (run, recorded trace, merge, RD
   * series and point) follows this rule. A session whose close is in progress here counts as closed,
   * though storage says `open` until its aborted runs are recorded.
   */
  async #requireOpenSession(tenant: string, id: string, about?: Record<string, unknown>): Promise<Session> {
    const session = await this.#requireSession(tenant, id);
    if (session.status !== 'open' || this.#closing.has(key(tenant, id))) throw sessionClosed(tenant, id, about);
    return session;
  }

  /**
   * #requireOpenSession for a recorded trace, a merge, an RD series or point (`entry`, tracked by
   * #track), which is then counted as a write into the session and the session looked at again: a
   * close either began after this, and waits for the write (up to closeWaitMs, then cuts it off), or
   * before, and the write is refused — nothing is written into a session after storage marked it
   * closed (by this process: see the README's *Across processes*).
   */
  async #enterOpenSession(tenant: string, id: string, entry: InFlight, about?: Record<string, unknown>): Promise<Session> {
    const session = await this.#requireOpenSession(tenant, id, about);
    const k = key(tenant, id);
    const done = entry.done!;
    let writes = this.#sessionWrites.get(k);
    if (!writes) this.#sessionWrites.set(k, (writes = new Set()));
    writes.add(done);
    entry.session = k;
    const leave = () => {
      writes.delete(done);
      if (writes.size === 0 && this.#sessionWrites.get(k) === writes) this.#sessionWrites.delete(k);
    };
    done.then(leave, leave);
    if (this.#closing.has(k)) throw sessionClosed(tenant, id, about);
    return session;
  }

  /** Every parent a new trace names exists in this tenant (another tenant's trace counts as missing). */
  async #requireParents(tenant: string, parentIds: readonly string[]): Promise<void> {
    if (parentIds.length === 0) return;
    const found = await allInOrder(parentIds.map((id) => this.#storage.getTrace(tenant, id)));
    const missing = parentIds.filter((_, i) => found[i] === null);
    if (missing.length) {
      throw new LimitError('LIMIT_NOT_FOUND', `Parent trace${missing.length > 1 ? 's' : ''} ${missing.map((id) => `"${id}"`).join(', ')} not found for tenant "${tenant}"`, {
        details: { field: 'parentIds', parentIds: missing, tenant }, fix: 'Name traces of this tenant as parents (see `limit traces` or GET /traces).',
      });
    }
  }

  /**
   * The live scope of an open session. A session persisted by another process (the CLI, another
   * API instance) gets a scope here with its stored limits, so `--session S` works across processes.
   * One scope per session: runs that arrive while it is being opened wait for it, so they share its
   * semaphore (maxConcurrency), cancel() finds them and closeSession waits for them.
   */
  async #liveSession(tenant: string, id: string): Promise<LiveSession> {
    const k = key(tenant, id);
    // Storage is read even when the scope is live here: another process (the CLI, another API
    // instance) may have closed the session.
    const session = await this.#requireOpenSession(tenant, id);
    const existing = this.#live.get(k);
    if (existing && !existing.handle.closed) return existing;
    let attaching = this.#attaching.get(k);
    if (!attaching) {
      attaching = this.#reattach(tenant, id, session).finally(() => this.#attaching.delete(k));
      this.#attaching.set(k, attaching);
    }
    return attaching;
  }

  /** A scope here for an open session that has none (#liveSession makes one call at a time per session). */
  async #reattach(tenant: string, id: string, session: Session): Promise<LiveSession> {
    const k = key(tenant, id);
    const kernelHandle = this.#runtime.getSession(id);
    if (kernelHandle && !kernelHandle.closed) {
      if (kernelHandle.tenant !== tenant) {
        throw new LimitError('LIMIT_CONFLICT', `Session id "${id}" is in use by another tenant in this process`, { details: { sessionId: id } });
      }
      return this.#attach(kernelHandle);
    }
    const handle = await this.#runtime.openSession({ id, tenant: session.tenant, name: session.name, limits: session.limits, metadata: session.metadata });
    const live = this.#attach(handle);
    // A close that began while the scope was opening did not see it: look again, and give it back.
    if (this.#closing.has(k) || (await this.#storage.getSession(tenant, id))?.status !== 'open') {
      await handle.close();
      throw sessionClosed(tenant, id);
    }
    return live;
  }

  /**
   * Counts `trace`'s run among the session's runs waiting for a slot, or refuses it with
   * LIMIT_SESSION_BUSY when maxWaitingRuns already wait — before anything of it is stored. A run
   * waits from here until its slot (its parents' check, its trace's creation and input governance
   * included), less the slots free now, which those ahead of it will take: with maxConcurrency 1 and
   * the slot taken, maxWaitingRuns more are let in. Synchronous, and the caller registers the run in
   * the same step, so concurrent arrivals cannot overshoot; runs already waiting are never touched.
   * Returns the run's leaving of the count (once; at its slot, or when it ends without one).
   */
  #admit(live: LiveSession, trace: Trace): () => void {
    const max = this.deps.options.maxWaitingRuns;
    const waiting = live.unslotted - live.semaphore.free;
    if (waiting >= max) {
      const limit = live.handle.limits.maxConcurrency;
      throw new LimitError('LIMIT_SESSION_BUSY', `Session "${trace.sessionId}" is busy: every slot of its maxConcurrency (${limit}) is taken and ${waiting} more run${waiting === 1 ? ' waits' : 's wait'} for one, the most the orchestrator option maxWaitingRuns (${max}) allows in this process; this run is refused and nothing of it was stored`, {
        details: { sessionId: trace.sessionId, tenant: trace.tenant, waiting, maxWaitingRuns: max, maxConcurrency: limit },
        fix: `Retry once runs of session "${trace.sessionId}" have finished, or send fewer at once (a federation: a lower concurrency); else raise the session's maxConcurrency or the orchestrator option maxWaitingRuns.`,
      });
    }
    live.unslotted++;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      live.unslotted--;
    };
  }

  #runner(name: string): Runner {
    const runtime = this.deps.container;
    const k = `runner:${name}` as const;
    if (!runtime.has(k)) {
      const available = runtime.keys('runner:').map((r) => r.slice('runner:'.length));
      throw new LimitError('LIMIT_RUNNER_NOT_FOUND', `Runner "${name}" is not registered (available: ${available.join(', ') || 'none'})`, {
        details: { runner: name, available },
      });
    }
    return runtime.resolve(k);
  }

  // ───────────────────────────── runs ─────────────────────────────

  run(given: RunInput): Promise<RunOutcome> {
    return this.#track((entry) => this.#run(given, entry));
  }

  async #run(given: RunInput, entry: InFlight): Promise<RunOutcome> {
    const input = checkInput(RunInputSchema, given, 'run input') as RunInput;
    const tenant = this.#tenant(input.tenant);
    const actor = this.#actor(input.actor);
    const parsed = RunRequest.safeParse({
      sessionId: input.sessionId, tenant, runner: input.runner, task: input.task,
      parentIds: input.parentIds ?? [], metadata: input.metadata ?? {},
    });
    if (!parsed.success) throw validation('run request', parsed.error.issues);
    const request = this.#tappedRunRequest(await this.#runtime.hooks.beforeRun.promise(parsed.data));
    if (request.tenant !== tenant) {
      throw new LimitError('LIMIT_VALIDATION', 'A beforeRun tap changed the tenant of a run request', { hook: 'beforeRun', details: { from: tenant, to: request.tenant } });
    }
    const live = await this.#liveSession(tenant, request.sessionId);
    const runner = this.#runner(request.runner);
    const task = request.task;
    const trace = newTrace({
      sessionId: request.sessionId, tenant, parentIds: request.parentIds, runner: request.runner, task,
      metadata: request.metadata,
    });
    this.#assertTraceFits(trace, 'run');

    // In the scope's runs before the trace is stored, then the session looked at again: a close
    // either began after this registration, and waits for the run, or before it, and this run is
    // refused here — no trace of it is written after storage closed the session.
    const controller = new AbortController();
    // The run's cancellation — cancel(), the caller's signal, the session's (or runtime's) close — for
    // its input and output governance as for its runner.
    const signal = AbortSignal.any([live.handle.signal, controller.signal, ...(input.signal ? [input.signal] : [])]);
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    // Looked at, counted (maxWaitingRuns) and registered in one synchronous step: a close that begins
    // later sees this run, and concurrent arrivals cannot all pass the count. A closing session is
    // LIMIT_SESSION_CLOSED before it can be LIMIT_SESSION_BUSY.
    if (this.#closing.has(key(tenant, request.sessionId)) || live.handle.closed) throw sessionClosed(tenant, request.sessionId);
    const slotted = this.#admit(live, trace);
    live.running.set(trace.id, { controller, done });
    entry.session = key(tenant, request.sessionId);
    try {
      await this.#requireParents(tenant, request.parentIds);
      // Owned before its creation: a cut-off (#cutOff) either refuses the creation or waits for it.
      this.#own(entry, trace, actor);
      await this.#gated(trace, () => this.#storage.batch(tenant, this.#creationOps(trace, actor, { source: `runner:${request.runner}` })));
      return await this.#pipeline(trace, actor, (t) => this.#executeRun(t, live, runner, task, actor, signal, slotted), undefined, signal);
    } finally {
      slotted(); // a run that never reached its slot (blocked, cancelled, refused) waits no more
      live.running.delete(trace.id);
      live.usedAt = performance.now();
      finish();
    }
  }

  /**
   * What the beforeRun taps returned, checked as the caller's request was (RunRequest, its task with
   * Task's keys only): a tap that returns something else — a task of an unknown kind, metadata null,
   * a parent id that is not an id, a key RunRequest does not have — is LIMIT_VALIDATION naming the
   * hook, its taps and each field, before anything is stored (rather than a bare ZodError, or
   * storage's refusal of the trace).
   */
  #tappedRunRequest(returned: unknown): RunRequest {
    const parsed = TappedRunRequest.safeParse(returned);
    if (parsed.success) return parsed.data;
    const taps = this.#runtime.hooks.beforeRun.taps.map((t) => t.name);
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    const text = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    throw new LimitError('LIMIT_VALIDATION', `A beforeRun tap (${taps.map((t) => `"${t}"`).join(', ') || 'none'}) returned an invalid run request: ${text}`, {
      hook: 'beforeRun', ...(taps.length === 1 ? { plugin: taps[0] } : {}), details: { taps, issues },
      fix: 'Make the beforeRun tap return the request it was given, or a copy changed into a valid RunRequest (the kernel\'s RunRequest schema: task with Task\'s fields, parentIds ids, metadata an object).',
    });
  }

  /**
   * Input governance; unless it stops the task, `execute` (the runner, for a run; nothing for a
   * recorded trace, whose output is already on it), output governance and the final status.
   * `creation` holds the ops that store the trace when it is not stored yet (a recorded trace):
   * they are committed with its governance records and final status, in one transaction. A run's
   * trace is stored before (it is visible as `running`), and its input governance is committed
   * before the runner starts.
   *
   * `signal` (a run's cancellation) is given to input governance. A cancel while it evaluates ends
   * it (an async rule's ctx.signal aborts) and the run is recorded as a cancel during the runner's
   * execution is: the runner is never called, the execute step records the abort as for a run
   * cancelled while waiting for its slot (status `error`, output error LIMIT_RUNNER_ABORTED), no
   * verdict of the aborted evaluation is used (none is reported, no checkpoint is written for it),
   * and the `completed` entry says so (`aborted`). Output governance never gets the signal: what a
   * runner produced is always governed whole before it is stored as the trace's final output, so a
   * cancel cannot leave a runner's output stored unchecked.
   *
   * A recorded trace's `creation.cancel` (its caller's signal) is another matter: nothing is stored
   * before its write, so until that write begins the cancel ends either evaluation and the call
   * rejects, storing nothing (#write, #govern); once it has begun, it completes.
   */
  async #pipeline(created: Trace, actor: string, execute?: (trace: Trace) => Promise<Trace>, creation?: Creation, signal?: AbortSignal): Promise<RunOutcome> {
    let trace = created;
    const pending: Pending[] = creation ? [{ ops: creation.ops, committed: async () => {}, creates: created, cancel: creation.cancel }] : [];
    // Set while governance evaluates a trace that carries an output not governed yet (a recorded
    // trace's from the start, a run's once its runner returned): if that evaluation fails, the
    // output was never checked, and #salvage holds it quarantined rather than storing it as a plain
    // `error` that merges and exports would take as it is.
    let ungoverned = false;
    const govern = async (t: Trace, surface: 'input' | 'output', sig?: AbortSignal): Promise<Governed | undefined> => {
      ungoverned = t.output !== undefined;
      const governed = await this.#govern(t, surface, pending, sig);
      ungoverned = false;
      return governed;
    };
    try {
      const input = await govern(trace, 'input', signal);
      if (!input) {
        // Cancelled while input governance evaluated: the execute step sees the aborted signal and
        // records the abort without calling the runner; its output is then governed as before.
        const stopped = execute ? await execute(trace) : trace;
        const output = (await govern(stopped, 'output'))!;
        pending.push(output);
        const quarantine = this.#shouldQuarantine(output.verdict, output.trace.flags);
        if (quarantine) await this.#quarantine(output.trace, output, actor, pending.splice(0));
        return await this.#finish(output.trace, quarantine ? 'quarantined' : 'error', actor, pending, { output: output.verdict }, execute !== undefined, created.metadata,
          { aborted: abortedData(signal!) });
      }
      trace = input.trace;
      pending.push(input);
      if (input.verdict.decision === 'block' || input.verdict.decision === 'quarantine') {
        // Not executed: the runner is never called for a task input governance stops.
        const status = input.verdict.decision === 'block' ? 'blocked' : 'quarantined';
        if (status === 'quarantined') await this.#quarantine(trace, input, actor, pending.splice(0));
        return await this.#finish(trace, status, actor, pending, { input: input.verdict }, false, created.metadata);
      }
      if (execute) {
        await this.#commit(trace, pending.splice(0));
        trace = await execute(trace);
      }
      const output = (await govern(trace, 'output'))!;
      trace = output.trace;
      pending.push(output);
      const quarantine = this.#shouldQuarantine(output.verdict, trace.flags);
      if (quarantine) await this.#quarantine(trace, output, actor, pending.splice(0));
      const status = quarantine ? 'quarantined' : trace.output?.ok ? 'ok' : 'error';
      return await this.#finish(trace, status, actor, pending, { input: input.verdict, output: output.verdict }, execute !== undefined, created.metadata);
    } catch (error) {
      // Cancelled before its write: nothing of the recorded trace is stored, so nothing to salvage.
      if (error !== creation?.cancel?.error) await this.#salvage(trace, actor, error, creation?.ops, { ungoverned });
      throw error;
    }
  }

  /** The runner's output and its `executed` entry land together, before output governance looks at them. */
  async #executeRun(trace: Trace, live: LiveSession, runner: Runner, task: TaskParsed, actor: string, runSignal: AbortSignal, slotted: () => void): Promise<Trace> {
    let result = await this.#execute(trace, live, runner, task, runSignal, slotted);
    const store = () => this.#gated(trace, () => this.#storage.batch(trace.tenant, [
      { op: 'updateTrace', id: trace.id, patch: { output: result.output, metrics: result.metrics, metadata: trace.metadata } },
      { op: 'appendProvenance', input: this.#entry(trace.id, actor, 'executed', {
        source: `runner:${trace.runner}`,
        data: { ok: result.output.ok, error: result.output.error?.code, latencyMs: result.metrics.latencyMs, ...outputDigests(result.output, result.metrics) },
      }) },
    ]));
    try {
      await store();
    } catch (error) {
      // An output larger than the backend stores (maxRecordBytes) is this runner's failed run, recorded
      // and governed as one, not a storage failure thrown at the caller with the output lost unsaid.
      // The output put in its place is a few hundred bytes, so it is stored (or the failure is storage's).
      if (!isLimitError(error, 'LIMIT_PAYLOAD_TOO_LARGE')) throw error;
      result = { metrics: result.metrics, output: { ok: false, stdout: '', stderr: '', error: {
        code: 'LIMIT_PAYLOAD_TOO_LARGE',
        message: `Runner "${trace.runner}" returned an output too large to store, which was not kept (stdout ${result.output.stdout.length} and stderr ${result.output.stderr.length} characters): ${error.message}`,
      } } };
      await store();
    }
    return { ...trace, output: result.output, metrics: result.metrics };
  }

  /**
   * Calls the runner under the session's semaphore, limits and signals (the run's, and the timeout's
   * backstop — its own, so that a runner's timeout does not cancel output governance); never throws
   * for task failures.
   */
  async #execute(
    trace: Trace, live: LiveSession, runner: Runner, task: TaskParsed, runSignal: AbortSignal, slotted: () => void,
  ): Promise<{ output: RunOutput; metrics: { latencyMs: number; tokensIn?: number; tokensOut?: number; exitCode?: number } }> {
    const { handle } = live;
    const limits = handle.limits;
    const backstop = new AbortController();
    const signal = AbortSignal.any([runSignal, backstop.signal]);
    const started = performance.now();
    let release: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      release = await live.semaphore.acquire(signal, slotted);
      // The runner enforces timeoutMs (plus the slack it declares, a queue's wait for a worker); this
      // backstop only fires if it does not come back. Capped at the longest timer Node keeps.
      const slack = runner.timeoutSlackMs;
      const slackMs = typeof slack === 'number' && Number.isFinite(slack) && slack > 0 ? slack : 0;
      const backstopMs = Math.min(limits.timeoutMs + slackMs + this.deps.options.timeoutGraceMs, MAX_TIMER_MS);
      timer = setTimeout(() => backstop.abort(new LimitError('LIMIT_RUNNER_TIMEOUT', `Execution exceeded ${limits.timeoutMs} ms and the runner did not stop`, { details: { timeoutMs: limits.timeoutMs } })), backstopMs);
      // Called inside a promise: a runner that throws synchronously (a method that is not `async`) is
      // a rejection here like any other, and one that answers without a promise is awaited as such.
      const execution = Promise.resolve().then(() => runner.executeIsolated(task, {
        session: { id: handle.id, tenant: handle.tenant, limits }, traceId: trace.id, signal, logger: handle.logger,
      }));
      execution.catch(() => undefined); // it may settle after an abort won the race
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(abortReason(signal));
        signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
      });
      // The session's or the runtime's close aborts the signal after the run ended: handled here, not left unhandled.
      aborted.catch(() => undefined);
      // Checked where it is received: a result that breaks the contract is this runner's failed run
      // (LIMIT_RUNNER_FAILED naming the runner and the field), not a TypeError or the caller's bad request.
      const { metrics, ...output } = parseRunResult(await Promise.race([execution, aborted]), trace.runner);
      return { output: wellFormed({ ok: output.ok, stdout: output.stdout, stderr: output.stderr, ...(output.value === undefined ? {} : { value: output.value }), ...(output.error ? { error: output.error } : {}) }), metrics };
    } catch (error) {
      const latencyMs = performance.now() - started;
      const code = isLimitError(error) ? error.code : 'LIMIT_RUNNER_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      return { output: { ok: false, stdout: '', stderr: '', error: { code, message } }, metrics: { latencyMs } };
    } finally {
      slotted(); // the wait aborted: no longer waiting
      clearTimeout(timer);
      release?.();
    }
  }

  #shouldQuarantine(verdict: GovernanceVerdict, flags: Flag[]): boolean {
    if (verdict.decision === 'quarantine' || verdict.decision === 'block') return true;
    const policy = this.#governance.policy;
    const max = Math.max(0, ...flags.map((f) => f.severity));
    return policy.autoQuarantine && max >= policy.quarantineSeverity;
  }

  /**
   * Quarantines a trace whose flags reached the policy's severity. The governance records still
   * pending are written first, so that the entries keep their order and an auto-quarantine
   * already among them is seen: a trace is quarantined once. Their hooks (traceFlagged) run after
   * the quarantine: a tap that throws cannot leave a harmful output unquarantined.
   */
  async #quarantine(trace: Trace, governed: Governed, actor: string, pending: Pending[]): Promise<void> {
    try {
      await this.#write(trace, pending);
    } catch (error) {
      // Their auto-quarantine applies to the trace as assessed (running): a person quarantined it
      // meanwhile (POST /traces/:id/quarantine), so the other records go in without it.
      if (!isStatusConflict(error, trace.id) || !(await this.#quarantinedNow(trace)) || !withoutQuarantine(pending)) throw error;
      await this.#write(trace, pending);
    }
    if (!(await this.#storage.getQuarantine(trace.tenant, trace.id))?.quarantined) {
      const reason = governed.verdict.reasons.join('; ') || `flag severity reached ${this.#governance.policy.quarantineSeverity}`;
      try {
        // The pipeline's own record (provenance origin `system`): room kept for it, whatever clients appended.
        await this.#gated(trace, () => this.#governance.quarantine(trace.tenant, trace.id, { reason, actor, origin: 'system' }));
      } catch (error) {
        // Quarantined by a person between the look and this quarantine: quarantined all the same.
        if (!isLimitError(error, 'LIMIT_CONFLICT') || !(await this.#quarantinedNow(trace))) throw error;
      }
    }
    for (const g of pending) await g.committed();
  }

  async #quarantinedNow(trace: Trace): Promise<boolean> {
    return (await this.#storage.getTrace(trace.tenant, trace.id))?.status === 'quarantined';
  }

  /**
   * Runs governance for a surface. With a service that can `assess`, its records (flags, checkpoint,
   * counters, auto-quarantine) come back as ops for the pipeline to commit with the final status;
   * otherwise `evaluate` and `recordFlags` write them now, after `pending` (the trace itself, maybe)
   * is committed. The trace is carried in memory with its new flags rather than read back after
   * every step.
   *
   * Undefined when `signal` aborted the evaluation (it rejected once the signal aborted): there is
   * no verdict, and the caller records the cancel. A service that ignores the signal and answers
   * gives its verdict, which stands. A record not written yet whose caller can cancel it (the
   * `cancel` of a pending entry: a recorded trace, a merge) has its evaluation cut by that cancel
   * too, which then rejects (refuseIfCancelled) — with a service that cannot `assess`, the record is
   * written before it is evaluated, and from then on its cancel no longer applies.
   */
  async #govern(trace: Trace, surface: 'input' | 'output', pending: Pending[]): Promise<Governed>;
  async #govern(trace: Trace, surface: 'input' | 'output', pending: Pending[], signal: AbortSignal | undefined): Promise<Governed | undefined>;
  async #govern(trace: Trace, surface: 'input' | 'output', pending: Pending[], signal?: AbortSignal): Promise<Governed | undefined> {
    const governance = this.#governance;
    if (governance.assess) {
      // A trace whose creation is still pending here has no stored records for rules to read.
      const unstoredTrace = pending.some((g) => g.creates?.id === trace.id);
      const cancel = pending.find((g) => g.cancel)?.cancel;
      const stop = signal ?? cancel?.signal;
      const options = stop || unstoredTrace ? { ...(stop ? { signal: stop } : {}), ...(unstoredTrace ? { unstoredTrace } : {}) } : undefined;
      const assessed = await governance.assess(trace, surface, options).catch(cancelledBy(stop));
      if (!assessed) {
        refuseIfCancelled(cancel);
        return undefined;
      }
      return { trace: withFlags(trace, assessed.flags), verdict: assessed.verdict, ops: assessed.ops, quarantineOps: assessed.quarantineOps ?? [], committed: assessed.committed };
    }
    await this.#commit(trace, pending.splice(0));
    const verdict = await governance.evaluate(trace, surface, signal ? { signal } : undefined).catch(cancelledBy(signal));
    if (!verdict) return undefined;
    const flags = verdict.findings.length ? await this.#gated(trace, () => governance.recordFlags(trace, verdict.findings)) : [];
    return { trace: withFlags(trace, flags), verdict, ops: [], committed: async () => {} };
  }

  /** Writes pending records of `trace` (one transaction), then runs their post-commit hooks. */
  async #commit(trace: Trace, pending: Pending[], ops: BatchOp[] = []): Promise<void> {
    await this.#write(trace, pending, ops);
    for (const g of pending) await g.committed();
  }

  /** The pending records of `trace` in one transaction (#gated: none once a close cut its work off). */
  async #write(trace: Trace, pending: Pending[], ops: BatchOp[] = []): Promise<void> {
    // The last point a record's caller can cancel it: refused here, nothing of it is written.
    for (const g of pending) refuseIfCancelled(g.cancel);
    const all = [...pending.flatMap((g) => g.ops), ...ops];
    if (all.length) await this.#gated(trace, () => this.#storage.batch(trace.tenant, all));
  }

  /** The trace and its first entry, always in one transaction: no trace is ever stored without a chain. */
  #creationOps(trace: Trace, actor: string, provenance: CreatedEntry): BatchOp[] {
    return [{ op: 'createTrace', trace }, ...this.#createdOps(trace, actor, provenance)];
  }

  #createdOps(trace: Trace, actor: string, provenance: CreatedEntry): BatchOp[] {
    return [{ op: 'appendProvenance', input: this.#entry(trace.id, actor, provenance.action ?? 'created', {
      operation: provenance.operation ?? 'add',
      source: provenance.source,
      rationale: provenance.rationale,
      data: { sessionId: trace.sessionId, runner: trace.runner, taskKind: trace.task.kind ?? 'code', createdAt: trace.createdAt, inputSha256: sha256(trace.task.input), ...recordDigests(trace), parentIds: trace.parentIds, ...provenance.data },
    }) }];
  }

  /**
   * Sets the final status, with the governance records still pending, in one transaction, and
   * reads the stored trace and its checkpoints back for the outcome. `metadata` is written again
   * on purpose: a patch parsed with the Trace schema's defaults resets metadata to {} in some
   * backends, and other services patch the trace too.
   */
  async #finish(
    trace: Trace, status: Trace['status'], actor: string, pending: Pending[], verdicts: RunOutcome['verdicts'], executed: boolean,
    metadata: Trace['metadata'] = trace.metadata, extraData: Record<string, unknown> = {},
  ): Promise<RunOutcome> {
    const last = verdicts.output ?? verdicts.input;
    const data = { ...(last ? { decision: last.decision, reasons: last.reasons } : {}), ...extraData };
    const creation = pending[0];
    if (creation?.creates) {
      // Created in this same transaction (so no one else can have changed it): the created record
      // carries the final status itself instead of being written twice (its flags stay empty: the
      // addFlag ops add them).
      const [update, entry] = this.#finishOps(trace.id, status, actor, data, metadata);
      creation.ops = [{ op: 'createTrace', trace: applyTracePatch(creation.creates, update.patch) }, ...creation.ops.slice(1)];
      await this.#commit(trace, pending, [entry]);
    } else {
      await this.#commitFinal(trace, status, actor, pending, data, metadata);
    }
    // The trace is new, so all its checkpoints are this pipeline's (governance wrote them).
    const [stored, checkpoints] = await allInOrder([this.#storage.getTrace(trace.tenant, trace.id), this.#storage.listCheckpoints(trace.tenant, trace.id)]);
    const done = stored ?? { ...trace, status };
    await this.#runtime.hooks.afterRun.promise(done);
    return { trace: done, executed, verdicts, checkpoints };
  }

  /**
   * Commits a stored trace's final status with the pending records, then runs their hooks. The
   * status is written only from the one the pipeline left the trace in — `running`, or
   * `quarantined` when it quarantined the trace itself — checked in the transaction. A person may
   * quarantine a running trace (POST /traces/:id/quarantine): the batch is then refused and written
   * again keeping the trace quarantined, its `completed` entry saying so and naming the status the
   * run ended with (`runStatus`). A trace that ends quarantined gets, in the same batch, the status
   * a release gives back in place of its quarantine state's `previousStatus: running` (a quarantine
   * decided while it ran): the run's own status, or for the pipeline's quarantine `released` when
   * given (a merge waiting for review: `pending-review`), else `ok` (`error` for a failed output).
   */
  async #commitFinal(trace: Trace, status: Trace['status'], actor: string, pending: Pending[], data: Record<string, unknown>, metadata: Trace['metadata'], released?: Trace['status']): Promise<void> {
    let from: Trace['status'] = status === 'quarantined' ? 'quarantined' : 'running';
    for (;;) {
      const final = from === 'quarantined' ? 'quarantined' : status;
      const [update, entry] = this.#finishOps(trace.id, final, actor, final === status ? data : { ...data, runStatus: status }, metadata);
      const settle = final === 'quarantined' ? await this.#settleQuarantine(trace, status === 'quarantined' ? (released ?? outputStatus(trace)) : status) : [];
      try {
        await this.#write(trace, pending, [{ ...update, ifStatus: from }, ...settle, entry]);
        break;
      } catch (error) {
        // Only a quarantine can come between: the trace is the pipeline's until this write.
        if (from === 'quarantined' || !isStatusConflict(error, trace.id) || !(await this.#quarantinedNow(trace))) throw error;
        withoutQuarantine(pending);
        from = 'quarantined';
      }
    }
    for (const g of pending) await g.committed();
  }

  /**
   * The op that gives the quarantine state of a trace ending quarantined the status a release gives
   * back (`base`), in place of `previousStatus: running` — none when it has another status already.
   */
  async #settleQuarantine(trace: Trace, base: Trace['status']): Promise<BatchOp[]> {
    const state = await this.#storage.getQuarantine(trace.tenant, trace.id);
    return state?.quarantined && state.previousStatus === 'running' ? [{ op: 'setQuarantine', state: { ...state, previousStatus: base } }] : [];
  }

  #finishOps(traceId: string, status: Trace['status'], actor: string, data: Record<string, unknown>, metadata: Trace['metadata']): [BatchOp & { op: 'updateTrace' }, BatchOp] {
    const completedAt = now();
    return [
      { op: 'updateTrace', id: traceId, patch: { status, completedAt, metadata } },
      { op: 'appendProvenance', input: this.#entry(traceId, actor, status === 'blocked' ? 'blocked' : 'completed', {
        operation: status === 'quarantined' ? 'quarantine' : 'update',
        data: { status, completedAt, ...data },
      }) },
    ];
  }

  /**
   * After an unexpected failure mid-pipeline the trace still ends as `error`, never `running`; a
   * trace whose `creation` was not committed yet is stored with it. A trace quarantined while it ran
   * (by a person, or by the pipeline just before the failure) stays quarantined, and a release of
   * it gives back `error`. `ungoverned`: the failure was a governance evaluation of an output not
   * governed yet (a rule or a governOutput tap that threw or returned an invalid finding), so that
   * output was never checked — the trace is held quarantined as `error` (#ungovernedOps) instead.
   */
  async #salvage(trace: Trace, actor: string, error: unknown, creation?: BatchOp[], by: { cutOff?: boolean; ungoverned?: boolean } = {}): Promise<void> {
    // Work a session's close cut off: the close recorded its trace (#cutOff), the work writes nothing.
    if (!by.cutOff && this.#byTrace.get(trace.id)?.cutOff) return;
    // Each write is conditional on the status read: when it changed in between (another process's
    // failStaleRuns or close recorded the failure, a person quarantined or released the trace), the
    // trace is read again once — an `error` already recorded is left as it is, quietly.
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.#storage.getTrace(trace.tenant, trace.id);
        if (current?.status === 'quarantined') {
          const settle = await this.#settleQuarantine(current, 'error');
          if (settle.length) await this.#storage.batch(trace.tenant, [{ op: 'updateTrace', id: trace.id, patch: { completedAt: now() }, ifStatus: 'quarantined' }, ...settle]);
          return;
        }
        if (current ? current.status !== 'running' : !creation) return; // finished, or never stored
        const failed = by.ungoverned ? this.#ungovernedOps(trace, current, actor, error) : this.#failedOps(trace, current, actor, error);
        await this.#storage.batch(trace.tenant, [...(current || !creation ? [] : creation), ...failed]);
        return;
      } catch (salvageError) {
        if (attempt === 1 && isStatusConflict(salvageError, trace.id)) {
          this.deps.logger.debug({ traceId: trace.id }, 'the status of a trace changed before its failure was recorded: read again');
          continue;
        }
        this.deps.logger.error({ err: salvageError, traceId: trace.id }, 'could not record the failure of a trace');
        return;
      }
    }
  }

  /**
   * The ops that record a `running` trace as `error` with a `failed` entry naming `error`'s code and
   * message (#salvage, failStaleRuns). The output stored so far (`current`'s, or the trace's own) is
   * kept; without one the error is the output. Only from running: a batch of these ops is refused
   * (LIMIT_CONFLICT, isStatusConflict) when a final status or a quarantine was committed meanwhile.
   */
  #failedOps(trace: Trace, current: Trace | null, actor: string, error: unknown): BatchOp[] {
    const code = isLimitError(error) ? error.code : 'LIMIT_RUNNER_FAILED';
    const message = error instanceof Error ? error.message : String(error);
    const completedAt = now();
    return [
      { op: 'updateTrace', id: trace.id, patch: {
        status: 'error', completedAt,
        output: current?.output ?? trace.output ?? { ok: false, stdout: '', stderr: '', error: { code, message } },
      }, ifStatus: 'running' },
      { op: 'appendProvenance', input: this.#entry(trace.id, actor, 'failed', { operation: 'update', data: { status: 'error', completedAt, code, message } }) },
    ];
  }

  /**
   * #failedOps for a trace whose output governance failed (#salvage's `ungoverned`): the output no
   * rule or tap finished checking is kept (its `executed` or first entry binds it) but held, in the
   * same batch — quarantined with `previousStatus: error` (a person's release gives back the failed
   * run), its `failed` entry then a `quarantined` one (origin `system`, `data.ungoverned: 'output'`)
   * and a `governance:quarantine` checkpoint, as an automatic quarantine writes them. So merges refuse
   * it (a quarantined parent), as they would the output governance might have flagged. Not counted in
   * the governance statistics: no evaluation completed, and the statistics are the service's.
   */
  #ungovernedOps(trace: Trace, current: Trace | null, actor: string, error: unknown): BatchOp[] {
    const [update, failed] = this.#failedOps(trace, current, actor, error) as [BatchOp & { op: 'updateTrace' }, BatchOp];
    const code = isLimitError(error) ? error.code : 'LIMIT_RUNNER_FAILED';
    const message = error instanceof Error ? error.message : String(error);
    // A quarantine's reason holds 2,048 characters; a cut half of a surrogate pair becomes U+FFFD.
    const reason = toWellFormed(`Output governance did not complete, so the output was never checked; it is held until a person reviews and releases it: ${code}: ${message}`.slice(0, 2048));
    const at = now();
    return [
      { op: 'setQuarantine', state: { traceId: trace.id, quarantined: true, reason, actor, at, previousStatus: 'error' } },
      { ...update, patch: { ...update.patch, status: 'quarantined' } },
      failed,
      { op: 'appendProvenance', input: this.#entry(trace.id, actor, 'quarantined', { operation: 'quarantine', rationale: reason, data: { auto: true, ungoverned: 'output' } }), origin: 'system' },
      { op: 'addCheckpoint', checkpoint: { traceId: trace.id, label: 'governance:quarantine', passed: false, details: { reason, actor, auto: true, ungoverned: 'output' }, at } },
    ];
  }

  /**
   * Records as `error` (LIMIT_RUN_LOST, a `failed` entry: #failedOps, as the runtime's close records
   * unfinished work) each trace still `running` created more than `olderThanMs` ago, a page at a
   * time, newest first. A trace is left as it is when its work is in progress in this process, or
   * when its status changed since it was listed (a live process finished it, a person quarantined
   * it): the write is conditional on `running`. Which age means "lost" is the caller's judgement: a
   * run of another process still waiting for its semaphore slot is not timed, and cannot be told
   * from a lost one. Counted as work in flight (#track): the runtime's close waits for it, and once
   * the close has begun it is refused.
   */
  failStaleRuns(given: FailStaleRunsInput): Promise<FailStaleRunsResult> {
    return this.#track(() => this.#failStaleRuns(given));
  }

  async #failStaleRuns(given: FailStaleRunsInput): Promise<FailStaleRunsResult> {
    const input = checkInput(FailStaleRunsInputSchema, given, 'stale-runs input');
    const tenant = this.#tenant(input.tenant);
    const actor = this.#actor(input.actor);
    // The runtime's close stops the sweep before its next trace (the traces marked stay marked):
    // drain waits for it only up to closeWaitMs, and storage closes after that.
    const closing = this.#closeBegun.signal;
    const cancel = cancelOf(input.signal ? AbortSignal.any([input.signal, closing]) : closing, 'Marking stale runs')!;
    refuseIfCancelled(cancel);
    const result: FailStaleRunsResult = { before: '', marked: [], skipped: [] };
    try {
      if (input.sessionId !== undefined) await this.#requireSession(tenant, input.sessionId);
      await this.#sweepStale(tenant, actor, input, cancel, result);
      return result;
    } catch (error) {
      if (error !== closing.reason) throw error;
      const n = result.marked.length;
      throw new LimitError('LIMIT_RUNTIME_CLOSED', `The runtime began closing: marking stale runs stopped before its next trace; the ${n} trace${n === 1 ? '' : 's'} it marked stay${n === 1 ? 's' : ''} marked`, {
        details: { ...result }, cause: error,
        fix: 'Run it again on a runtime that is not closing (limit recover in a new process): the traces it did not reach are still running.',
      });
    }
  }

  /** failStaleRuns' pages and writes, recorded in `result` as they happen (a close that stops it reports them). */
  async #sweepStale(tenant: string, actor: string, input: { olderThanMs: number; sessionId?: string }, cancel: Cancel, result: FailStaleRunsResult): Promise<void> {
    const before = new Date(Date.now() - input.olderThanMs).toISOString();
    result.before = before;
    const lost = new LimitError('LIMIT_RUN_LOST', `The run was not finished by the process that started it (still running more than ${input.olderThanMs} ms after it was created); marked by failStaleRuns`, {
      details: { olderThanMs: input.olderThanMs, before },
    });
    let cursor: string | undefined;
    do {
      refuseIfCancelled(cancel);
      // Keyset pages (createdAt, id): a trace marked leaves the filter without moving the next page.
      const page = await this.#storage.listTraces(tenant, {
        status: 'running', to: before, limit: 1000, ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}), ...(cursor ? { cursor } : {}),
      });
      for (const listed of page.items) {
        refuseIfCancelled(cancel);
        // Work in progress here owns its trace (#own) from before the trace is stored until it ends
        // (#track): a run waiting for its slot, a recorded trace, a merge.
        if (this.#byTrace.has(listed.id)) {
          result.skipped.push({ traceId: listed.id, reason: 'its run is in progress in this process' });
          continue;
        }
        // Read again just before the write, as #salvage does: the output stored so far is kept.
        const current = await this.#storage.getTrace(tenant, listed.id);
        let status = current?.status;
        if (current?.status === 'running') {
          try {
            await this.#storage.batch(tenant, this.#failedOps(current, current, actor, lost));
            result.marked.push(listed.id);
            continue;
          } catch (error) {
            if (!isStatusConflict(error, listed.id)) throw error;
            status = (await this.#storage.getTrace(tenant, listed.id))?.status;
          }
        }
        result.skipped.push({ traceId: listed.id, reason: status === undefined ? 'it was not found when read again' : `its status changed since it was listed (now ${status})` });
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  #entry(traceId: string, actor: string, action: string, rest: Partial<Pick<ProvenanceInput, 'source' | 'operation' | 'rationale' | 'data'>>): ProvenanceInput {
    const input: ProvenanceInput = { traceId, at: now(), actor, action };
    if (rest.source !== undefined) input.source = rest.source;
    if (rest.operation !== undefined) input.operation = rest.operation;
    if (rest.rationale !== undefined) input.rationale = rest.rationale;
    if (rest.data !== undefined) input.data = rest.data;
    return input;
  }

  recordTrace(given: RecordTraceInput): Promise<RunOutcome> {
    return this.#track((entry) => this.#recordTrace(given, entry));
  }

  async #recordTrace(given: RecordTraceInput, entry: InFlight): Promise<RunOutcome> {
    // One parse of the whole input (it replaces the task's own parse): nothing is stored before it.
    const input = checkInput(RecordTraceInputSchema, given, 'trace input');
    const cancel = cancelOf(input.signal, 'Recording the trace');
    refuseIfCancelled(cancel);
    const tenant = this.#tenant(input.tenant);
    const actor = this.#actor(input.actor);
    const session = await this.#enterOpenSession(tenant, input.sessionId, entry);
    await this.#requireParents(tenant, input.parentIds ?? []);
    const trace = newTrace({
      sessionId: session.id, tenant, parentIds: input.parentIds ?? [], runner: input.runner, task: input.task,
      metadata: input.metadata ?? {}, output: input.output, metrics: input.metrics ?? { latencyMs: 0 },
    });
    // The caller's payload: one the backend cannot keep is refused before it is governed, storing
    // nothing (the write at the end would fail, and so would storing it as `error`).
    this.#assertTraceFits(trace, 'recorded trace');
    // Nothing runs, so the trace is stored with its governance records and final status.
    const creation = this.#creationOps(trace, actor, {
      source: input.source ?? `external:${input.runner}`, data: { external: true, ...outputDigests(trace.output!, trace.metrics) },
    });
    this.#own(entry, trace, actor, creation);
    return this.#pipeline(trace, actor, undefined, { ops: creation, cancel });
  }

  /**
   * Refuses, before anything is stored or governed, a trace the storage backend cannot keep (its
   * JSON without flags over `maxRecordBytes`), measured as it will be at its final write — with
   * `completedAt` and the longest status a pipeline sets — so its creation, its final status and
   * the `error` a failure would record all fit. LIMIT_PAYLOAD_TOO_LARGE names the size of each part
   * that can be large, the largest as `details.field`, and the limit.
   */
  #assertTraceFits(trace: Trace, what: 'run' | 'recorded trace'): void {
    const maxBytes = this.#storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const { flags: _flags, ...record } = { ...trace, status: 'quarantined' as const, completedAt: now() };
    const bytes = bytesOverLimit(JSON.stringify(record), maxBytes);
    if (bytes === undefined) return;
    const sizes = traceFieldSizes(trace);
    const field = Object.entries(sizes).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const list = Object.entries(sizes).map(([f, n]) => `${f} ${n}`).join(', ');
    const the = what === 'run' ? "The run's trace" : 'The recorded trace';
    throw new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `${the} is ${bytes} bytes as JSON; the storage backend (${this.#storage.backend}) keeps at most ${maxBytes} bytes a trace (maxRecordBytes): ${list} characters (JSON characters for objects); nothing was stored`, {
      details: { field, sizes, bytes, maxBytes, backend: this.#storage.backend },
      fix: what === 'run'
        ? `Pass a smaller ${field} (large data as files of the task), or raise the storage backend's option maxRecordBytes.`
        : `Record less of ${field} (store large outputs as files and reference them in metadata), or raise the storage backend's option maxRecordBytes.`,
    });
  }

  cancel(tenant: string | undefined, traceId: string): boolean {
    const t = this.#tenant(tenant);
    for (const live of this.#live.values()) {
      if (live.handle.tenant !== t) continue;
      const run = live.running.get(traceId);
      if (run) {
        run.controller.abort(new LimitError('LIMIT_RUNNER_ABORTED', `Trace "${traceId}" was cancelled`, { details: { traceId } }));
        return true;
      }
    }
    return false;
  }

  /** Runs `work` (a run, a recorded trace, a merge, a review, an RD series or point, a stale-run sweep) as in flight, which drain() and dispose() wait for; refused once the runtime's close has begun draining. */
  async #track<T>(work: (entry: InFlight) => Promise<T>): Promise<T> {
    if (this.#closeBegun.signal.aborted) {
      throw new LimitError('LIMIT_RUNTIME_CLOSED', 'The runtime is shutting down: no new work (a run, a recorded trace, a merge, a review, an RD series or point, a stale-run sweep) starts any more', {
        fix: 'Send it to a runtime that is not closing (over HTTP: retry against another instance, or once the server is back).',
      });
    }
    const entry: InFlight = {};
    const done = work(entry);
    entry.done = done;
    this.#inFlight.add(entry);
    try {
      return await done;
    } finally {
      this.#inFlight.delete(entry);
      if (entry.trace && this.#byTrace.get(entry.trace.id) === entry) this.#byTrace.delete(entry.trace.id);
    }
  }

  /**
   * The orchestrator's drain, the first step of the runtime's close (before any session closes, after
   * the plugins that use it — api-http — have drained): no new run, recorded trace, merge or
   * stale-run sweep starts (LIMIT_RUNTIME_CLOSED), a sweep in progress stops before its next trace
   * (#closeBegun), and the others in progress get up to closeWaitMs to finish, in sessions still
   * open, and record their traces.
   */
  async drain(): Promise<void> {
    this.#beginClose();
    await this.#settleInFlight();
  }

  /**
   * The orchestrator's dispose, after the runtime closed the sessions (aborting the runs that outlasted
   * the drain) and before storage closes: the work still in progress gets up to closeWaitMs more to
   * record its traces, and a trace still not recorded then is moved to `error` (LIMIT_RUNTIME_CLOSED, a
   * `failed` entry) — so a close leaves no trace `running`, whoever started the work (an HTTP request
   * whose connection was cut at shutdown, a worker, an application).
   */
  async dispose(): Promise<void> {
    this.#beginClose();
    this.#idle.stop();
    await this.#settleInFlight();
    const error = new LimitError('LIMIT_RUNTIME_CLOSED', `The runtime closed while the trace was being written, and it was not finished within closeWaitMs (${this.deps.options.closeWaitMs} ms)`);
    for (const e of this.#inFlight) {
      if (e.trace) await this.#salvage(e.trace, e.actor ?? this.deps.options.actor, error, e.creation);
    }
  }

  /** Refuses new work from now on (#track) and stops a stale-run sweep in progress (#closeBegun). */
  #beginClose(): void {
    if (!this.#closeBegun.signal.aborted) {
      this.#closeBegun.abort(new LimitError('LIMIT_RUNTIME_CLOSED', 'The runtime began closing'));
    }
  }

  /** Waits up to closeWaitMs for the work in flight (#track) to end. */
  async #settleInFlight(): Promise<void> {
    const deadline = performance.now() + this.deps.options.closeWaitMs;
    while (this.#inFlight.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await settleWithin([...this.#inFlight].flatMap((e) => (e.done ? [e.done] : [])), left);
    }
  }

  getTrace(tenant: string | undefined, id: string): Promise<Trace | null> {
    return this.#storage.getTrace(this.#tenant(tenant), id);
  }

  listTraces(tenant: string | undefined, query?: TraceQuery): Promise<Page<Trace>> {
    return this.#storage.listTraces(this.#tenant(tenant), query);
  }

  async inspectTrace(tenantIn: string | undefined, id: string): Promise<TraceDetail> {
    const tenant = this.#tenant(tenantIn);
    // The trace, its flags, chain and checkpoints as of one moment: a run finishing or a flag added
    // while they are read never looks like a record its chain does not bind.
    const { trace, provenance, checkpoints } = await this.#traceSnapshot(tenant, id);
    const quarantine = await this.#storage.getQuarantine(tenant, id);
    // The chain, and the trace bound to it: an output, status or flag rewritten in storage does not
    // verify; nor, for a merge, a parent whose chain no longer holds the head the merge recorded.
    return { trace, provenance, verification: await this.#verifyChain(trace, provenance), checkpoints, flags: trace.flags, quarantined: quarantine?.quarantined ?? false };
  }

  /**
   * verifyTraceChain, and for a merge the chain heads it recorded of its parents — and they of
   * theirs, over its merge ancestry — against their chains as stored now (verifyMergeAncestry).
   */
  #verifyChain(trace: Trace, provenance: readonly ProvenanceEntry[]): Promise<ChainVerification> {
    return verifyMergeAncestryAsync(verifyTraceChain(trace, provenance), trace.id, provenance, (id) => this.#storage.listProvenance(trace.tenant, id));
  }

  async #requireTrace(tenant: string, id: string): Promise<Trace> {
    const trace = await this.#storage.getTrace(tenant, id);
    if (!trace) throw new LimitError('LIMIT_NOT_FOUND', `Trace "${id}" not found for tenant "${tenant}"`, { details: { traceId: id, tenant } });
    return trace;
  }

  /**
   * #requireTrace for each id, read at once; a missing one is reported as the first missing in the
   * order given, whichever read ended first (allInOrder) — the same request always gets the same answer.
   */
  #requireTraces(tenant: string, ids: readonly string[]): Promise<Trace[]> {
    return allInOrder(ids.map((id) => this.#requireTrace(tenant, id)));
  }

  // ───────────────────────────── merges ─────────────────────────────

  merge(given: MergeInput): Promise<MergeOutcome> {
    return this.#track((entry) => this.#merge(given, entry));
  }

  /**
   * `federation`: a federation's merge (federate()), whose metadata gets `federation: true` and the
   * branches it left out (`excluded`, also recorded in the `merge` provenance entry). A caller's
   * metadata may not hold these keys (MERGE_SERVER_META_KEYS): only this path writes them.
   */
  async #merge(given: MergeInput, entry: InFlight, federation?: FederatedMerge): Promise<MergeOutcome> {
    const input = { ...checkInput(MergeInputSchema, given, 'merge input'), federation };
    const cancel = cancelOf(input.signal, 'The merge');
    refuseIfCancelled(cancel);
    const tenant = this.#tenant(input.tenant);
    const actor = this.#actor(input.actor);
    const parents = await this.#requireTraces(tenant, input.parentIds);
    const sessions = [...new Set(parents.map((p) => p.sessionId))];
    const sessionId = input.sessionId ?? (sessions.length === 1 ? sessions[0]! : undefined);
    if (!sessionId) {
      throw new LimitError('LIMIT_VALIDATION', `sessionId: the parents come from ${sessions.length} sessions, so name the session that receives the merge`, {
        details: { field: 'sessionId', sessions }, fix: `Add sessionId: one of ${sessions.map((id) => `"${id}"`).join(', ')}, or another open session of the tenant.`,
      });
    }
    await this.#enterOpenSession(tenant, sessionId, entry).catch((error: unknown) => {
      // The session came from the parents, not from the request: say which field would name another.
      if (input.sessionId !== undefined || !isLimitError(error, 'LIMIT_SESSION_CLOSED')) throw error;
      throw new LimitError(error.code, `sessionId: the parents' session "${sessionId}" is closed`, {
        cause: error, details: { ...error.details, field: 'sessionId' },
        fix: 'Add sessionId: an open session of the tenant to receive the merge (a merge goes to its parents\' session only when sessionId is left out).',
      });
    });
    const strategy = input.strategy ?? 'union';
    const request = MergeRequest.parse({ tenant, sessionId, parentIds: input.parentIds, strategy, rationale: input.rationale ?? '', actor });

    const governance = this.#governance;
    refuseIfCancelled(cancel); // before validateMerge, which may count the merge
    // Where the service can count a merge itself, it is counted below once its outcome is known:
    // the orchestrator may still refuse a merge governance allowed.
    const validation = await governance.validateMerge(request, { count: !governance.countMerge });
    let outcome: MergeCount | undefined;
    try {
      const id = await this.#storeMerge(request, parents, validation, input, entry, cancel);
      outcome = validation.review ? 'review' : 'allowed';
      return { trace: await this.#requireTrace(tenant, id), validation };
    } catch (error) {
      // A refusal (an unmergeable parent, a veto, first-success with none, a parent changed meanwhile,
      // too large to store) is `refused`. Cancelled before its write: not made, not refused, not
      // counted. The caller's input error found only now (a majority merge whose parents disagree):
      // not counted either, as input errors found before validation are not. Any other error — a
      // rule or a beforeMerge tap that threw, storage failing — refused nothing: `failed`.
      if (isMergeRefusal(error)) outcome = 'refused';
      else if (error !== cancel?.error && !isLimitError(error, 'LIMIT_VALIDATION')) outcome = 'failed';
      throw error;
    } finally {
      if (outcome) await governance.countMerge?.(tenant, outcome).catch((error: unknown) => this.deps.logger.warn({ err: error, outcome }, 'could not count a merge in the governance statistics'));
    }
  }

  /**
   * The rest of a merge governance validated: the orchestrator's own refusals, the beforeMerge veto,
   * the combined output, then the merged trace stored and governed. Returns its id; throws a refusal.
   */
  async #storeMerge(request: MergeRequest, parents: Trace[], validation: MergeValidation, input: Pick<MergeInput, 'output' | 'metadata'> & { federation?: FederatedMerge | undefined }, entry: InFlight, cancel?: Cancel): Promise<string> {
    const { tenant, sessionId, strategy, actor } = request;
    const refusals = mergeRefusals(validation, parents);
    if (!validation.allowed || refusals.length > 0) {
      throw refused(request.parentIds, refusals.length ? refusals : [{ parentId: '*', reason: 'governance did not allow the merge' }]);
    }
    // After governance's per-parent validation, so refusals name their parents; a veto concerns the
    // merge as a whole (parentId '*').
    const veto = await this.#runtime.hooks.beforeMerge.promise(request);
    if (veto) {
      throw new LimitError('LIMIT_MERGE_REFUSED', `Merge of ${request.parentIds.join(', ')} vetoed by ${veto.by}: ${veto.reason}`, {
        hook: 'beforeMerge', details: { parentIds: request.parentIds, refusals: [{ parentId: '*', reason: `vetoed by ${veto.by}: ${veto.reason}` }], vetoedBy: veto.by },
      });
    }
    const output = strategy === 'custom' ? input.output! : combine(strategy, parents, input.federation?.branches);
    // Each parent's chain head is bound into the merge entry: rewriting a parent later is detectable.
    const heads = await allInOrder(parents.map(async (p) => {
      const entries = await this.#storage.listProvenance(tenant, p.id);
      return { traceId: p.id, seq: entries.at(-1)?.seq ?? null, hash: entries.at(-1)?.hash ?? null };
    }));
    const created = newTrace({
      sessionId, tenant, parentIds: request.parentIds, runner: 'merge',
      task: Task.parse({ kind: 'merge', input: request.rationale || `${strategy} merge of ${request.parentIds.length} traces` }),
      metadata: { ...input.metadata, ...(input.federation ? { federation: true, excluded: input.federation.excluded } : {}), strategy }, output, metrics: { latencyMs: 0 },
    });
    this.#own(entry, created, actor);
    // The merged trace, its merge entry and the validation checkpoint, then output governance on the
    // merged output (a concatenation of clean parents, or a custom output, can be harmful where no
    // parent was), then the outcome — committed together when the governance service can assess.
    const pending: Pending[] = [{ ops: [
      { op: 'createTrace', trace: created },
      ...this.#createdOps(created, actor, { action: 'merge', operation: 'merge', rationale: request.rationale || undefined, source: 'orchestrator:merge', data: { strategy, parents: heads, ...outputDigests(output, created.metrics), ...(input.federation ? { excluded: input.federation.excluded } : {}) } }),
      { op: 'addCheckpoint', checkpoint: { traceId: created.id, label: 'merge:validation', passed: true, details: { review: validation.review, parentIds: request.parentIds }, at: now() } },
    ], committed: async () => {}, cancel }];
    // As in the run pipeline: an evaluation that fails leaves the merged output ungoverned (#salvage).
    let ungoverned = true;
    try {
      const governed = await this.#govern(created, 'output', pending);
      ungoverned = false;
      pending.push(governed);
      const outcome = { decision: governed.verdict.decision, reasons: governed.verdict.reasons };
      if (this.#shouldQuarantine(governed.verdict, governed.trace.flags)) {
        await this.#quarantine(governed.trace, governed, actor, pending.splice(0));
        // A release gives back what the merge would have been without the quarantine: waiting for
        // its review when governance asked for one (never `ok` past it), else its output's status.
        await this.#commitFinal(governed.trace, 'quarantined', actor, [], outcome, created.metadata, validation.review ? 'pending-review' : undefined);
      } else {
        // Only while every parent still has the status it was validated with (checked in this
        // transaction): a parent quarantined meanwhile refuses the merge instead of being in it;
        // under blockUnsafeMerge, also while it holds the flags it was read with (before the check).
        const final: BatchOp[] = validation.review
          ? [
            { op: 'updateTrace', id: created.id, patch: { status: 'pending-review', metadata: created.metadata } },
            { op: 'appendProvenance', input: this.#entry(created.id, actor, 'review-requested', { operation: 'review', data: { status: 'pending-review' } }) },
          ]
          : this.#finishOps(created.id, output.ok ? 'ok' : 'error', actor, outcome, created.metadata); // as a run's: failed parents, a failed merge
        await this.#whileParentsUnchanged(request, parents, (again) => again.review === validation.review,
          (checked) => this.#commit(created, pending, [...this.#parentsUnchanged(checked), ...final]));
      }
    } catch (error) {
      // As in the run pipeline: a merged trace already stored never stays `running`.
      await this.#salvage(created, actor, error, undefined, { ungoverned });
      throw isLimitError(error, 'LIMIT_PAYLOAD_TOO_LARGE') ? mergeTooLarge(error, strategy, request.parentIds.length) : parentChanged(error, request.parentIds, 'stored') ?? error;
    }
    return created.id;
  }

  /**
   * The preconditions of a merge's (or its approval's) write on its parents, as read before the
   * check: each still has its status and, under blockUnsafeMerge (where the check depends on the
   * parents' flags), still holds the same number of flags. A flag added meanwhile refuses the write;
   * #whileParentsUnchanged then checks the merge again, so only a flag the policy acts on refuses it.
   */
  #parentsUnchanged(parents: readonly Trace[]): BatchOp[] {
    return statusUnchangedOps(parents, { flags: this.#governance.policy.blockUnsafeMerge });
  }

  /**
   * Runs `write` with the parents as read before the merge's check (it makes its write conditional
   * on them, #parentsUnchanged). When only their flags changed in between (isFlagsConflict: under
   * blockUnsafeMerge, a flag added to a parent), the parents are read and the merge checked again:
   * if governance still allows it with no refusal and `same(validation)` (a merge does not turn into
   * one waiting for review), the write is tried again with the parents as read now, up to
   * MERGE_WRITE_ATTEMPTS writes; so a flag the policy does not act on never refuses a merge, and one
   * it acts on refuses it with governance's refusal naming the flag. Any other error is thrown as is.
   */
  async #whileParentsUnchanged(request: MergeRequest, parents: readonly Trace[], same: (validation: MergeValidation) => boolean, write: (parents: readonly Trace[]) => Promise<void>, mergeId?: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write(parents);
      } catch (error) {
        if (attempt === MERGE_WRITE_ATTEMPTS || !request.parentIds.some((id) => isFlagsConflict(error, id))) throw error;
        parents = await this.#requireTraces(request.tenant, request.parentIds);
        const again = await this.#governance.validateMerge(request, { count: false }); // counted once, by the caller
        const refusals = mergeRefusals(again, parents);
        if (refusals.length) throw refused(request.parentIds, refusals, mergeId);
        if (!again.allowed || !same(again)) throw error;
      }
    }
  }

  /**
   * A review is work in flight (#track) for the runtime's close, which waits for it (up to
   * closeWaitMs) and refuses one asked for once it has begun (LIMIT_RUNTIME_CLOSED) — rather than
   * let storage close under it. It is not a write into the merge's session (a review is allowed
   * after the session has closed), so a session's close neither waits for it nor cuts it off, and
   * it owns no trace: the runtime's dispose never records the merge it decides as `error`.
   */
  approveMerge(traceId: string, input: ReviewInput): Promise<Trace> {
    return this.#track(() => this.#review(traceId, input, true));
  }

  rejectMerge(traceId: string, input: ReviewInput): Promise<Trace> {
    return this.#track(() => this.#review(traceId, input, false));
  }

  async #review(traceId: string, given: ReviewInput, approved: boolean): Promise<Trace> {
    const input = checkInput(ReviewInputSchema, given, 'review input');
    const cancel = cancelOf(input.signal, 'The review');
    refuseIfCancelled(cancel);
    const tenant = this.#tenant(input.tenant);
    const trace = await this.#requireTrace(tenant, traceId);
    if (trace.status !== 'pending-review') throw await this.#notPendingReview(trace);
    // Who may decide comes first (requireDistinctReviewer): the merge's author hears LIMIT_FORBIDDEN,
    // not the parents' state, which another reviewer would meet.
    await this.#governance.checkReviewer?.(tenant, traceId, input.actor, approved ? 'approve' : 'reject');
    let parents: Trace[] = [];
    if (approved) {
      // Read before the check, so that the approval's write is conditional on what the check saw
      // at the latest (#parentsUnchanged below).
      parents = await this.#requireTraces(tenant, trace.parentIds);
      // The parents may have been flagged or quarantined while the merge waited.
      const again = await this.#governance.validateMerge(this.#reviewRequest(trace, tenant, input), { count: false }); // counted when the merge was made
      const refusals = mergeRefusals(again, parents);
      if (!again.allowed || refusals.length) throw refused(trace.parentIds, refusals.length ? refusals : [{ parentId: '*', reason: 'governance no longer allows the merge' }], traceId);
    }
    // An approval lets the merge follow its output, as a merge made without review does: `ok`, or
    // `error` for a failed output (a union or concat with a failed parent, a custom `ok: false`).
    const status = approved ? outputStatus(trace) : 'rejected';
    const reason = input.rationale ?? (approved ? 'approved' : 'rejected');
    // One transaction, only from pending-review and, for an approval, only while each parent still
    // has the status checked above: of two decisions at once (an approve and a reject), or an
    // approval and a parent's quarantine, the second is refused instead of recorded after the first.
    // The decision's completedAt is part of it: nothing is written after the transaction, so no
    // merge is left decided without it, and a refused decision writes nothing.
    const decide = async (checked: readonly Trace[]) => {
      refuseIfCancelled(cancel); // each write's last point of cancel
      if (this.#governance.review) {
        // The governance service records the decision (status, provenance, checkpoint, statistics).
        await this.#governance.review(tenant, traceId, { approved, reason, actor: input.actor, unchanged: checked });
      } else {
        const completedAt = now();
        await this.#storage.batch(tenant, [
          { op: 'updateTrace', id: traceId, patch: { status, completedAt, metadata: trace.metadata }, ifStatus: 'pending-review' },
          { op: 'appendProvenance', input: this.#entry(traceId, input.actor, approved ? 'approved' : 'rejected', { operation: 'review', rationale: reason, data: { completedAt, status } }) },
          { op: 'addCheckpoint', checkpoint: { traceId, label: 'governance:review', passed: approved, details: { actor: input.actor, reason }, at: now() } },
          ...this.#parentsUnchanged(checked),
        ]);
      }
    };
    try {
      // An approval is written while its parents hold the flags it checked; a flag added meanwhile
      // that the policy does not act on lets it be written after a fresh check (#whileParentsUnchanged).
      if (approved) await this.#whileParentsUnchanged(this.#reviewRequest(trace, tenant, input), parents, () => true, decide, traceId);
      else await decide(parents);
    } catch (error) {
      const changed = parentChanged(error, trace.parentIds, 'approved', traceId);
      if (changed) throw changed;
      // Decided (or quarantined) by someone else since it was read above: said as such, not as the
      // storage batch's refusal of its precondition.
      if (isLimitError(error, 'LIMIT_CONFLICT') && error.details?.traceId === traceId) {
        const current = await this.#requireTrace(tenant, traceId);
        if (current.status !== 'pending-review') throw await this.#notPendingReview(current, error);
      }
      throw error;
    }
    return this.#requireTrace(tenant, traceId);
  }

  /** The merge request an approval checks again: the stored merge's parents and strategy. */
  #reviewRequest(trace: Trace, tenant: string, input: { rationale?: string; actor: string }): MergeRequest {
    return MergeRequest.parse({
      tenant, sessionId: trace.sessionId, parentIds: trace.parentIds, strategy: trace.metadata.strategy ?? 'union', rationale: input.rationale ?? '', actor: input.actor,
    });
  }

  /**
   * LIMIT_CONFLICT for a review of a trace that is not waiting for one: a merge already decided
   * (`Merge "m" is no longer pending review (it is approved)`, from its last review entry), or any
   * other trace with its status.
   */
  async #notPendingReview(trace: Trace, cause?: unknown): Promise<LimitError> {
    const { id, status } = trace;
    const review = trace.runner === 'merge'
      ? (await this.#storage.listProvenance(trace.tenant, id)).findLast((e) => e.action === 'approved' || e.action === 'rejected')
      : undefined;
    const decided = review?.action;
    // The status the decision gave (recorded since approvals follow the output; before, approved was ok).
    const given = (review?.data as { status?: unknown } | undefined)?.status;
    const gave = typeof given === 'string' ? given : decided === 'approved' ? 'ok' : 'rejected';
    const message = decided
      ? `Merge "${id}" is no longer pending review (it is ${decided}${status === gave ? '' : `, and now ${status}`})`
      : trace.runner === 'merge' ? `Merge "${id}" is not pending review (it is ${status})` : `Trace "${id}" is not a merge pending review (it is ${status})`;
    return new LimitError('LIMIT_CONFLICT', message, {
      ...(cause === undefined ? {} : { cause }),
      details: { traceId: id, status, ...(decided ? { decision: decided } : {}) },
      fix: 'Only a merge waiting as pending-review can be approved or rejected, once; merges wait for review only under a governance policy with requireHumanReview (the strict preset).',
    });
  }

  // ───────────────────────────── federation ─────────────────────────────

  async federate(given: FederateInput): Promise<FederationOutcome> {
    const input = checkInput(FederateInputSchema, given, 'federation input') as FederateInput;
    const tenant = this.#tenant(input.tenant);
    const targets = input.targets.map((t, i) => {
      const sessionId = t.sessionId ?? input.sessionId;
      return { runner: t.runner, sessionId, label: t.label ?? `${t.runner}@${sessionId}#${i}` };
    });
    // Before anything runs: an unknown runner, and a session — the receiving one, or a target's —
    // that is missing or closed (a target's named by its place in `targets`), so a mistyped id
    // refuses the federation instead of running, storing and merging the other branches.
    for (const [i, t] of targets.entries()) {
      try {
        this.#runner(t.runner);
      } catch (error) {
        throw atTarget(error, `targets.${i}.runner`, 'Name a runner this runtime registers (listed in the error, `details.available`), or enable its runner plugin in limit.config.ts.');
      }
    }
    await this.#requireOpenSession(tenant, input.sessionId);
    const checked = new Set([input.sessionId]);
    for (const [i, t] of targets.entries()) {
      if (checked.has(t.sessionId)) continue;
      checked.add(t.sessionId);
      await this.#requireOpenSession(tenant, t.sessionId).catch((error: unknown) => {
        throw atTarget(error, `targets.${i}.sessionId`, 'Name an open session of this tenant, or leave the target\'s sessionId out to run it in the receiving session.');
      });
    }
    const strategy = input.aggregate === 'all' ? 'union' : input.aggregate;
    const actor = this.#actor(input.actor);
    const concurrency = Math.max(1, Math.min(input.concurrency ?? targets.length, targets.length));
    const stop = new AbortController();
    const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
    const branches: FederationBranch[] = targets.map((target) => ({ target }));
    let next = 0;
    let winner: number | undefined;

    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= targets.length) return;
        const branch = branches[i]!;
        if (input.signal?.aborted) {
          branch.excluded = `not started: ${aborted(input.signal)}`;
          continue;
        }
        if (stop.signal.aborted) {
          branch.excluded = 'not started: another branch already succeeded';
          continue;
        }
        // The run as #track sees it: when it fails after storing its trace (a governance tap or an
        // afterRun tap throws), the branch still names that trace, so no stored trace goes unlisted.
        let started: InFlight | undefined;
        try {
          const outcome = await this.#track((entry) => {
            started = entry;
            return this.#run({
              tenant, sessionId: branch.target.sessionId, runner: branch.target.runner, task: input.task, actor: input.actor,
              metadata: { ...input.metadata, federation: { label: branch.target.label, aggregate: input.aggregate } }, signal,
            }, entry);
          });
          branch.trace = outcome.trace;
          // An ok branch the merge would refuse (validateMerge: flags the policy acts on under
          // blockUnsafeMerge, a quarantine since, …) is excluded as a failed one is: it never wins
          // first-success (the fan-out goes on) and counts toward no aggregate.
          if (outcome.trace.status === 'ok') branch.excluded = await this.#unmergeableBranch(outcome.trace, input.sessionId, strategy, actor);
          if (outcome.trace.status === 'ok' && !branch.excluded && input.aggregate === 'first-success' && winner === undefined) {
            winner = i;
            stop.abort(new LimitError('LIMIT_RUNNER_ABORTED', `Another branch (${branch.target.label}) succeeded first`));
          }
        } catch (error) {
          branch.error = { code: isLimitError(error) ? error.code : 'LIMIT_RUNNER_FAILED', message: error instanceof Error ? error.message : String(error) };
          const id = started?.trace?.id;
          const stored = id ? await this.#storage.getTrace(tenant, id).catch(() => null) : null;
          if (stored) branch.trace = stored;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));

    // Which branches may enter the merge: only `ok` traces governance allows as parents (checked as
    // each branch ended). Quarantined, blocked, failed and unmergeable branches are excluded (and
    // named in the merge's provenance), not passed on to be refused.
    for (const b of branches) {
      if (b.excluded) continue;
      if (b.error) {
        b.excluded = b.trace
          ? `failed after its trace was recorded (${b.error.code}: ${b.error.message}); the trace is ${b.trace.status}`
          : `failed before a trace was recorded: ${b.error.message}`;
      }
      else if (b.trace && b.trace.status !== 'ok') b.excluded = describeStatus(b.trace);
    }
    if (input.signal?.aborted) {
      // The caller asked to stop: no aggregate and no merge; what ran is kept in the branches.
      return { branches, aggregate: { strategy: input.aggregate, ok: false, traceIds: [], reason: aborted(input.signal) } };
    }
    // In target order, whatever order the branches finished in: the same call gives the same merge.
    const eligible = branches.filter((b) => !b.excluded && b.trace);
    const aggregate: FederationOutcome['aggregate'] = { strategy: input.aggregate, ok: false, traceIds: [] };
    if (input.aggregate === 'all') {
      aggregate.traceIds = eligible.map((b) => b.trace!.id);
      aggregate.ok = eligible.length === branches.length;
      if (!aggregate.ok) aggregate.reason = `${branches.length - eligible.length} of ${branches.length} branches did not succeed`;
    } else if (input.aggregate === 'first-success') {
      const win = winner === undefined ? undefined : branches[winner];
      for (const b of branches) if (b !== win && !b.excluded) b.excluded = 'not the first success';
      if (win?.trace) {
        aggregate.ok = true;
        aggregate.traceIds = [win.trace.id];
        aggregate.stdout = win.trace.output?.stdout;
      } else aggregate.reason = 'no branch succeeded';
    } else {
      const groups = new Map<string, FederationBranch[]>();
      for (const b of eligible) {
        const k = (b.trace!.output?.stdout ?? '').trim();
        groups.set(k, [...(groups.get(k) ?? []), b]);
      }
      const best = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0];
      if (best && best[1].length * 2 > branches.length) {
        aggregate.ok = true;
        aggregate.stdout = best[0];
        aggregate.traceIds = best[1].map((b) => b.trace!.id);
        for (const b of eligible) if (!best[1].includes(b)) b.excluded = 'disagrees with the majority';
      } else aggregate.reason = `no output is shared by a strict majority of ${branches.length} branches`;
    }

    const result: FederationOutcome = { branches, aggregate };
    if (input.merge !== false && aggregate.traceIds.length > 0) {
      const excluded = branches.filter((b) => b.excluded && b.trace).map((b) => ({ traceId: b.trace!.id, reason: b.excluded! }));
      try {
        // The caller's metadata, as each branch gets it, less the keys the merge writes itself
        // (`federation`, `excluded`, `strategy`), which replace a caller's key of the same name.
        const metadata = input.metadata && Object.fromEntries(Object.entries(input.metadata).filter(([k]) => !(MERGE_SERVER_META_KEYS as readonly string[]).includes(k)));
        result.merge = await this.#track((entry) => this.#merge({
          tenant, sessionId: input.sessionId, parentIds: aggregate.traceIds,
          strategy,
          rationale: input.rationale ?? `federated ${input.aggregate} over ${branches.length} branches`,
          actor: input.actor, metadata, signal: input.signal,
        }, entry, { excluded, branches: branches.length }));
      } catch (error) {
        // The caller aborted while the merge was being made (before its write): as an abort during
        // the fan-out, neither an aggregate nor a merge is made; the branches that ran are kept.
        if (input.signal?.aborted && isLimitError(error, abortReason(input.signal).code)) {
          return { branches, aggregate: { strategy: input.aggregate, ok: false, traceIds: [], reason: aborted(input.signal) } };
        }
        // The branches ran and are stored: a merge refused or failed now is reported with them, not thrown.
        if (!isLimitError(error)) this.deps.logger.error({ err: error, sessionId: input.sessionId }, 'a federation\'s merge failed');
        const message = error instanceof Error ? error.message : String(error);
        result.merge = {
          refused: true, code: isLimitError(error) ? error.code : 'LIMIT_INTERNAL', message,
          refusals: isLimitError(error, 'LIMIT_MERGE_REFUSED') ? ((error.details?.refusals as { parentId: string; reason: string }[]) ?? []) : [{ parentId: '*', reason: message }],
        };
      }
    }
    return result;
  }

  /**
   * Why the `ok` trace of a federation branch may not be a parent of its merge, as the merge would
   * check it (validateMerge, not counted, and the statuses the orchestrator refuses), or undefined
   * when it may. A check that fails (storage unavailable) excludes the branch, saying so.
   */
  async #unmergeableBranch(trace: Trace, sessionId: string, strategy: MergeRequest['strategy'], actor: string): Promise<string | undefined> {
    try {
      const request = MergeRequest.parse({ tenant: trace.tenant, sessionId, parentIds: [trace.id], strategy, rationale: '', actor });
      const validation = await this.#governance.validateMerge(request, { count: false });
      const refusals = mergeRefusals(validation, [trace]);
      if (validation.allowed && refusals.length === 0) return undefined;
      const reasons = refusals.map((r) => r.reason).join('; ') || 'governance did not allow it';
      return `status ok, but governance refuses it as a merge parent (${reasons})`;
    } catch (error) {
      const code = isLimitError(error) ? error.code : 'LIMIT_INTERNAL';
      return `status ok, but whether governance allows it as a merge parent could not be checked (${code}: ${error instanceof Error ? error.message : String(error)})`;
    }
  }

  // ───────────────────────────── rate–distortion ─────────────────────────────

  /**
   * A write into its session, as a recorded trace is (#track, #enterOpenSession): a close that begins
   * meanwhile waits for it, or refuses it (LIMIT_SESSION_CLOSED).
   */
  createRdSeries(given: CreateRdSeriesInput): Promise<RdSeries> {
    return this.#track((entry) => this.#createRdSeries(given, entry));
  }

  async #createRdSeries(given: CreateRdSeriesInput, entry: InFlight): Promise<RdSeries> {
    const input = checkInput(CreateRdSeriesInputSchema, given, 'RD series input') as CreateRdSeriesInput;
    const tenant = this.#tenant(input.tenant);
    await this.#enterOpenSession(tenant, input.sessionId, entry);
    const algorithm = input.distortionAlgorithm ?? 'fgw';
    // Without a reference no step is ever measured: an algorithm or options given would be dropped unused.
    if (!input.reference) {
      for (const field of ['distortionAlgorithm', 'distortionOptions'] as const) {
        if (input[field] === undefined) continue;
        throw new LimitError('LIMIT_RD_INVALID_INPUT', `${field}: applies only to a series with a reference graph (graph steps are measured against it); this series has none, so every step gives its distortion`, {
          details: { field },
          fix: `Give \`reference\` with ${field}, or leave ${field} out.`,
        });
      }
    } else {
      // Fail now, not at every graph step: the algorithm exists, and (when it can tell without
      // measuring) the reference and the options are ones it can measure. Nothing is stored otherwise.
      const rd = this.#rd(algorithm);
      if (rd.validate) {
        try {
          rd.validate(input.reference as AttributedGraph, input.distortionOptions as DistortionOptions | undefined);
        } catch (error) {
          throw asSeriesField(error);
        }
      }
    }
    const id = newId();
    return this.#gatedRd(entry, tenant, input.sessionId, `RD series "${input.name}"`, { seriesId: id }, () => this.#storage.createRdSeries({
      id, sessionId: input.sessionId, tenant, name: input.name, points: [], createdAt: now(),
      metadata: {
        ...input.metadata,
        ...(input.reference ? { reference: input.reference, distortionAlgorithm: algorithm } : {}),
        ...(input.distortionOptions ? { distortionOptions: input.distortionOptions } : {}),
      },
    }));
  }

  #rd(name: string) {
    const k = `rd:${name}` as const;
    if (!this.deps.container.has(k)) {
      throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No RD algorithm "${name}" is registered (rd:${name})`, { details: { key: k }, fix: `Enable the rd-${name} plugin in limit.config.ts.` });
    }
    return this.deps.container.resolve(k);
  }

  /**
   * A write into the series' session, as a recorded trace is (#track, #enterOpenSession): a close that
   * begins while the step's graph is measured waits for the step (up to closeWaitMs), then cuts it
   * off (LIMIT_SESSION_CLOSED, no point written); one that began before refuses it.
   */
  recordRdStep(seriesId: string, given: RdStepInput): Promise<RdPointAppended> {
    return this.#track((entry) => this.#recordRdStep(seriesId, given, entry));
  }

  async #recordRdStep(seriesId: string, given: RdStepInput, entry: InFlight): Promise<RdPointAppended> {
    const input = checkInput(RdStepInputSchema, given, 'RD step input') as RdStepInput;
    const tenant = this.#tenant(input.tenant);
    // The series without its points: a step reads and returns none of the others.
    const series = await this.#storage.getRdSeriesSummary(tenant, seriesId);
    if (!series) throw new LimitError('LIMIT_NOT_FOUND', `RD series "${seriesId}" not found for tenant "${tenant}"`, { details: { seriesId } });
    // A closed session is said of the series the step names (`details.seriesId`), which the caller gave.
    await this.#enterOpenSession(tenant, series.sessionId, entry, { seriesId });
    // A full series is refused before a distortion is measured for it (storage checks again, with the point's size).
    assertRdPointsFit(seriesId, { count: series.pointCount, bytes: series.pointBytes }, { count: 1, bytes: 0 }, this.#storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
    if ((input.graph === undefined) === (input.distortion === undefined)) {
      throw new LimitError('LIMIT_RD_INVALID_INPUT', 'An RD step gives exactly one of `graph` or `distortion`', { details: { seriesId } });
    }
    // Before a graph is measured: a step every later default step can follow (the next is max + 1).
    const step = input.step ?? series.nextStep;
    if (step >= Number.MAX_SAFE_INTEGER) {
      throw new LimitError(
        'LIMIT_RD_INVALID_INPUT',
        input.step !== undefined
          ? `step: ${input.step} leaves RD series "${seriesId}" no next step (a step without \`step\` is the largest plus 1, which must stay a safe integer); use a step below ${Number.MAX_SAFE_INTEGER}`
          : `RD series "${seriesId}" has no next step: its largest step is ${series.nextStep - 1}; give \`step\` explicitly`,
        { details: { seriesId, field: 'step', step }, fix: `Give steps below ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER).` },
      );
    }
    let distortion = input.distortion;
    let meta = input.meta;
    if (input.graph) {
      const reference = series.metadata.reference as AttributedGraph | undefined;
      if (!reference) throw new LimitError('LIMIT_RD_INVALID_INPUT', `RD series "${seriesId}" has no reference graph to measure a step's graph against`, { details: { seriesId } });
      const algorithm = (series.metadata.distortionAlgorithm as string | undefined) ?? 'fgw';
      const stored = series.metadata.distortionOptions as DistortionOptions | undefined;
      const limited = input.timeLimitMs !== undefined ? { ...stored, timeLimitMs: input.timeLimitMs } : stored;
      const options = input.signal !== undefined ? { ...limited, signal: input.signal } : limited;
      // Off the event loop when the algorithm has distortionAsync (rd-fgw: a worker thread).
      let result: DistortionResult;
      try {
        result = await measureDistortion(this.#rd(algorithm), input.graph, reference, options);
      } catch (error) {
        throw asStepField(error);
      }
      distortion = nonNegative(result.value, algorithm, seriesId);
      meta = { ...meta, algorithm, iterations: result.iterations, converged: result.converged, nodes: input.graph.nodes.length, edges: input.graph.edges.length };
    }
    // Without `step`, storage gives the point the series' next step in the append's own transaction
    // (read after the graph was measured): steps recorded at once, by any process, get distinct steps.
    const point = { ...(input.step !== undefined ? { step: input.step } : {}), rate: input.rate, distortion: distortion!, ...(meta ? { meta } : {}) };
    return this.#gatedRd(entry, tenant, series.sessionId, `the point of RD series "${seriesId}"`, { seriesId }, () => this.#storage.appendRdPoint(tenant, seriesId, point));
  }

  async rdKnee(tenantIn: string | undefined, seriesId: string, detector?: string): Promise<RdKnee> {
    const tenant = this.#tenant(tenantIn);
    const series = await this.#storage.getRdSeries(tenant, seriesId);
    if (!series) throw new LimitError('LIMIT_NOT_FOUND', `RD series "${seriesId}" not found for tenant "${tenant}"`, { details: { seriesId } });
    const name = this.#kneeName(detector);
    const points = [...series.points].sort((a, b) => a.rate - b.rate || a.step - b.step);
    // A point the detector refuses is named by the series and its step (stored data, not a field of the call).
    const pointName = (k: number) => ({ field: 'series', label: `RD series "${seriesId}", step ${points[k]!.step} (rate ${points[k]!.rate}, distortion ${points[k]!.distortion})` });
    // A call option the detector suggests (Menger's normalize: true) is the plugin's configured one here: a stored series' knee uses it.
    const optionHint = (key: string, value: unknown, plugin: string | undefined) =>
      `set plugins['${plugin ?? `knee-${name}`}'].${key}: ${JSON.stringify(value)} in the config (the knee of a stored series uses the detector's configured options)`;
    const index = detectKnee(this.deps.container.resolve(`knee:${name}`), name, points.map((p) => ({ x: p.rate, y: p.distortion })), undefined, { pointName, optionHint });
    return { seriesId, detector: name, index, point: index === null ? null : (points[index] ?? null), points };
  }

  /**
   * The knee detector `detector` names (`knee:<detector>`), or the default (`kneedle` when present, else
   * `menger`); LIMIT_SERVICE_NOT_FOUND when it is not registered.
   */
  #kneeName(detector: string | undefined): string {
    const name = detector ?? (this.deps.container.has('knee:kneedle') ? 'kneedle' : this.deps.container.has('knee:menger') ? 'menger' : undefined);
    if (!name || !this.deps.container.has(`knee:${name}`)) {
      throw new LimitError('LIMIT_SERVICE_NOT_FOUND', `No knee detector ${name ? `"${name}" ` : ''}is registered`, {
        details: { key: `knee:${name ?? '*'}` }, fix: 'Enable the knee-kneedle or knee-menger plugin in limit.config.ts.',
      });
    }
    return name;
  }

  async refine(given: RefineInput): Promise<{ series: RdSeries; knee: RdKnee }> {
    const { maxSteps: _steps, step: _step, detector: _detector, signal: _signal, ...seriesInput } = checkInput(RefineInputSchema, given, 'refine input');
    const input = given;
    const { signal } = input;
    if (signal?.aborted) throw refineAborted(signal);
    // The knee detector is resolved before the series is created and any step runs (createRdSeries
    // resolves the RD algorithm of a series with a reference the same way): a refinement that cannot
    // end with its knee stores nothing.
    this.#kneeName(input.detector);
    const created = await this.createRdSeries(seriesInput as CreateRdSeriesInput);
    const context = { signal: signal ?? NEVER_ABORTED };
    let recorded = 0;
    for (let i = 0; i < input.maxSteps; i++) {
      if (signal?.aborted) throw refineAborted(signal, created.id, recorded);
      try {
        const step = await input.step(i, context);
        if (step === null) break;
        if (signal?.aborted) throw refineAborted(signal, created.id, recorded);
        // The measurement of the step's graph stops on either the step's own signal or the refinement's.
        const stop = step.signal && signal ? AbortSignal.any([step.signal, signal]) : (step.signal ?? signal);
        await this.recordRdStep(created.id, { ...step, tenant: created.tenant, step: i, ...(stop ? { signal: stop } : {}) });
      } catch (error) {
        // A step given up on (by its callback, or its measurement aborted) once the refinement's signal aborted is its cancel.
        if (signal?.aborted) throw refineAborted(signal, created.id, recorded);
        throw error;
      }
      recorded++;
    }
    // Read once, at the end: each step returned only its own point.
    const series = (await this.#storage.getRdSeries(created.tenant, created.id)) ?? created;
    return { series, knee: await this.rdKnee(series.tenant, series.id, input.detector) };
  }

  // ───────────────────────────── artifacts ─────────────────────────────

  async exportArtifact(given: ExportInput): Promise<ArtifactExport> {
    const input = checkInput(ExportInputSchema, given, 'export input');
    try {
      return await this.#exportArtifact(input);
    } catch (error) {
      // Too large is said of what chose the traces (`details.field`): the session, or the trace ids.
      if (!isLimitError(error, 'LIMIT_PAYLOAD_TOO_LARGE') || error.details?.field !== undefined) throw error;
      throw new LimitError(error.code, error.message, { cause: error, details: { ...error.details, field: input.sessionId !== undefined ? 'sessionId' : 'traceIds' }, fix: error.fix });
    }
  }

  async #exportArtifact(input: ReturnType<typeof ExportInputSchema.parse>): Promise<ArtifactExport> {
    const tenant = this.#tenant(input.tenant);
    // An export only reads: a cancel is checked before each read (a page, a trace) and leaves nothing.
    const cancel = cancelOf(input.signal, 'The export');
    refuseIfCancelled(cancel);
    let ids: string[];
    if (input.sessionId) {
      await this.#requireSession(tenant, input.sessionId);
      ids = await this.#sessionTraceIds(tenant, input.sessionId, new ArtifactBudget(input.format, input.maxChars), cancel);
    } else {
      ids = input.traceIds!;
    }
    // Counted as read: an export over its limit is refused once what was read is over it, not at the end.
    const budget = new ArtifactBudget(input.format, input.maxChars);
    const snapshots: TraceSnapshot[] = [];
    for (const id of ids) {
      refuseIfCancelled(cancel);
      const snapshot = await this.#traceSnapshot(tenant, id);
      budget.addTrace(snapshot);
      snapshots.push(snapshot);
      await nextTurn();
    }
    refuseIfCancelled(cancel);
    snapshots.sort((a, b) => a.trace.createdAt.localeCompare(b.trace.createdAt) || a.trace.id.localeCompare(b.trace.id));
    const traces = snapshots.map((s) => s.trace);
    const sessionIds = input.sessionId ? [input.sessionId] : [...new Set(traces.map((t) => t.sessionId))].sort();
    const sessions = (await allInOrder(sessionIds.map((id) => this.#storage.getSession(tenant, id)))).filter((s): s is Session => s !== null);
    const rdSeries = (await allInOrder(sessionIds.map((id) => this.#storage.listRdSeries(tenant, { sessionId: id })))).flat();
    budget.add(sessions);
    // A series' metadata is not in rd_points.csv: its points are what every format writes.
    budget.add(rdSeries.map((r) => r.points));
    const data: ArtifactData = {
      tenant, sessionIds, traceIds: traces.map((t) => t.id), sessions, traces,
      provenance: snapshots.flatMap((s) => s.provenance),
      // A trace's own flags (storage adds each flag to its trace in the same write), so flagCount and flags agree.
      flags: traces.flatMap((t) => t.flags),
      checkpoints: snapshots.flatMap((s) => s.checkpoints),
      rdSeries,
    };
    return buildArtifact(data, input.format, now(), input.maxChars);
  }

  /**
   * One trace as of one moment, however it is being written meanwhile: its chain and checkpoints,
   * then the trace (with its flags), then the chain and checkpoints again. Both lists only grow, so
   * when the second reads find them unchanged they held all along, the trace read included, and
   * every write to the trace (one transaction: record, flags, entries, checkpoints) is wholly in the
   * snapshot or wholly out — a run finishing during the export never looks like a broken chain.
   * A trace still `running` is exported as it stands at that moment, and verifies as such.
   */
  async #traceSnapshot(tenant: string, id: string): Promise<TraceSnapshot> {
    const read = async () => ({ provenance: await this.#storage.listProvenance(tenant, id), checkpoints: await this.#storage.listCheckpoints(tenant, id) });
    let before = await read();
    for (let attempt = 1; ; attempt++) {
      const trace = await this.#requireTrace(tenant, id);
      const after = await read();
      const same = after.provenance.length === before.provenance.length && after.provenance.at(-1)?.hash === before.provenance.at(-1)?.hash
        && after.checkpoints.length === before.checkpoints.length;
      if (same) return { trace, ...before };
      if (attempt === SNAPSHOT_ATTEMPTS) {
        throw new LimitError('LIMIT_CONFLICT', `Trace "${id}" changed during each of ${SNAPSHOT_ATTEMPTS} reads for the export, so no consistent copy of it was taken`, {
          details: { traceId: id, tenant },
          fix: 'Export again once the trace is no longer being written to (its run has ended, its review is decided).',
        });
      }
      before = after;
    }
  }

  /**
   * The ids of a session's traces, a page at a time: each page is counted against the export's
   * `budget` and dropped, so a session too large to export is refused after reading about the
   * limit's worth of it, and never held whole. Pages are no larger than the export may be. `cancel`
   * is checked before each page.
   */
  async #sessionTraceIds(tenant: string, sessionId: string, budget: ArtifactBudget, cancel: Cancel | undefined): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      refuseIfCancelled(cancel);
      const page = await this.#storage.listTraces(tenant, { sessionId, limit: 1000, maxBytes: Math.min(MAX_PAGE_BYTES, budget.maxChars), ...(cursor ? { cursor } : {}) });
      for (const trace of page.items) {
        budget.addTrace(trace);
        ids.push(trace.id);
      }
      cursor = page.nextCursor ?? undefined;
      await nextTurn();
    } while (cursor);
    return ids;
  }

  verifyArtifact(files: { path: string; content: string }[]) {
    return verifyArtifactFiles(checkInput(ArtifactFilesSchema, files, 'artifact files'));
  }
}

// ───────────────────────────── helpers ─────────────────────────────

type NewTraceFields = Pick<Trace, 'sessionId' | 'tenant' | 'parentIds' | 'runner' | 'task' | 'metadata'> & Partial<Pick<Trace, 'output' | 'metrics'>>;

/** A run, recorded trace, merge, RD series or point in progress (#track), and once known the trace it writes (none for RD), with what #salvage needs. */
interface InFlight {
  done?: Promise<unknown>;
  trace?: Trace;
  actor?: string;
  /** The ops that store the trace, while it is not stored yet (a recorded trace). */
  creation?: BatchOp[];
  /** The session (key(tenant, id)) the work entered: a close of it that outlasts closeWaitMs cuts the work off, trace or not. */
  session?: string;
  /** Set by a close of its session that did not see it finish within closeWaitMs (#cutOff): it writes nothing more. */
  cutOff?: boolean;
  /** Its writes under way (#gated), which a cut-off waits for. */
  writing?: Set<Promise<unknown>>;
}

/**
 * A caller's cancellation of a record that is not written yet (a recorded trace, a merge, a review's
 * decision), or of an export (which only reads): refuseIfCancelled throws `error` (made once, so
 * the caller can tell it from a failure).
 */
interface Cancel {
  signal: AbortSignal;
  /** The subject of the error's message (`Recording the trace was aborted: …`). */
  what: string;
  error?: LimitError;
}

const cancelOf = (signal: AbortSignal | undefined, what: string): Cancel | undefined => (signal ? { signal, what } : undefined);

/** The `step` context of a refinement whose caller gave no signal. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * Why a refinement stopped: abortReason's error (the signal's reason's code when it is a
 * LimitError), saying how many steps were recorded in which series (`details.seriesId`, `steps`),
 * or that the series was not created.
 */
function refineAborted(signal: AbortSignal, seriesId?: string, steps = 0): LimitError {
  const reason = abortReason(signal, 'The refinement');
  const where = seriesId === undefined
    ? 'the refinement stopped before creating its RD series'
    : `the refinement stopped after recording ${steps} step${steps === 1 ? '' : 's'} in RD series "${seriesId}", which keeps them`;
  return new LimitError(reason.code, `${reason.message} (${where})`, {
    details: { ...reason.details, ...(seriesId !== undefined ? { seriesId } : {}), steps }, cause: reason,
  });
}

/** Throws the cancel's LIMIT_RUNNER_ABORTED (abortReason) once its signal has aborted. */
function refuseIfCancelled(cancel: Cancel | undefined): void {
  if (cancel?.signal.aborted) throw (cancel.error ??= abortReason(cancel.signal, cancel.what));
}

/** The ops that store a recorded trace, and its caller's cancellation until they are written. */
interface Creation {
  ops: BatchOp[];
  cancel?: Cancel;
}

/** Records a pipeline has yet to commit, and what to run once they are. */
interface Pending {
  ops: BatchOp[];
  committed: () => Promise<void>;
  /** The trace these ops create (their first op), when it is not stored yet. */
  creates?: Trace;
  /** The caller's cancellation of the record these ops create, until they are written (#write). */
  cancel?: Cancel;
  /** The auto-quarantine among `ops` (governance's quarantineOps), left out when the trace was quarantined meanwhile. */
  quarantineOps?: BatchOp[];
}

/** Leaves the auto-quarantine records out of pending ops; whether there were any. */
function withoutQuarantine(pending: Pending[]): boolean {
  let dropped = false;
  for (const p of pending) {
    if (!p.quarantineOps?.length) continue;
    const drop = new Set(p.quarantineOps);
    p.ops = p.ops.filter((op) => !drop.has(op));
    p.quarantineOps = [];
    dropped = true;
  }
  return dropped;
}

/** The status a trace's output calls for — a release gives it back to a trace the pipeline quarantined itself, an approval to a merge: `ok`, or `error` for a failed output. */
const outputStatus = (trace: Trace): Trace['status'] => (trace.output?.ok === false ? 'error' : 'ok');

/** One surface's governance: the verdict, the trace with its new flags, records still to commit. */
interface Governed extends Pending {
  trace: Trace;
  verdict: GovernanceVerdict;
}

const withFlags = (trace: Trace, flags: Flag[]): Trace => (flags.length ? { ...trace, flags: [...trace.flags, ...flags] } : trace);

type CreatedEntry = { source?: string; action?: string; operation?: ProvenanceInput['operation']; rationale?: string; data?: Record<string, unknown> };

/** A trace as first stored: `running`, no flags yet. */
function newTrace(fields: NewTraceFields): Trace {
  return {
    id: newId(), sessionId: fields.sessionId, tenant: fields.tenant, parentIds: fields.parentIds, runner: fields.runner,
    task: fields.task, status: 'running', flags: [], createdAt: now(), metadata: fields.metadata,
    ...(fields.output ? { output: fields.output } : {}), ...(fields.metrics ? { metrics: fields.metrics } : {}),
  };
}

/** The sizes of a trace's parts that can be large: characters of a text, JSON characters of anything else. */
function traceFieldSizes(trace: Trace): Record<string, number> {
  const { input, kind: _kind, ...task } = trace.task;
  const sizes: Record<string, number> = { 'task.input': input.length };
  for (const [k, v] of Object.entries(task)) if (v !== undefined) sizes[`task.${k}`] = JSON.stringify(v).length;
  if (trace.output) {
    sizes['output.stdout'] = trace.output.stdout.length;
    sizes['output.stderr'] = trace.output.stderr.length;
    if (trace.output.value !== undefined) sizes['output.value'] = JSON.stringify(trace.output.value).length;
    if (trace.output.error) sizes['output.error'] = JSON.stringify(trace.output.error).length;
  }
  if (Object.keys(trace.metadata).length) sizes.metadata = JSON.stringify(trace.metadata).length;
  return sizes;
}

const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

/** Lets other requests (GET /health among them) run between the reads of a long export. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A runner's output as text every backend stores alike: half a surrogate pair (a task printing
 * `'\ud83d'`, which Python's JSON and JavaScript's strings allow) becomes U+FFFD, as a UTF-8 decoder
 * would make it — PostgreSQL refuses such strings, and they are not Unicode text anywhere.
 */
function wellFormed(output: RunOutput): RunOutput {
  // JSON.stringify escapes exactly the lone surrogates: without such an escape there is nothing to mend.
  if (!/\\u[dD][89a-fA-F]/.test(JSON.stringify(output))) return output;
  return mapStringsDeep(output, toWellFormed);
}

/**
 * The rejection handler of a governance call under a run's `signal`: undefined (no verdict) when the
 * signal has aborted — the evaluation was cancelled, it rejects with the signal's reason, or with an
 * AbortError of a service of its own — else the error goes on.
 */
function cancelledBy(signal: AbortSignal | undefined) {
  return (error: unknown): undefined => {
    if (signal?.aborted && (error === signal.reason || (error instanceof Error && error.name === 'AbortError') || isLimitError(error, 'LIMIT_RUNNER_ABORTED'))) return undefined;
    throw error;
  };
}

/** What a `completed` entry says of an input governance evaluation the run's cancel aborted. */
function abortedData(signal: AbortSignal) {
  const reason = abortReason(signal);
  return { during: 'governance:input', code: reason.code, message: reason.message };
}

/** A LimitError about a federation target's field, said of that field (`targets.2.runner: …`, `details.field`); anything else as is. */
function atTarget(error: unknown, field: string, fix: string): unknown {
  if (!isLimitError(error)) return error;
  return new LimitError(error.code, `${field}: ${error.message}`, { cause: error, details: { ...error.details, field }, fix });
}

/** Why a federation stopped early, from the caller's aborted signal. */
const aborted = (signal: AbortSignal) => `the federation was aborted${abortMessage(signal) ? ` (${abortMessage(signal)})` : ''}`;

/** `about`: the record the caller named that lives in the session (an RD series' `seriesId`), for a session it did not name. */
const sessionClosed = (tenant: string, id: string, about?: Record<string, unknown>) =>
  new LimitError('LIMIT_SESSION_CLOSED', `Session "${id}" is closed`, { details: { sessionId: id, tenant, ...about } });

/** A beforeRun tap's result: RunRequest, with no key RunRequest or Task does not have, and no merge's runner or task kind (as the caller's request). */
const TappedRunRequest = RunRequest.extend({ task: Task.strict() }).strict().superRefine(refuseMergeMarkers);

function validation(what: string, issues: readonly { path: PropertyKey[]; message: string }[]): LimitError {
  const text = issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  return new LimitError('LIMIT_VALIDATION', `Invalid ${what}: ${text}`, { details: { issues: issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) } });
}

/** Storage's refusal of a record too large, said of the merge that made it, with what to do instead. */
function mergeTooLarge(error: LimitError, strategy: string, parents: number): LimitError {
  return new LimitError('LIMIT_PAYLOAD_TOO_LARGE', `The ${strategy} merge of ${parents} parents is too large to store: ${error.message}`, {
    cause: error, details: { ...error.details, strategy, parents },
    fix: "Merge fewer parents (the merge's provenance entry names each one), or keep less of their output: `concat`, `first-success` or `majority` instead of `union` (which keeps every parent's stdout twice, in stdout and in value); a federation can skip its merge with `merge: false`.",
  });
}

/**
 * A merge's batch refused because a parent's status changed after the merge checked it (its
 * statusUnchangedOps precondition; a quarantine, most often): the merge refused, naming the parent
 * and its status now. Undefined for any other error.
 */
function parentChanged(error: unknown, parentIds: readonly string[], what: 'stored' | 'approved', mergeId?: string): LimitError | undefined {
  if (!isLimitError(error, 'LIMIT_CONFLICT')) return undefined;
  const parentId = parentIds.find((id) => isStatusConflict(error, id) || isFlagsConflict(error, id));
  if (parentId === undefined) return undefined;
  const details = error.details ?? {};
  const status = String(details.status);
  const reason = isFlagsConflict(error, parentId)
    ? `trace was flagged while the merge was being ${what} (${String(details.flagCount)} flags, checked with ${String(details.expectedFlagCount)}); under blockUnsafeMerge its flags are checked again when the merge is tried again`
    : `trace ${UNMERGEABLE[status] ?? `is ${status}`} (its status changed from ${String(details.expected)} while the merge was being ${what})`;
  return new LimitError('LIMIT_MERGE_REFUSED', `Merge of ${parentIds.join(', ')} refused: ${parentId}: ${reason}`, {
    cause: error, details: { ...(mergeId ? { traceId: mergeId } : {}), parentIds: [...parentIds], refusals: [{ parentId, reason }] },
  });
}

/** Governance's refusals of a merge, and a refusal for each parent whose status makes it unmergeable that governance did not name. */
function mergeRefusals(validation: MergeValidation, parents: readonly Trace[]): { parentId: string; reason: string }[] {
  const refusals = [...validation.refusals];
  for (const p of parents) {
    const why = UNMERGEABLE[p.status];
    if (why && !refusals.some((r) => r.parentId === p.id)) refusals.push({ parentId: p.id, reason: `trace ${why}` });
  }
  return refusals;
}

/** A merge refused (LIMIT_MERGE_REFUSED: a parent, a veto, first-success with none; or too large to store), as `merges.refused` counts it. */
function isMergeRefusal(error: unknown): boolean {
  return isLimitError(error, 'LIMIT_MERGE_REFUSED') || isLimitError(error, 'LIMIT_PAYLOAD_TOO_LARGE');
}

/**
 * LIMIT_MERGE_REFUSED. `mergeId`, for the approval of a merge already stored, is its `details.traceId`:
 * the id the request named (the API's `params.id`), where the parents are not in the request.
 */
function refused(parentIds: string[], refusals: { parentId: string; reason: string }[], mergeId?: string): LimitError {
  return new LimitError('LIMIT_MERGE_REFUSED', `Merge of ${parentIds.join(', ')} refused: ${refusals.map((r) => `${r.parentId}: ${r.reason}`).join('; ')}`, {
    details: { ...(mergeId ? { traceId: mergeId } : {}), parentIds, refusals },
  });
}

/**
 * An algorithm's refusal of an RD series' reference or options, named by the series input's fields:
 * the reference was checked as the source (`source.nodes[1].id` → `reference.nodes[1].id`; `target`
 * likewise, `input` is the reference as a whole), and an option (`options.epsilon`, or a bare option
 * name such as `epsilon` or `unreachable`) is one of `distortionOptions`.
 */
function asSeriesField(error: unknown): unknown {
  if (!isLimitError(error) || typeof error.details?.field !== 'string') return error;
  const field = error.details.field;
  const head = /^[A-Za-z]+/.exec(field)?.[0] ?? '';
  const rest = field.slice(head.length);
  const renamed =
    head === 'source' || head === 'target' || head === 'input' ? `reference${rest}`
    : head === 'options' ? `distortionOptions${rest}`
    : `distortionOptions.${field}`;
  const message = error.message.startsWith(`${field}: `) ? `${renamed}: ${error.message.slice(field.length + 2)}` : error.message;
  return new LimitError(error.code, message, {
    details: { ...error.details, field: renamed },
    fix: error.fix,
    cause: error,
    ...(error.plugin ? { plugin: error.plugin } : {}),
  });
}

/**
 * A step's graph is measured as the algorithm's `source` against the series' reference as its
 * `target`: an error naming those fields (`target.nodes[0].features: … source.nodes[0]…`) is said
 * in the step's terms — `graph.…` and `reference.…` — in its field and in every field path of its
 * message, so the caller is told which of the two to change.
 */
function asStepField(error: unknown): unknown {
  if (!isLimitError(error)) return error;
  const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
  const rename = (text: string): string =>
    text.replace(/(^|[\s(])(source|target)(?=[.[:,]|$)/g, (_m, pre: string, head: string) => `${pre}${head === 'source' ? 'graph' : 'reference'}`);
  const renamedField = field === undefined ? undefined : rename(field);
  const message = rename(error.message);
  if (renamedField === field && message === error.message) return error;
  return new LimitError(error.code, message, {
    details: { ...error.details, ...(renamedField !== undefined ? { field: renamedField } : {}) },
    fix: error.fix,
    cause: error,
    ...(error.plugin ? { plugin: error.plugin } : {}),
  });
}

/**
 * A distortion is ≥ 0, but a solver's floating-point sum can land a few ulps below zero for
 * identical graphs (FGW gives -4.4e-16 on two equal 16-node paths); storage rightly refuses a
 * negative distortion, so rounding noise is read as 0. A clearly negative value is a solver bug and
 * is reported, not hidden.
 */
export function nonNegative(value: number, algorithm: string, seriesId: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `rd:${algorithm} returned a distortion that is not a finite number (${String(value)}) for a step of RD series "${seriesId}"`, {
      details: { seriesId, algorithm, value: String(value) },
    });
  }
  if (value >= 0) return value;
  if (value > -1e-9) return 0;
  throw new LimitError('LIMIT_RD_INVALID_INPUT', `rd:${algorithm} returned a negative distortion (${value}) for a step of RD series "${seriesId}"`, {
    details: { seriesId, algorithm, value },
  });
}

/**
 * Why a trace is not `ok`, for a branch left out of a federation's merge: its status, with its error
 * (code and the start of the message) and its flags — `status error (LIMIT_RUNNER_TIMEOUT: …)`,
 * `status quarantined (Malicious 9)`.
 */
function describeStatus(trace: Trace): string {
  const error = trace.output?.error;
  const causes = [
    ...(error ? [`${error.code}: ${error.message.length > 200 ? `${error.message.slice(0, 200)}…` : error.message}`] : []),
    ...(trace.flags.length ? [trace.flags.map((f) => `${f.kind} ${f.severity}`).join(', ')] : []),
  ];
  return `status ${trace.status}${causes.length ? ` (${causes.join('; ')})` : ''}`;
}

/**
 * The merged output of parents under a strategy (custom is the caller's). `of`, for `majority`: how
 * many the majority was judged against, recorded as `value.of` — the parents, or for a federation's
 * merge (whose parents are only the branches that agreed) every branch.
 */
export function combine(strategy: string, parents: Trace[], of = parents.length): RunOutput {
  const outputs = parents.map((p) => p.output ?? { ok: false, stdout: '', stderr: '' });
  switch (strategy) {
    case 'concat':
      return { ok: outputs.every((o) => o.ok), stdout: outputs.map((o) => o.stdout).join(''), stderr: outputs.map((o) => o.stderr).join('') };
    case 'first-success': {
      const first = parents.find((p) => p.output?.ok);
      if (!first) throw refused(parents.map((p) => p.id), parents.map((p) => ({ parentId: p.id, reason: 'no parent succeeded (first-success)' })));
      return { ...first.output!, value: { from: first.id, value: first.output!.value } };
    }
    case 'majority': {
      // Only ok parents vote (a failure's empty stdout is not an answer), and the winner needs a
      // strict majority of all the parents, failed ones included — as federate's aggregate does.
      const groups = new Map<string, Trace[]>();
      for (const p of parents) {
        if (!p.output?.ok) continue;
        const k = p.output.stdout.trim();
        groups.set(k, [...(groups.get(k) ?? []), p]);
      }
      const best = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0];
      if (!best || best[1].length * 2 <= parents.length) {
        const failed = parents.filter((p) => !p.output?.ok).map((p) => p.id);
        throw new LimitError('LIMIT_VALIDATION', `No output is shared by a strict majority of the ${parents.length} parents: the most ok parents agreeing on one stdout are ${best?.[1].length ?? 0}${failed.length ? ` (${failed.length} failed, and a failed parent counts against every output)` : ''}`, {
          details: { parentIds: parents.map((p) => p.id), agreeing: best?.[1].length ?? 0, failed },
          fix: 'Merge parents most of which succeeded with the same stdout, or use another strategy (union, concat, first-success).',
        });
      }
      const [stdout, members] = best;
      return { ok: true, stdout, stderr: '', value: { agreed: members.map((m) => m.id), of } };
    }
    default: // union
      return {
        ok: outputs.every((o) => o.ok),
        stdout: outputs.map((o) => o.stdout).join('\n'),
        stderr: outputs.map((o) => o.stderr).filter(Boolean).join('\n'),
        value: parents.map((p) => ({ traceId: p.id, runner: p.runner, ok: p.output?.ok ?? false, stdout: p.output?.stdout ?? '', value: p.output?.value })),
      };
  }
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
