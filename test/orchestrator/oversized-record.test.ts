/**
 * A recorded (external) trace larger than the storage backend keeps (its maxRecordBytes): the
 * caller's own payload, so it is refused up front with LIMIT_PAYLOAD_TOO_LARGE naming the fields'
 * sizes and the limit — before governance, storing nothing — as a run whose task input is too large
 * is refused when its trace is created. Before, it was governed, its write failed, the attempt to
 * store it as `error` failed too (only logged), and the caller got storage's 'batch op 0
 * (createTrace): …'. Real SQLite storage, governance and orchestrator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, isLimitError, type GovernanceRule, type Runtime } from 'limit-graph';
import { spyRunner, spyRunnerPlugin } from './doubles.ts';

describe('a recorded trace larger than the backend stores (maxRecordBytes)', () => {
  let rt: Runtime | undefined;
  let dir: string | undefined;
  const errors: unknown[] = [];
  const evaluated: string[] = [];
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function start() {
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-big-record-'));
    errors.length = 0;
    evaluated.length = 0;
    const probe: GovernanceRule = {
      id: 'acme.probe', flag: 'Unsafe', surfaces: ['input', 'output'],
      evaluate: (subject) => {
        if (subject.view?.name === 'raw' && subject.field === 'task.input') evaluated.push(subject.surface);
        return [];
      },
    };
    rt = await createRuntime({
      config: {
        logLevel: 'silent', storage: 'sqlite',
        plugins: { 'storage-sqlite': { path: path.join(dir, 'limit.db'), maxRecordBytes: 4096 }, 'runner-python': false, governance: { packs: [], rules: [probe] }, orchestrator: {} },
      },
      plugins: [spyRunnerPlugin(spyRunner('spy'))],
    });
    // Errors the orchestrator only logs (a salvage that failed) would be lost data: none may occur.
    const logger = rt.logger;
    const error = logger.error.bind(logger);
    logger.error = ((...args: unknown[]) => {
      errors.push(args);
      return (error as (...a: unknown[]) => void)(...args);
    }) as typeof logger.error;
    return rt.resolve('orchestrator');
  }

  it('is refused with LIMIT_PAYLOAD_TOO_LARGE naming the field sizes and the limit, before governance, storing nothing', async () => {
    const orch = await start();
    const s = await orch.openSession({});
    const error = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'hello' }, output: { ok: true, stdout: 'x'.repeat(10_000), stderr: 'e' } })
      .then(() => undefined, (e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PAYLOAD_TOO_LARGE'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/^The recorded trace is \d+ bytes as JSON; the storage backend \(sqlite\) keeps at most 4096 bytes a trace \(maxRecordBytes\): task\.input 5, output\.stdout 10000, output\.stderr 1 characters/);
    expect(error).toMatchObject({ details: { field: 'output.stdout', maxBytes: 4096, sizes: { 'task.input': 5, 'output.stdout': 10_000, 'output.stderr': 1 } } });
    expect(evaluated).toEqual([]);
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items).toEqual([]);
    expect(errors).toEqual([]);
    // A task input too large names that field.
    await expect(orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'i'.repeat(5000) }, output: { ok: true, stdout: '', stderr: '' } }))
      .rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { field: 'task.input' } });
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items).toEqual([]);
    // A run whose task input is too large is refused the same way, naming the field, before its trace is created.
    await expect(orch.run({ sessionId: s.id, runner: 'spy', task: { input: 'i'.repeat(5000) } }))
      .rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^The run's trace is \d+ bytes as JSON; .*task\.input 5000/), details: { field: 'task.input' } });
    expect((await orch.listTraces(undefined, { sessionId: s.id })).items).toEqual([]);
    // Within the limit it is stored as before.
    const ok = await orch.recordTrace({ sessionId: s.id, runner: 'agent', task: { input: 'hello' }, output: { ok: true, stdout: 'x'.repeat(1000), stderr: '' } });
    expect(ok.trace.status).toBe('ok');
    expect(errors).toEqual([]);
  });
});
