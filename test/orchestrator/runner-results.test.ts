/**
 * What the orchestrator does with what a runner gives back: a result that breaks the contract, or a
 * throw of something that is not an Error, is a failed run of that runner (its trace `error`,
 * LIMIT_RUNNER_FAILED naming the runner and what was wrong), never a TypeError, a validation error
 * blaming the request, or `[object Object]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, isLimitError, type Orchestrator, type Runtime, type TaskParsed } from 'limit-graph';
import { packPlugins } from '../governance/helpers.ts';
import orchestratorPlugin from '../../plugins/orchestrator/index.ts';
import { keywordGovernancePlugin, memoryStorage } from './doubles.ts';

/** Answers each task by its input: `shape:<name>` returns one of the results below, `throw:<name>` throws one of the values. */
const results: Record<string, unknown> = {
  hello: { hello: 'world' },
  undefined: undefined,
  badMetrics: { ok: true, stdout: 'hi', stderr: '', metrics: { latencyMs: -5, exitCode: 1.5 } },
  noMetrics: { ok: true, stdout: 'hi', stderr: '' },
  stdoutNumber: { ok: true, stdout: 42, stderr: '', metrics: { latencyMs: 1 } },
  bigintValue: { ok: true, stdout: '', stderr: '', value: { n: 1n }, metrics: { latencyMs: 1 } },
};
const thrown: Record<string, unknown> = { object: { why: 'object thrown' }, undefined: undefined };

const oddRunner = definePlugin({
  meta: { name: 'runner-odd', version: '0.0.0', provides: ['runner:odd'] },
  setup(ctx) {
    ctx.provide('runner:odd', {
      name: 'odd',
      capabilities: { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
      // Not `async`: a `sync:` task throws or answers synchronously, as a hand-written runner may.
      executeIsolated(task: TaskParsed) {
        const [kind, name] = task.input.split(':') as [string, string];
        if (kind === 'sync') {
          if (name === 'throw') throw new Error('sync failure');
          return { ok: true, stdout: 'sync', stderr: '', metrics: { latencyMs: 1 } } as never;
        }
        if (kind === 'throw') return Promise.reject(thrown[name]);
        return Promise.resolve(results[name] as never);
      },
      async health() {
        return { status: 'ok', checks: [] };
      },
    });
  },
});

/** Storage whose batch throws `undefined` for a trace whose task input holds STORAGE-FIRE-UNDEF. */
const firingStorage = definePlugin({
  meta: { name: 'storage-firing', version: '0.0.0', provides: ['storage'] },
  setup(ctx) {
    const store = memoryStorage();
    const batch = store.batch.bind(store);
    store.batch = async (tenant, ops) => {
      if (JSON.stringify(ops).includes('STORAGE-FIRE-UNDEF')) throw undefined;
      return batch(tenant, ops);
    };
    ctx.provide('storage', store);
  },
});

describe('runner results and throws, as the orchestrator receives them', () => {
  let rt: Runtime;
  let orch: Orchestrator;
  beforeEach(async () => {
    rt = await createRuntime({ config: { logLevel: 'silent', plugins: {} }, plugins: [firingStorage, keywordGovernancePlugin, oddRunner, orchestratorPlugin] });
    orch = rt.resolve('orchestrator');
  });
  afterEach(async () => {
    await rt.close();
  });

  const run = async (input: string) => {
    const session = await orch.openSession();
    return orch.run({ sessionId: session.id, runner: 'odd', task: { input } });
  };

  it('a result that breaks the contract is a failed run: LIMIT_RUNNER_FAILED naming the runner and each bad field', async () => {
    const expected: Record<string, string> = {
      hello: 'Runner "odd" returned an invalid result: ok: Expected boolean, received undefined; stdout: Expected string, received undefined; stderr: Expected string, received undefined; metrics: Expected object, received undefined',
      undefined: 'Runner "odd" returned an invalid result: Expected object, received undefined',
      badMetrics: 'Runner "odd" returned an invalid result: metrics.latencyMs: Too small: expected number to be >=0; metrics.exitCode: Expected int, received number',
      noMetrics: 'Runner "odd" returned an invalid result: metrics: Expected object, received undefined',
      stdoutNumber: 'Runner "odd" returned an invalid result: stdout: Expected string, received number',
      bigintValue: 'Runner "odd" returned an invalid result: value.n: ',
    };
    for (const [name, message] of Object.entries(expected)) {
      const { trace } = await run(`shape:${name}`);
      expect(trace.status, name).toBe('error');
      expect(trace.output, name).toMatchObject({ ok: false, stdout: '', stderr: '', error: { code: 'LIMIT_RUNNER_FAILED' } });
      expect(trace.output!.error!.message.startsWith(message), `${name}: ${trace.output!.error!.message}`).toBe(true);
      expect(trace.metrics!.latencyMs, name).toBeGreaterThanOrEqual(0);
    }
  });

  it('a runner that throws something that is not an Error: the trace says what it threw and which plugin threw it', async () => {
    const object = await run('throw:object');
    expect(object.trace.status).toBe('error');
    expect(object.trace.output?.error).toEqual({
      code: 'LIMIT_RUNNER_FAILED',
      message: `Plugin "runner-odd" failed in runner:odd.executeIsolated(): { why: 'object thrown' } (thrown instead of an Error)`,
    });
    const undef = await run('throw:undefined');
    expect(undef.trace.output?.error?.message).toBe('Plugin "runner-odd" failed in runner:odd.executeIsolated(): undefined (thrown instead of an Error)');
  });

  it('a runner whose executeIsolated throws synchronously, or answers without a promise: a failed run (or its result), and no unhandled rejection when the session closes later', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const session = await orch.openSession();
      const thrownSync = await orch.run({ sessionId: session.id, runner: 'odd', task: { input: 'sync:throw' } });
      expect(thrownSync.trace.status).toBe('error');
      expect(thrownSync.trace.output?.error).toEqual({ code: 'LIMIT_RUNNER_FAILED', message: 'sync failure' });
      const plain = await orch.run({ sessionId: session.id, runner: 'odd', task: { input: 'sync:value' } });
      expect(plain.trace.status).toBe('ok');
      expect(plain.trace.output?.stdout).toBe('sync');
      // Closing the session aborts the runs' signals: nothing may be left waiting on them unhandled.
      await orch.closeSession(undefined, session.id);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a storage that throws undefined: the run fails with a LimitError naming the storage plugin', async () => {
    const error = await run('STORAGE-FIRE-UNDEF').then(() => undefined, (e: unknown) => e);
    expect(isLimitError(error), String(error)).toBe(true);
    expect(error).toMatchObject({ code: 'LIMIT_PLUGIN_FAILED', plugin: 'storage-firing', message: 'Plugin "storage-firing" failed in storage.batch(): undefined (thrown instead of an Error)' });
  });
});

describe('a runner output larger than the backend stores (maxRecordBytes)', () => {
  it('is that runner\'s failed run, recorded with its executed entry and governed, not a storage error thrown at the caller', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-big-output-'));
    const big = definePlugin({
      meta: { name: 'runner-big', version: '0.0.0', provides: ['runner:big'] },
      setup(ctx) {
        ctx.provide('runner:big', {
          name: 'big',
          capabilities: { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
          async executeIsolated(task: TaskParsed) {
            return { ok: true, stdout: 'x'.repeat(Number(task.input)), stderr: '', metrics: { latencyMs: 1 } };
          },
          async health() {
            return { status: 'ok', checks: [] };
          },
        });
      },
    });
    const rt = await createRuntime({
      config: { logLevel: 'silent', storage: 'sqlite', plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db'), maxRecordBytes: 4096 }, ...packPlugins(), governance: {}, orchestrator: {} } },
      plugins: [big],
    });
    try {
      const orch = rt.resolve('orchestrator');
      const session = await orch.openSession();
      const out = await orch.run({ sessionId: session.id, runner: 'big', task: { input: '10000' } });
      expect(out.executed).toBe(true);
      expect(out.trace.status).toBe('error');
      expect(out.trace.output).toMatchObject({ ok: false, stdout: '', error: { code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^Runner "big" returned an output too large to store, which was not kept \(stdout 10000 and stderr 0 characters\): .*limit is 4096 bytes/) } });
      // Governance assessed the output: nothing found, allowed.
      expect(out.verdicts.output).toMatchObject({ decision: 'allow', findings: [] });
      const detail = await orch.inspectTrace(undefined, out.trace.id);
      expect(detail.provenance.map((e) => e.action)).toEqual(['created', 'executed', 'completed']);
      expect(detail.provenance[1]!.data).toMatchObject({ ok: false, error: 'LIMIT_PAYLOAD_TOO_LARGE' });
      expect(detail.verification.verified).toBe(true);
      // An output within the limit is kept as it was.
      expect((await orch.run({ sessionId: session.id, runner: 'big', task: { input: '100' } })).trace.output?.stdout).toBe('x'.repeat(100));
    } finally {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
