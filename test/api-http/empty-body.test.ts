/**
 * Clients that always send `Content-Type: application/json` (the docs' curl header set, many HTTP
 * libraries) send it with an empty body on actions that take none or whose fields are all
 * optional. Over real HTTP: such a request works like one without a body; a route that needs a body
 * still answers 400, saying the body is required.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, rawRequest, snapshot, startServer, type Server } from './harness.ts';

const JSON_HEADERS = { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json' };
const output = { ok: true, stdout: '', stderr: '' };

describe('api-http: an empty body with Content-Type: application/json', () => {
  let s: Server;
  let sessionId: string;
  const traceIds: string[] = [];
  /** A request with the JSON content type and `body` as the raw bytes (Content-Length 0 for ''). */
  const post = (path: string, body = '', headers: Record<string, string> = {}) => rawRequest(s.url, 'POST', path, { ...JSON_HEADERS, ...headers }, body);

  beforeAll(async () => {
    s = await startServer({ plugins: { governance: { packs: ['jailbreak'], policy: { requireHumanReview: true } } } });
    sessionId = (await s.req('POST', '/sessions', { body: { name: 'empty-body' } })).json.id;
    for (let i = 0; i < 4; i++) {
      traceIds.push((await s.req('POST', '/traces', { body: { sessionId, runner: 'x', task: { input: `t${i}` }, output } })).json.trace.id);
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it('opens a session (all fields optional): the empty body is {}', async () => {
    const res = await post('/sessions');
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ status: 'open', tenant: 'tenant-a' });
  });

  it('rejects and approves merges waiting for review (rationale optional)', async () => {
    const m1 = await s.req('POST', '/merges', { body: { parentIds: [traceIds[0], traceIds[1]], strategy: 'concat' } });
    const m2 = await s.req('POST', '/merges', { body: { parentIds: [traceIds[2], traceIds[3]], strategy: 'concat' } });
    expect([m1.json.trace.status, m2.json.trace.status]).toEqual(['pending-review', 'pending-review']);
    const rejected = await post(`/merges/${m1.json.trace.id}/reject`);
    expect(rejected.status, rejected.text).toBe(200);
    expect(rejected.json.status).toBe('rejected');
    // A charset parameter and a whitespace-only body are empty too.
    const approved = await post(`/merges/${m2.json.trace.id}/approve`, ' \r\n', { 'content-type': 'application/json; charset=utf-8' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json.status).toBe('ok');
  });

  it('closes a session (a route without a body)', async () => {
    const id = (await s.req('POST', '/sessions', { body: { name: 'to-close' } })).json.id;
    const res = await post(`/sessions/${id}/close`);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ id, status: 'closed' });
  });

  it.each([
    ['/traces', 'POST /traces'],
    ['/traces/{T}/quarantine', 'POST /traces/:id/quarantine'],
    ['/merges', 'POST /merges'],
  ])('a route that needs a body (%s) answers 400 saying the body is required, and writes nothing', async (path, route) => {
    const before = await snapshot(s.storage, 'tenant-a');
    const res = await post(path.replace('{T}', traceIds[0]!));
    expect(res.status, res.text).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({
      code: 'LIMIT_VALIDATION',
      errors: [{ path: 'body', message: expect.stringContaining(`A JSON body is required: ${route}`) }],
    });
    expect(res.json.detail).toContain('A JSON body is required');
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });

  it('malformed JSON and prototype poisoning are still refused', async () => {
    const before = await snapshot(s.storage, 'tenant-a');
    const truncated = await post('/sessions', '{"name": ');
    expect(truncated.status, truncated.text).toBe(400);
    expect(truncated.json).toMatchObject({
      code: 'LIMIT_VALIDATION', detail: expect.stringMatching(/^Body is not valid JSON: /),
      errors: [{ path: 'body', message: expect.stringMatching(/^JSON syntax error: /) }],
    });
    const poisoned = await post('/sessions', '{"__proto__":{"admin":true}}');
    expect(poisoned.status, poisoned.text).toBe(400);
    expect(poisoned.json).toMatchObject({
      code: 'LIMIT_VALIDATION', detail: expect.stringContaining('body.__proto__: keys __proto__ and constructor.prototype are not allowed'),
      errors: [{ path: 'body.__proto__' }],
    });
    // Neither opened a session.
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });
});

describe('api-http: an empty body with another Content-Type (curl -d \'\', fetch with body \'\')', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });
  const raw = (path: string, headers: Record<string, string>, body?: string) => rawRequest(s.url, 'POST', path, { authorization: `Bearer ${KEYS.A}`, ...headers }, body);

  it.each([
    ['application/x-www-form-urlencoded'], ['text/plain;charset=UTF-8'], ['multipart/form-data; boundary=x'], ['application/octet-stream'], ['not a media type'],
  ])('%s with Content-Length 0: POST /sessions opens one and /sessions/:id/close closes it', async (type) => {
    const opened = await raw('/sessions', { 'content-type': type }, '');
    expect(opened.status, opened.text).toBe(201);
    const closed = await raw(`/sessions/${opened.json.id}/close`, { 'content-type': type }, '');
    expect(closed.status, closed.text).toBe(200);
    expect(closed.json).toMatchObject({ id: opened.json.id, status: 'closed' });
  });

  it('a route that needs a body answers 400 saying it is required, not 415, and writes nothing', async () => {
    const before = await snapshot(s.storage, 'tenant-a');
    const res = await raw('/traces', { 'content-type': 'text/plain' }, '');
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ code: 'LIMIT_VALIDATION', errors: [{ path: 'body', message: expect.stringContaining('A JSON body is required: POST /traces') }] });
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });

  it('a body that is there in another media type is still a 415, whose detail names the type received', async () => {
    const before = await snapshot(s.storage, 'tenant-a');
    const form = await raw('/sessions', { 'content-type': 'application/x-www-form-urlencoded' }, 'name=x');
    expect(form.status, form.text).toBe(415);
    expect(form.json).toMatchObject({
      code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', detail: 'Content-Type "application/x-www-form-urlencoded" is not supported: bodies are read as application/json only',
      errors: [{ path: 'header.content-type', message: 'unsupported media type "application/x-www-form-urlencoded"' }],
    });
    const text = await raw('/sessions', { 'content-type': 'text/plain' }, '{}');
    expect(text.json.detail).toBe('Content-Type "text/plain" is not supported: bodies are read as application/json only');
    const none = await raw('/sessions', {}, '{"name":"x"}');
    expect(none.status, none.text).toBe(415);
    expect(none.json).toMatchObject({ detail: 'The body has no Content-Type: bodies are read as application/json only', errors: [{ path: 'header.content-type', message: 'missing (a body was sent)' }] });
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
  });
});

describe('api-http: every problem+json carries a fix', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('validation (the docs/api.md example), authentication, unknown routes and LimitErrors', async () => {
    const session = (await s.req('POST', '/sessions', { body: {} })).json.id;
    const invalid = await s.req('POST', '/traces', { body: { sessionId: session, runner: 'x', task: { input: 1 }, output } });
    expect(invalid.json).toMatchObject({
      type: '/docs#LIMIT_VALIDATION', title: 'Bad Request', status: 400, instance: '/traces', code: 'LIMIT_VALIDATION',
      detail: 'Invalid request: body.task.input: Invalid input: expected string, received number',
      errors: [{ path: 'body.task.input', message: 'Invalid input: expected string, received number' }],
      fix: 'Correct the field named in the message.',
    });
    expect((await s.req('GET', '/traces', { key: null })).json).toMatchObject({ code: 'LIMIT_UNAUTHORIZED', fix: 'Send a valid API key: Authorization: Bearer <key> or X-API-Key: <key>.' });
    expect((await s.req('GET', '/nope')).json).toMatchObject({ code: 'LIMIT_NOT_FOUND', fix: expect.stringContaining('GET /openapi.json lists every route') });
    expect((await s.req('GET', '/traces/missing')).json).toMatchObject({ code: 'LIMIT_NOT_FOUND', fix: 'Check the id; records of other tenants are invisible.' });
    const truncated = await rawRequest(s.url, 'POST', '/sessions', JSON_HEADERS, '{"name": ');
    expect(truncated.json).toMatchObject({ status: 400, code: 'LIMIT_VALIDATION', fix: expect.stringContaining('Send well-formed JSON') });
  });

  it('approving a merge that is not waiting for review says when merges wait (requireHumanReview)', async () => {
    const session = (await s.req('POST', '/sessions', { body: {} })).json.id;
    const parents = [];
    for (const input of ['a', 'b']) parents.push((await s.req('POST', '/traces', { body: { sessionId: session, runner: 'x', task: { input }, output } })).json.trace.id);
    const merged = await s.req('POST', '/merges', { body: { parentIds: parents, strategy: 'concat' } });
    expect(merged.json.trace.status).toBe('ok'); // the default preset does not ask for review
    const approve = await s.req('POST', `/merges/${merged.json.trace.id}/approve`);
    expect(approve.status).toBe(409);
    expect(approve.json).toMatchObject({ code: 'LIMIT_CONFLICT', detail: `Merge "${merged.json.trace.id}" is not pending review (it is ok)`, fix: expect.stringContaining('requireHumanReview') });
  });
});
