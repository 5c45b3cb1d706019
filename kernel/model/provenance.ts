import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { ChainVerification, ProvenanceEntry, ProvenanceInput } from './index.ts';

/** prevHash of the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hex SHA-256 of a string's UTF-8 bytes (Node's one-shot hash: no Hash object per call). */
export const sha256 = (text: string): string => hash('sha256', text, 'hex');

/**
 * hash = sha256(canonical JSON (RFC 8785) of the entry without `hash`). Canonical JSON makes the
 * hash independent of key order and of the backend that stored the entry; `undefined` fields are
 * dropped the same way JSON does.
 */
export function hashProvenance(entry: Omit<ProvenanceEntry, 'hash'>): string {
  const { hash: _ignored, ...rest } = entry as ProvenanceEntry;
  return sha256(canonicalJson(rest));
}

/** Builds the next link of a chain whose current head is `head` (undefined for an empty chain). */
export function nextProvenanceEntry(input: ProvenanceInput, head: Pick<ProvenanceEntry, 'seq' | 'hash'> | undefined): ProvenanceEntry {
  const body = {
    ...input,
    seq: head ? head.seq + 1 : 0,
    prevHash: head ? head.hash : GENESIS_HASH,
  };
  return { ...body, hash: hashProvenance(body) };
}

/** Checks seq continuity, the prevHash links and every hash; reports the first broken link. */
export function verifyProvenanceChain(entries: readonly ProvenanceEntry[]): ChainVerification {
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i) return { verified: false, length: entries.length, brokenAt: i, reason: `expected seq ${i}, found ${e.seq}` };
    if (e.prevHash !== prev) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'prevHash does not match the previous entry' };
    if (hashProvenance(e) !== e.hash) return { verified: false, length: entries.length, brokenAt: e.seq, reason: 'hash does not match the entry content' };
    prev = e.hash;
  }
  return { verified: true, length: entries.length, brokenAt: null };
}
