/**
 * `limit bench storage --scale` above 10 asks for more than MAX_PROVENANCE_PER_TRACE provenance
 * appends: they are spread over traces of their own (each chain at most 10,000 entries), so the
 * benchmark runs at every scale it accepts, its appends/s still one entry appended onto a chain at a
 * time. A contestant double enforcing the per-trace limit, as every backend does.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PROVENANCE_PER_TRACE, type ProvenanceInput, type Trace } from 'limit-graph';
import { measure, parseOptions } from '../../bench/storage.ts';

describe('bench/storage provenance appends', () => {
  it('spreads appends past MAX_PROVENANCE_PER_TRACE over traces the benchmark created, none past the limit', async () => {
    const traces = new Set<string>();
    const chains = new Map<string, number>();
    const contestant = {
      insertOne: (t: Trace) => void traces.add(t.id),
      insertBatch: (ts: Trace[]) => ts.forEach((t) => traces.add(t.id)),
      get: () => null,
      listBySession: () => [],
      append: (input: ProvenanceInput) => {
        if (!traces.has(input.traceId)) throw new Error(`no trace ${input.traceId}`);
        const n = (chains.get(input.traceId) ?? 0) + 1;
        if (n > MAX_PROVENANCE_PER_TRACE) throw new Error(`Trace "${input.traceId}" would hold ${n} provenance entries`);
        chains.set(input.traceId, n);
      },
    };
    const appends = 2 * MAX_PROVENANCE_PER_TRACE + 5;
    const figures = await measure(contestant, { single: 3, batches: 1, batchSize: 1, reads: 1, lists: 1, appends }, 'p0');
    expect(figures.provenanceAppendsPerSec).toBeGreaterThan(0);
    expect([...chains.values()]).toEqual([MAX_PROVENANCE_PER_TRACE, MAX_PROVENANCE_PER_TRACE, 5]);
  });

  it('creates enough traces for its appends at any --scale', async () => {
    for (const scale of ['0.001', '1', '10.001', '250']) {
      const { sizes } = await parseOptions(['--backends', 'kv', '--scale', scale]);
      expect(sizes.single).toBeGreaterThanOrEqual(Math.ceil(sizes.appends / MAX_PROVENANCE_PER_TRACE));
    }
  });
});
