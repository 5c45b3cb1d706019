/** Obfuscation rules (invisible characters, homoglyphs, encoded payloads, adversarial gibberish suffixes). */
import { definePlugin, LimitError, type RulePack } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { RULES } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-obfuscation': z.input<typeof Options>;
  }
}

export default definePlugin({
  meta: {
    name: 'governance-rules-obfuscation',
    version: '1.0.0',
    description: 'Obfuscation rules (invisible characters, homoglyphs, encoded payloads, adversarial gibberish suffixes).',
    provides: ['governance:rules:obfuscation'],
  },
  options: Options,
  setup(ctx, options) {
    const unknown = options.disable.filter((id) => !RULES.some((r) => r.id === id));
    if (unknown.length) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `governance-rules-obfuscation: disable names unknown rules ${unknown.join(', ')}`, {
        plugin: ctx.name, fix: `Use rule ids of this pack: ${RULES.map((r) => r.id).join(', ')}.`,
      });
    }
    const pack: RulePack = { name: 'obfuscation', rules: RULES.filter((r) => !options.disable.includes(r.id)) };
    ctx.provide('governance:rules:obfuscation', pack);
  },
});
