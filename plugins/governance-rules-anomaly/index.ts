/** Anomaly rules: per-runner rolling baselines (z-scores), output loops, encoding anomalies. */
import { definePlugin } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { createAnomalyRules } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-anomaly': z.input<typeof Options>;
  }
}

export default definePlugin({
  meta: {
    name: 'governance-rules-anomaly',
    version: '1.0.0',
    description: 'Anomaly rules: rolling per-runner baselines of output length, latency and token rate; loops; encoding anomalies.',
    provides: ['governance:rules:anomaly'],
  },
  options: Options,
  setup(ctx, options) {
    // Baselines are per process (in this closure): see README for why that is acceptable.
    ctx.provide('governance:rules:anomaly', { name: 'anomaly', rules: createAnomalyRules(options) });
  },
});
