/**
 * Model-based (stateful) test: a few hundred random but valid operations from two tenants against a
 * real server (SQLite), each checked against a small in-test model of what each tenant should see —
 * sessions, traces and their statuses, flags, quarantine, merges under review, provenance lengths,
 * RD series and their points, governance counters — and against the status codes docs/api.md
 * documents (404 for another tenant's id, 409 for a closed session or a merge not pending, …).
 * Seeded (MODEL_SEED, MODEL_STEPS; MODEL_BACKEND=postgres runs it on PostgreSQL), so a failure
 * replays; the failing step and the operations before it are in the assertion message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from 'limit-graph';
import { KEYS, startServer, type Backend, type Res, type Server } from './harness.ts';

const SEED = Number(process.env.MODEL_SEED ?? 0x3d31);
const STEPS = Number(process.env.MODEL_STEPS ?? 400);
/** SQLite by default; MODEL_BACKEND=postgres runs the same sequence against PostgreSQL. */
const BACKEND = (process.env.MODEL_BACKEND ?? 'sqlite') as Backend;

type Status = 'ok' | 'error' | 'quarantined' | 'pending-review' | 'rejected';
interface MTrace { id: string; sessionId: string; status: Status; beforeQuarantine?: Status; createdMs: number; flags: { kind: string; severity: number; at: number }[]; releasedAt?: number /* the step */; provenance: number; merge: boolean; outputOk?: boolean; parents?: string[] }
interface MSeries { id: string; sessionId: string; points: { step: number; rate: number; distortion: number }[] }
interface Tenant { name: 'a' | 'b'; key: string; sessions: Map<string, 'open' | 'closed'>; sessionCreated: Map<string, number>; traces: Map<string, MTrace>; series: Map<string, MSeries>; counters: Record<string, number> }

const KINDS = ['Jailbreak', 'Anomaly', 'HighRisk', 'Unsafe', 'Malicious', 'Unverified'] as const;
const QUARANTINE_SEVERITY = 7; // the default preset's

describe('api-http model-based test', () => {
  let s: Server;
  /** Each documented route as [method, path pattern, the statuses /openapi.json lists for it]. */
  let documented: [string, RegExp, string[]][];
  beforeAll(async () => {
    s = await startServer({
      backend: BACKEND,
      api: { rateLimit: false },
      plugins: { governance: { packs: ['jailbreak'], policy: { requireHumanReview: true } }, 'knee-kneedle': true },
    });
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    documented = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => [method.toUpperCase(), new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`), Object.keys(op.responses)] as [string, RegExp, string[]]));
  });
  afterAll(async () => {
    await s?.close();
  });

  it(`keeps every tenant's view equal to the model over ${STEPS} random valid operations (seed ${SEED})`, async () => {
    const r = mulberry32(SEED);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const tenants: Tenant[] = [
      { name: 'a', key: KEYS.A, sessions: new Map(), sessionCreated: new Map(), traces: new Map(), series: new Map(), counters: {} },
      { name: 'b', key: KEYS.B, sessions: new Map(), sessionCreated: new Map(), traces: new Map(), series: new Map(), counters: {} },
    ];
    const log: string[] = [];
    let step = 0;
    const count = (t: Tenant, name: string, n = 1) => (t.counters[name] = (t.counters[name] ?? 0) + n);
    /** What a quarantine (by hand or automatic) does to the model: the status a release gives back, one provenance entry, the counter. */
    const quarantined = (t: Tenant, m: MTrace) => {
      m.beforeQuarantine = m.status;
      m.status = 'quarantined';
      m.provenance++;
      count(t, 'quarantined');
    };
    const req = async (t: Tenant, method: string, url: string, body?: unknown): Promise<Res> => {
      // Tenant a has two keys: both see and change the same records.
      const res = await s.req(method, url, { key: t.name === 'a' && r() < 0.3 ? KEYS.A2 : t.key, body });
      log.push(`${step} ${t.name} ${method} ${url} ${body === undefined ? '' : JSON.stringify(body)} → ${res.status}`);
      // Every error is a problem document with the request id; a 400 or a 404 names the field.
      if (res.status >= 400) {
        expect(res.headers.get('content-type'), where()).toMatch(/^application\/problem\+json/);
        expect(res.json.requestId, where()).toBe(res.headers.get('x-request-id'));
        if (res.status === 400 || res.status === 404) expect(res.json.errors.length, `${where()}\n${res.text.slice(0, 400)}`).toBeGreaterThan(0);
      }
      // Every answer is one /openapi.json documents for the route.
      const path = url.split('?')[0]!;
      const route = documented.find(([m, re]) => m === method && re.test(path));
      expect(route, `${method} ${path} is not in /openapi.json`).toBeDefined();
      expect(route![2], `${where()}\n${method} ${path} answered ${res.status}, which /openapi.json does not list for it: ${res.text.slice(0, 300)}`).toContain(String(res.status));
      return res;
    };
    const where = () => `seed ${SEED}, step ${step}; last operations:\n${log.slice(-12).join('\n')}`;
    const expectStatus = (res: Res, status: number, code?: string, path?: string) => {
      expect(res.status, `${where()}\n${res.text.slice(0, 600)}`).toBe(status);
      if (code) expect(res.json?.code, where()).toBe(code);
      // docs/api.md: a 404 names where the request gave the id that was not found.
      if (path) expect(res.json?.errors?.[0]?.path, `${where()}\n${res.text.slice(0, 600)}`).toBe(path);
    };
    const other = (t: Tenant) => tenants[t.name === 'a' ? 1 : 0]!;
    /** An id of this tenant's kind of record, or (sometimes) the other tenant's: 404 expected. */
    const foreign = <T>(t: Tenant, own: (x: Tenant) => Map<string, T>): string | undefined => {
      const ids = [...own(other(t)).keys()];
      return ids.length ? pick(ids) : undefined;
    };
    const openSessions = (t: Tenant) => [...t.sessions].filter(([, st]) => st === 'open').map(([id]) => id);

    const checkTrace = async (t: Tenant, m: MTrace) => {
      const res = await req(t, 'GET', `/traces/${m.id}`);
      expectStatus(res, 200);
      expect(res.json.status, where()).toBe(m.status);
      expect(res.json.sessionId, where()).toBe(m.sessionId);
      expect(res.json.flags.length, where()).toBe(m.flags.length);
      const prov = await req(t, 'GET', `/traces/${m.id}/provenance`);
      expectStatus(prov, 200);
      expect(prov.json.verified, where()).toBe(true);
      expect(prov.json.entries.length, where()).toBe(m.provenance);
    };

    /** POST /traces; `own`: sessionId is the tenant's (else another tenant's: 404). */
    const recordTrace = async (t: Tenant, sessionId: string, own: boolean) => {
      const ok = r() < 0.8;
      const res = await req(t, 'POST', '/traces', { sessionId, runner: 'model', task: { input: `note ${step}` }, output: ok ? { ok, stdout: `out ${step}`, stderr: '' } : { ok, stdout: '', stderr: `err ${step}` } });
      if (!own) return expectStatus(res, 404, 'LIMIT_NOT_FOUND', 'body.sessionId');
      if (t.sessions.get(sessionId) === 'closed') return expectStatus(res, 409, 'LIMIT_SESSION_CLOSED');
      expectStatus(res, 201);
      expect(res.json.decision, where()).toBe('allow');
      expect(res.json.trace.status, where()).toBe(ok ? 'ok' : 'error');
      count(t, 'evaluations', 2);
      count(t, 'decision.allow', 2);
      t.traces.set(res.json.trace.id, { id: res.json.trace.id, sessionId, status: ok ? 'ok' : 'error', createdMs: Date.parse(res.json.trace.createdAt), flags: [], provenance: 2, merge: false, outputOk: ok });
    };

    const ops: [number, (t: Tenant) => Promise<void>][] = [
      // open a session
      [4, async (t) => {
        const res = await req(t, 'POST', '/sessions', r() < 0.5 ? { name: `s${step}` } : undefined);
        expectStatus(res, 201);
        expect(res.json.status, where()).toBe('open');
        t.sessions.set(res.json.id, 'open');
        t.sessionCreated.set(res.json.id, Date.parse(res.json.createdAt));
      }],
      // close a session (own, maybe already closed, or another tenant's)
      [1, async (t) => {
        const alien = r() < 0.2 ? foreign(t, (x) => x.sessions) : undefined;
        if (alien) return expectStatus(await req(t, 'POST', `/sessions/${alien}/close`), 404, 'LIMIT_NOT_FOUND', 'params.id');
        if (!t.sessions.size) return;
        const id = pick([...t.sessions.keys()]);
        const before = t.sessions.get(id) === 'closed' ? (await req(t, 'GET', `/sessions/${id}`)).json : undefined;
        const res = await req(t, 'POST', `/sessions/${id}/close`);
        expectStatus(res, 200);
        expect(res.json.status, where()).toBe('closed');
        // Closing a closed session returns it unchanged.
        if (before) expect(res.json, where()).toEqual(before);
        t.sessions.set(id, 'closed');
      }],
      // record a trace (a closed session refuses it)
      [8, async (t) => {
        const alien = r() < 0.1 ? foreign(t, (x) => x.sessions) : undefined;
        const sessionId = alien ?? (t.sessions.size ? pick([...t.sessions.keys()]) : undefined);
        if (!sessionId) return;
        await recordTrace(t, sessionId, alien === undefined);
      }],
      // a run (Python): a closed session refuses it before anything runs, another tenant's is a 404
      [1, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.sessions) : undefined;
        const sessionId = alien ?? (t.sessions.size ? pick([...t.sessions.keys()]) : undefined);
        if (!sessionId) return;
        const res = await req(t, 'POST', `/sessions/${sessionId}/runs`, { runner: 'python', task: { input: `print(${step})` } });
        if (alien) return expectStatus(res, 404, 'LIMIT_NOT_FOUND', 'params.id');
        if (t.sessions.get(sessionId) === 'closed') return expectStatus(res, 409, 'LIMIT_SESSION_CLOSED');
        expectStatus(res, 201);
        expect(res.json, where()).toMatchObject({ decision: 'allow', executed: true, trace: { status: 'ok', output: { stdout: `${step}\n` } } });
        count(t, 'evaluations', 2);
        count(t, 'decision.allow', 2);
        t.traces.set(res.json.trace.id, { id: res.json.trace.id, sessionId, status: 'ok', createdMs: Date.parse(res.json.trace.createdAt), flags: [], provenance: 3, merge: false, outputOk: true });
      }],
      // read a trace (own or another tenant's)
      [3, async (t) => {
        const alien = r() < 0.3 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) {
          expectStatus(await req(t, 'GET', `/traces/${alien}`), 404, 'LIMIT_NOT_FOUND', 'params.id');
          return expectStatus(await req(t, 'GET', `/traces/${alien}/provenance`), 404, 'LIMIT_NOT_FOUND', 'params.id');
        }
        if (t.traces.size) await checkTrace(t, pick([...t.traces.values()]));
      }],
      // list traces with filters, page by page
      [3, async (t) => {
        const q = new URLSearchParams();
        let want = [...t.traces.values()];
        if (r() < 0.4 && t.sessions.size) {
          const sessionId = pick([...t.sessions.keys()]);
          q.set('sessionId', sessionId);
          want = want.filter((m) => m.sessionId === sessionId);
        }
        if (r() < 0.4) {
          const statuses = [...new Set([pick(['ok', 'error', 'quarantined', 'pending-review', 'rejected'] as const), pick(['ok', 'error', 'quarantined'] as const)])];
          q.set('status', statuses.join(','));
          want = want.filter((m) => (statuses as string[]).includes(m.status));
        }
        if (r() < 0.3) {
          const kind = pick(KINDS);
          q.set('flagKind', kind);
          want = want.filter((m) => m.flags.some((f) => f.kind === kind));
        }
        if (r() < 0.3 && t.traces.size) {
          const fromMs = pick([...t.traces.values()]).createdMs;
          q.set('from', new Date(fromMs).toISOString());
          want = want.filter((m) => m.createdMs >= fromMs);
        }
        if (r() < 0.3 && t.traces.size) {
          const toMs = pick([...t.traces.values()]).createdMs;
          q.set('to', new Date(toMs).toISOString());
          want = want.filter((m) => m.createdMs < toMs);
        }
        const limit = 1 + int(12);
        q.set('limit', String(limit));
        want.sort((x, y) => y.createdMs - x.createdMs || (y.id < x.id ? -1 : y.id > x.id ? 1 : 0));
        const got: string[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 200; pages++) {
          const res = await req(t, 'GET', `/traces?${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          expectStatus(res, 200);
          expect(res.json.items.length, where()).toBeLessThanOrEqual(limit);
          for (const item of res.json.items) {
            const m = t.traces.get(item.id);
            expect(m, `${where()}\nunknown trace ${item.id} in the list`).toBeDefined();
            expect(item.status, where()).toBe(m!.status);
            got.push(item.id);
          }
          cursor = res.json.nextCursor;
          if (!cursor) break;
          // A trace recorded between pages is newer than the cursor: later pages neither show it nor shift.
          const open = openSessions(t);
          if (pages === 0 && open.length && r() < 0.3) await recordTrace(t, pick(open), true);
        }
        expect(got, `${where()}\nGET /traces?${q}`).toEqual(want.map((m) => m.id));
      }],
      // list sessions, page by page
      [1, async (t) => {
        const status = pick([undefined, 'open', 'closed'] as const);
        const limit = 1 + int(6);
        // Newest first: creation time, then id, both descending.
        const want = [...t.sessions].filter(([, st]) => !status || st === status).map(([id]) => id)
          .sort((x, y) => t.sessionCreated.get(y)! - t.sessionCreated.get(x)! || (y < x ? -1 : y > x ? 1 : 0));
        const got: string[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 200; pages++) {
          const res = await req(t, 'GET', `/sessions?limit=${limit}${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          expectStatus(res, 200);
          for (const item of res.json.items) {
            expect(item.status, where()).toBe(t.sessions.get(item.id));
            got.push(item.id);
          }
          cursor = res.json.nextCursor;
          if (!cursor) break;
        }
        expect(got, `${where()}\nGET /sessions`).toEqual(want);
      }],
      // quarantine
      [2, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) return expectStatus(await req(t, 'POST', `/traces/${alien}/quarantine`, { reason: 'x' }), 404, 'LIMIT_NOT_FOUND', 'params.id');
        if (!t.traces.size) return;
        const m = pick([...t.traces.values()]);
        const res = await req(t, 'POST', `/traces/${m.id}/quarantine`, { reason: `q${step}` });
        if (m.status === 'quarantined') return expectStatus(res, 409, 'LIMIT_CONFLICT');
        expectStatus(res, 200);
        expect(res.json.status, where()).toBe('quarantined');
        quarantined(t, m);
      }],
      // release
      [2, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) return expectStatus(await req(t, 'POST', `/traces/${alien}/release`, { reason: 'x' }), 404, 'LIMIT_NOT_FOUND', 'params.id');
        const candidates = [...t.traces.values()].filter((m) => m.status !== 'error');
        if (!candidates.length) return;
        const m = pick(candidates);
        const res = await req(t, 'POST', `/traces/${m.id}/release`, { reason: `r${step}` });
        if (m.status !== 'quarantined') return expectStatus(res, 409, 'LIMIT_CONFLICT');
        expectStatus(res, 200);
        expect(res.json.status, where()).toBe(m.beforeQuarantine);
        m.status = m.beforeQuarantine!;
        m.releasedAt = step;
        m.provenance++;
        count(t, 'released');
      }],
      // flag by hand (autoQuarantine at severity 7 on ok/error traces, not again for flags released with)
      [3, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.traces) : undefined;
        const severity = 1 + int(10);
        const kind = pick(KINDS);
        if (alien) return expectStatus(await req(t, 'POST', '/governance/flag', { traceId: alien, kind, severity, reason: 'x' }), 404, 'LIMIT_NOT_FOUND', 'body.traceId');
        if (!t.traces.size) return;
        const m = pick([...t.traces.values()]);
        const res = await req(t, 'POST', '/governance/flag', { traceId: m.id, kind, severity, reason: `f${step}` });
        expectStatus(res, 201);
        const since = m.flags.filter((f) => m.releasedAt === undefined || f.at > m.releasedAt);
        const auto = (m.status === 'ok' || m.status === 'error') && Math.max(severity, ...since.map((f) => f.severity)) >= QUARANTINE_SEVERITY;
        expect(res.json.autoQuarantined, where()).toBe(auto);
        expect(typeof res.json.quarantineReason === 'string', where()).toBe(auto);
        m.flags.push({ kind, severity, at: step });
        m.provenance++;
        count(t, 'flags.total');
        count(t, 'flags.manual');
        count(t, `flags.kind.${kind}`);
        count(t, 'flags.rule.manual');
        if (auto) quarantined(t, m);
      }],
      // append provenance
      [2, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) return expectStatus(await req(t, 'POST', `/traces/${alien}/provenance`, { action: 'note', operation: 'update' }), 404, 'LIMIT_NOT_FOUND', 'params.id');
        if (!t.traces.size) return;
        const m = pick([...t.traces.values()]);
        const res = await req(t, 'POST', `/traces/${m.id}/provenance`, { action: 'note', operation: 'update', data: { step } });
        expectStatus(res, 201);
        expect(res.json.seq, where()).toBe(m.provenance);
        m.provenance++;
      }],
      // merge (every merge waits for review: requireHumanReview)
      [3, async (t) => {
        const own = [...t.traces.values()];
        if (own.length < 2) return;
        const parents = [...new Set([pick(own), pick(own), pick(own)].slice(0, 1 + int(3)))];
        const sessions = new Set(parents.map((p) => p.sessionId));
        if (sessions.size > 1 && r() < 0.2) {
          // Parents of several sessions: the receiving session must be named.
          return expectStatus(await req(t, 'POST', '/merges', { parentIds: parents.map((p) => p.id) }), 400, 'LIMIT_VALIDATION', 'body.sessionId');
        }
        const sessionId = sessions.size > 1 || r() < 0.2 ? pick([...t.sessions.keys()]) : parents[0]!.sessionId;
        const strategy = pick(['union', 'concat', 'first-success']);
        const alien = r() < 0.1 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) {
          const ids = parents.map((p) => p.id);
          const at = int(ids.length + 1);
          ids.splice(at, 0, alien);
          return expectStatus(await req(t, 'POST', '/merges', { parentIds: ids, strategy, sessionId }), 404, 'LIMIT_NOT_FOUND', `body.parentIds.${at}`);
        }
        const res = await req(t, 'POST', '/merges', { parentIds: parents.map((p) => p.id), strategy, sessionId });
        if (t.sessions.get(sessionId) === 'closed') return expectStatus(res, 409, 'LIMIT_SESSION_CLOSED');
        const unmergeable = parents.some((p) => p.status !== 'ok' && p.status !== 'error');
        const flagged = parents.some((p) => p.flags.length > 0);
        // first-success needs a parent whose output succeeded (a merge's own output is not modelled).
        const noSuccess = strategy === 'first-success' && parents.every((p) => p.outputOk !== true);
        if (unmergeable || ((flagged || noSuccess) && res.status === 409)) {
          expectStatus(res, 409, 'LIMIT_MERGE_REFUSED');
          count(t, 'merges.refused');
          return;
        }
        expectStatus(res, 201);
        expect(res.json.trace.status, where()).toBe('pending-review');
        count(t, 'merges.review');
        count(t, 'evaluations');
        count(t, 'decision.allow');
        t.traces.set(res.json.trace.id, { id: res.json.trace.id, sessionId, status: 'pending-review', createdMs: Date.parse(res.json.trace.createdAt), flags: [], provenance: 2, merge: true, parents: parents.map((p) => p.id) });
      }],
      // approve or reject a merge (409 unless pending-review)
      [3, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.traces) : undefined;
        const approve = r() < 0.5;
        if (alien) return expectStatus(await req(t, 'POST', `/merges/${alien}/${approve ? 'approve' : 'reject'}`), 404, 'LIMIT_NOT_FOUND', 'params.id');
        const merges = [...t.traces.values()].filter((m) => m.merge);
        if (!merges.length) return;
        const m = pick(merges);
        const res = await req(t, 'POST', `/merges/${m.id}/${approve ? 'approve' : 'reject'}`, r() < 0.5 ? { rationale: `why ${step}` } : undefined);
        if (m.status !== 'pending-review') return expectStatus(res, 409, 'LIMIT_CONFLICT');
        if (approve) {
          // An approval validates the merge again: parents quarantined (or flagged) since refuse it.
          const parents = m.parents!.map((id) => t.traces.get(id)!);
          if (parents.some((p) => p.status !== 'ok' && p.status !== 'error') || (parents.some((p) => p.flags.length) && res.status === 409)) {
            return expectStatus(res, 409, 'LIMIT_MERGE_REFUSED');
          }
        }
        expectStatus(res, 200);
        m.status = approve ? 'ok' : 'rejected';
        expect(res.json.status, where()).toBe(m.status);
        m.provenance++;
        count(t, 'reviewed');
        count(t, `reviewed.${approve ? 'approved' : 'rejected'}`);
      }],
      // races the docs settle: of an approval and a rejection of one merge, of two quarantines, of two
      // releases, one succeeds and the other is 409 with nothing written
      [2, async (t) => {
        const kind = pick(['review', 'quarantine', 'release'] as const);
        const candidates = [...t.traces.values()].filter((m) =>
          kind === 'review' ? m.status === 'pending-review' && m.parents!.every((id) => t.traces.get(id)!.status === 'ok' || t.traces.get(id)!.status === 'error') && !m.parents!.some((id) => t.traces.get(id)!.flags.length)
            : kind === 'quarantine' ? m.status !== 'quarantined' : m.status === 'quarantined');
        if (!candidates.length) return;
        const m = pick(candidates);
        const urls = kind === 'review' ? [`/merges/${m.id}/approve`, `/merges/${m.id}/reject`] : [`/traces/${m.id}/${kind}`, `/traces/${m.id}/${kind}`];
        const res = await Promise.all(urls.map((u) => req(t, 'POST', u, kind === 'review' ? undefined : { reason: `race ${step}` })));
        const won = res.findIndex((x) => x.status === 200);
        expect(res.map((x) => x.status).sort(), `${where()}\n${res.map((x) => x.text.slice(0, 300)).join('\n')}`).toEqual([200, 409]);
        expect(res[1 - won]!.json.code, where()).toBe('LIMIT_CONFLICT');
        m.provenance++;
        if (kind === 'review') {
          m.status = won === 0 ? 'ok' : 'rejected';
          count(t, 'reviewed');
          count(t, `reviewed.${won === 0 ? 'approved' : 'rejected'}`);
        } else if (kind === 'quarantine') {
          m.beforeQuarantine = m.status;
          m.status = 'quarantined';
          count(t, 'quarantined');
        } else {
          m.status = m.beforeQuarantine!;
          m.releasedAt = step;
          count(t, 'released');
        }
        expect(res[won]!.json.status, where()).toBe(m.status);
      }],
      // RD series (a closed session refuses one)
      [2, async (t) => {
        const alien = r() < 0.1 ? foreign(t, (x) => x.sessions) : undefined;
        const sessionId = alien ?? (t.sessions.size ? pick([...t.sessions.keys()]) : undefined);
        if (!sessionId) return;
        const res = await req(t, 'POST', '/rd/series', { sessionId, name: `rd${step}` });
        if (alien) return expectStatus(res, 404, 'LIMIT_NOT_FOUND', 'body.sessionId');
        if (t.sessions.get(sessionId) === 'closed') return expectStatus(res, 409, 'LIMIT_SESSION_CLOSED');
        expectStatus(res, 201);
        t.series.set(res.json.id, { id: res.json.id, sessionId, points: [] });
      }],
      // RD points
      [4, async (t) => {
        const alien = r() < 0.1 ? foreign(t, (x) => x.series) : undefined;
        const point = { rate: int(20), distortion: Math.round(r() * 1000) / 100 };
        if (alien) return expectStatus(await req(t, 'POST', `/rd/series/${alien}/points`, point), 404, 'LIMIT_NOT_FOUND', 'params.id');
        if (!t.series.size) return;
        const m = pick([...t.series.values()]);
        const res = await req(t, 'POST', `/rd/series/${m.id}/points`, point);
        if (t.sessions.get(m.sessionId) === 'closed') return expectStatus(res, 409, 'LIMIT_SESSION_CLOSED');
        expectStatus(res, 201);
        const stepNo = m.points.length ? Math.max(...m.points.map((p) => p.step)) + 1 : 0;
        expect(res.json.point, where()).toEqual({ step: stepNo, ...point });
        m.points.push({ step: stepNo, ...point });
        expect(res.json.pointCount, where()).toBe(m.points.length);
      }],
      // RD knee of a stored series: every point, sorted by rate
      [2, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.series) : undefined;
        if (alien) return expectStatus(await req(t, 'GET', `/rd/knee?series=${alien}`), 404, 'LIMIT_NOT_FOUND', 'query.series');
        if (!t.series.size) return;
        const m = pick([...t.series.values()]);
        const res = await req(t, 'GET', `/rd/knee?series=${m.id}`);
        expectStatus(res, 200);
        const want = [...m.points].sort((x, y) => x.rate - y.rate || x.step - y.step);
        expect(res.json.points, where()).toEqual(want);
        if (res.json.index !== null) expect(res.json.point, where()).toEqual(want[res.json.index]);
      }],
      // export a session
      [1, async (t) => {
        const alien = r() < 0.15 ? foreign(t, (x) => x.sessions) : undefined;
        if (alien) return expectStatus(await req(t, 'POST', '/artifacts/export', { sessionId: alien, format: 'json' }), 404, 'LIMIT_NOT_FOUND', 'body.sessionId');
        if (!t.sessions.size) return;
        const sessionId = pick([...t.sessions.keys()]);
        const res = await req(t, 'POST', '/artifacts/export', { sessionId, format: pick(['json', 'jsonl', 'csv']) });
        expectStatus(res, 200);
        const traces = [...t.traces.values()].filter((m) => m.sessionId === sessionId);
        const manifest = res.json.manifest;
        expect([...manifest.traceIds].sort(), where()).toEqual(traces.map((m) => m.id).sort());
        expect(manifest.provenance.verified, where()).toBe(true);
        for (const chain of manifest.provenance.chains) expect(chain, where()).toMatchObject({ verified: true, length: t.traces.get(chain.traceId)!.provenance });
        expect(manifest.parts.provenance.records, where()).toBe(traces.reduce((n, m) => n + m.provenance, 0));
        expect(manifest.parts.flags.records, where()).toBe(traces.reduce((n, m) => n + m.flags.length, 0));
        expect(manifest.parts.rdSeries.records, where()).toBe([...t.series.values()].filter((x) => x.sessionId === sessionId).length);
      }],
      // export some traces by id
      [1, async (t) => {
        const own = [...t.traces.keys()];
        if (!own.length) return;
        const ids = [...new Set([pick(own), pick(own), pick(own)])];
        const alien = r() < 0.2 ? foreign(t, (x) => x.traces) : undefined;
        if (alien) {
          const at = int(ids.length + 1);
          ids.splice(at, 0, alien);
          return expectStatus(await req(t, 'POST', '/artifacts/export', { traceIds: ids, format: 'json' }), 404, 'LIMIT_NOT_FOUND', `body.traceIds.${at}`);
        }
        const res = await req(t, 'POST', '/artifacts/export', { traceIds: ids, format: pick(['json', 'jsonl', 'csv']) });
        expectStatus(res, 200);
        expect([...res.json.manifest.traceIds].sort(), where()).toEqual([...ids].sort());
        expect(res.json.manifest.parts.provenance.records, where()).toBe(ids.reduce((n, id) => n + t.traces.get(id)!.provenance, 0));
        expect(res.json.manifest.parts.flags.records, where()).toBe(ids.reduce((n, id) => n + t.traces.get(id)!.flags.length, 0));
      }],
      // governance counters
      [1, async (t) => {
        const res = await req(t, 'GET', '/governance/stats');
        expectStatus(res, 200);
        expect(res.json, where()).toEqual(t.counters);
      }],
    ];
    const total = ops.reduce((n, [w]) => n + w, 0);
    const choose = () => {
      let x = r() * total;
      for (const [w, op] of ops) if ((x -= w) < 0) return op;
      return ops[0]![1];
    };

    for (const t of tenants) {
      const res = await req(t, 'POST', '/sessions', { name: 'first' });
      t.sessions.set(res.json.id, 'open');
      t.sessionCreated.set(res.json.id, Date.parse(res.json.createdAt));
    }
    for (step = 0; step < STEPS; step++) await choose()(pick(tenants));

    // Finally, everything each tenant holds, read back once more.
    for (const t of tenants) {
      for (const m of t.traces.values()) await checkTrace(t, m);
      expect((await req(t, 'GET', '/governance/stats')).json, where()).toEqual(t.counters);
    }
  }, 60_000);
});
