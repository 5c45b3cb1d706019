/**
 * A table of malformed requests: each must get the right 4xx as a problem document naming the
 * failing field, and leave storage exactly as it was.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, rawRequest, snapshot, startServer, type Backend, type Res, type Server } from './harness.ts';

interface Case {
  name: string;
  method: string;
  /** Sent byte for byte; `{S}` / `{T}` become an existing session / trace id. */
  path: string;
  body?: unknown;
  /** A raw body, sent as is. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  code?: string;
  /** Expected `errors[].path` (one of them). */
  field?: string;
  /** Expected message of the error at `field`. */
  message?: RegExp;
}

const task = { input: 'print(1)' };
const output = { ok: true, stdout: '', stderr: '' };
const deep = (n: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};
const graph = (n: number) => ({ nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [i] })), edges: [] });

const CASES: Case[] = [
  // wrong types
  { name: 'name is a number', method: 'POST', path: '/sessions', body: { name: 5 }, status: 400, code: 'LIMIT_VALIDATION', field: 'body.name' },
  { name: 'limit is a string', method: 'POST', path: '/sessions', body: { limits: { timeoutMs: 'soon' } }, status: 400, field: 'body.limits.timeoutMs' },
  { name: 'limit out of range', method: 'POST', path: '/sessions', body: { limits: { memoryMb: 1 } }, status: 400, field: 'body.limits.memoryMb' },
  { name: 'array body', method: 'POST', path: '/sessions', body: [1, 2], status: 400, field: 'body' },
  { name: 'string body', method: 'POST', path: '/sessions', raw: '"hello"', headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
  { name: 'null body', method: 'POST', path: '/traces', raw: 'null', headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
  { name: 'missing output', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task }, status: 400, field: 'body.output' },
  { name: 'task.input is a number', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task: { input: 1 }, output }, status: 400, field: 'body.task.input' },
  { name: 'output.ok is a string', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task, output: { ...output, ok: 'yes' } }, status: 400, field: 'body.output.ok' },
  { name: 'negative latency', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task, output, metrics: { latencyMs: -1 } }, status: 400, field: 'body.metrics.latencyMs' },
  { name: 'runner name with a space', method: 'POST', path: '/sessions/{S}/runs', body: { runner: 'py thon', task }, status: 400, field: 'body.runner' },
  { name: 'severity 11', method: 'POST', path: '/governance/flag', body: { traceId: '{T}', kind: 'Unsafe', severity: 11, reason: 'x' }, status: 400, field: 'body.severity' },
  { name: 'unknown flag kind', method: 'POST', path: '/governance/flag', body: { traceId: '{T}', kind: 'Evil', severity: 3, reason: 'x' }, status: 400, field: 'body.kind' },
  { name: 'empty quarantine reason', method: 'POST', path: '/traces/{T}/quarantine', body: { reason: '' }, status: 400, field: 'body.reason' },
  { name: 'merge without parents', method: 'POST', path: '/merges', body: { parentIds: [] }, status: 400, field: 'body.parentIds' },
  { name: 'custom merge without output', method: 'POST', path: '/merges', body: { parentIds: ['{T}'], strategy: 'custom' }, status: 400, field: 'body.output' },
  { name: 'export with both selectors', method: 'POST', path: '/artifacts/export', body: { sessionId: '{S}', traceIds: ['{T}'] }, status: 400, field: 'body.sessionId' },
  { name: 'export format xml', method: 'POST', path: '/artifacts/export', body: { sessionId: '{S}', format: 'xml' }, status: 400, field: 'body.format' },
  { name: 'knee without points', method: 'POST', path: '/rd/knee', body: { points: [] }, status: 400, field: 'body.points' },
  { name: 'knee point rate is text', method: 'POST', path: '/rd/knee', body: { points: [{ rate: 'a', distortion: 1 }] }, status: 400, field: 'body.points.0.rate' },
  // An ad hoc curve is an RD curve too: the answer's points are RdPoints (rate and distortion ≥ 0), as the OpenAPI document says.
  { name: 'knee point rate is negative', method: 'POST', path: '/rd/knee', body: { points: [{ rate: 1, distortion: 3 }, { rate: -5, distortion: 2 }, { rate: 3, distortion: 0.9 }] }, status: 400, field: 'body.points.1.rate' },
  { name: 'knee point distortion is negative', method: 'POST', path: '/rd/knee', body: { points: [{ rate: 1, distortion: -3 }, { rate: 2, distortion: 1 }, { rate: 3, distortion: 0.9 }] }, status: 400, field: 'body.points.0.distortion' },
  { name: 'graph too large', method: 'POST', path: '/rd/distortion', body: { source: graph(501), target: graph(1) }, status: 400, field: 'body.source.nodes' },
  { name: 'graph feature NaN-ish', method: 'POST', path: '/rd/distortion', body: { source: { nodes: [{ id: 'a', features: ['x'] }], edges: [] }, target: graph(1) }, status: 400, field: 'body.source.nodes.0.features.0' },
  { name: 'series point with graph and distortion', method: 'POST', path: '/rd/series/xyz/points', body: { rate: 1, distortion: 1, graph: graph(1) }, status: 400, field: 'body.distortion' },
  { name: 'provenance operation unknown', method: 'POST', path: '/traces/{T}/provenance', body: { action: 'x', operation: 'explode' }, status: 400, field: 'body.operation' },
  // unknown fields (strict objects at every level)
  { name: 'unknown top-level field', method: 'POST', path: '/sessions', body: { name: 'x', admin: true }, status: 400, field: 'body.admin' },
  // Several unknown fields: each one named at its own path, not joined into one.
  ...['admin', 'root'].map((key): Case => (
    { name: `two unknown fields (${key})`, method: 'POST', path: '/sessions', body: { name: 'x', admin: true, root: 1 }, status: 400, field: `body.${key}`, message: new RegExp(`^Unrecognized key: "${key}"$`) })),
  { name: 'unknown nested field', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task: { ...task, sudo: 1 }, output }, status: 400, field: 'body.task.sudo' },
  { name: 'client-chosen tenant', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task, output, tenant: 'tenant-b' }, status: 400, field: 'body.tenant' },
  { name: 'client-chosen actor', method: 'POST', path: '/traces/{T}/provenance', body: { action: 'x', actor: 'root' }, status: 400, field: 'body.actor' },
  { name: 'an action the server records itself', method: 'POST', path: '/traces/{T}/provenance', body: { action: 'approved' }, status: 400, field: 'body.action' },
  // Compared folded: case, trailing space, an invisible character, compatibility forms, accents, separators.
  ...[['Approved', 'approved'], ['APPROVED', 'approved'], ['approved ', 'approved'], ['created\u200b', 'created'], ['ｍｅｒｇｅ', 'merge'], ['Review Requested', 'review-requested'], ['quarantinéd', 'quarantined']].map(([action, system]): Case => (
    { name: `an action that reads as one the server records (${JSON.stringify(action)})`, method: 'POST', path: '/traces/{T}/provenance', body: { action, operation: 'review' }, status: 400, field: 'body.action', message: new RegExp(`^reads as "${system}" \\(compared ignoring case.*one the server records itself`) })),
  { name: 'unknown query parameter', method: 'GET', path: '/traces?foo=1', status: 400, field: 'query.foo' },
  { name: 'query on a route without one', method: 'POST', path: '/traces/{T}/release?force=1', body: { reason: 'x' }, status: 400, field: 'query.force' },
  { name: 'body on a route without one', method: 'POST', path: '/sessions/{S}/close', body: { force: true }, status: 400, field: 'body' },
  // query strings
  { name: 'limit not a number', method: 'GET', path: '/traces?limit=abc', status: 400, field: 'query.limit', message: /^Expected a whole number from 1 to 1000, in decimal digits$/ },
  { name: 'limit not whole', method: 'GET', path: '/sessions?limit=1.5', status: 400, field: 'query.limit', message: /^Expected a whole number from 1 to 1000, in decimal digits$/ },
  { name: 'limit zero', method: 'GET', path: '/sessions?limit=0', status: 400, field: 'query.limit' },
  // Query integers are plain decimal digits: Number() would read each of these as 16 or 10.
  ...['0x10', '1e1', '%2010', '10%20', '%2B10', '10.0', '0b10', '0o10', '1_0', '', '-0', '%EF%BC%91%EF%BC%90'].map((v): Case => (
    { name: `limit=${v}`, method: 'GET', path: `/traces?limit=${v}`, status: 400, field: 'query.limit', message: /^Expected a whole number from 1 to 1000, in decimal digits$/ })),
  { name: 'limit too large', method: 'GET', path: '/traces?limit=100000', status: 400, field: 'query.limit' },
  { name: 'unknown status', method: 'GET', path: '/traces?status=ok,exploded', status: 400, field: 'query.status' },
  { name: 'from is not a timestamp', method: 'GET', path: '/traces?from=yesterday', status: 400, field: 'query.from' },
  { name: 'garbage cursor', method: 'GET', path: '/traces?cursor=%%%not-a-cursor', status: 400 },
  { name: 'limit given twice', method: 'GET', path: '/sessions?limit=1&limit=2', status: 400, field: 'query.limit', message: /^Given 2 times; this parameter takes one value/ },
  { name: 'cursor given twice', method: 'GET', path: '/traces?cursor=a&cursor=b', status: 400, field: 'query.cursor', message: /^Given 2 times/ },
  { name: 'series given twice', method: 'GET', path: '/rd/knee?series=a&series=b', status: 400, field: 'query.series', message: /^Given 2 times/ },
  // The one value at fault, not the union's bare "Invalid input".
  { name: 'status repeated with one unknown', method: 'GET', path: '/traces?status=ok&status=exploded', status: 400, field: 'query.status.1', message: /^Invalid option: expected one of .*"pending-review"/ },
  // A body on a GET is never read: refused, not ignored (its filters would silently not apply).
  { name: 'GET with a body', method: 'GET', path: '/traces', body: { status: 'error' }, status: 400, code: 'LIMIT_VALIDATION', field: 'body', message: /GET \/traces takes no body/ },
  { name: 'GET with an empty JSON object body', method: 'GET', path: '/sessions', body: {}, status: 400, field: 'body' },
  { name: 'GET of a public route with a body', method: 'GET', path: '/health', body: { x: 1 }, status: 400, field: 'body' },
  // Bodies are read as they are sent: a content coding (compression) is refused, not decoded as text.
  { name: 'gzip-encoded body', method: 'POST', path: '/sessions', raw: gzipSync('{"name":"zipped"}'), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', field: 'header.content-encoding', message: /gzip/ },
  { name: 'Content-Encoding gzip on a plain body', method: 'POST', path: '/sessions', raw: '{"name":"plain"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 415, field: 'header.content-encoding' },
  // JSON is UTF-8: a body declared in another charset is refused, not decoded as UTF-8 regardless.
  { name: 'body declared latin-1', method: 'POST', path: '/sessions', raw: Buffer.from('{"name":"caf\u00c3\u00a9"}', 'latin1'), headers: { 'content-type': 'application/json; charset=iso-8859-1' }, status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', field: 'header.content-type', message: /iso-8859-1/ },
  { name: 'body declared utf-16', method: 'POST', path: '/sessions', raw: '{}', headers: { 'content-type': 'application/json;charset="UTF-16"' }, status: 415, field: 'header.content-type' },
  { name: 'knee without series', method: 'GET', path: '/rd/knee', status: 400, field: 'query.series' },
  // invalid ids and path tricks
  { name: 'id with a space', method: 'GET', path: '/traces/a%20b', status: 400, field: 'params.id' },
  { name: 'id starting with a dot', method: 'GET', path: '/sessions/.hidden', status: 400, field: 'params.id' },
  { name: 'encoded slash', method: 'GET', path: '/traces/a%2Fb', status: 400, field: 'params.id' },
  { name: 'encoded traversal', method: 'GET', path: '/traces/..%2F..%2Fetc%2Fpasswd', status: 400, field: 'params.id' },
  { name: 'encoded dot-dot', method: 'GET', path: '/traces/%2e%2e', status: 400, field: 'params.id' },
  { name: 'literal traversal', method: 'GET', path: '/sessions/../traces/{T}', status: 404 },
  { name: 'NUL in id', method: 'GET', path: '/traces/a%00b', status: 400, field: 'params.id' },
  { name: 'bad percent escape', method: 'GET', path: '/traces/%E0%A4%A', status: 400 },
  { name: 'id of 129 characters', method: 'GET', path: `/traces/${'a'.repeat(129)}`, status: 400, field: 'params.id' },
  { name: 'unicode id', method: 'POST', path: '/sessions/%C3%A9t%C3%A9/close', status: 400, field: 'params.id' },
  { name: 'unknown route', method: 'GET', path: '/admin', status: 404, code: 'LIMIT_NOT_FOUND' },
  { name: 'method the path does not take', method: 'DELETE', path: '/sessions/{S}', status: 405, code: 'LIMIT_METHOD_NOT_ALLOWED' },
  // bad JSON and hostile JSON
  { name: 'truncated JSON', method: 'POST', path: '/sessions', raw: '{"name": ', headers: { 'content-type': 'application/json' }, status: 400, code: 'LIMIT_VALIDATION' },
  { name: 'not JSON at all', method: 'POST', path: '/traces', raw: 'sessionId=x', headers: { 'content-type': 'application/json' }, status: 400 },
  { name: 'empty JSON body', method: 'POST', path: '/traces', raw: '', headers: { 'content-type': 'application/json' }, status: 400 },
  { name: 'no body at all', method: 'POST', path: '/traces', status: 400, field: 'body' },
  { name: '__proto__ key', method: 'POST', path: '/sessions', raw: '{"__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' }, status: 400 },
  { name: 'constructor.prototype', method: 'POST', path: '/sessions', raw: '{"metadata":{"constructor":{"prototype":{"x":1}}}}', headers: { 'content-type': 'application/json' }, status: 400 },
  { name: 'nesting 200 deep', method: 'POST', path: '/sessions', body: { metadata: deep(200) }, status: 400 },
  { name: 'NUL character in a string', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task: { input: 'a\u0000b' }, output }, status: 400, field: 'body.task.input' },
  { name: 'lone surrogate', method: 'POST', path: '/traces', raw: '{"sessionId":"{S}","runner":"x","task":{"input":"\\ud800"},"output":{"ok":true,"stdout":"","stderr":""}}', headers: { 'content-type': 'application/json' }, status: 400, field: 'body.task.input' },
  // sizes and media types
  { name: 'body over 1 MiB', method: 'POST', path: '/traces', body: { sessionId: '{S}', runner: 'x', task: { input: 'x'.repeat(1_100_000) }, output }, status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE' },
  { name: 'text/plain', method: 'POST', path: '/sessions', raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form encoded', method: 'POST', path: '/traces', raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
  { name: 'multipart', method: 'POST', path: '/sessions', raw: '--x\r\n\r\n--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415 },
  { name: 'body without content type', method: 'POST', path: '/sessions', raw: '{"name":"x"}', status: 415 },
];

describe.each(['sqlite', 'postgres'] as Backend[])('malformed requests over %s', (backend) => {
  let s: Server;
  let S: string;
  let T: string;
  beforeAll(async () => {
    s = await startServer({ backend });
    S = (await s.req('POST', '/sessions', { body: { name: 'fixture' } })).json.id;
    T = (await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task, output } })).json.trace.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const fill = (v: string) => v.replaceAll('{S}', S).replaceAll('{T}', T);
    const headers: Record<string, string> = { authorization: `Bearer ${KEYS.A}`, ...c.headers };
    let body: string | Buffer | undefined;
    if (c.raw !== undefined) body = typeof c.raw === 'string' ? fill(c.raw) : c.raw;
    else if (c.body !== undefined) {
      body = fill(JSON.stringify(c.body));
      headers['content-type'] ??= 'application/json';
    }
    const before = await snapshot(s.storage, 'tenant-a');
    const res: Res = await rawRequest(s.url, c.method, fill(c.path), headers, body);
    expect(res.status, res.text.slice(0, 500)).toBe(c.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ status: c.status, type: expect.any(String), title: expect.any(String), detail: expect.any(String), instance: expect.any(String) });
    expect(res.json.requestId).toBe(res.headers.get('x-request-id'));
    // Every problem says what to do: the error's own fix, else the catalogue's for its code.
    expect(res.json.fix, 'fix').toMatch(/\S/);
    if (c.code) expect(res.json.code).toBe(c.code);
    if (c.field) expect(res.json.errors.map((e: { path: string }) => e.path)).toContain(c.field);
    if (c.message) expect(res.json.errors.find((e: { path: string }) => e.path === c.field)?.message).toMatch(c.message);
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    // The server is still fine afterwards.
    expect((await s.req('GET', `/traces/${T}`)).status).toBe(200);
  });
});
