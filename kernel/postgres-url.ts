import { z } from 'zod';

/**
 * The zod schema of a PostgreSQL URL option (storage-postgres' `url`, runner-queue's `url`, set
 * from DATABASE_URL and the like): `postgres://` or `postgresql://`, and a URL that node-postgres
 * can parse — a port of 1–65535, no bare special characters where the URL syntax forbids them. A
 * malformed one is refused where the option is validated, naming the field and the variable it
 * came from, not at boot as "Cannot reach PostgreSQL … Invalid URL". The message never repeats
 * the URL (it may hold a password).
 */
export function postgresUrl(options: { missing?: string } = {}) {
  return z
    .string(options.missing ? { error: (issue) => (issue.input === undefined ? options.missing : undefined) } : undefined)
    .regex(/^postgres(ql)?:\/\//, { message: 'Expected a postgres:// or postgresql:// URL', abort: true })
    .superRefine((value, ctx) => {
      const why = malformed(value);
      if (why) ctx.addIssue({ code: 'custom', message: `Expected a well-formed postgres:// URL: ${why}` });
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
