/**
 * A fake Anthropic API on 127.0.0.1 that speaks the real wire format of POST /v1/messages (JSON,
 * and server-sent events message_start, content_block_start, ping, content_block_delta,
 * content_block_stop, message_delta, message_stop) and GET /v1/models.
 *
 * What it answers depends on the last user message, so that tests (and the conformance suite,
 * which only chooses prompts) can steer it:
 *   - `hang`        never answers (a hung connection);
 *   - `fail500`     500 with an Anthropic error body (and retry-after-ms: 5 so retries are quick);
 *   - `malformed`   200 whose JSON (or SSE event) is cut off;
 *   - `overloaded`  a stream that starts, then sends `event: error` (overloaded_error);
 *   - `echo-key`    401 whose error message repeats the credential it received;
 *   - anything else: `you said: <every user message of the conversation, joined by " | ">`.
 * `plan` holds scripted responses consumed one per request before the prompt rules apply.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ReceivedRequest {
  /** The credential as sent: `x-api-key`, or a bearer token (what @anthropic-ai/sdk 1.x sends). */
  key: string | undefined;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export interface PlannedResponse {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface FakeAnthropic {
  /** Base URL without /v1, as the SDK expects. */
  url: string;
  requests: ReceivedRequest[];
  plan: PlannedResponse[];
  /** Requests to POST /v1/messages only. */
  messages(): ReceivedRequest[];
  close(): Promise<void>;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const errorBody = (type: string, message: string) => ({ type: 'error', error: { type, message } });

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const requests: ReceivedRequest[] = [];
  const plan: PlannedResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const path = (req.url ?? '').split('?')[0]!;
      const key = (req.headers['x-api-key'] as string | undefined) ?? req.headers.authorization?.replace(/^Bearer /, '');
      requests.push({ key, method: req.method ?? '', path, headers: req.headers, body, at: performance.now() });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${requests.length}`, ...headers });
        res.end(JSON.stringify(value));
      };

      if (req.method === 'GET' && path === '/v1/models') {
        return json(200, { data: [{ type: 'model', id: 'fake-claude', display_name: 'Fake', created_at: '2025-01-01T00:00:00Z' }], has_more: false, first_id: 'fake-claude', last_id: 'fake-claude' });
      }
      if (req.method !== 'POST' || path !== '/v1/messages') return json(404, errorBody('not_found_error', `Unknown path ${path}`));
      const planned = plan.shift();
      if (planned) return json(planned.status, planned.body, planned.headers);

      const messages: { role: string; content: string }[] = body.messages ?? [];
      const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
      const last = users[users.length - 1] ?? '';
      if (last.includes('hang')) return; // keep the socket open, answer nothing
      if (last.includes('fail500')) return json(500, errorBody('api_error', 'Internal server error'), { 'retry-after-ms': '5' });
      if (last.includes('echo-key')) return json(401, errorBody('authentication_error', `invalid credential: ${key}`));

      const reply = `you said: ${users.join(' | ')}`;
      const inputTokens = messages.reduce((n, m) => n + words(m.content), 0) + (body.system ? words(body.system) : 0);
      const outputTokens = words(reply);
      const id = `msg_${requests.length}`;
      if (!body.stream) {
        if (last.includes('malformed')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"id":"msg_x","type":"message","content":[{"type":"text","text":"cut');
        }
        return json(200, {
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [{ type: 'text', text: reply }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('message_start', {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } },
      });
      send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      send('ping', { type: 'ping' });
      if (last.includes('malformed')) {
        res.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de\n\n');
        return res.end();
      }
      if (last.includes('overloaded')) {
        send('error', errorBody('overloaded_error', 'Overloaded'));
        return res.end();
      }
      for (const piece of reply.match(/.{1,7}/gs) ?? []) send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
      send('content_block_stop', { type: 'content_block_stop', index: 0 });
      send('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } });
      send('message_stop', { type: 'message_stop' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    plan,
    messages: () => requests.filter((r) => r.path === '/v1/messages'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
