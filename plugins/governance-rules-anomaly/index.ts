/** Anomaly rules: rolling baselines per tenant and runner (z-scores), output loops, encoding anomalies. */
import { defineRulePack, LimitError, RulePackOptions } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { createAnomalyRules } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-anomaly': z.input<typeof Options> & z.input<typeof RulePackOptions>;
  }
}

export default defineRulePack({
  name: 'governance-rules-anomaly',
  version: '1.0.0',
  description: 'Anomaly rules: rolling baselines of output length, latency and token rate per tenant and runner; loops; encoding anomalies.',
  options: Options,
  // Baselines are per process (in this closure), per tenant and runner, LRU-bounded: see README.
  rules: (ctx, options) => {
    // A baseline holds at most `window` samples: with more needed, no z-score would ever be flagged.
    if (options.minSamples > options.window) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `governance-rules-anomaly: minSamples ${options.minSamples} is above window ${options.window}: a baseline holds at most window samples, so anomaly.baseline would never flag`, {
        plugin: ctx.name, details: { option: ['minSamples'] }, fix: `Set minSamples at most window (${options.window}), or raise window.`,
      });
    }
    return createAnomalyRules(options);
  },
});
