/**
 * quarantine, release and flag called directly (not through the HTTP API, whose bodies check it)
 * refuse a reason outside 1–2,048 characters or an empty actor before anything is read or written,
 * as the HTTP API does: no empty reason stored, none cut short in the quarantine state, no storage
 * batch error about a provenance rationale.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from 'limit-graph';
import { governanceRuntime, makeTrace, storeTrace } from './helpers.ts';
import { ReasonBody } from '../../plugins/api-http/schemas.ts';

describe('the reason and actor of a quarantine, release or manual flag', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('are checked as the HTTP API checks them (reason 1–2,048 characters, actor 1–256), naming the field', async () => {
    rt = await governanceRuntime();
    const gov = rt.resolve('governance');
    const storage = rt.resolve('storage');
    const t = await storeTrace(rt, makeTrace('print(1)'));
    const refused = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as { code: string; message: string });
    const long = 'x'.repeat(2049);
    // The HTTP body's limit is the same.
    expect(ReasonBody.safeParse({ reason: long }).success).toBe(false);
    expect(ReasonBody.safeParse({ reason: 'x'.repeat(2048) }).success).toBe(true);

    for (const [reason, actor, message] of [
      ['', 'alice', /^Invalid quarantine input: reason: Too small/],
      [long, 'alice', /^Invalid quarantine input: reason: Too big: expected string to have <=2048 characters/],
      ['why', '', /^Invalid quarantine input: actor: Too small/],
    ] as const) {
      expect(await refused(gov.quarantine('default', t.id, { reason, actor }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(message) });
    }
    expect((await storage.getTrace('default', t.id))!.status).toBe('ok');
    expect(await storage.getQuarantine('default', t.id)).toBeNull();

    // A reason of 2,048 characters is kept whole.
    await gov.quarantine('default', t.id, { reason: 'q'.repeat(2048), actor: 'alice' });
    expect((await storage.getQuarantine('default', t.id))!.reason).toHaveLength(2048);
    expect(await refused(gov.release('default', t.id, { reason: long, actor: 'bob' }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/^Invalid release input: reason: Too big/) });
    expect(await refused(gov.release('default', t.id, { reason: '', actor: 'bob' }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/^Invalid release input: reason: Too small/) });
    expect((await storage.getTrace('default', t.id))!.status).toBe('quarantined');
    await gov.release('default', t.id, { reason: 'fine', actor: 'bob' });
    expect((await storage.getTrace('default', t.id))!.status).toBe('ok');

    expect(await refused(gov.flag('default', t.id, { kind: 'HighRisk', severity: 3, reason: 'x', actor: '' }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringMatching(/^Invalid flag input: actor: Too small/) });
    expect((await storage.getTrace('default', t.id))!.flags).toEqual([]);
  });
});
