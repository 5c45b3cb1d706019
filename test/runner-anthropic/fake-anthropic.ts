/**
 * A fake Anthropic API on 127.0.0.1 that speaks the real wire format of POST /v1/messages (JSON,
 * and server-sent events message_start, content_block_start, ping, content_block_delta,
 * content_block_stop, message_delta, message_stop), GET /v1/models (in pages of `limit`, 20 by
 * default: more than one model, so `limit=1` gives `has_more: true`) and GET /v1/models/{model_id}
 * ("Get a Model": a model of the list by its id, or the alias `fake-claude-latest`, which resolves to
 * `fake-claude`; 404 not_found_error for any other). MODELS and ALIASES say what it serves.
 *
 * What it answers depends on the last user message, so that tests (and the conformance suite,
 * which only chooses prompts) can steer it:
 *   - `hang`        never answers (a hung connection);
 *   - `fail500`     500 with an Anthropic error body (and retry-after-ms: 5 so retries are quick);
 *   - `malformed`   200 whose JSON (or SSE event) is cut off;
 *   - `overloaded`  a stream that starts, then sends `event: error` (overloaded_error);
 *   - `echo-key`    401 whose error message repeats the credential it received;
 *   - `say-key`     a normal (200) reply that repeats the credential it received;
 *   - `cut-short`   a stream that sends one text delta and ends: no message_delta, no message_stop;
 *   - `json-on-stream` a JSON message (application/json) although a stream was asked for;
 *   - `html`        200 text/html (a proxy's or captive portal's page);
 *   - `refuse`      no content, stop_reason `refusal`;
 *   - `tool-call`   a `get_weather` tool_use block and no text, stop_reason `tool_use`;
 *   - `empty`       no content, stop_reason `end_turn`;
 *   - `null-block`  the text, then a `null` content block (content[1]; in a stream, content_block_start index 1);
 *   - `null-event`, `null-message`, `null-delta`, `null-stop-delta` (streams): an event whose data is
 *     `null`, a message_start whose `message` is `null`, a content_block_delta whose `delta` is `null`,
 *     a message_delta whose `delta` is `null`, each where the stream would have the object;
 *   - `null-text`   (streams) a text_delta whose `text` is `null`;
 *   - anything else: `you said: <every user message of the conversation, joined by " | ">`.
 * `plan` holds scripted responses consumed one per request before the prompt rules apply. As the
 * real API does, a request is refused (400 invalid_request_error) before anything else when a
 * message other than a final assistant one has empty content.
 */
import { startFakeVendor, words, type FakeVendorServer, type ReceivedRequest } from '../helpers/fake-vendor.ts';

export type { PlannedResponse, ReceivedRequest } from '../helpers/fake-vendor.ts';

export interface FakeAnthropic extends Omit<FakeVendorServer, 'origin'> {
  /** Base URL without /v1, as the SDK expects. */
  url: string;
  /** Requests to POST /v1/messages only. */
  messages(): ReceivedRequest[];
}

const errorBody = (type: string, message: string) => ({ type: 'error', error: { type, message } });

/** The models the fake serves, newest first, as the Models API lists them. */
export const MODELS = [
  { type: 'model', id: 'fake-claude', display_name: 'Fake', created_at: '2025-01-01T00:00:00Z' },
  { type: 'model', id: 'fake-claude-haiku', display_name: 'Fake Haiku', created_at: '2024-06-01T00:00:00Z' },
];
/** Aliases GET /v1/models/{model_id} resolves; the list never names them (as the real API). */
export const ALIASES: Record<string, string> = { 'fake-claude-latest': 'fake-claude' };

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const server = await startFakeVendor({
    jsonHeaders: (count) => ({ 'request-id': `req_${count}` }),
    handle({ request, res, json, playPlanned }) {
      const { path, body, key } = request;
      if (request.method === 'GET' && path === '/v1/models') {
        const limit = Number(request.query.get('limit') ?? 20);
        const data = MODELS.slice(0, limit);
        return json(200, { data, has_more: MODELS.length > limit, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
      }
      const lookup = request.method === 'GET' ? /^\/v1\/models\/([^/]+)$/.exec(path) : null;
      if (lookup) {
        const asked = decodeURIComponent(lookup[1]!);
        const model = MODELS.find((m) => m.id === (ALIASES[asked] ?? asked));
        return model ? json(200, model) : json(404, errorBody('not_found_error', `model: ${asked}`));
      }
      if (request.method !== 'POST' || path !== '/v1/messages') return json(404, errorBody('not_found_error', `Unknown path ${path}`));
      const messages: { role: string; content: string }[] = body.messages ?? [];
      const empty = messages.findIndex((m, i) => (m.content === '' || (Array.isArray(m.content) && m.content.length === 0)) && !(i === messages.length - 1 && m.role === 'assistant'));
      if (empty >= 0) {
        return json(400, errorBody('invalid_request_error', `messages.${empty}: all messages must have non-empty content except for the optional final assistant message`));
      }
      if (playPlanned()) return;

      const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
      const last = users[users.length - 1] ?? '';
      if (last.includes('hang')) return; // keep the socket open, answer nothing
      if (last.includes('fail500')) return json(500, errorBody('api_error', 'Internal server error'), { 'retry-after-ms': '5' });
      if (last.includes('echo-key')) return json(401, errorBody('authentication_error', `invalid credential: ${key}`));

      if (last.includes('html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body>captive portal</body></html>');
      }
      const reply = last.includes('say-key') ? `your key is ${key}` : `you said: ${users.join(' | ')}`;
      const inputTokens = messages.reduce((n, m) => n + words(m.content), 0) + (body.system ? words(body.system) : 0);
      const outputTokens = words(reply);
      const id = `msg_${server.requests.length}`;
      const toolUse = { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } };
      if (!body.stream || last.includes('json-on-stream')) {
        if (last.includes('malformed')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"id":"msg_x","type":"message","content":[{"type":"text","text":"cut');
        }
        return json(200, {
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: last.includes('tool-call') ? [toolUse] : last.includes('refuse') || last.includes('empty') ? [] : [{ type: 'text', text: reply }, ...(last.includes('null-block') ? [null] : [])],
          stop_reason: last.includes('tool-call') ? 'tool_use' : last.includes('refuse') ? 'refusal' : 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('message_start', {
        type: 'message_start',
        message: last.includes('null-message') ? null : { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } },
      });
      if (last.includes('null-event')) send('content_block_delta', null);
      const end = (stopReason: string) => {
        send('message_delta', { type: 'message_delta', delta: last.includes('null-stop-delta') ? null : { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: stopReason === 'end_turn' ? outputTokens : 0 } });
        send('message_stop', { type: 'message_stop' });
        res.end();
      };
      if (last.includes('refuse') || last.includes('empty')) return end(last.includes('refuse') ? 'refusal' : 'end_turn');
      if (last.includes('tool-call')) {
        send('content_block_start', { type: 'content_block_start', index: 0, content_block: { ...toolUse, input: {} } });
        send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(toolUse.input) } });
        send('content_block_stop', { type: 'content_block_stop', index: 0 });
        return end('tool_use');
      }
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
      if (last.includes('cut-short')) {
        send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial ans' } });
        return res.end();
      }
      for (const piece of reply.match(/.{1,7}/gs) ?? []) send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
      if (last.includes('null-delta')) send('content_block_delta', { type: 'content_block_delta', index: 0, delta: null });
      if (last.includes('null-text')) send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: null } });
      send('content_block_stop', { type: 'content_block_stop', index: 0 });
      if (last.includes('null-block')) send('content_block_start', { type: 'content_block_start', index: 1, content_block: null });
      end('end_turn');
    },
  });
  return {
    url: server.origin,
    requests: server.requests,
    plan: server.plan,
    messages: () => server.requests.filter((r) => r.path === '/v1/messages'),
    close: server.close,
  };
}
