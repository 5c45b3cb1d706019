/**
 * The storage conformance suite: every backend (built-in or third-party) runs it to prove it honours
 * the Storage contract (kernel/contracts/storage.ts). Modelled on Keyv's and abstract-level's suites:
 * the caller passes a factory, each test gets a fresh store, and a `supports` manifest switches off
 * groups for optional features.
 *
 *   import { storageConformance } from 'limit-graph/testing';
 *   storageConformance('my-backend', async () => {
 *     const storage = createMyStorage({ ... });
 *     await storage.open();
 *     return { storage, cleanup: () => removeData(), reopen: async () => { ... } };
 *   });
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RECORD_BYTES, GENESIS_HASH, MAX_FLAGS_PER_TRACE, MAX_JSON_DEPTH, MAX_PROVENANCE_PER_TRACE, maxTraceProvenanceBytes, provenanceLimits, MAX_PAGE_BYTES, MAX_RD_POINTS, canonicalJson, cursorAfter, hashProvenance, isFlagsConflict, isStatusConflict, maxRdPointsBytes,
  maxTraceFlagsBytes,
  type BatchOp, type Checkpoint, type Flag, type FlagKind, type ProvenanceEntry, type ProvenanceInput, type ProvenanceOrigin, type RdPoint, type RdSeries, type Session, type Storage,
  type StorageSupports, type Trace, type TraceStatus,
} from '../../kernel/index.ts';

/** What a factory hands the suite for one test. */
export interface StorageFixture {
  /** An opened store over empty data. The suite closes it. */
  storage: Storage;
  /** Removes the data (files, schema); called after the suite closed every store of the test. */
  cleanup?(): Promise<void>;
  /**
   * A new, opened store over the same data (a restart). The suite closes the previous store first.
   * Enables the durability tests (counters, schema version and records survive a restart).
   */
  reopen?(): Promise<Storage>;
  /**
   * Overwrites fields of one stored provenance entry behind the backend's back (as an attacker with
   * disk or database access would). Enables the tamper-evidence tests.
   */
  tamper?(tenant: string, traceId: string, seq: number, patch: Record<string, unknown>): Promise<void>;
  /**
   * Removes what the backend keeps of a trace's provenance totals (its chain's bytes so far), as a
   * store written before it kept them has none (an older schema, an instance of an earlier release
   * during a rolling upgrade). Called while the store is closed; the suite reopens it after. A
   * backend that keeps no totals (it measures its chains when it opens) passes a no-op. With
   * `reopen`, enables the test that such a chain is measured as every backend measures it.
   */
  forgetProvenanceTotals?(tenant: string, traceId: string): Promise<void>;
}

export type StorageFactory = () => Promise<StorageFixture>;

export interface StorageConformanceOptions {
  /** Optional features; a group whose feature is false is not registered. Default: transactions true. */
  supports?: Partial<StorageSupports>;
  /** Rows used by the pagination test (default 2,500). */
  paginationRows?: number;
}

const T0 = Date.parse('2024-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

export function makeSession(tenant: string, id: string, over: Partial<Session> = {}): Session {
  return {
    id, tenant, name: `session ${id}`, status: 'open', createdAt: iso(T0),
    limits: { maxConcurrency: 4, allowNetwork: false, timeoutMs: 30_000, memoryMb: 512 },
    metadata: { purpose: 'conformance' },
    ...over,
  };
}

export function makeTrace(tenant: string, id: string, sessionId: string, createdMs = T0, over: Partial<Trace> = {}): Trace {
  return {
    id, sessionId, tenant, parentIds: [], runner: 'python',
    task: { input: `print(${JSON.stringify(id)})`, kind: 'code', language: 'python' },
    status: 'ok', flags: [], createdAt: iso(createdMs), metadata: {},
    ...over,
  };
}

export function makeFlag(id: string, traceId: string, kind: FlagKind = 'Anomaly', over: Partial<Flag> = {}): Flag {
  return {
    id, traceId, kind, severity: 5, reason: `${kind} detected`, ruleId: 'conformance.rule',
    evidence: [{ field: 'task.input', start: 0, end: 5, excerpt: 'print' }], autoDetected: true, at: iso(T0 + 1000),
    ...over,
  };
}

export function makeProvenance(traceId: string, i: number, over: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return { traceId, at: iso(T0 + i), actor: 'conformance', action: 'step', operation: 'update', rationale: `step ${i}`, data: { i }, ...over };
}

/** Resolves to the LimitError a promise rejected with, failing the test when it resolved or threw something else. */
async function limitError(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    expect(error, `expected a LimitError ${code}`).toMatchObject({ name: 'LimitError', code });
    return error as Error & { code: string };
  }
  throw new Error(`expected a LimitError ${code}, but the call resolved with ${JSON.stringify(result)?.slice(0, 200)}`);
}

function stripFlags(t: Trace): Omit<Trace, 'flags'> {
  const { flags: _f, ...rest } = t;
  return rest;
}

/** UTF-8 bytes of a value's JSON. */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** UTF-8 bytes of each value's JSON, summed (how an RD series' points are measured). */
function jsonBytesEach(values: readonly unknown[]): number {
  return values.reduce<number>((sum, v) => sum + jsonBytes(v), 0);
}

/** A flag whose JSON is at least `bytes` bytes (evidence excerpts of 500 characters). */
function bigFlag(id: string, traceId: string, bytes: number): Flag {
  const flag = makeFlag(id, traceId, 'Anomaly', { evidence: [] });
  const entry = { field: 'output.stdout', start: 0, end: 500, excerpt: 'e'.repeat(500) };
  const n = Math.ceil(Math.max(0, bytes - jsonBytes(flag)) / (jsonBytes(entry) + 1));
  return { ...flag, evidence: Array.from({ length: n }, () => ({ ...entry })) };
}

export function storageConformance(name: string, factory: StorageFactory, options: StorageConformanceOptions = {}): void {
  const supports: StorageSupports = { multiProcess: false, crashSafe: false, transactions: true, ...options.supports };
  const paginationRows = options.paginationRows ?? 2_500;

  describe(`storage conformance: ${name}`, () => {
    let fixture: StorageFixture;
    let storage: Storage;
    const opened: Storage[] = [];

    beforeEach(async () => {
      fixture = await factory();
      storage = fixture.storage;
      opened.push(storage);
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await fixture.cleanup?.();
    });

    /** Closes the current store and opens a new one on the same data. */
    async function restart(): Promise<Storage> {
      await storage.close();
      storage = await fixture.reopen!();
      opened.push(storage);
      return storage;
    }

    describe('lifecycle and schema', () => {
      it('records a positive integer schema version', async () => {
        const v = await storage.schemaVersion();
        expect(Number.isInteger(v) && v >= 1).toBe(true);
      });

      it('runs migrations idempotently: open() again keeps data and version', async () => {
        const v = await storage.schemaVersion();
        await storage.createSession(makeSession('t1', 's1'));
        await storage.open();
        expect(await storage.schemaVersion()).toBe(v);
        expect(await storage.getSession('t1', 's1')).toMatchObject({ id: 's1' });
      });

      it('reports health from a real query', async () => {
        const h = await storage.health();
        expect(h.status).toBe('ok');
        // It says what it checked: at least one named check, each of them ok.
        expect(h.checks?.length).toBeGreaterThan(0);
        for (const c of h.checks ?? []) expect(c).toMatchObject({ name: expect.stringMatching(/\S/), status: 'ok' });
        // A real query, not a constant: once the store is closed, the same call reports the failure.
        await storage.close();
        const closed = await storage.health();
        expect(closed.status).toBe('fail');
        expect(closed.checks?.some((c) => c.status === 'fail' && /\S/.test(c.name))).toBe(true);
      });

      it('close() is idempotent: a second close() resolves, and the store then refuses calls as not open', async () => {
        await storage.createSession(makeSession('t1', 's1'));
        await storage.close();
        await expect(storage.close()).resolves.toBeUndefined();
        for (const call of [() => storage.getSession('t1', 's1'), () => storage.createSession(makeSession('t1', 's2'))]) {
          await expect(call()).rejects.toMatchObject({ code: 'LIMIT_STORAGE_UNAVAILABLE', message: expect.stringMatching(/not open/) });
        }
      });

      it('keeps records and schema version across a restart', async (ctx) => {
        if (!fixture.reopen) return ctx.skip('the fixture has no reopen()');
        const v = await storage.schemaVersion();
        await storage.createSession(makeSession('t1', 's1'));
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.appendProvenance('t1', makeProvenance('tr1', 0));
        const s2 = await restart();
        expect(await s2.schemaVersion()).toBe(v);
        expect(await s2.getSession('t1', 's1')).toMatchObject({ id: 's1' });
        expect(await s2.getTrace('t1', 'tr1')).toMatchObject({ id: 'tr1' });
        expect((await s2.verifyProvenance('t1', 'tr1')).length).toBe(1);
      });
    });

    describe('key order', () => {
      // Objects written with their keys in an order PostgreSQL's jsonb does not keep (it puts shorter
      // keys first): every key and value reads back, the order may not (the contract's "Key order").
      const mixed = () => ({ zeta_longest: 1, b: { yy: [{ longer: 'x', k: null }], a: true }, mid: 'é' });
      const sameContent = (got: unknown, want: unknown) => expect(canonicalJson(got)).toBe(canonicalJson(want));

      it('reads back every key and value of stored objects, in whatever order, and provenance hashes still verify', async () => {
        const session = makeSession('t1', 's1', { metadata: mixed() });
        await storage.createSession(session);
        const trace = makeTrace('t1', 'tr1', 's1', T0, {
          task: { input: 'x', kind: 'code', language: 'python', env: { ZZZ_LONG: '1', A: '2' } },
          output: { ok: true, stdout: '', stderr: '', value: mixed() }, metadata: mixed(),
        });
        await storage.createTrace(trace);
        const flag = makeFlag('f1', 'tr1', 'Anomaly', { evidence: [{ field: 'task.input', start: 0, end: 1, excerpt: 'x' }] });
        await storage.addFlag('t1', flag);
        const checkpoint: Checkpoint = { traceId: 'tr1', label: 'c', passed: true, at: iso(T0), details: mixed() };
        await storage.addCheckpoint('t1', checkpoint);
        const entry = await storage.appendProvenance('t1', makeProvenance('tr1', 0, { data: mixed() }));
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', createdAt: iso(T0), metadata: mixed(), points: [{ step: 0, rate: 1, distortion: 0, meta: mixed() }] };
        await storage.createRdSeries(series);

        sameContent(await storage.getSession('t1', 's1'), session);
        sameContent(await storage.getTrace('t1', 'tr1'), { ...trace, flags: [flag] });
        sameContent((await storage.listTraces('t1')).items, [{ ...trace, flags: [flag] }]);
        sameContent(await storage.listCheckpoints('t1', 'tr1'), [checkpoint]);
        sameContent(await storage.getRdSeries('t1', 'rd1'), series);
        const [read] = await storage.listProvenance('t1', 'tr1');
        sameContent(read, entry);
        // The hash is over canonical JSON, so an entry read back with its keys in another order still hashes to it.
        expect(hashProvenance(read!)).toBe(read!.hash);
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 1, brokenAt: null });
      });
    });

    describe('what a write returns', () => {
      // Values JSON writes in another form (a Date as its ISO string), or drops (an undefined-valued
      // key, a function), and keys it keeps as they are (`__proto__`, `constructor`).
      const loose = () => ({
        when: new Date(T0), gone: undefined, fn: () => 1, list: [1, undefined, new Date(T0 + 1)],
        nested: { at: new Date(T0 + 2), none: undefined, ok: 'x' }, zero: -0,
      });
      const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

      it('returns the record as stored (its JSON form, what a read gives back) from every create, update and append', async () => {
        const session = await storage.createSession({ ...makeSession('t1', 's1', { metadata: loose() }), closedAt: undefined });
        expect(session).toStrictEqual(await storage.getSession('t1', 's1'));
        expect(session.metadata).toStrictEqual(asJson(loose()));
        expect(session).not.toHaveProperty('closedAt');

        const trace = await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, {
          metadata: loose(), output: { ok: true, stdout: '', stderr: '', value: loose() }, completedAt: undefined, metrics: undefined,
        }));
        expect(trace).toStrictEqual(await storage.getTrace('t1', 'tr1'));
        expect(trace.metadata).toStrictEqual(asJson(loose()));
        expect(trace).not.toHaveProperty('completedAt');

        const updated = await storage.updateTrace('t1', 'tr1', { metadata: loose(), output: { ok: true, stdout: '', stderr: '', value: loose(), error: undefined } });
        expect(updated).toStrictEqual(await storage.getTrace('t1', 'tr1'));
        expect(updated.output).toStrictEqual({ ok: true, stdout: '', stderr: '', value: asJson(loose()) });

        const flag = await storage.addFlag('t1', makeFlag('f1', 'tr1'));
        expect([flag]).toStrictEqual(await storage.listFlags('t1'));
        const checkpoint = await storage.addCheckpoint('t1', { traceId: 'tr1', label: 'c', passed: true, details: loose(), at: iso(T0) });
        expect([checkpoint]).toStrictEqual(await storage.listCheckpoints('t1', 'tr1'));
        const state = await storage.setQuarantine('t1', { traceId: 'tr1', quarantined: true, reason: 'r', actor: 'a', at: iso(T0), previousStatus: undefined, flagCount: undefined });
        expect(state).toStrictEqual(await storage.getQuarantine('t1', 'tr1'));
        const entry = await storage.appendProvenance('t1', makeProvenance('tr1', 0, { data: loose(), source: undefined }));
        expect([entry]).toStrictEqual(await storage.listProvenance('t1', 'tr1'));
        expect(hashProvenance(entry)).toBe(entry.hash);

        const series = await storage.createRdSeries({
          id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', createdAt: iso(T0), metadata: loose(), points: [{ step: 0, rate: 1, distortion: 0, meta: loose() }],
        });
        const appended = await storage.appendRdPoint('t1', 'rd1', { rate: 1, distortion: 0, meta: loose() });
        const read = await storage.getRdSeries('t1', 'rd1');
        expect(series).toStrictEqual({ ...read, points: read!.points.slice(0, 1) });
        expect(appended.point).toStrictEqual(read!.points[1]);
        expect(appended.pointBytes).toBe(jsonBytesEach(read!.points));

        if (supports.transactions) {
          await storage.batch('t1', [
            { op: 'createTrace', trace: makeTrace('t1', 'b1', 's1', T0, { metadata: loose() }) },
            { op: 'addCheckpoint', checkpoint: { traceId: 'b1', label: 'c', passed: true, details: loose(), at: iso(T0) } },
          ]);
          expect((await storage.getTrace('t1', 'b1'))!.metadata).toStrictEqual(asJson(loose()));
          expect((await storage.listCheckpoints('t1', 'b1'))[0]!.details).toStrictEqual(asJson(loose()));
        }
      });

      it('stores `__proto__` and `constructor` keys as ordinary keys at any depth, on every kind of record, without touching any prototype', async () => {
        const keys = () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":{"__proto__":[1],"b":1}}') as Record<string, unknown>;
        const check = (value: unknown) => {
          expect(canonicalJson(value)).toBe(canonicalJson(keys()));
          const v = value as Record<string, unknown>;
          expect(Object.hasOwn(v, '__proto__') && Object.getPrototypeOf(v)).toBe(Object.prototype);
          expect(Object.hasOwn(v.a as object, '__proto__')).toBe(true);
        };
        const session = await storage.createSession(makeSession('t1', 's1', { metadata: keys() }));
        const trace = await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, {
          metadata: keys(), output: { ok: true, stdout: '', stderr: '', value: keys() },
          task: { input: 'x', kind: 'code', env: JSON.parse('{"__proto__":"1","A":"2"}') as Record<string, string> },
        }));
        const checkpoint = await storage.addCheckpoint('t1', { traceId: 'tr1', label: 'c', passed: true, details: keys(), at: iso(T0) });
        const entry = await storage.appendProvenance('t1', makeProvenance('tr1', 0, { data: keys() }));
        const series = await storage.createRdSeries({ id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', createdAt: iso(T0), metadata: keys(), points: [{ step: 0, rate: 1, distortion: 0, meta: keys() }] });
        const appended = await storage.appendRdPoint('t1', 'rd1', { rate: 1, distortion: 0, meta: keys() });
        const updated = await storage.updateTrace('t1', 'tr1', { metadata: keys() });
        const readBack = async (s: Storage) => {
          const got = { session: await s.getSession('t1', 's1'), trace: await s.getTrace('t1', 'tr1'), list: (await s.listTraces('t1')).items[0] };
          for (const v of [session.metadata, got.session!.metadata, trace.metadata, trace.output!.value, updated.metadata, got.trace!.metadata, got.trace!.output!.value, got.list!.metadata]) check(v);
          for (const t of [trace, got.trace!]) expect(t.task.env).toStrictEqual(JSON.parse('{"__proto__":"1","A":"2"}'));
          for (const c of [checkpoint, ...(await s.listCheckpoints('t1', 'tr1'))]) check(c.details);
          for (const p of [entry, ...(await s.listProvenance('t1', 'tr1'))]) check(p.data);
          const rd = (await s.getRdSeries('t1', 'rd1'))!;
          for (const v of [series.metadata, series.points[0]!.meta, appended.point.meta, rd.metadata, ...rd.points.map((p) => p.meta)]) check(v);
          expect(await s.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 1, brokenAt: null });
        };
        await readBack(storage);
        if (fixture.reopen) await readBack(await restart());
        // A string map's `__proto__` entry is checked like any other (zod never saw it).
        const env = JSON.parse('{"__proto__":{"x":1}}') as Record<string, string>;
        const bad = await limitError(storage.createTrace(makeTrace('t1', 'tr2', 's1', T0, { task: { input: 'x', kind: 'code', env } })), 'LIMIT_VALIDATION');
        expect(bad.message).toContain('task.env.__proto__: ');
        expect(await storage.getTrace('t1', 'tr2')).toBeNull();
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('polluted');
      });
    });

    describe('sessions', () => {
      it('round-trips a session', async () => {
        const s = makeSession('t1', 's1', { metadata: { nested: { a: [1, 2, { b: 'x' }] }, unicode: 'ünï ✓' } });
        expect(await storage.createSession(s)).toEqual(s);
        expect(await storage.getSession('t1', 's1')).toEqual(s);
        expect(await storage.getSession('t1', 'missing')).toBeNull();
      });

      it('applies the model defaults on create', async () => {
        const { name: _n, metadata: _m, ...bare } = makeSession('t1', 's1');
        const created = await storage.createSession(bare as Session);
        expect(created.name).toBe('');
        expect(created.metadata).toEqual({});
        expect(await storage.getSession('t1', 's1')).toEqual(created);
      });

      it('refuses a duplicate id with LIMIT_CONFLICT', async () => {
        await storage.createSession(makeSession('t1', 's1'));
        await limitError(storage.createSession(makeSession('t1', 's1', { name: 'other' })), 'LIMIT_CONFLICT');
        expect((await storage.getSession('t1', 's1'))!.name).toBe('session s1');
      });

      it('closes a session once; closing again returns it unchanged', async () => {
        await storage.createSession(makeSession('t1', 's1'));
        const closed = await storage.closeSession('t1', 's1', iso(T0 + 5000));
        expect(closed).toMatchObject({ status: 'closed', closedAt: iso(T0 + 5000) });
        expect(await storage.getSession('t1', 's1')).toEqual(closed);
        expect(await storage.closeSession('t1', 's1', iso(T0 + 9000))).toEqual(closed);
        await limitError(storage.closeSession('t1', 'missing', iso(T0)), 'LIMIT_NOT_FOUND');
      });

      it('lists newest first, filters by status and pages with a cursor', async () => {
        for (let i = 0; i < 7; i++) await storage.createSession(makeSession('t1', `s${i}`, { createdAt: iso(T0 + i * 1000) }));
        await storage.closeSession('t1', 's2', iso(T0 + 10_000));
        const all = await storage.listSessions('t1');
        expect(all.items.map((s) => s.id)).toEqual(['s6', 's5', 's4', 's3', 's2', 's1', 's0']);
        expect(all.nextCursor).toBeNull();
        const open = await storage.listSessions('t1', { status: 'open' });
        expect(open.items.map((s) => s.id)).toEqual(['s6', 's5', 's4', 's3', 's1', 's0']);
        const p1 = await storage.listSessions('t1', { limit: 3 });
        expect(p1.items.map((s) => s.id)).toEqual(['s6', 's5', 's4']);
        const p2 = await storage.listSessions('t1', { limit: 3, cursor: p1.nextCursor! });
        expect(p2.items.map((s) => s.id)).toEqual(['s3', 's2', 's1']);
        const p3 = await storage.listSessions('t1', { limit: 3, cursor: p2.nextCursor! });
        expect(p3).toEqual({ items: [expect.objectContaining({ id: 's0' })], nextCursor: null });
      });
    });

    describe('traces', () => {
      it("refuses a trace carrying another trace's flag (LIMIT_VALIDATION naming flags.<i>.traceId), alone or in a batch, writing nothing", async () => {
        const trace = makeTrace('t1', 'tr1', 's1', T0, { flags: [makeFlag('f0', 'tr1'), makeFlag('f1', 'ghost')] });
        for (const call of [storage.createTrace(trace), storage.batch('t1', [{ op: 'createTrace', trace }])]) {
          const error = await limitError(call, 'LIMIT_VALIDATION') as Error & { details?: { field?: string } };
          expect(error.message).toContain('flags.1.traceId');
          expect(error.message).toContain('"ghost"');
          expect(error.details?.field).toBe('flags.1.traceId');
        }
        expect(await storage.getTrace('t1', 'tr1')).toBeNull();
        expect(await storage.listFlags('t1', { traceId: 'ghost' })).toEqual([]);
      });

      it('round-trips a trace with every field', async () => {
        const t = makeTrace('t1', 'tr1', 's1', T0, {
          parentIds: ['p1', 'p2'],
          runner: 'openai',
          task: { input: 'Say hi', kind: 'prompt', env: { A: '1' }, args: ['--x'], files: { 'a.txt': 'hello' }, toolOutputs: [{ name: 'search', content: 'result' }] },
          output: { ok: true, stdout: 'hi\n', stderr: '', value: { answer: 42, list: [1, 'two', null] } },
          metrics: { latencyMs: 12.5, tokensIn: 3, tokensOut: 4, exitCode: 0 },
          completedAt: iso(T0 + 20),
          metadata: { k: 'v', deep: { x: [true, false] } },
        });
        expect(await storage.createTrace(t)).toEqual(t);
        expect(await storage.getTrace('t1', 'tr1')).toEqual(t);
        expect(await storage.getTrace('t1', 'missing')).toBeNull();
      });

      it('hands out copies: changing what a call was given or returned changes nothing stored', async () => {
        // An in-memory backend that keeps the caller's objects, or returns its own, lets any caller
        // change stored records behind validation, size checks and the provenance chain.
        const session = makeSession('t1', 's1', { metadata: { deep: { n: 1 } } });
        const createdSession = await storage.createSession(session);
        const trace = makeTrace('t1', 'tr1', 's1', T0, { metadata: { deep: { n: 1 } }, parentIds: ['p1'] });
        const createdTrace = await storage.createTrace(trace);
        const flag = makeFlag('f1', 'tr1');
        const addedFlag = await storage.addFlag('t1', flag);
        const series: RdSeries = { id: 'rd1', tenant: 't1', sessionId: 's1', name: 'curve', createdAt: iso(T0), points: [{ step: 0, rate: 1, distortion: 2 }], metadata: { deep: { n: 1 } } };
        const createdSeries = await storage.createRdSeries(series);
        const entry = await storage.appendProvenance('t1', makeProvenance('tr1', 0));
        const scribble = (records: unknown[]) => {
          for (const r of records as Record<string, any>[]) {
            if (r.metadata) r.metadata.deep = 'changed';
            if (Array.isArray(r.parentIds)) r.parentIds.push('changed');
            if (Array.isArray(r.flags)) r.flags.push({ ...flag, id: 'changed' });
            if (Array.isArray(r.points)) r.points.push({ step: 9, rate: 9, distortion: 9 });
            if (Array.isArray(r.evidence)) r.evidence.length = 0;
            if (typeof r.rationale === 'string') r.rationale = 'changed';
            r.status = 'changed';
          }
        };
        scribble([session, createdSession, trace, createdTrace, flag, addedFlag, series, createdSeries, entry]);
        scribble([await storage.getSession('t1', 's1'), await storage.getTrace('t1', 'tr1'), await storage.getRdSeries('t1', 'rd1')]);
        scribble([...(await storage.listSessions('t1')).items, ...(await storage.listTraces('t1')).items, ...(await storage.listFlags('t1'))]);
        scribble([...(await storage.listRdSeries('t1')), ...(await storage.listProvenance('t1', 'tr1'))]);
        expect(await storage.getSession('t1', 's1')).toEqual(makeSession('t1', 's1', { metadata: { deep: { n: 1 } } }));
        expect(await storage.getTrace('t1', 'tr1')).toEqual({ ...makeTrace('t1', 'tr1', 's1', T0, { metadata: { deep: { n: 1 } }, parentIds: ['p1'] }), flags: [makeFlag('f1', 'tr1')] });
        expect(await storage.listFlags('t1')).toEqual([makeFlag('f1', 'tr1')]);
        expect(await storage.getRdSeries('t1', 'rd1')).toMatchObject({ points: [{ step: 0, rate: 1, distortion: 2 }], metadata: { deep: { n: 1 } } });
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 1, brokenAt: null });
      });

      it('round-trips NUL and U+E000 in every kind of record (strings and keys), and a chain over them verifies', async () => {
        const text = 'a\u0000b \uE000 \uE0000 \\u0000 \\\u0000 \u0000\u0000';
        const meta = { [`k${text}`]: text, list: [text] };
        await storage.createSession(makeSession('t1', 's1', { name: text, metadata: meta }));
        const t = makeTrace('t1', 'tr1', 's1', T0, { task: { input: text, kind: 'code', language: 'python' }, output: { ok: true, stdout: text, stderr: text, value: meta }, metadata: meta });
        await storage.createTrace(t);
        const flag = makeFlag('f1', 'tr1', 'Anomaly', { reason: text, evidence: [{ field: 'output.stdout', start: 0, end: 3, excerpt: text }] });
        await storage.addFlag('t1', flag);
        const checkpoint = { traceId: 'tr1', label: text, passed: true, details: meta, at: iso(T0) };
        await storage.addCheckpoint('t1', checkpoint);
        const q = { traceId: 'tr1', quarantined: true, reason: text, actor: text, at: iso(T0) };
        await storage.setQuarantine('t1', q);
        await storage.appendProvenance('t1', makeProvenance('tr1', 0, { rationale: text, data: meta }));
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: text, points: [{ step: 0, rate: 0, distortion: 1, meta }], createdAt: iso(T0), metadata: meta };
        await storage.createRdSeries(series);
        expect((await storage.getSession('t1', 's1'))!).toMatchObject({ name: text, metadata: meta });
        expect(await storage.getTrace('t1', 'tr1')).toEqual({ ...t, flags: [flag] });
        expect((await storage.listTraces('t1', { sessionId: 's1' })).items[0]).toEqual({ ...t, flags: [flag] });
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([checkpoint]);
        expect(await storage.getQuarantine('t1', 'tr1')).toEqual(q);
        expect((await storage.listProvenance('t1', 'tr1'))[0]).toMatchObject({ rationale: text, data: meta });
        expect(await storage.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: true, brokenAt: null });
        expect(await storage.getRdSeries('t1', 'rd1')).toEqual(series);
      });

      it('accepts a 1 MB task input (the model maximum)', async () => {
        const t = makeTrace('t1', 'big', 's1', T0, { task: { input: 'x'.repeat(1_000_000), kind: 'code' } });
        await storage.createTrace(t);
        expect((await storage.getTrace('t1', 'big'))!.task.input.length).toBe(1_000_000);
      });

      it('refuses a duplicate trace id with LIMIT_CONFLICT and keeps the first', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await limitError(storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { runner: 'other' })), 'LIMIT_CONFLICT');
        expect((await storage.getTrace('t1', 'tr1'))!.runner).toBe('python');
      });

      it('updates status, output, metrics, completedAt and metadata, keeping the rest', async () => {
        const t = makeTrace('t1', 'tr1', 's1', T0, { status: 'running', parentIds: ['p'] });
        await storage.createTrace(t);
        await storage.addFlag('t1', makeFlag('f1', 'tr1'));
        const patch = {
          status: 'error' as const,
          output: { ok: false, stdout: '', stderr: 'boom', error: { code: 'E', message: 'boom' } },
          metrics: { latencyMs: 3 },
          completedAt: iso(T0 + 3),
          metadata: { retried: true },
        };
        const updated = await storage.updateTrace('t1', 'tr1', patch);
        expect(updated).toMatchObject(patch);
        expect(updated.parentIds).toEqual(['p']);
        expect(updated.flags.map((f) => f.id)).toEqual(['f1']);
        expect(await storage.getTrace('t1', 'tr1')).toEqual(updated);
        const again = await storage.updateTrace('t1', 'tr1', { status: 'quarantined' });
        expect(again).toMatchObject({ status: 'quarantined', output: patch.output, completedAt: patch.completedAt, metadata: { retried: true } });
      });

      it('refuses an invalid patch or an unknown trace, changing nothing', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        expect((await limitError(storage.updateTrace('t1', 'tr1', { status: 'bogus' as TraceStatus }), 'LIMIT_VALIDATION')).message).toMatch(/\bstatus: /);
        expect((await limitError(storage.updateTrace('t1', 'tr1', { id: 'other' } as never), 'LIMIT_VALIDATION')).message).toMatch(/"id"/);
        await limitError(storage.updateTrace('t1', 'missing', { status: 'ok' }), 'LIMIT_NOT_FOUND');
        expect(await storage.getTrace('t1', 'tr1')).toEqual(makeTrace('t1', 'tr1', 's1'));
      });
    });

    describe('flags, checkpoints, quarantine', () => {
      it('stores flags and shows them on the trace (get and list)', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.createTrace(makeTrace('t1', 'tr2', 's1', T0 + 1));
        const f1 = makeFlag('f1', 'tr1', 'Jailbreak', { severity: 9 });
        const f2 = makeFlag('f2', 'tr1', 'Anomaly', { autoDetected: false, evidence: [] });
        const f3 = makeFlag('f3', 'tr2', 'Jailbreak');
        expect(await storage.addFlag('t1', f1)).toEqual(f1);
        await storage.addFlag('t1', f2);
        await storage.addFlag('t1', f3);
        expect((await storage.getTrace('t1', 'tr1'))!.flags).toEqual([f1, f2]);
        const listed = await storage.listTraces('t1');
        expect(listed.items.find((t) => t.id === 'tr1')!.flags).toEqual([f1, f2]);
        expect(await storage.listFlags('t1', { traceId: 'tr1' })).toEqual([f1, f2]);
        expect(await storage.listFlags('t1', { kind: 'Jailbreak' })).toEqual([f1, f3]);
        expect(await storage.listFlags('t1')).toEqual([f1, f2, f3]);
      });

      it('returns a trace\'s flags in insertion order, whatever their ids and timestamps (addFlag, batch, create)', async () => {
        // Governance counts the flags added since a release by position (QuarantineState.flagCount):
        // the order must be the order of the writes, not of ids or of \`at\`.
        const f = (id: string, ms: number) => makeFlag(id, 'tr1', 'Anomaly', { at: iso(T0 + ms) });
        const created = f('fm', 5);
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { flags: [created] }));
        const order = [created, f('fz', 9), f('fa', 1)];
        await storage.addFlag('t1', order[1]!);
        await storage.addFlag('t1', order[2]!);
        const batched = [f('fy', 0), f('fb', 0), f('fx', 0)];
        await storage.batch('t1', batched.map((flag): BatchOp => ({ op: 'addFlag', flag })));
        order.push(...batched);
        const last = f('f0', 3);
        await storage.addFlag('t1', last);
        order.push(last);
        expect((await storage.getTrace('t1', 'tr1'))!.flags).toEqual(order);
        expect((await storage.listTraces('t1')).items[0]!.flags).toEqual(order);
        expect(await storage.listFlags('t1', { traceId: 'tr1' })).toEqual(order);
      });

      it('stores the flags a trace is created with', async () => {
        const f = makeFlag('f0', 'tr1', 'HighRisk');
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { flags: [f] }));
        expect((await storage.getTrace('t1', 'tr1'))!.flags).toEqual([f]);
        expect(await storage.listFlags('t1', { kind: 'HighRisk' })).toEqual([f]);
        expect((await storage.listTraces('t1', { flagKind: 'HighRisk' })).items.map((t) => t.id)).toEqual(['tr1']);
      });

      it('refuses a flag on a missing trace, a duplicate flag id and an invalid flag', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await limitError(storage.addFlag('t1', makeFlag('f1', 'missing')), 'LIMIT_NOT_FOUND');
        await storage.addFlag('t1', makeFlag('f1', 'tr1'));
        await limitError(storage.addFlag('t1', makeFlag('f1', 'tr1')), 'LIMIT_CONFLICT');
        expect((await limitError(storage.addFlag('t1', makeFlag('f2', 'tr1', 'Nope' as FlagKind)), 'LIMIT_VALIDATION')).message).toMatch(/\bkind: /);
        expect((await limitError(storage.addFlag('t1', makeFlag('f3', 'tr1', 'Anomaly', { severity: 11 })), 'LIMIT_VALIDATION')).message).toMatch(/\bseverity: /);
        expect((await storage.getTrace('t1', 'tr1'))!.flags.map((f) => f.id)).toEqual(['f1']);
        expect(await storage.listFlags('t1')).toHaveLength(1);
      });

      it(`holds at most MAX_FLAGS_PER_TRACE (${MAX_FLAGS_PER_TRACE}) flags: a create, an add or a batch past it is LIMIT_PAYLOAD_TOO_LARGE, writing nothing`, async () => {
        const flags = (traceId: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => makeFlag(`${traceId}-f${from + i}`, traceId, 'Anomaly', { evidence: [] }));
        await storage.createTrace(makeTrace('t1', 'full', 's1', T0, { flags: flags('full', MAX_FLAGS_PER_TRACE - 1) }));
        await storage.addFlag('t1', makeFlag('last', 'full'));
        const error = await limitError(storage.addFlag('t1', makeFlag('over', 'full')), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain(`would hold ${(MAX_FLAGS_PER_TRACE + 1).toLocaleString('en-US')} flags`);
        expect(error.message).toContain('"full"');
        expect(error.message).toContain('nothing was written');
        expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ traceId: 'full', maxFlags: MAX_FLAGS_PER_TRACE });
        expect((await storage.getTrace('t1', 'full'))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
        expect(await storage.listFlags('t1', { traceId: 'full' })).toHaveLength(MAX_FLAGS_PER_TRACE);
        // The refused flag's id was not taken: another trace may use it.
        await storage.createTrace(makeTrace('t1', 'other', 's1', T0 + 1));
        await storage.addFlag('t1', makeFlag('over', 'other'));
        // Other tenants and traces are not affected.
        await storage.createTrace(makeTrace('t2', 'full', 's1'));
        await storage.addFlag('t2', makeFlag('f1', 'full'));
        // A trace created with too many flags is not created.
        await limitError(storage.createTrace(makeTrace('t1', 'big', 's1', T0, { flags: flags('big', MAX_FLAGS_PER_TRACE + 1) })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'big')).toBeNull();
        expect(await storage.listFlags('t1', { traceId: 'big' })).toEqual([]);
      });

      it.skipIf(!supports.transactions)('refuses a batch whose flags would pass MAX_FLAGS_PER_TRACE whole, and takes one that fits', async () => {
        const flags = Array.from({ length: MAX_FLAGS_PER_TRACE - 2 }, (_, i) => makeFlag(`f${i}`, 'tr1', 'Anomaly', { evidence: [] }));
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { flags }));
        const checkpoint: Checkpoint = { traceId: 'tr1', label: 'governance:input', passed: false, details: {}, at: iso(T0) };
        const ops: BatchOp[] = [
          { op: 'addCheckpoint', checkpoint },
          { op: 'addFlag', flag: makeFlag('a', 'tr1') },
          { op: 'addFlag', flag: makeFlag('b', 'tr1') },
          { op: 'addFlag', flag: makeFlag('c', 'tr1') },
          { op: 'incrementCounters', deltas: { flags: 3 } },
        ];
        await limitError(storage.batch('t1', ops), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect((await storage.getTrace('t1', 'tr1'))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE - 2);
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([]);
        expect(await storage.getCounters('t1')).toEqual({});
        // A batch creating a trace with too many flags writes nothing either.
        const big = Array.from({ length: MAX_FLAGS_PER_TRACE + 1 }, (_, i) => makeFlag(`g${i}`, 'tr2', 'Anomaly', { evidence: [] }));
        await limitError(storage.batch('t1', [{ op: 'createTrace', trace: makeTrace('t1', 'tr2', 's1', T0, { flags: big }) }]), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'tr2')).toBeNull();
        await storage.batch('t1', ops.filter((o) => !(o.op === 'addFlag' && o.flag.id === 'c')));
        expect((await storage.getTrace('t1', 'tr1'))!.flags.map((f) => f.id).slice(-2)).toEqual(['a', 'b']);
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([checkpoint]);
      });

      it('lets exactly as many concurrent adds pass as the trace can still take', async () => {
        const room = 5;
        const flags = Array.from({ length: MAX_FLAGS_PER_TRACE - room }, (_, i) => makeFlag(`f${i}`, 'tr1', 'Anomaly', { evidence: [] }));
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { flags }));
        const results = await Promise.allSettled(Array.from({ length: 4 * room }, (_, i) => storage.addFlag('t1', makeFlag(`c${i}`, 'tr1'))));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(room);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        expect((await storage.getTrace('t1', 'tr1'))!.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
        expect(await storage.listFlags('t1', { traceId: 'tr1' })).toHaveLength(MAX_FLAGS_PER_TRACE);
      });

      it("holds at most 4 × maxRecordBytes of flags on a trace (each flag's JSON): past it LIMIT_PAYLOAD_TOO_LARGE, writing nothing", async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const big = Math.floor(max * 0.9);
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { flags: [bigFlag('b0', 'tr1', big), bigFlag('b1', 'tr1', big)] }));
        await storage.addFlag('t1', bigFlag('b2', 'tr1', big));
        await storage.addFlag('t1', bigFlag('b3', 'tr1', Math.floor(max * 0.6)));
        const error = await limitError(storage.addFlag('t1', bigFlag('b4', 'tr1', big)), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain(`at most ${maxTraceFlagsBytes(max).toLocaleString('en-US')}`);
        expect((await storage.getTrace('t1', 'tr1'))!.flags.map((f) => f.id)).toEqual(['b0', 'b1', 'b2', 'b3']);
        // A small flag still fits.
        await storage.addFlag('t1', makeFlag('small', 'tr1'));
        const many = Array.from({ length: 5 }, (_, i) => bigFlag(`m${i}`, 'tr2', big));
        await limitError(storage.createTrace(makeTrace('t1', 'tr2', 's1', T0, { flags: many })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'tr2')).toBeNull();
      });

      it('round-trips checkpoints in insertion order', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.createTrace(makeTrace('t1', 'tr2', 's1'));
        const c: Checkpoint[] = [
          { traceId: 'tr1', label: 'input', passed: true, details: { findings: 0 }, at: iso(T0 + 2) },
          { traceId: 'tr1', label: 'output', passed: false, details: { findings: [{ rule: 'x' }] }, at: iso(T0 + 1) },
        ];
        for (const cp of c) expect(await storage.addCheckpoint('t1', cp)).toEqual(cp);
        await storage.addCheckpoint('t1', { traceId: 'tr2', label: 'input', passed: true, details: {}, at: iso(T0) });
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual(c);
        expect(await storage.listCheckpoints('t1', 'nothing')).toEqual([]);
        await limitError(storage.addCheckpoint('t1', { ...c[0]!, traceId: 'missing' }), 'LIMIT_NOT_FOUND');
        await limitError(storage.addCheckpoint('t1', { ...c[0]!, label: '' }), 'LIMIT_VALIDATION');
      });

      it('sets, replaces and lists quarantine states', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.createTrace(makeTrace('t1', 'tr2', 's1'));
        const q1 = { traceId: 'tr1', quarantined: true, reason: 'severity 9', actor: 'governance', at: iso(T0) };
        const q2 = { traceId: 'tr2', quarantined: true, reason: 'manual', actor: 'alice', at: iso(T0 + 1) };
        expect(await storage.setQuarantine('t1', q1)).toEqual(q1);
        await storage.setQuarantine('t1', q2);
        expect(await storage.getQuarantine('t1', 'tr1')).toEqual(q1);
        expect((await storage.listQuarantined('t1')).map((q) => q.traceId).sort()).toEqual(['tr1', 'tr2']);
        const released = { ...q1, quarantined: false, reason: 'reviewed', at: iso(T0 + 5), flagCount: 3 };
        await storage.setQuarantine('t1', released);
        expect(await storage.getQuarantine('t1', 'tr1')).toEqual(released);
        expect((await storage.listQuarantined('t1')).map((q) => q.traceId)).toEqual(['tr2']);
        expect(await storage.getQuarantine('t1', 'missing')).toBeNull();
        await limitError(storage.setQuarantine('t1', { ...q1, traceId: 'missing' }), 'LIMIT_NOT_FOUND');
      });
    });

    describe('rate–distortion series', () => {
      it('creates series, appends points in order, lists by session', async () => {
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'refinement', points: [], createdAt: iso(T0), metadata: { algo: 'fgw' } };
        expect(await storage.createRdSeries(series)).toEqual(series);
        await storage.createRdSeries({ ...series, id: 'rd2', sessionId: 's2' });
        const p = [
          { step: 0, rate: 0, distortion: 1.5 },
          { step: 1, rate: 0.25, distortion: 0.75, meta: { note: 'x' } },
          { step: 2, rate: 0.5, distortion: 0.125 },
        ];
        // An append returns its point and the series' totals, not the series' other points.
        for (const [i, point] of p.entries()) {
          expect(await storage.appendRdPoint('t1', 'rd1', point)).toEqual({ seriesId: 'rd1', point, pointCount: i + 1, pointBytes: jsonBytesEach(p.slice(0, i + 1)) });
        }
        expect(await storage.getRdSeries('t1', 'rd1')).toEqual({ ...series, points: p });
        expect((await storage.listRdSeries('t1', { sessionId: 's1' })).map((s) => s.id)).toEqual(['rd1']);
        expect((await storage.listRdSeries('t1')).map((s) => s.id).sort()).toEqual(['rd1', 'rd2']);
        expect(await storage.getRdSeries('t1', 'missing')).toBeNull();
      });

      it('returns every point with its keys in order { step, rate, distortion, meta }, appended with or without a step', async () => {
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points: [], createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries({ ...series, points: [{ distortion: 2, rate: 1, step: 0 } as RdPoint] });
        const appended = [
          await storage.appendRdPoint('t1', 'rd1', { rate: 1, distortion: 0.5 }),
          await storage.appendRdPoint('t1', 'rd1', { meta: { note: 'x' }, distortion: 0.25, rate: 2 }),
          await storage.appendRdPoint('t1', 'rd1', { distortion: 0.125, rate: 3, step: 9 }),
          await storage.appendRdPoint('t1', 'rd1', { step: 10, rate: 4, distortion: 0 }),
        ];
        const keys = [['step', 'rate', 'distortion'], ['step', 'rate', 'distortion'], ['step', 'rate', 'distortion', 'meta'], ['step', 'rate', 'distortion'], ['step', 'rate', 'distortion']];
        expect(appended.map((a) => Object.keys(a.point))).toEqual(keys.slice(1));
        expect((await storage.getRdSeries('t1', 'rd1'))!.points.map((p) => Object.keys(p))).toEqual(keys);
        expect((await storage.listRdSeries('t1'))[0]!.points.map((p) => Object.keys(p))).toEqual(keys);
        expect((await storage.listRdSeries('t1', { sessionId: 's1' }))[0]!.points.map((p) => Object.keys(p))).toEqual(keys);
      });

      it('stores the points a series is created with and refuses bad points and unknown series', async () => {
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points: [{ step: 0, rate: 1, distortion: 2 }], createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries(series);
        await limitError(storage.createRdSeries(series), 'LIMIT_CONFLICT');
        expect((await limitError(storage.appendRdPoint('t1', 'rd1', { step: 1, rate: -1, distortion: 0 }), 'LIMIT_VALIDATION')).message).toMatch(/\brate: /);
        await limitError(storage.appendRdPoint('t1', 'missing', { step: 1, rate: 1, distortion: 0 }), 'LIMIT_NOT_FOUND');
        expect(await storage.getRdSeries('t1', 'rd1')).toEqual(series);
      });

      it('summarises a series without its points: count, bytes and next step (one more than the largest step)', async () => {
        const points = [{ step: 5, rate: 1, distortion: 2 }, { step: 2, rate: 2, distortion: 1, meta: { note: 'é' } }];
        const { points: _p, ...rest } = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points, createdAt: iso(T0), metadata: { reference: { nodes: [] } } } satisfies RdSeries;
        await storage.createRdSeries({ ...rest, points });
        expect(await storage.getRdSeriesSummary('t1', 'rd1')).toEqual({ ...rest, pointCount: 2, pointBytes: jsonBytesEach(points), nextStep: 6 });
        const more = { step: 9, rate: 3, distortion: 0.5 };
        await storage.appendRdPoint('t1', 'rd1', more);
        expect(await storage.getRdSeriesSummary('t1', 'rd1')).toEqual({ ...rest, pointCount: 3, pointBytes: jsonBytesEach([...points, more]), nextStep: 10 });
        await storage.createRdSeries({ ...rest, id: 'empty', points: [] });
        expect(await storage.getRdSeriesSummary('t1', 'empty')).toMatchObject({ pointCount: 0, pointBytes: 0, nextStep: 0 });
        expect(await storage.getRdSeriesSummary('t1', 'missing')).toBeNull();
        expect(await storage.getRdSeriesSummary('t2', 'rd1')).toBeNull();
        await limitError(storage.getRdSeriesSummary('t1', '../x'), 'LIMIT_VALIDATION');
      });

      it('gives a point appended without step the next step in the append: concurrent appends get distinct, consecutive steps; a given step is stored as given', async () => {
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points: [{ step: 3, rate: 0, distortion: 1 }], createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries(series);
        const appended = await Promise.all(Array.from({ length: 20 }, (_, i) => storage.appendRdPoint('t1', 'rd1', { rate: i, distortion: 1 })));
        const steps = Array.from({ length: 20 }, (_, i) => i + 4);
        expect(appended.map((a) => a.point.step).sort((a, b) => a - b)).toEqual(steps);
        // Stored as returned, in append order (the order their steps were given in).
        const stored = (await storage.getRdSeries('t1', 'rd1'))!.points;
        expect(stored.map((p) => p.step)).toEqual([3, ...steps]);
        for (const a of appended) expect(stored).toContainEqual(a.point);
        // A given step is kept, even one the series holds already; a default step follows the largest.
        expect((await storage.appendRdPoint('t1', 'rd1', { step: 5, rate: 1, distortion: 0 })).point.step).toBe(5);
        expect((await storage.appendRdPoint('t1', 'rd1', { step: 40, rate: 1, distortion: 0 })).point.step).toBe(40);
        expect((await storage.appendRdPoint('t1', 'rd1', { rate: 2, distortion: 0, meta: { note: 'x' } }))).toMatchObject({ point: { step: 41, rate: 2, distortion: 0, meta: { note: 'x' } }, pointCount: 24 });
        expect(await storage.getRdSeriesSummary('t1', 'rd1')).toMatchObject({ pointCount: 24, nextStep: 42 });
        await storage.createRdSeries({ ...series, id: 'empty', points: [] });
        expect((await storage.appendRdPoint('t1', 'empty', { rate: 0, distortion: 0 })).point).toEqual({ step: 0, rate: 0, distortion: 0 });
        await limitError(storage.appendRdPoint('t1', 'rd1', { step: -1, rate: 0, distortion: 0 }), 'LIMIT_VALIDATION');
        await limitError(storage.appendRdPoint('t1', 'missing', { rate: 0, distortion: 0 }), 'LIMIT_NOT_FOUND');
      });

      it('refuses a point without step for a series with no next step (its largest step is Number.MAX_SAFE_INTEGER - 1), writing nothing', async () => {
        const top = Number.MAX_SAFE_INTEGER - 1;
        await storage.createRdSeries({ id: 'top', sessionId: 's1', tenant: 't1', name: 'n', points: [{ step: top, rate: 0, distortion: 1 }], createdAt: iso(T0), metadata: {} });
        const error = await limitError(storage.appendRdPoint('t1', 'top', { rate: 1, distortion: 0 }), 'LIMIT_RD_INVALID_INPUT');
        expect(error.message).toBe(`RD series "top" has no next step: its largest step is ${top}; give \`step\` explicitly`);
        expect(error).toMatchObject({ details: { seriesId: 'top', field: 'step' } });
        expect(await storage.getRdSeriesSummary('t1', 'top')).toMatchObject({ pointCount: 1, nextStep: Number.MAX_SAFE_INTEGER });
        expect((await storage.appendRdPoint('t1', 'top', { step: 7, rate: 1, distortion: 0 })).pointCount).toBe(2);
      });

      it.skipIf(!supports.multiProcess)('gives distinct, consecutive steps to points appended without step at once through two stores opened on the same data', async (ctx) => {
        if (!fixture.reopen) return ctx.skip('the fixture has no reopen()');
        await storage.createRdSeries({ id: 'shared', sessionId: 's1', tenant: 't1', name: 'n', points: [], createdAt: iso(T0), metadata: {} });
        // A second store over the same data while the first stays open (another process, another connection).
        const other = await fixture.reopen();
        opened.push(other);
        const appended = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? other : storage).appendRdPoint('t1', 'shared', { rate: i, distortion: 1 })));
        const steps = Array.from({ length: 40 }, (_, i) => i);
        expect(appended.map((a) => a.point.step).sort((a, b) => a - b)).toEqual(steps);
        expect((await storage.getRdSeries('t1', 'shared'))!.points.map((p) => p.step)).toEqual(steps);
        expect(await other.getRdSeriesSummary('t1', 'shared')).toMatchObject({ pointCount: 40, nextStep: 40 });
      });

      it(`holds at most MAX_RD_POINTS (${MAX_RD_POINTS}) points: a create or an append past it is LIMIT_PAYLOAD_TOO_LARGE, writing nothing`, async () => {
        const full = Array.from({ length: MAX_RD_POINTS }, (_, i) => ({ step: i, rate: i, distortion: 1 }));
        const series: RdSeries = { id: 'full', sessionId: 's1', tenant: 't1', name: 'n', points: full, createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries(series);
        const error = await limitError(storage.appendRdPoint('t1', 'full', { step: MAX_RD_POINTS, rate: 1, distortion: 0 }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain(`would hold ${(MAX_RD_POINTS + 1).toLocaleString('en-US')} points`);
        expect(await storage.getRdSeriesSummary('t1', 'full')).toMatchObject({ pointCount: MAX_RD_POINTS, nextStep: MAX_RD_POINTS });
        await limitError(storage.createRdSeries({ ...series, id: 'over', points: [...full, { step: MAX_RD_POINTS, rate: 0, distortion: 0 }] }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getRdSeries('t1', 'over')).toBeNull();
      });

      it("holds at most 4 × maxRecordBytes of points together (each point's JSON): past it LIMIT_PAYLOAD_TOO_LARGE, writing nothing", async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const point = (step: number, bytes: number) => ({ step, rate: step, distortion: 1, meta: { blob: 'x'.repeat(bytes) } });
        const big = Math.floor(max * 0.9);
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points: [point(0, big), point(1, big), point(2, big)], createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries(series);
        const fits = await storage.appendRdPoint('t1', 'rd1', point(3, Math.floor(max * 0.6)));
        expect(fits.pointCount).toBe(4);
        const error = await limitError(storage.appendRdPoint('t1', 'rd1', point(4, big)), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain(`at most ${maxRdPointsBytes(max).toLocaleString('en-US')}`);
        expect(await storage.getRdSeriesSummary('t1', 'rd1')).toMatchObject({ pointCount: 4, pointBytes: fits.pointBytes, nextStep: 4 });
        await limitError(storage.createRdSeries({ ...series, id: 'rd2', points: [...series.points, point(3, big), point(4, big)] }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getRdSeries('t1', 'rd2')).toBeNull();
      });
    });

    describe('list order of quarantine states and RD series', () => {
      it('lists quarantined traces by trace id, also after a restart', async (ctx) => {
        // Insertion order, session folders and trace ids all disagree.
        const ids: [string, string][] = [['q', 's2'], ['x', 's1'], ['c', 's3'], ['m', 's1']];
        for (const [id, session] of ids) await storage.createTrace(makeTrace('t1', id, session));
        for (const [id] of ids) await storage.setQuarantine('t1', { traceId: id, quarantined: true, reason: 'r', actor: 'a', at: iso(T0) });
        await storage.setQuarantine('t1', { traceId: 'm', quarantined: false, reason: 'released', actor: 'a', at: iso(T0 + 1) });
        await storage.setQuarantine('t1', { traceId: 'q', quarantined: true, reason: 'again', actor: 'a', at: iso(T0 + 2) });
        expect((await storage.listQuarantined('t1')).map((q) => q.traceId)).toEqual(['c', 'q', 'x']);
        if (!fixture.reopen) return ctx.skip('the fixture has no reopen()');
        const s2 = await restart();
        expect((await s2.listQuarantined('t1')).map((q) => q.traceId)).toEqual(['c', 'q', 'x']);
      });

      it('lists RD series oldest first (the instant of createdAt), ties by id, also after a restart', async (ctx) => {
        const at = (ms: number) => iso(T0 + ms);
        const base = { tenant: 't1', name: 'n', points: [], metadata: {} };
        // Inserted in an order that is neither creation order nor id order; r-b and r-a share an
        // instant (written with different offsets), r-b inserted first.
        const made: RdSeries[] = [
          { ...base, id: 'r-z', sessionId: 's1', createdAt: at(1000) },
          { ...base, id: 'r-b', sessionId: 's2', createdAt: '2024-03-01T02:00:02.000+02:00' },
          { ...base, id: 'r-a', sessionId: 's1', createdAt: at(2000) },
          { ...base, id: 'r-m', sessionId: 's1', createdAt: at(0) },
        ];
        for (const s of made) await storage.createRdSeries(s);
        await storage.appendRdPoint('t1', 'r-z', { step: 0, rate: 0, distortion: 1 });
        const expected = ['r-m', 'r-z', 'r-a', 'r-b'];
        const bySession = ['r-m', 'r-z', 'r-a'];
        expect((await storage.listRdSeries('t1')).map((s) => s.id)).toEqual(expected);
        expect((await storage.listRdSeries('t1', { sessionId: 's1' })).map((s) => s.id)).toEqual(bySession);
        if (!fixture.reopen) return ctx.skip('the fixture has no reopen()');
        const s2 = await restart();
        expect((await s2.listRdSeries('t1')).map((s) => s.id)).toEqual(expected);
        expect((await s2.listRdSeries('t1', { sessionId: 's1' })).map((s) => s.id)).toEqual(bySession);
      });
    });

    describe('counters', () => {
      it('increments and reads counters per tenant', async () => {
        expect(await storage.getCounters('t1')).toEqual({});
        await storage.incrementCounters('t1', { blocked: 1, 'flags.Jailbreak': 2 });
        await storage.incrementCounters('t1', { blocked: 2, quarantined: 1 });
        await storage.incrementCounters('t1', { quarantined: -1 });
        expect(await storage.getCounters('t1')).toEqual({ blocked: 3, 'flags.Jailbreak': 2, quarantined: 0 });
        await limitError(storage.incrementCounters('t1', { bad: Number.NaN }), 'LIMIT_VALIDATION');
        expect((await storage.getCounters('t1')).bad).toBeUndefined();
      });

      it('refuses counter names that no backend stores as given (a NUL, half a surrogate pair) with LIMIT_VALIDATION, writing nothing; keeps other Unicode names exactly', async () => {
        for (const name of ['a\u0000b', 'x\uD800', '\uDC00y', 'p\uDBFFq']) {
          const error = await limitError(storage.incrementCounters('t1', { ok: 1, [name]: 1 }), 'LIMIT_VALIDATION');
          expect(error.message).toContain('counter');
          await limitError(storage.batch('t1', [{ op: 'incrementCounters', deltas: { ok: 1 } }, { op: 'incrementCounters', deltas: { [name]: 1 } }]), 'LIMIT_VALIDATION');
        }
        expect(await storage.getCounters('t1')).toEqual({});
        // Well-formed names round-trip unchanged (a pair, combining marks, 256 characters), and every one
        // is read back, whatever its first character: above U+FFFF (4 UTF-8 bytes) or U+FFFF itself.
        const names = ['emoji.\u{1F600}', '\u{1F600}', '\u{10FFFD}z', '\uffff', '\uffffz', 'e\u0301', 'é'.repeat(256), 'tab\tnewline\n'];
        await storage.incrementCounters('t1', Object.fromEntries(names.map((n) => [n, 1])));
        expect(await storage.getCounters('t1')).toEqual(Object.fromEntries(names.map((n) => [n, 1])));
      });

      it('counts names of Object.prototype members (constructor, toString, …) like any other, and refuses __proto__ (LIMIT_VALIDATION naming it, writing nothing), alone or in a batch', async () => {
        const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
        await storage.incrementCounters('t1', Object.fromEntries(names.map((n) => [n, 2])));
        await storage.incrementCounters('t1', { constructor: 3 });
        await storage.batch('t1', [{ op: 'incrementCounters', deltas: { valueOf: 1 } }, { op: 'incrementCounters', deltas: { toString: 1, valueOf: 1 } }]);
        const held = { constructor: 5, toString: 3, hasOwnProperty: 2, valueOf: 4, __defineGetter__: 2, isPrototypeOf: 2 };
        expect(await storage.getCounters('t1')).toEqual(held);
        // JSON.parse makes `__proto__` an own key (an object literal would set the prototype instead).
        const proto = JSON.parse('{"__proto__": 2, "runs": 1}') as Record<string, number>;
        const error = await limitError(storage.incrementCounters('t1', proto), 'LIMIT_VALIDATION');
        expect(error.message).toContain('__proto__');
        const inBatch = await limitError(storage.batch('t1', [{ op: 'incrementCounters', deltas: { runs: 1 } }, { op: 'incrementCounters', deltas: proto }]), 'LIMIT_VALIDATION');
        expect(inBatch.message).toMatch(/^Invalid batch op 1 \(incrementCounters\): .*__proto__/);
        expect(await storage.getCounters('t1')).toEqual(held);
      });

      it('refuses an increment that would take a counter past the finite numbers (LIMIT_VALIDATION naming it), writing nothing, alone or in a batch', async () => {
        await storage.incrementCounters('t1', { big: Number.MAX_VALUE, low: -Number.MAX_VALUE, runs: 1 });
        const held = { big: Number.MAX_VALUE, low: -Number.MAX_VALUE, runs: 1 };
        for (const deltas of [{ runs: 1, big: Number.MAX_VALUE }, { low: -Number.MAX_VALUE, runs: 1 }] as Record<string, number>[]) {
          const error = await limitError(storage.incrementCounters('t1', deltas), 'LIMIT_VALIDATION');
          expect(error.message).toContain(Object.keys(deltas).find((n) => n !== 'runs'));
          expect(await storage.getCounters('t1')).toEqual(held);
        }
        // In a batch: the stored value plus the batch's deltas, and the batch's deltas alone (a new counter).
        const batches: BatchOp[][] = [
          [{ op: 'createSession', session: makeSession('t1', 'cs1') }, { op: 'incrementCounters', deltas: { runs: 1 } }, { op: 'incrementCounters', deltas: { big: Number.MAX_VALUE } }],
          [{ op: 'createSession', session: makeSession('t1', 'cs1') }, { op: 'incrementCounters', deltas: { fresh: Number.MAX_VALUE, runs: 1 } }, { op: 'incrementCounters', deltas: { fresh: Number.MAX_VALUE } }],
        ];
        for (const ops of batches) {
          await limitError(storage.batch('t1', ops), 'LIMIT_VALIDATION');
          expect(await storage.getCounters('t1')).toEqual(held);
          expect(await storage.getSession('t1', 'cs1')).toBeNull();
        }
        // The counters stay readable and usable.
        await storage.incrementCounters('t1', { big: -Number.MAX_VALUE, runs: 1 });
        expect(await storage.getCounters('t1')).toEqual({ big: 0, low: -Number.MAX_VALUE, runs: 2 });
      });

      it('increments atomically under concurrency', async () => {
        await Promise.all(Array.from({ length: 20 }, async () => {
          for (let i = 0; i < 25; i++) await storage.incrementCounters('t1', { runs: 1, tokens: 10 });
        }));
        expect(await storage.getCounters('t1')).toEqual({ runs: 500, tokens: 5000 });
      });

      it('survive a restart', async (ctx) => {
        if (!fixture.reopen) return ctx.skip('the fixture has no reopen()');
        await storage.incrementCounters('t1', { runs: 7 });
        const s2 = await restart();
        expect(await s2.getCounters('t1')).toEqual({ runs: 7 });
        await s2.incrementCounters('t1', { runs: 1 });
        expect(await s2.getCounters('t1')).toEqual({ runs: 8 });
      });
    });

    describe('listing: filters and pagination', () => {
      it(`pages through ${paginationRows} traces newest first with no duplicates or gaps`, async () => {
        const traces: Trace[] = [];
        for (let i = 0; i < paginationRows; i++) {
          // Every 4 traces share a millisecond, so the id tie-break is exercised.
          traces.push(makeTrace('t1', `tr-${String(i).padStart(5, '0')}`, `s${i % 3}`, T0 + Math.floor(i / 4)));
        }
        for (let i = 0; i < traces.length; i += 500) {
          await storage.batch('t1', traces.slice(i, i + 500).map((trace) => ({ op: 'createTrace', trace })));
        }
        const expected = traces.map((t) => t.id).reverse();
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await storage.listTraces('t1', { limit: 100, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((t) => t.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
          expect(pages).toBeLessThanOrEqual(Math.ceil(paginationRows / 100) + 1);
        } while (cursor);
        expect(seen).toEqual(expected);
        expect(pages).toBe(Math.ceil(paginationRows / 100));

        // Same result with another page size and a filter.
        const s1: string[] = [];
        cursor = undefined;
        do {
          const page = await storage.listTraces('t1', { sessionId: 's1', limit: 333, ...(cursor ? { cursor } : {}) });
          s1.push(...page.items.map((t) => t.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(s1).toEqual(traces.filter((t) => t.sessionId === 's1').map((t) => t.id).reverse());
      });

      it('keeps a cursor stable when newer traces arrive between pages', async () => {
        for (let i = 0; i < 30; i++) await storage.createTrace(makeTrace('t1', `tr${String(i).padStart(2, '0')}`, 's1', T0 + i));
        const p1 = await storage.listTraces('t1', { limit: 10 });
        for (let i = 30; i < 35; i++) await storage.createTrace(makeTrace('t1', `tr${i}`, 's1', T0 + i));
        const p2 = await storage.listTraces('t1', { limit: 10, cursor: p1.nextCursor! });
        expect(p2.items.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, k) => `tr${String(19 - k).padStart(2, '0')}`));
      });

      it('ends a page at its byte budget (maxBytes) with a cursor, so limit is a maximum: large traces and sessions page through whole', async () => {
        // 20 traces of about 1 MB of JSON each (the model's largest input), under a budget of 3.5 MB:
        // pages of 3, each within the budget, none missing, every page but the last with a cursor.
        const input = 'x'.repeat(999_000);
        for (let i = 0; i < 20; i++) await storage.createTrace(makeTrace('t1', `big${String(i).padStart(2, '0')}`, 's1', T0 + i, { task: { input, kind: 'code' } }));
        const expected = Array.from({ length: 20 }, (_, i) => `big${String(19 - i).padStart(2, '0')}`);
        const budget = 3_500_000;
        const seen: string[] = [];
        const sizes: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await storage.listTraces('t1', { limit: 1000, maxBytes: budget, ...(cursor ? { cursor } : {}) });
          expect(jsonBytes(page.items)).toBeLessThanOrEqual(budget);
          sizes.push(page.items.length);
          seen.push(...page.items.map((t) => t.id));
          cursor = page.nextCursor ?? undefined;
          expect(sizes.length).toBeLessThanOrEqual(20);
        } while (cursor);
        expect(seen).toEqual(expected);
        expect(sizes).toEqual([3, 3, 3, 3, 3, 3, 2]);
        expect((await storage.listTraces('t1', { limit: 5, maxBytes: budget })).items).toHaveLength(3);
        // The count still ends a page first when it comes first; the default budget (MAX_PAGE_BYTES, 16 MiB) holds 16.
        expect((await storage.listTraces('t1', { limit: 2, maxBytes: budget })).items).toHaveLength(2);
        const byDefault = await storage.listTraces('t1', { limit: 1000 });
        expect(byDefault.items.map((t) => t.id)).toEqual(expected.slice(0, 16));
        expect((await storage.listTraces('t1', { limit: 1000, cursor: byDefault.nextCursor! })).items.map((t) => t.id)).toEqual(expected.slice(16));
        // A budget smaller than one trace: one trace a page (never an empty page), and a filter pages the same.
        const one = await storage.listTraces('t1', { sessionId: 's1', limit: 1000, maxBytes: 1000 });
        expect(one.items.map((t) => t.id)).toEqual(['big19']);
        expect((await storage.listTraces('t1', { sessionId: 's1', limit: 1000, maxBytes: 1000, cursor: one.nextCursor! })).items.map((t) => t.id)).toEqual(['big18']);
        // The last page of a budget-cut listing ends with null, even when it is full to the budget.
        const lastThree = await storage.listTraces('t1', { limit: 1000, maxBytes: budget, cursor: cursorAfter({ createdAt: iso(T0 + 3), id: 'big03' }) });
        expect(lastThree.items.map((t) => t.id)).toEqual(['big02', 'big01', 'big00']);
        expect(lastThree.nextCursor).toBeNull();

        // Sessions page the same way (their metadata is free-form).
        for (let i = 0; i < 5; i++) await storage.createSession(makeSession('t1', `sess${i}`, { createdAt: iso(T0 + i), metadata: { blob: input } }));
        const sessionPages: string[][] = [];
        cursor = undefined;
        do {
          const page = await storage.listSessions('t1', { limit: 1000, maxBytes: 2_500_000, ...(cursor ? { cursor } : {}) });
          sessionPages.push(page.items.map((x) => x.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(sessionPages).toEqual([['sess4', 'sess3'], ['sess2', 'sess1'], ['sess0']]);

        await limitError(storage.listTraces('t1', { maxBytes: 0 }), 'LIMIT_VALIDATION');
        await limitError(storage.listTraces('t1', { maxBytes: MAX_PAGE_BYTES + 1 }), 'LIMIT_VALIDATION');
        await limitError(storage.listSessions('t1', { maxBytes: 1.5 }), 'LIMIT_VALIDATION');
      });

      it('measures a page against maxBytes as its records\' JSON: a NUL (6 bytes as \\u0000) counts in full, whatever the store keeps', async () => {
        const nul = '\u0000'.repeat(150_000);
        for (let i = 0; i < 3; i++) {
          await storage.createTrace(makeTrace('t1', `n${i}`, 's1', T0 + i, { metadata: { blob: nul } }));
          await storage.createSession(makeSession('t1', `ns${i}`, { createdAt: iso(T0 + i), metadata: { blob: nul } }));
        }
        await storage.addFlag('t1', makeFlag('nf', 'n2', 'Anomaly', { reason: nul.slice(0, 2_000) }));
        const budget = 2_000_000;
        const traces = await storage.listTraces('t1', { maxBytes: budget });
        expect(jsonBytes(traces.items)).toBeLessThanOrEqual(budget);
        expect(traces.items.map((t) => t.id)).toEqual(['n2', 'n1']);
        const sessions = await storage.listSessions('t1', { maxBytes: budget });
        expect(jsonBytes(sessions.items)).toBeLessThanOrEqual(budget);
        expect(sessions.items.map((x) => x.id)).toEqual(['ns2', 'ns1']);
        // An update and a close change what is measured.
        await storage.updateTrace('t1', 'n2', { metadata: {} });
        await storage.closeSession('t1', 'ns2', iso(T0 + 9));
        expect((await storage.listTraces('t1', { maxBytes: budget })).items.map((t) => t.id)).toEqual(['n2', 'n1', 'n0']);
        expect((await storage.listSessions('t1', { maxBytes: budget })).items.map((x) => x.id)).toEqual(['ns2', 'ns1']);
      });

      it('counts each trace\'s whole JSON against maxBytes, its flags and their key included: a budget of exactly k traces holds at most k', async () => {
        // Traces of one size (ids and timestamps of fixed width), without flags and with two flags each.
        for (const [tenant, flags] of [['t1', 0], ['t2', 2]] as const) {
          const ops: BatchOp[] = [];
          for (let i = 0; i < 60; i++) {
            const id = `tr${String(i).padStart(3, '0')}`;
            ops.push({ op: 'createTrace', trace: makeTrace(tenant, id, 's1', T0 + 1000 + i) });
            for (let f = 0; f < flags; f++) ops.push({ op: 'addFlag', flag: makeFlag(`f${String(i).padStart(3, '0')}${f}`, id) });
          }
          await storage.batch(tenant, ops);
          const size = jsonBytes(await storage.getTrace(tenant, 'tr000'));
          for (const k of [1, 7, 40]) {
            for (const maxBytes of [k * size, k * size - 1]) {
              const page = await storage.listTraces(tenant, { limit: 1000, maxBytes });
              const sum = jsonBytesEach(page.items);
              expect(page.items.every((t) => jsonBytes(t) === size), 'traces of one size').toBe(true);
              if (page.items.length > 1) expect(sum, `${tenant}: ${page.items.length} traces of ${size} bytes under maxBytes ${maxBytes}`).toBeLessThanOrEqual(maxBytes);
              expect(page.items.length).toBeGreaterThan(0);
              expect(page.nextCursor).not.toBeNull();
            }
          }
        }
      });

      it('filters by session, status, flag kind and time range, alone and combined', async () => {
        const statuses: TraceStatus[] = ['ok', 'error', 'blocked', 'quarantined'];
        const ops: BatchOp[] = [];
        const all: Trace[] = [];
        for (let i = 0; i < 200; i++) {
          const t = makeTrace('t1', `tr${String(i).padStart(3, '0')}`, `s${i % 2}`, T0 + i * 10, { status: statuses[i % 4]! });
          all.push(t);
          ops.push({ op: 'createTrace', trace: t });
          if (i % 5 === 0) ops.push({ op: 'addFlag', flag: makeFlag(`f${i}`, t.id, i % 10 === 0 ? 'Jailbreak' : 'Unsafe') });
        }
        await storage.batch('t1', ops);
        const ids = async (q: Parameters<Storage['listTraces']>[1]) => (await storage.listTraces('t1', { limit: 1000, ...q })).items.map((t) => t.id);
        const want = (pred: (t: Trace, i: number) => boolean) => all.filter(pred).map((t) => t.id).reverse();

        expect(await ids({ sessionId: 's0' })).toEqual(want((t) => t.sessionId === 's0'));
        expect(await ids({ status: 'blocked' })).toEqual(want((t) => t.status === 'blocked'));
        expect(await ids({ status: ['error', 'quarantined'] })).toEqual(want((t) => t.status === 'error' || t.status === 'quarantined'));
        expect(await ids({ flagKind: 'Jailbreak' })).toEqual(want((_, i) => i % 10 === 0));
        expect(await ids({ flagKind: 'Unsafe' })).toEqual(want((_, i) => i % 5 === 0 && i % 10 !== 0));
        expect(await ids({ flagKind: 'Malicious' })).toEqual([]);
        expect(await ids({ from: iso(T0 + 500), to: iso(T0 + 1000) })).toEqual(want((_, i) => i >= 50 && i < 100));
        // An offset timestamp denotes the same instant as its UTC form.
        expect(await ids({ from: '2024-03-01T02:00:00.500+02:00', to: iso(T0 + 600) })).toEqual(want((_, i) => i >= 50 && i < 60));
        expect(await ids({ sessionId: 's1', status: 'error', flagKind: 'Unsafe', from: iso(T0) })).toEqual(
          want((t, i) => t.sessionId === 's1' && t.status === 'error' && i % 5 === 0 && i % 10 !== 0),
        );
        const flaggedPages: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await storage.listTraces('t1', { flagKind: 'Jailbreak', limit: 7, ...(cursor ? { cursor } : {}) });
          flaggedPages.push(...page.items.map((t) => t.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(flaggedPages).toEqual(want((_, i) => i % 10 === 0));
        expect((await storage.listTraces('t1')).items).toHaveLength(100);
      });

      it('refuses bad limits, cursors and filters with LIMIT_VALIDATION', async () => {
        const names = async (call: Promise<unknown>, field: string) => expect((await limitError(call, 'LIMIT_VALIDATION')).message).toMatch(new RegExp(`\\b${field}\\b`));
        await names(storage.listTraces('t1', { limit: 0 }), 'limit');
        await names(storage.listTraces('t1', { limit: 1001 }), 'limit');
        await names(storage.listTraces('t1', { cursor: 'not-a-cursor' }), 'cursor');
        await names(storage.listTraces('t1', { status: 'nope' as TraceStatus }), 'status');
        await names(storage.listTraces('t1', { from: 'yesterday' }), 'from');
        // A range whose from is after its to matches nothing by construction: refused, naming both, not an empty page.
        const reversed = await limitError(storage.listTraces('t1', { from: iso(T0 + 1000), to: '2024-03-01T02:00:00.500+02:00' }), 'LIMIT_VALIDATION');
        expect(reversed.message).toMatch(/from: .*after `to`.*; to: .*before `from`/);
        // An empty window (from = to, the same instant in two offsets) is a range, answered with no traces.
        expect((await storage.listTraces('t1', { from: iso(T0 + 500), to: '2024-03-01T02:00:00.500+02:00' })).items).toEqual([]);
        await names(storage.listSessions('t1', { cursor: '!!' }), 'cursor');
      });
    });

    describe('tenant isolation', () => {
      async function seedB(): Promise<void> {
        await storage.createSession(makeSession('tenantB', 'sB'));
        await storage.createTrace(makeTrace('tenantB', 'trB', 'sB'));
        await storage.addFlag('tenantB', makeFlag('fB', 'trB', 'Malicious'));
        await storage.addCheckpoint('tenantB', { traceId: 'trB', label: 'input', passed: true, details: {}, at: iso(T0) });
        await storage.setQuarantine('tenantB', { traceId: 'trB', quarantined: true, reason: 'r', actor: 'a', at: iso(T0) });
        await storage.appendProvenance('tenantB', makeProvenance('trB', 0));
        await storage.createRdSeries({ id: 'rdB', sessionId: 'sB', tenant: 'tenantB', name: 'n', points: [], createdAt: iso(T0), metadata: {} });
        await storage.incrementCounters('tenantB', { runs: 5 });
      }

      it("never lets tenant A read or list tenant B's records", async () => {
        await seedB();
        const A = 'tenantA';
        expect(await storage.getSession(A, 'sB')).toBeNull();
        expect((await storage.listSessions(A)).items).toEqual([]);
        expect(await storage.getTrace(A, 'trB')).toBeNull();
        expect((await storage.listTraces(A)).items).toEqual([]);
        expect((await storage.listTraces(A, { sessionId: 'sB' })).items).toEqual([]);
        expect((await storage.listTraces(A, { flagKind: 'Malicious' })).items).toEqual([]);
        expect(await storage.listFlags(A)).toEqual([]);
        expect(await storage.listFlags(A, { traceId: 'trB' })).toEqual([]);
        expect(await storage.listCheckpoints(A, 'trB')).toEqual([]);
        expect(await storage.getQuarantine(A, 'trB')).toBeNull();
        expect(await storage.listQuarantined(A)).toEqual([]);
        expect(await storage.listProvenance(A, 'trB')).toEqual([]);
        expect(await storage.verifyProvenance(A, 'trB')).toMatchObject({ verified: true, length: 0 });
        expect(await storage.getRdSeries(A, 'rdB')).toBeNull();
        expect(await storage.listRdSeries(A)).toEqual([]);
        expect(await storage.getCounters(A)).toEqual({});
      });

      it("never lets tenant A change tenant B's records", async () => {
        await seedB();
        const A = 'tenantA';
        await limitError(storage.updateTrace(A, 'trB', { status: 'error' }), 'LIMIT_NOT_FOUND');
        await limitError(storage.closeSession(A, 'sB', iso(T0)), 'LIMIT_NOT_FOUND');
        await limitError(storage.addFlag(A, makeFlag('fA', 'trB')), 'LIMIT_NOT_FOUND');
        await limitError(storage.addCheckpoint(A, { traceId: 'trB', label: 'x', passed: false, details: {}, at: iso(T0) }), 'LIMIT_NOT_FOUND');
        await limitError(storage.setQuarantine(A, { traceId: 'trB', quarantined: false, reason: 'r', actor: 'a', at: iso(T0) }), 'LIMIT_NOT_FOUND');
        await limitError(storage.appendProvenance(A, makeProvenance('trB', 1)), 'LIMIT_NOT_FOUND');
        await limitError(storage.appendRdPoint(A, 'rdB', { step: 0, rate: 0, distortion: 0 }), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch(A, [{ op: 'updateTrace', id: 'trB', patch: { status: 'error' } }]), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch(A, [{ op: 'createTrace', trace: makeTrace('tenantB', 'trX', 'sB') }]), 'LIMIT_VALIDATION');
        await limitError(storage.createTrace({ ...makeTrace('tenantA', 'x', 's'), tenant: '../B' }), 'LIMIT_VALIDATION');

        const trB = await storage.getTrace('tenantB', 'trB');
        expect(trB).toMatchObject({ status: 'ok', flags: [expect.objectContaining({ id: 'fB' })] });
        expect(trB!.flags).toHaveLength(1);
        expect((await storage.getSession('tenantB', 'sB'))!.status).toBe('open');
        expect(await storage.listCheckpoints('tenantB', 'trB')).toHaveLength(1);
        expect((await storage.getQuarantine('tenantB', 'trB'))!.quarantined).toBe(true);
        expect(await storage.verifyProvenance('tenantB', 'trB')).toMatchObject({ verified: true, length: 1 });
        expect((await storage.getRdSeries('tenantB', 'rdB'))!.points).toEqual([]);
        expect(await storage.getTrace('tenantB', 'trX')).toBeNull();
      });

      it('lets two tenants use the same ids independently', async () => {
        for (const tenant of ['tenantA', 'tenantB']) {
          await storage.createSession(makeSession(tenant, 's1', { name: tenant }));
          await storage.createTrace(makeTrace(tenant, 'tr1', 's1', T0, { runner: tenant }));
          await storage.addFlag(tenant, makeFlag('f1', 'tr1', tenant === 'tenantA' ? 'Anomaly' : 'Unsafe'));
          await storage.appendProvenance(tenant, makeProvenance('tr1', 0, { actor: tenant }));
          await storage.incrementCounters(tenant, { runs: tenant === 'tenantA' ? 1 : 2 });
        }
        expect((await storage.getSession('tenantA', 's1'))!.name).toBe('tenantA');
        expect((await storage.getTrace('tenantB', 'tr1'))!.runner).toBe('tenantB');
        expect((await storage.getTrace('tenantA', 'tr1'))!.flags.map((f) => f.kind)).toEqual(['Anomaly']);
        expect((await storage.listProvenance('tenantB', 'tr1')).map((e) => e.actor)).toEqual(['tenantB']);
        expect(await storage.getCounters('tenantB')).toEqual({ runs: 2 });
        expect((await storage.listTraces('tenantA')).items).toHaveLength(1);
      });
    });

    describe('provenance', () => {
      it('links entries into a SHA-256 hash chain that verifies', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        const appended: ProvenanceEntry[] = [];
        for (let i = 0; i < 5; i++) appended.push(await storage.appendProvenance('t1', makeProvenance('tr1', i, i === 2 ? { source: 'merge', data: undefined } : {})));
        appended.forEach((e, i) => {
          expect(e.seq).toBe(i);
          expect(e.prevHash).toBe(i === 0 ? GENESIS_HASH : appended[i - 1]!.hash);
          expect(e.hash).toBe(hashProvenance(e));
        });
        expect(await storage.listProvenance('t1', 'tr1')).toEqual(appended);
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 5, brokenAt: null });
        expect(await storage.verifyProvenance('t1', 'empty')).toMatchObject({ verified: true, length: 0, brokenAt: null });
      });

      it('keeps one gapless chain under 8 concurrent writers x 200 appends', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.createTrace(makeTrace('t1', 'tr2', 's1'));
        await Promise.all(Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 200; i++) {
            // Writers alternate between two traces, so chains also must not bleed into each other.
            await storage.appendProvenance('t1', makeProvenance(i % 10 === 0 ? 'tr2' : 'tr1', i, { actor: `writer-${w}` }));
          }
        }));
        const chain = await storage.listProvenance('t1', 'tr1');
        expect(chain.map((e) => e.seq)).toEqual(Array.from({ length: 1440 }, (_, i) => i));
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 1440, brokenAt: null });
        expect(await storage.verifyProvenance('t1', 'tr2')).toEqual({ verified: true, length: 160, brokenAt: null });
      });

      it('refuses invalid and oversized entries without touching the chain', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.appendProvenance('t1', makeProvenance('tr1', 0));
        await limitError(storage.appendProvenance('t1', { ...makeProvenance('tr1', 1), actor: '' }), 'LIMIT_VALIDATION');
        await limitError(storage.appendProvenance('t1', makeProvenance('missing', 1)), 'LIMIT_NOT_FOUND');
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 1, { data: 'x'.repeat(max + 1) })), 'LIMIT_PAYLOAD_TOO_LARGE');
        const e1 = await storage.appendProvenance('t1', makeProvenance('tr1', 1));
        expect(e1.seq).toBe(1);
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 2, brokenAt: null });
      });

      it('refuses an entry holding half a surrogate pair (LIMIT_VALIDATION naming the field, not a raw TypeError), alone or in a batch, writing nothing', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        const cases: [Partial<ProvenanceInput>, string][] = [
          [{ actor: 'a\ud800' }, 'actor'], [{ rationale: 'why \udc00' }, 'rationale'], [{ source: '\ud83d' }, 'source'],
          [{ data: { notes: ['fine', 'cut \ud83d'] } }, 'data.notes.1'], [{ data: { ['k\udfff']: 1 } }, 'data.k\udfff'],
        ];
        for (const [bad, field] of cases) {
          const error = await limitError(storage.appendProvenance('t1', { ...makeProvenance('tr1', 0), ...bad }), 'LIMIT_VALIDATION');
          expect(error.message).toContain(`${field}: `);
          expect(error.message).toContain('half a surrogate pair');
          if (supports.transactions) {
            await limitError(storage.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 0) }, { op: 'appendProvenance', input: { ...makeProvenance('tr1', 1), ...bad } }]), 'LIMIT_VALIDATION');
          }
        }
        expect(await storage.listProvenance('t1', 'tr1')).toEqual([]);
        // A whole pair (an emoji) is text, and is stored as given.
        const entry = await storage.appendProvenance('t1', { ...makeProvenance('tr1', 0), actor: 'a \ud83d\ude00' });
        expect(entry.actor).toBe('a 😀');
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 1, brokenAt: null });
      });

      /** Appends `n` small entries to `traceId` (in batches where the backend has them, a trace at a time). */
      async function fillChain(tenant: string, traceId: string, n: number, from = 0): Promise<void> {
        for (let i = 0; i < n; i += 500) {
          const inputs = Array.from({ length: Math.min(500, n - i) }, (_, j) => makeProvenance(traceId, from + i + j, { rationale: undefined, data: undefined }));
          if (supports.transactions) await storage.batch(tenant, inputs.map((input) => ({ op: 'appendProvenance', input })));
          else for (const input of inputs) await storage.appendProvenance(tenant, input);
        }
      }

      /** An entry input whose stored JSON (seq below 10) is `bytes` bytes, give or take the seq's digits. */
      function bigProvenance(traceId: string, i: number, bytes: number): ProvenanceInput {
        const base = makeProvenance(traceId, i, { data: '' });
        const stored = jsonBytes({ ...base, seq: 0, prevHash: GENESIS_HASH, hash: GENESIS_HASH });
        return { ...base, data: 'x'.repeat(Math.max(0, bytes - stored)) };
      }

      it(`holds at most MAX_PROVENANCE_PER_TRACE (${MAX_PROVENANCE_PER_TRACE}) entries, fewer for a client's and a decision's: past them LIMIT_PAYLOAD_TOO_LARGE, writing nothing`, async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        const client = provenanceLimits('client').maxEntries;
        const decision = provenanceLimits('decision').maxEntries;
        expect(client).toBeLessThan(decision);
        expect(decision).toBeLessThan(MAX_PROVENANCE_PER_TRACE);
        const append = (origin: ProvenanceOrigin, i: number) => storage.appendProvenance('t1', makeProvenance('tr1', i, { actor: origin }), { origin });
        await fillChain('t1', 'tr1', client - 1);
        expect((await append('client', client - 1)).seq).toBe(client - 1);
        const error = await limitError(append('client', client), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain(`Trace "tr1" would hold ${(client + 1).toLocaleString('en-US')} provenance entries`);
        expect(error.message).toContain(`at most ${client.toLocaleString('en-US')}`);
        expect(error.message).toContain('nothing was written');
        expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ traceId: 'tr1', origin: 'client', entries: client + 1, maxEntries: client });
        // The count is what is full, not the entry's data: no field is named, and the fix says so.
        expect((error as unknown as { details: Record<string, unknown> }).details).not.toHaveProperty('field');
        expect((error as unknown as { fix: string }).fix).toContain(`as many entries as clients may append (${client.toLocaleString('en-US')};`);
        expect((error as unknown as { fix: string }).fix).not.toContain('data');
        // What a client may no longer append, a decision and the system still may.
        expect((await append('decision', client)).seq).toBe(client);
        await fillChain('t1', 'tr1', decision - client - 2, client + 1);
        expect((await append('decision', decision - 1)).seq).toBe(decision - 1);
        await limitError(append('decision', decision), 'LIMIT_PAYLOAD_TOO_LARGE');
        await limitError(append('client', decision), 'LIMIT_PAYLOAD_TOO_LARGE');
        await fillChain('t1', 'tr1', MAX_PROVENANCE_PER_TRACE - decision - 1, decision);
        expect((await append('system', MAX_PROVENANCE_PER_TRACE - 1)).seq).toBe(MAX_PROVENANCE_PER_TRACE - 1);
        const full = await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 0)), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(full.message).toContain(`would hold ${(MAX_PROVENANCE_PER_TRACE + 1).toLocaleString('en-US')} provenance entries`);
        if (supports.transactions) {
          // A batch past the limit is refused whole: its checkpoint is not written either.
          const checkpoint: Checkpoint = { traceId: 'tr1', label: 'governance:input', passed: true, details: {}, at: iso(T0) };
          await limitError(storage.batch('t1', [{ op: 'addCheckpoint', checkpoint }, { op: 'appendProvenance', input: makeProvenance('tr1', 0) }]), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([]);
        }
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: MAX_PROVENANCE_PER_TRACE, brokenAt: null });
        // Other traces and tenants are not affected.
        await storage.createTrace(makeTrace('t1', 'tr2', 's1'));
        await storage.appendProvenance('t1', makeProvenance('tr2', 0), { origin: 'client' });
        await storage.createTrace(makeTrace('t2', 'tr1', 's1'));
        await storage.appendProvenance('t2', makeProvenance('tr1', 0), { origin: 'client' });
      }, 120_000);

      it("holds at most 4 × maxRecordBytes of entries on a trace (each entry's JSON), a client's half of it and a decision's three quarters: past them LIMIT_PAYLOAD_TOO_LARGE, writing nothing", async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const big = Math.floor(max * 0.9);
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await storage.appendProvenance('t1', bigProvenance('tr1', 0, big), { origin: 'client' });
        await storage.appendProvenance('t1', bigProvenance('tr1', 1, big), { origin: 'client' });
        const error = await limitError(storage.appendProvenance('t1', bigProvenance('tr1', 2, big), { origin: 'client' }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(error.message).toContain('The provenance of trace "tr1" would be');
        expect(error.message).toContain(`at most ${(2 * max).toLocaleString('en-US')}`);
        expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ traceId: 'tr1', field: 'data', origin: 'client', maxBytes: 2 * max });
        expect((error as unknown as { fix: string }).fix).toContain('keep large data out of entries');
        await storage.appendProvenance('t1', bigProvenance('tr1', 2, big), { origin: 'decision' });
        const decision = await limitError(storage.appendProvenance('t1', bigProvenance('tr1', 3, big), { origin: 'decision' }), 'LIMIT_PAYLOAD_TOO_LARGE');
        // Only a client's entry names its data: for a decision, the trace is what is full.
        expect((decision as unknown as { details: Record<string, unknown> }).details).toMatchObject({ traceId: 'tr1', origin: 'decision', maxBytes: 3 * max });
        expect((decision as unknown as { details: Record<string, unknown> }).details).not.toHaveProperty('field');
        await storage.appendProvenance('t1', bigProvenance('tr1', 3, big));
        const full = await limitError(storage.appendProvenance('t1', bigProvenance('tr1', 4, Math.floor(max * 0.5))), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(full.message).toContain(`at most ${maxTraceProvenanceBytes(max).toLocaleString('en-US')}`);
        if (supports.transactions) {
          const checkpoint: Checkpoint = { traceId: 'tr1', label: 'governance:input', passed: true, details: {}, at: iso(T0) };
          await limitError(storage.batch('t1', [{ op: 'addCheckpoint', checkpoint }, { op: 'appendProvenance', input: bigProvenance('tr1', 4, Math.floor(max * 0.5)) }]), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([]);
        }
        // A small entry still fits, and the chain holds what was acknowledged, and verifies.
        await storage.appendProvenance('t1', makeProvenance('tr1', 4));
        const chain = await storage.listProvenance('t1', 'tr1');
        expect(chain.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
        expect(jsonBytesEach(chain)).toBeLessThanOrEqual(maxTraceProvenanceBytes(max));
        expect(await storage.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: true, length: 5 });
        if (supports.transactions) {
          // Appends in one batch count together, with what the chain held (a trace created in it holds nothing).
          const ops: BatchOp[] = [
            { op: 'createTrace', trace: makeTrace('t1', 'tr2', 's1') },
            { op: 'appendProvenance', input: bigProvenance('tr2', 0, big), origin: 'client' },
            { op: 'appendProvenance', input: bigProvenance('tr2', 1, big), origin: 'client' },
            { op: 'appendProvenance', input: bigProvenance('tr2', 2, big), origin: 'client' },
          ];
          await limitError(storage.batch('t1', ops), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(await storage.getTrace('t1', 'tr2')).toBeNull();
          await storage.batch('t1', ops.slice(0, 3));
          expect(await storage.listProvenance('t1', 'tr2')).toHaveLength(2);
        }
      });

      it("lets exactly as many concurrent client appends pass as the chain's bytes can still take", async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        // Entries of about 0.24 × maxRecordBytes: 8 fit in a client's 2 × maxRecordBytes, 9 do not.
        const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.appendProvenance('t1', bigProvenance('tr1', i, Math.floor(max * 0.24)), { origin: 'client' })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(8);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 8, brokenAt: null });
      });

      it("measures a chain stored without its totals as each entry's JSON, NUL and all: the same figures on every backend, refusal after refusal", async (ctx) => {
        if (!fixture.reopen || !fixture.forgetProvenanceTotals) return ctx.skip('the fixture has no reopen() or forgetProvenanceTotals()');
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const cap = provenanceLimits('client', max).maxBytes;
        /** An entry input whose stored JSON (seq below 10) is exactly `bytes`, its data mostly NUL (6 bytes each as JSON, \u0000). */
        const nul = (i: number, bytes: number): ProvenanceInput => {
          const base = makeProvenance('tr1', i, { data: '', rationale: 'a, b: "c" é' });
          const room = bytes - jsonBytes({ ...base, seq: 0, prevHash: GENESIS_HASH, hash: GENESIS_HASH });
          return { ...base, data: '\u0000'.repeat(Math.floor(room / 6)) + 'x'.repeat(room % 6) };
        };
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        const first = Math.floor(max * 0.9);
        await storage.appendProvenance('t1', nul(0, first), { origin: 'client' });
        await storage.appendProvenance('t1', nul(1, first), { origin: 'client' });
        await storage.close();
        await fixture.forgetProvenanceTotals('t1', 'tr1');
        storage = await fixture.reopen();
        opened.push(storage);
        const held = jsonBytesEach(await storage.listProvenance('t1', 'tr1'));
        expect(held).toBe(2 * first);
        // One byte past a client's share is refused with the same figures on every backend, the second
        // time too (from the total measured the first time), in a batch too; exactly the share fits.
        for (let k = 0; k < 2; k++) {
          const over = await limitError(storage.appendProvenance('t1', nul(2, cap - held + 1), { origin: 'client' }), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect((over as unknown as { details: Record<string, unknown> }).details).toMatchObject({ traceId: 'tr1', origin: 'client', entries: 3, bytes: cap + 1, maxBytes: cap });
        }
        if (supports.transactions) {
          const over = await limitError(storage.batch('t1', [{ op: 'appendProvenance', input: nul(2, cap - held + 1), origin: 'client' }]), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect((over as unknown as { details: Record<string, unknown> }).details).toMatchObject({ bytes: cap + 1, maxBytes: cap });
        }
        expect((await storage.appendProvenance('t1', nul(2, cap - held), { origin: 'client' })).seq).toBe(2);
        const full = await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 3), { origin: 'client' }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect((full as unknown as { details: Record<string, unknown> }).details).toMatchObject({ bytes: cap + jsonBytes({ ...makeProvenance('tr1', 3), seq: 3, prevHash: GENESIS_HASH, hash: GENESIS_HASH }) });
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 3, brokenAt: null });
      });

      it("checks that the trace exists before an entry's size, and measures the entry as stored (with seq and hashes), alone and in a batch", async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        // Its input alone is within maxRecordBytes; with seq, prevHash and hash it is one byte over.
        const input = bigProvenance('tr1', 0, max + 1);
        expect(jsonBytes(input)).toBeLessThanOrEqual(max);
        const missing = await limitError(storage.appendProvenance('t1', input), 'LIMIT_NOT_FOUND');
        expect(missing.message).toContain('tr1');
        if (supports.transactions) {
          const inBatch = await limitError(storage.batch('t1', [{ op: 'appendProvenance', input }]), 'LIMIT_NOT_FOUND');
          expect((inBatch as unknown as { details: Record<string, unknown> }).details).toMatchObject({ index: 0 });
        }
        const larger = { ...input, data: `${input.data as string}${'x'.repeat(200)}` };
        await limitError(storage.appendProvenance('t1', larger), 'LIMIT_NOT_FOUND');
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        for (const [entry, bytes] of [[input, max + 1], [larger, max + 201]] as const) {
          const error = await limitError(storage.appendProvenance('t1', entry), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(error.message).toContain(`The provenance entry is ${bytes} bytes as JSON; the limit is ${max} bytes`);
          expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ record: 'provenance entry', bytes, maxBytes: max });
          if (supports.transactions) {
            const inBatch = await limitError(storage.batch('t1', [{ op: 'appendProvenance', input: entry }]), 'LIMIT_PAYLOAD_TOO_LARGE');
            expect(inBatch.message).toBe(`batch op 0 (appendProvenance): ${error.message}`);
          }
        }
        expect(await storage.listProvenance('t1', 'tr1')).toEqual([]);
      });

      it('refuses an unknown provenance origin with LIMIT_VALIDATION, writing nothing', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 0), { origin: 'admin' as ProvenanceOrigin }), 'LIMIT_VALIDATION');
        // Options that are not an object, or hold a key that is not an option (a misspelt origin
        // would otherwise append with the system's room): LIMIT_VALIDATION naming them, not a TypeError.
        type Options = Parameters<Storage['appendProvenance']>[2];
        for (const [options, field] of [[null, 'options'], ['client', 'options'], [[], 'options'], [{ orign: 'client' }, 'options.orign']] as const) {
          const error = await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 0), options as unknown as Options), 'LIMIT_VALIDATION');
          expect(error.message).toContain('provenance append options');
          expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ field });
        }
        // No options, or an origin left undefined, is the default (`system`).
        expect((await storage.appendProvenance('t1', makeProvenance('tr1', 0), undefined)).seq).toBe(0);
        expect((await storage.appendProvenance('t1', makeProvenance('tr1', 1), { origin: undefined })).seq).toBe(1);
        await storage.createTrace(makeTrace('t1', 'tr2', 's1'));
        const trace2 = 'tr2';
        await limitError(storage.batch('t1', [{ op: 'appendProvenance', input: makeProvenance(trace2, 0), origin: 'admin' as ProvenanceOrigin }]), 'LIMIT_VALIDATION');
        expect(await storage.listProvenance('t1', trace2)).toEqual([]);
        expect((await storage.listProvenance('t1', 'tr1')).map((e) => e.seq)).toEqual([0, 1]);
      });

      it('reports the seq of a tampered entry', async (ctx) => {
        if (!fixture.tamper) return ctx.skip('the fixture has no tamper()');
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        for (let i = 0; i < 10; i++) await storage.appendProvenance('t1', makeProvenance('tr1', i));
        await fixture.tamper!('t1', 'tr1', 6, { rationale: 'nothing to see here' });
        const v = await storage.verifyProvenance('t1', 'tr1');
        expect(v).toMatchObject({ verified: false, length: 10, brokenAt: 6 });
        // Rewriting the hash too does not help: the next entry's prevHash no longer matches.
        const forged = (await storage.listProvenance('t1', 'tr1'))[6]!;
        await fixture.tamper!('t1', 'tr1', 6, { hash: hashProvenance(forged) });
        expect(await storage.verifyProvenance('t1', 'tr1')).toMatchObject({ verified: false, brokenAt: 7 });
      });
    });

    describe('validation: ids and record size', () => {
      const badIds = ['../x', '', 'a'.repeat(129), 'a/b', '.hidden', 'x\0y'];

      it(`refuses free-form JSON nested deeper than MAX_JSON_DEPTH (${MAX_JSON_DEPTH}) with LIMIT_VALIDATION naming the path, however deep, writing nothing`, async () => {
        const objects = (n: number) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { a: v }; return v; };
        const arrays = (n: number) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = [v]; return v; };
        // At the limit: stored and read back.
        await storage.createTrace(makeTrace('t1', 'deep', 's1', T0, { metadata: { x: objects(MAX_JSON_DEPTH - 1) } }));
        expect((await storage.getTrace('t1', 'deep'))!.metadata).toEqual({ x: objects(MAX_JSON_DEPTH - 1) });
        for (const [x, path] of [[objects(MAX_JSON_DEPTH), `metadata.x${'.a'.repeat(MAX_JSON_DEPTH - 1)}`], [objects(5_000), `metadata.x${'.a'.repeat(MAX_JSON_DEPTH - 1)}`], [arrays(20_000), `metadata.x${'.0'.repeat(MAX_JSON_DEPTH - 1)}`]] as const) {
          for (const call of [storage.createTrace(makeTrace('t1', 'deeper', 's1', T0, { metadata: { x } })), storage.batch('t1', [{ op: 'createTrace', trace: makeTrace('t1', 'deeper', 's1', T0, { metadata: { x } }) }])]) {
            const error = await limitError(call, 'LIMIT_VALIDATION') as Error & { details?: { field?: string } };
            expect(error.message).toContain(`nested deeper than ${MAX_JSON_DEPTH}`);
            expect(error.details?.field).toBe(path);
          }
        }
        expect(await storage.getTrace('t1', 'deeper')).toBeNull();
      });

      it('refuses invalid ids on create and read with LIMIT_VALIDATION naming the field (and, on a read, the value), writing nothing', async () => {
        // A record's field by its path (as parseOrThrow says it); a read's argument by name, with its value.
        const names = async (call: Promise<unknown>, pattern: RegExp) => expect((await limitError(call, 'LIMIT_VALIDATION')).message).toMatch(pattern);
        const quoted = (id: string) => JSON.stringify(id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        for (const id of badIds) {
          await names(storage.createTrace(makeTrace('t1', id, 's1')), /^Invalid trace: (.*; )?id: /);
          await names(storage.createSession(makeSession('t1', id)), /^Invalid session: (.*; )?id: /);
          await names(storage.createTrace(makeTrace('t1', 'ok', id)), /^Invalid trace: (.*; )?sessionId: /);
          await names(storage.getTrace('t1', id), new RegExp(`^Invalid trace id ${quoted(id)}: `));
          await names(storage.getSession(id, 's1'), new RegExp(`^Invalid tenant ${quoted(id)}: `));
          await names(storage.listTraces(id), new RegExp(`^Invalid tenant ${quoted(id)}: `));
          await names(storage.listProvenance('t1', id), new RegExp(`^Invalid trace id ${quoted(id)}: `));
          await names(storage.incrementCounters(id, { x: 1 }), new RegExp(`^Invalid tenant ${quoted(id)}: `));
        }
        expect((await storage.listTraces('t1')).items).toEqual([]);
        expect((await storage.listSessions('t1')).items).toEqual([]);
        expect(await storage.getCounters('t1')).toEqual({});
      });

      it('refuses records larger than maxRecordBytes with LIMIT_PAYLOAD_TOO_LARGE, writing nothing', async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const blob = 'é'.repeat(Math.ceil(max / 2) + 1); // 2 bytes each in UTF-8: over the limit in bytes, not in characters
        await limitError(storage.createTrace(makeTrace('t1', 'big', 's1', T0, { metadata: { blob } })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'big')).toBeNull();
        await limitError(storage.createSession(makeSession('t1', 'big', { metadata: { blob } })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getSession('t1', 'big')).toBeNull();

        const t = makeTrace('t1', 'tr1', 's1');
        await storage.createTrace(t);
        await limitError(storage.updateTrace('t1', 'tr1', { output: { ok: true, stdout: blob, stderr: '' } }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'tr1')).toEqual(t);
        await limitError(storage.addCheckpoint('t1', { traceId: 'tr1', label: 'x', passed: true, details: { blob }, at: iso(T0) }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([]);
        if (supports.transactions) {
          await limitError(storage.batch('t1', [
            { op: 'createTrace', trace: makeTrace('t1', 'b1', 's1') },
            { op: 'createTrace', trace: makeTrace('t1', 'b2', 's1', T0, { metadata: { blob } }) },
          ]), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(await storage.getTrace('t1', 'b1')).toBeNull();
        }
      });

      it('measures the size limit per logical record: a trace without its flags, each flag alone', async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        // A trace whose JSON without flags is exactly the limit is accepted (`"flags":[]` is not counted) …
        const probe = await storage.createTrace(makeTrace('t1', 'size0', 's1', T0, { metadata: { blob: '' } }));
        const blobAt = (bytes: number) => 'x'.repeat(max - jsonBytes(stripFlags(probe)) + bytes);
        const exact = await storage.createTrace(makeTrace('t1', 'size1', 's1', T0, { metadata: { blob: blobAt(0) } }));
        expect(jsonBytes(stripFlags(exact))).toBe(max);
        expect(await storage.getTrace('t1', 'size1')).toEqual(exact);
        // … one byte more is refused.
        await limitError(storage.createTrace(makeTrace('t1', 'size2', 's1', T0, { metadata: { blob: blobAt(1) } })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'size2')).toBeNull();

        // Flags of 60 % of the limit each: two of them together are over it, each alone is not.
        const f = (id: string, traceId: string) => bigFlag(id, traceId, Math.floor(max * 0.6));
        const created = makeTrace('t1', 'tf1', 's1', T0, { flags: [f('fa', 'tf1'), f('fb', 'tf1')] });
        await storage.createTrace(created);
        expect((await storage.getTrace('t1', 'tf1'))!.flags.map((x) => x.id)).toEqual(['fa', 'fb']);
        await storage.createTrace(makeTrace('t1', 'tf2', 's1'));
        for (const id of ['fc', 'fd']) await storage.addFlag('t1', f(id, 'tf2'));
        expect((await storage.getTrace('t1', 'tf2'))!.flags.map((x) => x.id)).toEqual(['fc', 'fd']);
        // The trace itself (without flags) near the limit still takes flags, and is updated as before.
        await storage.addFlag('t1', f('fx', 'size1'));
        await storage.updateTrace('t1', 'size1', { status: 'ok', metadata: { blob: blobAt(0) } });
        expect((await storage.getTrace('t1', 'size1'))!.flags.map((x) => x.id)).toEqual(['fx']);
        // A flag over the limit alone is refused, on create and on add, writing nothing.
        await limitError(storage.addFlag('t1', bigFlag('fz', 'tf2', max + 1)), 'LIMIT_PAYLOAD_TOO_LARGE');
        await limitError(storage.createTrace(makeTrace('t1', 'tf3', 's1', T0, { flags: [bigFlag('fy', 'tf3', max + 1)] })), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'tf3')).toBeNull();
        expect((await storage.getTrace('t1', 'tf2'))!.flags).toHaveLength(2);
        expect((await storage.listFlags('t1')).map((x) => x.id)).toEqual(['fa', 'fb', 'fc', 'fd', 'fx']);
        if (supports.transactions) {
          await storage.batch('t1', [
            { op: 'createTrace', trace: makeTrace('t1', 'tb1', 's1', T0, { flags: [f('ga', 'tb1'), f('gb', 'tb1')] }) },
            { op: 'addFlag', flag: f('gc', 'tb1') },
            { op: 'updateTrace', id: 'tb1', patch: { status: 'error' } },
          ]);
          expect((await storage.getTrace('t1', 'tb1'))!.flags.map((x) => x.id)).toEqual(['ga', 'gb', 'gc']);
          await limitError(storage.batch('t1', [
            { op: 'createTrace', trace: makeTrace('t1', 'tb2', 's1') },
            { op: 'addFlag', flag: bigFlag('gz', 'tb2', max + 1) },
          ]), 'LIMIT_PAYLOAD_TOO_LARGE');
          expect(await storage.getTrace('t1', 'tb2')).toBeNull();
        }
      });

      it('measures the size limit per logical record: an RD series without its points, each point alone', async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        const point = (step: number, bytes: number) => ({ step, rate: step, distortion: 1, meta: { blob: 'x'.repeat(bytes) } });
        const big = Math.floor(max * 0.6);
        const series: RdSeries = { id: 'rd1', sessionId: 's1', tenant: 't1', name: 'n', points: [point(0, big), point(1, big)], createdAt: iso(T0), metadata: {} };
        await storage.createRdSeries(series);
        await storage.appendRdPoint('t1', 'rd1', point(2, big));
        expect((await storage.getRdSeries('t1', 'rd1'))!.points.map((p) => p.step)).toEqual([0, 1, 2]);
        await limitError(storage.appendRdPoint('t1', 'rd1', point(3, max)), 'LIMIT_PAYLOAD_TOO_LARGE');
        await limitError(storage.createRdSeries({ ...series, id: 'rd2', points: [point(0, max)] }), 'LIMIT_PAYLOAD_TOO_LARGE');
        await limitError(storage.createRdSeries({ ...series, id: 'rd3', points: [], metadata: { blob: 'x'.repeat(max) } }), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect((await storage.getRdSeries('t1', 'rd1'))!.points).toHaveLength(3);
        expect(await storage.getRdSeries('t1', 'rd2')).toBeNull();
        expect(await storage.getRdSeries('t1', 'rd3')).toBeNull();
      });

      it('refuses invalid timestamps and unknown statuses', async () => {
        await limitError(storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { createdAt: 'yesterday' })), 'LIMIT_VALIDATION');
        await limitError(storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { status: 'done' as TraceStatus })), 'LIMIT_VALIDATION');
        await storage.createSession(makeSession('t1', 's1'));
        await limitError(storage.closeSession('t1', 's1', 'later'), 'LIMIT_VALIDATION');
        expect(await storage.getTrace('t1', 'tr1')).toBeNull();
        expect((await storage.getSession('t1', 's1'))!.status).toBe('open');
      });

      it('refuses values JSON cannot hold (cycle, BigInt, Infinity, NaN, Map) with LIMIT_VALIDATION naming the field, writing nothing', async () => {
        const circular: Record<string, unknown> = { x: 1 };
        circular.self = circular;
        const cases: [Record<string, unknown>, string][] = [
          [{ c: circular }, 'metadata.c.self'],
          [{ n: 10n }, 'metadata.n'],
          [{ a: Infinity }, 'metadata.a'],
          [{ deep: [1, { b: Number.NaN }] }, 'metadata.deep.1.b'],
          [{ m: new Map([['k', 1]]) }, 'metadata.m'],
        ];
        for (const [metadata, field] of cases) {
          const error = await limitError(storage.createTrace(makeTrace('t1', 'j1', 's1', T0, { metadata })), 'LIMIT_VALIDATION');
          expect(error.message).toContain(`${field}: `);
          await limitError(storage.createSession(makeSession('t1', 'j1', { metadata })), 'LIMIT_VALIDATION');
        }
        expect(await storage.getTrace('t1', 'j1')).toBeNull();
        expect(await storage.getSession('t1', 'j1')).toBeNull();
        const t = makeTrace('t1', 'tr1', 's1');
        await storage.createTrace(t);
        const bad = await limitError(storage.updateTrace('t1', 'tr1', { output: { ok: true, stdout: '', stderr: '', value: { big: 1n } } }), 'LIMIT_VALIDATION');
        expect(bad.message).toContain('output.value.big');
        await limitError(storage.addCheckpoint('t1', { traceId: 'tr1', label: 'x', passed: true, details: { r: -Infinity }, at: iso(T0) }), 'LIMIT_VALIDATION');
        await limitError(storage.appendProvenance('t1', makeProvenance('tr1', 0, { data: circular })), 'LIMIT_VALIDATION');
        expect(await storage.getTrace('t1', 'tr1')).toEqual(t);
        expect(await storage.listCheckpoints('t1', 'tr1')).toEqual([]);
        expect(await storage.listProvenance('t1', 'tr1')).toEqual([]);
        if (supports.transactions) {
          await limitError(storage.batch('t1', [
            { op: 'createTrace', trace: makeTrace('t1', 'b1', 's1') },
            { op: 'createTrace', trace: makeTrace('t1', 'b2', 's1', T0, { metadata: { a: Infinity } }) },
          ]), 'LIMIT_VALIDATION');
          expect(await storage.getTrace('t1', 'b1')).toBeNull();
        }
        // Shared (not circular) references, Dates and nulls are fine.
        const shared = { v: 1 };
        await storage.createTrace(makeTrace('t1', 'ok1', 's1', T0, { metadata: { a: shared, b: shared, n: null } }));
        expect((await storage.getTrace('t1', 'ok1'))!.metadata).toEqual({ a: { v: 1 }, b: { v: 1 }, n: null });
      });
    });

    describe.skipIf(!supports.transactions)('batch writes', () => {
      it('applies a mixed batch in one go', async () => {
        const ops: BatchOp[] = [
          { op: 'createSession', session: makeSession('t1', 's1') },
          { op: 'createTrace', trace: makeTrace('t1', 'tr1', 's1', T0, { status: 'running' }) },
          { op: 'updateTrace', id: 'tr1', patch: { status: 'ok', completedAt: iso(T0 + 9) } },
          { op: 'addFlag', flag: makeFlag('f1', 'tr1', 'Unverified') },
          { op: 'addCheckpoint', checkpoint: { traceId: 'tr1', label: 'output', passed: true, details: {}, at: iso(T0) } },
          { op: 'setQuarantine', state: { traceId: 'tr1', quarantined: true, reason: 'r', actor: 'a', at: iso(T0) } },
          { op: 'incrementCounters', deltas: { runs: 1 } },
        ];
        await storage.batch('t1', ops);
        await storage.batch('t1', []);
        expect(await storage.getSession('t1', 's1')).not.toBeNull();
        expect(await storage.getTrace('t1', 'tr1')).toMatchObject({ status: 'ok', completedAt: iso(T0 + 9), flags: [expect.objectContaining({ id: 'f1' })] });
        expect(await storage.listCheckpoints('t1', 'tr1')).toHaveLength(1);
        expect(await storage.getQuarantine('t1', 'tr1')).toMatchObject({ quarantined: true });
        expect(await storage.getCounters('t1')).toEqual({ runs: 1 });
      });

      it('names the op that failed (message `batch op <i> (<op>)`, details.index i), in a run of createTrace ops too', async () => {
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        await storage.createTrace(makeTrace('t1', 'old', 's1'));
        const failsAt = async (ops: BatchOp[], code: string, index: number) => {
          const error = await limitError(storage.batch('t1', ops), code) as Error & { details?: { index?: number } };
          expect(error.message).toMatch(new RegExp(`^batch op ${index} \\(${ops[index]!.op}\\): `));
          expect(error.details?.index).toBe(index);
        };
        const ok = (id: string): BatchOp => ({ op: 'createTrace', trace: makeTrace('t1', id, 's1') });
        await failsAt([ok('a'), { op: 'createTrace', trace: makeTrace('t1', 'big', 's1', T0, { metadata: { blob: 'x'.repeat(max) } }) }, ok('b')], 'LIMIT_PAYLOAD_TOO_LARGE', 1);
        await failsAt([ok('a'), ok('b'), ok('old'), ok('c')], 'LIMIT_CONFLICT', 2);
        await failsAt([ok('a'), ok('b'), ok('a')], 'LIMIT_CONFLICT', 2);
        await storage.addFlag('t1', makeFlag('taken', 'old'));
        await failsAt([ok('a'), { op: 'createTrace', trace: makeTrace('t1', 'c', 's1', T0, { flags: [makeFlag('taken', 'c')] }) }, ok('d')], 'LIMIT_CONFLICT', 1);
        await failsAt([ok('a'), { op: 'addFlag', flag: makeFlag('fz', 'nope') }], 'LIMIT_NOT_FOUND', 1);
        await failsAt([{ op: 'createSession', session: makeSession('t1', 's1') }, { op: 'updateTrace', id: 'nope', patch: { status: 'ok' } }], 'LIMIT_NOT_FOUND', 1);
        expect((await storage.listTraces('t1')).items.map((t) => t.id)).toEqual(['old']);
      });

      it('adds up the counter deltas of several ops in one batch, onto the stored values', async () => {
        await storage.incrementCounters('t1', { runs: 2 });
        await storage.batch('t1', [
          { op: 'incrementCounters', deltas: { runs: 1, 'decision.allow': 1 } },
          { op: 'createTrace', trace: makeTrace('t1', 'tr1', 's1') },
          { op: 'incrementCounters', deltas: { runs: 1, 'decision.block': 1 } },
          { op: 'incrementCounters', deltas: { 'decision.allow': 3 } },
        ]);
        expect(await storage.getCounters('t1')).toEqual({ runs: 4, 'decision.allow': 4, 'decision.block': 1 });
      });

      it('rolls back every earlier op when a later op fails', async () => {
        await storage.createTrace(makeTrace('t1', 'existing', 's1'));
        const prefix: BatchOp[] = [
          { op: 'createSession', session: makeSession('t1', 's9') },
          { op: 'createTrace', trace: makeTrace('t1', 'new1', 's9') },
          { op: 'addFlag', flag: makeFlag('f1', 'existing') },
          { op: 'updateTrace', id: 'existing', patch: { status: 'error' } },
          { op: 'addCheckpoint', checkpoint: { traceId: 'existing', label: 'x', passed: true, details: {}, at: iso(T0) } },
          { op: 'setQuarantine', state: { traceId: 'existing', quarantined: true, reason: 'r', actor: 'a', at: iso(T0) } },
          { op: 'incrementCounters', deltas: { runs: 1 } },
        ];
        await limitError(storage.batch('t1', [...prefix, { op: 'createTrace', trace: makeTrace('t1', 'existing', 's1') }]), 'LIMIT_CONFLICT');
        await limitError(storage.batch('t1', [...prefix, { op: 'updateTrace', id: 'missing', patch: { status: 'ok' } }]), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch('t1', [...prefix, { op: 'addFlag', flag: makeFlag('f2', 'missing') }]), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch('t1', [...prefix, { op: 'createTrace', trace: makeTrace('t1', '../evil', 's1') }]), 'LIMIT_VALIDATION');
        expect(await storage.getSession('t1', 's9')).toBeNull();
        expect(await storage.getTrace('t1', 'new1')).toBeNull();
        expect(await storage.getTrace('t1', 'existing')).toEqual(makeTrace('t1', 'existing', 's1'));
        expect(await storage.listFlags('t1')).toEqual([]);
        expect(await storage.listCheckpoints('t1', 'existing')).toEqual([]);
        expect(await storage.getQuarantine('t1', 'existing')).toBeNull();
        expect(await storage.getCounters('t1')).toEqual({});
        // The store is still usable after the rollbacks.
        await storage.batch('t1', prefix);
        expect(await storage.getCounters('t1')).toEqual({ runs: 1 });
      });

      it("applies an updateTrace with ifStatus only from that status; otherwise the whole batch is refused (LIMIT_CONFLICT)", async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { status: 'pending-review' }));
        const review = (status: 'ok' | 'rejected'): BatchOp[] => [
          { op: 'updateTrace', id: 'tr1', patch: { status }, ifStatus: 'pending-review' },
          { op: 'appendProvenance', input: makeProvenance('tr1', 0, { action: status }) },
          { op: 'incrementCounters', deltas: { [`reviewed.${status}`]: 1 } },
        ];
        // Two transitions at once: exactly one passes, and only its records are written.
        const outcomes = await Promise.allSettled([storage.batch('t1', review('ok')), storage.batch('t1', review('rejected'))]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect((refused.reason as { code: string }).code).toBe('LIMIT_CONFLICT');
        // Its details name the trace and the status expected: callers tell this refusal from others by them.
        expect(isStatusConflict(refused.reason, 'tr1'), String(refused.reason)).toBe(true);
        const status = (await storage.getTrace('t1', 'tr1'))!.status;
        expect(['ok', 'rejected']).toContain(status);
        expect((await storage.listProvenance('t1', 'tr1')).map((e) => e.action)).toEqual([status]);
        expect(await storage.getCounters('t1')).toEqual({ [`reviewed.${status}`]: 1 });
        await limitError(storage.batch('t1', [{ op: 'updateTrace', id: 'tr1', patch: { status: 'ok' }, ifStatus: 'nonsense' as never }]), 'LIMIT_VALIDATION');
      });

      it('applies an updateTrace with ifFlagCount only while the trace holds that many flags; otherwise the whole batch is refused (LIMIT_CONFLICT)', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1', T0, { status: 'ok' }));
        await storage.addFlag('t1', makeFlag('f1', 'tr1'));
        const guarded = (flags: number): BatchOp[] => [
          { op: 'updateTrace', id: 'tr1', patch: {}, ifStatus: 'ok', ifFlagCount: flags },
          { op: 'incrementCounters', deltas: { merged: 1 } },
        ];
        // A flag added after the count was read (one flag then, two now): refused, nothing written.
        await storage.addFlag('t1', makeFlag('f2', 'tr1'));
        const refused = await storage.batch('t1', guarded(1)).then(() => undefined, (e: unknown) => e);
        expect(refused).toMatchObject({ code: 'LIMIT_CONFLICT', details: { traceId: 'tr1', flagCount: 2, expectedFlagCount: 1 } });
        expect(isFlagsConflict(refused, 'tr1'), String(refused)).toBe(true);
        expect(isStatusConflict(refused, 'tr1')).toBe(false);
        expect(await storage.getCounters('t1')).toEqual({});
        // The count as it is: applied.
        await storage.batch('t1', guarded(2));
        expect(await storage.getCounters('t1')).toEqual({ merged: 1 });
        await limitError(storage.batch('t1', [{ op: 'updateTrace', id: 'tr1', patch: {}, ifFlagCount: -1 }]), 'LIMIT_VALIDATION');
        await limitError(storage.batch('t1', [{ op: 'updateTrace', id: 'tr1', patch: {}, ifFlagCount: '2' as never }]), 'LIMIT_VALIDATION');
      });

      it('appends provenance inside a batch: chained in op order, onto a trace created in the same batch, continued by later appends', async () => {
        await storage.batch('t1', [
          { op: 'createTrace', trace: makeTrace('t1', 'tr1', 's1', T0, { status: 'running' }) },
          { op: 'appendProvenance', input: makeProvenance('tr1', 0, { action: 'created' }) },
          { op: 'updateTrace', id: 'tr1', patch: { status: 'ok', completedAt: iso(T0 + 9) } },
          { op: 'appendProvenance', input: makeProvenance('tr1', 1, { action: 'completed' }) },
        ]);
        const first = await storage.listProvenance('t1', 'tr1');
        expect(first.map((e) => [e.seq, e.action])).toEqual([[0, 'created'], [1, 'completed']]);
        expect(first[0]!.prevHash).toBe(GENESIS_HASH);
        expect(first[1]!.prevHash).toBe(first[0]!.hash);
        first.forEach((e) => expect(e.hash).toBe(hashProvenance(e)));
        // The same entries a single append would have written.
        expect(first[0]).toMatchObject(makeProvenance('tr1', 0, { action: 'created' }));
        // A single append and another batch continue the chain where the batch left it.
        expect((await storage.appendProvenance('t1', makeProvenance('tr1', 2))).seq).toBe(2);
        await storage.batch('t1', [{ op: 'appendProvenance', input: makeProvenance('tr1', 3) }, { op: 'incrementCounters', deltas: { n: 1 } }]);
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 4, brokenAt: null });
        expect((await storage.listProvenance('t1', 'tr1')).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
      });

      it('rolls back batch provenance appends with the batch, and refuses bad ones', async () => {
        await storage.createTrace(makeTrace('t1', 'existing', 's1'));
        await storage.createTrace(makeTrace('t2', 'other', 's1'));
        await storage.appendProvenance('t1', makeProvenance('existing', 0));
        const prefix: BatchOp[] = [
          { op: 'createTrace', trace: makeTrace('t1', 'new1', 's1') },
          { op: 'appendProvenance', input: makeProvenance('new1', 0) },
          { op: 'appendProvenance', input: makeProvenance('existing', 1) },
        ];
        await limitError(storage.batch('t1', [...prefix, { op: 'updateTrace', id: 'missing', patch: { status: 'ok' } }]), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch('t1', [...prefix, { op: 'appendProvenance', input: makeProvenance('missing', 0) }]), 'LIMIT_NOT_FOUND');
        // Another tenant's trace is not found either.
        await limitError(storage.batch('t1', [...prefix, { op: 'appendProvenance', input: makeProvenance('other', 0) }]), 'LIMIT_NOT_FOUND');
        await limitError(storage.batch('t1', [...prefix, { op: 'appendProvenance', input: { ...makeProvenance('existing', 2), actor: '' } }]), 'LIMIT_VALIDATION');
        const max = storage.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        await limitError(storage.batch('t1', [...prefix, { op: 'appendProvenance', input: makeProvenance('existing', 2, { data: 'x'.repeat(max + 1) }) }]), 'LIMIT_PAYLOAD_TOO_LARGE');
        expect(await storage.getTrace('t1', 'new1')).toBeNull();
        expect(await storage.listProvenance('t1', 'new1')).toEqual([]);
        expect(await storage.verifyProvenance('t1', 'existing')).toEqual({ verified: true, length: 1, brokenAt: null });
        expect(await storage.listProvenance('t2', 'other')).toEqual([]);
        // Nothing stays locked: a single append and the same batch now succeed.
        expect((await storage.appendProvenance('t1', makeProvenance('existing', 1))).seq).toBe(1);
        await storage.batch('t1', prefix);
        expect((await storage.listProvenance('t1', 'existing')).map((e) => e.seq)).toEqual([0, 1, 2]);
        expect(await storage.verifyProvenance('t1', 'new1')).toEqual({ verified: true, length: 1, brokenAt: null });
      });

      it('keeps one gapless chain when batch appends race single appends', async () => {
        await storage.createTrace(makeTrace('t1', 'tr1', 's1'));
        await Promise.all(Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 20; i++) {
            if ((i + w) % 2 === 0) await storage.appendProvenance('t1', makeProvenance('tr1', i, { actor: `single-${w}` }));
            else await storage.batch('t1', [
              { op: 'appendProvenance', input: makeProvenance('tr1', i, { actor: `batch-${w}` }) },
              { op: 'incrementCounters', deltas: { batches: 1 } },
              { op: 'appendProvenance', input: makeProvenance('tr1', i, { actor: `batch-${w}`, action: 'second' }) },
            ]);
          }
        }));
        const chain = await storage.listProvenance('t1', 'tr1');
        expect(chain.map((e) => e.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i));
        // A batch's two entries are adjacent: no other writer got between them.
        chain.forEach((e, i) => {
          if (e.action === 'second') expect(chain[i - 1]).toMatchObject({ actor: e.actor, action: 'step' });
        });
        expect(await storage.verifyProvenance('t1', 'tr1')).toEqual({ verified: true, length: 120, brokenAt: null });
        expect(await storage.getCounters('t1')).toEqual({ batches: 40 });
      });
    });
  });
}
