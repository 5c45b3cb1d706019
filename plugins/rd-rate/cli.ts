/**
 * `limit rd rate --input SOURCE.json [--ddof 0|1] --json`. SOURCE.json is a discrete source
 * `{ p, distortion_matrix | distortion, betas?, D? }`, a Gaussian sample set `{ samples, D?, R? }`,
 * a list of them, or a whole file `{ discrete: [...], gaussian: [...] }` in the reference format
 * (β values taken from `parametric`, targets from `at_D`, `R_of_D` and `D_of_R`).
 */
import { LimitError, isLimitError, parseInput, rdCommandGroup, readJsonFile, z, type CommandRegistry } from 'limit-graph';
import type { Ddof, VarianceEstimate } from './gaussian.ts';
import { entropyBits, prepareSource } from './blahut.ts';
import type { RateService } from './index.ts';

type Obj = Record<string, unknown>;

// The input file is checked field by field before anything is computed: a field of the wrong type
// is an error naming the file and its JSON path, never replaced by a default. Unknown fields (the
// reference format's expected results) are ignored.
const num = z.number();
/** One number or a list of them. */
const numbers = z.union([num, z.array(num)], { error: 'Expected a number or a list of numbers' }).transform((v) => (Array.isArray(v) ? v : [v]));
const matrix = z.array(z.array(num));

const DiscreteSource = z
  .object({
    id: z.unknown().optional(),
    p: z.array(num).min(1),
    distortion_matrix: matrix.optional(),
    distortion: z.union([matrix, z.enum(['hamming', 'squared_error'])], { error: "Expected a matrix of numbers, 'hamming' or 'squared_error'" }).optional(),
    values: z.array(num).optional(),
    betas: numbers.optional(),
    parametric: z.array(z.object({ beta: num })).optional(),
    D: numbers.optional(),
    at_D: z.array(z.object({ D: num })).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.distortion_matrix === undefined && s.distortion === undefined) {
      ctx.addIssue({ code: 'custom', path: ['distortion_matrix'], message: "Give distortion_matrix, or distortion: a matrix, 'hamming' or 'squared_error' (with values)" });
    } else if (s.distortion_matrix === undefined && s.distortion === 'squared_error' && s.values?.length !== s.p.length) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `One value per symbol (${s.p.length}) is needed for distortion 'squared_error'` });
    }
  });
type DiscreteSource = z.output<typeof DiscreteSource>;

const GaussianSource = z.object({
  id: z.unknown().optional(),
  samples: z.array(num),
  ddof: z.union([z.literal(0), z.literal(1)], { error: 'Expected 0 or 1' }).optional(),
  D: numbers.optional(),
  R: numbers.optional(),
  R_of_D: z.array(z.object({ D: num })).optional(),
  D_of_R: z.array(z.object({ R: num })).optional(),
});
type GaussianSource = z.output<typeof GaussianSource>;

const ReferenceFile = z.object({ discrete: z.array(z.unknown()).default([]), gaussian: z.array(z.unknown()).default([]) });

function distortionMatrix(src: DiscreteSource): number[][] {
  if (src.distortion_matrix) return src.distortion_matrix;
  if (Array.isArray(src.distortion)) return src.distortion;
  const m = src.p.length;
  if (src.distortion === 'hamming') return Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (i === j ? 0 : 1)));
  const values = src.values!;
  return values.map((a) => values.map((b) => (a - b) * (a - b)));
}

function discrete(rate: RateService, src: DiscreteSource, raw: Obj, file: string, at: readonly (string | number)[]): Obj {
  const source = { p: src.p, distortion: distortionMatrix(src) };
  // The model names the matrix `distortion`; the file may have given it as distortion_matrix, or
  // as 'hamming' / 'squared_error' (then its entries come from `values`).
  const matrixKey = src.distortion_matrix !== undefined ? 'distortion_matrix' : Array.isArray(src.distortion) ? 'distortion' : src.distortion === 'squared_error' ? 'values' : 'distortion';
  const sourcePlace = (field: string): string[] => {
    const path = asPath(field);
    return path[0] === 'distortion' ? (matrixKey === 'distortion' || matrixKey === 'distortion_matrix' ? [matrixKey, ...path.slice(1)] : [matrixKey]) : path;
  };
  const betas = src.betas ?? src.parametric?.map((e) => e.beta) ?? [];
  const { Dmax, Dmin } = inFile(file, at, sourcePlace, () => prepareSource(source));
  const targets = src.D ?? src.at_D?.map((e) => e.D) ?? [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 1].map((f) => f * Dmax);
  return {
    ...(src.id !== undefined ? { id: src.id } : {}),
    D_max: Dmax,
    D_min: Dmin,
    entropy_bits: entropyBits(source.p),
    parametric: betas.map((beta, k) => {
      const pt = inFile(file, at, () => listPlace(raw, 'betas', 'parametric', 'beta', k), () => rate.blahutArimoto(source, beta));
      return { beta, slope_bits: pt.slopeBits, D: pt.D, R: pt.R, R_lower: pt.Rlower, gap_bits: pt.gapBits, iters: pt.iterations, q: pt.q };
    }),
    at_D: targets.map((D, k) => {
      const r = inFile(file, at, () => listPlace(raw, 'D', 'at_D', 'D', k), () => rate.rateAtDistortion(source, D));
      return { D, R: r.R, beta: r.beta, D_reached: r.Dreached, ...(r.note ? { note: r.note } : {}) };
    }),
  };
}

/**
 * `compute()`, its LIMIT_RD_INVALID_INPUT errors named by the file and the JSON path of the field
 * they are about, like the schema's: `place(field)` gives that path from the model's field name
 * (`samples[3]`, `p[0]`, `D`), relative to the source at `at`.
 */
function inFile<T>(file: string, at: readonly (string | number)[], place: (field: string) => (string | number)[], compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (!isLimitError(error) || error.code !== 'LIMIT_RD_INVALID_INPUT') throw error;
    const field = typeof error.details?.field === 'string' ? error.details.field : '';
    const path = [...at, ...place(field)].join('.') || '(root)';
    const what = field !== '' && error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${path}: ${what}`, { details: { file, path }, fix: error.fix, cause: error });
  }
}

/** `distortion[1][0]` → ['distortion', '1', '0']. */
const asPath = (field: string): string[] => field.replace(/\[(\d+)\]/g, '.$1').split('.').filter((s) => s !== '');

/**
 * Where the k-th value of a list the file may give in two forms came from: `key` (a number or a
 * list: `D`, `D.2`) or the reference format's `refKey` entries (`at_D.2.D`).
 */
function listPlace(raw: Obj, key: string, refKey: string, field: string, k: number): (string | number)[] {
  if (raw[key] !== undefined) return Array.isArray(raw[key]) ? [key, k] : [key];
  return [refKey, k, field];
}

/** The variance estimate of a source, its errors (`samples: …`, `samples[3]: …`) named by the file and JSON path. */
function varianceOf(rate: RateService, src: GaussianSource, ddof: Ddof | undefined, file: string, at: readonly (string | number)[]): VarianceEstimate {
  return inFile(file, at, (field) => asPath(field || 'samples'), () => rate.variance(src.samples, ddof ?? src.ddof));
}

function gaussian(rate: RateService, src: GaussianSource, raw: Obj, ddof: Ddof | undefined, file: string, at: readonly (string | number)[]): Obj {
  const est = varianceOf(rate, src, ddof, file, at);
  const Ds = src.D ?? src.R_of_D?.map((e) => e.D) ?? [est.variance / 4, est.variance / 16];
  const Rs = src.R ?? src.D_of_R?.map((e) => e.R) ?? [0.5, 1, 2];
  return {
    ...(src.id !== undefined ? { id: src.id } : {}),
    n: est.n,
    mean: est.mean,
    variance: est.variance,
    ddof: est.ddof,
    R_of_D: Ds.map((D, k) => ({ D, R: inFile(file, at, () => listPlace(raw, 'D', 'R_of_D', 'D', k), () => rate.gaussianRate(D, { variance: est.variance })) })),
    D_of_R: Rs.map((R, k) => ({ R, D: inFile(file, at, () => listPlace(raw, 'R', 'D_of_R', 'R', k), () => rate.gaussianDistortion(R, { variance: est.variance })) })),
  };
}

const invalid = { code: 'LIMIT_RD_INVALID_INPUT' } as const;

/** One source of either kind, told apart by its `samples` (Gaussian) or `p` (discrete) field. */
function one(rate: RateService, src: unknown, ddof: Ddof | undefined, file: string, at: (string | number)[]): Obj {
  const where = at.length ? at.join('.') : '(root)';
  if (!src || typeof src !== 'object' || Array.isArray(src)) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${where}: expected a source object`, { details: { file, path: where } });
  }
  if ('samples' in src) return { kind: 'gaussian', ...gaussian(rate, parseInput(GaussianSource, src, file, { ...invalid, path: at }), src as Obj, ddof, file, at) };
  if ('p' in src) return { kind: 'discrete', ...discrete(rate, parseInput(DiscreteSource, src, file, { ...invalid, path: at }), src as Obj, file, at) };
  throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${where}: a source needs p (discrete) or samples (Gaussian)`, { details: { file, path: where } });
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
      if (Array.isArray(data)) result = data.map((s, i) => one(rate, s, d, flags.input, [i]));
      else if (data && typeof data === 'object' && ('discrete' in data || 'gaussian' in data)) {
        const file = parseInput(ReferenceFile, data, flags.input, invalid);
        result = {
          discrete: file.discrete.map((s, i) => discrete(rate, parseInput(DiscreteSource, s, flags.input, { ...invalid, path: ['discrete', i] }), s as Obj, flags.input, ['discrete', i])),
          gaussian: file.gaussian.map((s, i) => gaussian(rate, parseInput(GaussianSource, s, flags.input, { ...invalid, path: ['gaussian', i] }), s as Obj, d, flags.input, ['gaussian', i])),
        };
      } else result = one(rate, data, d, flags.input, []);
      // JSON has no infinity: R = +∞ (D = 0) is written "Infinity", not the `null` JSON.stringify makes of it.
      registry.print(JSON.stringify(result, (_key, value: unknown) => (value === Infinity ? 'Infinity' : value), 2));
    });
}
