/**
 * The JSON body parser over real HTTP: every refusal is a 400 problem naming where the body is
 * wrong (prototype keys, syntax errors, bytes that are not UTF-8, keys repeated in an object), and
 * nothing is stored; bodies that only look similar are accepted unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, rawRequest, snapshot, startServer, type Res, type Server } from './harness.ts';

const JSON_HEADERS = { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json' };
const output = '{"ok":true,"stdout":"","stderr":""}';

describe('api-http: JSON bodies', () => {
  let s: Server;
  let S: string;
  beforeAll(async () => {
    s = await startServer();
    S = (await s.req('POST', '/sessions', { body: { name: 'fixture' } })).json.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  /** Sends a raw body; expects a 400 problem whose errors name `field`, and nothing written. */
  async function refused(path: string, body: string | Buffer, field: string): Promise<Res> {
    const before = await snapshot(s.storage, 'tenant-a');
    const res = await rawRequest(s.url, 'POST', path, JSON_HEADERS, body);
    expect(res.status, res.text).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json.code).toBe('LIMIT_VALIDATION');
    expect(res.json.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(res.json.fix).toMatch(/\S/);
    expect(await snapshot(s.storage, 'tenant-a')).toBe(before);
    return res;
  }

  it.each([
    ['{"metadata":{"__proto__":{"x":1}}}', 'body.metadata.__proto__'],
    ['{"__proto__":{"admin":true}}', 'body.__proto__'],
    ['{"metadata":{"constructor":{"prototype":{"x":1}}}}', 'body.metadata.constructor.prototype'],
    ['{"metadata":{"list":[1,{"__proto__":null}]}}', 'body.metadata.list.1.__proto__'],
  ])('refuses prototype keys naming them, not as invalid JSON: %s', async (body, field) => {
    const res = await refused('/sessions', body, field);
    expect(res.json.detail).toContain('not allowed');
    expect(res.json.detail).not.toMatch(/not valid JSON/);
  });

  it('accepts keys that only resemble them', async () => {
    const res = await rawRequest(s.url, 'POST', '/sessions', JSON_HEADERS, '{"metadata":{"constructor":"x","proto":{"prototype":1},"note":"__proto__"}}');
    expect(res.status, res.text).toBe(201);
    expect(res.json.metadata).toEqual({ constructor: 'x', proto: { prototype: 1 }, note: '__proto__' });
  });

  it('says a syntax error is one, with the position when the parser gives it', async () => {
    const res = await refused('/sessions', '{"name":"x",}', 'body');
    expect(res.json.detail).toMatch(/^Body is not valid JSON: .*position 12/);
    expect(res.json.errors[0].message).toMatch(/JSON syntax error/);
    const truncated = await refused('/sessions', '{"name": ', 'body');
    expect(truncated.json.detail).toMatch(/^Body is not valid JSON: Unexpected end of JSON input/);
  });

  it('refuses a body that is not UTF-8 instead of storing U+FFFD', async () => {
    const res = await refused('/sessions', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from(' bad utf8"}')]), 'body');
    expect(res.json.detail).toContain('not valid UTF-8');
    expect(res.json.detail).toContain('byte offset 9');
    // A truncated sequence and an encoded surrogate are not UTF-8 either.
    await refused('/sessions', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]), 'body');
    await refused('/sessions', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 'body');
  });

  it('refuses a string holding half a surrogate pair, naming it; a whole pair as escapes, or an escaped backslash before "ud800", is fine', async () => {
    const res = await refused('/traces', `{"sessionId":"${S}","runner":"ext","task":{"input":"x"},"output":{"ok":true,"stdout":"half a pair: \\ud83d","stderr":""}}`, 'body.output.stdout');
    expect(res.json.detail).toContain('half a surrogate pair');
    await refused('/sessions', '{"metadata":{"\\udc00key":1}}', 'body.metadata.\udc00key');
    const ok = await rawRequest(s.url, 'POST', '/sessions', JSON_HEADERS, '{"name":"\\ud83d\\ude80 and \\\\ud800"}');
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.name).toBe('🚀 and \\ud800');
  });

  it('keeps valid UTF-8 (and a real U+FFFD, and a byte-order mark) as sent', async () => {
    const name = 'été – 日本 🚀 \uFFFD';
    const res = await rawRequest(s.url, 'POST', '/sessions', JSON_HEADERS, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ name }), 'utf8')]));
    expect(res.status, res.text).toBe(201);
    expect(res.json.name).toBe(name);
  });

  it.each([
    [`{"sessionId":"{S}","sessionId":"zzz","runner":"ext","task":{"input":"x"},"output":${output}}`, 'body.sessionId'],
    [`{"sessionId":"{S}","runner":"ext","task":{"input":"x","input":"y"},"output":${output}}`, 'body.task.input'],
    [`{"sessionId":"{S}","runner":"ext","r\\u0075nner":"other","task":{"input":"x"},"output":${output}}`, 'body.runner'],
    [`{"sessionId":"{S}","runner":"ext","task":{"input":"x"},"output":${output},"metadata":{"l":[{"k":1},{"k":1,"k":2}]}}`, 'body.metadata.l.1.k'],
  ])('refuses a key repeated in one object, naming it: %s', async (body, field) => {
    const res = await refused('/traces', body.replaceAll('{S}', S), field);
    expect(res.json.detail).toContain('more than once');
  });

  it('accepts the same key in different objects, and quotes and colons inside strings', async () => {
    const body = `{"sessionId":"${S}","runner":"ext","task":{"input":"a\\":b \\"k\\": 1"},"output":${output},"metadata":{"input":{"input":1},"s":"\\"x\\":","l":[{"k":1},{"k":2}]}}`;
    const res = await rawRequest(s.url, 'POST', '/traces', JSON_HEADERS, body);
    expect(res.status, res.text).toBe(201);
    expect(res.json.trace.task.input).toBe('a":b "k": 1');
    expect(res.json.trace.metadata).toMatchObject({ input: { input: 1 }, s: '"x":', l: [{ k: 1 }, { k: 2 }] });
  });

  it('accepts a GET with Content-Length 0; a GET with a body and no key is a 401 before its body is refused', async () => {
    const get = await rawRequest(s.url, 'GET', '/sessions?limit=1', { authorization: JSON_HEADERS.authorization, 'content-length': '0' });
    expect(get.status, get.text).toBe(200);
    const res = await rawRequest(s.url, 'GET', '/traces', { 'content-type': 'application/json' }, '{"status":"error"}');
    expect(res.status, res.text).toBe(401);
    expect(res.json).toMatchObject({ code: 'LIMIT_UNAUTHORIZED', errors: [{ path: 'header.authorization', message: 'missing' }] });
  });

  it('accepts a UTF-8 charset however it is spelt, and Content-Encoding identity', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; charset=utf8']) {
      const res = await rawRequest(s.url, 'POST', '/sessions', { ...JSON_HEADERS, 'content-type': type }, '{"name":"café"}');
      expect(res.status, `${type}: ${res.text}`).toBe(201);
      expect(res.json.name).toBe('café');
    }
    const identity = await rawRequest(s.url, 'POST', '/sessions', { ...JSON_HEADERS, 'content-encoding': 'identity' }, '{"name":"plain"}');
    expect(identity.status, identity.text).toBe(201);
  });
});
