/**
 * Large records within the documented limits: a listing of 1 MB traces at the largest `limit`, and
 * what such data costs the server. Each answer is bounded, never a 500 after gigabytes of work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_BYTES } from 'limit-graph';
import { makeTrace } from 'limit-graph/testing';
import { startServer, type Server } from './harness.ts';

const MB_INPUT = 'x'.repeat(999_000);

describe('api-http: large records', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
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
});
