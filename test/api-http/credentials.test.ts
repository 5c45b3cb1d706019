/**
 * The 401 of a request whose credentials are present but not in a form the server reads (another
 * Authorization scheme, a Bearer header without exactly one token, an empty X-API-Key) says what is
 * wrong with the header and what to send, not that the key is missing; the credential is never echoed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startServer, type Server } from './harness.ts';

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.close();
});

describe('401 for credentials in the wrong form', () => {
  const basic = `Basic ${Buffer.from(`x:${KEYS.A}`).toString('base64')}`;
  const cases: { name: string; headers: Record<string, string>; path: string; detail: RegExp; message: RegExp }[] = [
    { name: 'Basic scheme', headers: { authorization: basic }, path: 'header.authorization', detail: /scheme "Basic" is not supported/, message: /^unsupported scheme "Basic"/ },
    { name: 'lower-case other scheme', headers: { authorization: `token ${KEYS.A}` }, path: 'header.authorization', detail: /scheme "token" is not supported/, message: /^unsupported scheme "token"/ },
    // A long first word could be a key sent with something after it: not named.
    { name: 'long unknown scheme', headers: { authorization: `${KEYS.A} extra` }, path: 'header.authorization', detail: /is not supported/, message: /^unsupported scheme$/ },
    { name: 'no scheme (the key alone)', headers: { authorization: KEYS.A }, path: 'header.authorization', detail: /has no scheme/, message: /^no scheme/ },
    { name: 'Bearer without a key', headers: { authorization: 'Bearer' }, path: 'header.authorization', detail: /Bearer without a key/, message: /^Bearer without a key/ },
    { name: 'Bearer with two tokens', headers: { authorization: `Bearer ${KEYS.A} extra` }, path: 'header.authorization', detail: /more than one/, message: /more than one/ },
    // One token, but after a tab (or another space character): the separator is what is wrong.
    { name: 'Bearer and the key separated by a tab', headers: { authorization: `Bearer\t${KEYS.A}` }, path: 'header.authorization', detail: /separates Bearer and the key with something other than spaces.*one space/, message: /^Bearer not followed by a space/ },
    { name: 'empty X-API-Key', headers: { 'x-api-key': '' }, path: 'header.x-api-key', detail: /X-API-Key header is empty/, message: /^empty/ },
  ];
  for (const c of cases) {
    it(`${c.name}: says what is wrong with the header and what to send`, async () => {
      for (const [method, url] of [['GET', '/sessions'], ['POST', '/sessions'], ['GET', '/no-such-route']] as const) {
        const res = await s.req(method, url, { key: null, headers: c.headers, ...(method === 'POST' ? { body: {} } : {}) });
        expect(res.status, `${method} ${url}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="limit-graph"');
        expect(res.json).toMatchObject({ code: 'LIMIT_UNAUTHORIZED', errors: [{ path: c.path, message: expect.stringMatching(c.message) }] });
        expect(res.json.detail).toMatch(c.detail);
        expect(res.json.detail).not.toMatch(/missing|required/i);
        expect(res.json.fix).toMatch(/Authorization: Bearer <key>.*X-API-Key: <key>/);
        // Never the credential, nor its base64.
        expect(res.text).not.toContain(KEYS.A);
        expect(res.text).not.toContain(basic.slice(6));
      }
    });
  }

  it('no credentials at all still says they are missing; an unknown key names the header that carried it', async () => {
    const none = await s.req('GET', '/sessions', { key: null });
    expect(none.json).toMatchObject({ status: 401, errors: [{ path: 'header.authorization', message: 'missing' }] });
    expect(none.json.detail).toMatch(/^Authentication required/);
    const bearer = await s.req('GET', '/sessions', { key: 'not-a-real-key-0000000000' });
    expect(bearer.json).toMatchObject({ status: 401, detail: 'Unknown API key', errors: [{ path: 'header.authorization', message: 'unknown key' }] });
    const header = await s.req('GET', '/sessions', { key: null, headers: { 'x-api-key': 'not-a-real-key-0000000000' } });
    expect(header.json).toMatchObject({ status: 401, detail: 'Unknown API key', errors: [{ path: 'header.x-api-key', message: 'unknown key' }] });
    // Every 401 names both ways of sending a key, as the malformed ones above do.
    for (const res of [none, bearer, header]) expect(res.json.fix, res.json.detail).toMatch(/Authorization: Bearer <key>.*X-API-Key: <key>/);
  });

  it('a valid key in X-API-Key is used whatever the Authorization header holds (as before)', async () => {
    expect((await s.req('GET', '/sessions', { key: null, headers: { authorization: 'Basic Zm9vOmJhcg==', 'x-api-key': KEYS.A } })).status).toBe(200);
  });
});
