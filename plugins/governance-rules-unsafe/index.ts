/** Unsafe-request rules (harm to people, self-harm, crimes, weapons, malware, disinformation). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-unsafe': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-unsafe',
  version: '1.0.0',
  description: 'Unsafe-request rules (harm to people, self-harm, crimes, weapons, malware, disinformation).',
  rules: RULES,
});
