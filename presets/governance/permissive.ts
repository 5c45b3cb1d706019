import type { GovernancePreset } from 'limit-graph';
import { BUILT_IN_PACKS } from './packs.ts';

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
  packs: [...BUILT_IN_PACKS],
  blockSeverity: 10,
  reviewBand: null,
};
export default permissive;
