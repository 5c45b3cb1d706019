/**
 * A fake OpenAI API on 127.0.0.1 that speaks the real wire format of POST /v1/chat/completions
 * (JSON, and server-sent events with `data:` chunks, a usage chunk when
 * stream_options.include_usage is set, and `data: [DONE]`) and GET /v1/models.
 *
 * What it answers depends on the last user message, so that tests (and the conformance suite,
 * which only chooses prompts) can steer it:
 *   - `hang`      never answers (a hung connection);
 *   - `fail500`   500 with an OpenAI error body (and retry-after-ms: 5 so retries are quick);
 *   - `malformed` 200 whose JSON (or SSE chunk) is cut off;
 *   - `echo-key`  401 whose error message repeats the Authorization header it received;
 *   - `say-key`   a normal (200) reply that repeats the Authorization header it received;
 *   - `cut-short` a stream that sends one delta and ends: no finish_reason, no [DONE];
 *   - `stream-error` a stream that sends one delta, then a chunk `{"error": …}` (server_error);
 *   - `json-on-stream` a JSON completion (application/json) although a stream was asked for;
 *   - `html`      200 text/html (a proxy's or captive portal's page);
 *   - `refuse`    a refusal: `message.refusal` (JSON) or `delta.refusal` chunks (stream), no content;
 *   - `tool-call` a `get_weather` tool call and no content, finish_reason `tool_calls`;
 *   - `empty`     an empty reply (content ""), finish_reason `stop`;
 *   - `no-choices` a completion whose `choices` is empty (JSON), a stream with only the usage chunk;
 *   - `no-finish` a completion whose choice has no finish_reason (JSON);
 *   - anything else: `you said: <every user message of the conversation, joined by " | ">`.
 * `plan` holds scripted responses consumed one per request before the prompt rules apply.
 */
import { startFakeVendor, words, type FakeVendorServer, type ReceivedRequest } from '../helpers/fake-vendor.ts';

export type { PlannedResponse, ReceivedRequest } from '../helpers/fake-vendor.ts';

export interface FakeOpenAI extends Omit<FakeVendorServer, 'origin'> {
  /** Base URL including /v1, as the SDK expects. */
  url: string;
  /** Requests to chat completions only. */
  completions(): ReceivedRequest[];
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const server = await startFakeVendor({
    handle({ request, res, json, playPlanned }) {
      const { path, body } = request;
      if (request.method === 'GET' && path === '/v1/models') {
        return json(200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'test' }] });
      }
      if (request.method !== 'POST' || path !== '/v1/chat/completions') {
        return json(404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error', param: null, code: null } });
      }
      if (playPlanned()) return;

      const messages: { role: string; content: string }[] = body.messages ?? [];
      const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
      const last = users[users.length - 1] ?? '';
      if (last.includes('hang')) return; // keep the socket open, answer nothing
      if (last.includes('fail500')) {
        return json(500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } }, { 'retry-after-ms': '5' });
      }
      if (last.includes('echo-key')) {
        return json(401, { error: { message: `Incorrect API key provided: ${request.headers.authorization}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      }
      if (last.includes('html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body>captive portal</body></html>');
      }
      const reply = last.includes('say-key') ? `your key is ${request.headers.authorization}` : `you said: ${users.join(' | ')}`;
      const usage = { prompt_tokens: messages.reduce((n, m) => n + words(m.content), 0), completion_tokens: words(reply) };
      const id = `chatcmpl-${server.requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      const refusal = 'I cannot help with that.';
      const toolCall = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
      if (!body.stream || last.includes('json-on-stream')) {
        if (last.includes('malformed')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis');
        }
        const message = last.includes('refuse')
          ? { role: 'assistant', content: null, refusal }
          : last.includes('tool-call')
            ? { role: 'assistant', content: null, refusal: null, tool_calls: [toolCall] }
            : { role: 'assistant', content: last.includes('empty') ? '' : reply, refusal: null };
        const finish = last.includes('tool-call') ? 'tool_calls' : last.includes('no-finish') ? null : 'stop';
        return json(200, {
          id,
          object: 'chat.completion',
          created,
          model: body.model,
          choices: last.includes('no-choices') ? [] : [{ index: 0, message, logprobs: null, finish_reason: finish }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`);
      const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(body.stream_options?.include_usage ? { usage: null } : {}),
      });
      send(chunk({ role: 'assistant', content: '' }, null));
      if (last.includes('malformed')) {
        res.write('data: {"id":"chatcmpl-x","choices":[{"delta":{"content":"cut\n\n');
        return res.end();
      }
      if (last.includes('stream-error')) {
        send(chunk({ content: 'partial ans' }, null));
        send({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
        return res.end();
      }
      if (last.includes('cut-short')) {
        send(chunk({ content: 'partial ans' }, null));
        return res.end();
      }
      if (last.includes('refuse')) {
        for (const piece of refusal.match(/.{1,7}/gs) ?? []) send(chunk({ refusal: piece }, null));
        send(chunk({}, 'stop'));
      } else if (last.includes('tool-call')) {
        // The name in the first chunk of the call, its arguments in pieces after it.
        send(chunk({ tool_calls: [{ index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } }] }, null));
        for (const piece of toolCall.function.arguments.match(/.{1,7}/gs) ?? []) send(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
        send(chunk({}, 'tool_calls'));
      } else if (last.includes('empty')) {
        send(chunk({}, 'stop'));
      } else if (!last.includes('no-choices')) {
        // Several deltas, so that the runner must accumulate them.
        for (const piece of reply.match(/.{1,7}/gs) ?? []) send(chunk({ content: piece }, null));
        send(chunk({}, 'stop'));
      }
      if (body.stream_options?.include_usage) {
        send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
      }
      res.write('data: [DONE]\n\n');
      res.end();
    },
  });
  return {
    url: `${server.origin}/v1`,
    requests: server.requests,
    plan: server.plan,
    completions: () => server.requests.filter((r) => r.path === '/v1/chat/completions'),
    close: server.close,
  };
}
