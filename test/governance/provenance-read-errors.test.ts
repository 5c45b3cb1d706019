/**
 * provenance.chain over a storage whose chain reads fail: the rule's error is the first failed read
 * in the order of the trace's parentIds, whichever read failed first — the same trace always gets
 * the same error (the parents' walks run side by side).
 */
import { describe, expect, it } from 'vitest';
import type { RuleSubject, Storage } from 'limit-graph';
import { createProvenanceRules } from '../../plugins/governance-rules-provenance/rules.ts';

describe('provenance.chain: failed chain reads', () => {
  it('rejects with the first parent whose chain cannot be read, in the order given, whichever read fails first', async () => {
    // The first parent's read is the slow one: a rule that reported the first read to fail named p2.
    const storage = {
      getTrace: async () => null,
      listProvenance: async (_tenant: string, id: string) => {
        await new Promise((r) => setTimeout(r, id === 'p1' ? 40 : 1));
        throw new Error(`chain of ${id} is unreadable`);
      },
    } as unknown as Storage;
    const [rule] = createProvenanceRules(() => storage);
    const subject = { field: 'task.input', text: 'x', surface: 'input', trace: { id: 't', tenant: 'default', parentIds: ['p1', 'p2'] } } as unknown as RuleSubject;
    for (let i = 0; i < 2; i++) {
      await expect(Promise.resolve(rule!.evaluate(subject, { unstoredTrace: true } as never))).rejects.toThrow('chain of p1 is unreadable');
    }
  });
});
