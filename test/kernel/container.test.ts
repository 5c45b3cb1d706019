import { describe, expect, it } from 'vitest';
import { asFunction, AwilixResolutionError } from 'awilix';
import { createRuntime, definePlugin } from 'limit-graph';

declare module 'limit-graph' {
  interface Cradle {
    counter: { id: number; sessionId: string };
    clock: { now(): number };
    greeting: { text: string };
    broken: unknown;
  }
}

const silent = { logLevel: 'silent' as const, plugins: {} };

function scopedPlugin(disposed: number[]) {
  let next = 0;
  return definePlugin({
    meta: { name: 'scoped-counter', version: '1.0.0', provides: ['counter', 'clock'] },
    setup(ctx) {
      ctx.provide('clock', { now: () => 42 });
      ctx.provideScoped('counter', (cradle) => ({ id: ++next, sessionId: cradle.session.id }), { dispose: (c) => void disposed.push(c.id) });
    },
  });
}

describe('container and sessions', () => {
  it('gives each session its own scoped instance, reused within the session', async () => {
    const disposed: number[] = [];
    const rt = await createRuntime({ config: silent, plugins: [scopedPlugin(disposed)] });
    const a = await rt.openSession({ id: 'a', tenant: 'acme' });
    const b = await rt.openSession({ id: 'b' });
    const ca = a.resolve('counter');
    const cb = b.resolve('counter');
    expect(ca).not.toBe(cb);
    expect(ca.id).not.toBe(cb.id);
    expect(a.resolve('counter')).toBe(ca);
    expect(ca.sessionId).toBe('a');
    expect(cb.sessionId).toBe('b');
    // Singletons are shared.
    expect(a.resolve('clock')).toBe(b.resolve('clock'));
    expect(a.session).toMatchObject({ id: 'a', tenant: 'acme', status: 'open', limits: { maxConcurrency: 4, allowNetwork: false } });
    expect(b.tenant).toBe('default');
    await rt.close();
  });

  it('disposal reaches every scoped disposer, sessions before the root', async () => {
    const disposed: number[] = [];
    const order: string[] = [];
    const observer = definePlugin({
      meta: { name: 'observer', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => void order.push(`closed ${s.id}`));
        ctx.hooks.shutdown.tapPromise(ctx.name, async () => void order.push('shutdown'));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [scopedPlugin(disposed), observer] });
    const sessions = await Promise.all([1, 2, 3].map((i) => rt.openSession({ id: `s${i}` })));
    const ids = sessions.map((s) => s.resolve('counter').id);
    await sessions[0]!.close();
    expect(disposed).toEqual([ids[0]]);
    expect(sessions[0]!.closed).toBe(true);
    expect(sessions[0]!.signal.aborted).toBe(true);
    expect(() => sessions[0]!.resolve('counter')).toThrow(expect.objectContaining({ code: 'LIMIT_SESSION_CLOSED' }));
    await rt.close();
    expect(disposed.sort()).toEqual([...ids].sort());
    expect(order).toEqual(['closed s1', 'closed s2', 'closed s3', 'shutdown']);
  });

  it('a close already in progress is waited for: by a second session.close() and by runtime.close()', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = definePlugin({
      meta: { name: 'slow-close', version: '1.0.0', provides: ['clock'] },
      setup(ctx) {
        ctx.provide('clock', { now: () => 0 }, { dispose: () => void order.push('root disposed') });
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => {
          await gate;
          order.push(`closed ${s.id}`);
        });
        ctx.hooks.shutdown.tapPromise(ctx.name, async () => void order.push('shutdown'));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [slow] });
    const s = await rt.openSession({ id: 's1' });
    const first = s.close().then(() => order.push('first close'));
    const second = s.close().then(() => order.push('second close'));
    const runtimeClosed = rt.close().then(() => order.push('runtime closed'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]); // nothing returned or shut down while the sessionClosed tap runs
    release();
    await Promise.all([first, second, runtimeClosed]);
    expect(order).toEqual(['closed s1', 'first close', 'second close', 'shutdown', 'root disposed', 'runtime closed']);
  });

  it('reports a failing awilix disposer of a key registered on ctx.container directly, instead of rejecting runtime.close()', async () => {
    const direct = definePlugin({
      meta: { name: 'direct', version: '1.0.0', provides: ['clock', 'counter'] },
      setup(ctx) {
        ctx.container.register('clock', asFunction(() => ({ now: () => 0 })).singleton().disposer(() => { throw new Error('clock stuck'); }));
        ctx.container.register('counter', asFunction(() => ({ id: 1, sessionId: '' })).scoped().disposer(() => { throw new Error('counter stuck'); }));
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [direct] });
    rt.resolve('clock');
    (await rt.openSession()).resolve('counter');
    const { errors } = await rt.close();
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['LIMIT_PLUGIN_DISPOSE_FAILED', 'Failed to close a session: counter stuck'],
      ['LIMIT_PLUGIN_DISPOSE_FAILED', 'Failed to dispose the container: clock stuck'],
    ]);
  });

  it('validates session limits and refuses a duplicate open session id', async () => {
    const rt = await createRuntime({ config: silent });
    await expect(rt.openSession({ limits: { maxConcurrency: 0 } })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringContaining('maxConcurrency') });
    await rt.openSession({ id: 'x' });
    await expect(rt.openSession({ id: 'x' })).rejects.toMatchObject({ code: 'LIMIT_CONFLICT', message: 'Session "x" is already open', details: { sessionId: 'x' } });
    await rt.close();
  });

  it('refuses an empty or malformed session id or tenant with LIMIT_VALIDATION naming the field', async () => {
    const rt = await createRuntime({ config: silent });
    for (const id of ['', '../etc', 'a/b', '.hidden', 'x'.repeat(129)]) {
      await expect(rt.openSession({ id })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/^Invalid session id /), details: { field: 'id', value: id } });
    }
    await expect(rt.openSession({ tenant: '' })).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', details: { field: 'tenant' } });
    expect((await rt.openSession({ id: 'ok.1:a_b-c' })).id).toBe('ok.1:a_b-c');
    await rt.close();
  });

  it('an open of an id whose close is in progress waits for that close: its sessionClosed taps never see the new session', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const dirs = definePlugin({
      meta: { name: 'dirs', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.sessionOpened.tapPromise(ctx.name, async (s) => void events.push(`mkdir ${s.id}`));
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => {
          await gate;
          events.push(`rmdir ${s.id}`);
        });
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [dirs] });
    const first = await rt.openSession({ id: 's' });
    const closed = first.close();
    const reopened = rt.openSession({ id: 's' });
    const again = rt.openSession({ id: 's' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['mkdir s']); // the new session waits
    expect(rt.getSession('s')).toBeUndefined();
    release();
    await closed;
    const second = await reopened;
    // The waiting opens go in the order they were asked: the first wins, the second finds it open.
    await expect(again).rejects.toMatchObject({ code: 'LIMIT_CONFLICT', message: 'Session "s" is already open', details: { sessionId: 's' } });
    expect(events).toEqual(['mkdir s', 'rmdir s', 'mkdir s']);
    expect(rt.getSession('s')).toBe(second);
    expect(second.closed).toBe(false);
    await rt.close();
  });

  it('a session closed while it opens (its close, or the runtime\'s) closes after its sessionOpened taps: what they acquire is released, and openSession rejects', async () => {
    const held = new Set<string>();
    const events: string[] = [];
    const holder = definePlugin({
      meta: { name: 'holder', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.sessionOpened.tapPromise(ctx.name, async (s) => {
          events.push(`open ${s.id}`);
          await new Promise((resolve) => setTimeout(resolve, 60));
          held.add(s.id);
          events.push(`acquired ${s.id} (signal aborted: ${s.signal.aborted})`);
        });
        ctx.hooks.sessionClosed.tapPromise(ctx.name, async (s) => {
          held.delete(s.id);
          events.push(`released ${s.id} ${s.closeReason}`);
        });
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [holder] });
    const opened = (h: { closed: boolean }) => `resolved, closed=${h.closed}`; // not the handle itself: vitest would print its scope
    const opening = rt.openSession({ id: 's1' }).then(opened);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const handle = rt.getSession('s1')!;
    const closing = handle.close();
    await expect(opening).rejects.toMatchObject({ code: 'LIMIT_SESSION_CLOSED', message: 'Session "s1" was closed while it opened', details: { sessionId: 's1' } });
    await closing;
    expect(events).toEqual(['open s1', 'acquired s1 (signal aborted: true)', 'released s1 closed']);
    expect([handle.closed, rt.getSession('s1'), [...held]]).toEqual([true, undefined, []]);

    events.length = 0;
    const second = rt.openSession({ id: 's2' }).then(opened);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const report = await rt.close();
    await expect(second).rejects.toMatchObject({ code: 'LIMIT_RUNTIME_CLOSED', message: 'The runtime was shut down while session "s2" opened' });
    expect(report.errors).toEqual([]);
    expect(events).toEqual(['open s2', 'acquired s2 (signal aborted: true)', 'released s2 released']);
    expect([...held]).toEqual([]);
  });

  it('is strict: a singleton may not depend on a scoped service', async () => {
    const bad = definePlugin({
      meta: { name: 'bad-lifetimes', version: '1.0.0', provides: ['counter', 'clock'] },
      setup(ctx) {
        ctx.provideScoped('counter', (c) => ({ id: 1, sessionId: c.session.id }));
        ctx.container.register('clock', asFunction((c: { counter: unknown }) => ({ now: () => 0, counter: c.counter })).singleton());
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [bad] });
    const s = await rt.openSession();
    expect(() => s.scope.resolve('clock')).toThrow(/shorter lifetime than its ancestor/);
    await rt.close();
  });
});

describe('a key nothing registers is LIMIT_SERVICE_NOT_FOUND, not awilix\'s error', () => {
  const thrown = new Error('the factory failed');
  const services = definePlugin({
    meta: { name: 'services', version: '1.0.0', provides: ['greeting', 'broken'] },
    setup(ctx) {
      // greeting needs "name", which nothing registers; broken's factory fails by itself.
      ctx.container.register('greeting', asFunction((c: { name: string }) => ({ text: `hi ${c.name}` })));
      ctx.container.register('broken', asFunction(() => {
        throw thrown;
      }));
    },
  });
  const caught = (fn: () => unknown): Error & { code?: string; fix?: string; details?: Record<string, unknown> } => {
    try {
      fn();
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a throw');
  };

  it('from runtime.container (resolve and cradle), a scope of it and a session scope: the key, the registered keys, awilix\'s error as cause', async () => {
    const rt = await createRuntime({ config: silent, plugins: [services] });
    const session = await rt.openSession({ id: 's' });
    const missing = [
      caught(() => rt.container.resolve('nope' as never)),
      caught(() => (rt.container.cradle as unknown as Record<string, unknown>).nope),
      caught(() => rt.container.createScope().resolve('nope' as never)),
      caught(() => (rt.container.createScope().createScope().cradle as unknown as Record<string, unknown>).nope),
      caught(() => session.scope.resolve('nope' as never)),
      caught(() => session.resolve('nope' as never)),
    ];
    for (const error of missing) {
      expect(error).toMatchObject({ name: 'LimitError', code: 'LIMIT_SERVICE_NOT_FOUND', details: { key: 'nope' } });
      expect(error.message).toMatch(/^No service is registered under "nope"; the registered keys are broken, config, greeting, hooks, logger, runtime(, session)?$/);
      expect(error.fix).toContain("ctx.provide('nope', value)");
      expect(error.cause).toBeInstanceOf(AwilixResolutionError);
    }
    expect(missing[4]!.message).toContain('runtime, session');
    await rt.close();
  });

  it('a dependency nothing registers names the key and what needed it', async () => {
    const rt = await createRuntime({ config: silent, plugins: [services] });
    for (const container of [rt.container, rt.container.createScope()]) {
      const error = caught(() => container.resolve('greeting'));
      expect(error).toMatchObject({ code: 'LIMIT_SERVICE_NOT_FOUND', details: { key: 'name', neededBy: ['greeting'] } });
      expect(error.message).toMatch(/^No service is registered under "name" \(needed by "greeting": greeting -> name\); the registered keys are /);
      expect(error.cause).toBeInstanceOf(AwilixResolutionError);
    }
    await rt.close();
  });

  it('a per-session service (provideScoped) or "session" resolved from the root says to resolve it from a session\'s scope', async () => {
    const scoped = definePlugin({
      meta: { name: 'scoped', version: '1.0.0', provides: ['svc:s'] },
      setup(ctx) {
        ctx.provideScoped('svc:s' as never, ((c: { session: { id: string } }) => ({ id: c.session.id })) as never);
      },
    });
    const rt = await createRuntime({ config: silent, plugins: [scoped] });
    const fromRoot = caught(() => rt.resolve('svc:s' as never));
    expect(fromRoot).toMatchObject({ code: 'LIMIT_SERVICE_NOT_FOUND', details: { key: 'session', neededBy: ['svc:s'], scoped: 'svc:s' } });
    expect(fromRoot.message).toBe('"svc:s" is per session (registered with provideScoped) and was resolved outside a session\'s scope, where there is no "session" (needed by "svc:s": svc:s -> session)');
    expect(fromRoot.fix).toMatch(/^Resolve "svc:s" from a session's scope: handle\.resolve\('svc:s'\) on the handle that runtime\.openSession\(\) returns/);
    expect(fromRoot.fix).not.toContain("ctx.provide('session'");
    const session = caught(() => rt.resolve('session'));
    expect(session.message).toBe('"session" exists only inside a session\'s scope, and was resolved outside one');
    expect(session.fix).toMatch(/^Resolve "session" from a session's scope/);
    // From the session's scope it resolves.
    const handle = await rt.openSession({ id: 's1' });
    expect(handle.resolve('svc:s' as never)).toEqual({ id: 's1' });
    await rt.close();
  });

  it('what a registered factory throws passes through untouched', async () => {
    const rt = await createRuntime({ config: silent, plugins: [services] });
    expect(caught(() => rt.container.resolve('broken'))).toBe(thrown);
    expect(caught(() => rt.container.createScope().cradle.broken)).toBe(thrown);
    // Still resolvable afterwards: the resolution path was unwound.
    expect(caught(() => rt.container.resolve('nope' as never)).message).toMatch(/^No service is registered under "nope";/);
    await rt.close();
  });
});
