/**
 * `limit governance check | eval | stats`: check and eval use the engine with the loaded plugins'
 * governInput/governOutput taps (no storage needed), so they decide as the pipeline does.
 */
import { performance } from 'node:perf_hooks';
import { LimitError, atExit, parseInput, readInputText, z, type CommandRegistry, type Finding, type Surface, type Trace } from 'limit-graph';
import type { GovernanceEngine } from './engine.ts';
import { LABELS, computeMetrics, roundMetrics, type EvalItem } from './metrics.ts';

type PresetName = 'permissive' | 'default' | 'strict';
const PRESETS = ['permissive', 'default', 'strict'];
const SURFACES = ['input', 'output', 'tool'];

export interface CliDeps {
  /** undefined: the configured preset with the config's overrides; a name (--preset): that preset as shipped. */
  engineFor(preset: PresetName | undefined): Promise<GovernanceEngine>;
  /**
   * The governInput/governOutput taps of the loaded plugins for a check on `surface`, as the engine's
   * `extra` (governTaps), or undefined when none is tapped; called after engineFor (the runtime is up).
   */
  taps: TapsFor;
  tenant: () => string;
}

/** The governInput/governOutput taps for a check on `surface` (the engine's `extra`), or undefined for none. */
export type TapsFor = (surface: Surface, signal?: AbortSignal) => ((findings: Finding[], trace: Trace) => Promise<Finding[]>) | undefined;

function presetArg(value: string | undefined): PresetName | undefined {
  if (value === undefined) return undefined;
  if (!PRESETS.includes(value)) throw new LimitError('LIMIT_VALIDATION', `--preset "${value}" is not a governance preset`, { fix: `Use one of: ${PRESETS.join(', ')}.` });
  return value as PresetName;
}

function surfaceArg(value: string | undefined): Surface {
  const s = value ?? 'input';
  if (!SURFACES.includes(s)) throw new LimitError('LIMIT_VALIDATION', `--surface "${s}" is not a surface`, { fix: `Use one of: ${SURFACES.join(', ')}.` });
  return s as Surface;
}

// Every line is checked: an unknown label (a typo of an attack label, "maybe") must not be counted
// as benign, and a bad surface is the line's fault, not an option's.
const DatasetLine = z.object({
  id: z.string().optional(),
  text: z.string(),
  label: z.enum(LABELS, {
    error: (issue) => (issue.input === undefined ? `Required: one of ${LABELS.join(', ')}` : `Unknown label ${JSON.stringify(issue.input)}; use one of ${LABELS.join(', ')}`),
  }),
  surface: z.enum(SURFACES as [Surface, ...Surface[]], { error: (issue) => `Unknown surface ${JSON.stringify(issue.input)}; use one of ${SURFACES.join(', ')}` }).optional(),
});
type Line = z.output<typeof DatasetLine>;

/**
 * Reads a labelled JSONL dataset, one `{ text, label, id?, surface? }` per line; errors name the
 * file and line (`set.jsonl:12 › label: …`). A dataset without items is an error too: its metrics
 * would be meaningless (balanced accuracy 0.5 of nothing).
 */
export function readDataset(file: string): Line[] {
  // A folder, a pipe, a device, a file over MAX_INPUT_BYTES or text that is not UTF-8 is refused
  // before anything is evaluated (a pipe would block the process, Ctrl-C included).
  const raw = readInputText(file, { option: '--dataset' });
  const lines: Line[] = [];
  raw.split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (error) {
      throw new LimitError('LIMIT_VALIDATION', `${file}:${i + 1}: not valid JSON (${(error as Error).message})`, { details: { file, line: i + 1 }, fix: 'Write one JSON object per line.' });
    }
    lines.push(parseInput(DatasetLine, obj, `${file}:${i + 1}`));
  });
  if (lines.length === 0) {
    throw new LimitError('LIMIT_VALIDATION', `Dataset "${file}" has no items`, {
      details: { file },
      fix: `Add one JSON object { "text": …, "label": ${LABELS.map((l) => `"${l}"`).join(' | ')} } per line.`,
    });
  }
  return lines;
}

/**
 * Positive = the preset would intervene (block, quarantine or review). `signal` stops it: the
 * evaluation in flight is aborted (an async rule's ctx.signal, a judge's model request), and every
 * 32 items it yields to the event loop, so that a SIGINT handler gets to run even when the rules
 * answer without real I/O. The metrics are exact: an output rounds them as it prints them (roundMetrics).
 * `taps`: the governInput/governOutput taps each item's check applies (the CLI's: the loaded plugins'),
 * so that what is measured is what the pipeline decides; without taps the engine's rules alone.
 */
export async function evaluateDataset(engine: GovernanceEngine, lines: Line[], surface: Surface, onProgress?: (done: number) => void, signal?: AbortSignal, taps?: TapsFor) {
  const items: EvalItem[] = [];
  const started = performance.now();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const t0 = performance.now();
    const on = line.surface ?? surface;
    const verdict = await engine.check(line.text, on, { signal }, taps?.(on, signal));
    items.push({ ...(line.id ? { id: line.id } : {}), label: line.label, positive: verdict.decision !== 'allow', severity: verdict.maxSeverity ?? 0, latencyMs: performance.now() - t0 });
    if ((i & 31) === 0) {
      onProgress?.(i + 1);
      if (signal) {
        await new Promise((resolve) => setImmediate(resolve));
        signal.throwIfAborted();
      }
    }
  }
  onProgress?.(lines.length);
  return { preset: engine.preset.name, ...computeMetrics(items, performance.now() - started) };
}

export function registerCommands(registry: CommandRegistry, deps: CliDeps): void {
  const gov = registry.program.command('governance').description('check texts, evaluate rule quality, show statistics');

  gov
    .command('check')
    .description('evaluate one text and print the decision and flags')
    .requiredOption('--text <text>', 'the text to check')
    .option('--surface <surface>', 'input | output | tool', 'input')
    .option('--preset <preset>', 'permissive | default | strict, as shipped: the config\'s policy, blockSeverity and reviewBand are not applied (default: the configured preset, with them)')
    .option('--json', 'one JSON document on stdout')
    .action(async (opts: { text: string; surface?: string; preset?: string; json?: boolean }) => {
      const surface = surfaceArg(opts.surface);
      const engine = await deps.engineFor(presetArg(opts.preset));
      // SIGINT/SIGTERM abort the evaluation: an LLM judge's model request is cancelled, not waited on.
      const verdict = await engine.check(opts.text, surface, { signal: registry.signal }, deps.taps(surface, registry.signal));
      const doc = {
        decision: verdict.decision,
        preset: engine.preset.name,
        surface,
        maxSeverity: verdict.maxSeverity ?? 0,
        reasons: verdict.reasons,
        flags: verdict.findings.map((f) => ({ kind: f.kind, severity: f.severity, ruleId: f.ruleId, reason: f.reason, evidence: f.evidence })),
      };
      if (opts.json) return registry.printJson(doc);
      const lines = [`decision: ${doc.decision} (preset ${doc.preset}, surface ${surface})`, ...doc.reasons.map((r) => `  because ${r}`)];
      for (const f of doc.flags) lines.push(`  ${f.kind} ${f.severity} ${f.ruleId}: ${f.reason}${f.evidence[0] ? ` — "${f.evidence[0].excerpt.replace(/\s+/g, ' ').slice(0, 80)}"` : ''}`);
      registry.print(lines.join('\n'));
    });

  gov
    .command('eval')
    .description('evaluate a labelled JSONL dataset ({ text, label, id? }) and print quality metrics')
    .requiredOption('--dataset <file>', 'JSONL file')
    .option('--preset <preset>', 'permissive | default | strict, as shipped: the config\'s policy, blockSeverity and reviewBand are not applied (default: the configured preset, with them)')
    .option('--surface <surface>', 'surface for lines without one', 'input')
    .option('--json', 'one JSON document on stdout')
    .action(async (opts: { dataset: string; preset?: string; surface?: string; json?: boolean }) => {
      const lines = readDataset(opts.dataset);
      const engine = await deps.engineFor(presetArg(opts.preset));
      let bar: { start(total: number, value: number): void; update(v: number): void; stop(): void } | undefined;
      let release = () => {};
      if (process.stderr.isTTY && !opts.json) {
        const { default: cliProgress } = await import('cli-progress');
        bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'governance eval [{bar}] {value}/{total}' }, cliProgress.Presets.shades_classic);
        bar.start(lines.length, 0);
        // The bar turns line wrapping off and hides the cursor: stop() restores them, whatever ends the command.
        release = atExit(() => bar!.stop());
      }
      let result: Awaited<ReturnType<typeof evaluateDataset>>;
      try {
        result = await evaluateDataset(engine, lines, surfaceArg(opts.surface), bar ? (n) => bar!.update(n) : undefined, registry.signal, deps.taps);
      } finally {
        bar?.stop();
        release();
      }
      if (opts.json) return registry.printJson({ dataset: opts.dataset, ...roundMetrics(result) });
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      const out = [
        `preset ${result.preset} on ${opts.dataset}: ${result.count} items (${result.attacks} attacks, ${result.benign} benign)`,
        `recall ${pct(result.recall)}  fpr ${pct(result.fpr)}  precision ${pct(result.precision)}  f1 ${result.f1.toFixed(3)}  balanced accuracy ${result.balancedAccuracy.toFixed(3)}  roc-auc ${result.rocAuc?.toFixed(3) ?? 'n/a'}`,
        ...Object.entries(result.perLabel).map(([l, e]) => `  ${l.padEnd(10)} ${e.recall !== undefined ? `recall ${pct(e.recall)}` : `fpr ${pct(e.fpr ?? 0)}`} (${e.flagged}/${e.count})`),
        ...Object.entries(result.perSource).map(([s, e]) => `  ${s.padEnd(28)} ${e.label.padEnd(10)} ${pct(e.rate)} flagged (${e.flagged}/${e.count})`),
        `latency p50 ${result.latencyMs.p50.toFixed(3)} ms  p99 ${result.latencyMs.p99.toFixed(3)} ms  throughput ${result.throughputPerSec}/s`,
      ];
      registry.print(out.join('\n'));
    });

  gov
    .command('stats')
    .description('persisted governance statistics of the tenant (needs storage)')
    .option('--json', 'one JSON document on stdout')
    .action(async (opts: { json?: boolean }) => {
      const rt = await registry.runtime();
      const stats = await rt.resolve('governance').stats(deps.tenant());
      if (opts.json) return registry.printJson(stats);
      registry.print(Object.entries(stats).map(([k, v]) => `${k}: ${v}`).join('\n') || 'no statistics yet');
    });
}
