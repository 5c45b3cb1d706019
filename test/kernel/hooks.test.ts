import { describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, isLimitError, type Finding, type GovernanceRule, type Trace } from 'limit-graph';

const silent = { logLevel: 'silent' as const, plugins: {} };

describe('hook catalogue', () => {
  it('is frozen: no hook can be added or replaced', async () => {
    const rt = await createRuntime({ config: silent });
    expect(Object.isFrozen(rt.hooks)).toBe(true);
    expect(() => {
      (rt.hooks as unknown as Record<string, unknown>).extra = 1;
    }).toThrow(TypeError);
    expect(Object.keys(rt.hooks)).toEqual(
      expect.arrayContaining(['configResolved', 'boot', 'drain', 'shutdown', 'sessionOpened', 'sessionClosed', 'beforeRun', 'governInput', 'governOutput', 'afterRun', 'traceFlagged', 'beforeMerge', 'cliCommands', 'httpRoutes']),
    );
    await rt.close();
  });

  it('rethrows a failing promise tap as a LimitError naming the plugin and the hook', async () => {
    const p = definePlugin({
      meta: { name: 'grumpy', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.afterRun.tapPromise(ctx.name, async () => {
          throw new Error('nope');
        });
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p] });
    const error = await rt.hooks.afterRun.promise({} as Trace).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_HOOK_TAP_FAILED')).toBe(true);
    expect(error).toMatchObject({ plugin: 'grumpy', hook: 'afterRun', message: 'Plugin "grumpy" failed in hook "afterRun": nope' });
    await rt.close();
  });

  it('wraps sync and callback taps too, and keeps deliberate LimitError codes', async () => {
    const p = definePlugin({
      meta: { name: 'mixed', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.cliCommands.tap(ctx.name, () => {
          throw new TypeError('bad command');
        });
        ctx.hooks.sessionOpened.tapAsync(ctx.name, (_s, done) => done(new Error('callback failure')));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p] });
    expect(() => rt.hooks.cliCommands.call({} as never)).toThrow(expect.objectContaining({ code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'mixed', hook: 'cliCommands' }));
    const error = await rt.openSession().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'mixed', hook: 'sessionOpened' });
    await rt.close();
  });

  it('calls a callback tap of a hook without a time limit (per request) straight through, in the same tick', async () => {
    const p = definePlugin({
      meta: { name: 'direct', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.afterRun.tapAsync(ctx.name, (_trace, done) => done());
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p] });
    let called = false;
    rt.hooks.afterRun.callAsync({} as Trace, () => { called = true; });
    expect(called).toBe(true);
    await rt.close();
  });

  it('runs every sessionClosed and shutdown tap although one fails, and reports the failure', async () => {
    const ran: string[] = [];
    const failing = definePlugin({
      meta: { name: 'failing', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async () => { throw new Error('cannot let go'); });
        ctx.hooks.shutdown.tapAsync(ctx.name, (done) => done(new Error('cannot stop')));
      },
    });
    const cleaner = (name: string) => definePlugin({
      meta: { name, version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => { ran.push(`${name} released ${s.id}`); });
        ctx.hooks.shutdown.tapPromise(ctx.name, async () => { ran.push(`${name} shut down`); });
      },
    });
    // sessionClosed taps run in load order, shutdown taps in reverse: either way a cleaner comes after the failure.
    const rt = await createRuntime({ config: silent, plugins: [cleaner('first'), failing, cleaner('last')] });
    const session = await rt.openSession({ id: 's-1' });
    const error = await session.close().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'failing', hook: 'sessionClosed' });
    expect(ran).toEqual(['first released s-1', 'last released s-1']);
    expect(session.closed).toBe(true);
    const report = await rt.close();
    expect(ran.slice(2)).toEqual(['last shut down', 'first shut down']);
    expect(report.errors).toEqual([expect.objectContaining({ plugin: 'failing', hook: 'shutdown', message: 'Plugin "failing" failed in hook "shutdown": cannot stop' })]);
  });

  it('holds callback taps (tapAsync) to the same time limits: one that never calls back fails boot or is reported at close, no hang', async () => {
    const stuck = (hook: 'boot' | 'drain' | 'shutdown' | 'sessionClosed') => definePlugin({
      meta: { name: `stuck-${hook.toLowerCase()}`, version: '1.0.0', setupTimeoutMs: 50 },
      setup(ctx) {
        if (hook === 'sessionClosed') ctx.hooks.sessionClosed.tapAsync(ctx.name, () => undefined);
        else ctx.hooks[hook].tapAsync(ctx.name, () => undefined);
      },
    });
    await expect(createRuntime({ config: silent, plugins: [stuck('boot')] })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', plugin: 'stuck-boot', hook: 'boot', message: 'Plugin "stuck-boot" did not finish boot within 50 ms',
    });
    const rt = await createRuntime({ config: silent, plugins: [stuck('drain'), stuck('shutdown'), stuck('sessionClosed')] });
    await rt.openSession({ id: 's-1' });
    const report = await rt.close();
    expect(report.errors.map((e) => [e.code, e.plugin, e.message])).toEqual([
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-drain', 'Plugin "stuck-drain" did not finish drain within 50 ms'],
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-sessionclosed', 'Plugin "stuck-sessionclosed" did not finish sessionClosed within 50 ms'],
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-shutdown', 'Plugin "stuck-shutdown" did not finish shutdown within 50 ms'],
    ]);
  });

  it('holds sessionOpened taps to the setup limit: one that never settles fails openSession (and the scope is released), no hang', async () => {
    const closed: string[] = [];
    const stuck = definePlugin({
      meta: { name: 'stuck-open', version: '1.0.0', setupTimeoutMs: 50 },
      setup(ctx) {
        ctx.hooks.sessionOpened.tapPromise(ctx.name, () => new Promise<void>(() => undefined));
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => void closed.push(`${s.id} ${s.closeReason}`));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [stuck] });
    await expect(rt.openSession({ id: 's-1' })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', plugin: 'stuck-open', hook: 'sessionOpened', message: 'Plugin "stuck-open" did not finish sessionOpened within 50 ms',
    });
    // Released, not closed: the session may be a stored one being attached, which goes on elsewhere.
    expect(closed).toEqual(['s-1 released']);
    expect(rt.getSession('s-1')).toBeUndefined();
    await rt.close();
  });

  it('runs waterfall hooks in plugin order so rules can add findings', async () => {
    const finding = (ruleId: string): Finding => ({ ruleId, kind: 'Anomaly', severity: 2, reason: ruleId, evidence: [] });
    const rules = (name: string) =>
      definePlugin({
        meta: { name, version: '1.0.0' },
        setup(ctx) {
          ctx.hooks.governInput.tapPromise(ctx.name, async (findings) => [...findings, finding(name)]);
        },
      });
    const rt = await createRuntime({ config: silent, plugins: [rules('pack-a'), rules('pack-b')] });
    const out = await rt.hooks.governInput.promise([], {} as Trace);
    expect(out.map((f) => f.ruleId)).toEqual(['pack-a', 'pack-b']);
    await rt.close();
  });

  it('lets a beforeMerge tap veto', async () => {
    const p = definePlugin({
      meta: { name: 'gatekeeper', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.beforeMerge.tapPromise(ctx.name, async (req) => (req.parentIds.includes('bad') ? { reason: 'bad parent', by: ctx.name } : undefined));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p] });
    const base = { tenant: 't', sessionId: 's', strategy: 'union' as const, rationale: '', actor: 'me' };
    await expect(rt.hooks.beforeMerge.promise({ ...base, parentIds: ['bad'] })).resolves.toEqual({ reason: 'bad parent', by: 'gatekeeper' });
    await expect(rt.hooks.beforeMerge.promise({ ...base, parentIds: ['good'] })).resolves.toBeUndefined();
    await rt.close();
  });

  it('configResolved carries a deep-frozen config: a nested write throws and runtime.config keeps the validated values', async () => {
    const writes: Record<string, unknown> = {};
    const attempt = (name: string, write: () => void) => {
      try {
        write();
        writes[name] = 'written';
      } catch (error) {
        writes[name] = error instanceof TypeError ? 'TypeError' : error;
      }
    };
    const tapper = definePlugin({
      meta: { name: 'tapper', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.configResolved.tap(ctx.name, (c) => {
          const plugins = c.plugins as Record<string, Record<string, unknown>>;
          attempt('top', () => ((c as { tenant: string }).tenant = 'x'));
          attempt('plugin option', () => (plugins.governance!.preset = 'HACKED'));
          attempt('new plugin', () => (plugins.evil = { on: true }));
          attempt('nested option', () => ((plugins.governance!.policy as Record<string, unknown>).maxAnomalySeverity = 10));
          attempt('array', () => (plugins.governance!.packs as string[]).push('evil'));
        });
      },
    });
    // A rule with a method is behaviour, not data: kept as given (not copied, not frozen).
    const rule: GovernanceRule = { id: 'config.noop', flag: 'Unverified', surfaces: ['input'], evaluate: () => [] };
    const input = { logLevel: 'silent' as const, plugins: { governance: { preset: 'default' as const, packs: [] as string[], policy: { maxAnomalySeverity: 6 }, rules: [rule] } } };
    const rt = await createRuntime({ config: input, plugins: [tapper] });
    try {
      expect(writes).toEqual({ top: 'TypeError', 'plugin option': 'TypeError', 'new plugin': 'TypeError', 'nested option': 'TypeError', array: 'TypeError' });
      const governance = rt.config.plugins.governance as Record<string, unknown>;
      expect(governance).toMatchObject({ preset: 'default', packs: [], policy: { maxAnomalySeverity: 6 } });
      expect(rt.config.plugins).not.toHaveProperty('evil');
      expect(Object.isFrozen(governance.policy)).toBe(true);
      expect((governance.rules as unknown[])[0]).toBe(rule);
      expect(Object.isFrozen(rule)).toBe(false);
      // The caller's own objects are not frozen by the runtime.
      expect(Object.isFrozen(input.plugins.governance)).toBe(false);
    } finally {
      await rt.close();
    }
  });
});
