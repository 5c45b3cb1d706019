/**
 * The kernel's RD tooling (`limit-graph`: sortCurve, readCurve, renderRdCurveSvg,
 * registerKneeCommands) as the knee plugins use it: one `rd knee` / `rd plot` however many knee
 * plugins register, in whichever order, next to rd-fgw's `rd fgw` in one shared `rd` group.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, detectKnee, isLimitError, isStraightLine, minMax, readCurve, registerKneeCommands, renderRdCurveSvg, sortCurve, type CommandRegistry, type Plugin, type Runtime } from 'limit-graph';
import kneeKneedle from '../../plugins/knee-kneedle/index.ts';
import kneeMenger from '../../plugins/knee-menger/index.ts';
import rdFgw from '../../plugins/rd-fgw/index.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-rd-tools-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, value: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

/** A CLI program as `limit` builds it: every plugin's cliCommands tap, then the arguments. */
async function cli(plugins: Plugin[]): Promise<{ program: Command; rt: Runtime; run(args: string[]): Promise<unknown[]> }> {
  const rt = await createRuntime({ config: { plugins: {}, logLevel: 'silent' }, plugins });
  const program = new Command('limit').exitOverride();
  const printed: unknown[] = [];
  const registry: CommandRegistry = { program, runtime: async () => rt, printJson: (v) => void printed.push(v), print: (t) => void printed.push(t), printStderr: () => {}, signal: new AbortController().signal, untilStopped: () => new Promise(() => {}) };
  rt.hooks.cliCommands.call(registry);
  return {
    program,
    rt,
    run: async (args) => {
      printed.length = 0;
      await program.parseAsync(['node', 'limit', ...args]);
      return [...printed];
    },
  };
}

const names = (c: Command) => c.commands.map((x) => x.name());

describe('registerKneeCommands', () => {
  it('one rd group and one knee/plot command, whichever plugin registers first', async () => {
    for (const order of [
      [kneeMenger(), rdFgw(), kneeKneedle()],
      [rdFgw(), kneeKneedle(), kneeMenger()],
      [kneeKneedle(), kneeMenger(), rdFgw()],
    ]) {
      const { program, rt } = await cli(order as Plugin[]);
      expect(names(program).filter((n) => n === 'rd')).toHaveLength(1);
      const rd = program.commands.find((c) => c.name() === 'rd')!;
      expect(names(rd).sort()).toEqual(['fgw', 'knee', 'plot']);
      await rt.close();
    }
  });

  it('registering again on the same program adds nothing', () => {
    const program = new Command('limit');
    const registry: CommandRegistry = { program, runtime: () => Promise.reject(new Error('not booted')), printJson: () => {}, print: () => {}, printStderr: () => {}, signal: new AbortController().signal, untilStopped: () => new Promise(() => {}) };
    registerKneeCommands(registry);
    registerKneeCommands(registry, { method: 'x', callOptions: () => ({}) });
    expect(names(program)).toEqual(['rd']);
    expect(names(program.commands[0]!)).toEqual(['knee', 'plot']);
  });

  it("--method dispatches to knee:<method> with that detector's own flags", async () => {
    // x spans 0..100, y 0..1: raw and normalised Menger curvature pick different points.
    const curve = file('scaled.json', { x: [0, 10, 20, 60, 100], y: [1, 0.4, 0.2, 0.1, 0.05] });
    const { rt, run } = await cli([kneeMenger(), kneeKneedle()]);
    const raw = (await run(['rd', 'knee', '--input', curve, '--method', 'menger', '--json']))[0] as { index: number; method: string };
    const norm = (await run(['rd', 'knee', '--input', curve, '--method', 'menger', '--normalize', '--json']))[0] as { index: number; method: string };
    const direct = rt.resolve('knee:menger');
    expect(raw).toMatchObject({ method: 'menger', index: direct.detect([0, 10, 20, 60, 100].map((x, i) => ({ x, y: [1, 0.4, 0.2, 0.1, 0.05][i]! }))).index });
    expect(norm.index).toBe(direct.detect([0, 10, 20, 60, 100].map((x, i) => ({ x, y: [1, 0.4, 0.2, 0.1, 0.05][i]! })), { normalize: true }).index);
    expect(raw.index).not.toBe(norm.index);
    // Default: kneedle when loaded; a shape hint in the file reaches its option check.
    expect(((await run(['rd', 'knee', '--input', curve, '--json']))[0] as { method: string }).method).toBe('kneedle');
    const wavy = file('wavy.json', { x: [0, 1, 2, 3], y: [3, 1, 0.5, 0.4], curve: 'wavy' });
    // Named as the file has it, not as the call option it becomes ('options.curve: …').
    await expect(run(['rd', 'knee', '--input', wavy, '--json'])).rejects.toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', plugin: 'knee-kneedle', message: `${wavy} › curve: must be 'convex' or 'concave' (the curve's shape for kneedle), got 'wavy'`, details: { file: wavy, field: 'curve' } });
    const sideways = file('sideways.json', { x: [0, 1, 2, 3], y: [3, 1, 0.5, 0.4], direction: 'up' });
    await expect(run(['rd', 'knee', '--input', sideways, '--json'])).rejects.toMatchObject({ message: `${sideways} › direction: must be 'decreasing' or 'increasing' (the curve's shape for kneedle), got 'up'`, details: { file: sideways, field: 'direction' } });
    await expect(run(['rd', 'knee', '--input', curve, '--method', 'elbow', '--json'])).rejects.toMatchObject({ code: 'LIMIT_SERVICE_NOT_FOUND' });
    await rt.close();
  });

  it('plot writes the SVG with the knee the detector found', async () => {
    const distortion = [10, 3, 1.2, 1.1, 1];
    const series = file('series.json', { name: 'refine', points: distortion.map((d, step) => ({ step, rate: step + 1, distortion: d })) });
    const out = path.join(dir, 'sub', 'curve.svg');
    const { rt, run } = await cli([kneeMenger()]);
    const [doc] = await run(['rd', 'plot', '--input', series, '--out', out, '--json']);
    const expected = rt.resolve('knee:menger').detect(distortion.map((y, i) => ({ x: i + 1, y }))).index!;
    // Raw Menger curvature of (1, 10), (2, 3), (3, 1.2), (4, 1.1), (5, 1) is largest at step 2 (rate 3),
    // by the definition in shared/reference/rd/README.md §3, computed independently.
    expect(expected).toBe(2);
    expect(doc).toEqual({ out, method: 'menger', index: expected });
    const svg = readFileSync(out, 'utf8');
    expect(svg).toContain('<title>');
    expect(svg).toContain(`knee: rate ${expected + 1}, distortion ${distortion[expected]}`);
    expect(svg).toContain('>refine</text>');
    await rt.close();
  });
});

describe('curve input', () => {
  it('readCurve: the three accepted shapes, and clear errors', async () => {
    expect(await readCurve(file('xy.json', { id: 'c1', x: [1, 2], y: [3, 4], direction: 'increasing' }))).toEqual({ x: [1, 2], y: [3, 4], name: 'c1', direction: 'increasing' });
    expect(await readCurve(file('pts.json', [{ rate: 1, distortion: 2 }, { x: 3, y: 4 }]))).toEqual({ x: [1, 3], y: [2, 4] });
    expect(await readCurve(file('series2.json', { name: 's', points: [{ rate: 1, distortion: 2 }] }))).toEqual({ x: [1], y: [2], name: 's' });
    // The parser's own words say where the JSON breaks.
    await expect(readCurve(file('bad.json', '{ nope'))).rejects.toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringMatching(/bad\.json: is not valid JSON \(.*position 2/) });
    await expect(readCurve(file('pt.json', [{ rate: 'a', distortion: 1 }]))).rejects.toMatchObject({ message: expect.stringContaining('point 0 needs numeric') });
    // x and y arrays are named as the file has them, not as the points a detector is given.
    await expect(readCurve(file('short.json', { x: [1, 2, 3], y: [3, 4] }))).rejects.toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining('short.json: y has 2 values but x has 3') });
    await expect(readCurve(file('null.json', { x: [1, null, 3], y: [3, 4, 5] }))).rejects.toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining('null.json: x[1] must be a number, got null') });
    await expect(readCurve(file('text.json', { x: [1, 2, 3], y: [3, '4', 5] }))).rejects.toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining('text.json: y[1] must be a number, got string') });
    await expect(readCurve(path.join(dir, 'missing.json'))).rejects.toMatchObject({
      code: 'LIMIT_NOT_FOUND', message: expect.stringContaining('missing.json: ENOENT'), fix: expect.stringContaining('Check the path'),
    });
  });

  it('sortCurve: stable for duplicate x, maps back to input order, names the plugin in errors', () => {
    const s = sortCurve([{ x: 2, y: 1 }, { x: 1, y: 5 }, { x: 2, y: 0 }, { rate: 0, distortion: 9 }] as never);
    expect([...s.x]).toEqual([0, 1, 2, 2]);
    expect([...s.y]).toEqual([9, 5, 1, 0]);
    expect([...s.order]).toEqual([3, 1, 0, 2]);
    expect(() => sortCurve({ x: [1, 2], y: [1] }, { plugin: 'knee-x' })).toThrow(expect.objectContaining({ code: 'LIMIT_RD_INVALID_INPUT', plugin: 'knee-x', message: 'y: has 1 values but x has 2' }));
    expect(() => sortCurve([{ x: 1, y: Number.NaN }])).toThrow(expect.objectContaining({ message: 'points[0].y: must be a finite number, got NaN' }));
  });

  it('renderRdCurveSvg: "no knee" when there is none, text escaped', () => {
    const svg = renderRdCurveSvg([{ x: 0, y: 1 }, { x: 1, y: 0 }], { title: 'a < b & c' });
    expect(svg).toContain('no knee');
    expect(svg).toContain('a &lt; b &amp; c');
  });

  it('renderRdCurveSvg: every coordinate finite for a series without points and for x across ±1e308', () => {
    const numbers = (svg: string) => [...svg.matchAll(/ (?:x|y|x1|x2|y1|y2|cx|cy)="([^"]*)"/g)].map((m) => m[1]!).concat([...svg.matchAll(/points="([^"]*)"/g)].flatMap((m) => m[1]!.split(/[ ,]/)));
    const empty = renderRdCurveSvg([], { title: 'new series' });
    expect(empty).toContain('no points');
    expect(empty).not.toMatch(/NaN|Infinity/);
    const wide = renderRdCurveSvg([{ x: 1e308, y: 1 }, { x: -1e308, y: 2 }, { x: 0, y: 3 }], { knee: 2 });
    expect(wide).not.toMatch(/NaN|Infinity/);
    for (const svg of [empty, wide]) for (const v of numbers(svg)) expect(Number.isFinite(Number(v)), v).toBe(true);
    // The middle point sits halfway along the x axis (72 … 696 px).
    expect(wide).toContain('<circle cx="384.00"');
  });

  it('renderRdCurveSvg: a curve of 200,000 points is drawn (its extent is not taken by spreading it into Math.min, which overflowed the call stack)', () => {
    const points = Array.from({ length: 200_000 }, (_, i) => ({ x: i, y: 1 / (i + 1) }));
    const svg = renderRdCurveSvg(points, { knee: 3 });
    expect(svg).toContain('knee: rate 3, distortion 0.25');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe('renderRdCurveSvg: axes spanning a few ulps', () => {
  // Ticks were placed by v += step: below the spacing of doubles at v (rates 1e16 … 1e16 + 4, step
  // 0.5) v never moved, and the loop ran until memory ran out. Drawn in a child process so that a
  // hang fails this test instead of stopping the run.
  it.each([
    ['rates 1e16 … 1e16 + 4', [{ x: 1e16, y: 1 }, { x: 1e16 + 2, y: 0.5 }, { x: 1e16 + 4, y: 0.4 }]],
    ['distortions -1e16 - 4 … -1e16', [{ x: 0, y: -1e16 }, { x: 1, y: -1e16 - 2 }, { x: 2, y: -1e16 - 4 }]],
  ])('%s: drawn, every coordinate finite', (_name, points) => {
    const child = fileURLToPath(new URL('./svg-plot-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, JSON.stringify(points)], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error, r.stderr).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^<svg /);
    expect(r.stdout).toContain('knee: rate');
    expect(r.stdout).not.toMatch(/NaN|Infinity/);
  });
});

describe('minMax', () => {
  it('scales an axis to [0, 1], a constant one to zeros, and one wider than the largest double without overflowing', () => {
    expect([...minMax(Float64Array.from([2, 4, 6]))]).toEqual([0, 0.5, 1]);
    expect([...minMax(Float64Array.from([3, 3]))]).toEqual([0, 0]);
    const wide = minMax(Float64Array.from([-1.5e308, 0, 1.5e308]));
    expect([...wide]).toEqual([0, 0.5, 1]);
    // The straight-line check (no knee) reads such a curve right: a line is one, a bent curve is not.
    const x = Float64Array.from([-1.5e308, -1e308, -0.5e308, 0, 0.5e308, 1e308, 1.5e308]);
    expect(isStraightLine(x, x)).toBe(true);
    expect(isStraightLine(x, Float64Array.from([1, 0.3, 0.1, 0.05, 0.03, 0.02, 0.01]))).toBe(false);
  });
});

describe('detectKnee', () => {
  const pts = [{ x: 0, y: 1 }, { x: 1, y: 0.2 }, { x: 2, y: 0.1 }];
  const answering = (index: unknown) => ({ name: 'odd', detect: () => ({ index: index as number | null }) });

  it("passes a detector's null or in-range integer index through, and its options", () => {
    expect(detectKnee(answering(null), 'odd', pts)).toBeNull();
    expect(detectKnee(answering(2), 'odd', pts)).toBe(2);
    let seen: unknown;
    detectKnee({ name: 'spy', detect: (_p, o) => ((seen = o), { index: null }) }, 'spy', pts, { online: true });
    expect(seen).toEqual({ online: true });
  });

  it('refuses an index that is not one of the points as LIMIT_INTERNAL naming the detector, not a knee without a point', () => {
    for (const index of [3, -1, 1.5, Number.NaN, '1', undefined]) {
      let error: unknown;
      try {
        detectKnee(answering(index), 'odd', pts);
      } catch (e) {
        error = e;
      }
      expect(isLimitError(error, 'LIMIT_INTERNAL'), String(index)).toBe(true);
      expect((error as Error).message).toContain(`knee:odd returned index ${String(index)} for 3 point(s)`);
    }
  });
});
