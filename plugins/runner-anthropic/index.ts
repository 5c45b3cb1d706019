/**
 * runner-anthropic: sends prompts to the Anthropic Messages API (or a gateway that speaks it, via
 * `baseURL`), keeping one conversation per session.
 */
import { definePlugin, type EnvOptional } from 'limit-graph';
import { RunnerAnthropicOptions, type RunnerAnthropicOptionsInput } from './options.ts';
import { AnthropicRunner } from './runner.ts';

export { AnthropicRunner } from './runner.ts';
export { RunnerAnthropicOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { ANTHROPIC_API_KEY: 'apiKey', ANTHROPIC_BASE_URL: 'baseURL', ANTHROPIC_MODEL: 'model' } as const;

declare module 'limit-graph' {
  interface Cradle {
    'runner:anthropic': AnthropicRunner;
  }
  interface PluginOptionsRegistry {
    'runner-anthropic': EnvOptional<RunnerAnthropicOptionsInput, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'runner-anthropic',
    version: '1.0.0',
    description: 'Runs prompts on Anthropic (Messages API), one conversation per session',
    provides: ['runner:anthropic'],
    env: ENV,
  },
  options: RunnerAnthropicOptions,
  setup(ctx, options) {
    const runner = new AnthropicRunner(options, ctx.logger);
    ctx.provide('runner:anthropic', runner);
    ctx.hooks.sessionClosed.tapPromise(ctx.name, (session) => runner.closeSession(session.id, session.tenant));
    return {
      dispose: () => runner.dispose(),
      health: () => runner.health(),
    };
  },
});
