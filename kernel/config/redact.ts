const SECRET_KEY = /(api[-_]?key|password|passwd|secret|token|authorization|credential|private[-_]?key)/i;

/**
 * A deep copy with secrets replaced by "[redacted]": values under secret-looking keys, and the
 * password part of URLs (`postgres://user:pw@host` → `postgres://user:[redacted]@host`).
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, undefined) as T;
}

function walk(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') return '[redacted]';
  if (typeof value === 'string') return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]+@/i, '$1:[redacted]@');
  if (Array.isArray(value)) return value.map((v) => walk(v, undefined));
  if (value && typeof value === 'object') {
    if (typeof (value as { meta?: unknown }).meta === 'object' && 'setup' in (value as object)) {
      return `[plugin ${(value as { meta: { name: string } }).meta.name}]`;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
  }
  return value;
}
