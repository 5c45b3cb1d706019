/**
 * `limit rd fgw | rate | knee | plot` through the real CLI entry point, with a config that enables
 * the RD plugins, on inputs taken from the reference files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type FgwFile, loadReference, referenceFiles } from './reference.ts';

let dir: string;

const cli = (args: string[]) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'limit-rd-cli-'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
  writeFileSync(
    path.join(dir, 'limit.config.ts'),
    `import { defineConfig } from 'limit-graph';
     export default defineConfig({ extends: [], plugins: { 'rd-fgw': true, 'rd-rate': true, 'knee-kneedle': true, 'knee-menger': true } });`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('limit rd', () => {
  it('fgw: a reference case reproduces the reference value', async () => {
    // The largest case with a stable exact result and a robust, converged entropic one.
    const cases = loadReference<FgwFile>(referenceFiles('fgw')[0]!).cases;
    const pick = [...cases]
      .sort((a, b) => b.n1 * b.n2 - a.n1 * a.n2)
      .flatMap((c) => c.results.map((r) => ({ c, r, e: r.entropic.find((x) => x.robust && x.logdomain_converged && x.logdomain_value !== null) })))
      .find(({ r, e }) => r.exact.stable && Math.abs(r.exact.value) > 1e-9 && e !== undefined)!;
    const { c, r: res, e: refEnt } = pick;
    const file = path.join(dir, 'case.json');
    writeFileSync(file, JSON.stringify(c));
    const r = await cli(['rd', 'fgw', '--input', file, '--alpha', String(res.alpha), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Math.abs(doc.value - res.exact.value)).toBeLessThanOrEqual(1e-6 * Math.abs(res.exact.value));
    expect(doc).toMatchObject({ iterations: expect.any(Number), converged: true, method: 'exact', alpha: res.alpha });
    expect(doc.plan.reduce((s: number, e: number[]) => s + e[2]!, 0)).toBeCloseTo(1, 12);
    const ent = JSON.parse((await cli(['rd', 'fgw', '--input', file, '--method', 'entropic', '--epsilon', String(refEnt!.epsilon), '--alpha', String(res.alpha), '--json'])).stdout);
    expect(Math.abs(ent.value - refEnt!.logdomain_value!)).toBeLessThanOrEqual(1e-6 * Math.abs(refEnt!.logdomain_value!) + 1e-9);
  });

  it('fgw: graphs in, errors out as LimitError JSON', async () => {
    const g = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const file = path.join(dir, 'graphs.json');
    writeFileSync(file, JSON.stringify({ source: g, target: g }));
    const r = await cli(['rd', 'fgw', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).value).toBeCloseTo(0, 12);
    const bad = await cli(['rd', 'fgw', '--input', file, '--alpha', '7', '--json']);
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.stdout).error.code).toBe('LIMIT_RD_INVALID_INPUT');
  });

  it('fgw: a graph against itself is distortion 0, as `distortion` reports it; --json keeps compute\'s raw value beside it', async () => {
    // A 50-node path against itself: the solver's sum ends at −2.9e-13 (rounding), not at 0.
    const n = 50;
    const g = { nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i}`, features: [i / n] })), edges: Array.from({ length: n - 1 }, (_, i) => ({ source: `n${i}`, target: `n${i + 1}` })) };
    const file = path.join(dir, 'self.json');
    writeFileSync(file, JSON.stringify({ source: g, target: g }));
    const r = await cli(['rd', 'fgw', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rawValue).toBeLessThan(0);
    expect(doc.rawValue).toBeGreaterThan(-1e-9);
    expect(Object.is(doc.value, 0)).toBe(true);
    const text = await cli(['rd', 'fgw', '--input', file]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^FGW \(exact, α = 0\.5\) = 0 \(the solver's sum -[0-9.e-]+: rounding below 0\)\n/);
  });

  it('fgw: a graph\'s directed that is not true or false is refused naming it, not read as directed', async () => {
    const g = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }, { id: 'c', features: [2] }], edges: [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }] };
    for (const [side, directed] of [['source', 'false'], ['target', 1]] as const) {
      const file = path.join(dir, `directed-${side}.json`);
      writeFileSync(file, JSON.stringify({ source: g, target: g, [side]: { ...g, directed } }));
      const r = await cli(['rd', 'fgw', '--input', file, '--json']);
      expect(r.code, r.stdout).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining(`${file} › ${side}.directed: must be true or false`) });
    }
  });

  it('fgw: a file with one graph of the pair names the missing one, not C1 of the matrix form', async () => {
    const g = { nodes: [{ id: 'a', features: [0] }], edges: [] };
    for (const [present, missing] of [['source', 'target'], ['target', 'source']] as const) {
      const file = path.join(dir, `half-${present}.json`);
      writeFileSync(file, JSON.stringify({ [present]: g }));
      const r = await cli(['rd', 'fgw', '--input', file, '--json']);
      expect(r.code, r.stdout).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} › ${missing}: is required \\(graphs need source and target`)) });
    }
  });

  it('fgw: an empty or non-numeric numeric option is an error, not 0', async () => {
    const g = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const file = path.join(dir, 'graphs-num.json');
    writeFileSync(file, JSON.stringify({ source: g, target: g }));
    for (const [option, value] of [['--alpha', ''], ['--alpha', ' '], ['--epsilon', 'abc'], ['--max-iter', '2.5'], ['--plan-threshold', '']]) {
      const r = await cli(['rd', 'fgw', '--input', file, option!, value!, '--json']);
      expect(r.code, `${option} ${JSON.stringify(value)}`).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining(`${option} must be`) });
    }
  });

  it('fgw: a solver refusal names the flag that gave the value, or the input file for its own fields', async () => {
    const g = { nodes: [{ id: 'a', features: [0] }, { id: 'b', features: [1] }], edges: [{ source: 'a', target: 'b' }] };
    const file = path.join(dir, 'graphs-words.json');
    writeFileSync(file, JSON.stringify({ source: g, target: g }));
    const alpha = JSON.parse((await cli(['rd', 'fgw', '--input', file, '--alpha', '2', '--json'])).stdout).error;
    expect(alpha).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: '--alpha: Too big: expected number to be <=1', fix: "Correct --alpha, or leave it out to use the plugin's configured value.", details: { field: '--alpha' } });
    const method = JSON.parse((await cli(['rd', 'fgw', '--input', file, '--method', 'foo', '--json'])).stdout).error;
    expect(method.message).toMatch(/^--method: /);
    const inFile = path.join(dir, 'alpha-in-file.json');
    writeFileSync(inFile, JSON.stringify({ source: g, target: g, options: { alpha: 3 } }));
    expect(JSON.parse((await cli(['rd', 'fgw', '--input', inFile, '--json'])).stdout).error).toMatchObject({ message: `${inFile} › options.alpha: Too big: expected number to be <=1`, details: { file: inFile } });
    // options that are not an object are refused, not read as none (a string was ignored: exact, not entropic).
    for (const [name, options, got] of [['str', 'entropic', 'string "entropic"'], ['list', [0.3], 'a list'], ['null', null, 'null']] as const) {
      const f = path.join(dir, `options-${name}.json`);
      writeFileSync(f, JSON.stringify({ source: g, target: g, options }));
      const res = await cli(['rd', 'fgw', '--input', f, '--json']);
      expect(res.code).not.toBe(0);
      expect(JSON.parse(res.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining(`${f} › options: must be an object of rd-fgw options`), details: { file: f, field: 'options' } });
      expect(JSON.parse(res.stdout).error.message).toContain(`got ${got}`);
    }
    const noMatrices = path.join(dir, 'no-matrices.json');
    writeFileSync(noMatrices, JSON.stringify({ x: [1] }));
    expect(JSON.parse((await cli(['rd', 'fgw', '--input', noMatrices, '--json'])).stdout).error.message).toMatch(new RegExp(`^${noMatrices.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} › C1: `));
    // The whole reference file is a list of cases, said as such.
    const whole = path.join(dir, 'whole-reference.json');
    writeFileSync(whole, JSON.stringify({ cases: loadReference<FgwFile>(referenceFiles('fgw')[0]!).cases.slice(0, 2) }));
    const listed = JSON.parse((await cli(['rd', 'fgw', '--input', whole, '--json'])).stdout).error;
    expect(listed).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: `${whole}: holds a list of 2 cases (a reference file); --input takes one case { M, C1, C2, p, q } or { source, target }` });
  });

  it('rate: the whole reference file', async () => {
    const file = path.join(dir, 'rate.json');
    const ref = loadReference<{ discrete: { at_D: { R: number }[] }[]; gaussian: { var_ddof0: number }[] }>(referenceFiles('rate')[0]!);
    writeFileSync(file, JSON.stringify(ref));
    const r = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    // Every source and every target D of the file is answered (the loops below check nothing of a missing one).
    expect(doc.discrete.map((s: { at_D: unknown[] }) => s.at_D.length)).toEqual(ref.discrete.map((s) => s.at_D.length));
    expect(doc.discrete.length).toBeGreaterThan(0);
    expect(doc.gaussian).toHaveLength(ref.gaussian.length);
    expect(doc.gaussian.length).toBeGreaterThan(0);
    doc.discrete.forEach((s: { at_D: { R: number }[] }, i: number) =>
      s.at_D.forEach((e, k) => expect(Math.abs(e.R - ref.discrete[i]!.at_D[k]!.R)).toBeLessThanOrEqual(1e-9)),
    );
    doc.gaussian.forEach((g: { variance: number; ddof: number }, i: number) => {
      expect(g.ddof).toBe(0);
      expect(g.variance).toBe(ref.gaussian[i]!.var_ddof0);
    });
  });

  it("rate: docs/rd.md's example source gives the output the document shows", async () => {
    const doc = readFileSync(new URL('../../docs/rd.md', import.meta.url), 'utf8');
    const m = /echo '(\{.*\})' > source\.json\nnpx limit rd rate --input source\.json --json\n# (.*)\n# (.*)\n/.exec(doc);
    expect(m).not.toBeNull();
    const file = path.join(dir, 'source.json');
    writeFileSync(file, m![1]!);
    const r = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    // The document shortens long numbers to their first digits and `…`: compare those digits.
    const shown = `${m![2]}${m![3]!.trim()}`;
    const pattern = shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('…', '\\d*');
    expect(JSON.stringify(JSON.parse(r.stdout))).toMatch(new RegExp(`^${pattern}$`));
  });

  it('rate: a tiny positive D gives a finite rate, never "R": null (rd-audit #2)', async () => {
    const file = path.join(dir, 'tiny-d.json');
    writeFileSync(file, JSON.stringify({ samples: [0, 2], D: [1e-310] }));
    const r = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const R = JSON.parse(r.stdout).R_of_D[0].R as number;
    expect(R).toBeCloseTo(0.5 * 310 * Math.log2(10), 10);
  });

  it('rate: D = 0 gives R = +∞, written "Infinity" (JSON has no infinity; null would read as no value)', async () => {
    const file = path.join(dir, 'zero-d.json');
    writeFileSync(file, JSON.stringify({ samples: [0, 2], D: [0, 0.25] }));
    const r = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).R_of_D).toEqual([{ D: 0, R: 'Infinity' }, { D: 0.25, R: 1 }]);
  });

  it('rate: samples whose variance overflows are refused naming the file and JSON path; huge constant ones have σ² = 0 (rd-audit #3)', async () => {
    const file = path.join(dir, 'huge-samples.json');
    const cases: [unknown, string][] = [
      [{ samples: [1e200, -1e200] }, 'samples: their variance overflows'],
      [[{ samples: [1, 2] }, { samples: [1.7e308, -1.7e308] }], '1.samples: their variance overflows'],
      [{ discrete: [], gaussian: [{ samples: [1e200, -1e200] }] }, 'gaussian.0.samples: their variance overflows'],
      [{ samples: [] }, 'samples: need at least 1 sample'],
    ];
    for (const [input, message] of cases) {
      writeFileSync(file, JSON.stringify(input));
      const r = await cli(['rd', 'rate', '--input', file, '--json']);
      expect(r.code, JSON.stringify(input)).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining(`${file} › ${message}`) });
    }
    writeFileSync(file, JSON.stringify({ samples: [1.7e308, 1.7e308], D: [0.1] }));
    const ok = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ mean: 1.7e308, variance: 0, R_of_D: [{ D: 0.1, R: 0 }] });
  });

  it('rate: a value the model refuses (a D below D_min, a negative β or R, p not summing to 1, a negative distortion entry) is named by the file and JSON path of that value', async () => {
    const file = path.join(dir, 'bad-values.json');
    const hamming = { p: [0.5, 0.5], distortion: 'hamming' };
    const cases: [unknown, string][] = [
      [{ ...hamming, D: [0.1, -1] }, 'D.1: no channel reaches distortion -1'],
      [{ ...hamming, D: -1 }, 'D: no channel reaches distortion -1'],
      [[{ p: [1], distortion: [[0]] }, { ...hamming, betas: [1, -2] }], '1.betas.1: must be a finite number ≥ 0, got -2'],
      [{ p: [0.5, 0.6], distortion: 'hamming' }, 'p: probabilities must sum to 1'],
      [{ p: [0.5, 0.5], distortion_matrix: [[0, -1], [1, 0]] }, 'distortion_matrix.0.1: must be a finite number ≥ 0, got -1'],
      [{ discrete: [{ ...hamming, at_D: [{ D: 0.1 }, { D: -3 }] }] }, 'discrete.0.at_D.1.D: no channel reaches distortion -3'],
      [{ discrete: [], gaussian: [{ samples: [1, 2, 3], D_of_R: [{ R: 1 }, { R: -3 }] }] }, 'gaussian.0.D_of_R.1.R: rate must be ≥ 0, got -3'],
      [{ samples: [1, 2, 3], D: [-1] }, 'D.0: distortion must be ≥ 0, got -1'],
    ];
    for (const [input, message] of cases) {
      writeFileSync(file, JSON.stringify(input));
      const r = await cli(['rd', 'rate', '--input', file, '--json']);
      expect(r.code, JSON.stringify(input)).toBe(1);
      expect(JSON.parse(r.stdout).error, JSON.stringify(input)).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining(`${file} › ${message}`) });
    }
  });

  it('rate: a malformed source is LIMIT_RD_INVALID_INPUT naming the file and JSON path, never a TypeError or a default', async () => {
    const file = path.join(dir, 'bad-rate.json');
    const cases: [unknown, string][] = [
      [{ discrete: [{ x: 1 }] }, 'discrete.0.p: Expected array, received undefined'],
      [{ discrete: [5] }, 'discrete.0: Expected object, received number'],
      [{ discrete: [], gaussian: 'x' }, 'gaussian: Expected array, received string'],
      [{ p: [0.5, 0.5], distortion: 'hamming', D: ['0.1', '0.2'] }, 'D: Expected a number or a list of numbers'],
      [{ p: [0.5, 0.5], distortion: 'hamming', betas: 'five' }, 'betas: Expected a number or a list of numbers'],
      [{ samples: [1, 2, 3], ddof: 2 }, 'ddof: Expected 0 or 1'],
      [[{ samples: [1, 2] }, { p: [1], distortion: 'squared_error' }], "1.values: One value per symbol (1) is needed for distortion 'squared_error'"],
    ];
    for (const [input, message] of cases) {
      writeFileSync(file, JSON.stringify(input));
      const r = await cli(['rd', 'rate', '--input', file, '--json']);
      expect(r.code, JSON.stringify(input)).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: `${file} › ${message}` });
      expect(r.stderr).not.toContain('TypeError');
    }
    // Single numbers still stand for one-element lists.
    writeFileSync(file, JSON.stringify({ p: [0.5, 0.5], distortion: 'hamming', betas: 2, D: 0.1 }));
    const ok = await cli(['rd', 'rate', '--input', file, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ kind: 'discrete', parametric: [{ beta: 2 }], at_D: [{ D: 0.1 }] });
  });

  it('knee and plot: a point the detector refuses is named in the input file', async () => {
    const file = path.join(dir, 'close-points.json');
    writeFileSync(file, JSON.stringify({ x: [2e-320, 0, 1e-320], y: [0, 0, 1e-320] }));
    for (const args of [['rd', 'knee'], ['rd', 'plot', '--out', path.join(dir, 'close-points.svg')]]) {
      const r = await cli([...args, '--input', file, '--method', 'menger', '--json']);
      expect(r.code, r.stderr).toBe(1);
      const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(error.code).toBe('LIMIT_RD_INVALID_INPUT');
      expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} › point 2 \\(x 1e-320, y 1e-320\\): .*Menger curvature overflows`));
    }
  });

  it('knee and plot: reference curves and RD series', async () => {
    const curves = loadReference<{ curves: { id: string; x: number[]; y: number[]; kneedle: { offline_index: number | null }; menger_normalized: { argmax: number; kappa: (number | null)[] } }[] }>(
      referenceFiles('knee')[0]!,
    ).curves;
    for (const c of curves) {
      const file = path.join(dir, `${c.id}.json`);
      writeFileSync(file, JSON.stringify(c));
      const k = JSON.parse((await cli(['rd', 'knee', '--input', file, '--json'])).stdout);
      expect(k.index).toBe(c.kneedle.offline_index);
      expect(k.method).toBe('kneedle');
      const m = JSON.parse((await cli(['rd', 'knee', '--input', file, '--method', 'menger', '--normalize', '--json'])).stdout);
      const flat = c.menger_normalized.kappa.every((k) => k === null || k === 0);
      expect(m.index).toBe(flat ? null : c.menger_normalized.argmax);
    }
    const series = { id: 's1', name: 'refinement', points: [1, 2, 3, 4, 5, 6, 7].map((rate, step) => ({ step, rate, distortion: [10, 6, 2, 1.8, 1.6, 1.5, 1.45][step] })) };
    const file = path.join(dir, 'series.json');
    writeFileSync(file, JSON.stringify(series));
    const out = path.join(dir, 'plots', 'curve.svg');
    const r = await cli(['rd', 'plot', '--input', file, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out, index: 2, method: 'kneedle' });
    const svg = readFileSync(out, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('knee: rate 3, distortion 2');
    expect(svg).toContain('<polyline');
    const straight = path.join(dir, 'line.json');
    writeFileSync(straight, JSON.stringify({ x: [0, 1, 2, 3], y: [3, 2, 1, 0] }));
    expect(JSON.parse((await cli(['rd', 'knee', '--input', straight, '--json'])).stdout).index).toBeNull();
  });

  it('knee --method takes any loaded knee:<name>, a plugin\'s own detector included, and its help says so', async () => {
    writeFileSync(path.join(dir, 'knee-last.ts'), `import { definePlugin } from 'limit-graph';
export default definePlugin({ meta: { name: 'knee-last', version: '0.0.1', provides: ['knee:last'] }, setup(ctx) {
  ctx.provide('knee:last' as never, { name: 'last', detect: (points: unknown[]) => ({ index: points.length - 2 }) } as never);
} });`);
    writeFileSync(path.join(dir, 'custom-knee.config.ts'), `export default { plugins: { 'knee-menger': true, './knee-last': true } };`);
    const curve = path.join(dir, 'curve-custom.json');
    writeFileSync(curve, JSON.stringify({ x: [1, 2, 3, 4], y: [10, 5, 4, 3.5] }));
    const r = await cli(['--config', 'custom-knee.config.ts', 'rd', 'knee', '--input', curve, '--method', 'last', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ method: 'last', index: 2 });
    const help = await cli(['--config', 'custom-knee.config.ts', 'rd', 'knee', '--help']);
    expect(help.stdout).toMatch(/--method <name>\s+knee detector: the <name> of any loaded knee:<name>/);
    const unknown = await cli(['--config', 'custom-knee.config.ts', 'rd', 'knee', '--input', curve, '--method', 'nope']);
    expect(unknown.stderr).toContain('fix: Pass --method with a loaded detector (menger, last), or enable the plugin that provides knee:nope in the config.');
  });

  it('plot --out: never its own input, no overwrite without --force, a folder is a clear error', async () => {
    const file = path.join(dir, 'plot-input.json');
    const text = JSON.stringify({ x: [1, 2, 3, 4, 5], y: [1, 0.4, 0.2, 0.15, 0.1] });
    writeFileSync(file, text);
    for (const force of [[], ['--force']]) {
      const r = await cli(['rd', 'plot', '--input', file, '--out', file, ...force, '--json']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringContaining('would overwrite the input file') });
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
    const out = path.join(dir, 'again.svg');
    expect((await cli(['rd', 'plot', '--input', file, '--out', out])).code).toBe(0);
    const again = await cli(['rd', 'plot', '--input', file, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect((await cli(['rd', 'plot', '--input', file, '--out', out, '--force'])).code).toBe(0);
    const folder = await cli(['rd', 'plot', '--input', file, '--out', dir]);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/^LIMIT_VALIDATION: --out .*: is a folder/);
  });
});
