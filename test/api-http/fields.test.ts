/**
 * Every 4xx problem names the failing request field in `errors[].path`, with the `body.` /
 * `query.` / `params.` / `header.` / `path` prefix: Fastify's own errors, ids a service could not
 * find (wherever the request gave them), and the fields rate–distortion errors name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_LIMITS } from 'limit-graph';
import { locateFields } from '../../plugins/api-http/fields.ts';
import { KEYS, rawRequest, startServer, type Res, type Server } from './harness.ts';

const task = { input: 'print(1)' };
const output = { ok: true, stdout: '', stderr: '' };
const MISSING = 'no-such-id-0000';

describe('api-http: problem documents name the failing field', () => {
  let s: Server;
  let S: string;
  let T: string;
  let T2: string;
  let SER: string;
  beforeAll(async () => {
    s = await startServer({ plugins: { 'rd-fgw': true, 'knee-kneedle': true } });
    S = (await s.req('POST', '/sessions', { body: { name: 'fixture' } })).json.id;
    T = (await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task, output } })).json.trace.id;
    T2 = (await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task, output } })).json.trace.id;
    SER = (await s.req('POST', '/rd/series', { body: { sessionId: S, name: 'x', reference: { nodes: [{ id: 'a', features: [0] }], edges: [] } } })).json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  const paths = (res: Res) => (res.json?.errors ?? []).map((e: { path: string }) => e.path);
  const fill = (v: string) => v.replaceAll('{S}', S).replaceAll('{T}', T).replaceAll('{T2}', T2).replaceAll('{SER}', SER).replaceAll('{X}', MISSING);

  it.each([
    ['no content type', 'POST', '/sessions', '{"name":"x"}', {}, 415, 'header.content-type'],
    ['text/plain', 'POST', '/sessions', '{}', { 'content-type': 'text/plain' }, 415, 'header.content-type'],
    ['malformed JSON', 'POST', '/sessions', '{"name": ', { 'content-type': 'application/json' }, 400, 'body'],
    ['bad percent escape', 'GET', '/traces/%E0%A4%A', undefined, {}, 400, 'path'],
    ['path parameter over maxParamLength', 'GET', `/traces/${'a'.repeat(1100)}`, undefined, {}, 414, 'path'],
    ['body over the limit', 'POST', '/sessions', JSON.stringify({ name: 'x'.repeat(1_100_000) }), { 'content-type': 'application/json' }, 413, 'body'],
  ])('%s → %s', async (_name, method, path, body, headers, status, field) => {
    const res = await rawRequest(s.url, method, path, { authorization: `Bearer ${KEYS.A}`, ...headers }, body);
    expect(res.status, res.text.slice(0, 300)).toBe(status);
    expect(paths(res)).toContain(field);
  });

  it.each([
    ['invalid cursor on traces', 'GET', '/traces?cursor=!!!', undefined, 400, 'query.cursor'],
    ['invalid cursor on sessions', 'GET', '/sessions?cursor=eyJub3QiOiJhIGN1cnNvciJ9', undefined, 400, 'query.cursor'],
    ['merge naming a parent twice', 'POST', '/merges', { parentIds: ['{T}', '{T}'] }, 400, 'body.parentIds.1'],
    ['merge with an output but not strategy custom', 'POST', '/merges', { parentIds: ['{T}'], strategy: 'concat', output }, 400, 'body.output'],
    ['merge with an output and no strategy', 'POST', '/merges', { parentIds: ['{T}'], output }, 400, 'body.output'],
    ['custom merge without an output', 'POST', '/merges', { parentIds: ['{T}'], strategy: 'custom' }, 400, 'body.output'],
    ['recorded trace with the runner of merges', 'POST', '/traces', { sessionId: '{S}', runner: 'merge', task, output }, 400, 'body.runner'],
    ['recorded trace with the task kind of merges', 'POST', '/traces', { sessionId: '{S}', runner: 'x', task: { input: 'x', kind: 'merge' }, output }, 400, 'body.task.kind'],
    ["recorded trace with a federation merge's metadata", 'POST', '/traces', { sessionId: '{S}', runner: 'x', task, output, metadata: { federation: true } }, 400, 'body.metadata.federation'],
    ['trace in an unknown session', 'POST', '/traces', { sessionId: '{X}', runner: 'x', task, output }, 404, 'body.sessionId'],
    ['trace with an unknown parent', 'POST', '/traces', { sessionId: '{S}', runner: 'x', task, output, parentIds: ['{T}', '{X}'] }, 404, 'body.parentIds.1'],
    ['flag of an unknown trace', 'POST', '/governance/flag', { traceId: '{X}', kind: 'Anomaly', severity: 3, reason: 'r' }, 404, 'body.traceId'],
    ['merge of an unknown parent', 'POST', '/merges', { parentIds: ['{T}', '{X}'] }, 404, 'body.parentIds.1'],
    ['merge into an unknown session', 'POST', '/merges', { parentIds: ['{T}', '{T2}'], sessionId: '{X}' }, 404, 'body.sessionId'],
    ['series in an unknown session', 'POST', '/rd/series', { sessionId: '{X}', name: 'x' }, 404, 'body.sessionId'],
    ['export of an unknown session', 'POST', '/artifacts/export', { sessionId: '{X}' }, 404, 'body.sessionId'],
    ['export of an unknown trace', 'POST', '/artifacts/export', { traceIds: ['{T}', '{X}'] }, 404, 'body.traceIds.1'],
    ['close of an unknown session', 'POST', '/sessions/{X}/close', undefined, 404, 'params.id'],
    ['run in an unknown session', 'POST', '/sessions/{X}/runs', { runner: 'python', task }, 404, 'params.id'],
    ['run with an unknown runner', 'POST', '/sessions/{S}/runs', { runner: 'nope', task }, 404, 'body.runner'],
    ['approve of an unknown merge', 'POST', '/merges/{X}/approve', {}, 404, 'params.id'],
    ['approve of a trace that is not a pending merge', 'POST', '/merges/{T}/approve', {}, 409, 'params.id'],
    ['point of an unknown series', 'POST', '/rd/series/{X}/points', { rate: 1, distortion: 0.5 }, 404, 'params.id'],
    ['knee of an unknown series', 'GET', '/rd/knee?series={X}', undefined, 404, 'query.series'],
    ['provenance of an unknown trace', 'GET', '/traces/{X}/provenance', undefined, 404, 'params.id'],
    ['provenance entry on an unknown trace', 'POST', '/traces/{X}/provenance', { action: 'reviewed' }, 404, 'params.id'],
    ['quarantine of an unknown trace', 'POST', '/traces/{X}/quarantine', { reason: 'r' }, 404, 'params.id'],
    ['release of an unknown trace', 'POST', '/traces/{X}/release', { reason: 'r' }, 404, 'params.id'],
  ])('%s → %s', async (_name, method, path, body, status, field) => {
    const res = await s.req(method, fill(path), body === undefined ? {} : { body: JSON.parse(fill(JSON.stringify(body))) });
    expect(res.status, res.text.slice(0, 300)).toBe(status);
    expect(paths(res)).toEqual([field]);
  });

  it('a task over TASK_LIMITS (files, env, args, toolOutputs) is a 400 naming the field, for runs and recorded traces', async () => {
    const map = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, 'x']));
    const over = {
      files: map(TASK_LIMITS.files + 1), env: map(TASK_LIMITS.env + 1), args: Array.from({ length: TASK_LIMITS.args + 1 }, () => 'x'),
      toolOutputs: Array.from({ length: TASK_LIMITS.toolOutputs + 1 }, (_, i) => ({ name: `t${i}`, content: 'x' })),
    };
    for (const [key, value] of Object.entries(over)) {
      const run = await s.req('POST', `/sessions/${S}/runs`, { body: { runner: 'python', task: { input: 'x', [key]: value } } });
      expect(run.status, run.text.slice(0, 300)).toBe(400);
      expect(paths(run)).toEqual([`body.task.${key}`]);
      const trace = await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task: { input: 'x', [key]: value }, output } });
      expect(trace.status, trace.text.slice(0, 300)).toBe(400);
      expect(paths(trace)).toEqual([`body.task.${key}`]);
      expect(trace.json.detail).toContain('Too big: expected');
    }
    // The bounds are in the OpenAPI document, as zod states them.
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const taskSchema = doc.paths['/sessions/{id}/runs'].post.requestBody.content['application/json'].schema.properties.task.properties;
    expect([taskSchema.files.maxProperties, taskSchema.env.maxProperties, taskSchema.args.maxItems, taskSchema.toolOutputs.maxItems])
      .toEqual([TASK_LIMITS.files, TASK_LIMITS.env, TASK_LIMITS.args, TASK_LIMITS.toolOutputs]);
  });

  it("the OpenAPI document says a merge's output goes with strategy custom only", async () => {
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const output = doc.paths['/merges'].post.requestBody.content['application/json'].schema.properties.output;
    expect(output.description).toContain('with strategy "custom" only');
  });

  it('rate–distortion errors name body fields, not the solver\'s', async () => {
    const weights = await s.req('POST', '/rd/distortion', {
      body: { source: { nodes: [{ id: 'a', features: [0], weight: 0.9 }, { id: 'b', features: [1], weight: 0.9 }], edges: [] }, target: { nodes: [{ id: 'x', features: [0] }], edges: [] } },
    });
    expect(weights.status, weights.text).toBe(422);
    expect(paths(weights)).toEqual(['body.source.nodes']);
    const edge = await s.req('POST', '/rd/distortion', {
      body: { source: { nodes: [{ id: 'a', features: [0] }], edges: [] }, target: { nodes: [{ id: 'x', features: [0] }], edges: [{ source: 'x', target: 'zz' }] } },
    });
    expect(edge.status, edge.text).toBe(422);
    expect(paths(edge)[0]).toMatch(/^body\.target\.edges\.0/);
    // A step's graph is the solver's source: its errors name body.graph.
    const step = await s.req('POST', `/rd/series/${SER}/points`, { body: { rate: 1, graph: { nodes: [{ id: 'a', features: [0], weight: 0.5 }], edges: [] } } });
    expect(step.status, step.text).toBe(422);
    expect(paths(step)[0]).toMatch(/^body\.graph\.nodes/);
    // Every path the API answers with has a request prefix.
    for (const res of [weights, edge, step]) for (const p of paths(res)) expect(p).toMatch(/^(body|query|params|header)(\.|$)|^path$/);
  });
});

describe('api-http: a 413 names the field to shrink', () => {
  const at = (details: Record<string, unknown>, body: unknown) => locateFields('too large', details, { params: {}, query: {}, body }).map((e) => e.path);

  it("a record too large to store: its largest field, when the body holds it (a provenance entry's data); not one of a record the server built", () => {
    expect(at({ record: 'provenance entry', bytes: 9, maxBytes: 4, largestField: 'data' }, { action: 'noted', data: 'x' })).toEqual(['body.data']);
    // A union merge's output is computed, not sent: no body.output.
    expect(at({ record: 'trace', bytes: 9, maxBytes: 4, largestField: 'output', strategy: 'union', parents: 2 }, { parentIds: ['a', 'b'] })).toEqual([]);
  });

  it('an export too large: the field that chose its traces (orchestrator details.field)', () => {
    expect(at({ format: 'json', chars: 9, maxChars: 4, traces: 1, sessionIds: ['s'], field: 'traceIds' }, { traceIds: ['t'] })).toEqual(['body.traceIds']);
    expect(at({ format: 'json', chars: 9, maxChars: 4, traces: 1, sessionIds: ['s'], field: 'sessionId' }, { sessionId: 's' })).toEqual(['body.sessionId']);
  });
});

describe('api-http: a 409 about a record the request named by id names that id', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ plugins: { governance: { packs: ['jailbreak'], policy: { requireHumanReview: true } } } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('an approval refused because a parent was quarantined while the merge waited names params.id (its parents are not in the request)', async () => {
    const S = (await s.req('POST', '/sessions', { body: { name: 'review' } })).json.id;
    const parents: string[] = [];
    for (const n of [1, 2]) parents.push((await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task: { input: `q${n}` }, output } })).json.trace.id);
    const merge = await s.req('POST', '/merges', { body: { parentIds: parents } });
    expect(merge.json.trace?.status, merge.text).toBe('pending-review');
    expect((await s.req('POST', `/traces/${parents[1]}/quarantine`, { body: { reason: 'looks off' } })).status).toBe(200);
    const res = await s.req('POST', `/merges/${merge.json.trace.id}/approve`, { body: { rationale: 'fine' } });
    expect(res.status, res.text).toBe(409);
    expect(res.json.code).toBe('LIMIT_MERGE_REFUSED');
    expect(res.json.errors).toEqual([{ path: 'params.id', message: res.json.detail }]);
  });

  it('a point for a series whose session is closed names params.id, as a closed body.sessionId is named', async () => {
    const S = (await s.req('POST', '/sessions', { body: { name: 'rd-closed' } })).json.id;
    const series = (await s.req('POST', '/rd/series', { body: { sessionId: S, name: 'c' } })).json.id;
    expect((await s.req('POST', `/sessions/${S}/close`)).status).toBe(200);
    const res = await s.req('POST', `/rd/series/${series}/points`, { body: { rate: 2, distortion: 1 } });
    expect(res.status, res.text).toBe(409);
    expect(res.json.code).toBe('LIMIT_SESSION_CLOSED');
    expect(res.json.errors).toEqual([{ path: 'params.id', message: res.json.detail }]);
    const run = await s.req('POST', '/traces', { body: { sessionId: S, runner: 'x', task, output } });
    expect([run.status, run.json.code, run.json.errors.map((e: { path: string }) => e.path)]).toEqual([409, 'LIMIT_SESSION_CLOSED', ['body.sessionId']]);
  });
});
