/** The built-in governance presets by name (selected with the governance plugin's `preset` option). */
import type { GovernancePreset } from 'limit-graph';
import permissive from './permissive.ts';
import defaultPreset from './default.ts';
import strict from './strict.ts';

/**
 * Freezes plain data in place, every level (objects and arrays). The presets are shared by every
 * runtime of the process and exported to users (`limit-graph/plugins/governance`): a caller that
 * changed one in place — `GOVERNANCE_PRESETS.default.policy.autoQuarantine = false` in a test —
 * would change what every runtime made later decides by. Frozen, such a write throws (an ES
 * module is strict code); a changed preset is a copy (`{ ...GOVERNANCE_PRESETS.default, … }`).
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

export const GOVERNANCE_PRESETS: Readonly<Record<'permissive' | 'default' | 'strict', GovernancePreset>> = deepFreeze({
  permissive,
  default: defaultPreset,
  strict,
});
export type GovernancePresetName = keyof typeof GOVERNANCE_PRESETS;
