/** POST /artifacts/export: refused inputs name the request field; an export answers verified artifacts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Server } from './harness.ts';

describe('api-http: artifact export', () => {
  let s: Server;
  let S: string;
  let T: string;
  let T2: string;
  beforeAll(async () => {
    s = await startServer();
    S = (await s.req('POST', '/sessions', { body: { name: 'export' } })).json.id;
    const record = async (stdout: string) => (await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task: { input: 'i' }, output: { ok: true, stdout, stderr: '' } } })).json.trace.id as string;
    T = await record('one');
    T2 = await record('two');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('a session holding text with half a surrogate pair (stored by another client of the store) exports with U+FFFD, not a 500', async () => {
    // The API and the orchestrator refuse such text; another client of the SQLite store (or an older
    // version) may have written it: here, through storage.
    const session = (await s.req('POST', '/sessions', { body: { name: 'lone' } })).json.id as string;
    const { trace } = await s.rt.resolve('orchestrator').recordTrace({ tenant: 'tenant-a', sessionId: session, runner: 'x', task: { input: 'x' }, output: { ok: true, stdout: 'caf\ufffd', stderr: '' } });
    await s.rt.resolve('storage').updateTrace('tenant-a', trace.id, { output: { ...trace.output!, stdout: 'caf\ud83d' } });
    const res = await s.req('POST', '/artifacts/export', { body: { sessionId: session, format: 'jsonl' } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.manifest).toMatchObject({ provenance: { verified: true }, mended: [{ part: 'traces', index: 0, id: trace.id, field: 'output.stdout' }] });
    expect(res.json.files[0].content).toContain('caf\ufffd');
  });

  it('the API description lists the answers an export can give: 409 (a trace kept changing), 413 (too large)', async () => {
    const doc = await s.req('GET', '/openapi.json', { key: null });
    expect(Object.keys(doc.json.paths['/artifacts/export'].post.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409', '413']));
  });

  it('a trace id given twice is refused (400 LIMIT_VALIDATION) at the repetition, naming the id and where it was first', async () => {
    const res = await s.req('POST', '/artifacts/export', { body: { traceIds: [T, T2, T], format: 'json' } });
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ code: 'LIMIT_VALIDATION', errors: [{ path: 'body.traceIds.2', message: `"${T}" repeats traceIds.0; list each id once` }] });
    const once = await s.req('POST', '/artifacts/export', { body: { traceIds: [T, T2], format: 'json' } });
    expect(once.status, once.text).toBe(200);
    expect(once.json.manifest).toMatchObject({ traceIds: [T, T2], provenance: { verified: true } });
  });
});
