/** Obfuscation rules (invisible characters, homoglyphs, encoded payloads, adversarial gibberish suffixes). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-obfuscation': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-obfuscation',
  version: '1.0.0',
  description: 'Obfuscation rules (invisible characters, homoglyphs, encoded payloads, adversarial gibberish suffixes).',
  rules: RULES,
});
