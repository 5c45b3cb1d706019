/** Unverified: parents (and stored traces) whose provenance chain is missing or broken. */
import { definePlugin } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { createProvenanceRules } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-provenance': z.input<typeof Options>;
  }
}

export default definePlugin({
  meta: {
    name: 'governance-rules-provenance',
    version: '1.0.0',
    description: 'Unverified flags: missing or broken provenance chains (needs storage).',
    provides: ['governance:rules:provenance'],
    optionalDependsOn: ['storage'],
  },
  options: Options,
  setup(ctx) {
    // Storage is looked up when a rule runs: without it (CLI check/eval) there is nothing to verify.
    ctx.provide('governance:rules:provenance', { name: 'provenance', rules: createProvenanceRules(() => (ctx.has('storage') ? ctx.resolve('storage') : undefined)) });
    return {
      health: () =>
        ctx.has('storage')
          ? { status: 'ok' as const, checks: [] }
          : { status: 'degraded' as const, message: 'no storage plugin: provenance chains cannot be verified', checks: [] },
    };
  },
});
