/**
 * Building blocks for runners that send each task to a hosted model over HTTP (OpenAI, Anthropic,
 * any vendor SDK of that kind): one conversation per session whose turns go one at a time, a
 * deadline that is the stricter of the session's and the runner's, failures mapped to the
 * catalogued runner codes with the API key scrubbed, and the health report such a runner owes.
 * The vendor's wire format (request body, stream events, SDK error classes) stays in its plugin.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { RunResult, RunnerCapabilities, RunContext } from './contracts/runner.ts';
import { LimitError } from './errors.ts';
import type { Logger } from './logger.ts';
import { RunMetrics, RunOutput, SessionLimits, type HealthResult, type TaskParsed } from './model/index.ts';
import { formatIssues } from './config/issues.ts';
import { assertJsonSafe } from './storage-helpers.ts';
import { isWellFormed } from './model/canonical-json.ts';
import { SessionIdleSweeper } from './session-idle.ts';
import { allInOrder } from './in-order.ts';

/** The codes a hosted runner's failed task carries (`RunnerFailure.code`). */
export type RunnerFailureCode = 'LIMIT_RUNNER_TIMEOUT' | 'LIMIT_RUNNER_ABORTED' | 'LIMIT_RUNNER_FAILED' | 'LIMIT_RUNNER_UNAVAILABLE';

/** Why a task failed, as it will appear in `RunResult.error` (and `stderr`). */
export interface RunnerFailure {
  code: RunnerFailureCode;
  message: string;
  /** The vendor's HTTP status, when it answered with one. */
  status?: number;
}

/**
 * The shortest key that is scrubbed. A shorter one is a placeholder (`none`, `x`: what a local
 * server without auth is given), not a secret, and scrubbing it would cut that word out of every
 * reply and message.
 */
export const MIN_SCRUBBED_SECRET_LENGTH = 8;

/** Whether `secret` is scrubbed: see MIN_SCRUBBED_SECRET_LENGTH. */
const scrubbed = (secret: string | undefined): secret is string => secret !== undefined && secret.length >= MIN_SCRUBBED_SECRET_LENGTH;

/** `text` with every occurrence of `secret` replaced by `[redacted]` (a server may echo a key back). */
export function scrubSecret(text: string, secret: string | undefined): string {
  return scrubbed(secret) ? text.split(secret).join('[redacted]') : text;
}

/** The host of a base URL, for messages; never the path or query (which may carry credentials). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the API';
  }
}

/**
 * A hosted runner's `baseURL` option: an http(s) URL with neither credentials (`user:pass@`) nor a
 * query. The SDKs append each endpoint's path to it as text, and fetch refuses a URL with
 * credentials: neither ever works, and both would put a secret into health details and the
 * errors that quote the URL. Refused at configuration, without repeating the value.
 */
export const HostedBaseURL = z
  .url({ protocol: /^https?$/, error: 'Expected an http(s) URL' })
  .refine((url) => {
    const u = new URL(url);
    return !u.username && !u.password;
  }, 'Expected a URL without credentials (user:password@): pass the key as apiKey')
  .refine((url) => !new URL(url).search, 'Expected a URL without a query (?…): the SDK appends each endpoint path to it, so a query (or a token in it) breaks every request');

/** The innermost cause says what really happened ("connect ECONNREFUSED …", not "fetch failed"). */
export function innermostCause(error: Error): string {
  let inner: Error = error;
  while ((inner as { cause?: unknown }).cause instanceof Error) inner = (inner as { cause: Error }).cause;
  return inner.message;
}

/** Resolves when `promise` settles (either way), rejects with the abort reason when `signal` aborts first. */
export function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    promise.then(done, done);
  });
}

/**
 * Thrown by a vendor call (or a health probe) that already knows the failure: it is reported as is,
 * with `value` (what the reply was: its model, why it stopped) as the failed result's value.
 */
export class HostedFailureError extends Error {
  constructor(
    readonly failure: RunnerFailure,
    readonly value?: unknown,
  ) {
    super(failure.message);
    this.name = 'HostedFailureError';
  }
}

/**
 * The HostedFailureError that `error` is or was caused by (its `cause` chain), if any. An SDK wraps
 * what its `fetch` threw (cappedFetch's ResponseTooLargeError) in a connection error of its own:
 * the failure it carries is still the one to report, and such an error is never retried.
 */
export function hostedFailureIn(error: unknown): HostedFailureError | undefined {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    if (e instanceof HostedFailureError) return e;
    seen.add(e);
  }
  return undefined;
}

/** How a hosted model's reply ended, read from the vendor's wire format. */
export interface HostedReplyEnd {
  /** The reply's text (its text blocks or content, joined). */
  text: string;
  /** Why it stopped, as the vendor says it (`finish_reason`, `stop_reason`). */
  reason: string | null | undefined;
  /** The model declined to answer; the vendor's refusal text, when it sends one. */
  refused?: { text?: string | undefined } | undefined;
  /** The names of the tools the model asked to call. */
  toolCalls?: readonly string[] | undefined;
}

/**
 * Why a reply that came back complete is still not an answer to the task, or undefined when it is
 * one (non-empty text, no refusal, no tool call): the model refused, asked to call tools (a hosted
 * runner sends none and cannot return their results), or said nothing. Worded after "<label>: ".
 * Such a turn fails and is not added to the conversation: an empty assistant turn would make every
 * later request of the session invalid for a vendor that refuses one (Anthropic's Messages API).
 * The refusal is quoted by its start (vendorExcerpt, 200 characters), `secret` (the API key)
 * scrubbed before the cut.
 */
export function notAnAnswer(reply: HostedReplyEnd, label: string, secret: string | undefined): string | undefined {
  const why = reply.reason ? ` (${JSON.stringify(reply.reason)})` : '';
  if (reply.refused) {
    const said = vendorExcerpt(reply.refused.text, secret, 200);
    return `the model refused to answer${why}${said ? `: ${said}` : ''}`;
  }
  if (reply.toolCalls?.length) {
    return `the model asked to call tools (${reply.toolCalls.join(', ')})${why}, which ${label} does not support: it offers the model no tools and cannot return their results`;
  }
  if (reply.text === '') return `the model's reply is empty${why}`;
  return undefined;
}

/**
 * A retry that would start after the task's deadline: the vendor's error, how long the server (or
 * the backoff) asked to wait, how long was left, and how many retries had been made.
 */
export class RetryTooLateError extends Error {
  constructor(
    readonly error: unknown,
    readonly waitMs: number,
    readonly leftMs: number,
    readonly retries: number,
    /** Whether the server asked for the wait (retry-after); else it is the default backoff. */
    readonly asked: boolean,
  ) {
    super(`retry in ${waitMs} ms, but only ${leftMs} ms left`);
    this.name = 'RetryTooLateError';
  }
}

/** Resolves after `ms`, rejects with the abort reason as soon as `signal` aborts (the timer is cleared: it never holds the process). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How long a vendor asks to wait before retrying, from the headers of its answer: `retry-after-ms`,
 * else `retry-after` (seconds or an HTTP date); undefined when it did not say.
 */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The SDKs' default backoff before retry number `retry` (0-based): 0.5 s doubling, at most 8 s, up to 25 % jitter. */
function defaultBackoffMs(retry: number): number {
  return Math.min(0.5 * 2 ** retry, 8) * (1 - Math.random() * 0.25) * 1000;
}

/** The error classes the vendor SDKs generated alike (openai, @anthropic-ai/sdk) export under these names. */
export interface SdkErrorClasses {
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  APIUserAbortError: abstract new (...args: never[]) => Error;
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIError: abstract new (...args: never[]) => Error & { status?: number | undefined; headers?: { get(name: string): string | null } | undefined };
}

/**
 * What withRetries retries for such an SDK, as the SDK itself would: connection failures, and 408,
 * 409, 429, 5xx (or `x-should-retry`), waiting what the answer's headers ask. Not a per-request
 * timeout — it is the task's deadline, with nothing left to retry in — nor a cancellation.
 */
export function sdkRetryable(sdk: SdkErrorClasses): (error: unknown) => { afterMs?: number | undefined } | undefined {
  return (error) => {
    // A failure already known (a response over maxResponseBytes, which the SDK reports as a
    // connection error): another attempt would fetch the same answer.
    if (hostedFailureIn(error)) return undefined;
    if (error instanceof sdk.APIConnectionTimeoutError || error instanceof sdk.APIUserAbortError) return undefined;
    if (error instanceof sdk.APIConnectionError) return {};
    if (error instanceof sdk.APIError && typeof error.status === 'number') {
      return isRetryableStatus(error.status, error.headers) ? { afterMs: retryAfterMs(error.headers) } : undefined;
    }
    return undefined;
  };
}

/** Whether the SDKs retry an HTTP answer: `x-should-retry` decides when present, else 408, 409, 429 and 5xx. */
function isRetryableStatus(status: number, headers: { get(name: string): string | null } | undefined): boolean {
  const should = headers?.get('x-should-retry');
  if (should === 'true') return true;
  if (should === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** How many retries withRetries had made when it gave up with an error: its message's "(after N retries)" says that, not maxRetries. */
const retriesMade = new WeakMap<object, number>();

/**
 * Calls `attempt` (one request, the SDK's own retries off) up to `maxRetries` more times while
 * `retryable(error)` says so, waiting what the server asked for (`afterMs`) or the default backoff.
 * The wait is abortable (cancellation, session close, deadline), and a wait that would end after
 * the deadline is not started: RetryTooLateError, which HostedConversations reports at once.
 */
export async function withRetries<T>(
  turn: { readonly signal: AbortSignal; remainingMs(): number },
  maxRetries: number,
  attempt: () => Promise<T>,
  retryable: (error: unknown) => { afterMs?: number | undefined } | undefined,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      const giveUp = () => {
        if (typeof error === 'object' && error !== null) retriesMade.set(error, retry);
        return error;
      };
      if (turn.signal.aborted || retry >= maxRetries) throw giveUp();
      const verdict = retryable(error);
      if (!verdict) throw giveUp();
      const waitMs = Math.ceil(verdict.afterMs ?? defaultBackoffMs(retry));
      const leftMs = turn.remainingMs();
      if (waitMs >= leftMs) throw new RetryTooLateError(error, waitMs, leftMs, retry, verdict.afterMs !== undefined);
      await abortableSleep(waitMs, turn.signal);
    }
  }
}

/** Rejects with the abort reason when `signal` aborts; never resolves. `stop()` detaches it. */
function rejectOnAbort(signal: AbortSignal): { promise: Promise<never>; stop(): void } {
  let stop = () => {};
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    stop = () => signal.removeEventListener('abort', onAbort);
  });
  return { promise, stop };
}

/** String.prototype.isWellFormed (defined beside canonicalJson, which imports nothing, so storage-helpers can use it too). */
export { isWellFormed };
/** String.prototype.toWellFormed: `s` with each half surrogate pair replaced by U+FFFD, as a UTF-8 encoder writes it. */
export const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

export { illFormedText, type IllFormedText } from './model/canonical-json.ts';

/**
 * A JSON value (a runner's output, a reply) with `fn` applied to every string in it — values and
 * object keys — through arrays and plain objects; other objects are kept as they are.
 */
export function mapStringsDeep<T>(value: T, fn: (s: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return fn(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [fn(k), walk(x)]));
  };
  return walk(value) as T;
}

/** `value` with every string in it scrubbed of `secret`; returned as is (no copy) when the secret does not occur. */
export function scrubSecretDeep<T>(value: T, secret: string | undefined): T {
  if (!scrubbed(secret) || value === undefined) return value;
  const json = JSON.stringify(value);
  // Looked for as JSON writes it inside a string: a quote, a backslash or a control character in the key is escaped there.
  if (json === undefined || !json.includes(JSON.stringify(secret).slice(1, -1))) return value;
  return mapStringsDeep(value, (s) => scrubSecret(s, secret));
}

/** The longest vendor text (an error body, a mid-stream error) a failure message quotes whole. */
export const MAX_QUOTED_DETAIL = 500;

/**
 * A vendor's own text as a failure message quotes it: as sent when it is at most MAX_QUOTED_DETAIL
 * characters, else its start on one line and how long it was. An SDK's error message is the whole
 * error body when it is not the vendor's JSON — a proxy's or load balancer's HTML page, up to
 * maxResponseBytes of it — which would otherwise become the task's error, its stderr and a log line.
 * `secret` is scrubbed first: a cut through the key must not leave half of it.
 */
export function quoteDetail(detail: string, secret: string | undefined): string {
  const text = scrubSecret(detail, secret);
  if (text.length <= MAX_QUOTED_DETAIL) return text;
  const start = text.slice(0, MAX_QUOTED_DETAIL * 2).replace(/\s+/g, ' ').trim().slice(0, MAX_QUOTED_DETAIL);
  return toWellFormed(`${start}… (${text.length} characters in all)`);
}

/** The "(after N retries)" of a failure message. */
const retriesNote = (n: number) => (n > 0 ? ` (after ${n} retries)` : '');

/**
 * What `withDeadline` returns: one signal for the SDK, aborted by a cancellation or the timeout,
 * and which of the two stopped it.
 */
export interface Deadline {
  /** Aborts when any of the given signals aborts or the time is up: hand it to the SDK. */
  readonly signal: AbortSignal;
  /** Why `signal` aborted — a cancellation (ABORTED) before a timeout (TIMEOUT) — or undefined while it has not. */
  stopped(): RunnerFailure | undefined;
  /** Milliseconds left, at least 1: the SDK's own per-request timeout, so it never outlives the deadline. */
  remainingMs(): number;
  /** Stops the timer; call it in a `finally`. */
  clear(): void;
}

/**
 * A deadline of `timeoutMs` combined with the caller's cancellation signals. `label` (the plugin's
 * name) starts the failure messages.
 */
export function withDeadline(signals: readonly AbortSignal[], timeoutMs: number, label: string): Deadline {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  return {
    signal: AbortSignal.any([...signals, deadline.signal]),
    stopped: () => {
      if (signals.some((s) => s.aborted)) return { code: 'LIMIT_RUNNER_ABORTED', message: `${label}: request aborted` };
      if (deadline.signal.aborted) return { code: 'LIMIT_RUNNER_TIMEOUT', message: `${label}: no complete answer within ${timeoutMs} ms` };
      return undefined;
    },
    remainingMs: () => Math.max(1, Math.ceil(timeoutMs - (performance.now() - started))),
    clear: () => clearTimeout(timer),
  };
}

/** A token count the result may carry (RunMetrics: an integer, at least 0); a server's odd usage (-1, 2.5, "12") is left out, not a result the contract refuses. */
const tokenCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * A task's result from what a hosted model said (possibly part of an answer) and how it ended.
 * Token counts that are not counts are dropped: an OpenAI-compatible server may send anything, and
 * a result whose metrics break RunMetrics would be refused whole (parseRunResult), its reply lost.
 */
export function runResult(
  started: number,
  r: { text: string; failure?: RunnerFailure; value?: unknown; tokensIn?: number | null | undefined; tokensOut?: number | null | undefined },
): RunResult {
  return {
    ok: !r.failure,
    stdout: r.text,
    stderr: r.failure ? r.failure.message : '',
    ...(r.value === undefined ? {} : { value: r.value }),
    ...(r.failure ? { error: { code: r.failure.code, message: r.failure.message } } : {}),
    metrics: {
      latencyMs: performance.now() - started,
      ...(tokenCount(r.tokensIn) ? { tokensIn: r.tokensIn } : {}),
      ...(tokenCount(r.tokensOut) ? { tokensOut: r.tokensOut } : {}),
    },
  };
}

/**
 * The failures a vendor SDK's errors map to, worded the same for every hosted runner; every
 * message is scrubbed of `secret`. The plugin decides which SDK error is which.
 */
export function vendorFailures(c: {
  label: string;
  host: string;
  maxRetries: number;
  secret: string | undefined;
  /** The prefix of the plugin's meta.env variables (`OPENAI` for OPENAI_API_KEY): named in what to fix. */
  envPrefix?: string | undefined;
}) {
  const scrub = (text: string) => scrubSecret(text, c.secret);
  const quote = (detail: string) => quoteDetail(detail, c.secret);
  return {
    /** The SDK's own per-request timeout fired. */
    timeout: (): RunnerFailure => ({ code: 'LIMIT_RUNNER_TIMEOUT', message: `${c.label}: ${c.host} did not answer in time` }),
    aborted: (): RunnerFailure => ({ code: 'LIMIT_RUNNER_ABORTED', message: `${c.label}: request aborted` }),
    /** No connection (refused, DNS, TLS): the innermost cause is named. */
    unreachable: (error: Error): RunnerFailure => ({ code: 'LIMIT_RUNNER_UNAVAILABLE', message: scrub(`${c.label}: could not reach ${c.host}: ${innermostCause(error)}`) }),
    /**
     * The vendor answered `status`; statuses the SDK retries say how often it was retried:
     * `retries`, the retries made (withRetries gives up sooner on an answer that says not to retry),
     * else `maxRetries`.
     */
    status: (status: number, detail: string, retries: number = c.maxRetries): RunnerFailure => {
      const retried = status === 429 || status === 408 || status === 409 || status >= 500 ? retriesNote(retries) : '';
      const what =
        status === 401 ? 'rejected the API key' : status === 403 ? 'refused the request (403 Forbidden)' : status === 429 ? 'is rate limiting' : status === 404 ? 'does not know this model or endpoint' : `answered ${status}`;
      // What to fix, for the answers that a setting of this runner explains.
      const env = (name: string) => (c.envPrefix ? ` (${c.envPrefix}_${name})` : '');
      const fix =
        status === 401
          ? `; check the apiKey option${env('API_KEY')}`
          : status === 403
            ? `; check that the apiKey option${env('API_KEY')} is a key allowed to use this model and endpoint`
            : status === 404
              ? `; check the model option${env('MODEL')} and baseURL${env('BASE_URL')}`
              : '';
      return { code: 'LIMIT_RUNNER_FAILED', status, message: scrub(`${c.label}: ${c.host} ${what}${retried}: ${quote(detail)}${fix}`) };
    },
    /** An error the vendor sent inside a stream it had begun with 200 (so with no HTTP status of its own). */
    midStream: (detail: string): RunnerFailure => ({ code: 'LIMIT_RUNNER_FAILED', message: scrub(`${c.label}: ${c.host} reported an error mid-stream: ${quote(detail)}`) }),
    /** Any other failure, worded by the plugin (after "<label>: "). */
    failed: (text: string): RunnerFailure => ({ code: 'LIMIT_RUNNER_FAILED', message: scrub(`${c.label}: ${text}`) }),
    /**
     * The rest: a malformed (non-JSON) response, a connection that broke off while the body was
     * arriving (fetch's bare `TypeError: terminated`, its cause saying why), or anything else the SDK threw.
     */
    other: (error: unknown): RunnerFailure => {
      if (error instanceof SyntaxError) return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`${c.label}: ${c.host} sent a malformed response (invalid JSON): ${quote(error.message)}`) };
      if (error instanceof TypeError && error.message === 'terminated') {
        const why = innermostCause(error);
        return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`${c.label}: ${c.host} broke off the response before it was complete${why === 'terminated' ? '' : ` (${why})`}`) };
      }
      return { code: 'LIMIT_RUNNER_FAILED', message: scrub(`${c.label}: request to ${c.host} failed: ${quote(error instanceof Error ? innermostCause(error) : String(error))}`) };
    },
  };
}

type SdkLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * A vendor SDK's `logger` option writing to pino, message only and scrubbed: the SDK's extra
 * arguments carry request details we do not want to reason about for secrets.
 */
export function sdkLogger(logger: Logger, sdk: string, secret: string | undefined): Record<SdkLevel, (message: string) => void> {
  const at = (level: SdkLevel) => (message: string) => logger[level]({ sdk }, scrubSecret(String(message), secret));
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** The default of a hosted runner's `maxResponseBytes` option: 8 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * A hosted runner's `maxResponseBytes` option: the most bytes one response from the vendor may
 * have (a JSON reply, an error body, a whole event stream, a models list), whole bytes from 1 KiB
 * to 1 GiB, 8 MiB (DEFAULT_MAX_RESPONSE_BYTES) when not given. See cappedFetch.
 */
export const maxResponseBytesOption = () => {
  const error = 'Expected a whole number of bytes from 1024 (1 KiB) to 1073741824 (1 GiB)';
  return z.number({ error }).int({ error }).min(1024, { error }).max(1024 * 1024 * 1024, { error }).default(DEFAULT_MAX_RESPONSE_BYTES);
};

/** A response over maxResponseBytes (cappedFetch): a LIMIT_RUNNER_FAILED failure, never retried. */
export class ResponseTooLargeError extends HostedFailureError {
  constructor(
    failure: RunnerFailure,
    /** The limit, in bytes. */
    readonly maxBytes: number,
  ) {
    super(failure);
    this.name = 'ResponseTooLargeError';
  }
}

/**
 * A `fetch` for a vendor SDK (its `fetch` client option) that reads at most `maxBytes` of any
 * response: one whose Content-Length says more is refused before its body is read (and the body
 * cancelled); any other body — chunked, or an event stream — is counted as it arrives (after
 * decompression, so a compressed bomb counts what it unpacks to), and the moment it passes
 * `maxBytes` the connection is dropped and the body errors. Either way with ResponseTooLargeError
 * (LIMIT_RUNNER_FAILED, naming `label`, the host, the limit and the option). Without it an SDK
 * reads a reply, or an error body, whole into memory, however large a broken or hostile server
 * makes it. The body of an answer that is not 2xx is read here (within `maxBytes`): the SDKs read
 * it with any read error turned into its text, which would make the failure an HTTP error that
 * is retried. What this throws, the SDKs wrap in a connection error: `hostedFailureIn` finds it
 * there (HostedConversations, hostedRunnerHealth and sdkRetryable use it), so it is reported as
 * is and not retried. (Its message must not match /timed? ?out/i: the SDKs would take it for a
 * connection timeout and throw APIConnectionTimeoutError, without the cause.)
 */
export function cappedFetch(c: {
  /** The limit, in bytes (the maxResponseBytes option). */
  maxBytes: number;
  /** Starts the message: the plugin's name. */
  label: string;
  /** The fetch to wrap: globalThis.fetch (as it is at each call) when not given. */
  fetch?: typeof fetch;
}): typeof fetch {
  const tooLarge = (url: string, what: string) =>
    new ResponseTooLargeError(
      {
        code: 'LIMIT_RUNNER_FAILED',
        message: `${c.label}: ${hostOf(url)} sent a response larger than maxResponseBytes (${c.maxBytes} bytes): ${what}; raise the maxResponseBytes option if its answers really are this large`,
      },
      c.maxBytes,
    );
  const rebuilt = (response: Response, body: ConstructorParameters<typeof Response>[0]): Response => {
    const copy = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    Object.defineProperty(copy, 'url', { value: response.url });
    return copy;
  };
  return async (input, init) => {
    const response = await (c.fetch ?? globalThis.fetch)(input, init);
    if (!response.body) return response;
    const url = response.url || (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const declared = response.headers.get('content-length')?.trim();
    if (declared && /^\d+$/.test(declared) && Number(declared) > c.maxBytes) {
      response.body.cancel().catch(() => undefined);
      throw tooLarge(url, `its Content-Length is ${declared} bytes, so it was not read`);
    }
    let received = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength;
          // Throwing errors the body the SDK reads and cancels the connection's.
          if (received > c.maxBytes) throw tooLarge(url, `more than that arrived, so it was abandoned part-way`);
          controller.enqueue(chunk);
        },
      }),
    );
    if (response.ok) return rebuilt(response, counted);
    try {
      return rebuilt(response, await new Response(counted).arrayBuffer());
    } catch (error) {
      if (error instanceof ResponseTooLargeError || init?.signal?.aborted) throw error;
      // Any other read failure reaches the SDK as before: from the body it reads.
      return rebuilt(response, new ReadableStream({ start: (controller) => controller.error(error) }));
    }
  };
}

/**
 * The client options every vendor SDK of the OpenAI/Anthropic kind takes alike: the key (as the
 * client's only credential), the base URL (the option, else the vendor's), a per-request timeout (each call passes a
 * shorter one when its deadline is nearer), its log lines sent to pino through `sdkLogger`, and a
 * `fetch` that reads at most `maxResponseBytes` of each response (cappedFetch; 8 MiB when the
 * options have none). The SDK's own retries are off: the runner retries with `withRetries` (up to `maxRetries`),
 * whose waits end with the deadline and which starts no wait longer than the time left. Build the
 * client inside `withoutVendorEnv`, so that the SDK adds nothing from process.env.
 */
export function vendorClientOptions(
  options: { apiKey: string; baseURL?: string | undefined; maxRetries: number; timeoutMs: number; maxResponseBytes?: number | undefined },
  logger: Logger,
  sdk: string,
  /** The vendor's API when `baseURL` is unset. */
  defaultBaseURL: string,
  /** Starts the messages of its failures (cappedFetch): the plugin's name; `sdk` when not given. */
  label: string = sdk,
) {
  return {
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? defaultBaseURL,
    maxRetries: 0,
    timeout: options.timeoutMs,
    logLevel: 'warn' as const,
    logger: sdkLogger(logger, sdk, options.apiKey),
    fetch: cappedFetch({ maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, label }),
  };
}

/**
 * Builds a vendor SDK client (`build`, synchronous) with every `<prefix>_*` variable out of
 * process.env, each put back as soon as it returns: no other code runs meanwhile. The SDKs read
 * variables of their own when a client is constructed — openai@6: OPENAI_BASE_URL, _API_KEY,
 * _ADMIN_KEY, _ORG_ID, _PROJECT_ID, _WEBHOOK_SECRET, _LOG, _CUSTOM_HEADERS; @anthropic-ai/sdk@1:
 * ANTHROPIC_BASE_URL, _API_KEY, _AUTH_TOKEN, _PROFILE, _WEBHOOK_SIGNING_KEY, _LOG,
 * _OPEN_TELEMETRY*, _CUSTOM_HEADERS — and take them for what they are not given, or, for the
 * custom headers, on top of what they are (an `Authorization` line there replaces the key), so a
 * variable nobody configured could send the key to another host or other headers with it. A
 * runner's client is what its options say, the runtime's env (meta.env) and config, and nothing else.
 */
export function withoutVendorEnv<T>(prefix: string, build: () => T): T {
  const hidden = Object.entries(process.env).filter(([name]) => name.startsWith(`${prefix}_`));
  for (const [name] of hidden) delete process.env[name];
  try {
    return build();
  } finally {
    for (const [name, value] of hidden) process.env[name] = value;
  }
}

/** What a runner that calls a vendor can enforce: the deadline, and one turn at a time per session. */
export function hostedRunnerCapabilities(): RunnerCapabilities {
  return {
    timeout: true,
    memoryLimit: false,
    networkIsolation: false,
    envControl: false,
    // Turns of one session are sent one at a time, within any maxConcurrency >= 1.
    concurrencyLimit: true,
  };
}

/**
 * The start of what a vendor sent (its text, or a JSON value as JSON), as a message quotes it: on
 * one line, at most `max` characters, with `…` when it was cut; '' for nothing. `secret` (the API
 * key; required, so that no caller forgets it) is scrubbed from the whole of it first, from a JSON
 * value's strings as JSON writes them: cut first, a key that crosses the cut would keep its start,
 * which no scrubbing of the excerpt finds any more (a server, proxy or echo service that repeats
 * the Authorization header).
 */
export function vendorExcerpt(value: unknown, secret: string | undefined, max: number): string {
  const whole = typeof value === 'string' ? scrubSecret(value, secret) : value === undefined ? '' : (JSON.stringify(scrubSecretDeep(value, secret)) ?? String(value));
  const line = whole.replace(/\s+/g, ' ').trim();
  return line.length > max ? toWellFormed(`${line.slice(0, max)}…`) : line;
}

/**
 * What a response was, for messages: its content type and the start of its body (one line, at most
 * 80 characters: vendorExcerpt, `secret` scrubbed before the cut).
 */
export function describeAnswer(contentType: string | null | undefined, body: unknown, secret: string | undefined): string {
  const start = vendorExcerpt(body, secret, 80);
  return `${contentType || 'no content type'}${start ? ` (${JSON.stringify(start)})` : ''}`;
}

/** Whether a content type is JSON (`application/json`, `application/problem+json`, …). */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  const media = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return media === 'application/json' || media.endsWith('+json');
}

/** Whether a content type is a server-sent event stream. */
export function isEventStreamContentType(contentType: string | null | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}

/**
 * How long a hosted runner's health check may take: its requests (the models list, and the
 * model's own lookup where the runner has one), their bodies included, all together.
 */
export const HOSTED_HEALTH_TIMEOUT_MS = 3000;

/** What a health request brought back: its content type and parsed body (text when not JSON). */
export interface HostedHealthAnswer {
  contentType: string | null;
  body: unknown;
}

/**
 * Health of a hosted runner: `probe` (one quick request for the models list, no retries) proves
 * reachability and the key, and its answer must be a vendor's models list (JSON with a `data`
 * array), not whatever page a proxy or a wrong base URL returns. That the configured model is
 * served is then proved by `lookupModel` where the runner gives one (the vendor's "get a model"
 * endpoint: one more request, no retries), else read from the list when it is complete. The limits
 * a vendor call cannot enforce are reported as degraded capability checks.
 */
export async function hostedRunnerHealth(h: {
  baseURL: string;
  model: string;
  /**
   * The models list as it came back. Pass `signal` and `timeoutMs` to the request: the probe, its
   * body included, is bounded by HOSTED_HEALTH_TIMEOUT_MS whatever the SDK does (an SDK's timeout
   * ends with the headers).
   */
  probe(bound: { signal: AbortSignal; timeoutMs: number }): Promise<HostedHealthAnswer>;
  /**
   * Looks the configured model up directly (e.g. Anthropic's GET /v1/models/{model_id}), for a
   * vendor whose list cannot prove it: a list that comes in pages (`has_more`), or one without the
   * aliases the model option may name. Called once the list has proved the API and the key, with
   * the same bound (`timeoutMs`: the time left of it), never retried. Its answer must be JSON
   * naming the model (a string `id`: the model an alias resolves to); an error that `describe`
   * maps to status 404 makes the `model` check degraded (the vendor does not serve that model);
   * any other failure fails it. Without it the list's content is read: a complete list (no
   * `has_more: true`) that lacks the model makes the `model` check degraded.
   */
  lookupModel?(bound: { signal: AbortSignal; timeoutMs: number }): Promise<HostedHealthAnswer>;
  /** As HostedConversations' `describe`; called with `retries` 0, each request being one. */
  describe(error: unknown, retries?: number): RunnerFailure;
  details?: Record<string, unknown>;
  /** Scrubbed from what the answer is quoted as. */
  secret?: string | undefined;
  /** The prefix of the plugin's meta.env variables (`ANTHROPIC` for ANTHROPIC_MODEL): named in what to fix. */
  envPrefix?: string | undefined;
}): Promise<HealthResult> {
  const checks: NonNullable<HealthResult['checks']> = [];
  const host = hostOf(h.baseURL);
  const modelOption = `the model option${h.envPrefix ? ` (${h.envPrefix}_MODEL)` : ''}`;
  // The SDKs' timeout covers the wait for the headers only: a server (or proxy) that sends them and
  // then never finishes the body would hold health() — and `limit doctor` — forever.
  const deadline = withDeadline([], HOSTED_HEALTH_TIMEOUT_MS, 'health');
  const stop = rejectOnAbort(deadline.signal);
  /** One request, raced against the deadline: what it sent, or what it (or the deadline) threw. */
  const bounded = (request: (bound: { signal: AbortSignal; timeoutMs: number }) => Promise<HostedHealthAnswer>) => {
    const call = request({ signal: deadline.signal, timeoutMs: deadline.remainingMs() });
    call.catch(() => undefined); // it may settle after the deadline won
    return Promise.race([call, stop.promise]);
  };
  const failureOf = (error: unknown) => hostedFailureIn(error)?.failure ?? h.describe(error, 0);
  /** The `model` check from the model's own lookup (the list has proved the API and the key). */
  async function lookedUp(lookup: NonNullable<typeof h.lookupModel>): Promise<NonNullable<HealthResult['checks']>[number]> {
    const name = 'model';
    try {
      const { contentType, body } = await bounded(lookup);
      const id = body && typeof body === 'object' ? (body as { id?: unknown }).id : undefined;
      if (!isJsonContentType(contentType) || typeof id !== 'string') {
        const what = describeAnswer(contentType, body, h.secret);
        return { name, status: 'fail', message: `${host} answered the lookup of model "${h.model}" with ${what}, not a model` };
      }
      // An alias (`claude-sonnet-4-5`) resolves to the model id it stands for.
      return { name, status: 'ok', message: scrubSecret(`${host} serves model "${h.model}"${id === h.model ? '' : ` (as "${id}")`}`, h.secret) };
    } catch (error) {
      if (deadline.stopped()) {
        return { name, status: 'fail', message: `${host} did not answer the lookup of model "${h.model}" within ${HOSTED_HEALTH_TIMEOUT_MS} ms (the models list and the lookup together): the server (or a proxy in front of it) is not answering` };
      }
      const failure = failureOf(error);
      if (failure.status === 404) {
        return { name, status: 'degraded', message: scrubSecret(`${host} does not serve model "${h.model}" (looking it up answered 404): tasks fail with that model; check ${modelOption}`, h.secret) };
      }
      return { name, status: 'fail', message: failure.message };
    }
  }

  try {
    let listed = false;
    try {
      const { contentType, body } = await bounded((bound) => h.probe(bound));
      const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
      if (isJsonContentType(contentType) && Array.isArray(data)) {
        listed = true;
        checks.push({ name: 'api', status: 'ok', message: `${host} answered; model "${h.model}"` });
        // A complete list (not one page of it, `has_more`) that lacks the model: every task would be
        // refused (404) while the runner looked ready. Degraded, not failed: some OpenAI-compatible
        // servers answer whatever model is asked for.
        const ids = data.map((m) => (m && typeof m === 'object' ? (m as { id?: unknown }).id : undefined));
        const complete = (body as { has_more?: unknown }).has_more !== true && ids.every((id) => typeof id === 'string');
        if (!h.lookupModel && complete && !ids.includes(h.model)) {
          const listing = ids.length === 0 ? 'lists no models' : `lists ${ids.length} models (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}), not "${h.model}"`;
          checks.push({ name: 'model', status: 'degraded', message: scrubSecret(`${host} ${listing}: tasks fail if it does not serve that model; check ${modelOption}`, h.secret) });
        }
      } else {
        const what = describeAnswer(contentType, body, h.secret);
        checks.push({ name: 'api', status: 'fail', message: `${host} answered with ${what}, not a models list: is baseURL the API (a proxy or login page, a missing or extra /v1)?` });
      }
    } catch (error) {
      const message = deadline.stopped()
        ? `${host} did not send a complete models list within ${HOSTED_HEALTH_TIMEOUT_MS} ms: the server (or a proxy in front of it) is not answering`
        : failureOf(error).message;
      checks.push({ name: 'api', status: 'fail', message });
    }
    if (listed && h.lookupModel) checks.push(await lookedUp(h.lookupModel));
  } finally {
    stop.stop();
    deadline.clear();
  }

  checks.push(
    { name: 'capability:memoryLimit', status: 'degraded', message: 'memoryMb does not apply: the model runs at the vendor, not in this process' },
    {
      name: 'capability:networkIsolation',
      status: 'degraded',
      message: `allowNetwork is not enforced: every task is a request to ${host}; the model itself runs no code here`,
    },
    { name: 'capability:envControl', status: 'degraded', message: 'task env is not applied: no process is started for a task' },
  );
  const api = checks[0]!;
  const model = checks.find((c) => c.name === 'model');
  const failed = api.status !== 'ok' || model?.status === 'fail';
  const unserved = model?.status === 'degraded';
  const missing = h.lookupModel ? `${host} does not serve model "${h.model}"` : `${host} does not list model "${h.model}"`;
  return {
    status: failed ? 'fail' : unserved ? 'degraded' : 'ok',
    message: failed ? `cannot use ${host}` : unserved ? missing : `ready (${host}, ${h.model})`,
    checks,
    details: { baseURL: h.baseURL, model: h.model, ...h.details, unenforcedLimits: ['memoryMb', 'allowNetwork', 'env'] },
  };
}

/** One turn of a conversation, as `HostedConversations.run` hands it to the vendor call. */
export interface HostedTurn<M> {
  /** The session's conversation before this turn (earlier turns have all finished). */
  readonly history: readonly M[];
  /** Pass to the SDK: aborts on cancellation, session close or the deadline. */
  readonly signal: AbortSignal;
  /** The SDK's per-request timeout (see Deadline.remainingMs). */
  remainingMs(): number;
  /** What the model has said so far: append as it streams; kept as stdout if the turn fails part-way. */
  text: string;
  /**
   * The tokens the vendor says the turn used (prompt, reply): set as soon as the vendor reports them
   * (a JSON body's usage, a stream's usage event). They are the result's metrics whether the turn
   * succeeds or not: a refusal, a tool call, an empty or incomplete reply was billed all the same.
   */
  tokensIn?: number | null | undefined;
  tokensOut?: number | null | undefined;
}

/** A completed exchange: `append` joins the conversation (typically the user turn and the reply). */
export interface HostedTurnDone<M> {
  append: M[];
  value?: unknown;
}

interface ConversationState<M> {
  /** The tenant whose conversation this is: the same id from another tenant never continues it. */
  readonly tenant: string;
  readonly messages: M[];
  /** Tail of the session's task queue: turns of one conversation go one at a time. */
  tail: Promise<unknown>;
  /** Aborted by closeSession. */
  readonly controller: AbortController;
  /** Turns of the session running or queued (idle expiry never closes a session with one). */
  pending: number;
  /** When a turn of the session last started or ended (performance.now()): idle expiry (sessionIdleMs). */
  usedAt: number;
}

/**
 * Per-session conversations of a hosted runner (M: the vendor's message type). `run` queues the
 * turn behind the session's previous one, bounds it by the deadline, and turns every failure into
 * a RunResult; only a completed exchange joins the conversation. A conversation with no turn
 * started or ended for `sessionIdleMs`, and none running or queued, is forgotten as by
 * closeSession (SessionIdleSweeper): a session never closed would otherwise be kept for as long as
 * the process lives.
 */
export class HostedConversations<M> {
  readonly #sessions = new Map<string, ConversationState<M>>();
  #closed = false;
  readonly #idle: SessionIdleSweeper<ConversationState<M>>;

  constructor(
    private readonly o: {
      /** The plugin's name: starts messages, names the plugin in errors. */
      plugin: string;
      logger: Logger;
      /**
       * Maps what the vendor call threw (not a cancellation or deadline) to a failure. `retries`:
       * how many retries withRetries made before it gave up with this error, when it did (pass it
       * to vendorFailures' `status`, whose "(after N retries)" says it).
       */
      describe(error: unknown, retries?: number): RunnerFailure;
      /** The API key: scrubbed from every result (stdout, value) and from what joins the conversation. */
      secret?: string | undefined;
      /** The plugin's sessionIdleMs option (sessionIdleMsOption): 1 day when not given. */
      sessionIdleMs?: number | undefined;
    },
  ) {
    this.#idle = new SessionIdleSweeper({
      plugin: o.plugin,
      idleMs: o.sessionIdleMs ?? 86_400_000,
      sessions: this.#sessions,
      idleSince: (state) => (state.pending > 0 ? undefined : state.usedAt),
      close: (id, tenant) => this.closeSession(id, tenant),
      logger: o.logger,
    });
  }

  /**
   * Runs `turn` as the session's next turn. `timeoutMs` is the runner's own limit; the stricter of
   * it and the session's applies. Throws only LIMIT_RUNTIME_CLOSED after `dispose`, LIMIT_VALIDATION
   * for session limits SessionLimits refuses (checkSessionLimits), and LIMIT_CONFLICT for a session
   * id another tenant's conversation holds.
   */
  async run(ctx: RunContext, timeoutMs: number, turn: (t: HostedTurn<M>) => Promise<HostedTurnDone<M>>): Promise<RunResult> {
    const { plugin } = this.o;
    if (this.#closed) throw new LimitError('LIMIT_RUNTIME_CLOSED', `${plugin} is shut down`, { plugin });
    const limits = checkSessionLimits(plugin, ctx);
    const started = performance.now();
    // Cancelled before it began (a run racing its session's close): no state is made for it, which
    // nothing would ever forget again — the session's sessionClosed has already run.
    if (ctx.signal.aborted) return runResult(started, { text: '', failure: { code: 'LIMIT_RUNNER_ABORTED', message: `${plugin}: request aborted` } });
    const state = this.#state(ctx.session.id, ctx.session.tenant);
    const deadline = withDeadline([ctx.signal, state.controller.signal], Math.min(limits.timeoutMs, timeoutMs), plugin);
    const current: HostedTurn<M> = { history: state.messages, signal: deadline.signal, remainingMs: deadline.remainingMs, text: '' };
    const previous = state.tail;
    let release!: () => void;
    state.tail = Promise.all([previous, new Promise<void>((resolve) => (release = resolve))]);
    state.pending++;
    state.usedAt = performance.now();
    try {
      const early = deadline.stopped();
      if (early) return runResult(started, { text: current.text, failure: early });
      await untilAborted(previous, deadline.signal);
      // The vendor call is raced against the deadline: whatever an SDK awaits (a retry sleep that
      // ignores the signal, a body that never ends), the task returns when its time is up or it is cancelled.
      const stop = rejectOnAbort(deadline.signal);
      const call = turn(current);
      call.catch(() => undefined); // it may settle after the race is lost
      let done: HostedTurnDone<M>;
      try {
        done = await Promise.race([call, stop.promise]);
      } finally {
        stop.stop();
      }
      const secret = this.o.secret;
      current.text = scrubSecret(current.text, secret);
      state.messages.push(...scrubSecretDeep(done.append, secret));
      return runResult(started, { text: current.text, value: scrubSecretDeep(done.value, secret), tokensIn: current.tokensIn, tokensOut: current.tokensOut });
    } catch (error) {
      const stopped = deadline.stopped();
      const failure = stopped ?? this.#failure(error);
      if (failure.code !== 'LIMIT_RUNNER_TIMEOUT' && failure.code !== 'LIMIT_RUNNER_ABORTED') {
        (ctx.logger ?? this.o.logger).warn({ session: ctx.session.id, traceId: ctx.traceId, code: failure.code, status: failure.status }, failure.message);
      }
      const value = !stopped && error instanceof HostedFailureError ? scrubSecretDeep(error.value, this.o.secret) : undefined;
      // A turn's text is a string unless the plugin has a bug: the run still resolves with a result.
      const text = typeof current.text === 'string' ? current.text : '';
      return runResult(started, { text: scrubSecret(text, this.o.secret), failure, value, tokensIn: current.tokensIn, tokensOut: current.tokensOut });
    } finally {
      deadline.clear();
      state.pending--;
      state.usedAt = performance.now();
      release();
    }
  }

  #failure(error: unknown): RunnerFailure {
    const known = hostedFailureIn(error);
    if (known) return known.failure;
    // The retries really made: an answer that said not to retry (x-should-retry: false), or a
    // different error on a later attempt, ends them before maxRetries.
    const made = typeof error === 'object' && error !== null ? retriesMade.get(error) : undefined;
    if (made !== undefined) return this.o.describe(error, made);
    if (error instanceof RetryTooLateError) {
      const base = error.error instanceof HostedFailureError ? error.error.failure : this.o.describe(error.error, error.retries);
      const wait = error.waitMs >= 1000 ? `${Math.round(error.waitMs / 100) / 10} s` : `${error.waitMs} ms`;
      const why = error.asked ? `the server asked to retry in ${wait}` : `the next retry was due in ${wait}`;
      return { ...base, message: scrubSecret(`${base.message}; not retried: ${why}, and the task has ${error.leftMs} ms left`, this.o.secret) };
    }
    return this.o.describe(error);
  }

  /** A copy of a session's conversation (for inspection and tests). */
  history(sessionId: string): M[] | undefined {
    const state = this.#sessions.get(sessionId);
    return state ? structuredClone(state.messages) : undefined;
  }

  /**
   * Aborts the session's running turn, waits for its queue to drain, and forgets the conversation.
   * With `tenant` (the orchestrator always passes it), only that tenant's: another tenant closing a
   * session of the same id (ids are the caller's to choose) leaves this conversation alone.
   */
  async closeSession(sessionId: string, tenant?: string): Promise<void> {
    const state = this.#sessions.get(sessionId);
    if (!state || (tenant !== undefined && state.tenant !== tenant)) return;
    this.#sessions.delete(sessionId);
    state.controller.abort(new LimitError('LIMIT_SESSION_CLOSED', `Session "${sessionId}" closed`));
    await state.tail.catch(() => undefined);
  }

  /**
   * Closes every session (at shutdown): each close ends even when another fails, then the first
   * failure in session order is thrown. A second call does nothing.
   */
  async dispose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    await allInOrder([...this.#sessions.keys()].map((id) => this.closeSession(id)));
  }

  #state(id: string, tenant: string): ConversationState<M> {
    let state = this.#sessions.get(id);
    if (!state) {
      state = { tenant, messages: [], tail: Promise.resolve(), controller: new AbortController(), pending: 0, usedAt: performance.now() };
      this.#sessions.set(id, state);
      this.#idle.watch();
    } else if (state.tenant !== tenant) {
      throw new LimitError('LIMIT_CONFLICT', `Session id "${id}" is in use on this runner by another tenant`, {
        details: { sessionId: id }, fix: 'Use the session ids the server generates; they are unique.',
      });
    }
    return state;
  }
}

const RunResultShape = RunOutput.extend({ metrics: RunMetrics });

/**
 * A runner's result checked against the contract (RunOutput and RunMetrics) where it is received:
 * the parsed result, or LIMIT_RUNNER_FAILED naming the runner and each bad field —
 * `Runner "shell" returned an invalid result: metrics.latencyMs: Too small: expected number to be >=0`
 * (a `value` that does not survive JSON included).
 * A result that breaks the contract is the runner's failure, not the caller's request.
 */
export function parseRunResult(value: unknown, runner: string): RunResult {
  const parsed = RunResultShape.safeParse(value);
  let issues: { path: string; message: string }[];
  if (parsed.success) {
    // `value` is free-form, but it is stored: only what survives JSON (no cycles, BigInts, NaN).
    try {
      if (parsed.data.value !== undefined) assertJsonSafe(parsed.data.value, 'result', 'value');
      return parsed.data;
    } catch (error) {
      issues = (error as LimitError).details?.issues as { path: string; message: string }[];
    }
  } else {
    issues = formatIssues(parsed.error.issues, 'result');
  }
  const fields = issues.map((i) => (i.path === '(root)' ? i.message : `${i.path}: ${i.message}`));
  throw new LimitError('LIMIT_RUNNER_FAILED', `Runner "${runner}" returned an invalid result: ${fields.join('; ')}`, {
    details: { runner, issues: issues.map(({ path, message }) => ({ path, message })) },
    fix: `A bug in the runner "${runner}": executeIsolated must resolve to { ok, stdout, stderr, value?, error?, metrics: { latencyMs, tokensIn?, tokensOut?, exitCode? } } (kernel/contracts/runner.ts); report it to the plugin's author.`,
  });
}

/**
 * The session limits of a task, checked against SessionLimits before a runner applies any of them:
 * the parsed limits, or LIMIT_VALIDATION naming the runner and each bad field —
 * `runner-openai: invalid session limits: memoryMb: Too small: expected number to be >=16`.
 * Sessions opened through the runtime always pass; a direct caller of executeIsolated may have
 * made its limits up, and a bad one must never be applied silently (memoryMb 0 would set no memory
 * limit at all, a fraction would fail every task's start, maxConcurrency 0 would queue every task
 * until its timeout, a negative timeoutMs would end every task at once). Every built-in runner calls
 * it first in executeIsolated; it throws (misuse), it is not a failed result.
 */
export function checkSessionLimits(runner: string, ctx: RunContext): SessionLimits {
  const parsed = SessionLimits.safeParse(ctx.session.limits);
  if (parsed.success) return parsed.data;
  const issues = formatIssues(parsed.error.issues, 'session limits');
  const fields = issues.map((i) => (i.path === '(root)' ? i.message : `${i.path}: ${i.message}`));
  throw new LimitError('LIMIT_VALIDATION', `${runner}: invalid session limits: ${fields.join('; ')}`, {
    plugin: runner,
    details: { runner, sessionId: ctx.session.id, issues: issues.map(({ path, message }) => ({ path, message })) },
    fix: 'Pass session limits made by SessionLimits.parse (sessions opened through the runtime have them).',
  });
}

/**
 * Refuses (LIMIT_VALIDATION naming the field) a task whose `files` or `args` a runner that starts no
 * process for a task cannot use — the hosted and local model runners send only `task.input` to the
 * model: files would have no working directory to go to, args no command line. Run without them, the
 * task would answer something else than was asked, without a word. (`env` is reported instead, as the
 * unenforced `envControl` capability: it changes how a task runs, not what it asks.)
 */
export function refuseProcessFields(runner: string, task: Pick<TaskParsed, 'files' | 'args'>): void {
  const field = task.files && Object.keys(task.files).length > 0 ? 'files' : task.args && task.args.length > 0 ? 'args' : undefined;
  if (!field) return;
  throw new LimitError('LIMIT_VALIDATION', `${runner}: task.${field} cannot be used: the model is sent task.input only (no process is started, so there is no ${field === 'files' ? 'working directory for files' : 'command line for args'})`, {
    plugin: runner,
    details: { runner, field: `task.${field}` },
    fix: `Put what the model needs to read in task.input, or run the task on a runner that starts a process (runner-python).`,
  });
}
