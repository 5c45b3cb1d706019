/**
 * Per-call options of the RD plugins: an unknown key or an out-of-range value is an error naming
 * the key (never silently dropped), and a CLI flag that does not apply to the chosen knee method is
 * refused rather than ignored.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from 'limit-graph';
import { KneeKneedleOptions, createKneedleService } from '../../plugins/knee-kneedle/index.ts';
import { KneeMengerOptions, createMengerService } from '../../plugins/knee-menger/index.ts';
import { RdFgwOptions, createFgwService } from '../../plugins/rd-fgw/index.ts';
import { RdRateOptions, blahutArimoto, createRateService } from '../../plugins/rd-rate/index.ts';
import { runCli } from '../helpers/cli.ts';

const points = [1, 2, 3, 4, 5, 6].map((x, i) => ({ x, y: [10, 5, 2, 1.5, 1.2, 1][i]! }));

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe('RD per-call options', () => {
  it('kneedle: an unknown key is refused naming it; an out-of-range S names S', () => {
    const kneedle = createKneedleService(KneeKneedleOptions.parse({}));
    const unknown = thrown(() => kneedle.detect(points, { sensitivity: -5 } as never));
    expect(unknown).toMatchObject({ name: 'LimitError', code: 'LIMIT_RD_INVALID_INPUT' });
    expect(unknown.message).toContain('options.sensitivity: unknown option');
    expect(unknown.message).toContain('S, curve, direction, online');
    expect(thrown(() => kneedle.detect(points, { S: -5 })).message).toContain('options.S');
    // A known option is taken, not refused: the knee of this curve (README §3) is index 2 online too.
    expect(kneedle.detect(points, { online: true })).toMatchObject({ index: 2, offlineIndex: 2 });
  });

  it('menger: an unknown key is refused naming it', () => {
    const menger = createMengerService(KneeMengerOptions.parse({}));
    const error = thrown(() => menger.detect(points, { normalise: true } as never));
    expect(error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT' });
    expect(error.message).toContain('options.normalise: unknown option');
    // A value of the wrong type names its field in details too, as every other refusal does.
    const wrong = thrown(() => menger.detect(points, { normalize: 'yes' } as never));
    expect(wrong).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: 'options.normalize: must be a boolean, got yes', details: { field: 'options.normalize' } });
  });

  it('fgw: an unknown key (a typo of alpha) is refused naming it, not run with the default alpha', () => {
    const fgw = createFgwService(RdFgwOptions.parse({}));
    const g = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const error = thrown(() => fgw.distortion(g, g, { alpa: 0.2 } as never));
    expect(error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT' });
    expect(error.message).toContain('options.alpa: unknown option');
    expect(thrown(() => fgw.distortion(g, g, { alpha: 2 })).message).toContain('options.alpha');
    expect(fgw.distortion(g, g, { alpha: 0.2 }).value).toBeCloseTo(0, 9);
  });

  it('blahutArimoto: tol must be > 0 and maxIter an integer ≥ 1', () => {
    const src = { p: [0.5, 0.5], distortion: [[0, 1], [1, 0]] };
    for (const tol of [-1, 0, Number.NaN]) expect(thrown(() => blahutArimoto(src, 1, { tol })).message).toContain('options.tol');
    for (const maxIter of [0, 1.5, Number.NaN]) expect(thrown(() => blahutArimoto(src, 1, { maxIter })).message).toContain('options.maxIter');
    expect(blahutArimoto(src, 1, { tol: 1e-9 }).converged).toBe(true);
  });
});

describe('knee-kneedle: a call overrides only the options it gives; the configured ones fill the rest', () => {
  // With S = 5 this curve has no knee; with the built-in S = 1 it has one at index 2.
  const curve = [10, 6, 3.5, 3.3, 3.1, 1.2, 0.9, 0.8, 0.75, 0.72].map((y, i) => ({ x: i + 1, y }));

  it('configured S = 5 holds under a call that gives only direction, curve or online', async () => {
    const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'knee-kneedle': { S: 5 } } } });
    try {
      const kneedle = rt.resolve('knee:kneedle');
      expect(createKneedleService(KneeKneedleOptions.parse({})).detect(curve).index).toBe(2);
      expect(kneedle.detect(curve).index).toBeNull();
      for (const call of [{}, { direction: 'decreasing' }, { curve: 'convex' }, { S: undefined }] as const) {
        expect(kneedle.detect(curve, call).index, JSON.stringify(call)).toBeNull();
      }
      expect(kneedle.detect(curve, { S: 1 }).index).toBe(2);
      expect(kneedle.detectCurve({ x: curve.map((p) => p.x), y: curve.map((p) => p.y) }, { online: false }).index).toBeNull();
    } finally {
      await rt.close();
    }
  });
});

describe('rate:shannon: a call overrides only the options it gives; an unknown key is refused', () => {
  const src = { p: [0.3, 0.7], distortion: [[0, 1], [1, 0]] };

  it('{ maxIter: undefined } and {} keep the configured maxIter (they ran to the built-in 200000)', () => {
    const rate = createRateService(RdRateOptions.parse({ maxIter: 3 }));
    for (const call of [undefined, {}, { maxIter: undefined }, { tol: undefined }]) {
      expect(rate.blahutArimoto(src, 2, call), JSON.stringify(call)).toMatchObject({ iterations: 3, converged: false });
      expect(rate.curve(src, [2], call)[0], JSON.stringify(call)).toMatchObject({ iterations: 3 });
    }
    expect(rate.blahutArimoto(src, 2, { maxIter: 1000 }).converged).toBe(true);
  });

  it('an unknown key or an options value that is not an object is LIMIT_RD_INVALID_INPUT naming it, not ignored', () => {
    const rate = createRateService(RdRateOptions.parse({}));
    const typo = thrown(() => rate.blahutArimoto(src, 2, { maxIterations: 10 } as never));
    expect(typo).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', details: { field: 'options.maxIterations' } });
    expect(typo.message).toContain('options.maxIterations: unknown option (the options are tol, maxIter, q0)');
    expect(thrown(() => rate.rateAtDistortion(src, 0.1, { tolerance: 1e-6 } as never)).message).toContain('options.tolerance: unknown option');
    expect(thrown(() => rate.curve(src, [1], 'fast' as never))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', details: { field: 'options' } });
    expect(thrown(() => rate.blahutArimoto(src, 2, { tol: 0 }))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', details: { field: 'options.tol' } });
    expect(thrown(() => rate.blahutArimoto(src, 2, { q0: 5 } as never))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', details: { field: 'options.q0' } });
    expect(rate.blahutArimoto(src, 2, { q0: [0.5, 0.5], tol: 1e-9 }).converged).toBe(true);
  });
});

describe('rd-fgw: a call overrides only the options it gives; the configured ones fill the rest', () => {
  // Configured: entropic, alpha 0.2, epsilon 0.5, adjacency. The built-in defaults (exact, 0.5,
  // 0.1, shortest_path) give another value, so a call that fell back to them would show.
  const configured = { method: 'entropic', alpha: 0.2, epsilon: 0.5, structure: 'adjacency' } as const;
  const g1 = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
  const g2 = { nodes: [{ id: 'x', features: [3] }, { id: 'y', features: [1] }, { id: 'z', features: [2] }], edges: [{ source: 'x', target: 'y' }] };

  it('through the plugin: {}, { timeLimitMs } and { signal } keep the configured options; { alpha } changes alpha only', async () => {
    const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': { ...configured, threads: false } } } });
    try {
      const fgw = rt.resolve('rd:fgw');
      const expected = createFgwService(RdFgwOptions.parse(configured)).distortion(g1, g2);
      const builtIn = createFgwService(RdFgwOptions.parse({})).distortion(g1, g2);
      expect(expected).toMatchObject({ method: 'entropic', alpha: 0.2 });
      expect(Math.abs(expected.value - builtIn.value)).toBeGreaterThan(0.1);
      expect(fgw.distortion(g1, g2).value).toBe(expected.value);
      for (const call of [{}, { timeLimitMs: 5_000 }, { timeLimitMs: undefined }]) {
        expect(fgw.distortion(g1, g2, call), JSON.stringify(call)).toMatchObject({ method: 'entropic', alpha: 0.2, value: expected.value });
      }
      const signal = new AbortController().signal;
      expect(await fgw.distortionAsync(g1, g2, { timeLimitMs: 5_000, signal })).toMatchObject({ method: 'entropic', alpha: 0.2, value: expected.value });
      // One key given: only it changes (method, epsilon and structure stay the configured ones).
      const alpha3 = createFgwService(RdFgwOptions.parse({ ...configured, alpha: 0.3 })).distortion(g1, g2);
      expect(fgw.distortion(g1, g2, { alpha: 0.3 })).toMatchObject({ method: 'entropic', alpha: 0.3, value: alpha3.value });
      expect(fgw.compute({ source: g1, target: g2 }, {}).value).toBe(fgw.compute({ source: g1, target: g2 }).value);
    } finally {
      await rt.close();
    }
  });
});

describe('limit rd knee: flags of the other method are refused', () => {
  let dir: string;
  const cli = (args: string[]) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'limit-rd-flags-'));
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      path.join(dir, 'limit.config.ts'),
      `import { defineConfig } from 'limit-graph';
       export default defineConfig({ extends: [], plugins: { 'knee-kneedle': true, 'knee-menger': true } });`,
    );
    writeFileSync(path.join(dir, 'curve.json'), JSON.stringify({ x: points.map((p) => p.x), y: points.map((p) => p.y) }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--online under menger and --normalize under kneedle are errors; each under its own method works', async () => {
    const online = await cli(['rd', 'knee', '--input', path.join(dir, 'curve.json'), '--method', 'menger', '--online', '--json']);
    expect(online.code).not.toBe(0);
    expect(online.stderr).toContain('--online applies to --method kneedle');
    const normalize = await cli(['rd', 'knee', '--input', path.join(dir, 'curve.json'), '--normalize', '--json']);
    expect(normalize.code).not.toBe(0);
    expect(normalize.stderr).toContain('--normalize applies to --method menger');
    expect((await cli(['rd', 'knee', '--input', path.join(dir, 'curve.json'), '--method', 'menger', '--normalize', '--json'])).code).toBe(0);
    expect((await cli(['rd', 'knee', '--input', path.join(dir, 'curve.json'), '--online', '--json'])).code).toBe(0);
  });

  it("menger's overflow refusal names the remedy as each caller gives it: --normalize here, the option in code", async () => {
    const close = { x: [2e-320, 0, 1e-320], y: [0, 0, 1e-320] };
    writeFileSync(path.join(dir, 'close.json'), JSON.stringify(close));
    const raw = await cli(['rd', 'knee', '--input', path.join(dir, 'close.json'), '--method', 'menger', '--json']);
    expect(raw.code).not.toBe(0);
    expect(raw.stderr).toContain('Menger curvature overflows');
    expect(raw.stderr).toContain('Pass --normalize, or scale the curve up');
    expect(raw.stderr).not.toContain('normalize: true');
    expect((await cli(['rd', 'knee', '--input', path.join(dir, 'close.json'), '--method', 'menger', '--normalize', '--json'])).code).toBe(0);
    // In code (no caller to rephrase it): the call option itself, also in details.
    const menger = createMengerService(KneeMengerOptions.parse({}));
    expect(thrown(() => menger.detectCurve(close))).toMatchObject({
      fix: expect.stringMatching(/^Pass the option normalize: true .*, or scale the curve up/),
      details: { field: 'x[2]', option: { normalize: true } },
    });
  });
});
