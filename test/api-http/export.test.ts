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

  it('a trace id given twice is refused (400 LIMIT_VALIDATION) at the repetition, naming the id and where it was first', async () => {
    const res = await s.req('POST', '/artifacts/export', { body: { traceIds: [T, T2, T], format: 'json' } });
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ code: 'LIMIT_VALIDATION', errors: [{ path: 'body.traceIds.2', message: `"${T}" repeats traceIds.0; list each id once` }] });
    const once = await s.req('POST', '/artifacts/export', { body: { traceIds: [T, T2], format: 'json' } });
    expect(once.status, once.text).toBe(200);
    expect(once.json.manifest).toMatchObject({ traceIds: [T, T2], provenance: { verified: true } });
  });
});
