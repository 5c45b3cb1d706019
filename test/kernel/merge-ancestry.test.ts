/**
 * verifyMergeAncestry over synthetic chains: each trace's chain asked for once however many merges
 * reach it, the walk bounded (what lies beyond is named, not silently taken as verified), and a
 * break deep in the ancestry named with the path it was reached through.
 */
import { describe, expect, it } from 'vitest';
import { memoizeChainOf, mergeAncestryMemo, nextProvenanceEntry, verifyMergeAncestry, verifyMergeAncestryAsync, verifyProvenanceChain, type ProvenanceEntry } from 'limit-graph';

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

  /** A merge `id` of `parents` (their heads now), added to `chains`. */
  const merge = (chains: Map<string, ProvenanceEntry[]>, id: string, parents: string[]) =>
    chains.set(id, [entry(id, 'merge', { parents: parents.map((p) => headOf(chains.get(p)!)) })]);
  /** An async chainOf over `chains` that records the reads and the most of them in flight at once. */
  const storage = (chains: Map<string, ProvenanceEntry[]>) => {
    const reads: string[] = [];
    let inFlight = 0;
    let most = 0;
    const chainOf = async (t: string) => {
      reads.push(t);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return chains.get(t);
    };
    return { chainOf, reads, most: () => most };
  };
  const verifyAsync = (chains: Map<string, ProvenanceEntry[]>, id: string, chainOf: (t: string) => Promise<ProvenanceEntry[] | undefined>, max?: number) =>
    verifyMergeAncestryAsync(verifyProvenanceChain(chains.get(id)!), id, chains.get(id)!, chainOf, max);

  it('reads the chains of one level of the ancestry together (a merge of 5 parents: 5 reads in flight)', async () => {
    const chains = new Map<string, ProvenanceEntry[]>();
    const leaves = ['p1', 'p2', 'p3', 'p4', 'p5'];
    for (const p of leaves) chains.set(p, [entry(p, 'created')]);
    merge(chains, 'm', leaves);
    const s = storage(chains);
    expect(await verifyAsync(chains, 'm', s.chainOf)).toEqual({ verified: true, length: 1, brokenAt: null });
    expect(s.reads.sort()).toEqual(leaves);
    expect(s.most()).toBe(5);
  });

  it('reads a merge of merges level by level, each chain once, at most 16 at once', async () => {
    const chains = new Map<string, ProvenanceEntry[]>();
    const leaves = Array.from({ length: 40 }, (_, i) => `leaf${i}`);
    for (const p of leaves) chains.set(p, [entry(p, 'created')]);
    // 4 merges of 10 leaves each, and of leaf0 too (reached 4 times, read once); m of the 4.
    for (let i = 0; i < 4; i++) merge(chains, `q${i}`, [...new Set(['leaf0', ...leaves.slice(i * 10, i * 10 + 10)])]);
    merge(chains, 'm', ['q0', 'q1', 'q2', 'q3']);
    const s = storage(chains);
    expect(await verifyAsync(chains, 'm', s.chainOf)).toEqual({ verified: true, length: 1, brokenAt: null });
    expect(s.reads.slice(0, 4)).toEqual(['q0', 'q1', 'q2', 'q3']);
    expect(s.reads.slice(4).sort()).toEqual([...leaves].sort());
    expect(s.most()).toBe(16);
  });

  it('gives the same verification as the synchronous walk: broken, unavailable, bounded', async () => {
    const broken = line(5);
    broken.set('m2', [entry('m2', 'merge', { parents: [], forged: true })]);
    const missing = line(4);
    missing.delete('m1');
    for (const [chains, id, max] of [[line(6), 'm6', undefined], [line(6), 'm6', 3], [line(6), 'm6', 1], [broken, 'm5', undefined], [missing, 'm4', undefined]] as const) {
      const s = storage(chains);
      const v = await verifyAsync(chains, id, s.chainOf, max);
      expect(v).toEqual(verify(chains, id, max).v);
      expect(new Set(s.reads).size).toBe(s.reads.length);
    }
    expect(verify(line(6), 'm6', 3).v.unchecked).toEqual([expect.stringMatching(/^the merge ancestry beyond its first 3 traces \(from m4, recorded by merge m5\)$/)]);
  });

  it('when several chain reads of a level fail, rejects with the first failed in the order the merge names them, whichever failed first', async () => {
    const chains = new Map<string, ProvenanceEntry[]>();
    for (const p of ['p1', 'p2', 'p3']) chains.set(p, [entry(p, 'created')]);
    merge(chains, 'm', ['p1', 'p2', 'p3']);
    // p1's read is the slow one: a walk that rejected with the first read to fail named p2.
    const chainOf = async (t: string) => {
      await new Promise((r) => setTimeout(r, t === 'p1' ? 30 : 1));
      if (t !== 'p3') throw new Error(`chain of ${t} is unreadable`);
      return chains.get(t);
    };
    for (let i = 0; i < 2; i++) await expect(verifyAsync(chains, 'm', chainOf)).rejects.toThrow('chain of p1 is unreadable');
  });

  it('walks sharing one memoised chainOf read an ancestor they all reach once (3 parents, one grandparent)', async () => {
    const chains = new Map<string, ProvenanceEntry[]>([['g', [entry('g', 'created')]]]);
    for (const p of ['p1', 'p2', 'p3']) merge(chains, p, ['g']);
    const s = storage(chains);
    const chainOf = memoizeChainOf(s.chainOf);
    const memo = mergeAncestryMemo();
    for (const p of ['p1', 'p2', 'p3']) {
      const entries = (await chainOf(p))!;
      expect(await verifyMergeAncestryAsync(verifyProvenanceChain(entries), p, entries, chainOf, undefined, memo)).toEqual({ verified: true, length: 1, brokenAt: null });
    }
    expect(s.reads).toEqual(['p1', 'g', 'p2', 'p3']);
    expect(memo.heads.size).toBe(1);
  });

  it('walks sharing one memo check each recorded head once (a line of k merges: O(k) chain checks, not O(k²))', () => {
    const k = 30;
    const chains = line(k);
    // Count the reads of the leaf's prevHash: verifyProvenanceChain reads it, the walk itself does not.
    let checks = 0;
    chains.set('leaf', chains.get('leaf')!.map((e) => new Proxy(e, { get: (t, key) => (key === 'prevHash' && checks++, Reflect.get(t, key)) })));
    const walkAll = (memo?: ReturnType<typeof mergeAncestryMemo>) => {
      checks = 0;
      const results = [...chains.keys()].map((id) => {
        const entries = chains.get(id)!;
        return verifyMergeAncestry(verifyProvenanceChain(entries), id, entries, (t) => chains.get(t), undefined, memo);
      });
      return { results, checks };
    };
    const plain = walkAll();
    const shared = walkAll(mergeAncestryMemo());
    expect(shared.results).toEqual(plain.results);
    expect(shared.results.every((v) => v.verified)).toBe(true);
    expect(plain.checks).toBeGreaterThanOrEqual(k * (k - 1) / 2);
    // The leaf's own walk, and its head (seq 0) checked once for all k merges.
    expect(shared.checks).toBeLessThanOrEqual(4);
  });
});
