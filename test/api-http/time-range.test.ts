/**
 * GET /traces with `from` after `to`: a 400 naming both fields, not a page that is empty because no
 * instant can be in the range. The rule is the kernel's (refuseReversedTimeRange), shared by the
 * route's query schema and every storage's trace query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Server } from './harness.ts';

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.close();
});

describe('GET /traces time range', () => {
  it('refuses from after to with a 400 naming query.from and query.to', async () => {
    const res = await s.req('GET', '/traces?from=2024-03-02T00:00:00.000Z&to=2024-03-01T00:00:00.000Z');
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({
      code: 'LIMIT_VALIDATION',
      errors: [
        { path: 'query.from', message: expect.stringMatching(/after `to`/) },
        { path: 'query.to', message: expect.stringMatching(/before `from`/) },
      ],
    });
    // Compared as instants, not as text: 00:30Z is after 01:00+02:00 (23:00Z the day before), though
    // it sorts before it as a string.
    const offset = await s.req('GET', `/traces?from=2024-03-01T00:30:00.000Z&to=${encodeURIComponent('2024-03-01T01:00:00.000+02:00')}`);
    expect(offset.status, offset.text).toBe(400);
    // Refused as out of order, not as an unreadable timestamp: the offset was read.
    expect(offset.json).toMatchObject({
      code: 'LIMIT_VALIDATION',
      errors: [
        { path: 'query.from', message: expect.stringMatching(/after `to`/) },
        { path: 'query.to', message: expect.stringMatching(/before `from`/) },
      ],
    });
    expect(offset.json.errors).toHaveLength(2);
  });

  it('accepts a range in order, and an empty window (from = to)', async () => {
    expect((await s.req('GET', '/traces?from=2024-03-01T00:00:00.000Z&to=2024-03-02T00:00:00.000Z')).status).toBe(200);
    // In order as instants (23:00Z the day before, then 00:30Z) though not as text.
    const offset = await s.req('GET', `/traces?from=${encodeURIComponent('2024-03-01T01:00:00.000+02:00')}&to=2024-03-01T00:30:00.000Z`);
    expect(offset.status, offset.text).toBe(200);
    expect(offset.json.items).toEqual([]);
    const empty = await s.req('GET', `/traces?from=2024-03-01T00:00:00.000Z&to=${encodeURIComponent('2024-03-01T02:00:00.000+02:00')}`);
    expect(empty.status, empty.text).toBe(200);
    expect(empty.json.items).toEqual([]);
  });
});
