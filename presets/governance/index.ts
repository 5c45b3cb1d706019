/** The built-in governance presets by name (selected with the governance plugin's `preset` option). */
import type { GovernancePreset } from 'limit-graph';
import permissive from './permissive.ts';
import defaultPreset from './default.ts';
import strict from './strict.ts';

export const GOVERNANCE_PRESETS: Readonly<Record<'permissive' | 'default' | 'strict', GovernancePreset>> = Object.freeze({
  permissive,
  default: defaultPreset,
  strict,
});
export type GovernancePresetName = keyof typeof GOVERNANCE_PRESETS;
