/**
 * verifyMergeAncestry over synthetic chains: each trace's chain asked for once however many merges
 * reach it, the walk bounded (what lies beyond is named, not silently taken as verified), and a
 * break deep in the ancestry named with the path it was reached through.
 */
import { describe, expect, it } from 'vitest';
import { nextProvenanceEntry, verifyMergeAncestry, verifyProvenanceChain, type ProvenanceEntry } from 'limit-graph';

const entry = (traceId: string, action: string, data: Record<string, unknown> = {}) =>
  nextProvenanceEntry({ traceId, tenant: 't', actor: 'a', action, operation: 'add', data, at: '2025-01-01T00:00:00.000Z' } as never, undefined);
const headOf = (chain: ProvenanceEntry[]) => ({ traceId: chain[0]!.traceId, seq: chain.at(-1)!.seq, hash: chain.at(-1)!.hash });

describe('verifyMergeAncestry', () => {
  /** leaf → m1 (of leaf) → m2 (of m1, leaf) → … → m{n}: a line of merges, each also of the leaf. */
  const line = (n: number) => {
    const chains = new Map<string, ProvenanceEntry[]>([['leaf', [entry('leaf', 'created')]]]);
    for (let i = 1; i <= n; i++) {
      const parents = [i === 1 ? 'leaf' : `m${i - 1}`, ...(i > 1 ? ['leaf'] : [])].map((id) => headOf(chains.get(id)!));
      chains.set(`m${i}`, [entry(`m${i}`, 'merge', { parents })]);
    }
    return chains;
  };
  const verify = (chains: Map<string, ProvenanceEntry[]>, id: string, max?: number) => {
    const reads: string[] = [];
    const entries = chains.get(id)!;
    const v = verifyMergeAncestry(verifyProvenanceChain(entries), id, entries, (t) => (reads.push(t), chains.get(t)), max);
    return { v, reads };
  };

  it('reads each ancestor once, and verifies while every recorded head holds', () => {
    const { v, reads } = verify(line(6), 'm6');
    expect(v).toEqual({ verified: true, length: 1, brokenAt: null });
    expect(reads.sort()).toEqual(['leaf', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it("fails at the merge's entry when a great-grandparent's chain was replaced, naming the path", () => {
    const chains = line(4);
    chains.set('m1', [entry('m1', 'merge', { parents: [], forged: true })]);
    expect(verify(chains, 'm4').v).toMatchObject({
      verified: false, brokenAt: 0,
      reason: expect.stringMatching(/^ancestor m1 no longer holds the chain head merge m2 recorded \(seq 0, hash [0-9a-f]{64}\): its entry at seq 0 has hash [0-9a-f]{64}; reached through this merge's parent m3 → m2$/),
    });
  });

  it('names the ancestry beyond the bound as unchecked', () => {
    const { v, reads } = verify(line(6), 'm6', 3);
    expect(v).toMatchObject({ verified: true, unchecked: [expect.stringMatching(/^the merge ancestry beyond its first 3 traces/)] });
    expect(reads.length).toBeLessThanOrEqual(4);
  });

  it('leaves a failing own verification as it is, reading nothing', () => {
    const chains = line(2);
    const reads: string[] = [];
    const own = { verified: false, length: 1, brokenAt: 0, reason: 'x' };
    expect(verifyMergeAncestry(own, 'm2', chains.get('m2')!, (t) => (reads.push(t), chains.get(t)))).toBe(own);
    expect(reads).toEqual([]);
  });
});
