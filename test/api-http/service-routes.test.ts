/**
 * GET /openapi.json and GET /docs go through the same route layer (glue.ts) as every other route:
 * strict about query parameters, listed in the OpenAPI document from their route declarations.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_PATHS } from '../../plugins/api-http/problem.ts';
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

describe('the Problem schema and the docs name every errors[].path the server sends', () => {
  const read = (file: string) => readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8');

  it('the 415s of the preParsing hook (header.content-encoding, header.content-type) are documented where they are sent', async () => {
    const body = JSON.stringify({ name: 'x' });
    const gzip = await s.req('POST', '/sessions', { raw: body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    const latin1 = await s.req('POST', '/sessions', { raw: body, headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
    const sent = [gzip, latin1].map((r) => {
      expect(r.status, r.text).toBe(415);
      return r.json.errors[0].path as string;
    });
    expect(sent).toEqual(['header.content-encoding', 'header.content-type']);
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const pathSchema = doc.components.schemas.Problem.properties.errors.items.properties.path;
    const apiMd = read('docs/api.md');
    const readme = read('plugins/api-http/README.md');
    const listed = ERROR_PATHS.map((e) => e.path);
    for (const p of sent) expect(listed, p).toContain(p);
    for (const p of listed) {
      expect(pathSchema.description, p).toContain(`\`${p}\``);
      // `body.…` is written with an example in the docs (`body.task.input`): its prefix is what must appear.
      const written = p.endsWith('…') ? `\`${p.slice(0, -1)}` : `\`${p}\``;
      expect(apiMd, `docs/api.md: ${p}`).toContain(written);
      expect(readme, `README: ${p}`).toContain(written);
    }
    // The 415 of every route that takes a body says what a 415 is about, charset and encoding included.
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { description: string }> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.requestBody) continue;
        expect(op.responses['415'], `${method} ${p}`).toBeDefined();
        expect(op.responses['415']!.description, `${method} ${p}`).toMatch(/charset.*Content-Encoding/);
      }
    }
  });
});
