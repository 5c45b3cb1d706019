/**
 * orchestrator: sessions, the governed run pipeline, merges, federation, RD tracking and artifact
 * export, plus the `limit run | export | verify | recover | demo` commands.
 */
import { definePlugin } from 'limit-graph';
import type { Orchestrator, Runtime } from 'limit-graph';
import type { z } from 'zod';
import { OrchestratorOptions } from './options.ts';
import { OrchestratorService } from './orchestrator.ts';
import { registerCommands } from './cli.ts';

declare module 'limit-graph' {
  interface Cradle {
    orchestrator: Orchestrator;
  }
  interface PluginOptionsRegistry {
    orchestrator: z.input<typeof OrchestratorOptions>;
  }
}

export { OrchestratorService, combine } from './orchestrator.ts';
export { buildArtifact, verifyArtifactFiles } from './artifact.ts';

/**
 * The `rd` health check: what is loaded when RD tracking works ("rd:fgw and knee:kneedle,
 * knee:menger loaded"), what is missing when it does not.
 */
export function rdCheck(rd: readonly string[], knee: readonly string[]): { name: 'rd'; status: 'ok' | 'degraded'; message: string } {
  if (rd.length && knee.length) return { name: 'rd', status: 'ok', message: `${rd.join(', ')} and ${knee.join(', ')} loaded` };
  const missing = [rd.length ? '' : 'no rd:* plugin (enable rd-fgw)', knee.length ? '' : 'no knee:* plugin (enable knee-kneedle or knee-menger)'].filter(Boolean).join(' and ');
  return { name: 'rd', status: 'degraded', message: `RD tracking unavailable: ${missing}` };
}

export default definePlugin({
  meta: {
    name: 'orchestrator',
    version: '1.0.0',
    description: 'Sessions, the governed run pipeline, merges, federation, RD tracking and artifact export',
    provides: ['orchestrator'],
    dependsOn: ['storage', 'governance', 'runner:*'],
    optionalDependsOn: ['rd:*', 'knee:*'],
  },
  options: OrchestratorOptions,
  setup(ctx, options) {
    const service = new OrchestratorService({
      // The runtime registers itself after setup; resolving lazily reaches it at call time.
      runtime: () => ctx.resolve('runtime') as Runtime,
      container: ctx,
      storage: () => ctx.resolve('storage'),
      governance: () => ctx.resolve('governance'),
      logger: ctx.logger,
      defaultTenant: ctx.config.tenant,
      options,
    });
    ctx.provide('orchestrator', service);
    ctx.hooks.sessionClosed.tapPromise(ctx.name, (handle) => service.onSessionClosed(handle));
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => registerCommands(registry));
    // Before the sessions close: the work in flight finishes in them.
    ctx.hooks.drain.tapPromise(ctx.name, () => service.drain());
    return {
      // Before storage and governance (set up earlier, disposed later): the work still in progress records its traces.
      dispose: () => service.dispose(),
      // The drain and the dispose each wait up to closeWaitMs (the dispose then records what was left): the kernel's limit comes on top.
      closeTimeoutMs: options.closeWaitMs + ctx.config.setupTimeoutMs,
      health: () => {
        const checks = [
          { name: 'storage', status: ctx.has('storage') ? ('ok' as const) : ('fail' as const) },
          { name: 'governance', status: ctx.has('governance') ? ('ok' as const) : ('fail' as const) },
          { name: 'runners', status: ctx.keys('runner:').length ? ('ok' as const) : ('fail' as const), message: ctx.keys('runner:').join(', ') },
          rdCheck(ctx.keys('rd:'), ctx.keys('knee:')),
        ];
        const status = checks.some((c) => c.status === 'fail') ? ('fail' as const) : checks.some((c) => c.status === 'degraded') ? ('degraded' as const) : ('ok' as const);
        return { status, checks };
      },
    };
  },
});
