import { describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, isLimitError, type Finding, type GovernanceRule, type MergeRequest, type Trace } from 'limit-graph';

const silent = { logLevel: 'silent' as const, plugins: {} };
/** A hook's plain `tap`, untyped: tapable types it as synchronous on a waterfall or bail hook, but a plugin in JavaScript (or a cast) gives it an async function. */
const plain = (hook: unknown) => hook as { tap(name: string, fn: (...args: never) => unknown): void };

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

  it('awaits a plain tap() that returns a promise on an async hook, as tapPromise: boot waits for it, its failure names the plugin, a teardown one has the time limit', async () => {
    let ready = false;
    const pool = definePlugin({
      meta: { name: 'pool', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.boot.tap(ctx.name, async () => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          ready = true;
        });
        ctx.hooks.drain.tap(ctx.name, async () => { throw new Error('pool drain failed'); });
      },
    });
    const stuck = definePlugin({
      meta: { name: 'stuck-async', version: '1.0.0', setupTimeoutMs: 50 },
      setup(ctx) {
        ctx.hooks.shutdown.tap(ctx.name, async () => { await new Promise(() => undefined); });
        ctx.hooks.sessionClosed.tap(ctx.name, () => new Promise<void>(() => undefined));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [pool, stuck] });
    expect([rt.booted, ready]).toEqual([true, true]);
    await expect((await rt.openSession()).close()).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_TIMEOUT', plugin: 'stuck-async', hook: 'sessionClosed' });
    const report = await rt.close();
    expect(report.errors.map((e) => [e.code, e.plugin, e.hook, e.message])).toEqual([
      ['LIMIT_HOOK_TAP_FAILED', 'pool', 'drain', 'Plugin "pool" failed in hook "drain": pool drain failed'],
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-async', 'shutdown', 'Plugin "stuck-async" did not finish shutdown within 50 ms'],
    ]);

    const failing = definePlugin({
      meta: { name: 'no-connect', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.boot.tap(ctx.name, async () => { throw new Error('cannot connect'); });
      },
    });
    await expect(createRuntime({ config: silent, plugins: [failing] })).rejects.toMatchObject({
      code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'no-connect', hook: 'boot', message: 'Plugin "no-connect" failed in hook "boot": cannot connect',
    });
  });

  it('keeps waterfall and bail semantics for a plain tap() on an async hook (undefined passes on), and SyncHook taps synchronous', async () => {
    const finding = (ruleId: string): Finding => ({ ruleId, kind: 'Anomaly', severity: 2, reason: ruleId, evidence: [] });
    const order: string[] = [];
    const p = definePlugin({
      meta: { name: 'plain', version: '1.0.0' },
      setup(ctx) {
        plain(ctx.hooks.governInput).tap(ctx.name, async (findings: Finding[]) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return [...findings, finding('plain.async')];
        });
        ctx.hooks.governInput.tap(ctx.name, () => undefined as unknown as Finding[]);
        ctx.hooks.governInput.tap(ctx.name, (findings) => [...findings, finding('plain.sync')]);
        plain(ctx.hooks.beforeMerge).tap(ctx.name, async () => undefined);
        plain(ctx.hooks.beforeMerge).tap(ctx.name, async (req: MergeRequest) => (req.parentIds.includes('bad') ? { reason: 'bad parent', by: ctx.name } : undefined));
        ctx.hooks.cliCommands.tap(ctx.name, () => void order.push('cliCommands'));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p] });
    expect((await rt.hooks.governInput.promise([], {} as Trace)).map((f) => f.ruleId)).toEqual(['plain.async', 'plain.sync']);
    const base = { tenant: 't', sessionId: 's', strategy: 'union' as const, rationale: '', actor: 'me' };
    await expect(rt.hooks.beforeMerge.promise({ ...base, parentIds: ['bad'] })).resolves.toEqual({ reason: 'bad parent', by: 'plain' });
    await expect(rt.hooks.beforeMerge.promise({ ...base, parentIds: ['good'] })).resolves.toBeUndefined();
    expect(rt.hooks.cliCommands.taps.map((t) => t.type)).toEqual(['sync']);
    rt.hooks.cliCommands.call({} as never);
    expect(order).toEqual(['cliCommands']); // ran within call()
    await rt.close();
  });

  it('the governance service awaits a plain async governInput tap too (it calls the wrapped taps itself)', async () => {
    const rule: GovernanceRule = { id: 'acme.none', flag: 'Anomaly', surfaces: ['input'], evaluate: () => [] };
    const taps = (fail: boolean) => definePlugin({
      meta: { name: 'acme-plain', version: '1.0.0' },
      setup(ctx) {
        plain(ctx.hooks.governInput).tap(ctx.name, async (findings: Finding[]) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          if (fail) throw new Error('model down');
          return [...findings, { ruleId: 'acme.late', kind: 'Jailbreak', severity: 9, reason: 'late', evidence: [] }];
        });
      },
    });
    const trace = { id: 't-1', sessionId: 's1', tenant: 'default', parentIds: [], runner: 'python', task: { input: 'hello', kind: 'code' }, status: 'ok', flags: [], createdAt: new Date().toISOString(), metadata: {} } as unknown as Trace;
    for (const fail of [false, true]) {
      const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { governance: { packs: [], rules: [rule] } } }, plugins: [taps(fail)] });
      const verdict = rt.resolve('governance').evaluate(trace, 'input');
      if (fail) await expect(verdict).rejects.toMatchObject({ code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'acme-plain', hook: 'governInput', message: 'Plugin "acme-plain" failed in hook "governInput": model down' });
      else expect(await verdict.then((v) => [v.decision, v.findings.map((f) => f.ruleId)])).toEqual(['block', ['acme.late']]);
      await rt.close();
    }
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
