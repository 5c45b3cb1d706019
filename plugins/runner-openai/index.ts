/**
 * runner-openai: sends prompts to the OpenAI chat completions API, or any server that speaks it
 * (`baseURL`), keeping one conversation per session.
 */
import { definePlugin, type EnvOptional } from 'limit-graph';
import { RunnerOpenAIOptions, type RunnerOpenAIOptionsInput } from './options.ts';
import { OpenAIRunner } from './runner.ts';

export { OpenAIRunner } from './runner.ts';
export { RunnerOpenAIOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { OPENAI_API_KEY: 'apiKey', OPENAI_BASE_URL: 'baseURL', OPENAI_MODEL: 'model' } as const;

declare module 'limit-graph' {
  interface Cradle {
    'runner:openai': OpenAIRunner;
  }
  interface PluginOptionsRegistry {
    'runner-openai': EnvOptional<RunnerOpenAIOptionsInput, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'runner-openai',
    version: '1.0.0',
    description: 'Runs prompts on OpenAI (or an OpenAI-compatible server), one conversation per session',
    provides: ['runner:openai'],
    env: ENV,
  },
  options: RunnerOpenAIOptions,
  setup(ctx, options) {
    const runner = new OpenAIRunner(options, ctx.logger);
    ctx.provide('runner:openai', runner);
    ctx.hooks.sessionClosed.tapPromise(ctx.name, (session) => runner.closeSession(session.id, session.tenant));
    return {
      dispose: () => runner.dispose(),
      health: () => runner.health(),
    };
  },
});
