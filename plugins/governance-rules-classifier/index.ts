/** A linear text classifier as a rule pack: the review-band safety net under the rule packs. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineRulePack, LimitError, RulePackOptions } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { createClassifierRule, readModel } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-classifier': z.input<typeof Options> & z.input<typeof RulePackOptions>;
  }
}

/** The shipped model (trained by train.ts from data/train.jsonl; copied beside the compiled code by `npm run build`). */
export const MODEL_FILE = fileURLToPath(new URL('./model.json', import.meta.url));

export default defineRulePack({
  name: 'governance-rules-classifier',
  version: '1.0.0',
  description: 'A linear text classifier (words and word pairs) for harmful, jailbreak and injection texts the rules miss; findings in the review band.',
  options: Options,
  rules: (ctx, options) => {
    if (options.highProbability < options.minProbability) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `governance-rules-classifier: highProbability ${options.highProbability} is below minProbability ${options.minProbability}`, {
        plugin: ctx.name, details: { option: ['highProbability'] }, fix: 'Set highProbability at least as high as minProbability.',
      });
    }
    // A relative modelPath is the config file's folder's, like every file option (storage, TLS, runner-llama's model).
    return [createClassifierRule(options.modelPath === undefined ? readModel(MODEL_FILE) : readModel(path.resolve(ctx.config.rootDir, options.modelPath), { plugin: ctx.name, name: 'modelPath' }), options)];
  },
});
