import { LimitError } from './errors.ts';

/** Rejects with LIMIT_PLUGIN_SETUP_TIMEOUT naming the plugin and phase when `promise` takes longer than `ms` (0 = no limit). */
export function withPluginTimeout<T>(promise: Promise<T>, ms: number, plugin: string, phase: string): Promise<T> {
  if (!ms) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LimitError('LIMIT_PLUGIN_SETUP_TIMEOUT', `Plugin "${plugin}" did not finish ${phase} within ${ms} ms`, { plugin, hook: phase, details: { timeoutMs: ms } })),
      ms,
    );
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
