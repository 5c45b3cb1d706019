/**
 * The rate model lives under `rate:*`, not `rd:*`: the services that pick a distortion algorithm by
 * name (the orchestrator's RD series, the HTTP API) must neither list nor accept it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLimitError } from 'limit-graph';
import { startServer, type Server } from '../api-http/harness.ts';

const path3 = (f: number[]) => ({
  nodes: f.map((x, i) => ({ id: `n${i}`, features: [x] })),
  edges: f.slice(1).map((_, i) => ({ source: `n${i}`, target: `n${i + 1}` })),
});

describe('rate:shannon beside rd:fgw in the full stack', () => {
  let s: Server;
  let sessionId: string;
  beforeAll(async () => {
    s = await startServer({ plugins: { 'rd-fgw': true, 'rd-rate': true, 'knee-kneedle': true } });
    sessionId = (await s.req('POST', '/sessions', { body: { name: 'rate-key' } })).json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('the HTTP API offers only distortion measures as algorithms', async () => {
    const res = await s.req('POST', '/rd/distortion', { body: { source: path3([0, 1]), target: path3([0, 2]), algorithm: 'rate' } });
    expect(res.status, res.text).toBe(422);
    expect(res.json.errors[0].path).toBe('body.algorithm');
    expect(res.json.detail).toMatch(/Unknown distortion algorithm "rate"; available: fgw$/);
    const series = await s.req('POST', '/rd/series', { body: { sessionId, name: 'x', reference: path3([0, 1]), distortionAlgorithm: 'rate' } });
    expect(series.status, series.text).toBe(422);
    expect(series.json.errors[0].path).toBe('body.distortionAlgorithm');
  });

  it('the orchestrator refuses a rate model as the distortion of an RD series', async () => {
    let error: unknown;
    try {
      await s.rt.resolve('orchestrator').createRdSeries({ sessionId, tenant: 'tenant-a', name: 'x', reference: path3([0, 1]), distortionAlgorithm: 'rate' });
    } catch (e) {
      error = e;
    }
    expect(isLimitError(error, 'LIMIT_SERVICE_NOT_FOUND')).toBe(true);
    // The rate model itself is there, under its own key.
    expect(s.rt.keys('rate:')).toEqual(['rate:shannon']);
    expect(s.rt.resolve('rate:shannon').gaussianRate(0.25, { variance: 1 })).toBe(1);
  });
});
