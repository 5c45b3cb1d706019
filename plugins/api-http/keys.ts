/**
 * The configured API keys: auth.keys' schema, LIMIT_API_KEYS' reader and the key ring built from
 * both. The options schema uses them, so that `limit config` refuses what `serve` refuses.
 */
import { LimitError, sha256, z } from 'limit-graph';
import type { Principal } from './glue.ts';

/** Same shape as the kernel's Id/tenant rule: keys map to tenants that storage will accept. */
const TenantName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/, 'Expected a tenant of letters, digits, "_", "-", ":" or "."');

export const ApiKey = z
  .object({
    /** The secret; short keys are refused because they can be guessed. */
    key: z.string().min(16, 'API keys must be at least 16 characters').max(512).regex(/^[\x21-\x7e]+$/, 'API keys are printable ASCII without spaces'),
    tenant: TenantName,
    /**
     * Shown in logs and recorded as the provenance actor (`api:<name>`); default: `<tenant>:<fingerprint>`
     * (8 hex digits derived from the key's hash, never the key), so each unnamed key is its own actor.
     */
    name: z.string().min(1).max(128).optional(),
  })
  .strict();
export type ApiKey = z.infer<typeof ApiKey>;

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

