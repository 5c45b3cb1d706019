/** HighRisk rules (side-effecting operations: removals, file writes, network calls, processes, privileges). */
import { defineRulePack } from 'limit-graph';
import type { z } from 'zod';
import type { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-highrisk': z.input<typeof Options>;
  }
}

export default defineRulePack({
  name: 'governance-rules-highrisk',
  version: '1.0.0',
  description: 'HighRisk rules (side-effecting operations: removals, file writes, network calls, processes, privileges).',
  rules: RULES,
});
