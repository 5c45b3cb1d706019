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

/** LIMIT_API_KEYS' text form, as messages name it. */
export const KEY_LIST_FORMAT = 'key:tenant[/name]';

/**
 * Reads LIMIT_API_KEYS: comma-separated `key:tenant` or `key:tenant/name` entries, or, when the value
 * starts with `[`, a JSON list of `{ "key", "tenant", "name"? }` objects (auth.keys' form). Each key
 * is checked as auth.keys checks it (ApiKey). `problems` names each bad entry by its number, never
 * with the key or any other part of the value.
 *
 * In the text form an entry holds exactly one ':': the key before it, the tenant after it, so neither
 * may contain ':' there, and the holder name follows the tenant after '/', which no tenant contains.
 * An entry with a second ':' is refused, not guessed: `key:acme:prod` may mean the tenant `acme:prod`
 * (a valid tenant) or, as this form read it before, the tenant `acme` with the name `prod` — and
 * either guess would give the key another tenant's data. A key or tenant with ':' is written in the
 * JSON form, or in auth.keys.
 */
export function readKeyList(value: string): { keys: ApiKey[]; problems: string[] } {
  if (value.trimStart().startsWith('[')) return readJsonKeyList(value);
  const keys: ApiKey[] = [];
  const problems: string[] = [];
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .forEach((entry, i) => {
      const at = `entry ${i + 1}`;
      const colon = entry.indexOf(':');
      if (colon < 0) {
        problems.push(`${at} has no ":" between the key and the tenant (expected ${KEY_LIST_FORMAT})`);
        return;
      }
      const key = entry.slice(0, colon);
      const rest = entry.slice(colon + 1);
      if (rest.includes(':')) {
        problems.push(
          `${at} has more than one ":" (expected ${KEY_LIST_FORMAT}): a holder name follows "/", not a second ":" (key:tenant:name is not read), ` +
            'and a key or tenant that contains ":" cannot be told from the separator: write such an entry in the JSON form ([{"key": …, "tenant": …, "name": …}]) or in auth.keys',
        );
        return;
      }
      const slash = rest.indexOf('/');
      const tenant = slash < 0 ? rest : rest.slice(0, slash);
      const name = slash < 0 ? undefined : rest.slice(slash + 1);
      checked(ApiKey.safeParse({ key, tenant, ...(name === undefined ? {} : { name }) }), `${at} is not a valid ${KEY_LIST_FORMAT}`, keys, problems);
    });
  return { keys, problems };
}

/** LIMIT_API_KEYS as a JSON list: what JSON.parse says about bad text is not repeated (it quotes the text, keys included). */
function readJsonKeyList(value: string): { keys: ApiKey[]; problems: string[] } {
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch (error) {
    const position = /at position (\d+)/.exec(String((error as Error).message))?.[1];
    return { keys: [], problems: [`starts with "[" but is not valid JSON${position === undefined ? '' : ` (at character ${Number(position) + 1})`}: write a JSON list of {"key", "tenant", "name"} objects, or ${KEY_LIST_FORMAT} entries`] };
  }
  if (!Array.isArray(list)) return { keys: [], problems: ['starts with "[" but is not a JSON list'] };
  const keys: ApiKey[] = [];
  const problems: string[] = [];
  list.forEach((item, i) => {
    const at = `entry ${i + 1} of the JSON list`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) problems.push(`${at} is not an object {"key", "tenant", "name"}`);
    else checked(ApiKey.safeParse(item), `${at} is not a valid {"key", "tenant", "name"}`, keys, problems);
  });
  return { keys, problems };
}

function checked(parsed: ReturnType<typeof ApiKey.safeParse>, at: string, keys: ApiKey[], problems: string[]): void {
  if (parsed.success) keys.push(parsed.data);
  // ApiKey's messages say what is wrong with a field, never its value; unknown fields are not named
  // (in `{"<the key>": "acme"}` the field is the key).
  else problems.push(`${at} (${parsed.error.issues.map((x) => (x.code === 'unrecognized_keys' ? 'only "key", "tenant" and "name" may be given' : `${x.path.join('.')}: ${x.message}`)).join('; ')})`);
}

/** readKeyList, throwing LIMIT_PLUGIN_OPTIONS_INVALID (details.option `apiKeys`) that names every bad entry of `source`. */
export function parseKeyList(value: string, source = 'LIMIT_API_KEYS'): ApiKey[] {
  const { keys, problems } = readKeyList(value);
  if (problems.length > 0) {
    throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `${source} ${problems.join('; ')}`, {
      plugin: 'api-http',
      details: { option: ['apiKeys'] },
      fix: `Write ${source} as key1:tenantA,key2:tenantB/name (keys of at least 16 printable characters without ":" or ","), or as a JSON list of {"key", "tenant", "name"} objects for keys or tenants with ":".`,
    });
  }
  return keys;
}

/** A configured key and the option it came from (`['auth', 'keys', 2]`, `['apiKeys']`), which errors name. */
export type ConfiguredKey = ApiKey & { option?: (string | number)[] };

const optionName = (option: (string | number)[] | undefined) => (option ? option.join('.') : 'the options');

/**
 * The holder name of a key given without one: `<tenant>:<fingerprint>`, the fingerprint 8 hex
 * digits of a hash of the key's digest (domain-separated: not a prefix of the lookup digest nor of the
 * rate limiter's key id), never the key. So each unnamed key of a tenant is an actor of its own
 * (`api:team:1a2b3c4d`): provenance tells them apart, and requireDistinctReviewer can be met by two
 * unnamed keys of one tenant. Stable: the same key gets the same name in every process and restart.
 */
export function unnamedKeyName(tenant: string, digest: string): string {
  return `${tenant}:${sha256(`limit-graph api-http actor\u0000${digest}`).slice(0, 8)}`;
}

export function createKeyRing(mode: 'apiKey' | 'none', keys: readonly ConfiguredKey[]): KeyRing {
  const byDigest = new Map<string, Principal & { name: string; option?: (string | number)[] }>();
  /** Derived names (unnamed keys) → the digest of the key that has it: two keys never share one. */
  const derived = new Map<string, { digest: string; option?: (string | number)[] | undefined }>();
  for (const k of keys) {
    const d = sha256(k.key);
    const existing = byDigest.get(d);
    // Both entries are named (never the key); details.option, the later one, lets the kernel name its file or variable.
    const where = existing ? `${optionName(existing.option)} and ${optionName(k.option)}` : '';
    if (existing && existing.tenant !== k.tenant) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `One API key is configured for two tenants ("${existing.tenant}" and "${k.tenant}", at ${where})`, {
        plugin: 'api-http',
        ...(k.option ? { details: { option: k.option } } : {}),
        fix: 'Give each tenant its own key.',
      });
    }
    const name = k.name ?? unnamedKeyName(k.tenant, d);
    if (k.name === undefined) {
      const other = derived.get(name);
      if (other && other.digest !== d) {
        // 8 hex digits: about one chance in 4 billion per pair of a tenant's unnamed keys.
        throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `Two API keys of tenant "${k.tenant}" without a name get the same holder name "${name}" (at ${optionName(other.option)} and ${optionName(k.option)})`, {
          plugin: 'api-http',
          ...(k.option ? { details: { option: k.option } } : {}),
          fix: 'Give the keys names (auth.keys[].name, or key:tenant/name in LIMIT_API_KEYS), or replace one of them.',
        });
      }
      derived.set(name, { digest: d, option: k.option });
    }
    // The same key listed twice (auth.keys and LIMIT_API_KEYS) must name one holder: the later name
    // would otherwise silently become the provenance actor of everything written with it.
    if (existing && existing.name !== name) {
      throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', `One API key of tenant "${k.tenant}" is configured twice with two names ("${existing.name}" and "${name}", at ${where})`, {
        plugin: 'api-http',
        ...(k.option ? { details: { option: k.option } } : {}),
        fix: 'List the key once (auth.keys or LIMIT_API_KEYS), or give it the same name in both; each key holder needs a key of its own.',
      });
    }
    byDigest.set(d, { tenant: k.tenant, name, actor: `api:${name}`, ...(k.option ? { option: k.option } : {}) });
  }
  return { mode, byDigest, size: byDigest.size };
}

/**
 * A credential header the server could not read a key from: which header, and what is wrong with it
 * (never the credential itself).
 */
export interface MalformedCredential {
  /** `header.authorization` or `header.x-api-key`. */
  path: string;
  /** Short, for the problem's `errors[0].message`. */
  message: string;
  /** A sentence for the problem's `detail`. */
  detail: string;
}

export interface PresentedCredentials {
  key: string | undefined;
  /** The header the key came from (`header.authorization` or `header.x-api-key`). */
  path?: string;
  /**
   * Present when the credential headers carry more than one different key (refused with a 400):
   * what carried the keys — `paths`, each credential header that carried a readable key
   * (`header.authorization`, `header.x-api-key`; once each, in the order sent; a header with no
   * readable key is not among them), and `detail`, a sentence naming them.
   */
  conflicting?: { paths: string[]; detail: string };
  /** The first credential header that carries no readable key (another scheme, a malformed Bearer, an empty X-API-Key). */
  malformed?: MalformedCredential;
}

/** An auth-scheme token (RFC 9110 §11.1) shorter than any API key (16), so naming it cannot echo a key. */
const SCHEME = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,14}$/;

/** What is wrong with an Authorization header that is not `Bearer <key>`. */
function malformedAuthorization(value: string): MalformedCredential {
  const words = value.trim().split(/\s+/).filter(Boolean);
  const scheme = words[0];
  const at = 'header.authorization';
  if (scheme === undefined) return { path: at, message: 'empty', detail: 'The Authorization header is empty' };
  if (/^Bearer$/i.test(scheme)) {
    if (words.length === 1) return { path: at, message: 'Bearer without a key', detail: 'The Authorization header is Bearer without a key' };
    // One token after Bearer, yet not `Bearer <key>`: what follows Bearer is a tab or another space character.
    if (words.length === 2) {
      return { path: at, message: 'Bearer not followed by a space', detail: 'The Authorization header separates Bearer and the key with something other than spaces (a tab?): write Bearer, one space, then the key' };
    }
    return { path: at, message: 'more than one token after Bearer', detail: 'The Authorization header has more than one token after Bearer (an API key has no spaces)' };
  }
  if (words.length === 1) return { path: at, message: 'no scheme', detail: 'The Authorization header has no scheme (the key alone?)' };
  const named = SCHEME.test(scheme) ? ` "${scheme}"` : '';
  return { path: at, message: `unsupported scheme${named}`, detail: `The Authorization scheme${named} is not supported` };
}

/**
 * The key a request presents (Bearer token or X-API-Key), or undefined. Every Authorization and
 * X-API-Key header counts (read from the raw headers: Node keeps only the first Authorization and
 * joins repeated X-API-Key values); `conflicting` is present when they carry different keys, which the
 * server refuses (400) rather than picking one. The same key sent twice is fine. A credential header
 * that carries no readable key is described in `malformed`, for the 401 when no key is found.
 */
export function presentedCredentials(request: FastifyRequest): PresentedCredentials {
  const keys = new Map<string, string>();
  /** Each credential header that carried a readable key, in the order sent. */
  const carriers = new Set<string>();
  let malformed: MalformedCredential | undefined;
  const carried = (key: string, path: string) => {
    if (!keys.has(key)) keys.set(key, path);
    carriers.add(path);
  };
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'x-api-key') {
      if (value.length > 0) carried(value, 'header.x-api-key');
      else malformed ??= { path: 'header.x-api-key', message: 'empty', detail: 'The X-API-Key header is empty' };
    } else if (name === 'authorization') {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(value);
      if (match) carried(match[1]!, 'header.authorization');
      else malformed ??= malformedAuthorization(value);
    }
  }
  const [first] = keys;
  return {
    key: first?.[0], ...(first ? { path: first[1] } : {}),
    ...(keys.size > 1 ? { conflicting: conflicting([...carriers]) } : {}),
    ...(malformed ? { malformed } : {}),
  };
}

const HEADER_NAMES: Record<string, string> = { 'header.authorization': 'Authorization', 'header.x-api-key': 'X-API-Key' };

/** The headers that carried conflicting keys (`paths`, one or both) and a sentence naming them. */
function conflicting(paths: string[]): { paths: string[]; detail: string } {
  const where = paths.length === 1 ? `a repeated ${HEADER_NAMES[paths[0]!]} header` : paths.map((p) => HEADER_NAMES[p]).join(' and ');
  return { paths, detail: `Conflicting credentials: the request carries more than one different API key (${where})` };
}

/** The key a request presents, or undefined (also when it presents conflicting keys). */
export function presentedKey(request: FastifyRequest): string | undefined {
  const { key, conflicting } = presentedCredentials(request);
  return conflicting ? undefined : key;
}

export function lookup(ring: KeyRing, key: string | undefined): (Principal & { name: string }) | undefined {
  if (key === undefined || key.length > 512) return undefined;
  return ring.byDigest.get(sha256(key));
}

export function keyId(key: string): string {
  return sha256(key).slice(0, 16);
}
