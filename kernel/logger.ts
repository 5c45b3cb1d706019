import pino from 'pino';
import { isError, messageWithCauses } from './errors.ts';

/** A pino logger. A plugin's `ctx.logger` is a child carrying the plugin's name. */
export type Logger = pino.Logger;
/** pino's levels, and `silent` for none: the config's `logLevel` (env LIMIT_LOG_LEVEL). */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Paths pino censors in every log line. Secrets never reach a log: API keys, passwords, bearer
 * tokens and connection strings. (Plain `url` fields are not censored: they are usually addresses;
 * a value that may hold credentials belongs under `connectionString`/`databaseUrl`.)
 */
export const REDACT_PATHS = [
  'apiKey', '*.apiKey', '*.*.apiKey', 'password', '*.password', '*.*.password', 'token', '*.token',
  'secret', '*.secret', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'req.headers["x-api-key"]', 'headers["x-api-key"]', 'connectionString', '*.connectionString', 'databaseUrl', '*.databaseUrl',
  // api-http's key ring (`auth.keys[].key`, `apiKeys`), at the depths a logged config, plugins map or
  // options object puts it: { options }, { plugins: { 'api-http': … } }, { config: { plugins: … } }.
  'keys[*].key', '*.keys[*].key', '*.*.keys[*].key', '*.*.*.keys[*].key', '*.*.*.*.keys[*].key',
  'apiKeys', '*.apiKeys', '*.*.apiKeys', '*.*.*.apiKeys',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Where log lines go; stderr by default so that stdout stays clean for `--json` output. */
  destination?: pino.DestinationStream;
}

/**
 * pino's `err` serializer (type, message, stack, the error's own fields), with the message its
 * causes are added to only where it does not quote them already (messageWithCauses): pino's own
 * repeats a cause that a LimitError's message holds (`failed to dispose: cannot release: cannot release`).
 */
function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error);
  if (isError(err) && typeof serialized === 'object' && serialized !== null) (serialized as { message: string }).message = messageWithCauses(err);
  return serialized;
}

/** The root logger. Plugins get `logger.child({ plugin })`, sessions `logger.child({ session })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}
