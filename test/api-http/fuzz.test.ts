/**
 * Sends a few thousand random and mutated requests (seeded, so a failure replays) at a real server
 * on loopback: none may get a 5xx, every error must be a problem document, and the server must be
 * healthy and correct afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, rawRequest, startServer, type Server } from './harness.ts';
import { mulberry32 as rng } from 'limit-graph';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const COUNT = 4000;
const CONCURRENCY = 16;
const TIME_LIMIT_MS = 25_000;


describe('api-http fuzz', () => {
  let s: Server;
  let S: string;
  let T: string;
  beforeAll(async () => {
    s = await startServer({ api: { rateLimit: false }, plugins: { 'rd-fgw': true, 'knee-kneedle': true, 'knee-menger': true } });
    S = (await s.req('POST', '/sessions', { body: { name: 'fuzz' } })).json.id;
    T = (await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task: { input: 'seed' }, output: { ok: true, stdout: 'a', stderr: '' } } })).json.trace.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  it(`answers ${COUNT} random requests without a 5xx and stays healthy (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const ids = () => pick([S, T, 'nope', '', '.', '..', '%2e%2e%2f', 'a'.repeat(300), '%00', '%ff%fe', 'x/y', '%CE%A9', '-1', '1e999', 'null', '{T}', '%', '%25']);
    const scalars: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', 'ø'.repeat(50), '\u202e', '\ud83d\ude00', [], {}, [1, [2, [3]]], { a: { b: {} } }];
    const templates: [string, string, () => Record<string, unknown> | undefined][] = [
      ['POST', '/sessions', () => ({ name: 'n', limits: { timeoutMs: 1000, maxConcurrency: 2 }, metadata: { a: 1 } })],
      ['GET', '/sessions', () => undefined],
      ['GET', '/sessions/{id}', () => undefined],
      ['POST', '/sessions/{id}/close', () => ({})],
      // Runner names that do not exist keep the fuzzer from spawning interpreters by the thousand.
      ['POST', '/sessions/{id}/runs', () => ({ runner: pick(['nope', 'x', 'PYTHON', 'python ']), task: { input: 'print(1)' } })],
      ['POST', '/traces', () => ({ sessionId: S, runner: 'fz', task: { input: 'hello', kind: 'external' }, output: { ok: true, stdout: 'o', stderr: '' }, metrics: { latencyMs: 1 } })],
      ['GET', '/traces/{id}', () => undefined],
      ['GET', '/traces', () => undefined],
      ['POST', '/traces/{id}/provenance', () => ({ action: 'fz', operation: 'update', data: { k: [1, 2] } })],
      ['GET', '/traces/{id}/provenance', () => undefined],
      ['POST', '/governance/flag', () => ({ traceId: T, kind: 'Anomaly', severity: 2, reason: 'fz' })],
      ['GET', '/governance/stats', () => undefined],
      ['POST', '/traces/{id}/quarantine', () => ({ reason: 'fz' })],
      ['POST', '/traces/{id}/release', () => ({ reason: 'fz' })],
      ['POST', '/merges', () => ({ parentIds: [T], strategy: 'concat' })],
      ['POST', '/merges/{id}/approve', () => ({})],
      ['POST', '/merges/{id}/reject', () => ({ rationale: 'no' })],
      ['POST', '/rd/distortion', () => ({ source: { nodes: [{ id: 'a', features: [1] }], edges: [] }, target: { nodes: [{ id: 'b', features: [2] }], edges: [] } })],
      ['POST', '/rd/series', () => ({ sessionId: S, name: 'fz' })],
      ['POST', '/rd/series/{id}/points', () => ({ rate: 1, distortion: 0.5 })],
      ['GET', '/rd/knee', () => undefined],
      ['POST', '/rd/knee', () => ({ points: [{ rate: 1, distortion: 3 }, { rate: 2, distortion: 1 }, { rate: 3, distortion: 0.9 }] })],
      ['POST', '/artifacts/export', () => ({ sessionId: S, format: pick(['json', 'jsonl', 'csv']) })],
      ['GET', '/health', () => undefined],
      ['GET', '/openapi.json', () => undefined],
      ['PUT', '/sessions', () => ({})],
      ['GET', '/../../etc/passwd', () => undefined],
    ];
    const queries = ['', '?limit=2', '?limit=-5', '?limit=1e3', '?cursor=abc', '?cursor=' + 'A'.repeat(2000), '?status=ok', '?status=ok&status=zzz', '?sessionId=' + S,
      '?series=' + T, '?series=', '?from=2020-01-01T00:00:00Z&to=x', '?__proto__=1', '?a[b]=c', '?flagKind=Jailbreak', '?%ff=1'];

    const mutate = (value: unknown, depth = 0): unknown => {
      if (r() < 0.15 || depth > 4) return pick(scalars);
      if (Array.isArray(value)) return r() < 0.3 ? [...value, pick(scalars)] : value.map((v) => mutate(v, depth + 1));
      if (value && typeof value === 'object') {
        const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
        const keys = Object.keys(out);
        const roll = r();
        if (roll < 0.2 && keys.length) delete out[pick(keys)];
        else if (roll < 0.35) out[pick(['extra', 'tenant', 'actor', 'id', '__proto__', 'constructor', ''])] = pick(scalars);
        else if (roll < 0.7 && keys.length) out[pick(keys)!] = mutate(out[pick(keys)!], depth + 1);
        return out;
      }
      return r() < 0.5 ? pick(scalars) : value;
    };

    const build = (): { method: string; path: string; headers: Record<string, string>; body?: string | Buffer } => {
      const [tmethod, tpath, makeBody] = pick(templates);
      const method = r() < 0.05 ? pick(['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) : tmethod;
      const path = tpath.replace('{id}', ids().replace('{T}', T)) + (r() < 0.4 ? pick(queries) : '');
      const headers: Record<string, string> = {};
      const auth = r();
      if (auth < 0.75) headers.authorization = `Bearer ${KEYS.A}`;
      else if (auth < 0.85) headers['x-api-key'] = KEYS.B;
      else if (auth < 0.95) headers.authorization = pick(['Bearer', 'Bearer ', 'Basic abc', `Bearer ${KEYS.A}${KEYS.A}`, 'x'.repeat(600)]);
      if (r() < 0.1) headers['x-request-id'] = pick(['ok-id', 'bad id', 'x'.repeat(300), '../../']);
      let body: string | Buffer | undefined;
      const base = makeBody();
      if (method !== 'GET' && method !== 'HEAD' && (base !== undefined || r() < 0.3)) {
        const kind = r();
        if (kind < 0.45) body = JSON.stringify(base ?? {});
        else if (kind < 0.8) body = JSON.stringify(mutate(base ?? {}));
        else if (kind < 0.88) body = JSON.stringify(base ?? {}).slice(0, Math.floor(r() * 20));
        else if (kind < 0.94) body = Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
        else if (kind < 0.97) body = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
        else body = JSON.stringify({ ...(base ?? {}), pad: 'p'.repeat(1_100_000) });
        headers['content-type'] = r() < 0.9 ? 'application/json' : pick(['text/plain', 'application/xml', 'application/json; charset=latin1', '', 'application/jsonx']);
        if (headers['content-type'] === '') delete headers['content-type'];
      }
      return { method, path, headers, body };
    };

    const started = Date.now();
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < COUNT && Date.now() - started < TIME_LIMIT_MS) {
        sent++;
        const req = build();
        const res = await rawRequest(s.url, req.method, req.path, req.headers, req.body).catch((e: Error) => {
          throw new Error(`${e.message}: ${req.method} ${req.path} ${JSON.stringify(req.headers)} body ${req.body?.length ?? 0} bytes: ${String(req.body ?? '').slice(0, 120)}`);
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const problem = res.status >= 400 && req.method !== 'HEAD' && !/^application\/problem\+json/.test(res.headers.get('content-type') ?? '');
        if (res.status >= 500 || res.status === 0 || problem) {
          failures.push(`${res.status} ${req.method} ${req.path} ${JSON.stringify(req.headers)} ${String(req.body ?? '').slice(0, 200)} → ${res.text.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 1000));
    // The mix reached handlers, not only the validators.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(201) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);

    expect((await s.req('GET', '/health')).status).toBe(200);
    expect((await s.req('GET', '/ready')).status).toBe(200);
    // The fuzzer may have closed S; a fresh session must work as on the first day.
    const fresh = await s.req('POST', '/sessions', { body: { name: 'after' } });
    expect(fresh.status).toBe(201);
    const after = await s.req('POST', '/traces', { body: { sessionId: fresh.json.id, runner: 'x', task: { input: 'after' }, output: { ok: true, stdout: 'fine', stderr: '' } } });
    expect(after.status).toBe(201);
    expect((await s.req('GET', `/traces/${after.json.trace.id}`)).json.output.stdout).toBe('fine');
    expect((await s.req('GET', `/traces/${T}/provenance`)).json.verified).toBe(true);
  });
});
