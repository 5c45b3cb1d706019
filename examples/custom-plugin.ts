/**
 * A user-written plugin: it taps a hook, provides a service and adds a CLI command.
 *
 *   // limit.config.ts
 *   import { defineConfig } from 'limit-graph';
 *   import sessionAudit from './examples/custom-plugin.ts';
 *   export default defineConfig({ use: [sessionAudit.configure({ label: 'team-a' })] });
 *
 *   $ npx limit audit --json
 *
 * Run it directly: `npx tsx examples/custom-plugin.ts`.
 */
import { pathToFileURL } from 'node:url';
import { createRuntime, definePlugin, formatError, z, type Runtime } from 'limit-graph';

/** The service the plugin provides. */
export interface SessionAudit {
  readonly label: string;
  /** Sessions seen, in the order they opened. */
  opened(): readonly { id: string; tenant: string; at: string }[];
  /** Sessions that ended (closeReason `closed`), not scopes let go while their session goes on. */
  closedCount(): number;
}

// Make `runtime.resolve('audit')` typed for everyone who imports this plugin.
declare module 'limit-graph' {
  interface Cradle {
    audit: SessionAudit;
  }
  interface PluginOptionsRegistry {
    'session-audit': z.input<typeof AuditOptions>;
  }
}

export const AuditOptions = z
  .object({
    /** Shown in the command's output. */
    label: z.string().min(1).default('audit'),
    /** Keep at most this many entries. */
    maxEntries: z.number().int().positive().default(1000),
  })
  .strict();

const sessionAudit = definePlugin({
  meta: { name: 'session-audit', version: '1.0.0', description: 'Counts the sessions a runtime opens', provides: ['audit'] },
  options: AuditOptions,
  setup(ctx, options) {
    const opened: { id: string; tenant: string; at: string }[] = [];
    let closed = 0;

    ctx.hooks.sessionOpened.tapPromise(ctx.name, async (session) => {
      opened.push({ id: session.id, tenant: session.tenant, at: session.session.createdAt });
      if (opened.length > options.maxEntries) opened.shift();
      ctx.logger.debug({ session: session.id }, 'session opened');
    });
    ctx.hooks.sessionClosed.tapPromise(ctx.name, async (session) => {
      // `released`: the runtime's close or an idle scope let the scope go; the session itself goes on.
      if (session.closeReason === 'closed') closed++;
    });

    ctx.provide('audit', { label: options.label, opened: () => opened, closedCount: () => closed });

    ctx.hooks.cliCommands.tap(ctx.name, (registry) => {
      registry.program
        .command('audit')
        .description('show the sessions this runtime opened')
        .option('--json', 'one JSON document on stdout')
        .action(async (opts: { json?: boolean }) => {
          const runtime = await registry.runtime();
          const audit = runtime.resolve('audit');
          const report = { label: audit.label, opened: audit.opened().length, closed: audit.closedCount() };
          if (opts.json) registry.printJson(report);
          else registry.print(`${report.label}: ${report.opened} opened, ${report.closed} closed`);
        });
    });

    return {
      health: () => ({ status: 'ok' as const, checks: [{ name: 'entries', status: 'ok' as const, message: `${opened.length} recorded` }] }),
    };
  },
});

export default sessionAudit;

/** Builds a runtime with the plugin, opens two sessions and returns what the service saw. */
export async function main(): Promise<{ label: string; opened: string[]; closed: number }> {
  const runtime: Runtime = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [sessionAudit.configure({ label: 'demo' })] });
  try {
    const a = await runtime.openSession({ id: 'alpha' });
    await runtime.openSession({ id: 'beta' });
    await a.close();
    const audit = runtime.resolve('audit');
    return { label: audit.label, opened: audit.opened().map((s) => s.id), closed: audit.closedCount() };
  } finally {
    await runtime.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    console.log(JSON.stringify(await main(), null, 2));
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  }
}
