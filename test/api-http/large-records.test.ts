/**
 * Large records within the documented limits: a listing of 1 MB traces at the largest `limit`, and
 * what such data costs the server. Each answer is bounded, never a 500 after gigabytes of work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_BYTES, MAX_RD_POINTS, maxRdPointsBytes, type RdSeries } from 'limit-graph';
import { makeTrace } from 'limit-graph/testing';
import { snapshot, startServer, type Server } from './harness.ts';

const MB_INPUT = 'x'.repeat(999_000);

describe('api-http: large records', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ plugins: { 'knee-kneedle': true } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('GET /traces?limit=1000 over 1 MB traces answers pages of at most 16 MiB, each with the cursor of the next', async () => {
    const T0 = Date.parse('2024-05-01T00:00:00.000Z');
    for (let i = 0; i < 20; i++) await s.storage.createTrace(makeTrace('tenant-a', `big-${String(i).padStart(2, '0')}`, 'listing', T0 + i, { task: { input: MB_INPUT, kind: 'external' } }));
    const first = await s.req('GET', '/traces?sessionId=listing&limit=1000');
    expect(first.status, first.text.slice(0, 300)).toBe(200);
    expect(Buffer.byteLength(first.text)).toBeLessThanOrEqual(MAX_PAGE_BYTES + 1024);
    expect(first.json.items).toHaveLength(16);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const second = await s.req('GET', `/traces?sessionId=listing&limit=1000&cursor=${first.json.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.json.nextCursor).toBeNull();
    const ids = [...first.json.items, ...second.json.items].map((t: { id: string }) => t.id);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `big-${String(19 - i).padStart(2, '0')}`));
  });

  it('POST /rd/series/:id/points answers the point, not the series; a series full to its limits answers 413 and stores nothing, and its knee still answers', async () => {
    const sessionId = (await s.req('POST', '/sessions', { body: { name: 'rd' } })).json.id as string;
    const base = { sessionId, tenant: 'tenant-a', name: 'n', createdAt: new Date().toISOString(), metadata: {} };
    // Full by count: 10,000 points (as a client appending step by step would leave it).
    const byCount: RdSeries = { ...base, id: 'by-count', points: Array.from({ length: MAX_RD_POINTS }, (_, i) => ({ step: i, rate: i, distortion: 1 / (i + 1) })) };
    await s.storage.createRdSeries(byCount);
    for (let attempt = 0; attempt < 2; attempt++) {
      const refused = await s.req('POST', '/rd/series/by-count/points', { body: { rate: 1, distortion: 0.5 } });
      expect(refused.status, refused.text).toBe(413);
      expect(refused.json).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { seriesId: 'by-count', maxPoints: MAX_RD_POINTS } });
      expect(refused.json.detail).toContain('a series holds at most 10,000');
      expect(refused.json.fix).toMatch(/new RD series/);
    }
    expect(await s.storage.getRdSeriesSummary('tenant-a', 'by-count')).toMatchObject({ pointCount: MAX_RD_POINTS });
    const knee = await s.req('GET', '/rd/knee?series=by-count');
    expect(knee.status).toBe(200);
    expect(knee.json.points).toHaveLength(MAX_RD_POINTS);

    // Full by bytes: four points of 4 MB of meta (each under the 4 MiB record limit), then one of 800 kB.
    const blob = (n: number) => ({ blob: 'm'.repeat(n) });
    const byBytes: RdSeries = { ...base, id: 'by-bytes', points: Array.from({ length: 4 }, (_, i) => ({ step: i, rate: i, distortion: 1, meta: blob(4_000_000) })) };
    await s.storage.createRdSeries(byBytes);
    const small = await s.req('POST', '/rd/series/by-bytes/points', { body: { rate: 9, distortion: 0.5, meta: { note: 'fits' } } });
    expect(small.status, small.text).toBe(201);
    expect(small.json).toMatchObject({ seriesId: 'by-bytes', point: { step: 4, rate: 9, distortion: 0.5, meta: { note: 'fits' } }, pointCount: 5 });
    expect(small.text.length).toBeLessThan(500);
    const big = await s.req('POST', '/rd/series/by-bytes/points', { body: { rate: 10, distortion: 0.25, meta: blob(800_000) } });
    expect(big.status, big.text.slice(0, 300)).toBe(413);
    expect(big.json.details).toMatchObject({ seriesId: 'by-bytes', maxBytes: maxRdPointsBytes() });
    expect(await s.storage.getRdSeriesSummary('tenant-a', 'by-bytes')).toMatchObject({ pointCount: 5, pointBytes: small.json.pointBytes });
    const kneeOfBig = await s.req('GET', '/rd/knee?series=by-bytes');
    expect(kneeOfBig.status).toBe(200);
    expect(kneeOfBig.json.points).toHaveLength(5);
  });
});

describe('api-http: a provenance entry larger than the backend keeps', () => {
  it('POST /traces/:id/provenance answers 413 naming body.data (the largest field) in errors[], and stores nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-api-big-entry-'));
    const s = await startServer({ plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db'), maxRecordBytes: 4096 }, 'runner-python': {} } });
    try {
      const sessionId = (await s.req('POST', '/sessions', { body: { name: 'big' } })).json.id as string;
      const id = (await s.req('POST', '/traces', { body: { sessionId, runner: 'agent', task: { input: 'hi' }, output: { ok: true, stdout: 'ok', stderr: '' } } })).json.trace.id as string;
      const before = await snapshot(s.storage, 'tenant-a');
      const res = await s.req('POST', `/traces/${id}/provenance`, { body: { action: 'noted', rationale: 'short', data: 'x'.repeat(10_000) } });
      expect(res.status, res.text).toBe(413);
      expect(res.json).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { largestField: 'data', maxBytes: 4096 } });
      expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['body.data']);
      expect(res.json.detail).toMatch(/^The provenance entry is \d+ bytes as JSON; the limit is 4096 bytes \(its largest field, data, is 10002 bytes\)$/);
      expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('api-http: a recorded trace larger than the backend keeps', () => {
  it('POST /traces answers 413 LIMIT_PAYLOAD_TOO_LARGE naming the field sizes and the limit, and stores nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-api-big-trace-'));
    const s = await startServer({ plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db'), maxRecordBytes: 4096 }, 'runner-python': {} } });
    try {
      const sessionId = (await s.req('POST', '/sessions', { body: { name: 'big' } })).json.id as string;
      const before = await snapshot(s.storage, 'tenant-a');
      const res = await s.req('POST', '/traces', { body: { sessionId, runner: 'agent', task: { input: 'hi' }, output: { ok: true, stdout: 'x'.repeat(10_000), stderr: '' } } });
      expect(res.status, res.text).toBe(413);
      expect(res.json).toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { field: 'output.stdout', maxBytes: 4096, sizes: { 'output.stdout': 10_000 } } });
      expect(res.json.detail).toMatch(/^The recorded trace is \d+ bytes as JSON; the storage backend \(sqlite\) keeps at most 4096 bytes a trace \(maxRecordBytes\): task\.input 2, output\.stdout 10000, output\.stderr 0 characters/);
      expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
