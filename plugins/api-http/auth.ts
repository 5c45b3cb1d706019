/**
 * API keys → tenants. Keys are held by their SHA-256 so that a lookup costs the same whatever the
 * guess, and so that the raw key never needs to sit in a log-visible structure.
 */
import type { FastifyRequest } from 'fastify';
import { sha256 } from 'limit-graph';
import type { Principal } from './glue.ts';
import type { KeyRing } from './keys.ts';

export { KEY_LIST_FORMAT, createKeyRing, parseKeyList, readKeyList, unnamedKeyName, type ConfiguredKey, type KeyRing } from './keys.ts';

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
