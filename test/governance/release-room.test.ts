/**
 * A quarantine can always be undone: a release is written with origin `system` (ProvenanceOrigin),
 * so a trace quarantined when its chain reached a decision's share (9,900 entries) — by a person or
 * by a manual flag's automatic quarantine — is still released, by whoever may release it. The room it
 * uses is bounded: a release follows a quarantine, and past a decision's share a person can neither
 * quarantine nor flag the trace again. Real governance service, rule packs and SQLite.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { provenanceLimits, type BatchOp, type ProvenanceOrigin, type Runtime, type Storage, type Trace } from 'limit-graph';
import { governanceRuntime, makeTrace, storeTrace } from './helpers.ts';

describe("a release fits a chain filled to a decision's share", () => {
  let rt: Runtime;
  let storage: Storage;
  beforeEach(async () => {
    rt = await governanceRuntime();
    storage = rt.resolve('storage');
  });
  afterEach(async () => {
    await rt.close();
  });

  /** A stored trace whose chain holds `n` entries (its `created`, then clients' notes and the server's entries). */
  async function chainOf(n: number): Promise<Trace> {
    const trace = await storeTrace(rt, makeTrace('print(1)'));
    const clientMax = provenanceLimits('client').maxEntries;
    for (let held = 1; held < n;) {
      const size = Math.min(500, n - held);
      const origin: ProvenanceOrigin = held + size <= clientMax ? 'client' : 'system';
      const ops: BatchOp[] = Array.from({ length: size }, (_, i) => ({ op: 'appendProvenance', input: { traceId: trace.id, at: new Date().toISOString(), actor: 'api:default', action: 'noted', data: { i: held + i } }, origin }));
      await storage.batch(trace.tenant, ops);
      held += size;
    }
    expect((await storage.listProvenance(trace.tenant, trace.id)).length).toBe(n);
    return trace;
  }

  const decisionMax = provenanceLimits('decision').maxEntries;

  it("releases a trace a person quarantined with the chain's last decision entry", async () => {
    const gov = rt.resolve('governance');
    const trace = await chainOf(decisionMax - 1);
    await gov.quarantine(trace.tenant, trace.id, { reason: 'looks odd', actor: 'alice' });
    expect((await storage.listProvenance(trace.tenant, trace.id)).length).toBe(decisionMax);

    await gov.release(trace.tenant, trace.id, { reason: 'fine after all', actor: 'bob' });
    expect((await storage.getTrace(trace.tenant, trace.id))!.status).toBe('ok');
    const chain = await storage.listProvenance(trace.tenant, trace.id);
    expect(chain.slice(-2).map((e) => e.action)).toEqual(['quarantined', 'released']);
    expect(chain.at(-1)).toMatchObject({ seq: decisionMax, actor: 'bob', operation: 'release' });
    expect(await storage.verifyProvenance(trace.tenant, trace.id)).toMatchObject({ verified: true, length: decisionMax + 1 });

    // Past a decision's share a person can no longer quarantine it, so no further release is needed.
    await expect(gov.quarantine(trace.tenant, trace.id, { reason: 'again', actor: 'alice' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE', details: { origin: 'decision' } });
    expect((await storage.getTrace(trace.tenant, trace.id))!.status).toBe('ok');
  });

  it("releases a trace a manual flag's automatic quarantine took past a decision's share", async () => {
    const gov = rt.resolve('governance');
    const trace = await chainOf(decisionMax - 1);
    const flag = await gov.flag(trace.tenant, trace.id, { kind: 'Malicious', severity: 9, reason: 'exfiltrates the keys', actor: 'alice' });
    expect(flag.autoQuarantined).toBe(true);
    expect((await storage.listProvenance(trace.tenant, trace.id)).length).toBe(decisionMax + 1);

    await gov.release(trace.tenant, trace.id, { reason: 'r'.repeat(2048), actor: 'bob' });
    expect((await storage.getTrace(trace.tenant, trace.id))!.status).toBe('ok');
    expect(await storage.verifyProvenance(trace.tenant, trace.id)).toMatchObject({ verified: true, length: decisionMax + 2 });
    await expect(gov.flag(trace.tenant, trace.id, { kind: 'Malicious', severity: 9, reason: 'again', actor: 'alice' })).rejects.toMatchObject({ code: 'LIMIT_PAYLOAD_TOO_LARGE' });
  });
});
