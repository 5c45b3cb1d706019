/** Anomaly rules: rolling baselines per tenant and runner (z-scores), output loops, encoding anomalies. */
import { defineRulePack, RulePackOptions } from 'limit-graph';
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
  rules: (_ctx, options) => createAnomalyRules(options),
});
