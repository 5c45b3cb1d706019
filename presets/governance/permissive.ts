import type { GovernancePreset } from 'limit-graph';

/** Flags only: every rule runs and every finding is recorded, nothing is blocked, quarantined or held. */
const permissive: GovernancePreset = {
  name: 'permissive',
  description: 'Flags only; blocks, quarantines and holds nothing.',
  policy: {
    blockUnsafeMerge: false,
    requireProvenance: false,
    blockJailbreakTraces: false,
    blockAnomalyTraces: false,
    maxAnomalySeverity: 10,
    requireHumanReview: false,
    autoQuarantine: false,
    quarantineSeverity: 10,
    blockMaliciousTraces: false,
  },
  packs: ['jailbreak', 'injection', 'obfuscation', 'malicious', 'unsafe', 'anomaly', 'provenance', 'highrisk'],
  blockSeverity: 10,
  reviewBand: null,
};
export default permissive;
