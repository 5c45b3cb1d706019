/**
 * Federation and cancellation (test doubles for storage, governance and runners): what a caller's
 * abort records, what a federation does once aborted, the order of its merge and why each branch
 * was left out of it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime } from 'limit-graph';
import type { Orchestrator, Runtime } from 'limit-graph';
import orchestratorPlugin from '../../plugins/orchestrator/index.ts';
import { keywordGovernancePlugin, memoryStoragePlugin, spyRunner, spyRunnerPlugin, type SpyRunner } from './doubles.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('federation and cancellation', () => {
  let rt: Runtime;
  let orch: Orchestrator;
  let spy: SpyRunner;

  beforeEach(async () => {
    spy = spyRunner('spy');
    rt = await createRuntime({
      config: { plugins: {} },
      plugins: [memoryStoragePlugin, keywordGovernancePlugin, spyRunnerPlugin(spy), spyRunnerPlugin(spyRunner('other')), orchestratorPlugin.configure({ timeoutGraceMs: 200 })],
    });
    orch = rt.resolve('orchestrator');
  });
  afterEach(async () => {
    await rt.close();
  });

  it("records a run cancelled through the caller's signal as LIMIT_RUNNER_ABORTED, running or waiting for its slot", async () => {
    const s = await orch.openSession({ limits: { maxConcurrency: 1 } });
    const controller = new AbortController();
    const running = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'HANG' }, signal: controller.signal });
    const waiting = orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:10 queued' }, signal: controller.signal });
    await sleep(50);
    controller.abort(); // a DOMException AbortError, as most callers abort
    for (const out of await Promise.all([running, waiting])) {
      expect(out.trace.status).toBe('error');
      expect(out.trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_ABORTED', message: 'Execution was aborted: This operation was aborted' });
    }
    expect(spy.calls.map((c) => c.input)).toEqual(['HANG']); // the queued run never reached the runner

    // A runner that answers the abort itself, and a reason of the caller's own.
    const reasoned = new AbortController();
    setTimeout(() => reasoned.abort(new Error('user cancelled')), 30);
    const answered = await orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'SLEEP:5000 x' }, signal: reasoned.signal });
    expect(answered.trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_ABORTED', message: 'Execution was aborted: user cancelled' });
  });
});
