/**
 * `classifier.linear`: a small linear model's reading of a text — the safety net under the rules
 * for phrasings no rule was written for. It never blocks alone: its findings sit in the review band
 * (severity 5, 6 when the model is nearly certain), so under the `default` preset a text only the
 * model flags waits for a person instead of being refused. A judge-phase rule: it reads the scan's
 * findings and stays silent where they already reach its highest severity (6), since it could
 * change neither the decision nor what the trace is flagged for.
 */
import { readFileSync } from 'node:fs';
import { evidenceSpan, LimitError, type Finding, type GovernanceRule, type RuleSubject, type TextView } from 'limit-graph';
import { CLASSES, type LinearModel, type LinearModelV1, type LoadedModel, load, predictWords, upgrade } from './model.ts';
import type { Options } from './options.ts';

/** The classifier's severities: the review band of the `default` preset, never a block by itself there. */
const SEVERITY = 5;
const HIGH_SEVERITY = 6;

/** The flag of each attack class. */
const KIND = { harmful: 'Unsafe', jailbreak: 'Jailbreak', injection: 'Malicious' } as const;

/** Why a model file could not be read, in words: missing, not a file, not readable, or the system's reason. */
function unreadable(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'it is a directory, not a file'
      : code === 'EACCES' || code === 'EPERM' ? `it is not readable (${code}: permission denied)`
        : `it is unreadable (${message})`;
}

/**
 * Reads and checks a model file, naming the file in every error. `option` is set when the file came
 * from the plugin's options (`modelPath`): then a file that cannot be read or is not a model is an
 * options error (LIMIT_PLUGIN_OPTIONS_INVALID with details.option, so the loader names where the
 * option was set); without it (the shipped model) it is a setup failure.
 */
export function readModel(file: string, option?: { plugin: string; name: 'modelPath' }): LoadedModel {
  const refuse = (message: string, fix: string): never => {
    throw option
      ? new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `${option.plugin}: ${option.name} ${message}`, {
        plugin: option.plugin, details: { option: [option.name], file }, fix: `${fix} Or leave ${option.name} out for the shipped model.`,
      })
      : new LimitError('LIMIT_PLUGIN_SETUP_FAILED', `governance-rules-classifier: ${message}`, { plugin: 'governance-rules-classifier', details: { file }, fix });
  };
  const retrain = 'Retrain it with plugins/governance-rules-classifier/train.ts.';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return refuse(`cannot read the model ${file}: ${unreadable(error)}`,
      option ? `Point ${option.name} at a readable file written by plugins/governance-rules-classifier/train.ts (a relative path is read from ${process.cwd()}).` : 'Reinstall the package, or rebuild it (`npm run build` copies model.json beside the compiled code).');
  }
  let stored: LinearModel | LinearModelV1;
  try {
    stored = JSON.parse(text) as LinearModel | LinearModelV1;
  } catch (error) {
    return refuse(`cannot read the model ${file}: it is not JSON (${(error as Error).message})`,
      option ? `Point ${option.name} at a model file written by plugins/governance-rules-classifier/train.ts.` : retrain);
  }
  const model = stored?.version === 1 && stored.weights !== null && typeof stored.weights === 'object' && !Array.isArray(stored.weights) ? upgrade(stored) : stored as LinearModel;
  const problem = model?.format !== 'limit-graph/linear-text-classifier' ? 'format is not limit-graph/linear-text-classifier'
    : (model.version as number) === 1 ? 'version 1 weights must map each feature to its weight row'
      : model.version !== 2 ? `version ${String(model.version)} is neither 1 nor 2`
      : JSON.stringify(model.classes) !== JSON.stringify(CLASSES) ? `classes must be ${CLASSES.join(', ')}`
        : !Array.isArray(model.bias) || model.bias.length !== CLASSES.length || !model.bias.every(Number.isFinite) ? 'bias must hold one finite number per class'
          : !Array.isArray(model.features) || !model.features.every((f) => typeof f === 'string') ? 'features must be an array of strings'
            : !Array.isArray(model.weights) || model.weights.length !== model.features.length * CLASSES.length || !model.weights.every(Number.isFinite)
              ? `weights must hold ${CLASSES.length} finite numbers per feature (${model.features.length * CLASSES.length})`
              : undefined;
  if (problem) refuse(`the model ${file} is invalid: ${problem}`, retrain);
  return load(model);
}

function viewOf(subject: RuleSubject): TextView | undefined {
  return subject.view ?? subject.views?.[0];
}

export function createClassifierRule(model: LoadedModel, options: Pick<Options, 'minProbability' | 'highProbability'>): GovernanceRule {
  return {
    id: 'classifier.linear',
    // The flag of the class the model names; Unsafe is the rule's declared default.
    flag: 'Unsafe',
    surfaces: ['input', 'tool'],
    phase: 'judge',
    description: 'A linear model of words and word pairs, trained on prompts written for this project: harmful, jailbreak and injection texts no rule describes, for review.',
    evaluate(subject, ctx) {
      const view = viewOf(subject);
      if (!view || ctx.findings?.some((f) => f.severity >= HIGH_SEVERITY)) return [];
      const tokens = view.tokens;
      const scored = predictWords(model, tokens);
      const p = scored.p;
      const attack = 1 - p[0]!;
      if (attack < options.minProbability) return [];
      // The attack class the model favours, and the words that pushed it there most.
      let k = 1;
      for (let c = 2; c < CLASSES.length; c++) if (p[c]! > p[k]!) k = c;
      const cls = CLASSES[k] as keyof typeof KIND;
      const spans = scored.strongest(k).map(({ first, last }) => ({ start: tokens[first]!.start, end: tokens[last]!.end }));
      const evidence = spans.map((t) => evidenceSpan(subject, t.start, t.end));
      const words = spans.map((t) => `"${view.text.slice(t.start, t.end)}"`).join(', ');
      const finding: Finding = {
        ruleId: 'classifier.linear',
        kind: KIND[cls],
        severity: attack >= options.highProbability ? HIGH_SEVERITY : SEVERITY,
        reason: `Linear model: ${cls} (attack probability ${attack.toFixed(3)}${words ? `; strongest words ${words}` : ''})`,
        evidence,
        confidence: Math.round(attack * 1000) / 1000,
      };
      return [finding];
    },
  };
}
