import type { GovernancePreset } from 'limit-graph';
import { BUILT_IN_PACKS } from './packs.ts';

/**
 * The default: confident Jailbreak/Malicious findings (≥ 7) block, anything ≥ 7 is quarantined, the
 * uncertain band 5–6 asks for review; merges of flagged parents are refused.
 */
const defaultPreset: GovernancePreset = {
  name: 'default',
  description: 'Blocks confident jailbreaks and malicious operations, quarantines severe flags, reviews the uncertain band.',
  policy: {
    blockUnsafeMerge: true,
    requireProvenance: false,
    blockJailbreakTraces: true,
    blockAnomalyTraces: true,
    maxAnomalySeverity: 7,
    requireHumanReview: false,
    autoQuarantine: true,
    quarantineSeverity: 7,
    blockMaliciousTraces: true,
  },
  packs: [...BUILT_IN_PACKS],
  blockSeverity: 7,
  reviewBand: [5, 6],
};
export default defaultPreset;
