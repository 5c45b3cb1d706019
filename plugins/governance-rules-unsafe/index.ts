/** Unsafe-request rules (harm to people, self-harm, crimes, weapons, malware, disinformation). */
import { definePlugin, LimitError, type RulePack } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-unsafe': z.input<typeof Options>;
  }
}

export default definePlugin({
  meta: {
    name: 'governance-rules-unsafe',
    version: '1.0.0',
    description: 'Unsafe-request rules (harm to people, self-harm, crimes, weapons, malware, disinformation).',
    provides: ['governance:rules:unsafe'],
  },
  options: Options,
  setup(ctx, options) {
    const unknown = options.disable.filter((id) => !RULES.some((r) => r.id === id));
    if (unknown.length) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `governance-rules-unsafe: disable names unknown rules ${unknown.join(', ')}`, {
        plugin: ctx.name, fix: `Use rule ids of this pack: ${RULES.map((r) => r.id).join(', ')}.`,
      });
    }
    const pack: RulePack = { name: 'unsafe', rules: RULES.filter((r) => !options.disable.includes(r.id)) };
    ctx.provide('governance:rules:unsafe', pack);
  },
});
