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

function discrete(rate: RateService, src: DiscreteSource): Obj {
  const source = { p: src.p, distortion: distortionMatrix(src) };
  const betas = src.betas ?? src.parametric?.map((e) => e.beta) ?? [];
  const { Dmax, Dmin } = prepareSource(source);
  const targets = src.D ?? src.at_D?.map((e) => e.D) ?? [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 1].map((f) => f * Dmax);
  return {
    ...(src.id !== undefined ? { id: src.id } : {}),
    D_max: Dmax,
    D_min: Dmin,
    entropy_bits: entropyBits(source.p),
    parametric: betas.map((beta) => {
      const pt = rate.blahutArimoto(source, beta);
      return { beta, slope_bits: pt.slopeBits, D: pt.D, R: pt.R, R_lower: pt.Rlower, gap_bits: pt.gapBits, iters: pt.iterations, q: pt.q };
    }),
    at_D: targets.map((D) => {
      const r = rate.rateAtDistortion(source, D);
      return { D, R: r.R, beta: r.beta, D_reached: r.Dreached, ...(r.note ? { note: r.note } : {}) };
    }),
  };
}

/**
 * The variance estimate of a source, its errors (`samples: …`, `samples[3]: …`) named by the file
 * and the JSON path of the field, like the schema's.
 */
function varianceOf(rate: RateService, src: GaussianSource, ddof: Ddof | undefined, file: string, at: readonly (string | number)[]): VarianceEstimate {
  try {
    return rate.variance(src.samples, ddof ?? src.ddof);
  } catch (error) {
    if (!isLimitError(error) || error.code !== 'LIMIT_RD_INVALID_INPUT') throw error;
    const field = typeof error.details?.field === 'string' ? error.details.field : 'samples';
    const path = [...at, field.replace(/\[(\d+)\]/g, '.$1')].join('.');
    const what = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${path}: ${what}`, { details: { file, path }, fix: error.fix, cause: error });
  }
}

function gaussian(rate: RateService, src: GaussianSource, ddof: Ddof | undefined, file: string, at: readonly (string | number)[]): Obj {
  const est = varianceOf(rate, src, ddof, file, at);
  const Ds = src.D ?? src.R_of_D?.map((e) => e.D) ?? [est.variance / 4, est.variance / 16];
  const Rs = src.R ?? src.D_of_R?.map((e) => e.R) ?? [0.5, 1, 2];
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

const invalid = { code: 'LIMIT_RD_INVALID_INPUT' } as const;

/** One source of either kind, told apart by its `samples` (Gaussian) or `p` (discrete) field. */
function one(rate: RateService, src: unknown, ddof: Ddof | undefined, file: string, at: (string | number)[]): Obj {
  const where = at.length ? at.join('.') : '(root)';
  if (!src || typeof src !== 'object' || Array.isArray(src)) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${where}: expected a source object`, { details: { file, path: where } });
  }
  if ('samples' in src) return { kind: 'gaussian', ...gaussian(rate, parseInput(GaussianSource, src, file, { ...invalid, path: at }), ddof, file, at) };
  if ('p' in src) return { kind: 'discrete', ...discrete(rate, parseInput(DiscreteSource, src, file, { ...invalid, path: at })) };
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
          discrete: file.discrete.map((s, i) => discrete(rate, parseInput(DiscreteSource, s, flags.input, { ...invalid, path: ['discrete', i] }))),
          gaussian: file.gaussian.map((s, i) => gaussian(rate, parseInput(GaussianSource, s, flags.input, { ...invalid, path: ['gaussian', i] }), d, flags.input, ['gaussian', i])),
        };
      } else result = one(rate, data, d, flags.input, []);
      if (flags.json) registry.printJson(result);
      else registry.print(JSON.stringify(result, null, 2));
    });
}
