/**
 * POST /governance/flag applies autoQuarantine (default preset: quarantineSeverity 7): over real
 * HTTP, the response says whether the flag quarantined the trace, the trace is quarantined with a
 * verifying chain, and a merge of it is refused. Once on SQLite and once on PostgreSQL.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Backend, type Server } from './harness.ts';

describe.each(['sqlite', 'postgres'] as Backend[])('POST /governance/flag and autoQuarantine over %s', (backend) => {
  let s: Server;
  let sessionId: string;

  beforeAll(async () => {
    s = await startServer({ backend });
    const res = await s.req('POST', '/sessions', { body: { name: 'flags' } });
    expect(res.status).toBe(201);
    sessionId = res.json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  const record = async (stdout: string): Promise<string> => {
    const res = await s.req('POST', '/traces', { body: { sessionId, runner: 'ext', task: { input: `say ${stdout}` }, output: { ok: true, stdout, stderr: '' } } });
    expect(res.status).toBe(201);
    expect(res.json.trace.status).toBe('ok');
    return res.json.trace.id;
  };

  it('documents autoQuarantined in the response schema', async () => {
    const doc = await s.req('GET', '/openapi.json', { key: null });
    const schema = doc.json.paths['/governance/flag'].post.responses['201'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['id', 'traceId', 'severity', 'autoQuarantined', 'quarantineReason']));
  });

  it('a flag at the threshold quarantines the trace, says so, and the merge is refused as quarantined', async () => {
    const [a, b] = [await record('one'), await record('two')];
    const flag = await s.req('POST', '/governance/flag', { body: { traceId: a, kind: 'Malicious', severity: 9, reason: 'exfiltrates the keys' } });
    expect(flag.status).toBe(201);
    expect(flag.json).toMatchObject({ traceId: a, kind: 'Malicious', severity: 9, autoDetected: false, autoQuarantined: true });
    expect(flag.json.quarantineReason).toBe(`autoQuarantine: manual flag Malicious severity 9 (${flag.json.id}) ≥ quarantineSeverity 7`);

    const trace = await s.req('GET', `/traces/${a}`);
    expect(trace.json.status).toBe('quarantined');
    expect(trace.json.flags.map((f: { id: string }) => f.id)).toEqual([flag.json.id]);
    const prov = await s.req('GET', `/traces/${a}/provenance`);
    expect(prov.json.verified).toBe(true);
    expect(prov.json.entries.map((e: { action: string }) => e.action)).toEqual(['created', 'completed', 'flagged', 'quarantined']);
    expect(prov.json.entries[3]).toMatchObject({ actor: 'api:alice', operation: 'quarantine', rationale: flag.json.quarantineReason, data: { auto: true } });

    const merge = await s.req('POST', '/merges', { body: { parentIds: [b, a], strategy: 'concat' } });
    expect(merge.status).toBe(409);
    expect(merge.json).toMatchObject({ code: 'LIMIT_MERGE_REFUSED', errors: [{ path: 'body.parentIds' }], details: { parentIds: [b, a] } });
    // The refusal names the quarantined parent (a) and its quarantine reason, and nothing about b.
    expect(merge.json.details.refusals[0]).toEqual({ parentId: a, reason: `parent is quarantined: ${flag.json.quarantineReason}` });
    expect(merge.json.details.refusals.map((r: { parentId: string }) => r.parentId)).not.toContain(b);
    expect(merge.json.detail).toContain(`${a}: parent is quarantined: ${flag.json.quarantineReason}`);

    // A second severe flag on the quarantined trace: recorded, not quarantined again.
    const again = await s.req('POST', '/governance/flag', { body: { traceId: a, kind: 'Unsafe', severity: 10, reason: 'worse' } });
    expect(again.status).toBe(201);
    expect(again.json.autoQuarantined).toBe(false);
    expect((await s.req('GET', `/traces/${a}/provenance`)).json.entries.filter((e: { action: string }) => e.action === 'quarantined')).toHaveLength(1);
  });

  it('a flag below the threshold leaves the trace ok and mergeable', async () => {
    const [a, b] = [await record('three'), await record('four')];
    const flag = await s.req('POST', '/governance/flag', { body: { traceId: a, kind: 'Anomaly', severity: 3, reason: 'odd output' } });
    expect(flag.status).toBe(201);
    expect(flag.json.autoQuarantined).toBe(false);
    expect(flag.json).not.toHaveProperty('quarantineReason');
    expect((await s.req('GET', `/traces/${a}`)).json.status).toBe('ok');
    const merge = await s.req('POST', '/merges', { body: { parentIds: [b, a], strategy: 'concat' } });
    expect(merge.status, merge.text).toBe(201);
    const stats = await s.req('GET', '/governance/stats');
    expect(stats.json).toMatchObject({ quarantined: 1, 'flags.manual': 3 });
    // The answer is what the OpenAPI document says it is: counter name → number.
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const schema = doc.paths['/governance/stats'].get.responses['200'].content?.['application/json']?.schema;
    expect(schema).toMatchObject({ type: 'object', additionalProperties: { type: 'number' } });
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
    expect(validate(stats.json), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ quarantined: 'one' })).toBe(false);
  });
});
