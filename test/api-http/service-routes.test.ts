/**
 * GET /openapi.json and GET /docs go through the same route layer (glue.ts) as every other route:
 * strict about query parameters, listed in the OpenAPI document from their route declarations.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { definePlugin } from 'limit-graph';
import { ERROR_PATHS } from '../../plugins/api-http/problem.ts';
import { KEYS, startServer, type Server } from './harness.ts';

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
    // Their entries in the document say they take no key and may answer 400, 429 and 503 like every route.
    for (const p of ['/openapi.json', '/docs']) {
      const op = doc.json.paths[p].get;
      expect(op.security, p).toEqual([]);
      expect(op.parameters, p).toEqual([]);
      expect(Object.keys(op.responses).sort(), p).toEqual(['200', '400', '429', '503']);
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

describe('every status a route answers with is in its OpenAPI entry', () => {
  type Ops = Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
  /** The documented statuses of `method path` (the answer's content type among the documented ones). */
  const documents = (doc: { paths: Ops }, method: string, p: string, status: number, contentType: string) => {
    const response = doc.paths[p]?.[method.toLowerCase()]?.responses[String(status)];
    expect(response, `${method} ${p} answered ${status}, undocumented`).toBeDefined();
    expect(Object.keys(response!.content ?? {}), `${method} ${p} ${status}`).toContain(contentType);
  };

  it('503 without the plugin a route needs (rd:fgw, knee:*)', async () => {
    const doc = (await s.req('GET', '/openapi.json', { key: null })).json;
    const session = (await s.req('POST', '/sessions', { body: {} })).json;
    const graph = { nodes: [{ id: 'a', features: [0] }], edges: [] };
    const series = (await s.req('POST', '/rd/series', { body: { sessionId: session.id, name: 'plain' } })).json;
    const seen: [string, string, string, { key?: string | null; body?: unknown }][] = [
      ['POST', '/rd/series', '/rd/series', { body: { sessionId: session.id, name: 'ref', reference: graph } }],
      ['GET', '/rd/knee', `/rd/knee?series=${series.id}`, {}],
      ['POST', '/rd/knee', '/rd/knee', { body: { points: [{ rate: 1, distortion: 1 }, { rate: 2, distortion: 0.5 }, { rate: 3, distortion: 0.2 }] } }],
      ['POST', '/rd/distortion', '/rd/distortion', { body: { source: graph, target: graph } }],
    ];
    for (const [method, p, url, init] of seen) {
      const res = await s.req(method, url, init);
      expect(res.json, `${method} ${url}`).toMatchObject({ status: 503, code: 'LIMIT_SERVICE_NOT_FOUND' });
      documents(doc, method, p, 503, 'application/problem+json');
    }
  });

  it("/ready's 503 when a check fails: the readiness body, as documented", async () => {
    const sick = definePlugin({
      meta: { name: 'test-runner-sick', version: '0.0.0', provides: ['runner:sick'] },
      setup: (ctx) => ctx.provide('runner:sick', {
        name: 'sick', capabilities: { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
        executeIsolated: () => Promise.reject(new Error('sick')), health: async () => ({ status: 'fail' as const, checks: [] }),
      }),
    });
    const own = await startServer({ extra: [sick] });
    try {
      const doc = (await own.req('GET', '/openapi.json', { key: null })).json;
      const ready = await own.req('GET', '/ready', { key: null });
      expect(ready.json).toMatchObject({ status: 'fail', checks: expect.arrayContaining([{ name: 'runner:sick', status: 'fail' }]) });
      documents(doc, 'GET', '/ready', ready.status, ready.headers.get('content-type')!.split(';')[0]!);
    } finally {
      await own.close();
    }
  });

  it('/ready requests that arrive while its checks run share them: one round at a time, however many callers', async () => {
    let calls = 0;
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const slow = definePlugin({
      meta: { name: 'test-runner-slow', version: '0.0.0', provides: ['runner:slow'] },
      setup: (ctx) => ctx.provide('runner:slow', {
        name: 'slow', capabilities: { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
        executeIsolated: () => Promise.reject(new Error('unused')),
        health: async () => {
          calls++;
          await gate;
          return { status: 'ok' as const, checks: [] };
        },
      }),
    });
    const own = await startServer({ extra: [slow] });
    try {
      const answers = Array.from({ length: 20 }, () => own.req('GET', '/ready', { key: null }));
      await vi.waitFor(() => expect(calls).toBe(1));
      release();
      for (const ready of await Promise.all(answers)) {
        expect(ready.status).toBe(200);
        expect(ready.json).toMatchObject({ status: 'ok', checks: expect.arrayContaining([{ name: 'runner:slow', status: 'ok' }]) });
      }
      expect(calls).toBe(1);
      // Once a round is over, the next request checks again.
      gate = Promise.resolve();
      expect((await own.req('GET', '/ready', { key: null })).status).toBe(200);
      expect(calls).toBe(2);
    } finally {
      release();
      await own.close();
    }
  });

  it('503 LIMIT_RUNTIME_CLOSED on every route during shutdown', async () => {
    const own = await startServer();
    try {
      const doc = (await own.req('GET', '/openapi.json', { key: null })).json as { paths: Ops };
      const { port } = new URL(own.url);
      const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), p] as const));
      expect(routes.length).toBeGreaterThan(20);
      // Each request is begun before shutdown (its head without the final CRLF, so its connection is
      // not idle and stays open) and finished once shutdown has begun.
      const sockets = await Promise.all(routes.map(([method, p]) => new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(`${method} ${p.replace(/\{[^}]+\}/g, 'x')} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEYS.A}\r\n`, () => resolve(socket));
        });
        socket.on('error', reject);
      })));
      const answers = sockets.map((socket) => new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
        socket.on('close', () => resolve(text));
      }));
      const closing = own.rt.resolve('http').close();
      for (const socket of sockets) socket.write('Connection: close\r\n\r\n');
      const texts = await Promise.all(answers);
      await closing;
      routes.forEach(([method, p], i) => {
        const head = /^HTTP\/1\.1 (\d+)[^]*?\r\ncontent-type: ([^;\r]+)/i.exec(texts[i]!);
        expect(head, `${method} ${p}: ${texts[i]!.slice(0, 200)}`).not.toBeNull();
        expect(texts[i], `${method} ${p}`).toContain('LIMIT_RUNTIME_CLOSED');
        // The 503's Retry-After, as /openapi.json declares it (components.headers.RetryAfter503).
        expect(texts[i], `${method} ${p}`).toMatch(/\r\nretry-after: 5\r\n/i);
        documents(doc, method, p, Number(head![1]), head![2]!);
      });
    } finally {
      await own.close();
    }
  });
});
