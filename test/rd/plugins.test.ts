/**
 * The RD plugins assembled by the kernel: loaded by name from config, options validated by their
 * schemas, services resolved from the container under their keys.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, isLimitError, type Runtime } from 'limit-graph';
import rdFgw from '../../plugins/rd-fgw/index.ts';
import { computeFgw } from '../../plugins/rd-fgw/api.ts';
import kneeKneedle from '../../plugins/knee-kneedle/index.ts';
import rdRate from '../../plugins/rd-rate/index.ts';

const path = (f: number[]) => ({
  nodes: f.map((x, i) => ({ id: `n${i}`, features: [x] })),
  edges: f.slice(1).map((_, i) => ({ source: `n${i}`, target: `n${i + 1}` })),
});

const ELBOW = [
  { x: 1, y: 10 },
  { x: 2, y: 6 },
  { x: 3, y: 2 },
  { x: 4, y: 1.8 },
  { x: 5, y: 1.6 },
  { x: 6, y: 1.5 },
  { x: 7, y: 1.45 },
];

describe('RD plugins in a runtime', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('loads all four by name and resolves their services', async () => {
    rt = await createRuntime({
      config: { logLevel: 'silent', plugins: { 'rd-fgw': { alpha: 0.25 }, 'rd-rate': true, 'knee-menger': { normalize: true }, 'knee-kneedle': true } },
    });
    const fgw = rt.resolve('rd:fgw');
    expect(fgw.name).toBe('fgw');
    expect(fgw.defaults.alpha).toBe(0.25);
    const a = path([0, 1, 2, 4]);
    const b = path([0, 1.5, 2, 3, 5]);
    const res = fgw.distortion(a, b);
    const direct = computeFgw({ source: a, target: b }, { alpha: 0.25 });
    expect(res.value).toBe(direct.value);
    expect(res.iterations).toBe(direct.iterations);
    expect(res.converged).toBe(true);
    expect(res.plan.reduce((s, [, , m]) => s + m, 0)).toBeCloseTo(1, 12);
    expect(fgw.distortion(a, a).value).toBeCloseTo(0, 12);
    // Per-call options override the plugin's.
    const ent = fgw.distortion(a, b, { method: 'entropic', epsilon: 0.05, alpha: 0.5 });
    expect(ent.method).toBe('entropic');
    expect(ent.alpha).toBe(0.5);
    expect(Number.isFinite(ent.value)).toBe(true);
    expect(() => fgw.distortion(a, b, { alpha: 3 })).toThrow(/^options\.alpha/);
    expect(fgw.compute({ M: [[1]], C1: [[0]], C2: [[0]] }).value).toBe(0.75);

    const rate = rt.resolve('rate:shannon');
    expect(rate.name).toBe('shannon');
    expect(rate.defaults).toEqual({ ddof: 0, tol: 1e-13, maxIter: 200_000, unit: 'tokens' });
    expect(rate.gaussianRate(0.25, { variance: 1 })).toBe(1);
    // σ² of [1, −1, 1, −1] is 1 with ddof 0 (the default) and 4/3 with ddof 1.
    expect(rate.variance([1, -1, 1, -1]).variance).toBe(1);
    expect(rate.gaussianRate(0.5, { samples: [1, -1, 1, -1] })).toBe(0.5);
    expect(rate.gaussianRate(0.5, { samples: [1, -1, 1, -1], ddof: 1 })).toBeCloseTo(0.5 * Math.log2(8 / 3), 14);
    expect(rate.gaussianDistortion(2, { variance: 1 })).toBe(0.0625);
    const bsc = { p: [0.5, 0.5], distortion: [[0, 1], [1, 0]] };
    expect(Math.abs(rate.rateAtDistortion(bsc, 0).R - 1)).toBeLessThan(1e-9);
    const curve = rate.curve(bsc, [1, 3]);
    expect(curve.map((pt) => pt.beta)).toEqual([1, 3]);
    expect(curve[1]!.R).toBeGreaterThan(curve[0]!.R);
    expect(rate.blahutArimoto(bsc, 3)).toEqual(curve[1]);
    expect(rate.operational(42)).toEqual({ value: 42, unit: 'tokens' });
    // A rate model is not a distortion measure: nothing under rd:* for it, and no distortion().
    expect('distortion' in rate).toBe(false);

    const menger = rt.resolve('knee:menger');
    const kneedle = rt.resolve('knee:kneedle');
    expect(menger.defaults.normalize).toBe(true);
    expect(menger.detect(ELBOW).index).toBe(2);
    expect(menger.detect(ELBOW, { normalize: false }).index).toBe(2);
    expect(kneedle.detect(ELBOW).index).toBe(2);
    expect(kneedle.detect([...ELBOW].reverse()).index).toBe(4);
    expect(kneedle.detect(ELBOW.slice(0, 2)).index).toBeNull();
    expect(rt.plugins.map((p) => p.name)).toEqual(expect.arrayContaining(['rd-fgw', 'rd-rate', 'knee-menger', 'knee-kneedle']));
    expect(rt.keys('rd:')).toEqual(['rd:fgw']);
    expect(rt.keys('rate:')).toEqual(['rate:shannon']);
    let missing: unknown;
    try {
      rt.resolve('rd:rate');
    } catch (error) {
      missing = error;
    }
    expect(isLimitError(missing, 'LIMIT_SERVICE_NOT_FOUND')).toBe(true);
    expect(rt.keys('knee:').sort()).toEqual(['knee:kneedle', 'knee:menger']);
  });

  it('accepts configured plugin objects from the factories', async () => {
    rt = await createRuntime({ config: { logLevel: 'silent' }, plugins: [rdFgw({ method: 'entropic', epsilon: 0.2 }), rdRate({ ddof: 1, unit: 'bytes' }), kneeKneedle({ online: true })] });
    expect(rt.resolve('rd:fgw').defaults).toMatchObject({ method: 'entropic', epsilon: 0.2 });
    const rate = rt.resolve('rate:shannon');
    expect(rate.defaults).toMatchObject({ ddof: 1, unit: 'bytes' });
    expect(rate.variance([1, -1, 1, -1]).variance).toBeCloseTo(4 / 3, 15);
    expect(rate.operational(7)).toEqual({ value: 7, unit: 'bytes' });
    expect(rt.resolve('knee:kneedle').defaults.online).toBe(true);
  });

  it('reports invalid options through the kernel, naming plugin and field', async () => {
    await expect(createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': { alpha: 2 } } } })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_OPTIONS_INVALID',
      message: expect.stringContaining('plugins.rd-fgw.alpha'),
    });
    await expect(createRuntime({ config: { logLevel: 'silent', plugins: { 'knee-kneedle': { curve: 'wavy' as 'convex' } } } })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_OPTIONS_INVALID',
    });
  });

  it('solver errors are LimitErrors with the plugin named', async () => {
    rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': true } } });
    let error: unknown;
    try {
      rt.resolve('rd:fgw').distortion({ nodes: [], edges: [] }, path([1]));
    } catch (e) {
      error = e;
    }
    expect(isLimitError(error, 'LIMIT_RD_INVALID_INPUT')).toBe(true);
    expect(error).toMatchObject({ plugin: 'rd-fgw', message: 'source.nodes: the graph is empty (0 nodes)' });
  });
});
