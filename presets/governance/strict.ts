import type { GovernancePreset } from 'limit-graph';
import { BUILT_IN_PACKS } from './packs.ts';

/**
 * Lower thresholds, verified provenance for merges, and a human review before every merge by
 * someone other than its author (the author of a quarantined trace cannot release it either).
 */
const strict: GovernancePreset = {
  name: 'strict',
  description: 'Lower thresholds; merges need verified provenance and a review by another actor.',
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
    requireDistinctReviewer: true,
  },
  packs: [...BUILT_IN_PACKS],
  blockSeverity: 6,
  reviewBand: [3, 5],
};
export default strict;
