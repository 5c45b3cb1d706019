/**
 * POST /traces/:id/provenance past what a client may append to a trace's chain (a client's share of
 * the provenance limits, ProvenanceOrigin `client`: 2 × maxRecordBytes, 8,000 entries): 413
 * problem+json (LIMIT_PAYLOAD_TOO_LARGE) naming the trace and the limit — body.data past the bytes,
 * params.id past the entries — and nothing written. The room kept above it stays usable for governance decisions and the server's own
 * entries, and the chain stays readable and exportable. Real server, governance and SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_RECORD_BYTES, provenanceLimits, type BatchOp } from 'limit-graph';
import { KEYS, snapshot, startServer, type Server } from './harness.ts';

describe("POST /traces/:id/provenance past a client's share of the chain", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers 413 problem+json naming body.data, the trace and the limit, writes nothing, and leaves room for decisions', async () => {
    const session = await s.req('POST', '/sessions', { body: { name: 'notes' } });
    const created = await s.req('POST', '/traces', { body: { sessionId: session.json.id, runner: 'ext', task: { input: 'say hi' }, output: { ok: true, stdout: 'hi', stderr: '' } } });
    expect(created.status).toBe(201);
    const traceId: string = created.json.trace.id;
    const clientMax = provenanceLimits('client', DEFAULT_MAX_RECORD_BYTES).maxBytes;
    // Nearly a client's share already held (as the server's own entries: they count all the same).
    const big = (i: number): BatchOp => ({ op: 'appendProvenance', input: { traceId, at: new Date().toISOString(), actor: 'system', action: `bulk-${i}`, data: 'x'.repeat(Math.floor(clientMax / 2) - 300_000) } });
    await s.storage.batch('tenant-a', [big(0), big(1)]);
    const note = { action: 'noted', data: 'y'.repeat(1_000_000) };

    const before = await snapshot(s.storage, 'tenant-a');
    const res = await s.req('POST', `/traces/${traceId}/provenance`, { body: note });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.data']);
    expect(res.json.detail).toContain(`The provenance of trace "${traceId}" would be`);
    expect(res.json.detail).toContain(`its chain holds at most ${clientMax.toLocaleString('en-US')} for a client's entries`);
    expect(res.json.detail).toContain('nothing was written');
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    // A smaller note still fits.
    expect((await s.req('POST', `/traces/${traceId}/provenance`, { body: { action: 'noted', data: 'small' } })).status).toBe(201);

    // Governance decisions and the server's own entries use the room kept above a client's share.
    expect((await s.req('POST', `/traces/${traceId}/quarantine`, { body: { reason: 'looks odd' } })).status).toBeLessThan(300);
    expect((await s.req('POST', `/traces/${traceId}/release`, { body: { reason: 'fine after all' }, key: KEYS.A2 })).status).toBeLessThan(300);
    const flag = await s.req('POST', '/governance/flag', { body: { traceId, kind: 'Anomaly', severity: 2, reason: 'noted by hand' } });
    expect(flag.status).toBe(201);
    await s.storage.appendProvenance('tenant-a', { traceId, at: new Date().toISOString(), actor: 'system', action: 'system-note', data: 'z'.repeat(1_000_000) });

    // The chain stays readable, verifies, and exports.
    const chain = await s.req('GET', `/traces/${traceId}/provenance`);
    expect(chain.status).toBe(200);
    expect(chain.json).toMatchObject({ verified: true });
    expect(chain.json.entries.map((e: { action: string }) => e.action)).toEqual(['created', 'completed', 'bulk-0', 'bulk-1', 'noted', 'quarantined', 'released', 'flagged', 'system-note']);
    const exported = await s.req('POST', '/artifacts/export', { body: { traceIds: [traceId] } });
    expect(exported.status).toBe(200);
  });

  it("answers a note past a client's share of entries 413 naming the trace (params.id), not body.data, and says the trace is what is full", async () => {
    const session = await s.req('POST', '/sessions', { body: { name: 'many notes' } });
    const created = await s.req('POST', '/traces', { body: { sessionId: session.json.id, runner: 'ext', task: { input: 'say hi' }, output: { ok: true, stdout: 'hi', stderr: '' } } });
    const traceId: string = created.json.trace.id;
    const { maxEntries } = provenanceLimits('client');
    const held = (await s.storage.listProvenance('tenant-a', traceId)).length;
    for (let i = held; i < maxEntries; i += 500) {
      const ops: BatchOp[] = Array.from({ length: Math.min(500, maxEntries - i) }, (_, j) => ({ op: 'appendProvenance', input: { traceId, at: new Date().toISOString(), actor: 'api', action: 'noted', data: { i: i + j } }, origin: 'client' }));
      await s.storage.batch('tenant-a', ops);
    }
    const res = await s.req('POST', `/traces/${traceId}/provenance`, { body: { action: 'noted' } });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['params.id']);
    expect(res.json.detail).toContain(`Trace "${traceId}" would hold ${(maxEntries + 1).toLocaleString('en-US')} provenance entries with this entry; its chain holds at most ${maxEntries.toLocaleString('en-US')} for a client's entries`);
    expect(JSON.stringify(res.json)).not.toContain('keep large data out');
    expect((await s.storage.listProvenance('tenant-a', traceId)).length).toBe(maxEntries);
  });

  it("answers a person's quarantine past a decision's share 413 naming the trace, while the pipeline's own quarantine still fits", async () => {
    const session = await s.req('POST', '/sessions', { body: { name: 'decisions' } });
    const created = await s.req('POST', '/traces', { body: { sessionId: session.json.id, runner: 'ext', task: { input: 'say hi' }, output: { ok: true, stdout: 'hi', stderr: '' } } });
    const traceId: string = created.json.trace.id;
    const max = DEFAULT_MAX_RECORD_BYTES;
    expect(provenanceLimits('decision', max).maxBytes).toBe(3 * max);
    // Three entries of nearly a record each: a decision's three quarters of the bytes are held.
    const big = (i: number): BatchOp => ({ op: 'appendProvenance', input: { traceId, at: new Date().toISOString(), actor: 'system', action: `bulk-${i}`, data: 'x'.repeat(max - 400) } });
    await s.storage.batch('tenant-a', [big(0), big(1), big(2)]);
    const reason = 'r'.repeat(2000);

    const before = await snapshot(s.storage, 'tenant-a');
    const res = await s.req('POST', `/traces/${traceId}/quarantine`, { body: { reason } });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE' });
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['params.id']);
    expect(res.json.detail).toContain(`for governance decisions (the rest is kept for the server's own entries)`);
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    expect((await s.req('GET', `/traces/${traceId}`)).json.status).toBe('ok');
    // The run pipeline quarantines with origin `system` (orchestrator): the room kept for it holds it.
    await s.rt.resolve('governance').quarantine('tenant-a', traceId, { reason, actor: 'pipeline', origin: 'system' });
    expect((await s.req('GET', `/traces/${traceId}`)).json.status).toBe('quarantined');
    expect((await s.req('GET', `/traces/${traceId}/provenance`)).json).toMatchObject({ verified: true });
  });
});
