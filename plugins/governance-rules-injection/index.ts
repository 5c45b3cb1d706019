/** Prompt-injection rules (instruction override, system-prompt extraction, role tags, hidden markup, exfiltration links, instructions planted in data). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-injection': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-injection',
  version: '1.0.0',
  description: 'Prompt-injection rules (instruction override, system-prompt extraction, role tags, hidden markup, exfiltration links, instructions planted in data).',
  rules: RULES,
});
