/** Malicious-operation rules (destructive shell/SQL, reverse shells, curl | sh, credential theft, code exfiltration). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-malicious': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-malicious',
  version: '1.0.0',
  description: 'Malicious-operation rules (destructive shell/SQL, reverse shells, curl | sh, credential theft, code exfiltration).',
  rules: RULES,
});
