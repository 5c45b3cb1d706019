/**
 * POST /governance/flag on a trace that holds MAX_FLAGS_PER_TRACE flags: 413 problem+json
 * (LIMIT_PAYLOAD_TOO_LARGE) naming the trace and the limit, and nothing written. Real server,
 * governance and SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FLAGS_PER_TRACE, type BatchOp } from 'limit-graph';
import { snapshot, startServer, type Server } from './harness.ts';

describe('POST /governance/flag past the flags a trace holds', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers 413 problem+json naming the trace and the limit, and writes nothing', async () => {
    const session = await s.req('POST', '/sessions', { body: { name: 'flags' } });
    const created = await s.req('POST', '/traces', { body: { sessionId: session.json.id, runner: 'ext', task: { input: 'say hi' }, output: { ok: true, stdout: 'hi', stderr: '' } } });
    expect(created.status).toBe(201);
    const traceId: string = created.json.trace.id;
    // Room for one more flag: the last one over HTTP fits, the next does not.
    const ops: BatchOp[] = Array.from({ length: MAX_FLAGS_PER_TRACE - 1 }, (_, i) => ({ op: 'addFlag', flag: {
      id: `bulk-${i}`, traceId, kind: 'Anomaly', severity: 1, reason: 'bulk', ruleId: 'test.bulk', evidence: [], autoDetected: true, at: new Date().toISOString(),
    } }));
    await s.storage.batch('tenant-a', ops);
    const last = await s.req('POST', '/governance/flag', { body: { traceId, kind: 'Anomaly', severity: 2, reason: 'the last one that fits' } });
    expect(last.status).toBe(201);

    const before = await snapshot(s.storage, 'tenant-a');
    const res = await s.req('POST', '/governance/flag', { body: { traceId, kind: 'Anomaly', severity: 2, reason: 'one too many' } });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(res.text).toContain(`Trace \\"${traceId}\\" would hold 1,001 flags`);
    expect(res.text).toContain('at most 1,000 (MAX_FLAGS_PER_TRACE)');
    expect(res.text).toContain('nothing was written');
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    const trace = await s.req('GET', `/traces/${traceId}`);
    expect(trace.json.flags).toHaveLength(MAX_FLAGS_PER_TRACE);
  });
});
