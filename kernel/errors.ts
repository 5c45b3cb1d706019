import { inspect, types } from 'node:util';

/**
 * Every error LIMIT-Graph raises on purpose is a `LimitError` with a stable `code` from this one
 * catalogue. Codes never change meaning; messages may improve. Each entry carries the HTTP status
 * the API answers with and a one-line `fix` a person can act on.
 */
export interface ErrorSpec {
  /** Default message when the thrower gives none. */
  readonly message: string;
  /** One line telling the user what to do about it. */
  readonly fix: string;
  /** HTTP status used by the API for this code. */
  readonly status: number;
}

const spec = (message: string, fix: string, status = 500): ErrorSpec => ({ message, fix, status });

/**
 * Every error code with its default message, fix and HTTP status. A `LimitError` takes its message
 * and fix from here unless the thrower gives its own.
 */
export const ERROR_CODES = Object.freeze({
  // configuration
  LIMIT_CONFIG_NOT_FOUND: spec('Configuration file not found', 'Pass an existing file with --config, or create limit.config.ts in the project root.'),
  LIMIT_CONFIG_LOAD_FAILED: spec('Configuration file could not be loaded', 'Fix the syntax or import error reported in the cause, then run `limit config` again.'),
  LIMIT_CONFIG_INVALID: spec('Configuration is invalid', 'Correct each field listed above; `limit config --json` prints the resolved configuration.'),
  LIMIT_PRESET_NOT_FOUND: spec('Preset not found', 'Use a built-in preset name (see presets/) or a path relative to the config file.'),
  LIMIT_PRESET_CYCLE: spec('Presets extend each other in a cycle', 'Remove one of the `extends` entries named in the message.'),
  // plugins
  LIMIT_PLUGIN_NOT_FOUND: spec('Plugin not found', "Check the plugin name in `plugins` of the config file: a plugin of your own is named by its path relative to the config file ('./plugins/<name>'), a published one by its package name once installed."),
  LIMIT_PLUGIN_LOAD_FAILED: spec('Plugin module could not be loaded', 'Fix the syntax error, import or exception at load reported in the cause (the message names the plugin entry and its file).'),
  LIMIT_PLUGIN_INVALID: spec('Not a valid plugin', 'Create plugins with definePlugin({ meta, options, setup }) and export the plugin (or a factory) as default.'),
  LIMIT_PLUGIN_OPTIONS_INVALID: spec('Plugin options are invalid', "Correct the plugin's options in the config file; its README lists every option."),
  LIMIT_PLUGIN_DUPLICATE: spec('Two plugins have the same name', 'Remove one of them from limit.config.ts; plugin names must be unique.'),
  LIMIT_PLUGIN_DEPENDENCY_MISSING: spec('A plugin depends on something no plugin provides', 'Add a plugin that provides the missing key to limit.config.ts, or remove the dependent plugin.'),
  LIMIT_PLUGIN_DEPENDENCY_CYCLE: spec('Plugins depend on each other in a cycle', 'Break the cycle by removing one of the dependsOn entries on the printed path.'),
  LIMIT_PLUGIN_PROVIDER_CONFLICT: spec('Two plugins provide the same container key', 'Keep only one of the plugins that provide this key in limit.config.ts.'),
  LIMIT_PLUGIN_CONFLICT: spec('Two plugins declare a conflict with each other', 'Remove one of the conflicting plugins from limit.config.ts.'),
  LIMIT_PLUGIN_SETUP_TIMEOUT: spec('Plugin setup did not finish in time', "Check what the plugin waits for (a database, a model file) or raise `setupTimeoutMs` in limit.config.ts."),
  LIMIT_PLUGIN_SETUP_FAILED: spec('Plugin setup failed', 'Read the cause below; it usually names a missing resource or a bad option.'),
  LIMIT_PLUGIN_UNDECLARED_PROVIDE: spec('A plugin registered a key it does not declare in meta.provides', "Add the key to the plugin's meta.provides."),
  LIMIT_PLUGIN_DISPOSE_FAILED: spec('Plugin dispose failed', "Read the cause; the other plugins were still disposed."),
  LIMIT_HOOK_TAP_FAILED: spec('A plugin hook tap threw', 'Read the cause; the plugin named in the message raised it inside the hook.'),
  LIMIT_PLUGIN_FAILED: spec('A service a plugin provides failed with a value that is not an Error', "A bug in the plugin named in the message: it threw (or rejected with) something that is not an Error. Report it to the plugin's author; a plugin throws an Error, or a LimitError with a code and a fix."),
  // runtime and container
  LIMIT_SERVICE_NOT_FOUND: spec('No service is registered under this key', 'Add a plugin that provides the key (see `limit plugins`).'),
  LIMIT_RUNTIME_CLOSED: spec('The runtime has been shut down', 'Create a new runtime with createRuntime().'),
  LIMIT_SESSION_CLOSED: spec('The session is closed', 'Open a new session.', 409),
  LIMIT_SESSION_BUSY: spec('Too many runs of the session are waiting for a slot', "Retry once runs of the session have finished, send fewer at once, or raise the session's maxConcurrency or the orchestrator's maxWaitingRuns.", 429),
  // generic request errors (used by storage, orchestrator and API)
  LIMIT_VALIDATION: spec('Invalid input', 'Correct the field named in the message.', 400),
  LIMIT_NOT_FOUND: spec('Not found', 'Check the id; records of other tenants are invisible.', 404),
  LIMIT_CONFLICT: spec('Conflict with the current state', 'Reload the record and retry.', 409),
  LIMIT_PAYLOAD_TOO_LARGE: spec('Record too large', 'Reduce the size of the record or raise the configured limit.', 413),
  LIMIT_UNAUTHORIZED: spec('Authentication required', 'Send a valid API key: Authorization: Bearer <key> or X-API-Key: <key>.', 401),
  LIMIT_FORBIDDEN: spec('Not allowed', 'Use an API key with the needed permission.', 403),
  LIMIT_METHOD_NOT_ALLOWED: spec('The path does not take this method', 'Send one of the methods the Allow header lists; GET /openapi.json lists every route and its methods.', 405),
  LIMIT_RATE_LIMITED: spec('Too many requests', 'Wait and retry after the time in the Retry-After header.', 429),
  LIMIT_UNSUPPORTED_MEDIA_TYPE: spec('The request body is not application/json', 'Send the body as JSON with Content-Type: application/json.', 415),
  LIMIT_INTERNAL: spec('The server failed to handle the request', 'Report the requestId; the server log holds the cause.', 500),
  // CLI
  LIMIT_COMMAND_UNAVAILABLE: spec('The command comes from a plugin that the configuration does not load', "Enable the plugin named in the message in the config's plugins. extends: 'default' loads most built-in plugins but not runner-queue (limit worker), the LLM runners or the LLM judge; the message says when it would help."),
  // HTTP server (`limit serve`)
  LIMIT_LISTEN_FAILED: spec('The HTTP server cannot listen on this address', 'Choose another --port (or stop the process that uses it), or a --host that is an address of this machine.'),
  // storage
  LIMIT_STORAGE_UNAVAILABLE: spec('Storage backend unavailable', 'Check that the database is running and DATABASE_URL / the path is right.', 503),
  LIMIT_STORAGE_CORRUPT: spec('Stored data is corrupt', 'Restore from a backup; `limit verify` reports which records are affected.'),
  LIMIT_STORAGE_MIGRATION_FAILED: spec('Storage migration failed', 'Read the cause; the schema was left at its previous version.'),
  LIMIT_PROVENANCE_CONFLICT: spec('Provenance chain could not be extended after retries', 'Retry the append; many writers contend for this trace.', 409),
  // runners
  LIMIT_RUNNER_NOT_FOUND: spec('Runner not found', 'Enable the runner plugin in limit.config.ts (see `limit plugins`).', 404),
  LIMIT_RUNNER_TIMEOUT: spec('Execution exceeded its time limit', 'Raise timeoutMs for the session or the runner, or make the task faster.', 504),
  LIMIT_RUNNER_ABORTED: spec('Execution was aborted', 'The caller cancelled the task.', 499),
  LIMIT_RUNNER_FAILED: spec('Runner failed', 'Read the cause; the runner could not execute the task.', 502),
  LIMIT_RUNNER_UNAVAILABLE: spec('Runner unavailable', 'Run `limit doctor` to see why the runner is unhealthy.', 503),
  LIMIT_RUNNER_TASK_ERROR: spec('The task failed: it raised an error or exited non-zero', 'Read stderr and error.message; fix the task.', 422),
  LIMIT_RUNNER_MEMORY_EXCEEDED: spec('Execution exceeded its memory limit', 'Raise memoryMb for the session or the runner, or make the task use less memory.', 507),
  LIMIT_RUN_LOST: spec('The run was not finished by the process that started it', 'The process that ran the task ended without recording its outcome (killed, out of memory, power loss); run the task again.'),
  // governance
  LIMIT_GOVERNANCE_BLOCKED: spec('Blocked by governance policy', 'Review the flags on the trace; change the policy only if the block is wrong.', 403),
  LIMIT_MERGE_REFUSED: spec('Merge refused by governance', 'Release or fix the parents named in the message, or change the policy.', 409),
  LIMIT_RULE_INVALID: spec('Governance rule is invalid', 'A rule needs { id, flag, surfaces, evaluate }.'),
  LIMIT_GOVERNANCE_PACK_MISSING: spec('A governance preset (or the governance plugin\'s packs option) names a rule pack that no plugin provides', 'Add extends: \'default\' to the config (it enables every built-in rule pack), or enable the plugin governance-rules-<pack>, or list only loaded packs in the governance plugin\'s `packs` option.'),
  LIMIT_GOVERNANCE_STORAGE_REQUIRED: spec('This governance operation needs a storage plugin', 'Select a storage backend (storage: \'sqlite\') in limit.config.ts; check and eval work without one.'),
  // rate–distortion
  LIMIT_RD_INVALID_INPUT: spec('Invalid rate–distortion input', 'Correct the field named in the message.', 422),
  LIMIT_RD_NOT_CONVERGED: spec('Rate–distortion computation did not converge', 'Raise maxIter or epsilon.', 422),
  LIMIT_RD_BUSY: spec('Too many rate–distortion computations are waiting', 'Retry later, or raise the rd plugin\'s poolSize or maxQueued.', 503),
  LIMIT_RD_ABORTED: spec('Rate–distortion computation was aborted', 'The caller cancelled the computation (or the client hung up); nothing to fix unless that was not intended.', 499),
  // artifacts (orchestrator export / verify)
  LIMIT_ARTIFACT_INVALID: spec('Artifact does not verify', 'The artifact was changed after export or is incomplete; export it again from the store.', 422),
});

/** A stable error code: a key of ERROR_CODES (`LIMIT_PLUGIN_DEPENDENCY_MISSING`, …). */
export type LimitErrorCode = keyof typeof ERROR_CODES;

/** What a `LimitError` may carry besides its code and message. */
export interface LimitErrorOptions {
  /** The plugin in which the error happened, when known. */
  plugin?: string;
  /** The hook in which the error happened, when known. */
  hook?: string;
  /** Replaces the catalogue's fix for this occurrence. */
  fix?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Structured, serialisable details (field paths, ids, the cycle path …). */
  details?: Record<string, unknown>;
}

/** The one error type of LIMIT-Graph: a stable code, where it happened, why, and how to fix it. */
export class LimitError extends Error {
  override readonly name = 'LimitError';
  readonly code: LimitErrorCode;
  readonly plugin?: string;
  readonly hook?: string;
  readonly fix: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: LimitErrorCode, message?: string, options: LimitErrorOptions = {}) {
    const entry = ERROR_CODES[code];
    super(message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fix = options.fix ?? entry.fix;
    this.status = entry.status;
    if (options.plugin !== undefined) this.plugin = options.plugin;
    if (options.hook !== undefined) this.hook = options.hook;
    if (options.details !== undefined) this.details = options.details;
  }

  /** A JSON-friendly view (used by the CLI's --json output and the API's problem documents). */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      fix: this.fix,
      ...(this.plugin ? { plugin: this.plugin } : {}),
      ...(this.hook ? { hook: this.hook } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Cross-realm safe check (config files are loaded in their own module namespace). */
export function isLimitError(value: unknown, code?: LimitErrorCode): value is LimitError {
  if (!(value instanceof Error) || (value as { name?: string }).name !== 'LimitError') return false;
  return code === undefined || (value as LimitError).code === code;
}

/** Whether a thrown value is an Error (of this realm or another: a config file's, a worker's). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * A thrown value in words, for a message: an Error's message; a string as it is; anything else
 * (undefined, null, a number, a plain object) as util.inspect shows it, marked as not an Error —
 * `{ code: 'EFIRE' } (thrown instead of an Error)`, never `[object Object]` or a bare `undefined`.
 */
export function describeThrown(value: unknown): string {
  if (isError(value)) return value.message || value.name;
  if (typeof value === 'string' && value !== '') return value;
  return `${inspect(value, { depth: 2, breakLength: Infinity })} (thrown instead of an Error)`;
}

/** What toLimitError adds to a value that is not a LimitError yet. */
export interface ToLimitErrorOptions extends Omit<LimitErrorOptions, 'cause'> {
  /** The message from the thrown value described (describeThrown); default: that description. */
  message?: (reason: string) => string;
}

/**
 * Any thrown value as a LimitError: the one normalisation the kernel (setup, hooks, health,
 * dispose, the services plugins provide), the CLI and the HTTP API's error handler use. A LimitError
 * stays as it is, and gains `plugin` and `hook` when it names none; an Error or any other value
 * (undefined, null, a string, a plain object) becomes a LimitError with `code`, a readable message
 * (see describeThrown) and the value as its `cause`.
 */
export function toLimitError(value: unknown, code: LimitErrorCode, options: ToLimitErrorOptions = {}): LimitError {
  const { message, ...rest } = options;
  if (isLimitError(value)) {
    const where = value as { plugin?: string; hook?: string };
    if (rest.plugin !== undefined) where.plugin ??= rest.plugin;
    if (rest.hook !== undefined) where.hook ??= rest.hook;
    return value;
  }
  const reason = describeThrown(value);
  return new LimitError(code, message ? message(reason) : reason, { ...rest, cause: value });
}

/** Renders an error for a terminal: the message, where it happened, the fix and the cause chain. */
export function formatError(error: unknown): string {
  if (!isLimitError(error)) return isError(error) ? (error.stack ?? error.message) : describeThrown(error);
  const lines = [`${error.code}: ${error.message}`];
  if (error.plugin || error.hook) {
    lines.push(`  at ${[error.plugin && `plugin "${error.plugin}"`, error.hook && `hook "${error.hook}"`].filter(Boolean).join(', ')}`);
  }
  lines.push(`  fix: ${error.fix}`);
  // Every cause, an Error or not (a plugin that threw `{ reason: 'bad db' }`), except one whose text
  // the message above it already quotes (`Could not load x.ts: boom` over `boom`): said once.
  let above = error.message;
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 10; depth++) {
    const text = describeThrown(cause);
    if (!quotes(above, text)) lines.push(`  cause: ${text}`);
    above = text;
    cause = isError(cause) ? cause.cause : undefined;
  }
  return lines.join('\n');
}

/**
 * An error's message and, after ': ', the text of each cause that the text above it does not already
 * quote — formatError's cause chain on one line. The logger's `err.message`: pino's own serializer
 * appends every cause, so `Plugin "x" failed to dispose: cannot release` was logged with
 * `: cannot release` once more.
 */
export function messageWithCauses(error: Error): string {
  let text = error.message;
  let above = error.message;
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 10; depth++) {
    const described = describeThrown(cause);
    if (!quotes(above, described)) text += `: ${described}`;
    above = described;
    cause = isError(cause) ? cause.cause : undefined;
  }
  return text;
}

/** Whether `message` holds `text` whole: not as part of a longer word (`boom` is not in `kaboom`). */
function quotes(message: string, text: string): boolean {
  if (text === '') return true;
  for (let at = message.indexOf(text); at >= 0; at = message.indexOf(text, at + 1)) {
    const before = message[at - 1];
    const after = message[at + text.length];
    if ((before === undefined || !/\w/.test(before) || !/\w/.test(text[0]!)) && (after === undefined || !/\w/.test(after) || !/\w/.test(text.at(-1)!))) return true;
  }
  return false;
}
