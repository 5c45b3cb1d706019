import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRuntime, definePlugin, formatError, isLimitError, LimitError, type Plugin } from 'limit-graph';
import { withPluginTimeout } from '../../kernel/timeout.ts';

const silent = { logLevel: 'silent' as const, plugins: {} };

function plugin(name: string, meta: Partial<Plugin['meta']> = {}, setup: Plugin['setup'] = () => undefined): Plugin {
  return definePlugin({ meta: { name, version: '1.0.0', ...meta }, setup }) as unknown as Plugin;
}

async function failure(promise: Promise<unknown>): Promise<LimitError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isLimitError(error)) throw new Error(`expected a LimitError, got ${String(error)}`);
  return error;
}

describe('definePlugin', () => {
  it('refuses names that are not kebab-case and plugins without a version', () => {
    expect(() => definePlugin({ meta: { name: 'Bad_Name', version: '1' }, setup() {} })).toThrow(/kebab-case/);
    expect(() => definePlugin({ meta: { name: 'ok', version: '' }, setup() {} })).toThrow(/no version/);
  });

  it('refuses a meta field of the wrong shape where the plugin is defined, naming the field (a string is not read as its characters)', () => {
    const refusal = (def: unknown): LimitError => {
      try {
        definePlugin(def as Parameters<typeof definePlugin>[0]);
      } catch (error) {
        if (isLimitError(error)) return error;
        throw error;
      }
      throw new Error('definePlugin accepted it');
    };
    const provides = refusal({ meta: { name: 'greeter', version: '1', provides: 'greeter' }, setup() {} });
    expect(provides.code).toBe('LIMIT_PLUGIN_INVALID');
    expect(provides.plugin).toBe('greeter');
    expect(provides.message).toBe(`Plugin "greeter": meta.provides must be an array of non-empty strings, not 'greeter'`);
    expect(provides.fix).toContain(`provides: ["greeter"]`);
    expect(refusal({ meta: { name: 'p', version: '1', provides: ['x', 'y', 'x'] }, setup() {} })).toMatchObject({ code: 'LIMIT_PLUGIN_INVALID', message: 'Plugin "p": meta.provides lists "x" twice', details: { field: 'meta.provides', key: 'x' } });
    expect(refusal({ meta: { name: 'p', version: '1', dependsOn: 'storage' }, setup() {} }).message).toMatch(/meta\.dependsOn must be an array/);
    expect(refusal({ meta: { name: 'p', version: '1', optionalDependsOn: [''] }, setup() {} }).message).toMatch(/meta\.optionalDependsOn must be/);
    expect(refusal({ meta: { name: 'p', version: '1', conflictsWith: 'x' }, setup() {} }).message).toMatch(/meta\.conflictsWith must be/);
    expect(refusal({ meta: { name: 'p', version: '1', env: { DATABASE_URL: 1 } }, setup() {} }).message).toMatch(/meta\.env must be/);
    expect(refusal({ meta: { name: 'p', version: '1', envFallback: { DATABASE_URL: { withPlugin: 'x' } } }, setup() {} }).message).toMatch(/meta\.envFallback must be/);
    expect(refusal({ meta: { name: 'p', version: '1', description: ['greets'] }, setup() {} }).message).toBe(`Plugin "p": meta.description must be a string, not [ 'greets' ]`);
    for (const setupTimeoutMs of ['abc', -5, 0, 1.5, Number.NaN, 3_000_000_000]) {
      expect(refusal({ meta: { name: 'p', version: '1', setupTimeoutMs }, setup() {} }).message).toMatch(/meta\.setupTimeoutMs must be a positive whole number of milliseconds, at most 2147483647/);
    }
    const noSetup = refusal({ meta: { name: 'p', version: '1' } });
    expect(noSetup.message).toBe('Plugin "p" has no setup function (setup is undefined)');
    // options must be a zod schema: a plain shape was a TypeError (schema.safeParse is not a function) at createRuntime.
    const shape = refusal({ meta: { name: 'p', version: '1' }, options: { greeting: z.string() }, setup() {} });
    expect(shape).toMatchObject({ code: 'LIMIT_PLUGIN_INVALID', plugin: 'p', details: { field: 'options' } });
    expect(shape.message).toMatch(/^Plugin "p": options must be a zod schema \(z\.object\(\{ … \}\)\), not \{ greeting: /);
    expect(shape.fix).toContain('z.object({ greeting: … })');
    expect(refusal({ meta: { name: 'p', version: '1' }, options: 'strict', setup() {} }).message).toMatch(/options must be a zod schema/);
    // The valid shapes still pass.
    expect(() => definePlugin({ meta: { name: 'p', version: '1', provides: ['a'], dependsOn: ['runner:*'], env: { X: 'x' }, setupTimeoutMs: 100, description: 'd' }, setup() {} })).not.toThrow();
    expect(() => definePlugin({ meta: { name: 'p', version: '1' }, options: z.object({ a: z.string() }).strict(), setup() {} })).not.toThrow();
  });

  it('validates options with the zod schema, applying defaults', async () => {
    let seen: unknown;
    const p = definePlugin({
      meta: { name: 'opts', version: '1.0.0' },
      options: z.object({ size: z.number().default(3), label: z.string() }).strict(),
      setup: (_ctx, options) => {
        seen = options;
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p.configure({ label: 'x' })] });
    expect(seen).toEqual({ size: 3, label: 'x' });
    await rt.close();
  });

  it('reports every invalid option as "<source> › plugins.<name>.<path>: <message>"', async () => {
    const p = definePlugin({
      meta: { name: 'storage-thing', version: '1.0.0' },
      options: z.object({ path: z.string(), size: z.number() }),
      setup() {},
    });
    const error = await failure(createRuntime({ config: { ...silent, plugins: { 'storage-thing': { path: 42, size: 'big' } } }, plugins: [p] }));
    expect(error.code).toBe('LIMIT_PLUGIN_OPTIONS_INVALID');
    expect(error.message).toContain('config › plugins.storage-thing.path: Expected string, received number');
    expect(error.message).toContain('config › plugins.storage-thing.size: Expected number, received string');
    expect(error.details?.issues).toHaveLength(2);
  });

  it('takes option values from the environment variables a plugin declares, and names them in errors', async () => {
    let seen: unknown;
    const p = definePlugin({
      meta: { name: 'db', version: '1.0.0', env: { MY_DB_PORT: 'port' } },
      options: z.object({ port: z.coerce.number().int().max(65535) }),
      setup: (_c, o) => {
        seen = o;
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [p], env: { MY_DB_PORT: '5433' } });
    expect(seen).toEqual({ port: 5433 });
    await rt.close();
    const error = await failure(createRuntime({ config: silent, plugins: [p], env: { MY_DB_PORT: '99999' } }));
    expect(error.message).toMatch(/plugins\.db\.port: .*\(from environment variable MY_DB_PORT\)/);
  });

  it('a variable that is not a number is quoted as received, not as the NaN coercion made of it', async () => {
    const p = definePlugin({
      meta: { name: 'db', version: '1.0.0', env: { MY_DB_PORT: 'port' } },
      options: z.object({ port: z.coerce.number().int().max(65535) }),
      setup: () => {},
    });
    const error = await failure(createRuntime({ config: silent, plugins: [p], env: { MY_DB_PORT: 'abc' } }));
    expect(error.message).toContain('MY_DB_PORT › plugins.db.port: Expected number, received "abc" (from environment variable MY_DB_PORT)');
    expect(error.message).not.toContain('NaN');
    expect(error.fix).toContain('the environment variable MY_DB_PORT (change or unset it)');
  });
});

describe('plugin ordering', () => {
  it('sorts by dependsOn and keeps config order among independent plugins (stable)', async () => {
    const order: string[] = [];
    const track = (name: string, meta: Partial<Plugin['meta']> = {}) => plugin(name, meta, (ctx) => {
      order.push(name);
      for (const key of meta.provides ?? []) ctx.provide(key as 'storage', { executeIsolated: async () => ({}), health: async () => ({ status: 'ok' }) } as never);
    });
    const rt = await createRuntime({
      config: silent,
      plugins: [
        track('api', { dependsOn: ['store', 'runner:*'] }),
        track('zeta'),
        track('runner-a', { provides: ['runner:a'] }),
        track('alpha'),
        track('store-x', { provides: ['store'] }),
      ],
    });
    expect(order).toEqual(['zeta', 'runner-a', 'alpha', 'store-x', 'api']);
    expect(rt.plugins.map((p) => p.name)).toEqual(order);
    await rt.close();
  });

  it('refuses a missing provider, naming the plugin, the key and a fix', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('orchestrator', { dependsOn: ['storage'] })] }));
    expect(error.code).toBe('LIMIT_PLUGIN_DEPENDENCY_MISSING');
    expect(error.message).toBe('Plugin "orchestrator" depends on "storage", which no plugin provides');
    expect(error.plugin).toBe('orchestrator');
    expect(error.fix).toContain('storage');
  });

  it('refuses a wildcard dependency nobody satisfies', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('orchestrator', { dependsOn: ['runner:*'] })] }));
    expect(error.code).toBe('LIMIT_PLUGIN_DEPENDENCY_MISSING');
    expect(error.details).toMatchObject({ missing: 'runner:*' });
  });

  it('refuses a dependency cycle and prints its path', async () => {
    const error = await failure(
      createRuntime({
        config: silent,
        plugins: [
          plugin('a', { provides: ['a'], dependsOn: ['b'] }),
          plugin('b', { provides: ['b'], dependsOn: ['c'] }),
          plugin('c', { provides: ['c'], dependsOn: ['a'] }),
          plugin('d', { dependsOn: ['a'] }),
        ],
      }),
    );
    expect(error.code).toBe('LIMIT_PLUGIN_DEPENDENCY_CYCLE');
    expect(error.message).toBe('Plugins depend on each other in a cycle: a → b → c → a');
    expect(error.details).toEqual({ cycle: ['a', 'b', 'c', 'a'] });
  });

  it('refuses two providers of one key', async () => {
    const error = await failure(
      createRuntime({ config: silent, plugins: [plugin('storage-one', { provides: ['storage'] }), plugin('storage-two', { provides: ['storage'] })] }),
    );
    expect(error.code).toBe('LIMIT_PLUGIN_PROVIDER_CONFLICT');
    expect(error.message).toBe('Key "storage" is provided by plugin "storage-one" and by plugin "storage-two"');
    expect(error.details).toMatchObject({ key: 'storage', plugins: ['storage-one', 'storage-two'] });
  });

  it('refuses a plugin that provides a kernel key', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('evil', { provides: ['config'] })] }));
    expect(error.code).toBe('LIMIT_PLUGIN_PROVIDER_CONFLICT');
    expect(error.message).toContain('the kernel');
  });

  it('refuses a duplicate plugin name', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('same'), plugin('same')] }));
    expect(error.code).toBe('LIMIT_PLUGIN_DUPLICATE');
    // Where each comes from (here: code), so that the user can find both.
    expect(error.message).toBe('Plugin "same" is listed twice: plugins[0] (same) (createRuntime({ plugins })) and plugins[1] (same) (createRuntime({ plugins }))');
  });

  it('refuses plugins that declare a conflict', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('x', { conflictsWith: ['y'] }), plugin('y')] }));
    expect(error.code).toBe('LIMIT_PLUGIN_CONFLICT');
    expect(error.details).toEqual({ plugins: ['x', 'y'] });
  });
});

describe('setup and disposal', () => {
  it('refuses a plugin whose setup exceeds the timeout, and disposes those already set up', async () => {
    let disposed = false;
    const error = await failure(
      createRuntime({
        config: { ...silent, setupTimeoutMs: 50 },
        plugins: [plugin('fast', {}, () => ({ dispose: () => void (disposed = true) })), plugin('slow', {}, () => new Promise(() => undefined))],
      }),
    );
    expect(error.code).toBe('LIMIT_PLUGIN_SETUP_TIMEOUT');
    expect(error.message).toBe('Plugin "slow" did not finish setup within 50 ms');
    expect(error.plugin).toBe('slow');
    expect(disposed).toBe(true);
  });

  it('a setup that goes on past its time limit has what it opens later released: a value it provides, the dispose it returns', async () => {
    const events: string[] = [];
    const later = () => new Promise((resolve) => setTimeout(resolve, 80));
    const providesLate = plugin('provides-late', { provides: ['pool'], setupTimeoutMs: 20 }, async (ctx) => {
      await later();
      ctx.provide('pool' as never, { open: true } as never, { dispose: () => void events.push('pool released') });
      events.push('not reached: provide throws once the runtime is shut down');
    });
    const returnsLate = plugin('returns-late', { setupTimeoutMs: 20 }, async () => {
      await later();
      return { dispose: () => void events.push('instance released') };
    });
    for (const p of [providesLate, returnsLate]) expect((await failure(createRuntime({ config: silent, plugins: [p] }))).code).toBe('LIMIT_PLUGIN_SETUP_TIMEOUT');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(events.sort()).toEqual(['instance released', 'pool released']);
  });

  it('honours a per-plugin setup timeout for slow boot taps too', async () => {
    const slowBoot = plugin('slow-boot', { setupTimeoutMs: 30 }, (ctx) => {
      ctx.hooks.boot.tapPromise(ctx.name, () => new Promise(() => undefined));
    });
    const error = await failure(createRuntime({ config: silent, plugins: [slowBoot] }));
    expect(error.code).toBe('LIMIT_PLUGIN_SETUP_TIMEOUT');
    expect(error.plugin).toBe('slow-boot');
    expect(error.hook).toBe('boot');
  });

  it('boots once for concurrent boot() calls, and a close() during the boot waits for it before shutting down; boot() after close() rejects', async () => {
    const events: string[] = [];
    const tracked = (name: string, bootMs: number) =>
      plugin(name, {}, (ctx) => {
        ctx.hooks.boot.tapPromise(ctx.name, async () => {
          events.push(`${name} boot`);
          await new Promise((resolve) => setTimeout(resolve, bootMs));
        });
        ctx.hooks.shutdown.tapPromise(ctx.name, async () => void events.push(`${name} shutdown`));
        return { dispose: () => void events.push(`${name} dispose`) };
      });
    const once = await createRuntime({ config: silent, plugins: [tracked('a', 20)], boot: false });
    await Promise.all([once.boot(), once.boot()]);
    expect(events).toEqual(['a boot']);
    expect(once.booted).toBe(true);
    await once.close();

    events.length = 0;
    const runtime = await createRuntime({ config: silent, plugins: [tracked('a', 40), tracked('b', 0)], boot: false });
    const booting = failure(runtime.boot());
    await new Promise((resolve) => setTimeout(resolve, 10)); // a is booting
    await runtime.close();
    events.push('closed');
    const error = await booting;
    expect(error.code).toBe('LIMIT_RUNTIME_CLOSED');
    expect(error.message).toBe('The runtime was shut down while it booted');
    expect(runtime.booted).toBe(false);
    expect(events).toEqual(['a boot', 'b boot', 'b shutdown', 'a shutdown', 'b dispose', 'a dispose', 'closed']);
    // Once closed, boot() rejects (as typed), never throws: `runtime.boot().catch(…)` sees it.
    let late: Promise<void> | undefined;
    expect(() => void (late = runtime.boot())).not.toThrow();
    await expect(late).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED', message: 'The runtime has been shut down' });
  });

  it('a shutdown tap or dispose that never settles is reported past its time limit, naming the plugin, and closing goes on', async () => {
    const events: string[] = [];
    const runtime = await createRuntime({
      config: { ...silent, setupTimeoutMs: 60 },
      plugins: [
        plugin('first', {}, () => ({ dispose: () => void events.push('first dispose') })),
        plugin('stuck-shutdown', {}, (ctx) => {
          ctx.hooks.shutdown.tapPromise(ctx.name, () => new Promise<void>(() => undefined));
        }),
        plugin('stuck-dispose', { setupTimeoutMs: 40 }, (ctx) => {
          ctx.hooks.shutdown.tapPromise(ctx.name, async () => void events.push('stuck-dispose shutdown'));
          return { dispose: () => new Promise<void>(() => undefined) };
        }),
        // Its own limit, longer than the setup limit: a dispose that takes 120 ms is not cut.
        plugin('slow-dispose', {}, () => ({ dispose: () => new Promise<void>((resolve) => setTimeout(() => { events.push('slow-dispose dispose'); resolve(); }, 120)), closeTimeoutMs: 2_000 })),
      ],
    });
    const { errors } = await runtime.close();
    expect(events).toEqual(['stuck-dispose shutdown', 'slow-dispose dispose', 'first dispose']);
    expect(errors.map((e) => [e.code, e.plugin, e.hook, e.message])).toEqual([
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-shutdown', 'shutdown', 'Plugin "stuck-shutdown" did not finish shutdown within 60 ms'],
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-dispose', 'dispose', 'Plugin "stuck-dispose" did not finish dispose within 40 ms'],
    ]);
  });

  it.each(['drain', 'shutdown', 'sessionClosed'] as const)('a %s tap has the closeTimeoutMs its plugin returns from setup, not the setup limit (tapPromise and tapAsync; 0: no limit)', async (hook) => {
    const events: string[] = [];
    const slow = (name: string, closeTimeoutMs: number) => plugin(name, { setupTimeoutMs: 40 }, (ctx) => {
      // Registered before setup returns closeTimeoutMs; each takes longer than the setup limit.
      const tapped = ctx.hooks[hook] as unknown as import('tapable').AsyncSeriesHook<unknown[]>;
      tapped.tapPromise(ctx.name, () => new Promise<void>((resolve) => setTimeout(() => { events.push(`${name} promise`); resolve(); }, 120)));
      tapped.tapAsync(ctx.name, (...args: unknown[]) => void setTimeout(() => { events.push(`${name} callback`); (args.at(-1) as () => void)(); }, 120));
      return { closeTimeoutMs };
    });
    const runtime = await createRuntime({ config: silent, plugins: [slow('graceful', 2_000), slow('unlimited', 0)] });
    const session = await runtime.openSession();
    await session.close();
    const { errors } = await runtime.close();
    expect(errors).toEqual([]);
    const order = hook === 'sessionClosed' ? ['graceful', 'unlimited'] : ['unlimited', 'graceful'];
    expect(events).toEqual(order.flatMap((name) => [`${name} promise`, `${name} callback`]));
  });

  it('drain runs first, in reverse plugin order, before any session closes; a drain tap that fails or never settles is reported and closing goes on', async () => {
    const events: string[] = [];
    const mk = (name: string, drain: () => Promise<void>) =>
      plugin(name, { setupTimeoutMs: 50 }, (ctx) => {
        ctx.hooks.drain.tapPromise(ctx.name, async () => {
          events.push(`drain ${name}`);
          await drain();
        });
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async () => void events.push(`sessionClosed ${name}`));
        ctx.hooks.shutdown.tapPromise(ctx.name, async () => void events.push(`shutdown ${name}`));
      });
    const runtime = await createRuntime({
      config: silent,
      plugins: [mk('first', async () => {}), mk('failing', async () => { throw new Error('cannot drain'); }), mk('stuck', () => new Promise<void>(() => undefined))],
    });
    await runtime.openSession();
    const { errors } = await runtime.close();
    expect(events).toEqual([
      'drain stuck', 'drain failing', 'drain first',
      'sessionClosed first', 'sessionClosed failing', 'sessionClosed stuck',
      'shutdown stuck', 'shutdown failing', 'shutdown first',
    ]);
    expect(errors.map((e) => [e.code, e.plugin, e.hook, e.message])).toEqual([
      ['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck', 'drain', 'Plugin "stuck" did not finish drain within 50 ms'],
      ['LIMIT_HOOK_TAP_FAILED', 'failing', 'drain', 'Plugin "failing" failed in hook "drain": cannot drain'],
    ]);
  });

  it('a sessionClosed tap that never settles fails that session close past the time limit, naming the plugin; the runtime still closes', async () => {
    const stuck = plugin('stuck-session', { setupTimeoutMs: 50 }, (ctx) => {
      ctx.hooks.sessionClosed.tapPromise(ctx.name, () => new Promise<void>(() => undefined));
    });
    const runtime = await createRuntime({ config: silent, plugins: [stuck] });
    const one = await runtime.openSession();
    const error = await failure(one.close());
    expect([error.code, error.plugin, error.hook, error.message]).toEqual(['LIMIT_PLUGIN_SETUP_TIMEOUT', 'stuck-session', 'sessionClosed', 'Plugin "stuck-session" did not finish sessionClosed within 50 ms']);
    await runtime.openSession();
    const { errors } = await runtime.close();
    expect(errors.map((e) => e.message)).toEqual(['Plugin "stuck-session" did not finish sessionClosed within 50 ms']);
  });

  it('a provideScoped dispose that never settles or throws fails that session close naming the plugin, within its time limit; the runtime still closes', async () => {
    const scoped = (name: string, dispose: () => Promise<void>) => plugin(name, { setupTimeoutMs: 50, provides: [name] }, (ctx) => {
      ctx.provideScoped(name as never, (() => ({})) as never, { dispose });
    });
    const runtime = await createRuntime({ config: silent, plugins: [scoped('held', () => new Promise<void>(() => undefined)), scoped('broken', async () => { throw new Error('cannot release'); })] });
    const one = await runtime.openSession();
    one.resolve('held' as never);
    const error = await failure(one.close());
    expect([error.code, error.plugin, error.hook, error.message]).toEqual(['LIMIT_PLUGIN_SETUP_TIMEOUT', 'held', 'dispose', 'Plugin "held" did not finish dispose within 50 ms']);
    const two = await runtime.openSession();
    two.resolve('broken' as never);
    const { errors } = await runtime.close();
    expect(errors.map((e) => [e.code, e.plugin, e.hook, e.message])).toEqual([
      ['LIMIT_PLUGIN_DISPOSE_FAILED', 'broken', 'dispose', 'Plugin "broken" failed to dispose "broken" of a session: cannot release'],
    ]);
  });

  it("reports every sessionClosed failure of a session the runtime's close closes, not only the first", async () => {
    const failing = (name: string) => plugin(name, {}, (ctx) => {
      ctx.hooks.sessionClosed.tapPromise(ctx.name, async () => { throw new Error(`${name} cannot let go`); });
    });
    const runtime = await createRuntime({ config: silent, plugins: [failing('one'), failing('two')] });
    await runtime.openSession();
    const { errors } = await runtime.close();
    expect(errors.map((e) => [e.plugin, e.hook, e.message])).toEqual([
      ['one', 'sessionClosed', 'Plugin "one" failed in hook "sessionClosed": one cannot let go'],
      ['two', 'sessionClosed', 'Plugin "two" failed in hook "sessionClosed": two cannot let go'],
    ]);
  });

  it('refuses a closeTimeoutMs that is not a whole number of ms where setup returns it', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('bad-limit', {}, () => ({ closeTimeoutMs: -1 }) as never)] }));
    expect(error.code).toBe('LIMIT_PLUGIN_SETUP_FAILED');
    expect(error.message).toContain('setup() of plugin "bad-limit" returned closeTimeoutMs: -1');
    expect(error.fix).toContain('Make closeTimeoutMs a whole number of milliseconds (0: no limit)');
  });

  it('refuses a closeTimeoutMs above 2^31 − 1 ms, which Node\'s setTimeout would turn into 1 ms', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('long-limit', {}, () => ({ closeTimeoutMs: 3_000_000_000 }))] }));
    expect(error.code).toBe('LIMIT_PLUGIN_SETUP_FAILED');
    expect(error.message).toContain('setup() of plugin "long-limit" returned closeTimeoutMs: 3000000000');
    expect(error.fix).toContain('up to 2147483647');
  });

  it('withPluginTimeout waits 2^31 − 1 ms for a larger limit, instead of the 1 ms Node\'s setTimeout would make of it', async () => {
    const settled = withPluginTimeout(new Promise<string>((resolve) => setTimeout(() => resolve('done'), 20)), 3_000_000_000, 'p', 'setup');
    await expect(settled).resolves.toBe('done');
  });

  it('a service resolved before its provider is set up, or never registered by it, is refused with why and the fix', async () => {
    const greeter = plugin('greeter', { provides: ['greeter'] }, (ctx) => ctx.provide('greeter' as never, {} as never));
    const early = plugin('needs-greeter', {}, (ctx) => void ctx.resolve('greeter' as never));
    const tooEarly = await failure(createRuntime({ config: silent, plugins: [early, greeter] }));
    expect([tooEarly.code, tooEarly.plugin, tooEarly.message]).toEqual(['LIMIT_SERVICE_NOT_FOUND', 'needs-greeter', 'No service is registered under "greeter" yet: plugin "greeter" provides it, but is set up after plugin "needs-greeter"']);
    expect(tooEarly.fix).toContain('Add "greeter" to meta.dependsOn of plugin "needs-greeter"');

    const runtime = await createRuntime({ config: silent, plugins: [greeter] });
    // A key no plugin lists keeps the plain refusal.
    expect(() => runtime.resolve('nothing' as never)).toThrow('No service is registered under "nothing"');
    await runtime.close();
  });

  it('refuses a plugin whose setup returns without registering a key it lists in meta.provides, naming the plugin and the keys', async () => {
    const released: string[] = [];
    const lazy = plugin('lazy', { provides: ['lazy', 'svc:done', 'svc:later'] }, (ctx) => {
      ctx.provide('svc:done' as 'storage', {} as never, { dispose: () => void released.push('value') });
      ctx.hooks.boot.tapPromise(ctx.name, async () => ctx.provide('svc:later' as 'storage', {} as never));
      return { dispose: () => void released.push('instance') };
    });
    const user = plugin('user', { dependsOn: ['lazy'] }, (ctx) => void ctx.resolve('lazy' as never));
    const error = await failure(createRuntime({ config: silent, plugins: [lazy, user] }));
    expect([error.code, error.plugin, error.hook, error.message]).toEqual(['LIMIT_PLUGIN_INVALID', 'lazy', 'setup', 'Plugin "lazy" lists "lazy", "svc:later" in meta.provides but did not register them in setup']);
    expect(error.details).toEqual({ keys: ['lazy', 'svc:later'] });
    expect(error.fix).toContain("ctx.provide('lazy', …)");
    expect(released).toEqual(['instance', 'value']); // what it did set up is released
    // A key registered per session counts.
    const scoped = await createRuntime({ config: silent, plugins: [plugin('scoped', { provides: ['svc:scoped'] }, (ctx) => ctx.provideScoped('svc:scoped' as 'storage', () => ({}) as never))] });
    await scoped.close();
  });

  it('wraps a setup failure with the plugin name', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('broken', {}, () => { throw new Error('no database'); })] }));
    expect(error.code).toBe('LIMIT_PLUGIN_SETUP_FAILED');
    expect(error.message).toBe('Plugin "broken" failed during setup: no database');
    expect((error.cause as Error).message).toBe('no database');
  });

  it('checks what setup returns: nothing, or { dispose?, health? } with each a function', async () => {
    const returning = (value: unknown) => createRuntime({ config: silent, plugins: [plugin('returns', {}, () => value as never)] });
    const expected = '(expected nothing, or { dispose?, health?, closeTimeoutMs? }: functions, and a number of ms)';
    const badHealth = await failure(returning({ health: 'ok', dispose: 'yes' }));
    expect(badHealth).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_FAILED', plugin: 'returns', hook: 'setup' });
    expect(badHealth.message).toBe(`setup() of plugin "returns" returned dispose: 'yes', health: 'ok' ${expected}`);
    expect(badHealth.fix).toContain('Make dispose and health a function');
    expect((await failure(returning(42))).message).toBe(`setup() of plugin "returns" returned a number, 42 ${expected}`);
    expect((await failure(returning([]))).message).toBe(`setup() of plugin "returns" returned an array, [] ${expected}`);
    const fn = await failure(returning(() => undefined));
    expect(fn.message).toBe(`setup() of plugin "returns" returned a function ${expected}`);
    expect(fn.fix).toBe('Return { dispose: fn } to run fn at shutdown, or nothing.');
    // A valid dispose beside a bad health still releases what setup opened.
    let disposed = false;
    await failure(returning({ dispose: () => void (disposed = true), health: 5 }));
    expect(disposed).toBe(true);
    // Nothing, null, or an object with functions (other keys ignored) are fine.
    for (const ok of [undefined, null, {}, { dispose: () => undefined, note: 1 }]) await (await returning(ok)).close();
  });

  it('refuses registering a key the plugin did not declare', async () => {
    const error = await failure(createRuntime({ config: silent, plugins: [plugin('sneaky', {}, (ctx) => ctx.provide('storage', {} as never))] }));
    expect(error.code).toBe('LIMIT_PLUGIN_UNDECLARED_PROVIDE');
    expect(error.details).toEqual({ key: 'storage' });
  });

  it('refuses a key registered twice by one plugin, naming the plugin and the key, and still releases both values', async () => {
    const released: string[] = [];
    const twice = plugin('twice', { provides: ['svc:twice'] }, (ctx) => {
      ctx.provide('svc:twice' as 'storage', { n: 1 } as never, { dispose: () => void released.push('first') });
      ctx.provide('svc:twice' as 'storage', { n: 2 } as never, { dispose: () => void released.push('second') });
    });
    const error = await failure(createRuntime({ config: silent, plugins: [twice] }));
    expect([error.code, error.plugin, error.message]).toEqual(['LIMIT_PLUGIN_INVALID', 'twice', 'Plugin "twice" registered "svc:twice" twice: a key is provided once']);
    expect(error.details).toEqual({ key: 'svc:twice' });
    expect(error.fix).toContain(`ctx.provide('svc:twice', …)`);
    expect(released.sort()).toEqual(['first', 'second']);
    // provide then provideScoped (or the reverse) under one key is the same mistake.
    const mixed = plugin('mixed', { provides: ['svc:mixed'] }, (ctx) => {
      ctx.provideScoped('svc:mixed' as 'storage', () => ({}) as never);
      ctx.provide('svc:mixed' as 'storage', {} as never);
    });
    expect((await failure(createRuntime({ config: silent, plugins: [mixed] }))).message).toBe('Plugin "mixed" registered "svc:mixed" twice: a key is provided once');
  });

  it('refuses a storage or runner without the methods its contract requires where it is provided, naming the plugin, the key and the methods', async () => {
    const runner = { name: 'half', capabilities: {}, health: async () => ({ status: 'ok' }) };
    const half = await failure(createRuntime({ config: silent, plugins: [plugin('runner-half', { provides: ['runner:half'] }, (ctx) => ctx.provide('runner:half', runner as never))] }));
    expect([half.code, half.plugin, half.message]).toEqual(['LIMIT_PLUGIN_INVALID', 'runner-half', 'Plugin "runner-half" provides "runner:half" without the method(s) executeIsolated the Runner contract requires']);
    expect(half.details).toEqual({ key: 'runner:half', missing: ['executeIsolated'] });
    expect(half.fix).toContain('kernel/contracts/runner.ts');
    // closeSession is optional: a runner without it is accepted.
    const whole = await createRuntime({ config: silent, plugins: [plugin('runner-whole', { provides: ['runner:whole'] }, (ctx) => ctx.provide('runner:whole', { ...runner, executeIsolated: async () => ({}) } as never))] });
    await whole.close();

    const released: string[] = [];
    const store = { backend: 'mine', supports: {}, open: async () => undefined, close: async () => void released.push('closed'), health: 'ok' };
    const storage = await failure(createRuntime({ config: silent, plugins: [plugin('storage-mine', { provides: ['storage'] }, (ctx) => ctx.provide('storage', store as never, { dispose: (s) => s.close() }))] }));
    expect([storage.code, storage.plugin]).toEqual(['LIMIT_PLUGIN_INVALID', 'storage-mine']);
    expect(storage.message).toMatch(/^Plugin "storage-mine" provides "storage" without the method\(s\) health, schemaVersion, createSession, .*, batch the Storage contract requires$/);
    expect((storage.details as { missing: string[] }).missing).toHaveLength(28);
    expect(released).toEqual(['closed']); // what the refused value holds is still released
    const none = await failure(createRuntime({ config: silent, plugins: [plugin('storage-none', { provides: ['storage'] }, (ctx) => ctx.provide('storage', null as never))] }));
    expect(none.message).toBe('Plugin "storage-none" provides "storage" as null, not an object with the methods of the Storage contract');
  });

  it('checks a runner from provideScoped against its contract each time the factory makes one, and releases a refused one', async () => {
    const released: number[] = [];
    let made = 0;
    const scoped = plugin('runner-scoped', { provides: ['runner:scoped'] }, (ctx) =>
      ctx.provideScoped('runner:scoped', () => ({ id: ++made, health: async () => ({ status: 'ok' }) }) as never, { dispose: (r) => void released.push((r as unknown as { id: number }).id) }));
    const runtime = await createRuntime({ config: silent, plugins: [scoped] });
    try {
      const session = await runtime.openSession();
      let error: unknown;
      try {
        session.resolve('runner:scoped');
      } catch (thrown) {
        error = thrown;
      }
      expect(isLimitError(error) && [error.code, error.plugin, error.message]).toEqual(['LIMIT_PLUGIN_INVALID', 'runner-scoped', 'Plugin "runner-scoped" provides "runner:scoped" without the method(s) executeIsolated the Runner contract requires']);
      expect((error as LimitError).fix).toContain(`ctx.provideScoped('runner:scoped', …) a factory that returns an object`);
      await new Promise((resolve) => setImmediate(resolve));
      expect(released).toEqual([1]); // the refused instance is released at once, not handed out
      await session.close();
      expect(released).toEqual([1]);
    } finally {
      await runtime.close();
    }
  });

  it('disposes in reverse order, and a failing dispose does not stop the others', async () => {
    const events: string[] = [];
    const mk = (name: string, fail = false) =>
      plugin(name, { provides: [`svc:${name}`] }, (ctx) => {
        ctx.provide(`svc:${name}` as 'storage', { name } as never, { dispose: () => void events.push(`value ${name}`) });
        ctx.hooks.shutdown.tapPromise(name, async () => void events.push(`shutdown ${name}`));
        return {
          dispose: () => {
            events.push(`dispose ${name}`);
            if (fail) throw new Error(`${name} exploded`);
          },
        };
      });
    const rt = await createRuntime({ config: silent, plugins: [mk('first'), mk('second', true), mk('third')] });
    const report = await rt.close();
    expect(events).toEqual([
      'shutdown third', 'shutdown second', 'shutdown first',
      'dispose third', 'value third', 'dispose second', 'value second', 'dispose first', 'value first',
    ]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]!.code).toBe('LIMIT_PLUGIN_DISPOSE_FAILED');
    expect(report.errors[0]!.plugin).toBe('second');
    // Closing twice is harmless; using a closed runtime is a clear error.
    expect((await rt.close()).errors).toHaveLength(1);
    expect(() => rt.resolve('config')).toThrow(expect.objectContaining({ code: 'LIMIT_RUNTIME_CLOSED' }));
  });

  it('reports each plugin in load order with setup time, and health checks', async () => {
    const rt = await createRuntime({
      config: silent,
      plugins: [
        plugin('healthy', { provides: ['svc:h'], description: 'fine' }, (ctx) => {
          ctx.provide('svc:h' as 'storage', {} as never);
          return { health: () => ({ status: 'ok', checks: [{ name: 'ping', status: 'ok' }] }) };
        }),
        plugin('sick', {}, () => ({ health: () => { throw new Error('disk full'); } })),
        plugin('plain'),
      ],
    });
    expect(rt.plugins.map((p) => [p.name, p.provides])).toEqual([['healthy', ['svc:h']], ['sick', []], ['plain', []]]);
    expect(rt.plugins.every((p) => typeof p.setupMs === 'number' && p.setupMs >= 0)).toBe(true);
    const health = await rt.health();
    expect(health.map((h) => [h.plugin, h.status])).toEqual([['healthy', 'ok'], ['sick', 'fail'], ['plain', 'ok']]);
    expect(health[1]!.message).toBe('disk full');
    await rt.close();
  });

  it('health() and openSession() refuse with LIMIT_RUNTIME_CLOSED (a rejection) once close() has begun, not run on disposed services', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const rt = await createRuntime({
      config: silent,
      plugins: [plugin('pool', {}, (ctx) => {
        ctx.hooks.shutdown.tapPromise(ctx.name, () => gate);
        return { health: () => (calls.push('health'), { status: 'ok', checks: [] }) };
      })],
    });
    const closing = rt.close();
    // During close (its shutdown tap still waits) and after it.
    await expect(rt.health()).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    await expect(rt.openSession()).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    release();
    await closing;
    await expect(rt.health()).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED' });
    expect(calls).toEqual([]);
  });

  it('a plugin that returns no health reports the health() of the runners and storage it provides, not "no health check"', async () => {
    const runner = (name: string, status: 'ok' | 'degraded' | 'fail') => ({
      name, capabilities: { timeout: true, memoryLimit: false, networkIsolation: true, envControl: true, concurrencyLimit: true },
      executeIsolated: async () => ({}),
      health: async () => ({ status, message: `${name} says ${status}`, checks: [{ name: 'capability:memoryLimit', status: 'degraded', message: 'no memory limit' }] }),
    });
    const rt = await createRuntime({
      config: silent,
      plugins: [
        plugin('runner-one', { provides: ['runner:one'] }, (ctx) => void ctx.provide('runner:one', runner('one', 'degraded') as never)),
        plugin('runner-two', { provides: ['runner:a', 'runner:b'] }, (ctx) => {
          ctx.provide('runner:a', runner('a', 'ok') as never);
          ctx.provide('runner:b', runner('b', 'fail') as never);
        }),
        // Its own health() is the one reported.
        plugin('runner-own', { provides: ['runner:own'] }, (ctx) => {
          ctx.provide('runner:own', runner('own', 'fail') as never);
          return { health: () => ({ status: 'ok', checks: [] }) };
        }),
        plugin('plain'),
      ],
    });
    const health = await rt.health();
    expect(health[0]).toEqual({ plugin: 'runner-one', status: 'degraded', message: 'one says degraded', checks: [{ name: 'capability:memoryLimit', status: 'degraded', message: 'no memory limit' }] });
    expect(health[1]).toEqual({
      plugin: 'runner-two', status: 'fail', checks: [
        { name: 'runner:a', status: 'ok', message: 'a says ok' },
        { name: 'runner:a capability:memoryLimit', status: 'degraded', message: 'no memory limit' },
        { name: 'runner:b', status: 'fail', message: 'b says fail' },
        { name: 'runner:b capability:memoryLimit', status: 'degraded', message: 'no memory limit' },
      ],
    });
    expect(health.slice(2).map((h) => [h.plugin, h.status, h.message])).toEqual([['runner-own', 'ok', undefined], ['plain', 'ok', 'no health check']]);
    await rt.close();
  });

  it('resolving an unknown key is LIMIT_SERVICE_NOT_FOUND', async () => {
    const rt = await createRuntime({ config: silent });
    expect(() => rt.resolve('storage')).toThrow(expect.objectContaining({ code: 'LIMIT_SERVICE_NOT_FOUND', message: 'No service is registered under "storage"; the registered keys are config, hooks, logger, runtime' }));
    await rt.close();
  });
});

describe('a plugin that throws something that is not an Error', () => {
  const described = (text: string) => `${text} (thrown instead of an Error)`;

  it('setup, a hook tap, health() and dispose: a LimitError naming the plugin, with the value described and kept as the cause', async () => {
    const thrown = { reason: 'bad db' };
    const setupObject = await failure(createRuntime({ config: silent, plugins: [plugin('throws-object', {}, () => { throw thrown; })] }));
    expect(setupObject).toMatchObject({ code: 'LIMIT_PLUGIN_SETUP_FAILED', plugin: 'throws-object', hook: 'setup' });
    expect(setupObject.message).toBe(`Plugin "throws-object" failed during setup: ${described("{ reason: 'bad db' }")}`);
    expect(setupObject.cause).toBe(thrown);
    // The message already quotes the cause: formatError says it once, with no cause line repeating it.
    expect(formatError(setupObject)).toBe(`LIMIT_PLUGIN_SETUP_FAILED: Plugin "throws-object" failed during setup: ${described("{ reason: 'bad db' }")}\n  at plugin "throws-object", hook "setup"\n  fix: ${setupObject.fix}`);
    const setupUndefined = await failure(createRuntime({ config: silent, plugins: [plugin('throws-undefined', {}, () => { throw undefined; })] }));
    expect(setupUndefined.message).toBe(`Plugin "throws-undefined" failed during setup: ${described('undefined')}`);

    const boot = await failure(createRuntime({ config: silent, plugins: [plugin('boot-null', {}, (ctx) => { ctx.hooks.boot.tapPromise(ctx.name, async () => { throw null; }); })] }));
    expect(boot).toMatchObject({ code: 'LIMIT_HOOK_TAP_FAILED', plugin: 'boot-null', hook: 'boot', message: `Plugin "boot-null" failed in hook "boot": ${described('null')}` });

    const rt = await createRuntime({
      config: silent,
      plugins: [plugin('odd', {}, () => ({ health: () => Promise.reject([1, 2]), dispose: () => { throw { code: 'EBUSY' }; } }))],
    });
    expect((await rt.health())[0]).toMatchObject({ plugin: 'odd', status: 'fail', message: described('[ 1, 2 ]') });
    const closed = await rt.close();
    expect(closed.errors[0]).toMatchObject({ code: 'LIMIT_PLUGIN_DISPOSE_FAILED', plugin: 'odd', message: `Plugin "odd" failed to dispose: ${described("{ code: 'EBUSY' }")}` });
  });

  it('a service it provides fails with a LimitError naming the plugin and the method (LIMIT_RUNNER_FAILED for a runner); Errors pass unchanged', async () => {
    class Store {
      #rows = 1;
      get rows() {
        return this.#rows;
      }
      count() {
        return this.#rows;
      }
      async batch(op: string) {
        if (op === 'undefined') throw undefined;
        if (op === 'object') return Promise.reject({ code: 'EFIRE', detail: 'batch' });
        if (op === 'error') throw new TypeError('a real error');
        return this.#rows;
      }
      sync() {
        throw 'a string';
      }
    }
    const store = new Store();
    const frozen = Object.freeze({ detect: () => { throw undefined; } });
    const rt = await createRuntime({
      config: silent,
      plugins: [
        plugin('store-plugin', { provides: ['svc:store', 'svc:frozen'] }, (ctx) => {
          ctx.provide('svc:store' as 'storage', store as never);
          ctx.provide('svc:frozen' as 'storage', frozen as never);
        }),
        plugin('runner-odd', { provides: ['runner:odd'] }, (ctx) => {
          ctx.provide('runner:odd', { executeIsolated: async () => { throw { why: 'object thrown' }; }, health: async () => ({ status: 'ok' }) } as never);
        }),
      ],
    });
    const svc = rt.resolve('svc:store' as 'storage') as unknown as Store;
    // The plugin's own object underneath: private fields, getters, instanceof and stable methods.
    expect(svc).toBeInstanceOf(Store);
    expect(svc.rows).toBe(1);
    expect(svc.count()).toBe(1);
    expect(await svc.batch('ok')).toBe(1);
    expect(svc.batch).toBe(svc.batch);

    const undef = await failure(svc.batch('undefined'));
    expect(undef).toMatchObject({ code: 'LIMIT_PLUGIN_FAILED', plugin: 'store-plugin', message: `Plugin "store-plugin" failed in svc:store.batch(): ${described('undefined')}` });
    expect(undef.fix).toContain('A bug in the plugin "store-plugin"');
    const object = await failure(svc.batch('object'));
    expect(object.message).toBe(`Plugin "store-plugin" failed in svc:store.batch(): ${described("{ code: 'EFIRE', detail: 'batch' }")}`);
    expect(object.cause).toEqual({ code: 'EFIRE', detail: 'batch' });
    expect(() => svc.sync()).toThrow(expect.objectContaining({ code: 'LIMIT_PLUGIN_FAILED', message: 'Plugin "store-plugin" failed in svc:store.sync(): a string' }));
    const error = await svc.batch('error').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);

    const runner = await failure(rt.resolve('runner:odd').executeIsolated({} as never, {} as never));
    expect(runner).toMatchObject({ code: 'LIMIT_RUNNER_FAILED', plugin: 'runner-odd', message: `Plugin "runner-odd" failed in runner:odd.executeIsolated(): ${described("{ why: 'object thrown' }")}` });
    // A frozen property must read as itself (a proxy may not return anything else): left as it is,
    // so what it throws passes through unwrapped. A wrapped one reads as a TypeError (the proxy's invariant).
    const frozenSvc = rt.resolve('svc:frozen' as 'storage') as unknown as typeof frozen;
    expect(frozenSvc.detect).toBe(frozen.detect);
    const thrown = (() => {
      try {
        frozenSvc.detect();
        return 'returned';
      } catch (e) {
        return { caught: e };
      }
    })();
    expect(thrown).toEqual({ caught: undefined });
    await rt.close();
  });
});
