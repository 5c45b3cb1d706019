import { LimitError } from './errors.ts';

/**
 * The longest delay Node's setTimeout keeps (2^31 − 1 ms, about 24.8 days): a longer one is replaced
 * by 1 ms, so a time limit above it would expire at once.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Rejects with LIMIT_PLUGIN_SETUP_TIMEOUT naming the plugin and phase when `promise` takes longer than `ms` (0 = no limit).
 *
 * The timer is deliberately not unref'd: a setup, boot tap or health check that waits on nothing
 * (a promise nobody resolves, two promises waiting on each other) holds no handle of its own, and
 * this timer is then all that keeps the process alive until the time limit ends the wait. Unref'd,
 * the event loop would empty and Node would end the process with code 13 (unsettled top-level
 * await) before the error could be reported. It is cleared as soon as the race settles, so it never
 * keeps a finished process alive. A limit above MAX_TIMER_MS (the config and definePlugin refuse
 * one) waits MAX_TIMER_MS instead of expiring at once.
 */
export function withPluginTimeout<T>(promise: Promise<T>, ms: number, plugin: string, phase: string): Promise<T> {
  if (!ms) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LimitError('LIMIT_PLUGIN_SETUP_TIMEOUT', `Plugin "${plugin}" did not finish ${phase} within ${ms} ms`, { plugin, hook: phase, details: { timeoutMs: ms } })),
      Math.min(ms, MAX_TIMER_MS),
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
