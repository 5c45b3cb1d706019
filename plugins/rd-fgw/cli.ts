/** `limit rd fgw --input CASE.json [--method] [--alpha] [--epsilon] --json`. */
import { LimitError, isLimitError, optionalNumberOption, rdCommandGroup, readJsonFile, type CommandRegistry, type NumberOptionSpec } from 'limit-graph';
import { sparsePlan } from './api.ts';
import { distortionValue } from './distortion.ts';

async function readCase(file: string): Promise<Record<string, unknown>> {
  const data = await readJsonFile(file);
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file}: expected a case object { M, C1, C2, p, q } or { source, target }`, { details: { file } });
  }
  const o = data as Record<string, unknown>;
  // A whole reference file (fgw_public.json) holds its cases in `cases`: say so, not "C1: is required".
  if (Array.isArray(o.cases) && !('M' in o) && !('C1' in o) && !('source' in o)) {
    throw new LimitError('LIMIT_RD_INVALID_INPUT', `${file}: holds a list of ${o.cases.length} cases (a reference file); --input takes one case { M, C1, C2, p, q } or { source, target }`, {
      details: { file, path: 'cases' },
      fix: `Write one of its cases to a file of its own (e.g. jq '.cases[0]' ${file} > case.json) and pass that.`,
    });
  }
  return o;
}

interface FgwFlags {
  input: string;
  method?: string;
  alpha?: string;
  epsilon?: string;
  solver?: string;
  maxIter?: string;
  planThreshold?: string;
  json?: boolean;
}

// Ranges are the solver's to check (its errors name the option); here only "is it a number" — an
// empty --alpha "" must not read as 0.
const num = (option: string, v: string | undefined, spec: NumberOptionSpec = {}): number | undefined =>
  optionalNumberOption(option, v, { code: 'LIMIT_RD_INVALID_INPUT', ...spec });

/** The flag of each solver option the command line can set. */
const FLAG_OF: Readonly<Record<string, string>> = { method: '--method', alpha: '--alpha', epsilon: '--epsilon', solver: '--solver', maxIter: '--max-iter', planThreshold: '--plan-threshold' };

/**
 * A solver input error in the command line's words: `options.alpha: …` is `--alpha: …` when the
 * flag gave the value, and any other field (`C1: is required`, an `options` key of the file) is
 * prefixed with the input file (`case.json › C1: …`).
 */
function inCliTerms(error: unknown, file: string, fromFlags: ReadonlySet<string>): unknown {
  if (!isLimitError(error, 'LIMIT_RD_INVALID_INPUT')) return error;
  const where = error.plugin ? { plugin: error.plugin } : {};
  const key = /^options\.(\w+): /.exec(error.message)?.[1];
  if (key && fromFlags.has(key) && FLAG_OF[key]) {
    const flag = FLAG_OF[key];
    return new LimitError('LIMIT_RD_INVALID_INPUT', `${flag}: ${error.message.slice(`options.${key}: `.length)}`, {
      ...where, details: { ...error.details, field: flag }, fix: `Correct ${flag}, or leave it out to use the plugin's configured value.`,
    });
  }
  return new LimitError('LIMIT_RD_INVALID_INPUT', `${file} › ${error.message}`, { ...where, details: { ...error.details, file }, fix: `Correct the field named in the message in ${file}.` });
}

export function registerFgwCommand(registry: CommandRegistry): void {
  const rd = rdCommandGroup(registry.program);
  if (rd.commands.some((c) => c.name() === 'fgw')) return;
  rd.command('fgw')
    .description('FGW distortion of a case: reference-format matrices { M, C1, C2, p, q } or graphs { source, target, options? }')
    .requiredOption('--input <file>', 'case JSON')
    .option('--method <method>', 'exact or entropic (default: the plugin option)')
    .option('--alpha <alpha>', 'weight of the structure term, in [0, 1]')
    .option('--epsilon <epsilon>', 'entropic regularisation (absolute)')
    .option('--solver <solver>', 'entropic inner solver: log or scaling')
    .option('--max-iter <n>', 'outer iteration cap')
    .option('--plan-threshold <t>', 'leave plan entries ≤ t out (default: the plugin option)')
    .option('--json', 'print { value, iterations, converged, plan, …, rawValue } as one JSON document')
    .action(async (flags: FgwFlags) => {
      const data = await readCase(flags.input);
      // `options` of another type is refused, not read as none (`"options": "entropic"` solved exact).
      if (data.options !== undefined && (data.options === null || typeof data.options !== 'object' || Array.isArray(data.options))) {
        const got = data.options === null ? 'null' : Array.isArray(data.options) ? 'a list' : `${typeof data.options} ${JSON.stringify(data.options)}`;
        throw new LimitError('LIMIT_RD_INVALID_INPUT', `${flags.input} › options: must be an object of rd-fgw options ({ "method": "entropic", "alpha": 0.3, … }), got ${got}`, {
          plugin: 'rd-fgw', details: { file: flags.input, field: 'options' }, fix: `Give options as an object in ${flags.input}, or leave the field out.`,
        });
      }
      const fileOptions = (data.options ?? {}) as Record<string, unknown>;
      const options: Record<string, unknown> = { ...fileOptions };
      const set = (key: string, value: unknown): void => {
        if (value !== undefined) options[key] = value;
      };
      set('method', flags.method);
      set('alpha', num('--alpha', flags.alpha));
      set('epsilon', num('--epsilon', flags.epsilon));
      set('solver', flags.solver);
      set('maxIter', num('--max-iter', flags.maxIter, { integer: true }));
      set('planThreshold', num('--plan-threshold', flags.planThreshold));
      const rt = await registry.runtime();
      const fgw = rt.resolve('rd:fgw');
      // Either graph named makes it the graph form: one missing is refused naming it (compute), not
      // read as matrices without C1.
      const input = 'source' in data || 'target' in data ? { source: data.source, target: data.target } : data;
      const fromFlags = new Set(Object.keys(FLAG_OF).filter((k) => options[k] !== undefined && options[k] !== fileOptions[k]));
      let res: ReturnType<typeof fgw.compute>;
      try {
        res = fgw.compute(input as Parameters<typeof fgw.compute>[0], options);
      } catch (error) {
        throw inCliTerms(error, flags.input, fromFlags);
      }
      const threshold = (options.planThreshold as number | undefined) ?? fgw.defaults.planThreshold;
      const method = (options.method as string | undefined) ?? fgw.defaults.method;
      const alpha = (options.alpha as number | undefined) ?? fgw.defaults.alpha;
      // The distortion as `distortion` and POST /rd/distortion report it (never below 0: the solver's sum
      // can end a few ulps under 0 for a graph against itself); --json also gives compute's raw value.
      const value = distortionValue(res.value);
      const out = {
        value,
        iterations: res.iterations,
        converged: res.converged,
        plan: sparsePlan(res, threshold),
        method,
        alpha,
        linTerm: res.linTerm,
        gwTerm: res.gwTerm,
        n1: res.n1,
        n2: res.n2,
        rawValue: res.value,
      };
      if (flags.json) registry.printJson(out);
      else {
        const raw = value === res.value ? '' : ` (the solver's sum ${res.value}: rounding below 0)`;
        registry.print(
          `FGW (${method}, α = ${alpha}) = ${value}${raw}\n  iterations ${res.iterations}, ${res.converged ? 'converged' : 'NOT converged'}; ` +
            `⟨M,T⟩ = ${res.linTerm}, structure term = ${res.gwTerm}; ${out.plan.length} plan entries`,
        );
      }
    });
}
