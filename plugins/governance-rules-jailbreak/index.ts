/** Jailbreak persona and template rules (DAN-style personas, constraint removal, refusal suppression, dual-response formats). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-jailbreak': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-jailbreak',
  version: '1.0.0',
  description: 'Jailbreak persona and template rules (DAN-style personas, constraint removal, refusal suppression, dual-response formats).',
  rules: RULES,
});
