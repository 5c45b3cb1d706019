/** The in-memory storage double keeps the batch rules the orchestrator's race handling relies on. */
import { describe, expect, it } from 'vitest';
import { LimitError, isFlagsConflict, isStatusConflict, validate } from 'limit-graph';
import { memoryStorage } from './doubles.ts';

const at = '2026-01-01T00:00:00.000Z';
const session = validate.session({ id: 's1', tenant: 'default', status: 'open', createdAt: at, limits: {} });
const trace = (id: string) => validate.trace({ id, tenant: 'default', sessionId: 's1', runner: 'spy', status: 'running', task: { input: 'x' }, createdAt: at });

describe('memoryStorage (test double)', () => {
  it("refuses a batch whose updateTrace ifStatus no longer holds, whole, as the real backends do", async () => {
    const s = memoryStorage();
    await s.batch('default', [{ op: 'createSession', session }, { op: 'createTrace', trace: trace('t1') }]);
    await s.updateTrace('default', 't1', { status: 'quarantined' });
    const error = await s.batch('default', [
      { op: 'appendProvenance', input: { traceId: 't1', at, actor: 'a', action: 'x' } },
      { op: 'updateTrace', id: 't1', patch: { status: 'ok' }, ifStatus: 'running' },
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitError);
    expect(isStatusConflict(error, 't1')).toBe(true);
    expect((await s.getTrace('default', 't1'))!.status).toBe('quarantined');
    expect(await s.listProvenance('default', 't1')).toEqual([]);
    await s.batch('default', [{ op: 'updateTrace', id: 't1', patch: { status: 'ok' }, ifStatus: 'quarantined' }]);
    expect((await s.getTrace('default', 't1'))!.status).toBe('ok');
  });

  it('refuses a batch whose updateTrace ifFlagCount no longer holds (a flag added since), whole', async () => {
    const s = memoryStorage();
    await s.batch('default', [{ op: 'createSession', session }, { op: 'createTrace', trace: trace('t1') }]);
    await s.addFlag('default', validate.flag({ id: 'f1', traceId: 't1', kind: 'Anomaly', severity: 5, ruleId: 'r', reason: 'x', autoDetected: false, at }));
    const error = await s.batch('default', [
      { op: 'incrementCounters', deltas: { n: 1 } },
      { op: 'updateTrace', id: 't1', patch: {}, ifFlagCount: 0 },
    ]).catch((e: unknown) => e);
    expect(isFlagsConflict(error, 't1')).toBe(true);
    expect(await s.getCounters('default')).toEqual({});
    await s.batch('default', [{ op: 'incrementCounters', deltas: { n: 1 } }, { op: 'updateTrace', id: 't1', patch: {}, ifFlagCount: 1 }]);
    expect(await s.getCounters('default')).toEqual({ n: 1 });
  });

  it('refuses creating an id that exists (LIMIT_CONFLICT) and a patch of a missing trace (LIMIT_NOT_FOUND)', async () => {
    const s = memoryStorage();
    await s.createSession(session);
    await s.createTrace(trace('t1'));
    await expect(s.createTrace(trace('t1'))).rejects.toMatchObject({ code: 'LIMIT_CONFLICT' });
    await expect(s.updateTrace('default', 'nope', { status: 'ok' })).rejects.toMatchObject({ code: 'LIMIT_NOT_FOUND' });
  });
});
