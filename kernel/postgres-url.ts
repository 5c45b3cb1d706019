import { z } from 'zod';

/**
 * The zod schema of a PostgreSQL URL option (storage-postgres' `url`, runner-queue's `url`, set
 * from DATABASE_URL and the like): `postgres://` or `postgresql://`, and a URL that node-postgres
 * can parse — a port of 1–65535, no bare special characters where the URL syntax forbids them. A
 * malformed one is refused where the option is validated, naming the field and the variable it
 * came from, not at boot as "Cannot reach PostgreSQL … Invalid URL". The message never repeats
 * the URL (it may hold a password). A query parameter node-postgres does not read (`?schema=`,
 * `?connect_timeout=`, a typo) is refused too, naming it, as are an `ssl` or `sslmode` value it would
 * not read as written (`?ssl=false` turns SSL on): it would be ignored without a word.
 */
export function postgresUrl(options: { missing?: string } = {}) {
  return z
    .string(options.missing ? { error: (issue) => (issue.input === undefined ? options.missing : undefined) } : undefined)
    .regex(/^postgres(ql)?:\/\//, { message: 'Expected a postgres:// or postgresql:// URL', abort: true })
    .superRefine((value, ctx) => {
      const why = malformed(value);
      if (why) ctx.addIssue({ code: 'custom', message: `Expected a well-formed postgres:// URL: ${why}` });
      const param = why ? undefined : unreadParameter(value);
      if (param) ctx.addIssue({ code: 'custom', message: `Expected a postgres:// URL whose query parameters node-postgres reads: ${param}` });
    });
}

/** Why node-postgres could not parse `value` (it parses with WHATWG URL), or undefined. */
function malformed(value: string): string | undefined {
  const authority = /^postgres(?:ql)?:\/\/([^/?#]*)/.exec(value)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1];
  if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    // Not quoted: with a bare # or / in the password, what reads as the port is part of the password.
    return /^\d+$/.test(port)
      ? 'the port must be a number from 1 to 65535 (postgres://user:password@host:5432/database)'
      : 'the port is not a number (postgres://user:password@host:5432/database); percent-encode special characters of the user name or password (# as %23, / as %2F, @ as %40)';
  }
  try {
    new URL(value);
  } catch {
    return 'it does not parse as a URL; percent-encode special characters of the user name or password (# as %23, / as %2F, @ as %40)';
  }
  return undefined;
}

/** Why a query parameter of `value` (a URL that parses) would be ignored or misread by node-postgres, or undefined. */
function unreadParameter(value: string): string | undefined {
  for (const [name, setting] of new URL(value).searchParams) {
    if (!PG_PARAMS.has(name)) {
      // Only the name is quoted: a value may be a secret.
      const instead = SCHEMA_PARAMS.has(name) ? ' (the schema is a plugin option: storage-postgres\'s and runner-queue\'s schema)' : '';
      return `query parameter ${JSON.stringify(name)} is not read by node-postgres${instead}, so it would be ignored; remove it. Read: ${[...PG_PARAMS].join(', ')}`;
    }
    if (name === 'ssl' && !['true', '1', '0'].includes(setting)) {
      return 'ssl must be true, 1 or 0 (node-postgres reads any other value, "false" included, as SSL on); to turn SSL off write ssl=0 or sslmode=disable';
    }
    if (name === 'sslmode' && !SSL_MODES.has(setting)) {
      return `sslmode must be one of ${[...SSL_MODES].join(', ')} (node-postgres would turn any other value into verify-full)`;
    }
  }
  return undefined;
}

/**
 * The query parameters node-postgres reads from a connection string (pg-connection-string, then
 * pg's ConnectionParameters); it drops any other without a word. `host` names a socket folder.
 */
const PG_PARAMS: ReadonlySet<string> = new Set([
  'host', 'port', 'user', 'password', 'options', 'application_name', 'fallback_application_name', 'client_encoding',
  'ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslnegotiation', 'uselibpqcompat',
  'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'query_timeout',
]);

/** Names other clients (JDBC, Prisma, libpq's options) use for the schema; none is read here. */
const SCHEMA_PARAMS: ReadonlySet<string> = new Set(['schema', 'currentSchema', 'search_path', 'searchpath']);

/** The sslmode values node-postgres handles; it treats any other as SSL with full verification. */
const SSL_MODES: ReadonlySet<string> = new Set(['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']);
