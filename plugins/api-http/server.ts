/**
 * Builds the Fastify application: request ids, authentication, rate limiting, CORS, the shape
 * guard, the routes, problem+json errors, request logs, the OpenAPI document and the docs page.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import { LimitError, durationMs, redactQuery, type LimitHooks, type Logger } from 'limit-graph';
import type { ApiHttpOptions } from './options.ts';
import { lookup, presentedCredentials, presentedKey, keyId, type KeyRing } from './auth.ts';
import { checkJsonShape, defineRoute, registerRoute, type RouteRegistry } from './glue.ts';
import { ApiProblem, PROBLEM_CONTENT_TYPE, problemType, sendProblem } from './problem.ts';
import { parseJsonBody } from './json.ts';
import { handleClientError } from './client-error.ts';
import { boundedRateStore } from './rate-store.ts';
import { buildRoutes, type Services } from './routes.ts';
import { buildOpenApi, renderDocs, type ExtraRoute } from './openapi.ts';

export interface BuildAppInput {
  options: ApiHttpOptions;
  /** PEM certificate and key read from options.tls: the server speaks HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  ring: KeyRing;
  services: Services;
  logger: Logger;
  hooks: LimitHooks;
  /** config.tenant: the tenant of every request in `auth: none` mode. */
  tenant: string;
  /**
   * Set by close(): a request received from then on is answered 503 (problem+json) unprocessed, and
   * responses carry `Connection: close` so kept-alive sockets do not hold shutdown up.
   */
  draining: { value: boolean };
}

/** The answer to a request received once shutdown has begun: 503, nothing of it processed. */
const SHUTTING_DOWN = new LimitError('LIMIT_RUNTIME_CLOSED', 'The server is shutting down: this request was not processed', {
  fix: 'Send it again once the server is back, or to another instance: nothing of it was applied.',
});

/** Whether a request's framing announces a body (chunked, or a Content-Length above 0). */
function declaresBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || Number(length ?? 0) > 0;
}

/**
 * The 415 for a body whose media type the server does not read (anything but application/json),
 * naming the type received (Fastify's own says only "Unsupported Media Type").
 */
function unsupportedMediaType(request: FastifyRequest): ApiProblem {
  const type = request.raw.headers['content-type'];
  const shown = type === undefined ? undefined : JSON.stringify(type.slice(0, 200));
  return new ApiProblem(415, 'LIMIT_UNSUPPORTED_MEDIA_TYPE',
    shown === undefined ? 'The body has no Content-Type: bodies are read as application/json only' : `Content-Type ${shown} is not supported: bodies are read as application/json only`,
    [{ path: 'header.content-type', message: shown === undefined ? 'missing (a body was sent)' : `unsupported media type ${shown}` }], {},
    'Send the body as JSON with Content-Type: application/json (or send no body where the route takes none).');
}

/** The charset parameter of a Content-Type (quoted or not). */
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/** Request ids a client may choose: short and log-safe; anything else gets a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
  }
}

/**
 * The one log line per request (logRequests). Headers are never logged: they carry the key. The
 * principal's actor names the key holder. A key sent in the query string (?api_key=…, ?token=…) is
 * redacted from the logged path.
 */
function logRequest(request: FastifyRequest, reply: FastifyReply, elapsedMs = reply.elapsedTime): void {
  request.log.info(
    { method: request.method, path: redactQuery(request.url), status: reply.statusCode, ms: Math.round(elapsedMs * 100) / 100, actor: request.principal?.actor, tenant: request.principal?.tenant },
    'request',
  );
}

/**
 * The methods each request path is served with, from the registered routes (`:param` matches one
 * segment, `*` the rest), HEAD added wherever GET is (Fastify's exposeHeadRoutes).
 */
function methodsByPath(routes: readonly ExtraRoute[]): (path: string) => string[] {
  const patterns = routes.map((r) => ({
    method: r.method,
    pattern: new RegExp(`^${r.url.split(/(:[A-Za-z0-9_]+|\*)/).map((part) =>
      part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('')}$`),
  }));
  return (path) => {
    const methods = new Set(patterns.filter((p) => p.pattern.test(path)).map((p) => p.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

export async function buildApp(input: BuildAppInput): Promise<{ app: FastifyInstance; routes: RouteRegistry }> {
  const { options, ring, services, tenant } = input;
  // @fastify/cors's options (registered below), also read by corsHeaders for the errors its hook never sees.
  const corsOptions = options.cors === false ? undefined : {
    origin: options.cors.origins.includes('*') ? (true as const) : options.cors.origins,
    credentials: options.cors.credentials,
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'x-api-key', 'content-type', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    maxAge: 600,
  };
  /**
   * The CORS headers @fastify/cors's onRequest hook sets on a response (not a preflight) to an allowed
   * origin, for the errors Fastify answers before any hook runs (frameworkErrors): without them a page
   * allowed by cors could not read its 400 or 414 (only a network error). An origin not allowed gets
   * only `Vary: Origin`, as from the plugin (whose credentials and exposed headers mean nothing there).
   */
  const corsHeaders = (request: FastifyRequest, reply: FastifyReply): void => {
    if (!corsOptions) return;
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (!origin || (corsOptions.origin !== true && !corsOptions.origin.includes(origin))) return;
    reply.header('access-control-allow-origin', origin);
    if (corsOptions.credentials) reply.header('access-control-allow-credentials', 'true');
    reply.header('access-control-expose-headers', corsOptions.exposedHeaders.join(', '));
  };
  const app = Fastify({
    ...(input.tls ? { https: input.tls } : {}),
    loggerInstance: input.logger,
    // Fastify's own two lines per request are replaced by one onResponse line (below).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: options.bodyLimit,
    // A hop count is valid at run time (proxy-addr) though Fastify's overloads omit it.
    trustProxy: options.trustProxy as boolean | string | string[],
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // In-flight requests finish on close; idle keep-alive sockets are closed so close() returns.
    forceCloseConnections: 'idle',
    // Requests arriving during shutdown are answered by the onRequest hook below (a problem
    // document, as every error here), from the moment close() begins, not Fastify's bare JSON 503.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    // Errors raised before routing (a malformed percent escape, a path parameter over maxParamLength)
    // get a problem document too, with the CORS headers of an allowed origin (no hook runs for them),
    // and their request log line (nor does onResponse). Fastify's message quotes the whole URL: a
    // secret query parameter is redacted from it, as from the logged path. Fastify starts a request's
    // clock (reply.elapsedTime) once it is routed, so never for these (it reads 0): they are timed
    // here, from the router's answer as routed requests are, to the response's end.
    frameworkErrors: (error, request, reply) => {
      const start = performance.now();
      const redacted = error.code === 'FST_ERR_BAD_URL'
        ? Object.assign(new Error(`'${redactQuery(request.url)}' is not a valid url component`), { code: error.code })
        : error;
      corsHeaders(request, reply);
      if (options.logRequests) reply.raw.once('close', () => logRequest(request, reply, performance.now() - start));
      void sendProblem(request, reply, redacted);
    },
    // So do requests Node's parser refuses before routing (request line or headers over 16 KiB,
    // malformed HTTP): client-error.ts writes the problem document on the socket.
    clientErrorHandler: (error, socket) => handleClientError.call({ log: input.logger }, error, socket, options.logRequests),
  }) as unknown as FastifyInstance;

  // An Expect header other than 100-continue: Node answers 417 itself, before Fastify sees the
  // request, with an empty text/plain body; answer it with a problem document like every other error.
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const expect = String(req.headers.expect ?? '').slice(0, 200);
    const body = JSON.stringify({
      type: problemType('LIMIT_VALIDATION'), title: 'Expectation Failed', status: 417,
      detail: `Unsupported Expect header ${JSON.stringify(expect)}: only 100-continue is supported`,
      instance: req.url, code: 'LIMIT_VALIDATION', errors: [{ path: 'header.expect', message: 'unsupported expectation' }], requestId,
      fix: 'Send no Expect header, or Expect: 100-continue.',
    });
    input.logger.debug({ requestId, status: 417 }, 'request refused before routing: unsupported Expect header');
    // Its request line, as routed requests get theirs (logRequest): no ms, as no start time is known here.
    if (options.logRequests) input.logger.info({ requestId, method: req.method, path: redactQuery(req.url ?? ''), status: 417 }, 'request');
    res.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': requestId, connection: 'close' }).end(body);
  });

  // JSON only: a text/plain body would otherwise reach the handlers as a string.
  app.removeContentTypeParser(['text/plain']);
  // An empty body sent with Content-Type: application/json (curl with the JSON header and no -d,
  // many HTTP client libraries) is read as no body: a route whose body is optional takes it as {},
  // one that needs a body answers that it is required. Every other body goes through parseJsonBody
  // (json.ts): UTF-8 only, a syntax error with its position, no __proto__/constructor.prototype keys,
  // no key twice in one object — each a 400 naming the field.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    let value: unknown;
    try {
      value = parseJsonBody(body as Buffer);
    } catch (error) {
      return done(error as Error, undefined);
    }
    return done(null, value);
  });

  const routes: RouteRegistry = [];
  const seen: ExtraRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD' && method !== 'OPTIONS') seen.push({ method, url: r.url, public: r.config?.public === true });
  });

  // Fastify's 413 says only "Request body is too large": the answer names the limit, and what to change.
  const tooLarge = new ApiProblem(413, 'LIMIT_PAYLOAD_TOO_LARGE', `Request body is larger than the limit of ${options.bodyLimit} bytes`,
    [{ path: 'body', message: `over the limit of ${options.bodyLimit} bytes` }], {},
    'Send a smaller body, or raise the api-http option bodyLimit (at most 64 MiB) on the server.');
  app.setErrorHandler((error, request, reply) => {
    const code = (error as { code?: unknown } | undefined)?.code;
    return sendProblem(request, reply, code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? tooLarge : code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedMediaType(request) : error);
  });
  // A path that exists with other methods answers 405 with an Allow header listing them (RFC 9110
  // §15.5.6), not 404: the methods of every route whose URL pattern matches the path (HEAD wherever
  // GET is, as Fastify exposes it). Built at the first miss: every route, plugins' too, is known then.
  let allowed: ((path: string) => string[]) | undefined;
  const allowedMethods = (path: string) => (allowed ??= methodsByPath(seen))(path);
  app.setNotFoundHandler((request, reply) => {
    const sent = request.url.split('?')[0]!;
    const allow = allowedMethods(sent);
    // Named in the answer and its debug log line, with a secret parameter of a path segment redacted (`/health;api_key=…`).
    const path = redactQuery(sent);
    if (allow.length && !allow.includes(request.method)) {
      return sendProblem(request, reply, new ApiProblem(405, 'LIMIT_METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, [],
        { allow: allow.join(', ') }, `Send ${allow.filter((m) => m !== 'HEAD').join(' or ')} ${path}; GET /openapi.json lists every route and its methods.`));
    }
    return sendProblem(request, reply, new ApiProblem(404, 'LIMIT_NOT_FOUND', `No route ${request.method} ${path}`, [], {}, 'Check the method and the path; GET /openapi.json lists every route.'));
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A response sent before the request's body arrived whole (a 401 before reading it, a 415, a 413 by
  // Content-Length) closes the connection: keeping it alive would have Node read and discard the rest
  // of the body, however long the client goes on sending it (up to Node's requestTimeout).
  app.addHook('onSend', async (request, reply) => {
    if (input.draining.value || !request.raw.complete) reply.header('connection', 'close');
  });

  let limitOutsideRoutes: ReturnType<FastifyInstance['rateLimit']> | undefined;
  if (options.rateLimit !== false) {
    // The configured window, not the time left in it (that is the retry-after, as in the header).
    const tw = options.rateLimit.timeWindow;
    const windowText = typeof tw === 'number' ? (tw % 1000 === 0 ? `${tw / 1000} s` : `${tw} ms`) : tw;
    await app.register(rateLimit, {
      global: true,
      max: options.rateLimit.max,
      // In ms, parsed by the option's own rule (options.ts), so what was validated is what is applied.
      timeWindow: durationMs(tw)!,
      // Its buckets: none dropped while its window runs; past maxClients clients without a key in a
      // window, new ones share one bucket (rate-store.ts), instead of the default LRU's eviction.
      store: boundedRateStore(options.rateLimit.maxClients, (clients) =>
        input.logger.warn({ clients }, `rate limit: ${clients} clients without a valid key are in their window (rateLimit.maxClients); further ones share one budget until a window ends`)),
      // Per key; requests without a valid key share their IP's budget, which also slows key guessing.
      // The IP as the limiter's default key does it (normalizeIP): an IPv6 address counts by its /64,
      // which one client holds whole (else each of its 2^64 addresses would get a budget of its own),
      // and an IPv4-mapped IPv6 address as its IPv4 address. (No address: the socket closed already.)
      keyGenerator: (request) => {
        // In mode 'none' keys are not read (every request is config.tenant): the budget is the IP's, as without one.
        const key = ring.mode === 'apiKey' ? presentedKey(request) : undefined;
        return key !== undefined && lookup(ring, key) ? `key:${keyId(key)}` : `ip:${request.ip ? normalizeIP(request.ip) : 'unknown'}`;
      },
      errorResponseBuilder: (_request, context) =>
        new ApiProblem(429, 'LIMIT_RATE_LIMITED', `Rate limit of ${context.max} requests per ${windowText} exceeded; retry after ${Math.ceil(context.ttl / 1000)} s`),
    });
    // The limiter hooks routes only (at route level, after every root onRequest hook); what is
    // answered outside a route's hooks runs the same limiter (its buckets; once per request) in root
    // onRequest hooks. OPTIONS requests here, before the CORS hooks below answer them: a preflight
    // (@fastify/cors answers it in its own root hook) or an OPTIONS that is not one (a 400) would
    // otherwise be answered without limit. They carry no key, so they count in their IP's budget.
    const limit = (limitOutsideRoutes = app.rateLimit());
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS') await limit.call(app, request, reply);
    });
  }

  if (corsOptions) {
    // An OPTIONS request that is not a CORS preflight (no Origin, or no Access-Control-Request-Method):
    // @fastify/cors would answer it with a bare text/plain 400; a problem document says what is missing.
    app.addHook('onRequest', async (request, reply) => {
      if (request.method !== 'OPTIONS' || (request.headers.origin && request.headers['access-control-request-method'])) return;
      const missing = request.headers.origin ? 'access-control-request-method' : 'origin';
      return sendProblem(request, reply, new ApiProblem(
        400, 'LIMIT_VALIDATION', `OPTIONS is answered only as a CORS preflight, and this request has no ${missing === 'origin' ? 'Origin' : 'Access-Control-Request-Method'} header`,
        [{ path: `header.${missing}`, message: 'missing' }], {},
        'Browsers send preflights themselves; other clients need no OPTIONS request (GET /openapi.json lists every route and its methods).',
      ));
    });
    await app.register(cors, corsOptions);
  }

  // One onRequest hook (one promise per request), after the CORS hook, before the routes' own:
  // - During shutdown every request is answered 503 unprocessed: after CORS, so that a browser page
  //   allowed by cors can read that status (without Access-Control-Allow-Origin it sees only a
  //   network error); before the limiter's hooks, so it costs no budget.
  // - The not-found handler is not a route either: without the limit here an unknown path would
  //   answer 401 or 404 without limit, telling an unknown key from a valid one. Fastify's not-found
  //   options take only preValidation/preHandler, which run after authentication (preParsing), so
  //   unmatched URLs are limited here, before authentication, in the same per-key / per-IP buckets
  //   as every route (after CORS, so a cross-origin 429 carries its CORS headers as on a route).
  const limit = limitOutsideRoutes;
  app.addHook('onRequest', async (request, reply) => {
    if (input.draining.value) return sendProblem(request, reply, SHUTTING_DOWN);
    if (limit && request.is404) await limit.call(app, request, reply);
  });

  // Authentication runs after the rate limiter (route-level onRequest) and before the body is read.
  app.addHook('preParsing', async (request) => {
    if (ring.mode === 'none') {
      request.principal = { tenant, actor: 'api:local' };
      return;
    }
    const { key, path, conflicting, malformed } = presentedCredentials(request);
    if (conflicting) {
      // Named at each header that carried one of the keys: both, or the one that was repeated.
      throw new ApiProblem(
        400, 'LIMIT_VALIDATION', conflicting.detail,
        conflicting.paths.map((p) => ({ path: p, message: 'conflicting keys' })),
        {}, 'Send one key, in either Authorization: Bearer <key> or X-API-Key: <key>.',
      );
    }
    const who = lookup(ring, key);
    if (who) {
      request.principal = { tenant: who.tenant, actor: who.actor };
      return;
    }
    // No exemption for OPTIONS: with CORS on, @fastify/cors answers preflights in onRequest, before
    // this; any other OPTIONS request (CORS off) has no route (405 on a path that exists), and its body must not be read
    // for a client without a key.
    if (request.routeOptions.config?.public) return;
    // Every 401 carries the catalogue's fix (LIMIT_UNAUTHORIZED), which names both headers.
    const challenge = { 'www-authenticate': 'Bearer realm="limit-graph"' };
    // A key that is not one (wrong or revoked) is named as such; credentials the server could not read
    // a key from (another scheme, a malformed Bearer, an empty X-API-Key) say what is wrong with the
    // header, not that a key is missing. Neither ever repeats the credential.
    if (key !== undefined) throw new ApiProblem(401, 'LIMIT_UNAUTHORIZED', 'Unknown API key', [{ path: path!, message: 'unknown key' }], challenge);
    if (malformed) {
      throw new ApiProblem(401, 'LIMIT_UNAUTHORIZED', `${malformed.detail}: send Authorization: Bearer <key> or X-API-Key: <key>`,
        [{ path: malformed.path, message: malformed.message }], challenge);
    }
    throw new ApiProblem(401, 'LIMIT_UNAUTHORIZED', 'Authentication required: send Authorization: Bearer <key> or X-API-Key: <key>',
      [{ path: 'header.authorization', message: 'missing' }], challenge);
  });

  // What the body is, as sent, before it is read: UTF-8 JSON, not compressed. A Content-Encoding
  // (gzip, br) would reach the JSON parser as bytes ("not valid UTF-8"), or a plain body labelled gzip
  // be read as is; a charset other than UTF-8 (JSON's only encoding) would be decoded as UTF-8 all the
  // same (latin-1 "cafÃ©" stored as "café"). Both are 415s naming the header (RFC 9110 §15.5.16).
  app.addHook('preParsing', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    if (!declaresBody(request.raw)) {
      // No body (Content-Length 0, or neither it nor Transfer-Encoding): nothing to parse, whatever
      // the Content-Type says — `curl -X POST -d ''` sends application/x-www-form-urlencoded, fetch
      // with body '' text/plain. The type is set aside for the parser (request.headers only; the raw
      // headers are kept), so a route whose body is optional takes {} and one that needs a body
      // answers that it is required, as with an empty application/json body.
      if (request.headers['content-type'] !== undefined) request.headers = { 'content-type': undefined };
      return;
    }
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      throw new ApiProblem(415, 'LIMIT_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(encoding)} is not supported: bodies are read uncompressed`,
        [{ path: 'header.content-encoding', message: `unsupported content coding ${JSON.stringify(encoding)}` }], {},
        'Send the body uncompressed, without a Content-Encoding header.');
    }
    const type = request.headers['content-type'] ?? '';
    const charset = /^\s*application\/json\s*;/i.test(type) ? CHARSET.exec(type) : null;
    const name = charset ? (charset[1] ?? charset[2] ?? '').toLowerCase() : undefined;
    if (name !== undefined && name !== 'utf-8' && name !== 'utf8') {
      throw new ApiProblem(415, 'LIMIT_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(type.slice(0, 200))}: charset ${JSON.stringify(name)} is not supported: JSON bodies are UTF-8`,
        [{ path: 'header.content-type', message: `unsupported charset ${JSON.stringify(name)}` }], {},
        'Encode the body as UTF-8 and send Content-Type: application/json (or application/json; charset=utf-8).');
    }
  });

  app.addHook('preValidation', async (request) => {
    // Fastify never reads the body of a GET or HEAD request: refused here (after authentication), as
    // a body on any route that takes none is, rather than ignored — the filters of GET /traces sent as
    // a body would silently not apply.
    if ((request.method === 'GET' || request.method === 'HEAD') && declaresBody(request.raw)) {
      const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
      throw new ApiProblem(400, 'LIMIT_VALIDATION', `Invalid request: body: ${route} takes no body`, [{ path: 'body', message: `${route} takes no body` }], {},
        'Send no body with GET: its parameters go in the query string (GET /openapi.json lists them).');
    }
    if (request.body === undefined || request.body === null) return;
    const problem = checkJsonShape(request.body, options.maxDepth);
    if (problem) throw new ApiProblem(400, 'LIMIT_VALIDATION', `Invalid request: ${problem.path}: ${problem.message}`, [problem]);
  });

  if (options.logRequests) app.addHook('onResponse', async (request, reply) => logRequest(request, reply));

  for (const spec of buildRoutes(services, { maxGraphNodes: options.maxGraphNodes, rdTimeLimitMs: options.rdTimeLimitMs })) registerRoute(app, routes, spec);

  let doc: Record<string, unknown> | undefined;
  let html: string | undefined;
  const openapi = () => (doc ??= buildOpenApi(routes, seen, { version: services.version }));
  // Declared through the glue like every route: no key, no query parameters, no body (each refused
  // as on /health), and listed in the document from these declarations.
  registerRoute(app, routes, defineRoute({
    method: 'GET', url: '/openapi.json', tag: 'service', public: true, summary: 'This document.',
    responses: { description: 'OpenAPI 3.1' },
    handler: ({ reply }) => {
      reply.type('application/json; charset=utf-8');
      return openapi();
    },
  }));
  registerRoute(app, routes, defineRoute({
    method: 'GET', url: '/docs', tag: 'service', public: true, summary: 'This document as an HTML page.',
    responses: { description: 'HTML' },
    handler: ({ reply }) => {
      reply.type('text/html; charset=utf-8');
      return (html ??= renderDocs(openapi()));
    },
  }));

  // Other plugins add their routes here; they are authenticated unless they set config.public.
  await input.hooks.httpRoutes.promise(app);
  await app.ready();
  return { app, routes };
}
