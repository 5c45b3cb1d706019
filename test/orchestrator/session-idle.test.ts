/**
 * The orchestrator's `sessionIdleMs`: a session nobody closes must not keep its scope (and the
 * runners' state for it) in the process forever. After sessionIdleMs without a run the scope is let
 * go as `released` — the sessionClosed taps see that reason, and the orchestrator asks no runner to
 * closeSession (a runner whose state other processes share, runner-queue, keeps it) — while the
 * session stays open in storage; its next run attaches a new scope. A session with a run in
 * progress, or waiting for its slot, is never let go. Real SQLite storage and governance; a spy
 * runner that records closeSession, and a plugin that records each sessionClosed and its reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, type Runtime, type SessionCloseReason } from 'limit-graph';
import { spyRunner, spyRunnerPlugin, sqliteOrchestratorRuntime, waitUntil } from './doubles.ts';

const IDLE_MS = 1_000;

async function start(orchestrator: Record<string, unknown>) {
  const runner = spyRunner();
  const scopesClosed: [string, SessionCloseReason | undefined][] = [];
  const watcher = definePlugin({
    meta: { name: 'test-scope-watcher', version: '0.0.0' },
    setup: (ctx) => ctx.hooks.sessionClosed.tapPromise(ctx.name, async (h) => void scopesClosed.push([h.id, h.closeReason])),
  });
  const rt = await sqliteOrchestratorRuntime(orchestrator, [spyRunnerPlugin(runner), watcher]);
  return { rt, runner, scopesClosed, orch: rt.resolve('orchestrator') };
}

describe('orchestrator sessionIdleMs', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('lets go of an idle session\'s scope and runner state, keeps it open, and attaches again on its next run', async () => {
    const s = await start({ sessionIdleMs: IDLE_MS });
    rt = s.rt;
    const session = await s.orch.openSession({ name: 'forgotten' });
    const first = await s.orch.run({ sessionId: session.id, runner: 'spy', task: { kind: 'prompt', input: 'one' } });
    expect(first.trace.status).toBe('ok');
    expect(rt.getSession(session.id)?.closed).toBe(false);
    expect(s.scopesClosed).toEqual([]);

    // Swept within idleMs + one sweep interval (min(idleMs, 60 s)): the scope is released, not the session.
    expect(await waitUntil(() => s.scopesClosed.length > 0, 4 * IDLE_MS)).toBe(true);
    expect(s.scopesClosed).toEqual([[session.id, 'released']]);
    expect(rt.getSession(session.id)).toBeUndefined();
    expect(s.runner.closed).toEqual([]);
    expect((await s.orch.getSession(undefined, session.id))?.status).toBe('open');

    const second = await s.orch.run({ sessionId: session.id, runner: 'spy', task: { kind: 'prompt', input: 'two' } });
    expect(second.trace.status).toBe('ok');
    expect(second.trace.output?.stdout).toBe('two');
    expect(rt.getSession(session.id)?.closed).toBe(false);
    // Closing it now closes the scope attached again as `closed`: the runners let go, storage says closed.
    expect((await s.orch.closeSession(undefined, session.id)).status).toBe('closed');
    expect(s.scopesClosed).toEqual([[session.id, 'released'], [session.id, 'closed']]);
    expect(s.runner.closed).toEqual([session.id]);
    expect(s.runner.closedTenants).toEqual(['default']);
  });

  it('never lets go of a session while a run of it is in progress or waiting for its slot', async () => {
    const s = await start({ sessionIdleMs: IDLE_MS });
    rt = s.rt;
    const session = await s.orch.openSession({ limits: { maxConcurrency: 1 } });
    const runs = [
      s.orch.run({ sessionId: session.id, runner: 'spy', task: { kind: 'prompt', input: `SLEEP:${3 * IDLE_MS} long` } }),
      s.orch.run({ sessionId: session.id, runner: 'spy', task: { kind: 'prompt', input: 'queued' } }),
    ];
    // Past idleMs and two sweeps, with one run executing and one waiting for its slot.
    await new Promise((r) => setTimeout(r, 2.5 * IDLE_MS));
    expect(s.scopesClosed).toEqual([]);
    const outcomes = await Promise.all(runs);
    expect(outcomes.map((o) => [o.trace.status, o.trace.output?.stdout])).toEqual([['ok', 'long'], ['ok', 'queued']]);
    // Idle from the end of the last run on.
    expect(await waitUntil(() => s.scopesClosed.length > 0, 4 * IDLE_MS)).toBe(true);
    expect(s.scopesClosed).toEqual([[session.id, 'released']]);
  });

  it('is an option with a range: below 1 s is refused naming it', async () => {
    await expect(start({ sessionIdleMs: 10 })).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('sessionIdleMs') });
  });
});

describe('a scope\'s close reason', () => {
  it('is closed for handle.close() and closeSession, released for the runtime\'s close (the session stays open in storage); a bad reason is refused', async () => {
    const s = await start({});
    const kept = await s.orch.openSession();
    const ended = await s.orch.openSession();
    const bare = await s.rt.openSession({});
    await expect(bare.close('gone' as SessionCloseReason)).rejects.toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringContaining('close reason must be "closed" or "released", got "gone"') });
    expect(bare.closed).toBe(false);
    await bare.close();
    await s.orch.closeSession(undefined, ended.id);
    await s.rt.close();
    expect(s.scopesClosed).toEqual([[bare.id, 'closed'], [ended.id, 'closed'], [kept.id, 'released']]);
    // The runners were asked to let go of the sessions that ended, not of the one released (still open).
    expect(s.runner.closed).toEqual([bare.id, ended.id]);
    expect(s.runner.closed).not.toContain(kept.id);
  });
});

describe('close reasons at the edges', () => {
  it('an openSession that loses the create race to another process releases its scope: the runners keep that process\'s session', async () => {
    const s = await start({});
    const storage = s.rt.resolve('storage');
    const theirs = await storage.createSession({
      id: 'raced', tenant: 'default', name: 'theirs', status: 'open', createdAt: new Date().toISOString(),
      limits: { maxConcurrency: 1, allowNetwork: false, timeoutMs: 30_000, memoryMb: 512 }, metadata: {},
    });
    // The other process's create lands between this one's check and its write.
    const getSession = storage.getSession.bind(storage);
    storage.getSession = async (tenant, id) => (id === 'raced' ? null : getSession(tenant, id));
    await expect(s.orch.openSession({ id: 'raced' })).rejects.toMatchObject({ code: 'LIMIT_CONFLICT' });
    storage.getSession = getSession;
    expect(s.scopesClosed).toEqual([['raced', 'released']]);
    expect(s.runner.closed).toEqual([]);
    expect(await storage.getSession('default', 'raced')).toEqual(theirs);
    await s.rt.close();
  });

  it('a closeSession that joins a release in progress still makes every runner let go of the session', async () => {
    let hold!: () => void;
    const held = new Promise<void>((r) => (hold = r));
    const gate = definePlugin({
      meta: { name: 'test-release-gate', version: '0.0.0' },
      setup: (ctx) => ctx.hooks.sessionClosed.tapPromise(ctx.name, async (h) => { if (h.closeReason === 'released') await held; }),
    });
    const runner = spyRunner();
    const rt = await sqliteOrchestratorRuntime({}, [gate, spyRunnerPlugin(runner)]);
    const orch = rt.resolve('orchestrator');
    const session = await orch.openSession();
    const releasing = rt.getSession(session.id)!.close('released');
    const closing = orch.closeSession(undefined, session.id);
    await new Promise((r) => setTimeout(r, 50));
    hold();
    await releasing;
    expect((await closing).status).toBe('closed');
    expect(runner.closed).toEqual([session.id]);
    await rt.close();
  });
});
