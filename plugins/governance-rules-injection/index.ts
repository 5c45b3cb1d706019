/** Prompt-injection rules (instruction override, system-prompt extraction, role tags, hidden markup, exfiltration links, instructions planted in data). */
import { definePlugin, LimitError, type RulePack } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-injection': z.input<typeof Options>;
  }
}

export default definePlugin({
  meta: {
    name: 'governance-rules-injection',
    version: '1.0.0',
    description: 'Prompt-injection rules (instruction override, system-prompt extraction, role tags, hidden markup, exfiltration links, instructions planted in data).',
    provides: ['governance:rules:injection'],
  },
  options: Options,
  setup(ctx, options) {
    const unknown = options.disable.filter((id) => !RULES.some((r) => r.id === id));
    if (unknown.length) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `governance-rules-injection: disable names unknown rules ${unknown.join(', ')}`, {
        plugin: ctx.name, fix: `Use rule ids of this pack: ${RULES.map((r) => r.id).join(', ')}.`,
      });
    }
    const pack: RulePack = { name: 'injection', rules: RULES.filter((r) => !options.disable.includes(r.id)) };
    ctx.provide('governance:rules:injection', pack);
  },
});
