/** Unverified: parents (and stored traces) whose provenance chain is missing or broken. */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { createProvenanceRules } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-provenance': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-provenance',
  version: '1.0.0',
  description: 'Unverified flags: missing or broken provenance chains (needs storage).',
  optionalDependsOn: ['storage'],
  // Storage is looked up when a rule runs: without it (CLI check/eval) there is nothing to verify.
  rules: (ctx) => createProvenanceRules(() => (ctx.has('storage') ? ctx.resolve('storage') : undefined)),
  health: (ctx) =>
    ctx.has('storage')
      ? { status: 'ok' as const, checks: [] }
      : { status: 'degraded' as const, message: 'no storage plugin: provenance chains cannot be verified', checks: [] },
});
