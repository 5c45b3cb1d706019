/**
 * A run that arrives when its session already has the orchestrator's maxWaitingRuns waiting for a
 * slot is a 429 problem (LIMIT_SESSION_BUSY) naming the session and the option, with nothing
 * written; never a 500. Over a listening server with real SQLite storage; a runner the test lets go of.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { gateRunner } from '../orchestrator/doubles.ts';
import { snapshot, startServer, type Server } from './harness.ts';

describe('POST /sessions/:id/runs on a session whose waiting runs are at maxWaitingRuns', () => {
  let s: Server | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('is a 429 LIMIT_SESSION_BUSY problem, and nothing of the refused run is written', async () => {
    const gate = gateRunner();
    s = await startServer({
      api: { rateLimit: false },
      plugins: { 'runner-python': false, orchestrator: { maxWaitingRuns: 1 } },
      extra: [gate.plugin],
    });
    const session = (await s.req('POST', '/sessions', { body: { limits: { maxConcurrency: 1 } } })).json.id as string;
    const run = (input: string) => s!.req('POST', `/sessions/${session}/runs`, { body: { runner: 'gate', task: { input } } });
    const first = run('one');
    await gate.entered(1);
    const second = run('two');
    // The second is stored as `running` and its input governance committed: it waits for the slot
    // (asserted: else the third would wait, not be refused, and the snapshot could move under it).
    const evaluated = async () => (await s!.storage.getCounters('tenant-a'))['governance.evaluations'] ?? 0;
    const deadline = performance.now() + 20_000;
    while ((await evaluated()) < 2 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await evaluated()).toBe(2);
    expect((await s.storage.listTraces('tenant-a', { sessionId: session })).items).toHaveLength(2);

    const before = await snapshot(s.storage, 'tenant-a');
    const refused = await run('three');
    expect(refused.status, refused.text).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.json).toMatchObject({
      type: '/docs#LIMIT_SESSION_BUSY', title: 'Too Many Requests', status: 429, code: 'LIMIT_SESSION_BUSY',
      detail: expect.stringContaining(`Session "${session}" is busy: every slot of its maxConcurrency (1) is taken and 1 more run waits for one, the most the orchestrator option maxWaitingRuns (1) allows`),
      fix: expect.stringContaining('maxWaitingRuns'),
      details: { sessionId: session, tenant: 'tenant-a', waiting: 1, maxWaitingRuns: 1, maxConcurrency: 1 },
    });
    // The session it is about is where the request named it, as for a closed session.
    expect(refused.json.errors).toEqual([{ path: 'params.id', message: refused.json.detail }]);
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);

    // The runs let in are unaffected.
    gate.release();
    await gate.entered(2);
    gate.release();
    expect((await first).status).toBe(201);
    const waited = await second;
    expect(waited.status, waited.text).toBe(201);
    expect(waited.json.trace.output.stdout).toBe('done two');
    // The code is in the /docs catalogue with its status.
    expect((await s.req('GET', '/docs')).text).toMatch(/<tr id="LIMIT_SESSION_BUSY"><td><code>LIMIT_SESSION_BUSY<\/code><\/td><td>429<\/td>/);
  });
});
