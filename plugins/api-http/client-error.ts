/**
 * Requests Node's HTTP parser refuses before Fastify sees them (the server's `clientError` event):
 * a request line or header block over the limit, malformed HTTP, a request not received in time.
 * They are answered with a problem document like every other error — `application/problem+json`,
 * a fresh `x-request-id` (the request's own header could not be read), `Connection: close` — and
 * nothing is written to a socket that can no longer take it.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { redactQuery } from 'limit-graph';
import { PROBLEM_CONTENT_TYPE, problemType, type FieldError } from './problem.ts';

/** What Node attaches to a parser error (llhttp): where in the current chunk it stopped, and that chunk. */
interface ParserError extends Error {
  code?: string;
  reason?: string;
  bytesParsed?: number;
  rawPacket?: unknown;
}

export interface ClientErrorAnswer {
  status: number;
  title: string;
  detail: string;
  fix: string;
  errors: FieldError[];
}

/**
 * Whether a header overflow (HPE_HEADER_OVERFLOW, which Node raises for the request line and the
 * header fields together over `maxHeaderSize`, 16 KiB) happened inside the request line: the request
 * target is too long (414), not the header fields (431). llhttp stops at the end of the span it was
 * reading — the space after the target, the colon of a header name, the line end of a value — or at
 * the end of the chunk. The request line is the one still being read when no line ended in the
 * parsed part of the chunk and either the parser stopped at the space after the target (a header name
 * stops after its colon) or the chunk, which starts with the method, ended first.
 */
export function requestLineTooLong(error: ParserError): boolean {
  const raw = error.rawPacket;
  const at = error.bytesParsed;
  if (!Buffer.isBuffer(raw) || typeof at !== 'number' || at < 0) return false;
  const end = Math.min(at, raw.length);
  if (raw.subarray(0, end).includes(0x0a)) return false;
  if (end < raw.length) return raw[end] === 0x20 && raw[end - 1] !== 0x3a;
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S/.test(raw.subarray(0, 64).toString('latin1'));
}

/** The status and problem fields for an error Node's parser raised. */
export function clientErrorAnswer(error: ParserError): ClientErrorAnswer {
  const reason = typeof error.reason === 'string' && error.reason ? error.reason : error.message;
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(error)
        ? {
            status: 414, title: 'URI Too Long', detail: 'The request target is too long: the request line and headers may take at most 16 KiB',
            fix: 'Use a shorter URL: send large inputs in a POST body, not in the path or the query.',
            errors: [{ path: 'path', message: 'request target over the limit' }],
          }
        : {
            status: 431, title: 'Request Header Fields Too Large', detail: 'The request headers are too large: the request line and headers may take at most 16 KiB',
            fix: 'Send fewer or smaller headers (large cookies, long tokens): the request line and headers together must stay under 16 KiB.',
            errors: [{ path: 'header', message: 'headers over the limit' }],
          };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413, title: 'Content Too Large', detail: 'The chunk extensions of the request body are too large',
        fix: 'Send the body without chunk extensions (or with a Content-Length).', errors: [{ path: 'body', message: reason }],
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408, title: 'Request Timeout', detail: 'The request was not received in time',
        fix: 'Send the whole request (headers and body) without pausing; retry on a new connection.', errors: [],
      };
    default:
      return {
        status: 400, title: 'Bad Request', detail: `Malformed HTTP request: ${reason}`,
        fix: 'Send a well-formed HTTP/1.1 request (request line, headers as name: value, CRLF line ends).',
        errors: [{ path: 'request', message: reason }],
      };
  }
}

/** The whole HTTP response, head and problem document, for an error Node's parser raised. */
export function clientErrorResponse(error: ParserError, requestId: string = randomUUID()): { status: number; requestId: string; text: string } {
  const a = clientErrorAnswer(error);
  const body = JSON.stringify({
    type: problemType('LIMIT_VALIDATION'), title: a.title, status: a.status, detail: a.detail,
    code: 'LIMIT_VALIDATION', errors: a.errors, requestId, fix: a.fix,
  });
  const text =
    `HTTP/1.1 ${a.status} ${a.title}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n` +
    'Connection: close\r\n\r\n' +
    body;
  return { status: a.status, requestId, text };
}

/** A request line's start (method, target) and, where it was read whole, its end. */
const REQUEST_LINE = /^([A-Z][A-Z-]{0,19}) ((?:\/|\*|https?:\/\/)[\x21-\x7e]*)( HTTP\/\d\.\d\r?\n)?/;

/**
 * The method and target of the refused request, where the chunk the parser stopped in starts with a
 * request line (the first chunk: a request sent at once): both where the line ends within the 16 KiB
 * limit, the method alone where the target is cut off (a 414), nothing where the chunk is a later
 * piece of the request or not HTTP at all. The target's secret query parameters are redacted.
 */
export function refusedRequestLine(error: ParserError): { method?: string; path?: string } {
  const raw = error.rawPacket;
  const line = Buffer.isBuffer(raw) ? REQUEST_LINE.exec(raw.subarray(0, 16 * 1024).toString('latin1')) : null;
  if (!line) return {};
  return line[3] === undefined ? { method: line[1] } : { method: line[1], path: redactQuery(line[2]!) };
}

/** Logs as Fastify's `this.log` does: the handler is bound to the instance. */
interface HasLog {
  log: { debug(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * Fastify's `clientErrorHandler`: answers with a problem document unless the socket is gone (a reset,
 * already destroyed, no longer writable) or a response on it has already begun (its bytes would
 * corrupt that one), then destroys the socket as Node's default does. With `logRequests`, an answered
 * request gets its request log line, as routed ones do (server.ts logRequest): request id, status,
 * method and path where they could be read (refusedRequestLine), never headers; no `ms`, since no
 * start time is known for a request the parser refused (its bytes may have come in over any time).
 */
export function handleClientError(this: HasLog, error: ParserError, socket: Writable, logRequests: boolean): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Writable & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const { status, requestId, text } = clientErrorResponse(error);
    this.log.debug({ requestId, status, code: error.code }, 'client error: request refused before routing');
    if (logRequests) this.log.info({ requestId, ...refusedRequestLine(error), status }, 'request');
    socket.write(text);
  }
  socket.destroy(error);
}
