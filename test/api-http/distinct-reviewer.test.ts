/**
 * Separation of duties (policy.requireDistinctReviewer, set by the `strict` preset): over real HTTP,
 * the API key that created a trace cannot release it from quarantine nor approve or reject its
 * merge; another key of the same tenant can. Without the policy one key may do both (the other
 * HTTP tests rely on that).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';
import { answerShape, KEYS, snapshot, startServer, type Server } from './harness.ts';

describe('requireDistinctReviewer over HTTP', () => {
  let s: Server;
  let sessionId: string;

  beforeAll(async () => {
    s = await startServer({ plugins: { governance: { packs: ['jailbreak'], policy: { requireHumanReview: true, requireDistinctReviewer: true } } } });
    sessionId = (await s.req('POST', '/sessions', { body: { name: 'duties' } })).json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  const record = async (stdout: string): Promise<string> => {
    const res = await s.req('POST', '/traces', { body: { sessionId, runner: 'ext', task: { input: `say ${stdout}` }, output: { ok: true, stdout, stderr: '' } } });
    expect(res.status).toBe(201);
    return res.json.trace.id;
  };

  it('is part of the strict preset only', () => {
    expect(GOVERNANCE_PRESETS.strict.policy.requireDistinctReviewer).toBe(true);
    expect(GOVERNANCE_PRESETS.default.policy.requireDistinctReviewer).toBeUndefined();
  });

  it("the trace's author cannot release its quarantine; another key of the tenant can", async () => {
    const id = await record('one');
    expect((await s.req('POST', `/traces/${id}/quarantine`, { body: { reason: 'looks off' } })).status).toBe(200);
    const own = await s.req('POST', `/traces/${id}/release`, { body: { reason: 'mine is fine' } });
    expect(own.status).toBe(403);
    expect(own.json).toMatchObject({
      code: 'LIMIT_FORBIDDEN',
      detail: expect.stringMatching(/was created by "api:alice", who may not release it: the governance policy requires a distinct reviewer/),
      fix: expect.stringContaining('another API key'),
    });
    expect((await s.req('GET', `/traces/${id}`)).json.status).toBe('quarantined');
    const other = await s.req('POST', `/traces/${id}/release`, { body: { reason: 'checked' }, key: KEYS.A2 });
    expect(other.status).toBe(200);
    expect((await s.req('GET', `/traces/${id}`)).json.status).toBe('ok');
    const actions = (await s.req('GET', `/traces/${id}/provenance`)).json.entries.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`);
    expect(actions.filter((a: string) => a.startsWith('released:'))).toHaveLength(1);
    expect(actions.at(-1)).not.toBe('released:api:alice');
  });

  it('a merge already decided: a second approve or reject is 409 problem+json naming the decision', async () => {
    const merge = await s.req('POST', '/merges', { body: { parentIds: [await record('c'), await record('d')], strategy: 'concat' } });
    const id = merge.json.trace.id;
    expect((await s.req('POST', `/merges/${id}/approve`, { key: KEYS.A2 })).status).toBe(200);
    for (const verb of ['approve', 'reject']) {
      const again = await s.req('POST', `/merges/${id}/${verb}`, { key: KEYS.A2 });
      expect(again.status, verb).toBe(409);
      expect(again.headers.get('content-type')).toContain('application/problem+json');
      expect(again.json).toMatchObject({
        code: 'LIMIT_CONFLICT', detail: `Merge "${id}" is no longer pending review (it is approved)`,
        details: { traceId: id, status: 'ok', decision: 'approved' }, fix: expect.stringContaining('requireHumanReview'),
      });
      expect(again.json.detail).not.toMatch(/batch op/);
    }
  });

  it('the merge requester cannot approve or reject it; another key can', async () => {
    const merge = await s.req('POST', '/merges', { body: { parentIds: [await record('a'), await record('b')], strategy: 'concat' } });
    expect(merge.status).toBe(201);
    const id = merge.json.trace.id;
    expect(merge.json.trace.status).toBe('pending-review');
    for (const verb of ['approve', 'reject']) {
      const own = await s.req('POST', `/merges/${id}/${verb}`, { body: { rationale: 'self' } });
      expect(own.status, verb).toBe(403);
      expect(own.json.code, verb).toBe('LIMIT_FORBIDDEN');
      expect(own.json.detail).toBe(`Trace "${id}" was created by "api:alice", who may not ${verb} it: the governance policy requires a distinct reviewer`);
    }
    expect((await s.req('GET', `/traces/${id}`)).json.status).toBe('pending-review');
    const approved = await s.req('POST', `/merges/${id}/approve`, { body: { rationale: 'second pair of eyes' }, key: KEYS.A2 });
    expect(approved.status).toBe(200);
    expect(approved.json.status).toBe('ok');
  });

  it('another tenant still sees nothing (404, not 403)', async () => {
    const id = await record('c');
    expect((await s.req('POST', `/traces/${id}/quarantine`, { body: { reason: 'x' } })).status).toBe(200);
    const before = await snapshot(s.storage, 'tenant-a');
    const theirs = await s.req('POST', `/traces/${id}/release`, { body: { reason: 'y' }, key: KEYS.B });
    expect(theirs.json).toMatchObject({ status: 404, code: 'LIMIT_NOT_FOUND', errors: [{ path: 'params.id' }], detail: `Trace "${id}" not found for tenant "tenant-b"` });
    // The same answer as for an id that exists nowhere: B cannot tell the trace exists, nor who made it.
    const ghost = randomUUID();
    const nowhere = await s.req('POST', `/traces/${ghost}/release`, { body: { reason: 'y' }, key: KEYS.B });
    expect(answerShape(theirs, { T: id })).toEqual(answerShape(nowhere, { T: ghost }));
    expect(theirs.text).not.toContain('alice');
    // And nothing was released.
    expect((await s.req('GET', `/traces/${id}`)).json.status).toBe('quarantined');
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });
});

describe('requireDistinctReviewer with unnamed keys (LIMIT_API_KEYS=k1:team,k2:team)', () => {
  const K1 = 'key-one-0123456789abcdef';
  const K2 = 'key-two-0123456789abcdef';
  let s: Server;

  beforeAll(async () => {
    s = await startServer({
      api: { auth: { mode: 'apiKey', keys: [{ key: KEYS.A, tenant: 'tenant-a', name: 'alice' }, { key: K1, tenant: 'team' }, { key: K2, tenant: 'team' }] } },
      plugins: { governance: { packs: ['jailbreak'], policy: { requireHumanReview: true, requireDistinctReviewer: true } } },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('each unnamed key is an actor of its own (api:<tenant>:<8 hex of its hash>, never the key): one creates a merge, the other approves it', async () => {
    const sessionId = (await s.req('POST', '/sessions', { key: K1, body: {} })).json.id;
    const record = async (input: string) => (await s.req('POST', '/traces', { key: K1, body: { sessionId, runner: 'r', task: { input }, output: { ok: true, stdout: input, stderr: '' } } })).json.trace.id as string;
    const merge = await s.req('POST', '/merges', { key: K1, body: { parentIds: [await record('a'), await record('b')] } });
    expect(merge.json.trace.status).toBe('pending-review');
    const id = merge.json.trace.id as string;
    const own = await s.req('POST', `/merges/${id}/approve`, { key: K1 });
    expect(own.status).toBe(403);
    expect(own.json.detail).toMatch(/^Trace "[^"]+" was created by "api:team:[0-9a-f]{8}", who may not approve it/);
    const other = await s.req('POST', `/merges/${id}/approve`, { key: K2 });
    expect(other.status, other.text).toBe(200);
    const actors = (await s.req('GET', `/traces/${id}/provenance`, { key: K2 })).json.entries.map((e: { actor: string }) => e.actor) as string[];
    const [creator] = actors;
    const approver = actors.at(-1)!;
    expect(creator).toMatch(/^api:team:[0-9a-f]{8}$/);
    expect(approver).toMatch(/^api:team:[0-9a-f]{8}$/);
    expect(approver).not.toBe(creator);
    for (const a of actors) for (const k of [K1, K2]) expect(a).not.toContain(k.slice(0, 8));
    // Stable: the same key is the same actor after a restart (another key ring from the same options).
    const { createKeyRing, lookup } = await import('../../plugins/api-http/auth.ts');
    const ring = createKeyRing('apiKey', [{ key: K2, tenant: 'team' }, { key: K1, tenant: 'team' }]);
    expect(lookup(ring, K1)!.actor).toBe(creator);
    expect(lookup(ring, K2)!.actor).toBe(approver);
  });
});
