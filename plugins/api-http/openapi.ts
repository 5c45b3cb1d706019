/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests
 * (`z.toJSONSchema`), and a self-contained HTML page that renders it (no CDN, no script).
 */
import { z } from 'limit-graph';
import type { RouteSpec } from './glue.ts';
import { ERROR_PATHS, problemCatalogue } from './problem.ts';

export interface ExtraRoute {
  method: string;
  url: string;
  /** Registered with `config: { public: true }`: served without a key, so listed with `security: []`. */
  public?: boolean;
}

const json = (schema: z.ZodType, io: 'input' | 'output') => {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
};

const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const js = json(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s,
  }));
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid input (the `errors` array names each field)', 401: 'Missing, malformed or unknown API key (errors[0].path names the header)', 403: 'Refused by policy',
  404: 'Not found (records of other tenants are invisible)', 409: 'Conflict with the current state', 413: 'Body too large',
  415: 'Body is not application/json, its charset is not UTF-8, or it has a Content-Encoding (errors[0].path: header.content-type or header.content-encoding)', 422: 'Valid JSON that cannot be processed', 429: 'Rate limit exceeded (see Retry-After)',
  503: 'A dependency (plugin, storage, runner) is unavailable, or the server is shutting down (LIMIT_RUNTIME_CLOSED: the request was not processed)',
};

/** Response headers, declared once (components.headers) and referenced by each response that carries them. */
const HEADERS = {
  RequestId: { description: 'The request id (the one the client sent as x-request-id when it is 1–128 of A–Z a–z 0–9 . _ : -, else a fresh UUID); problem documents repeat it as `requestId`.', required: true, schema: { type: 'string' } },
  RateLimitLimit: { description: 'With rateLimit on: the requests a client (an API key, else an IP) may send per window.', schema: { type: 'integer' } },
  RateLimitRemaining: { description: 'With rateLimit on: the requests left in the current window.', schema: { type: 'integer' } },
  RateLimitReset: { description: 'With rateLimit on: seconds until the window ends.', schema: { type: 'integer' } },
  RetryAfter429: { description: 'Seconds to wait before retrying: sent with LIMIT_RATE_LIMITED (the rate limit); not with LIMIT_SESSION_BUSY (a full wait queue).', schema: { type: 'integer', minimum: 0 } },
  RetryAfter503: { description: 'Seconds to wait before retrying (5): sent only with LIMIT_RUNTIME_CLOSED (the server is shutting down; retry once it is back, or at another instance); the other 503s (LIMIT_SERVICE_NOT_FOUND, LIMIT_STORAGE_UNAVAILABLE, LIMIT_RD_BUSY) carry none.', schema: { type: 'integer', minimum: 0 } },
  WWWAuthenticate: { description: 'The authentication challenge (RFC 9110 §11.6.1): `Bearer realm="limit-graph"`.', required: true, schema: { type: 'string' } },
  Allow: { description: "The path's methods (HEAD wherever GET is), e.g. `GET, HEAD, POST`.", required: true, schema: { type: 'string' } },
} as const;
const ref = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** The headers a response of `status` carries: x-request-id always; the rate-limit ones but on probes; Retry-After, WWW-Authenticate by status. */
function responseHeaders(status: number, probe: boolean): Record<string, unknown> {
  return {
    'x-request-id': ref('RequestId'),
    ...(probe ? {} : { 'x-ratelimit-limit': ref('RateLimitLimit'), 'x-ratelimit-remaining': ref('RateLimitRemaining'), 'x-ratelimit-reset': ref('RateLimitReset') }),
    ...(status === 429 ? { 'retry-after': ref('RetryAfter429') } : {}),
    ...(status === 503 ? { 'retry-after': ref('RetryAfter503') } : {}),
    ...(status === 401 ? { 'www-authenticate': ref('WWWAuthenticate') } : {}),
  };
}

export function buildOpenApi(routes: readonly RouteSpec[], extra: readonly ExtraRoute[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: {
        description: r.responses.description,
        headers: responseHeaders(r.status ?? 200, r.probe === true),
        ...(r.responses.schema ? { content: { 'application/json': { schema: json(r.responses.schema, 'output') } } } : {}),
      },
    };
    // Every route: 400, 413 and 415 (what the server checks before any route's own code), 429 (the
    // rate limit, but for the probes) and 503 (any request received once shutdown has begun).
    for (const status of new Set([...(r.responses.errors ?? []), ...(r.public ? [] : [401]), 400, 413, 415, 429, 503])) {
      if (r.method === 'GET' && (status === 413 || status === 415)) continue;
      if (r.probe && status === 429) continue;
      responses[String(status)] = {
        description: r.responses.errorText?.[status] ?? STATUS_TEXT[status] ?? 'Error',
        headers: responseHeaders(status, r.probe === true),
        content: {
          ...(r.responses.errorSchema?.[status] ? { 'application/json': { schema: json(r.responses.errorSchema[status], 'output') } } : {}),
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      };
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${openapiPath(r.url).replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '')}`,
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: !r.bodyOptional, content: { 'application/json': { schema: json(r.body, 'input') } } } } : {}),
      responses,
      ...(r.public ? { security: [] } : {}),
    };
    (paths[openapiPath(r.url)] ??= {})[r.method.toLowerCase()] = op;
  }
  for (const e of extra) {
    const p = openapiPath(e.url);
    const m = e.method.toLowerCase();
    if (paths[p]?.[m]) continue;
    (paths[p] ??= {})[m] = {
      summary: 'Route added by a plugin (httpRoutes hook)', tags: ['plugins'], responses: { default: { description: 'See the plugin README.' } },
      ...(e.public ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'LIMIT-Graph HTTP API', version: info.version, description: 'Sessions, governed runs, traces with provenance, governance, merges, rate–distortion and artifact export. Errors are RFC 9457 problem documents.' },
    paths,
    components: {
      headers: HEADERS,
      // Answered on any path for a method it does not take; not listed per operation (an operation is
      // one of the path's methods), declared here with its Allow header.
      responses: {
        MethodNotAllowed: {
          description: 'A method the path does not take (LIMIT_METHOD_NOT_ALLOWED): the Allow header lists the methods it takes.',
          headers: { allow: ref('Allow'), 'x-request-id': ref('RequestId') },
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'instance', 'code', 'errors'],
          properties: {
            type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
            instance: { type: 'string' }, code: { type: 'string', enum: problemCatalogue().map((p) => p.code) },
            errors: {
              type: 'array',
              items: {
                type: 'object', required: ['path', 'message'],
                properties: {
                  path: { type: 'string', description: `Where the request is at fault: ${ERROR_PATHS.map((e) => `\`${e.path}\` (${e.when})`).join('; ')}.` },
                  message: { type: 'string' },
                },
              },
            },
            requestId: { type: 'string' }, fix: { type: 'string' }, details: { type: 'object' },
          },
        },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A plain HTML rendering of the document: every route with its parameters and schemas. */
export function renderDocs(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const sections: string[] = [];
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const pre = (label: string, v: unknown) => `<details><summary>${esc(label)}</summary><pre>${esc(JSON.stringify(v, null, 2))}</pre></details>`;
      const params = (op.parameters as unknown[] | undefined) ?? [];
      const body = (op.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content['application/json']?.schema;
      const responses = op.responses as Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
      sections.push(`<section id="${esc(`${method}-${path}`)}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code>${op.security ? ' <small>(no key needed)</small>' : ''}</h3>
<p>${esc(String(op.summary ?? ''))}</p>
${params.length ? pre('parameters', params) : ''}${body ? pre('request body', body) : ''}
<ul>${Object.entries(responses).map(([status, r]) => `<li><b>${esc(status)}</b> ${esc(r.description)}${r.content?.['application/json'] ? ` ${pre('schema', r.content['application/json'].schema)}` : ''}</li>`).join('')}</ul>
</section>`);
    }
  }
  const codes = problemCatalogue().map((p) => `<tr id="${esc(p.code)}"><td><code>${esc(p.code)}</code></td><td>${p.status}</td><td>${esc(p.message)}</td><td>${esc(p.fix)}</td></tr>`).join('\n');
  const info = doc.info as { title: string; version: string; description: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}code,pre{font:13px ui-monospace,monospace}pre{background:#f6f6f6;padding:.6em;overflow:auto}.m{display:inline-block;min-width:4em;font-weight:700}.get{color:#06c}.post{color:#080}section{border-top:1px solid #ddd}table{border-collapse:collapse}td{border-top:1px solid #eee;padding:.3em .6em;vertical-align:top}</style>
</head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key: &lt;key&gt;</code>.</p>
<h2>Routes</h2>
${sections.join('\n')}
<h2 id="problems">Problem codes</h2>
<p>Errors are <code>application/problem+json</code> (RFC 9457): <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, <code>instance</code>, <code>code</code>, <code>errors: [{ path, message }]</code>, <code>requestId</code> and <code>fix</code> (what to do about it; the table below).</p>
<table><tr><th>code</th><th>status</th><th>meaning</th><th>fix</th></tr>
${codes}
</table>
</body></html>`;
}
