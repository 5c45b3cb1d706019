/**
 * Requests Node's HTTP parser refuses before Fastify routes them (the `clientError` event) are
 * answered like every other error: an RFC 9457 problem document, an x-request-id, `Connection: close`
 * — 414 for a request target over the limit, 431 for headers over it, 400 for malformed HTTP — and
 * nothing is written to a socket that cannot take it. Over a real listening server and raw sockets.
 */
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientErrorAnswer, handleClientError, refusedRequestLine } from '../../plugins/api-http/client-error.ts';
import { memoryLogger, startServer, type Server } from './harness.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  json: Record<string, unknown> | undefined;
  text: string;
}

/** Sends bytes on a fresh connection (in the given pieces) and reads until the server closes it. */
function sendRaw(base: string, pieces: (string | Buffer)[]): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, async () => {
      for (const piece of pieces) {
        if (socket.destroyed) break;
        socket.write(piece);
        await new Promise((r) => setTimeout(r, 25));
      }
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset after the answer is expected: the server destroys the socket
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = text.slice(split + 4);
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, json, text });
    });
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('api-http: errors raised before routing (clientError) are problem documents', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  function expectProblem(res: RawAnswer, status: number, path: string) {
    expect(res.status, res.text.slice(0, 400)).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.headers['connection']).toBe('close');
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)));
    expect(res.json).toMatchObject({ type: '/docs#LIMIT_VALIDATION', status, code: 'LIMIT_VALIDATION', requestId: res.headers['x-request-id'] });
    expect(typeof res.json!.detail).toBe('string');
    expect(typeof res.json!.fix).toBe('string');
    expect((res.json!.errors as { path: string }[]).map((e) => e.path)).toEqual([path]);
  }

  it('a request target over the limit → 414 URI Too Long (errors[0].path = path)', async () => {
    const res = await sendRaw(s.url, [`GET /sessions/${'a'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expectProblem(res, 414, 'path');
    expect(res.json!.title).toBe('URI Too Long');
  });

  it('a long target sent in pieces is still a 414', async () => {
    const line = `GET /traces?q=${'b'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    expectProblem(await sendRaw(s.url, [line.slice(0, 6_000), line.slice(6_000, 12_000), line.slice(12_000)]), 414, 'path');
  });

  it('headers over the limit → 431 (one long header, or many)', async () => {
    expectProblem(await sendRaw(s.url, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'c'.repeat(17_000)}\r\n\r\n`]), 431, 'header');
    expectProblem(await sendRaw(s.url, [`GET /health HTTP/1.1\r\nHost: x\r\n${'X-Many: dddddddddddddddddddddddd\r\n'.repeat(1_000)}\r\n`]), 431, 'header');
    const res = await sendRaw(s.url, [`GET /health HTTP/1.1\r\nHost: x\r\nX-${'e'.repeat(17_000)}: 1\r\n\r\n`]);
    expectProblem(res, 431, 'header');
    expect(res.json!.title).toBe('Request Header Fields Too Large');
  });

  it('malformed HTTP → 400 naming the parser error', async () => {
    const res = await sendRaw(s.url, ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n']);
    expectProblem(res, 400, 'request');
    expect(res.json!.detail).toBe('Malformed HTTP request: Invalid header token');
  });

  it('the server keeps answering afterwards', async () => {
    expect((await s.req('GET', '/health')).status).toBe(200);
  });

  it('writes nothing to a socket that is destroyed, ended, or in the middle of a response', () => {
    const log = { debug: () => {}, info: () => expect.fail('nothing answered: no request line') };
    const overflow = Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW', reason: 'Header overflow' });

    const destroyed = new PassThrough();
    destroyed.destroy();
    const written: string[] = [];
    destroyed.write = (chunk: unknown) => (written.push(String(chunk)), true);
    handleClientError.call({ log }, overflow, destroyed, true);
    expect(written).toEqual([]);

    // ended: no longer writable; a write would raise ERR_STREAM_WRITE_AFTER_END
    const sink: Buffer[] = [];
    const ended = new Writable({ write: (c, _e, cb) => (sink.push(c), cb()) });
    ended.on('error', () => {});
    ended.end();
    handleClientError.call({ log }, overflow, ended, true);
    expect(ended.destroyed).toBe(true);
    expect(sink).toEqual([]);

    // a response already started on the socket: its bytes must not be corrupted
    const busy = Object.assign(new Writable({ write: (c, _e, cb) => (sink.push(c), cb()) }), { _httpMessage: { headersSent: true } });
    busy.on('error', () => {});
    handleClientError.call({ log }, overflow, busy, true);
    expect(busy.destroyed).toBe(true);
    expect(sink).toEqual([]);

    // a reset: nothing to do
    const reset = new Writable({ write: (c, _e, cb) => (sink.push(c), cb()) });
    handleClientError.call({ log }, Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), reset, true);
    expect(sink).toEqual([]);
  });

  it('tells a long request line from long headers whatever the chunking', () => {
    const err = (raw: string, at: number) => Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW', reason: 'Header overflow', rawPacket: Buffer.from(raw), bytesParsed: at });
    // the chunk ends inside the request line it starts
    expect(clientErrorAnswer(err(`GET /${'a'.repeat(20_000)}`, 20_005)).status).toBe(414);
    // a later chunk of the target, stopped at the space after it
    expect(clientErrorAnswer(err(`${'a'.repeat(5_000)} HTTP/1.1\r\n`, 5_000)).status).toBe(414);
    // a later chunk of a header value, stopped at its line end or at the chunk's end
    expect(clientErrorAnswer(err(`${'a'.repeat(5_000)}\r\n\r\n`, 5_001)).status).toBe(431);
    expect(clientErrorAnswer(err('a'.repeat(5_000), 5_000)).status).toBe(431);
    // a header name, stopped after its colon
    expect(clientErrorAnswer(err(`${'a'.repeat(5_000)}: 1\r\n`, 5_001)).status).toBe(431);
    // no chunk to look at: the header block
    expect(clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW' })).status).toBe(431);
  });
});

describe('api-http: requests refused before routing get their request log line (logRequests)', () => {
  const SECRET = 'qs-secret-0123456789abcdef';

  it('one info line per refused request: request id, status, method and path where the request line was read (redacted), never headers, no ms', async () => {
    const { logger, lines } = memoryLogger();
    const s = await startServer({ logger });
    try {
      const big = 'c'.repeat(17_000);
      const answers = [
        await sendRaw(s.url, [`GET /sessions?limit=2&api_key=${SECRET} HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`]),
        await sendRaw(s.url, [`GET /sessions/${'a'.repeat(17_000)}?token=${SECRET} HTTP/1.1\r\nHost: x\r\n\r\n`]),
        await sendRaw(s.url, [`POST /traces?token=${SECRET} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\nBad Header\r\n\r\n`]),
        await sendRaw(s.url, ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n']),
      ];
      expect(answers.map((a) => a.status)).toEqual([431, 414, 400, 400]);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
      expect(requests).toHaveLength(4);
      const byId = (a: RawAnswer) => requests.find((r) => r.requestId === a.headers['x-request-id']);
      expect(byId(answers[0]!)).toEqual(expect.objectContaining({ level: 30, method: 'GET', path: '/sessions?limit=2&api_key=[redacted]', status: 431 }));
      // The target over the limit was not read whole: no path (its method was read).
      expect(byId(answers[1]!)).toEqual(expect.objectContaining({ level: 30, method: 'GET', status: 414 }));
      expect(byId(answers[1]!)).not.toHaveProperty('path');
      expect(byId(answers[2]!)).toEqual(expect.objectContaining({ level: 30, method: 'POST', path: '/traces?token=[redacted]', status: 400 }));
      // Not HTTP at all: neither method nor path.
      expect(byId(answers[3]!)).toEqual(expect.objectContaining({ level: 30, status: 400 }));
      expect(byId(answers[3]!)).not.toHaveProperty('method');
      for (const r of requests) expect(r).not.toHaveProperty('ms');
      const all = lines.join('\n');
      expect(all).not.toContain(SECRET);
      expect(all).not.toContain('c'.repeat(100));
    } finally {
      await s.close();
    }
  });

  it('reads the method and path only from a chunk that starts with a request line', () => {
    const at = (raw: string) => refusedRequestLine(Object.assign(new Error('x'), { rawPacket: Buffer.from(raw, 'latin1') }));
    expect(at('DELETE /sessions/1?password=p HTTP/1.1\r\nHost: x\r\n')).toEqual({ method: 'DELETE', path: '/sessions/1?password=[redacted]' });
    expect(at(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\n`)).toEqual({ method: 'GET' });
    // a later piece of the request: a header value with spaces, a header line
    expect(at('ddd eee HTTP/1.1\r\n')).toEqual({});
    expect(at('Value /x HTTP/1.1\r\n')).toEqual({});
    expect(at('X-Many: d\r\n')).toEqual({});
    expect(refusedRequestLine(new Error('no chunk'))).toEqual({});
  });

  it('writes none with logRequests: false', async () => {
    const { logger, lines } = memoryLogger();
    const s = await startServer({ logger, api: { logRequests: false } });
    try {
      expect((await sendRaw(s.url, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'c'.repeat(17_000)}\r\n\r\n`])).status).toBe(431);
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request')).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
