/**
 * A traceFlagged tap runs after the flags are committed: when it fails (a webhook down) the flag,
 * its quarantine and counters are stored already, so the operation succeeds, every tap still runs
 * for every flag, and the failure is logged naming the tap's plugin and the flag.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, definePlugin, type ConfigInput, type Runtime } from 'limit-graph';
import { makeTrace, storeTrace } from './helpers.ts';

describe('a failing traceFlagged tap after the commit', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('does not fail flag or recordFlags: every tap runs for every flag, each failure is logged naming its plugin and flag', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } as never });
    const seen: string[] = [];
    const notifier = definePlugin({
      meta: { name: 'acme-notify', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.traceFlagged.tapPromise(ctx.name, async () => {
          throw new Error('webhook down');
        });
      },
    });
    const audit = definePlugin({
      meta: { name: 'acme-audit', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.traceFlagged.tapPromise(ctx.name, async (_trace, flag) => void seen.push(flag.id));
      },
    });
    rt = await createRuntime({
      config: { logLevel: 'warn', storage: 'sqlite', plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { packs: [] } } } as ConfigInput,
      plugins: [notifier, audit],
      logger,
    });
    const gov = rt.resolve('governance');
    const storage = rt.resolve('storage');

    const t = await storeTrace(rt, makeTrace('hello'));
    const flag = await gov.flag('default', t.id, { kind: 'HighRisk', severity: 8, reason: 'x', actor: 'alice' });
    expect(flag.autoQuarantined).toBe(true);
    expect((await storage.getTrace('default', t.id))!.flags.map((f) => f.id)).toEqual([flag.id]);
    expect(seen).toEqual([flag.id]);
    expect(await gov.stats('default')).toMatchObject({ 'flags.total': 1, quarantined: 1 });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; tapPlugin: string; flagId: string; traceId: string });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ tapPlugin: 'acme-notify', flagId: flag.id, traceId: t.id });
    expect(logged[0]!.msg).toMatch(new RegExp(`traceFlagged tap of plugin "acme-notify" failed for flag ${flag.id} .*the flag is stored.*webhook down`));

    // recordFlags: the hooks of both flags run, though the first tap fails for each.
    lines.length = 0;
    const u = await storeTrace(rt, makeTrace('hello'));
    const flags = await gov.recordFlags(u, [
      { ruleId: 'acme.hr', kind: 'HighRisk', severity: 4, reason: 'r', evidence: [] },
      { ruleId: 'acme.hr', kind: 'Unsafe', severity: 4, reason: 'r', evidence: [] },
    ]);
    expect(flags).toHaveLength(2);
    expect(seen.slice(1)).toEqual(flags.map((f) => f.id));
    expect(lines.map((l) => (JSON.parse(l) as { flagId: string }).flagId)).toEqual(flags.map((f) => f.id));
    expect((await gov.stats('default'))['flags.total']).toBe(3);
  });
});
