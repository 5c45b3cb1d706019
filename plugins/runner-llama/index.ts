/**
 * runner-llama: runs prompts on a local GGUF model through node-llama-cpp (llama.cpp). The model is
 * loaded once per runtime at boot; every session gets its own context sequence and chat history.
 */
import path from 'node:path';
import { definePlugin, type EnvOptional } from 'limit-graph';
import { RunnerLlamaOptions, type RunnerLlamaOptionsInput } from './options.ts';
import { LlamaRunner } from './runner.ts';

export { LlamaRunner } from './runner.ts';
export { RunnerLlamaOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { LLAMA_MODEL_PATH: 'modelPath' } as const;

declare module 'limit-graph' {
  interface Cradle {
    'runner:llama': LlamaRunner;
  }
  interface PluginOptionsRegistry {
    'runner-llama': EnvOptional<RunnerLlamaOptionsInput, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'runner-llama',
    version: '1.0.0',
    description: 'Runs prompts on a local GGUF model (llama.cpp via node-llama-cpp), one chat per session',
    provides: ['runner:llama'],
    env: ENV,
  },
  options: RunnerLlamaOptions,
  setup(ctx, options) {
    // A relative path is the config file's folder's (as storage and TLS files are), not the working
    // directory's: `limit` finds the config upward from a subfolder.
    const runner = new LlamaRunner({ ...options, modelPath: path.resolve(ctx.config.rootDir, options.modelPath) }, ctx.logger);
    ctx.provide('runner:llama', runner);
    // Loading a model takes a while and allocates memory: boot, not setup, so `limit config` stays cheap.
    ctx.hooks.boot.tapPromise(ctx.name, () => runner.load());
    ctx.hooks.sessionClosed.tapPromise(ctx.name, (session) => runner.closeSession(session.id, session.tenant));
    return {
      dispose: () => runner.dispose(),
      health: () => runner.health(),
    };
  },
});
