const SECRET_KEY = /(api[-_]?key|password|passwd|secret|token|authorization|credential|private[-_]?key)/i;

/**
 * A deep copy with secrets replaced by "[redacted]": values under secret-looking keys, the
 * credentials of URLs (`postgres://user:pw@host` → `postgres://user:[redacted]@host`, and
 * secret-looking query parameters such as `?password=pw`), and the password of a keyword/value
 * connection string (`host=db password=pw` → `host=db password=[redacted]`).
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, undefined, false, new Set()) as T;
}

/**
 * A list of credentials (api-http's `auth.keys: [{ key, tenant, name }]`): the `key` field of each
 * entry is the secret. A lone `key` elsewhere is not (`tls.key` is the path of a PEM file).
 */
const KEY_RING = /^(api[-_]?)?keys$/i;

/**
 * A request target with the values of secret-looking query parameters replaced by "[redacted]"
 * (`/x?api_key=k&limit=5` → `/x?api_key=[redacted]&limit=5`): a client that puts its key in the
 * query string (as other APIs ask) must not have it written to a log. `key`, `sig`, `signature`,
 * `bearer`, `jwt`, `pass`, `pwd`, `sid` and `session` count too (not `sessionId`). Parameters `;`
 * separates count as well, in the query (`?x=1;api_key=k`) and in a path segment
 * (`/health;api_key=k`): from a secret one to the next `&` all is masked, so a value with a
 * `;` is never shown in part; in the path, to the end of the path (the `?`), as a key may hold a `/`.
 * The rest of the target is kept byte for byte.
 */
export function redactQuery(target: string, mask = '[redacted]'): string {
  const at = target.indexOf('?');
  let path = at < 0 ? target : target.slice(0, at);
  // Every request's log line passes here: a path without `;` has no parameters to mask.
  if (path.includes(';')) {
    const segments = path.split('/');
    for (let i = 0; i < segments.length; i++) {
      const masked = maskFromSecret(segments[i]!, mask, 1);
      if (masked !== undefined) {
        segments.splice(i, segments.length - i, masked);
        break;
      }
    }
    path = segments.join('/');
  }
  if (at < 0) return path;
  const query = target.slice(at + 1).split('&').map((pair) => maskFromSecret(pair, mask, 0) ?? pair);
  return `${path}?${query.join('&')}`;
}

/** Query parameter names that carry a credential though SECRET_KEY does not catch them. */
const SECRET_PARAM = /^(key|sig|signature|access[-_]?key|auth|bearer|jwt|pass|pwd|sid|session)$/i;

/** Whether a parameter name (percent-decoded, `+` read as a space) is secret-looking. */
function secretParam(raw: string): boolean {
  let name = raw;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // A malformed escape: judge the name as sent.
  }
  return SECRET_KEY.test(name) || SECRET_PARAM.test(name);
}

/**
 * `text` (a query pair, or a path segment) read as `;`-separated `name=value` parts from part
 * `first` on: the value of the first secret one, and all after it, replaced by `mask`; undefined
 * when no part is secret.
 */
function maskFromSecret(text: string, mask: string, first: number): string | undefined {
  const parts = text.split(';');
  for (let i = first; i < parts.length; i++) {
    const eq = parts[i]!.indexOf('=');
    if (eq >= 0 && secretParam(parts[i]!.slice(0, eq))) return [...parts.slice(0, i), `${parts[i]!.slice(0, eq)}=${mask}`].join(';');
  }
  return undefined;
}

/**
 * A URL with a scheme (`postgres://…`) and a password: the password runs to the last `@` before the
 * path, so that one holding an unencoded `@`, `?` or `#` is still redacted whole (a query or
 * fragment holding `@` without a path makes it take the host too: more is hidden, nothing shown).
 */
const URL_WITH_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^/\s]*@/i;

/**
 * A `scheme://` URL with its credentials replaced by "[redacted]": the password of its userinfo
 * (all of it, `@` included: `postgres://u:p@ss@host` → `postgres://u:[redacted]@host`) and the
 * values of secret-looking query parameters (`?password=…`, `?sslpassword=…`, which pg reads as
 * the password); in any other string, the password of a keyword/value connection string
 * (`host=db password=pw`). `mask` replaces each secret (storage-postgres writes `***` in its messages).
 */
export function redactUrl(value: string, mask = '[redacted]'): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return redactKeywords(value, mask);
  const withoutPassword = value.replace(URL_WITH_PASSWORD, (_all, head: string) => `${head}:${mask}@`);
  const hash = withoutPassword.indexOf('#');
  const beforeHash = hash < 0 ? withoutPassword : withoutPassword.slice(0, hash);
  return redactQuery(beforeHash, mask) + (hash < 0 ? '' : withoutPassword.slice(hash));
}

/**
 * A password in a keyword/value connection string (libpq's `host=db user=u password=pw`):
 * `password`, `passwd` or `sslpassword`, then `=` (spaces allowed around it), then a value, plain
 * (up to the next space) or single-quoted (`'p w\\'x'`, to its closing quote, or to the end when
 * there is none).
 */
const KEYWORD_PASSWORD = /(^|\s)((?:ssl)?password|passwd)(\s*=\s*)('(?:[^'\\]|\\.)*(?:'|\\?$)|\S+)/gi;

/** A string with the values of KEYWORD_PASSWORD replaced by `mask` (`password=[redacted]`). */
function redactKeywords(value: string, mask: string): string {
  return value.replace(KEYWORD_PASSWORD, (_all, before: string, name: string, eq: string) => `${before}${name}${eq}${mask}`);
}

/**
 * `ancestors`: the objects being walked above this one. An option holding a cycle (a client object
 * that points back at itself) is shown as "[circular]" where it comes back, instead of a stack overflow.
 */
function walk(value: unknown, key: string | undefined, inKeyRing: boolean, ancestors: Set<object>): unknown {
  if (key !== undefined && (SECRET_KEY.test(key) || (inKeyRing && key.toLowerCase() === 'key')) && value !== undefined && value !== null && value !== '') return '[redacted]';
  if (typeof value === 'string') return redactUrl(value);
  if (!value || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[circular]';
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const ring = key !== undefined && KEY_RING.test(key);
      // An entry of a key ring is walked as an object here, not through walk: it is an ancestor of its fields.
      const ringEntry = (entry: object) => {
        ancestors.add(entry);
        try {
          return walkObject(entry, true, ancestors);
        } finally {
          ancestors.delete(entry);
        }
      };
      return value.map((v) => (ring && v && typeof v === 'object' && !Array.isArray(v) && !ancestors.has(v) ? ringEntry(v) : walk(v, undefined, false, ancestors)));
    }
    if (typeof (value as { meta?: unknown }).meta === 'object' && 'setup' in (value as object)) {
      return `[plugin ${(value as { meta: { name: string } }).meta.name}]`;
    }
    return walkObject(value, false, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

/** The fields of `value`, walked; the caller has `value` in `ancestors`. */
function walkObject(value: object, inKeyRing: boolean, ancestors: Set<object>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k, inKeyRing, ancestors)]));
}
