/**
 * Unverified: a trace's parents must have a provenance chain that verifies and binds them
 * (`verifyTraceChain`) and, for a parent that is a merge, its whole merge ancestry
 * (`verifyMergeAncestryAsync`: each chain head a merge recorded still held); the trace itself, once
 * stored, a chain that verifies, bound to the heads its own merge recorded. Needs storage; without
 * one the rule reports nothing it cannot check, and says so in the pack's health.
 */
import { allInOrder, memoizeChainOf, mergeAncestryMemo, verifyMergeAncestryAsync, verifyProvenanceChain, verifyTraceChain } from 'limit-graph';
import type { Finding, GovernanceRule, RuleContext, RuleSubject, Storage } from 'limit-graph';

export function createProvenanceRules(getStorage: () => Storage | undefined): GovernanceRule[] {
  const chain: GovernanceRule = {
    id: 'provenance.chain',
    flag: 'Unverified',
    surfaces: ['input'],
    description: 'Parents whose provenance chain is missing or broken; a stored trace whose own chain is broken.',
    evaluate(subject, ctx) {
      if ((subject.view?.name ?? 'raw') !== 'raw' || subject.field !== 'task.input') return [];
      const storage = getStorage();
      // Synchronous empty answer when there is nothing to verify: no promise on the hot path. A
      // trace not stored yet (ctx.unstoredTrace: a recorded trace, created in the batch its
      // governance records join) has no chain of its own to read, only its parents'.
      const own = ctx?.unstoredTrace !== true;
      if (!storage || (!own && subject.trace.parentIds.length === 0)) return [];
      return verify(storage, subject.trace, own, ctx?.signal);
    },
  };
  async function verify(storage: Storage, trace: RuleSubject['trace'], ownChain: boolean, signal: RuleContext['signal']): Promise<Finding[]> {
    // One read of each chain for the whole call, shared by the parents' ancestry walks (an ancestor
    // several parents reach, or a parent that is another's ancestor, is read and its heads checked
    // once), as merge validation does. A call cut at its budget (ctx.signal aborted) reads no more.
    const chainOf = memoizeChainOf(async (id: string) => {
      signal?.throwIfAborted();
      return storage.listProvenance(trace.tenant, id);
    });
    const memo = mergeAncestryMemo();
    // The parents together (their walks read one breadth-first level at a time, at most 16 chains
    // at once each): a merge of N parents waits for its deepest ancestry, not the sum of them. A read
    // that fails fails the call with the first failure in the order of parentIds (allInOrder), not
    // whichever read failed first: the same trace always gets the same error.
    const parents = await allInOrder(trace.parentIds.map(async (parentId): Promise<Finding | undefined> => {
      // A parent's chain, the parent bound to it (its output or status rewritten breaks it), and for
      // a merge the heads it recorded of its parents, and they of theirs.
      const [parent, entries] = await allInOrder([storage.getTrace(trace.tenant, parentId), chainOf(parentId)]);
      const v = parent ? await verifyMergeAncestryAsync(verifyTraceChain(parent, entries), parentId, entries, chainOf, undefined, memo) : { verified: false, length: 0, brokenAt: null };
      const evidence = [{ field: `parentIds:${parentId}`, start: 0, end: 0, excerpt: parentId }];
      if (v.length === 0) return { ruleId: 'provenance.chain', kind: 'Unverified', severity: 6, reason: `Parent ${parentId} has no provenance chain`, evidence };
      if (!v.verified) return { ruleId: 'provenance.chain', kind: 'Unverified', severity: 8, reason: `Parent ${parentId}'s provenance chain is broken at seq ${v.brokenAt}: ${v.reason ?? 'hash mismatch'}`, evidence };
      return undefined;
    }));
    const findings = parents.filter((f): f is Finding => f !== undefined);
    if (!ownChain) return findings;
    // The trace's own chain (a merge: bound to the heads it recorded of its parents, and so on).
    const entries = await chainOf(trace.id);
    const own = await verifyMergeAncestryAsync(verifyProvenanceChain(entries), trace.id, entries, chainOf, undefined, memo);
    if (own.length > 0 && !own.verified) {
      findings.push({ ruleId: 'provenance.chain', kind: 'Unverified', severity: 8, reason: `The trace's own provenance chain is broken at seq ${own.brokenAt}${own.reason ? `: ${own.reason}` : ''}`, evidence: [{ field: 'provenance', start: 0, end: 0, excerpt: trace.id }] });
    }
    return findings;
  }
  return [chain];
}
