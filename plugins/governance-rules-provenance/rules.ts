/**
 * Unverified: a trace's parents must have a provenance chain that verifies and binds them
 * (`verifyTraceChain`), and the trace itself, once stored, a chain that verifies. Needs storage; without one the rule reports nothing it cannot check, and says so
 * in the pack's health.
 */
import { verifyTraceChain } from 'limit-graph';
import type { Finding, GovernanceRule, RuleSubject, Storage } from 'limit-graph';

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
      return verify(storage, subject.trace, own);
    },
  };
  async function verify(storage: Storage, trace: RuleSubject['trace'], ownChain: boolean): Promise<Finding[]> {
      const findings: Finding[] = [];
      for (const parentId of trace.parentIds) {
        // A parent's chain, and the parent bound to it (its output or status rewritten breaks it).
        const [parent, entries] = await Promise.all([storage.getTrace(trace.tenant, parentId), storage.listProvenance(trace.tenant, parentId)]);
        const v = parent ? verifyTraceChain(parent, entries) : { verified: false, length: 0, brokenAt: null };
        if (v.length === 0) {
          findings.push({ ruleId: 'provenance.chain', kind: 'Unverified', severity: 6, reason: `Parent ${parentId} has no provenance chain`, evidence: [{ field: `parentIds:${parentId}`, start: 0, end: 0, excerpt: parentId }] });
        } else if (!v.verified) {
          findings.push({ ruleId: 'provenance.chain', kind: 'Unverified', severity: 8, reason: `Parent ${parentId}'s provenance chain is broken at seq ${v.brokenAt}: ${v.reason ?? 'hash mismatch'}`, evidence: [{ field: `parentIds:${parentId}`, start: 0, end: 0, excerpt: parentId }] });
        }
      }
      if (!ownChain) return findings;
      const own = await storage.verifyProvenance(trace.tenant, trace.id);
      if (own.length > 0 && !own.verified) {
        findings.push({ ruleId: 'provenance.chain', kind: 'Unverified', severity: 8, reason: `The trace's own provenance chain is broken at seq ${own.brokenAt}`, evidence: [{ field: 'provenance', start: 0, end: 0, excerpt: trace.id }] });
      }
      return findings;
  }
  return [chain];
}
