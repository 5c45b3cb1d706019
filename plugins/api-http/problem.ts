/**
 * RFC 9457 problem documents. Every error leaves the API as `application/problem+json` with a
 * stable `code`; bad input of any kind maps to a 4xx, and only genuine server faults become 5xx.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isLimitError, toLimitError, type LimitErrorCode } from 'limit-graph';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface FieldError {
  /** Where: `body.task.input`, `query.limit`, `params.id`, `header.content-type` (ERROR_PATHS lists them all). */
  path: string;
  message: string;
}

/**
 * Every `errors[].path` this server sends, and when: the OpenAPI document's Problem schema describes
 * `path` from this list, and docs/api.md and the README name each (a test holds the three together).
 */
export const ERROR_PATHS: readonly { path: string; when: string }[] = [
  { path: 'body', when: 'the body as a whole (not JSON, not UTF-8, too large, missing, or sent where none is taken)' },
  { path: 'body.…', when: 'a field of the JSON body' },
  { path: 'query.…', when: 'a query parameter' },
  { path: 'params.…', when: 'a path parameter' },
  { path: 'header.authorization', when: '401 missing, malformed or unknown credentials; 400 conflicting keys it carried' },
  { path: 'header.x-api-key', when: '401 an empty or unknown X-API-Key; 400 conflicting keys it carried' },
  { path: 'header.content-type', when: '415 a body that is not application/json, or a charset other than UTF-8' },
  { path: 'header.content-encoding', when: '415 a Content-Encoding other than identity (a compressed body)' },
  { path: 'header.content-length', when: '400 a Content-Length that does not match the body' },
  { path: 'header.expect', when: '417 an Expect header other than 100-continue' },
  { path: 'header.origin', when: '400 an OPTIONS request without Origin (not a CORS preflight)' },
  { path: 'header.access-control-request-method', when: '400 an OPTIONS request without Access-Control-Request-Method' },
  { path: 'header', when: '431 headers over the 16 KiB request-line-and-headers limit' },
  { path: 'path', when: 'a bad percent escape (400); a request target or path parameter too long (414)' },
  { path: 'request', when: 'malformed HTTP (400), a request not received in time (408)' },
];

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  errors: FieldError[];
  requestId: string;
  fix?: string;
  details?: Record<string, unknown>;
}

/** An error raised by the API layer itself (validation, auth, rate limit, unknown route). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
    /** Replaces the catalogue's fix for this occurrence. */
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 413: 'Content Too Large', 414: 'URI Too Long',
  415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  499: 'Client Closed Request', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 507: 'Insufficient Storage',
};

/** Fastify's own request errors, by code: what status and stable code each maps to. */
const FASTIFY_CODES: Record<string, { status: number; code: string; fix?: string; field?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', field: 'header.content-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'LIMIT_VALIDATION', fix: 'Send a Content-Length equal to the size of the body.', field: 'header.content-length' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'LIMIT_PAYLOAD_TOO_LARGE', field: 'body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'LIMIT_VALIDATION', field: 'body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'LIMIT_VALIDATION', fix: 'Send well-formed JSON (check the quotes, commas and brackets).', field: 'body' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', field: 'header.content-type' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'LIMIT_UNSUPPORTED_MEDIA_TYPE', field: 'header.content-type' },
  FST_ERR_BAD_URL: { status: 400, code: 'LIMIT_VALIDATION', fix: 'Percent-encode the path: % must start a valid UTF-8 escape.', field: 'path' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'LIMIT_VALIDATION', fix: 'Use a shorter path: ids are at most 128 characters.', field: 'path' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'LIMIT_VALIDATION' },
};

/** Request fields the route layer found for a service error (glue.ts, from the error's details). */
const locatedFields = new WeakMap<object, FieldError[]>();

/** Records which request fields a service error is about; mapError answers with them. */
export function setErrorFields(error: object, errors: FieldError[]): void {
  if (errors.length) locatedFields.set(error, errors);
}

/**
 * Codes whose catalogue status is a generic 500 but which mean "this server lacks a plugin for
 * that" when they reach the API: a configuration gap, not a crash.
 */
const UNAVAILABLE: ReadonlySet<string> = new Set(['LIMIT_SERVICE_NOT_FOUND', 'LIMIT_RUNTIME_CLOSED']);

/**
 * Retry-After (seconds) of a 503 LIMIT_RUNTIME_CLOSED: the server is shutting down, so the request
 * may succeed once it is back (a restart) or at another instance. A 503 LIMIT_SERVICE_NOT_FOUND (a
 * plugin the server lacks) has none: retrying would not help.
 */
export const SHUTDOWN_RETRY_AFTER_S = 5;

export function problemType(code: string): string {
  return `/docs#${code}`;
}

interface Mapped {
  status: number;
  code: string;
  detail: string;
  errors: FieldError[];
  fix?: string;
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** A server fault: logged with its stack, its message hidden from the client. */
  internal: boolean;
}

function issuesOf(details: Record<string, unknown> | undefined): FieldError[] {
  const issues = details?.issues;
  if (!Array.isArray(issues)) return [];
  return issues
    .filter((i): i is { path: unknown; message: unknown } => typeof i === 'object' && i !== null)
    .map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }));
}

/**
 * What reached the error handler, as an Error: a value that is not one (a plugin's `throw undefined`,
 * a string, a plain object) becomes LIMIT_INTERNAL describing it (toLimitError), so that the answer
 * is still a problem document and the log line says what was thrown.
 */
export function asThrownError(error: unknown): Error {
  return error instanceof Error ? error : toLimitError(error, 'LIMIT_INTERNAL', { message: (reason) => `A request handler failed with a value that is not an Error: ${reason}` });
}

export function mapError(thrown: unknown): Mapped {
  const error = asThrownError(thrown);
  if (error instanceof ApiProblem) {
    return { status: error.status, code: error.code, detail: error.message, errors: error.errors, headers: error.headers, ...(error.fix ? { fix: error.fix } : {}), internal: false };
  }
  if (isLimitError(error)) {
    const status = UNAVAILABLE.has(error.code) ? 503 : error.status;
    const field = typeof error.details?.field === 'string' ? [{ path: error.details.field, message: error.message }] : [];
    return {
      status, code: error.code, detail: error.message, fix: error.fix,
      ...(error.code === 'LIMIT_RUNTIME_CLOSED' ? { headers: { 'retry-after': String(SHUTDOWN_RETRY_AFTER_S) } } : {}),
      errors: locatedFields.get(error) ?? (issuesOf(error.details).length ? issuesOf(error.details) : field),
      ...(error.details ? { details: error.details } : {}),
      internal: status === 500,
    };
  }
  const fe = error as Partial<FastifyError>;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) {
    const errors = known.field ? [{ path: known.field, message: fe.message ?? 'Invalid request' }] : [];
    return { status: known.status, code: known.code, detail: fe.message ?? 'Invalid request', errors, ...(known.fix ? { fix: known.fix } : {}), internal: false };
  }
  // Fastify (and its parsers) mark the client errors they raise with a code and statusCode 4xx: trust
  // those, never a 5xx. A `status` alone (a database driver's, a vendor SDK's) is a plugin's fault,
  // not the client's request.
  const status = typeof fe.code === 'string' && typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = status === 413 ? 'LIMIT_PAYLOAD_TOO_LARGE' : status === 415 ? 'LIMIT_UNSUPPORTED_MEDIA_TYPE' : status === 429 ? 'LIMIT_RATE_LIMITED' : status === 404 ? 'LIMIT_NOT_FOUND' : 'LIMIT_VALIDATION';
    const where = status === 413 ? 'body' : status === 415 ? 'header.content-type' : status === 414 ? 'path' : undefined;
    return { status, code, detail: fe.message ?? 'Invalid request', errors: where ? [{ path: where, message: fe.message ?? 'Invalid request' }] : [], internal: false };
  }
  return { status: 500, code: 'LIMIT_INTERNAL', detail: 'The server failed to handle the request; the request id identifies it in the server log.', errors: [], internal: true };
}

/** The catalogue's one-line fix for a code (every code the API answers with has one). */
function catalogueFix(code: string): string | undefined {
  return Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as LimitErrorCode].fix : undefined;
}

export function buildProblem(request: FastifyRequest, mapped: Mapped): Problem {
  if (mapped.internal) {
    // A fault's message may carry paths or SQL: the client gets the request id, the log the rest.
    return {
      type: problemType('LIMIT_INTERNAL'), title: TITLES[500]!, status: 500, code: 'LIMIT_INTERNAL', instance: request.url,
      detail: 'The server failed to handle the request; the request id identifies it in the server log.', errors: [], requestId: request.id,
      fix: ERROR_CODES.LIMIT_INTERNAL.fix,
    };
  }
  // Every problem carries a fix: the occurrence's own (a LimitError's), else the catalogue's for the code.
  const fix = mapped.fix ?? catalogueFix(mapped.code);
  return {
    type: problemType(mapped.code),
    title: TITLES[mapped.status] ?? 'Error',
    status: mapped.status,
    detail: mapped.detail,
    instance: request.url,
    code: mapped.code,
    errors: mapped.errors,
    requestId: request.id,
    ...(fix ? { fix } : {}),
    ...(mapped.details ? { details: mapped.details } : {}),
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, thrown: unknown): FastifyReply {
  const error = asThrownError(thrown);
  const mapped = mapError(error);
  if (mapped.internal) request.log.error({ err: error }, 'request failed');
  else request.log.debug({ code: mapped.code, status: mapped.status }, mapped.detail);
  for (const [name, value] of Object.entries(mapped.headers ?? {})) reply.header(name, value);
  reply.header('x-request-id', request.id);
  return reply.code(mapped.status).type(PROBLEM_CONTENT_TYPE).send(buildProblem(request, mapped));
}

/** The codes this API may answer with, for the docs page. */
export function problemCatalogue(): { code: string; status: number; message: string; fix: string }[] {
  // Codes with a plain 500 are server-side conditions the API reports as LIMIT_INTERNAL instead.
  return (Object.entries(ERROR_CODES) as [LimitErrorCode, (typeof ERROR_CODES)[LimitErrorCode]][])
    .filter(([code, s]) => s.status !== 500 || UNAVAILABLE.has(code) || code === 'LIMIT_INTERNAL')
    .map(([code, s]) => ({ code, status: UNAVAILABLE.has(code) ? 503 : s.status, message: s.message, fix: s.fix }))
    .sort((a, b) => a.code.localeCompare(b.code));
}
