/**
 * `limit rd rate --input SOURCE.json [--ddof 0|1] --json`. SOURCE.json is a discrete source
 * `{ p, distortion_matrix | distortion, betas?, D? }`, a Gaussian sample set `{ samples, D?, R? }`,
 * a list of them, or a whole file `{ discrete: [...], gaussian: [...] }` in the reference format
 * (β values taken from `parametric`, targets from `at_D`, `R_of_D` and `D_of_R`).
 */
import { LimitError, rdCommandGroup, readJsonFile, type CommandRegistry } from 'limit-graph';
import type { Ddof } from './gaussian.ts';
import { entropyBits, prepareSource } from './blahut.ts';
import type { RateService } from './index.ts';


type Obj = Record<string, unknown>;

const numbers = (v: unknown): number[] | undefined =>
  typeof v === 'number' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;

function distortionMatrix(src: Obj, where: string): number[][] {
  if (Array.isArray(src.distortion_matrix)) return src.distortion_matrix as number[][];
  if (Array.isArray(src.distortion)) return src.distortion as number[][];
  const m = (src.p as unknown[]).length;
  if (src.distortion === 'hamming') return Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (i === j ? 0 : 1)));
  if (src.distortion === 'squared_error') {
    const values = numbers(src.values);
    if (!values || values.length !== m) throw new LimitError('LIMIT_RD_INVALID_INPUT', `${where}.values: squared_error needs one value per symbol`);
    return values.map((a) => values.map((b) => (a - b) * (a - b)));
  }
  throw new LimitError('LIMIT_RD_INVALID_INPUT', `${where}: give distortion_matrix, or distortion: 'hamming' | 'squared_error' (with values)`);
}

function discrete(rate: RateService, src: Obj, where: string): Obj {
  const source = { p: src.p as number[], distortion: distortionMatrix(src, where) };
  const betas = numbers(src.betas) ?? (Array.isArray(src.parametric) ? (src.parametric as Obj[]).map((e) => e.beta as number) : undefined);
  const { Dmax, Dmin } = prepareSource(source);
  const targets =
    numbers(src.D) ?? (Array.isArray(src.at_D) ? (src.at_D as Obj[]).map((e) => e.D as number) : [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 1].map((f) => f * Dmax));
  return {
    ...(src.id !== undefined ? { id: src.id } : {}),
    D_max: Dmax,
    D_min: Dmin,
    entropy_bits: entropyBits(source.p),
    parametric: (betas ?? []).map((beta) => {
      const pt = rate.blahutArimoto(source, beta);
      return { beta, slope_bits: pt.slopeBits, D: pt.D, R: pt.R, R_lower: pt.Rlower, gap_bits: pt.gapBits, iters: pt.iterations, q: pt.q };
    }),
    at_D: targets.map((D) => {
      const r = rate.rateAtDistortion(source, D);
      return { D, R: r.R, beta: r.beta, D_reached: r.Dreached, ...(r.note ? { note: r.note } : {}) };
    }),
  };
}

function gaussian(rate: RateService, src: Obj, ddof: Ddof | undefined, where: string): Obj {
  const samples = numbers(src.samples);
  if (!samples) throw new LimitError('LIMIT_RD_INVALID_INPUT', `${where}.samples: must be an array of numbers`);
  const d = ddof ?? (src.ddof === 1 ? 1 : src.ddof === 0 ? 0 : undefined);
  const est = rate.variance(samples, d);
  const Ds = numbers(src.D) ?? (Array.isArray(src.R_of_D) ? (src.R_of_D as Obj[]).map((e) => e.D as number) : [est.variance / 4, est.variance / 16]);
  const Rs = numbers(src.R) ?? (Array.isArray(src.D_of_R) ? (src.D_of_R as Obj[]).map((e) => e.R as number) : [0.5, 1, 2]);
  return {
    ...(src.id !== undefined ? { id: src.id } : {}),
    n: est.n,
    mean: est.mean,
    variance: est.variance,
    ddof: est.ddof,
    R_of_D: Ds.map((D) => ({ D, R: rate.gaussianRate(D, { variance: est.variance }) })),
    D_of_R: Rs.map((R) => ({ R, D: rate.gaussianDistortion(R, { variance: est.variance }) })),
  };
}

function one(rate: RateService, src: unknown, ddof: Ddof | undefined, where: string): Obj {
  if (!src || typeof src !== 'object') throw new LimitError('LIMIT_RD_INVALID_INPUT', `${where}: expected a source object`);
  const o = src as Obj;
  if (Array.isArray(o.samples)) return { kind: 'gaussian', ...gaussian(rate, o, ddof, where) };
  if (Array.isArray(o.p)) return { kind: 'discrete', ...discrete(rate, o, where) };
  throw new LimitError('LIMIT_RD_INVALID_INPUT', `${where}: a source needs p (discrete) or samples (Gaussian)`);
}

export function registerRateCommand(registry: CommandRegistry): void {
  const rd = rdCommandGroup(registry.program);
  if (rd.commands.some((c) => c.name() === 'rate')) return;
  rd.command('rate')
    .description('R(D) of a discrete source (Blahut–Arimoto) or of Gaussian samples, in bits')
    .requiredOption('--input <file>', 'source JSON')
    .option('--ddof <0|1>', 'variance estimator for Gaussian samples (default: the plugin option, 0)')
    .option('--json', 'print the results as one JSON document')
    .action(async (flags: { input: string; ddof?: string; json?: boolean }) => {
      const data = await readJsonFile(flags.input);
      const ddof = flags.ddof === undefined ? undefined : flags.ddof === '1' ? 1 : flags.ddof === '0' ? 0 : NaN;
      if (Number.isNaN(ddof)) throw new LimitError('LIMIT_RD_INVALID_INPUT', `--ddof: must be 0 or 1, got ${flags.ddof}`);
      const rt = await registry.runtime();
      const rate = rt.resolve('rate:shannon');
      const d = ddof as Ddof | undefined;
      let result: unknown;
      if (Array.isArray(data)) result = data.map((s, i) => one(rate, s, d, `[${i}]`));
      else if (data && typeof data === 'object' && (Array.isArray((data as Obj).discrete) || Array.isArray((data as Obj).gaussian))) {
        const o = data as Obj;
        result = {
          discrete: ((o.discrete as unknown[]) ?? []).map((s, i) => discrete(rate, s as Obj, `discrete[${i}]`)),
          gaussian: ((o.gaussian as unknown[]) ?? []).map((s, i) => gaussian(rate, s as Obj, d, `gaussian[${i}]`)),
        };
      } else result = one(rate, data, d, 'source');
      if (flags.json) registry.printJson(result);
      else registry.print(JSON.stringify(result, null, 2));
    });
}
