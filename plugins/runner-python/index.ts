/**
 * runner-python: executes Python code tasks per session, isolated and limited (see README.md).
 * Provides `runner:python`.
 */
import path from 'node:path';
import { definePlugin, type EnvOptional } from 'limit-graph';
import type { z } from 'zod';
import { RunnerPythonOptions } from './options.ts';
import { PythonRunner } from './runner.ts';

export { PythonRunner, effectiveLimits } from './runner.ts';
export { RunnerPythonOptions } from './options.ts';

/** Environment variable → the option it sets (meta.env); those options are optional in the config's type. */
const ENV = { LIMIT_PYTHON: 'python', LIMIT_PYTHON_VENV: 'venvPath' } as const;

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    'runner-python': EnvOptional<z.input<typeof RunnerPythonOptions>, typeof ENV>;
  }
}

export default definePlugin({
  meta: {
    name: 'runner-python',
    version: '0.1.0',
    description: 'Runs Python code per session: own directory and uid, network namespace, rlimits, pids cgroup, warm workers',
    provides: ['runner:python'],
    env: ENV,
  },
  options: RunnerPythonOptions,
  setup(ctx, options) {
    // venvPath's bin/python is the interpreter: a python given beside it (LIMIT_PYTHON, say) is not used, and says so.
    if (options.venvPath && options.python !== 'python3') {
      ctx.logger.warn({ venvPath: options.venvPath, python: options.python }, 'runner-python: venvPath is set, so its bin/python runs every session; the python option (or LIMIT_PYTHON) is not used');
    }
    const workDir = path.resolve(ctx.config.dataDir, options.workDir ?? 'sessions');
    // A relative venvPath, or an interpreter given as a path (./venv/bin/python), is the config file's
    // folder's, like every file option; a bare name (python3) is looked up on PATH.
    const fromConfig = (p: string) => path.resolve(ctx.config.rootDir, p);
    const resolved = {
      ...options,
      python: options.python.includes('/') ? fromConfig(options.python) : options.python,
      ...(options.venvPath ? { venvPath: fromConfig(options.venvPath) } : {}),
    };
    const runner = new PythonRunner({ options: resolved, workDir, logger: ctx.logger });
    ctx.provide('runner:python', runner);
    // Probing spawns processes: boot, not setup. A runtime made with boot:false probes on first use.
    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      await runner.start();
    });
    ctx.hooks.sessionClosed.tapPromise(ctx.name, (session) => runner.closeSession(session.id, session.tenant));
    return {
      dispose: () => runner.dispose(),
      health: () => runner.health(),
    };
  },
});
