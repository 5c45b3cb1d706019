/**
 * GET /openapi.json and GET /docs go through the same route layer (glue.ts) as every other route:
 * strict about query parameters, listed in the OpenAPI document from their route declarations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Server } from './harness.ts';

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.close();
});

describe('the API description routes', () => {
  it('refuse unknown query parameters with a 400 naming them, as /health does', async () => {
    for (const url of ['/health', '/openapi.json', '/docs']) {
      const res = await s.req('GET', `${url}?x=1`, { key: null });
      expect(res.status, url).toBe(400);
      expect(res.json, url).toMatchObject({ code: 'LIMIT_VALIDATION', errors: [{ path: 'query.x', message: 'Unrecognized key: "x"' }] });
      expect(res.headers.get('content-type'), url).toMatch(/^application\/problem\+json/);
    }
  });

  it('need no key, keep their content types, and are documented like other routes', async () => {
    const doc = await s.req('GET', '/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    expect(doc.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(doc.json.openapi).toBe('3.1.0');
    const html = await s.req('GET', '/docs', { key: null });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.text).toMatch(/^<!doctype html>/);
    // Their entries in the document say they take no key and may answer 400 like every route.
    for (const p of ['/openapi.json', '/docs']) {
      const op = doc.json.paths[p].get;
      expect(op.security, p).toEqual([]);
      expect(op.parameters, p).toEqual([]);
      expect(Object.keys(op.responses).sort(), p).toEqual(['200', '400', '429']);
    }
  });
});
