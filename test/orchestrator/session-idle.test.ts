/**
 * The orchestrator's `sessionIdleMs`: a session nobody closes must not keep its scope (and the
 * runners' state for it) in the process forever. After sessionIdleMs without a run the scope is let
 * go — the runners get closeSession — while the session stays open in storage; its next run attaches
 * a new scope. A session with a run in progress, or waiting for its slot, is never let go.
 * Real SQLite storage and governance; a spy runner that records closeSession.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type ConfigInput, type Runtime } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

const IDLE_MS = 1_000;

async function start(orchestrator: Record<string, unknown>) {
  const runner = spyRunner();
  const rt = await createRuntime({
    config: {
      logLevel: 'silent',
      storage: 'sqlite',
      plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { packs: [] }, orchestrator },
    } as ConfigInput,
    plugins: [spyRunnerPlugin(runner)],
  });
  return { rt, runner, orch: rt.resolve('orchestrator') };
}

const waitUntil = async (check: () => boolean, ms: number) => {
  const deadline = performance.now() + ms;
  while (!check() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return check();
};

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
    expect(s.runner.closed).toEqual([]);

    // Swept within idleMs + one sweep interval (min(idleMs, 60 s)).
    expect(await waitUntil(() => s.runner.closed.includes(session.id), 4 * IDLE_MS)).toBe(true);
    expect(s.runner.closedTenants).toEqual(['default']);
    expect(rt.getSession(session.id)).toBeUndefined();
    expect((await s.orch.getSession(undefined, session.id))?.status).toBe('open');

    const second = await s.orch.run({ sessionId: session.id, runner: 'spy', task: { kind: 'prompt', input: 'two' } });
    expect(second.trace.status).toBe('ok');
    expect(second.trace.output?.stdout).toBe('two');
    expect(rt.getSession(session.id)?.closed).toBe(false);
    // Closing it now closes the scope attached again, and storage says closed.
    expect((await s.orch.closeSession(undefined, session.id)).status).toBe('closed');
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
    expect(s.runner.closed).toEqual([]);
    const outcomes = await Promise.all(runs);
    expect(outcomes.map((o) => [o.trace.status, o.trace.output?.stdout])).toEqual([['ok', 'long'], ['ok', 'queued']]);
    // Idle from the end of the last run on.
    expect(await waitUntil(() => s.runner.closed.includes(session.id), 4 * IDLE_MS)).toBe(true);
  });

  it('is an option with a range: below 1 s is refused naming it', async () => {
    await expect(start({ sessionIdleMs: 10 })).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('sessionIdleMs') });
  });
});
