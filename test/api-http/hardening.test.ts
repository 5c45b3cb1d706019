/**
 * Request ids, rate limits, CORS, body limits, `auth: none`, env configuration, log redaction,
 * routes added through the httpRoutes hook and graceful shutdown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LimitError, definePlugin, isLimitError } from 'limit-graph';
import { ApiHttpOptions } from '../../plugins/api-http/options.ts';
import { KEYS, memoryLogger, rawRequest, startServer, type Server } from './harness.ts';

let server: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The error a server started with `options` fails with, checked to be LIMIT_PLUGIN_OPTIONS_INVALID (`what` names the case). */
async function refusedAtStart(options: Parameters<typeof startServer>[0], what: string): Promise<Error> {
  const error = await startServer(options).then(async (s) => {
    await s.close();
    return undefined;
  }, (e: unknown) => e);
  expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID'), what).toBe(true);
  return error as Error;
}

/** A plugin adding two routes through the kernel's httpRoutes hook. */
const routesPlugin = definePlugin({
  meta: { name: 'test-routes', version: '0.0.0' },
  setup(ctx) {
    ctx.hooks.httpRoutes.tapPromise('test-routes', async (app) => {
      app.get('/custom/slow', async (request) => {
        await new Promise((r) => setTimeout(r, 600));
        return { tenant: request.principal?.tenant, done: true };
      });
      app.get('/custom/public', { config: { public: true } }, async () => ({ hello: 'world' }));
      app.get('/custom/boom', async () => {
        throw new Error('database at /srv/secret/db.sqlite exploded');
      });
      // What a plugin may throw that is not an Error: each is a server fault, never Fastify's own reply or the client's 4xx.
      app.get('/custom/undefined', async () => {
        throw undefined;
      });
      app.get('/custom/null', async () => {
        throw null;
      });
      app.get('/custom/string', async () => {
        throw 'driver said no';
      });
      app.get('/custom/status-object', async () => {
        throw { status: 404, statusCode: 400, message: 'row missing in the driver' };
      });
      app.get('/custom/status-error', async () => {
        throw Object.assign(new Error('vendor said 401'), { status: 401 });
      });
      app.get('/custom/forbidden', async () => {
        throw new LimitError('LIMIT_FORBIDDEN', 'Only auditors may read this', { details: { field: 'header.authorization' } });
      });
    });
  },
});

/** A runner whose result breaks the contract (metrics out of range) or is not a result at all. */
const badResultRunner = definePlugin({
  meta: { name: 'runner-bad-result', version: '0.0.0', provides: ['runner:bad'] },
  setup(ctx) {
    ctx.provide('runner:bad', {
      name: 'bad',
      capabilities: { timeout: false, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
      executeIsolated: async (task) => (task.input === 'metrics' ? { ok: true, stdout: 'hi', stderr: '', metrics: { latencyMs: -5, exitCode: 1.5 } } : { hello: 'world' }) as never,
      health: async () => ({ status: 'ok', checks: [] }),
    });
  },
});

describe('api-http hardening', () => {
  it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
    server = await startServer();
    const given = await server.req('GET', '/health', { headers: { 'x-request-id': 'trace-abc_123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc_123');
    const bad = await server.req('GET', '/sessions/.x', { headers: { 'x-request-id': 'has spaces and <html>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad.json.requestId).toBe(bad.headers.get('x-request-id'));
    const none = await server.req('GET', '/health');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses conflicting credentials with a 400 problem document; the same key twice is fine', async () => {
    server = await startServer();
    const both = await server.req('GET', '/sessions', { key: null, headers: { authorization: `Bearer ${KEYS.A}`, 'x-api-key': KEYS.B } });
    expect(both.status).toBe(400);
    expect(both.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(both.json).toMatchObject({ status: 400, code: 'LIMIT_VALIDATION' });
    // errors[] names each header that carried one of the keys, and no other.
    expect(both.json.errors).toEqual([{ path: 'header.authorization', message: 'conflicting keys' }, { path: 'header.x-api-key', message: 'conflicting keys' }]);
    expect(both.json.detail).toMatch(/Authorization and X-API-Key/);
    expect(both.text).not.toContain(KEYS.A);
    expect(both.text).not.toContain(KEYS.B);
    // Two keys of one tenant conflict too: which key acted matters (actor, rate-limit budget).
    const sameTenant = await server.req('GET', '/sessions', { key: null, headers: { authorization: `Bearer ${KEYS.A}`, 'x-api-key': KEYS.A2 } });
    expect(sameTenant.status).toBe(400);
    expect(sameTenant.json).toMatchObject({ status: 400, code: 'LIMIT_VALIDATION' });
    expect(sameTenant.json.errors).toEqual([{ path: 'header.authorization', message: 'conflicting keys' }, { path: 'header.x-api-key', message: 'conflicting keys' }]);
    // Repeated Authorization headers (Node keeps only the first in request.headers).
    const twice = await rawRequest(server.url, 'GET', '/sessions', { authorization: [`Bearer ${KEYS.A}`, `Bearer ${KEYS.B}`] as unknown as string });
    expect(twice.status).toBe(400);
    expect(twice.json.code).toBe('LIMIT_VALIDATION');
    expect(twice.json.errors).toEqual([{ path: 'header.authorization', message: 'conflicting keys' }]);
    expect(twice.json.detail).toMatch(/repeated Authorization header/);
    const apiKeyTwice = await rawRequest(server.url, 'GET', '/sessions', { 'x-api-key': [KEYS.B, KEYS.A] as unknown as string });
    expect(apiKeyTwice.status).toBe(400);
    expect(apiKeyTwice.json.errors).toEqual([{ path: 'header.x-api-key', message: 'conflicting keys' }]);
    expect(apiKeyTwice.json.detail).toMatch(/repeated X-API-Key header/);
    // A header with a key nothing else carries is involved; one repeating a key another carries too.
    const three = await rawRequest(server.url, 'GET', '/sessions', { authorization: `Bearer ${KEYS.A}`, 'x-api-key': [KEYS.A, KEYS.B] as unknown as string });
    expect(three.status).toBe(400);
    expect(three.json.errors.map((e: { path: string }) => e.path)).toEqual(['header.authorization', 'header.x-api-key']);
    // A header with no readable key (another scheme) is not part of the conflict.
    const unreadable = await rawRequest(server.url, 'GET', '/sessions', { authorization: 'Basic Zm9vOmJhcg==', 'x-api-key': [KEYS.A, KEYS.B] as unknown as string });
    expect(unreadable.json.errors).toEqual([{ path: 'header.x-api-key', message: 'conflicting keys' }]);
    // The same key in both places, or twice, is accepted.
    const same = await server.req('GET', '/sessions', { key: null, headers: { authorization: `Bearer ${KEYS.B}`, 'x-api-key': KEYS.B } });
    expect(same.status).toBe(200);
    const sameTwice = await rawRequest(server.url, 'GET', '/sessions', { authorization: [`Bearer ${KEYS.B}`, `bearer ${KEYS.B}`] as unknown as string });
    expect(sameTwice.status).toBe(200);
  });

  it('rate-limits per API key, and per IP without a valid key', async () => {
    server = await startServer({ api: { rateLimit: { max: 5, timeWindow: 60_000 } } });
    for (let i = 0; i < 5; i++) expect((await server.req('GET', '/sessions')).status).toBe(200);
    const limited = await server.req('GET', '/sessions');
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ status: 429, code: 'LIMIT_RATE_LIMITED', title: 'Too Many Requests' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The detail names the limit per configured window and the wait, which matches Retry-After.
    expect(limited.json.detail).toBe(`Rate limit of 5 requests per 60 s exceeded; retry after ${limited.headers.get('retry-after')} s`);
    // Another key of the same tenant has its own budget.
    expect((await server.req('GET', '/sessions', { key: KEYS.B })).status).toBe(200);
    // Unknown keys share the IP's budget: 5 tries, then 429 instead of 401.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await server.req('GET', '/sessions', { key: `guess-${i}-0000000000000000` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('never rate-limits /health and /ready: a client or key that spent its budget cannot starve the probes', async () => {
    server = await startServer({ api: { rateLimit: { max: 3, timeWindow: 60_000 } } });
    // Wrong keys spend the IP's budget; a valid key spends its own.
    for (let i = 0; i < 3; i++) await server.req('GET', '/sessions', { key: `guess-${i}-0000000000000000` });
    for (let i = 0; i < 3; i++) await server.req('GET', '/sessions');
    expect((await server.req('GET', '/sessions', { key: null })).status).toBe(429);
    expect((await server.req('GET', '/sessions')).status).toBe(429);
    for (const key of [null, KEYS.A]) {
      for (const probe of ['/health', '/ready']) {
        const res = await server.req('GET', probe, { key });
        expect(res.status, `${probe} with key ${key}`).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
      expect((await rawRequest(server.url, 'HEAD', '/health', key ? { authorization: `Bearer ${key}` } : {})).status).toBe(200);
    }
    // Nor does the OpenAPI document list a 429 for them.
    const doc = (await server.req('GET', '/openapi.json', { key: KEYS.B })).json;
    expect(Object.keys(doc.paths['/health'].get.responses)).not.toContain('429');
    expect(Object.keys(doc.paths['/ready'].get.responses)).not.toContain('429');
  });

  it('counts requests without a valid key by IPv6 /64, and an IPv4-mapped address as its IPv4 address', async () => {
    server = await startServer({ api: { trustProxy: true, rateLimit: { max: 2, timeWindow: 60_000 } } });
    const from = async (ip: string) => (await server!.req('GET', '/sessions', { key: 'guess-0000000000000000', headers: { 'x-forwarded-for': ip } })).status;
    // Three addresses of one /64: one budget of 2, so rotating addresses does not buy more guesses.
    expect([await from('2001:db8:1:2::1'), await from('2001:db8:1:2::ffff:2'), await from('2001:db8:1:2:abcd::3')]).toEqual([401, 401, 429]);
    // Another /64 has its own.
    expect(await from('2001:db8:1:3::1')).toBe(401);
    expect([await from('203.0.113.7'), await from('::ffff:203.0.113.7'), await from('::ffff:cb00:7107')]).toEqual([401, 401, 429]);
  });

  it('keeps a throttled client throttled however many other clients come: no bucket is evicted while its window runs', async () => {
    server = await startServer({ api: { rateLimit: { max: 3, timeWindow: 60_000 } } });
    const app = await server.rt.resolve('http').app();
    const from = async (remoteAddress: string, url = '/sessions') => (await app.inject({ method: 'GET', url, remoteAddress })).statusCode;
    for (let i = 0; i < 3; i++) expect(await from('203.0.113.9')).toBe(401);
    expect(await from('203.0.113.9')).toBe(429);
    // More clients than the limiter's former LRU held (5000): the throttled bucket was evicted, and 401s began again.
    const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    for (let i = 0; i < 5001; i += 500) await Promise.all(Array.from({ length: Math.min(500, 5001 - i) }, (_, j) => from(ip(i + j), '/nope')));
    expect(await from('203.0.113.9')).toBe(429);
  });

  it('past rateLimit.maxClients clients without a key in a window, new ones share one budget; throttled ones stay so, keys keep theirs', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ api: { trustProxy: true, rateLimit: { max: 2, timeWindow: 60_000, maxClients: 3 } }, logger });
    const from = async (ip: string) => (await server!.req('GET', '/sessions', { key: null, headers: { 'x-forwarded-for': ip } })).status;
    expect([await from('192.0.2.1'), await from('192.0.2.1'), await from('192.0.2.1')]).toEqual([401, 401, 429]);
    expect([await from('192.0.2.2'), await from('192.0.2.3')]).toEqual([401, 401]);
    // Three clients hold buckets: the next ones share one, of the same limit.
    expect([await from('192.0.2.4'), await from('2001:db8::1'), await from('192.0.2.6')]).toEqual([401, 401, 429]);
    expect(lines.filter((l) => l.includes('rateLimit.maxClients')).map((l) => JSON.parse(l))).toMatchObject([{ level: 40, clients: 3 }]);
    // The first clients keep their own buckets: the throttled one stays throttled, the others have one request left.
    expect([await from('192.0.2.1'), await from('192.0.2.2'), await from('192.0.2.2')]).toEqual([429, 401, 429]);
    // A valid key has its own budget, whatever the number of clients.
    expect((await server.req('GET', '/sessions', { headers: { 'x-forwarded-for': '192.0.2.7' } })).status).toBe(200);
    // A limit it cannot hold is refused at start.
    await server.close();
    server = undefined;
    const error = await refusedAtStart({ api: { rateLimit: { maxClients: 0 } } }, 'maxClients: 0');
    expect(String((error as Error).message)).toMatch(/plugins\.api-http\.rateLimit\.maxClients: Too small/);
  });

  it('refuses a trustProxy it cannot read at start, naming the option and the entry', async () => {
    // Before, these failed the first listen with proxy-addr's bare "invalid IP address: yes", and '' was read as no proxy.
    const cases: [unknown, RegExp][] = [
      ['yes', /trustProxy: "yes" is not an IP address/],
      ['', /trustProxy: Expected trusted proxies .* got an empty string/],
      ['loopback, 10.0.0.0/33', /trustProxy: "10\.0\.0\.0\/33" has an invalid range: expected \/0–\/32/],
      ['10.0.0.0/255.0.255.0', /trustProxy: "10\.0\.0\.0\/255\.0\.255\.0" has an invalid range/],
      [['loopback', 'bogus'], /trustProxy\.1: "bogus" is not an IP address/],
    ];
    for (const [trustProxy, message] of cases) {
      const error = await refusedAtStart({ api: { trustProxy } }, JSON.stringify(trustProxy));
      expect(String((error as Error).message)).toMatch(message);
    }
    server = await startServer({ api: { trustProxy: 'loopback, 10.0.0.0/255.0.0.0, fe80::/10' } });
    expect((await server.req('GET', '/health')).status).toBe(200);
  });

  it('applies a rate-limit window written as text, and refuses one it cannot read at start', async () => {
    server = await startServer({ api: { rateLimit: { max: 1, timeWindow: '1.5 minutes' } } });
    expect((await server.req('GET', '/sessions')).status).toBe(200);
    const limited = await server.req('GET', '/sessions');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(limited.json.detail).toMatch(/^Rate limit of 1 requests per 1\.5 minutes exceeded/);
    await server.close();
    server = undefined;
    // Before, 'soon', '1 fortnight' and '0 s' made every request a 500, and '-5 minutes' left requests unlimited.
    for (const timeWindow of ['soon', '1 fortnight', '0 s', '-5 minutes', 'Infinity']) {
      const error = await refusedAtStart({ api: { rateLimit: { max: 1, timeWindow } } }, timeWindow);
      expect(String((error as Error).message)).toMatch(/rateLimit\.timeWindow/);
    }
  });

  it('refuses a rate-limit window over 1 day at start, naming the option', async () => {
    // Before, up to 2^52 ms (142,000 years) was taken: limiting silently off, or a client locked out for ever.
    for (const timeWindow of [86_400_001, 2 ** 52, '25h', '1.5 d', '1 w']) {
      const error = await refusedAtStart({ api: { rateLimit: { max: 1, timeWindow } } }, String(timeWindow));
      expect(String((error as Error).message)).toMatch(/plugins\.api-http\.rateLimit\.timeWindow: .*at most 1 day/);
    }
    for (const timeWindow of [86_400_000, '1 day', '24 h']) expect(ApiHttpOptions.safeParse({ rateLimit: { timeWindow } }).success, String(timeWindow)).toBe(true);
  });

  it('rate-limits unknown routes too, so they cannot be used to test keys without limit', async () => {
    server = await startServer({ api: { rateLimit: { max: 5, timeWindow: 60_000 } } });
    // Bad keys on an unknown path share the IP budget: 401 five times, then 429 (not 401 for ever).
    const guesses: number[] = [];
    for (let i = 0; i < 7; i++) guesses.push((await server.req('GET', `/no-such-route-${i}`, { key: `guess-${i}-0000000000000000` })).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const limited = await server.req('GET', '/x', { key: 'guess-x-0000000000000000' });
    expect(limited.json).toMatchObject({ status: 429, code: 'LIMIT_RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // A valid key's 404s count against that key's budget, shared with its real routes.
    const valid: number[] = [];
    for (let i = 0; i < 3; i++) valid.push((await server.req('GET', '/nope', { key: KEYS.B })).status);
    for (let i = 0; i < 3; i++) valid.push((await server.req('GET', '/sessions', { key: KEYS.B })).status);
    expect(valid).toEqual([404, 404, 404, 200, 200, 429]);
    // Every 404 carries the rate-limit headers like a routed request.
    expect((await server.req('GET', '/nope', { key: KEYS.A })).headers.get('x-ratelimit-remaining')).toBe('4');
  });

  it('rate-limits OPTIONS requests (CORS preflights and the 400s of non-preflights) in the IP budget of requests without a key', async () => {
    server = await startServer({ api: { cors: { origins: ['http://app.example'] }, rateLimit: { max: 4, timeWindow: 60_000 } } });
    const preflight = { origin: 'http://app.example', 'access-control-request-method': 'POST' };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await rawRequest(server.url, 'OPTIONS', `/sessions/${i}`, preflight)).status);
    statuses.push((await rawRequest(server.url, 'OPTIONS', '/sessions', {})).status);
    const limited = await rawRequest(server.url, 'OPTIONS', '/sessions', preflight);
    expect([...statuses, limited.status]).toEqual([204, 204, 204, 400, 429]);
    expect(limited.json).toMatchObject({ status: 429, code: 'LIMIT_RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The same IP budget as requests without a valid key: spent by the preflights.
    expect((await server.req('GET', '/sessions', { key: null })).status).toBe(429);
    // A valid key's budget is its own.
    expect((await server.req('GET', '/sessions')).status).toBe(200);
  });

  it('answers a method a path does not take with 405 and an Allow header listing its methods; unknown paths stay 404', async () => {
    server = await startServer({ api: { cors: { origins: ['http://app.example'] } }, extra: [routesPlugin] });
    const auth = { authorization: `Bearer ${KEYS.A}` };
    const cases: [string, string, string][] = [
      ['DELETE', '/sessions', 'GET, HEAD, POST'],
      ['PUT', '/sessions/abc', 'GET, HEAD'],
      ['GET', '/sessions/abc/close', 'POST'],
      ['HEAD', '/sessions/abc/close', 'POST'],
      ['PATCH', '/health', 'GET, HEAD'],
      // Routes added through the httpRoutes hook too.
      ['POST', '/custom/public', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await rawRequest(server.url, method, `${url}?x=1`, auth);
      expect(res.status, `${method} ${url}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${url}`).toBe(allow);
      expect(res.headers.get('content-type'), `${method} ${url}`).toMatch(/^application\/problem\+json/);
      if (method === 'HEAD') continue;
      expect(res.json).toMatchObject({
        status: 405, title: 'Method Not Allowed', code: 'LIMIT_METHOD_NOT_ALLOWED', detail: `${method} is not allowed on ${url}; allowed: ${allow}`,
        fix: expect.stringContaining('GET /openapi.json lists every route and its methods'),
      });
    }
    // Unknown paths (a trailing slash, another case, an extra segment) are 404 without Allow.
    for (const url of ['/nope', '/sessions/', '/Sessions', '/sessions/abc/close/x']) {
      const res = await rawRequest(server.url, 'DELETE', url, auth);
      expect(res.status, url).toBe(404);
      expect(res.headers.get('allow'), url).toBeNull();
    }
    // HEAD of a GET route and CORS preflights are answered as before.
    expect((await rawRequest(server.url, 'HEAD', '/sessions', auth)).status).toBe(200);
    expect((await rawRequest(server.url, 'OPTIONS', '/sessions', { origin: 'http://app.example', 'access-control-request-method': 'POST' })).status).toBe(204);
    // Without a key the answer is still the 401 (no route is told to an unauthenticated client).
    expect((await rawRequest(server.url, 'DELETE', '/sessions', {})).status).toBe(401);
  });

  it('sends no CORS headers by default and allows only listed origins when configured', async () => {
    server = await startServer();
    const plain = await server.req('GET', '/health', { headers: { origin: 'http://evil.example' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    await server.close();
    server = await startServer({ api: { cors: { origins: ['http://app.example'] } } });
    const preflight = await server.req('OPTIONS', '/traces', {
      key: null,
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const allowed = await server.req('GET', '/sessions', { headers: { origin: 'http://app.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
    const other = await server.req('GET', '/sessions', { headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers an OPTIONS request that is not a preflight with a problem document naming the missing header', async () => {
    server = await startServer({ api: { cors: { origins: ['http://app.example'] } } });
    for (const [headers, field] of [[{}, 'header.origin'], [{ origin: 'http://app.example' }, 'header.access-control-request-method']] as const) {
      const res = await rawRequest(server.url, 'OPTIONS', '/sessions', headers);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ code: 'LIMIT_VALIDATION', errors: [{ path: field, message: 'missing' }] });
      expect(res.json.requestId).toBe(res.headers.get('x-request-id'));
    }
  });

  it('reads no body of an OPTIONS request without a key: with CORS off it is refused 401 like any other', async () => {
    server = await startServer();
    const { hostname, port } = new URL(server.url);
    // The body is announced but never sent: an answer can only come before reading it.
    const head = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () =>
        socket.write('OPTIONS /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{'));
      let data = '';
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('utf8');
        if (data.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        resolve(data);
      }, 3000);
    });
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    const withKey = await rawRequest(server.url, 'OPTIONS', '/sessions', { authorization: `Bearer ${KEYS.A}` });
    // With a key: the path exists, OPTIONS is not one of its methods (CORS off).
    expect(withKey.status).toBe(405);
    expect(withKey.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('answers an Expect header other than 100-continue with a 417 problem document', async () => {
    server = await startServer();
    const res = await rawRequest(server.url, 'POST', '/sessions', { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json', expect: 'x-magic' }, '{}');
    expect(res.status).toBe(417);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ status: 417, code: 'LIMIT_VALIDATION', errors: [{ path: 'header.expect' }], detail: expect.stringContaining('"x-magic"') });
    expect(res.json.requestId).toBe(res.headers.get('x-request-id'));
    const cont = await rawRequest(server.url, 'POST', '/sessions', { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json', expect: '100-continue' }, '{}');
    expect(cont.status).toBe(201);
  });

  it('logs the 417 of an unsupported Expect header as a request line (logRequests), path redacted, no headers, no ms', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ logger });
    const res = await rawRequest(server.url, 'POST', '/sessions?token=qs-secret-417', { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json', expect: 'x-magic' }, '{}');
    expect(res.status).toBe(417);
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request');
    expect(line).toEqual(expect.objectContaining({ level: 30, requestId: res.json.requestId, method: 'POST', path: '/sessions?token=[redacted]', status: 417 }));
    expect(line).not.toHaveProperty('ms');
    expect(lines.join('\n')).not.toContain('qs-secret-417');
    expect(lines.join('\n')).not.toContain(KEYS.A);
  });

  it('closes the connection after refusing a request whose body it did not read, instead of reading the rest', async () => {
    server = await startServer();
    const { hostname, port } = new URL(server.url);
    // 100 MB announced, 1 byte sent: the 401 comes at once, and the server must not wait for the rest.
    const { head, closedMs } = await new Promise<{ head: string; closedMs: number }>((resolve, reject) => {
      const t0 = performance.now();
      let data = '';
      const socket = net.connect(Number(port), hostname, () =>
        socket.write('POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{'));
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => resolve({ head: data, closedMs: performance.now() - t0 }));
      setTimeout(() => socket.destroy(), 5000);
    });
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(head).toMatch(/\r\nConnection: close\r\n/i);
    expect(closedMs).toBeLessThan(4000);
    // A request whose body was read keeps its connection.
    const ok = await server.req('POST', '/sessions', { body: {} });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('connection')).not.toBe('close');
  });

  it('refuses CORS origins that a browser would never send, and credentials with every origin', async () => {
    const cases: [unknown, RegExp][] = [
      [{ origins: ['https://app.example.com/'] }, /write "https:\/\/app\.example\.com"/],
      [{ origins: ['https://App.Example.com'] }, /write "https:\/\/app\.example\.com"/],
      [{ origins: ['https://app.example.com:443'] }, /write "https:\/\/app\.example\.com"/],
      [{ origins: ['https://app.example.com/ui'] }, /write "https:\/\/app\.example\.com"/],
      [{ origins: ['*.example.com'] }, /is not an origin/],
      [{ origins: ['null'] }, /is not an origin/],
      [{ origins: ['*'], credentials: true }, /credentials: true with origins \['\*'\]/i],
    ];
    for (const [cors, message] of cases) {
      const error = await refusedAtStart({ api: { cors } }, JSON.stringify(cors));
      expect(String((error as Error).message)).toMatch(/cors/);
      expect(String((error as Error).message), String((error as Error).message)).toMatch(message);
    }
  });

  it('applies the configured body limit (413 naming it) before reading the body', async () => {
    server = await startServer({ api: { bodyLimit: 2048 } });
    const res = await server.req('POST', '/sessions', { body: { name: 'x', metadata: { pad: 'y'.repeat(3000) } } });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({
      code: 'LIMIT_PAYLOAD_TOO_LARGE', detail: 'Request body is larger than the limit of 2048 bytes',
      errors: [{ path: 'body', message: 'over the limit of 2048 bytes' }], fix: expect.stringMatching(/bodyLimit/),
    });
    // Refused by its Content-Length alone, before any of it is read: the same answer.
    const declared = await rawRequest(server.url, 'POST', '/sessions', { authorization: `Bearer ${KEYS.A}`, 'content-type': 'application/json', 'content-length': '4096' });
    expect(declared.status).toBe(413);
    expect(declared.json.detail).toBe('Request body is larger than the limit of 2048 bytes');
    expect((await server.req('POST', '/sessions', { body: { name: 'small' } })).status).toBe(201);
  });

  it("auth 'none' maps every request to config.tenant and warns at start", async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ api: { auth: { mode: 'none', keys: [{ key: KEYS.B, tenant: 'tenant-b' }] } }, logger });
    const created = await server.req('POST', '/sessions', { key: null, body: { name: 'local' } });
    expect(created.status).toBe(201);
    expect(created.json.tenant).toBe('default');
    const warn = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 40 && /auth is 'none'/.test(l.msg));
    expect(warn).toBeDefined();
    // A configured key is not read in this mode, and the warning says so.
    expect(warn!.msg).toMatch(/the 1 configured API key\(s\) are ignored, so a request with any tenant's key acts as it too/);
    const withB = await server.req('POST', '/sessions', { key: KEYS.B, body: { name: 'b?' } });
    expect(withB.json.tenant).toBe('default');
  });

  it("auth 'none' rate-limits by IP only: a configured key sent along buys no budget of its own", async () => {
    server = await startServer({ api: { auth: { mode: 'none', keys: [{ key: KEYS.B, tenant: 'tenant-b' }] }, rateLimit: { max: 2, timeWindow: 60_000 } } });
    expect((await server.req('GET', '/sessions', { key: null })).status).toBe(200);
    expect((await server.req('GET', '/sessions', { key: KEYS.B })).status).toBe(200);
    expect((await server.req('GET', '/sessions', { key: KEYS.B })).status).toBe(429);
    expect((await server.req('GET', '/sessions', { key: null })).status).toBe(429);
  });

  it('logs one line per request with its id and never the key', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ logger });
    await server.req('GET', '/sessions', { headers: { 'x-request-id': 'log-check-1' } });
    await server.req('GET', '/sessions', { key: null, headers: { 'x-api-key': KEYS.B, 'x-request-id': 'log-check-2' } });
    await server.req('GET', '/sessions', { key: 'wrong-key-but-secret-0000', headers: { 'x-request-id': 'log-check-3' } });
    await server.req('POST', '/traces', { raw: '{bad json', headers: { 'content-type': 'application/json', 'x-request-id': 'log-check-4' } });
    const all = lines.join('\n');
    for (const secret of [KEYS.A, KEYS.B, 'wrong-key-but-secret-0000']) expect(all).not.toContain(secret);
    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(requests.map((r) => [r.requestId, r.status])).toEqual([['log-check-1', 200], ['log-check-2', 200], ['log-check-3', 401], ['log-check-4', 400]]);
    expect(requests.find((r) => r.requestId === 'log-check-2')).toMatchObject({ tenant: 'tenant-b', method: 'GET', path: '/sessions' });
  });

  it('redacts a key sent in the query string from the request log line, keeping the other parameters', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ logger });
    const res = await server.req('GET', `/sessions?limit=5&api_key=${KEYS.B}&access_token=qs-secret-token-1&key=qs-secret-key-2&x%2Dapi%2Dkey=qs-secret-3`, { key: null });
    expect(res.status).toBe(401);
    const all = lines.join('\n');
    for (const secret of [KEYS.B, 'qs-secret-token-1', 'qs-secret-key-2', 'qs-secret-3']) expect(all).not.toContain(secret);
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request');
    expect(line?.path).toBe('/sessions?limit=5&api_key=[redacted]&access_token=[redacted]&key=[redacted]&x%2Dapi%2Dkey=[redacted]');
  });

  it('redacts bearer, jwt, pass, pwd, sid and session parameters, and those after a ";" in the query or a path segment (to the end of the path), from the request log line', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ logger });
    const sent = [
      '/health?bearer=qs-1&jwt=qs-2&pass=qs-3&pwd=qs-4&sid=qs-5&session=qs-6',
      '/health?x=1;api_key=qs-7&y=2',
      '/health;api_key=qs-8',
      // An API key may hold a '/': the rest of the path is masked, up to the query.
      '/health;api_key=qs-11/qs-12;x=1?limit=5',
      '/health?password=qs-9;qs-10',
      // Ordinary parameters stay readable: sessionId is a filter of GET /traces.
      '/traces?sessionId=s-1&limit=5',
    ];
    for (const url of sent) await rawRequest(server.url, 'GET', url, { authorization: `Bearer ${KEYS.A}` });
    const all = lines.join('\n');
    for (let i = 1; i <= 12; i++) expect(all).not.toContain(`qs-${i}`);
    const paths = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').map((l) => l.path);
    expect(paths).toEqual([
      '/health?bearer=[redacted]&jwt=[redacted]&pass=[redacted]&pwd=[redacted]&sid=[redacted]&session=[redacted]',
      '/health?x=1;api_key=[redacted]&y=2',
      '/health;api_key=[redacted]',
      '/health;api_key=[redacted]?limit=5',
      '/health?password=[redacted]',
      '/traces?sessionId=s-1&limit=5',
    ]);
  });

  it('a URL refused before routing (a bad percent escape) gets its request log line, its secret query parameters redacted there and in the error', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ logger });
    const res = await rawRequest(server.url, 'GET', `/sess%ZZions?limit=5&api_key=${KEYS.B}`, { authorization: `Bearer ${KEYS.A}` });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'LIMIT_VALIDATION', detail: "'/sess%ZZions?limit=5&api_key=[redacted]' is not a valid url component", errors: [{ path: 'path' }] });
    expect(lines.join('\n')).not.toContain(KEYS.B);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ requestId: res.json.requestId, method: 'GET', path: '/sess%ZZions?limit=5&api_key=[redacted]', status: 400 });
    // Its time is measured (from routing to the response's end, as on every other line): before, always 0.
    expect(logged[0]!.ms).toBeGreaterThan(0);
  });

  it('a URL refused before routing (bad percent escape, path parameter over the limit) carries the CORS headers of an allowed origin', async () => {
    server = await startServer({ api: { cors: { origins: ['http://app.example'], credentials: true } } });
    const longParam = `/sessions/${'a'.repeat(1100)}`;
    for (const [url, status] of [['/sess%ZZions', 400], [longParam, 414]] as const) {
      const allowed = await rawRequest(server.url, 'GET', url, { origin: 'http://app.example' });
      expect(allowed.status).toBe(status);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.example');
      expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
      expect(allowed.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
      expect(allowed.headers.get('vary')).toMatch(/origin/i);
      const other = await rawRequest(server.url, 'GET', url, { origin: 'http://evil.example' });
      expect(other.status).toBe(status);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(other.headers.get('access-control-allow-credentials')).toBeNull();
    }
    // The same headers as a routed request from that origin.
    const routed = await rawRequest(server.url, 'GET', '/health', { origin: 'http://app.example' });
    const bad = await rawRequest(server.url, 'GET', '/sess%ZZions', { origin: 'http://app.example' });
    for (const h of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers', 'vary']) expect(bad.headers.get(h), h).toBe(routed.headers.get(h));
    await server.close();
    server = undefined;
    // origins ['*']: any origin, as on routes.
    server = await startServer({ api: { cors: { origins: ['*'] } } });
    const any = await rawRequest(server.url, 'GET', '/sess%ZZions', { origin: 'http://anywhere.example' });
    expect(any.headers.get('access-control-allow-origin')).toBe('http://anywhere.example');
    expect(any.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('reads keys, port and auth mode from the environment and names a malformed LIMIT_API_KEYS', async () => {
    const { createRuntime } = await import('limit-graph');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'limit-api-env-'));
    const base = { storage: 'sqlite', dataDir, logLevel: 'silent' as const, plugins: { 'storage-sqlite': { path: ':memory:' }, governance: { packs: [] }, 'runner-python': {}, orchestrator: {}, 'api-http': { listen: true } } };
    const rt = await createRuntime({ config: base, env: { LIMIT_API_KEYS: 'env-key-0123456789abc:tenant-env, second-key-0123456789:t2/bob', LIMIT_PORT: '0', PORT: '1' } });
    try {
      const http = rt.resolve('http');
      expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(http.url).not.toMatch(/:1$/);
      const res = await fetch(`${http.url}/sessions`, { method: 'POST', headers: { 'x-api-key': 'second-key-0123456789' } });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { tenant: string }).tenant).toBe('t2');
    } finally {
      await rt.resolve('http').close();
      await rt.close();
    }
    const error = await createRuntime({ config: base, env: { LIMIT_API_KEYS: 'short:tenant' } }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(error, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect(String((error as Error).message)).toMatch(/LIMIT_API_KEYS › plugins\.api-http\.apiKeys: [Ee]ntry 1 /);
    // A key both in auth.keys and in LIMIT_API_KEYS: fine when they agree, refused when the names differ.
    const inConfig = (name: string) => ({ ...base, plugins: { ...base.plugins, 'api-http': { ...base.plugins['api-http'], auth: { keys: [{ key: KEYS.A, tenant: 't1', name }] } } } });
    const same = await createRuntime({ config: inConfig('alice'), env: { LIMIT_API_KEYS: `${KEYS.A}:t1/alice`, LIMIT_PORT: '0' } });
    await same.close();
    const renamed = await createRuntime({ config: inConfig('alice'), env: { LIMIT_API_KEYS: `${KEYS.A}:t1/bob`, LIMIT_PORT: '0' } }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(renamed, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    // Both entries are named, and the later one's origin (the variable) leads the message.
    expect(String((renamed as Error).message)).toMatch(/\n {2}LIMIT_API_KEYS › plugins\.api-http\.apiKeys: .*configured twice with two names \("alice" and "bob", at auth\.keys\.0 and apiKeys\)/);
    expect((renamed as LimitError).details?.issues).toEqual([expect.objectContaining({ path: 'plugins.api-http.apiKeys' })]);
    const twoTenants = { ...base, plugins: { ...base.plugins, 'api-http': { ...base.plugins['api-http'], auth: { keys: [{ key: KEYS.B, tenant: 't1' }, { key: KEYS.A, tenant: 't1' }, { key: KEYS.A, tenant: 't2' }] } } } };
    const shared = await createRuntime({ config: twoTenants, env: { LIMIT_PORT: '0' } }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(shared, 'LIMIT_PLUGIN_OPTIONS_INVALID')).toBe(true);
    expect(String((shared as Error).message)).toMatch(/\n {2}config › plugins\.api-http\.auth\.keys\.2: One API key is configured for two tenants \("t1" and "t2", at auth\.keys\.1 and auth\.keys\.2\)/);
    // A port is decimal digits: Number() read 0x1f90 and 8e3 as ports 8080 and 8000, ' 80' as 80.
    for (const port of ['0x1f90', '8e3', ' 80', '+80', '80.0']) {
      const bad = await createRuntime({ config: inConfig('alice'), env: { LIMIT_PORT: port } }).then(() => undefined, (e: unknown) => e);
      expect(isLimitError(bad, 'LIMIT_PLUGIN_OPTIONS_INVALID'), port).toBe(true);
      expect(String((bad as Error).message)).toContain(`plugins.api-http.port: Expected a whole number from 0 to 65535, in decimal digits (from environment variable LIMIT_PORT)`);
    }
    const noKeys = await createRuntime({ config: base, env: {} }).then(() => undefined, (e: unknown) => e);
    expect(isLimitError(noKeys, 'LIMIT_CONFIG_INVALID')).toBe(true);
    expect(String((noKeys as Error).message)).toMatch(/no API keys are configured/);
    const none = await createRuntime({ config: base, env: { LIMIT_AUTH_MODE: 'none', LIMIT_PORT: '0' } });
    try {
      expect((await fetch(`${none.resolve('http').url}/sessions`)).status).toBe(200);
    } finally {
      await none.resolve('http').close();
      await none.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('serves routes added through the httpRoutes hook, authenticated unless marked public, and documents them', async () => {
    server = await startServer({ extra: [routesPlugin] });
    expect((await server.req('GET', '/custom/slow', { key: null })).status).toBe(401);
    const slow = await server.req('GET', '/custom/slow', { key: KEYS.B });
    expect(slow.json).toEqual({ tenant: 'tenant-b', done: true });
    expect((await server.req('GET', '/custom/public', { key: null })).json).toEqual({ hello: 'world' });
    const doc = await server.req('GET', '/openapi.json');
    expect(doc.json.paths['/custom/slow'].get.tags).toEqual(['plugins']);
    // The document says which of them need a key: a public one has security: [] (as /health),
    // an authenticated one falls under the document-wide requirement.
    expect(doc.json.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.json.paths['/custom/public'].get.tags).toEqual(['plugins']);
    expect(doc.json.paths['/custom/public'].get.security).toEqual([]);
    expect(doc.json.paths['/custom/slow'].get).not.toHaveProperty('security');
    expect(doc.json.paths['/health'].get.security).toEqual([]);
  });

  it('maps LimitErrors to their status and hides the message of a server fault', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ extra: [routesPlugin], logger });
    const forbidden = await server.req('GET', '/custom/forbidden');
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toMatchObject({ code: 'LIMIT_FORBIDDEN', detail: 'Only auditors may read this', errors: [{ path: 'header.authorization' }] });
    const boom = await server.req('GET', '/custom/boom', { headers: { 'x-request-id': 'boom-1' } });
    expect(boom.status).toBe(500);
    expect(boom.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(boom.json).toMatchObject({ code: 'LIMIT_INTERNAL', requestId: 'boom-1' });
    expect(boom.text).not.toContain('/srv/secret');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === 'boom-1' && l.level === 50);
    expect(JSON.stringify(logged)).toContain('/srv/secret');
  });

  it('a handler that throws undefined, null, a string or a plain object (even one with a 4xx status) answers a logged 500 problem', async () => {
    const { logger, lines } = memoryLogger();
    server = await startServer({ extra: [routesPlugin], logger });
    const expected: Record<string, string> = {
      undefined: 'undefined (thrown instead of an Error)',
      null: 'null (thrown instead of an Error)',
      string: 'driver said no',
      'status-object': "{ status: 404, statusCode: 400, message: 'row missing in the driver' } (thrown instead of an Error)",
      'status-error': 'vendor said 401',
    };
    for (const [route, logged] of Object.entries(expected)) {
      const res = await server.req('GET', `/custom/${route}`, { headers: { 'x-request-id': `odd-${route}` } });
      expect(res.status, route).toBe(500);
      expect(res.headers.get('content-type'), route).toMatch(/^application\/problem\+json/);
      expect(res.json, route).toMatchObject({ code: 'LIMIT_INTERNAL', requestId: `odd-${route}`, status: 500 });
      expect(res.text, route).not.toContain('row missing');
      const line = lines.map((l) => JSON.parse(l) as { requestId?: string; level: number; msg: string; err?: { message: string } }).find((l) => l.requestId === `odd-${route}` && l.level === 50);
      expect(line?.msg, route).toBe('request failed');
      expect(line?.err?.message, route).toContain(logged);
    }
  });

  it("a runner's result that breaks the contract is a failed run of that runner (201, trace error), not a 500 or a 400 blaming the body", async () => {
    server = await startServer({ extra: [badResultRunner] });
    const session = await server.req('POST', '/sessions', { body: {} });
    for (const [input, field] of [['metrics', 'metrics.latencyMs: Too small'], ['shape', 'ok: Expected boolean, received undefined']] as const) {
      const res = await server.req('POST', `/sessions/${session.json.id}/runs`, { body: { runner: 'bad', task: { input } } });
      expect(res.status, input).toBe(201);
      expect(res.json.trace, input).toMatchObject({ status: 'error', runner: 'bad', output: { ok: false, error: { code: 'LIMIT_RUNNER_FAILED' } } });
      expect(res.json.trace.output.error.message, input).toContain(`Runner "bad" returned an invalid result: ${field}`);
    }
  });

  it('finishes in-flight requests on close, then refuses new connections', async () => {
    server = await startServer({ extra: [routesPlugin] });
    const url = server.url;
    const inFlight = server.req('GET', '/custom/slow');
    await new Promise((r) => setTimeout(r, 150));
    const closed = server.rt.resolve('http').close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.json.done).toBe(true);
    await closed;
    // Refused by the OS: nothing listens any more (not some other network failure).
    await expect(fetch(`${url}/health`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });
});
