/** Optional LLM judge: asks a configured runner for a strict-JSON verdict in the uncertain band. */
import { defineRulePack, LimitError, RulePackOptions } from 'limit-graph';
import type { z } from 'zod';
import { Options } from './options.ts';
import { createJudgeRule } from './rules.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'governance-rules-llm-judge': z.input<typeof Options> & z.input<typeof RulePackOptions>;
  }
}

export default defineRulePack({
  name: 'governance-rules-llm-judge',
  version: '1.0.0',
  description: 'LLM judge for the uncertain severity band; fails closed (or to review, onFailure) on timeout or a bad answer.',
  dependsOn: ['runner:*'],
  options: Options,
  rules: (ctx, options) => {
    const key = `runner:${options.runner}` as const;
    const getRunner = () => {
      if (!ctx.has(key)) {
        throw new LimitError('LIMIT_RUNNER_NOT_FOUND', `governance-rules-llm-judge: runner "${options.runner}" is not registered`, {
          plugin: ctx.name, fix: `Enable the runner plugin that provides "${key}", or set plugins['governance-rules-llm-judge'].runner to one of: ${ctx.keys('runner:').join(', ') || '(none)'}.`,
        });
      }
      return ctx.resolve(key);
    };
    return [createJudgeRule(options, getRunner)];
  },
});
