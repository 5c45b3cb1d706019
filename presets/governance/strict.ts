import type { GovernancePreset } from 'limit-graph';

/** Lower thresholds, verified provenance for merges, and a human review before every merge. */
const strict: GovernancePreset = {
  name: 'strict',
  description: 'Lower thresholds; merges need verified provenance and a human review.',
  policy: {
    blockUnsafeMerge: true,
    requireProvenance: true,
    blockJailbreakTraces: true,
    blockAnomalyTraces: true,
    maxAnomalySeverity: 5,
    requireHumanReview: true,
    autoQuarantine: true,
    quarantineSeverity: 6,
    blockMaliciousTraces: true,
  },
  packs: ['jailbreak', 'injection', 'obfuscation', 'malicious', 'unsafe', 'anomaly', 'provenance', 'highrisk'],
  blockSeverity: 6,
  reviewBand: [3, 5],
};
export default strict;
