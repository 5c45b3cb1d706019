/**
 * API keys → tenants. Keys are held by their SHA-256 so that a lookup costs the same whatever the
 * guess, and so that the raw key never needs to sit in a log-visible structure.
 */
import type { FastifyRequest } from 'fastify';
import { LimitError, sha256 } from 'limit-graph';
import { ApiKey } from './options.ts';
import type { Principal } from './glue.ts';

export interface KeyRing {
  mode: 'apiKey' | 'none';
  /** sha256(key) → who it is. */
  byDigest: Map<string, Principal & { name: string }>;
  size: number;
}

/** Parses LIMIT_API_KEYS (`key1:tenantA,key2:tenantB[:name]`), naming the bad entry on failure. */
export function parseKeyList(value: string, source = 'LIMIT_API_KEYS'): ApiKey[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry, i) => {
      const [key, tenant, name, ...rest] = entry.split(':');
      const parsed = ApiKey.safeParse({ key, tenant, ...(name ? { name } : {}) });
      if (rest.length > 0 || !parsed.success) {
        const why = parsed.success ? 'too many ":"-separated parts' : parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ');
        throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `${source} entry ${i + 1} is not "key:tenant[:name]" (${why})`, {
          plugin: 'api-http',
          details: { option: ['apiKeys'] },
          fix: `Write ${source} as key1:tenantA,key2:tenantB with keys of at least 16 printable characters.`,
        });
      }
      return parsed.data;
    });
}

export function createKeyRing(mode: 'apiKey' | 'none', keys: readonly ApiKey[]): KeyRing {
  const byDigest = new Map<string, Principal & { name: string }>();
  for (const k of keys) {
    const d = sha256(k.key);
    const existing = byDigest.get(d);
    if (existing && existing.tenant !== k.tenant) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `One API key is configured for two tenants ("${existing.tenant}" and "${k.tenant}")`, {
        plugin: 'api-http',
        fix: 'Give each tenant its own key.',
      });
    }
    const name = k.name ?? k.tenant;
    // The same key listed twice (auth.keys and LIMIT_API_KEYS) must name one holder: the later name
    // would otherwise silently become the provenance actor of everything written with it.
    if (existing && existing.name !== name) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `One API key of tenant "${k.tenant}" is configured twice with two names ("${existing.name}" and "${name}")`, {
        plugin: 'api-http',
        fix: 'List the key once (auth.keys or LIMIT_API_KEYS), or give it the same name in both; each key holder needs a key of its own.',
      });
    }
    byDigest.set(d, { tenant: k.tenant, name, actor: `api:${name}` });
  }
  return { mode, byDigest, size: byDigest.size };
}

/**
 * The key a request presents (Bearer token or X-API-Key), or undefined. Every Authorization and
 * X-API-Key header counts (read from the raw headers: Node keeps only the first Authorization and
 * joins repeated X-API-Key values); `conflict` is true when they carry different keys, which the
 * server refuses (400) rather than picking one. The same key sent twice is fine.
 */
export function presentedCredentials(request: FastifyRequest): { key: string | undefined; conflict: boolean } {
  const keys = new Set<string>();
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'x-api-key') {
      if (value.length > 0) keys.add(value);
    } else if (name === 'authorization') {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(value);
      if (match) keys.add(match[1]!);
    }
  }
  const [first] = keys;
  return { key: first, conflict: keys.size > 1 };
}

/** The key a request presents, or undefined (also when it presents conflicting keys). */
export function presentedKey(request: FastifyRequest): string | undefined {
  const { key, conflict } = presentedCredentials(request);
  return conflict ? undefined : key;
}

export function lookup(ring: KeyRing, key: string | undefined): (Principal & { name: string }) | undefined {
  if (key === undefined || key.length > 512) return undefined;
  return ring.byDigest.get(sha256(key));
}

export function keyId(key: string): string {
  return sha256(key).slice(0, 16);
}
