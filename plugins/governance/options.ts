import { z } from 'zod';
import { GovernancePolicy, Severity, type GovernanceRule } from 'limit-graph';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';
import { MAX_SEVERITY, ReviewBandSchema, anomalyPolicyProblem } from './engine.ts';

/**
 * Policy thresholds that only a switch reads: setting one while the switch is off (in the preset
 * or in `policy`) would be accepted and do nothing, so it is refused, naming both fields.
 */
const THRESHOLD_SWITCHES = [
  ['quarantineSeverity', 'autoQuarantine'],
  ['maxAnomalySeverity', 'blockAnomalyTraces'],
] as const;

/**
 * A rule written inline in limit.config.ts: an object here, checked field by field when the engine
 * is built at boot (LIMIT_RULE_INVALID naming each problem: `evaluate must be a function`, …).
 */
const InlineRule = z.custom<GovernanceRule>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { message: 'Expected a rule object { id, flag, surfaces, evaluate(subject, ctx) }' },
);

export const Options = z
  .object({
    /** Built-in preset: policy, rule packs and thresholds (presets/governance/). */
    preset: z.enum(['permissive', 'default', 'strict']).default('default'),
    /** Policy fields that override the preset's. */
    policy: GovernancePolicy.partial().strict().default({}),
    /** Jailbreak/Malicious findings at or above this severity block (when the policy says so). */
    blockSeverity: Severity.optional(),
    /** Uncertain band [low, high] that asks for review; null disables review. */
    reviewBand: ReviewBandSchema.nullable().optional(),
    /** Rule packs to run instead of the preset's list. */
    packs: z
      .array(z.string().min(1))
      .superRefine((packs, ctx) => {
        // A pack listed twice is a typo for another one, most likely: said, not run once silently.
        const again = packs.findIndex((p, i) => packs.indexOf(p) !== i);
        if (again >= 0) ctx.addIssue({ code: 'custom', path: [again], message: `"${packs[again]}" is listed twice: list each pack once` });
      })
      .optional(),
    /** Custom rules, always run (pack "config"). */
    rules: z.array(InlineRule).default([]),
    /** Time budget of one rule on one text, and of building one text's views (ms). */
    ruleBudgetMs: z.number().positive().max(60_000).default(50),
    /**
     * Time budget of one `judge`-phase rule call (it waits on a model): past it the call is cut and
     * reported as `governance.unchecked`, never waited on forever. The LLM judge fails closed inside it.
     */
    judgeBudgetMs: z.number().positive().max(3_600_000).default(60_000),
    /**
     * Characters of one field scanned at most. A longer field is scanned as its first and last
     * halves of this, and the middle it skips is reported as an Unverified finding
     * (`governance.unscanned`, severity `unscannedSeverity`).
     */
    maxScanChars: z.number().int().min(1024).max(16_777_216).default(262_144),
    /** Rules read a field in windows of this many characters (each window is one rule subject). */
    scanWindowChars: z.number().int().min(1024).max(16_777_216).default(65_536),
    /** Characters consecutive windows share: a match up to this long is whole in one window. */
    scanOverlapChars: z.number().int().min(0).max(65_536).default(2_048),
    /**
     * Severity of the Unverified findings for what was not read: a field's unscanned middle, and an
     * async rule cut at `ruleBudgetMs` (`governance.unchecked`) (5: review under `default`).
     */
    unscannedSeverity: Severity.default(5),
    /**
     * Rule findings below this severity are dropped (a noise floor); the engine's own
     * governance.unscanned / governance.unchecked findings are kept (never a silent pass).
     */
    minSeverity: Severity.default(1),
    /** Actor named in provenance entries written by automatic decisions. */
    actor: z.string().min(1).max(256).default('governance'),
  })
  .strict()
  .refine((o) => o.scanOverlapChars * 4 <= o.scanWindowChars, { message: 'must be at most a quarter of scanWindowChars', path: ['scanOverlapChars'] })
  .superRefine((o, ctx) => {
    const preset = GOVERNANCE_PRESETS[o.preset].policy;
    for (const [threshold, toggle] of THRESHOLD_SWITCHES) {
      if (o.policy[threshold] === undefined || (o.policy[toggle] ?? preset[toggle])) continue;
      const off = o.policy[toggle] === false ? `policy.${toggle} is false` : `${toggle} is off in the "${o.preset}" preset`;
      ctx.addIssue({
        code: 'custom', path: ['policy', threshold],
        message: `has no effect: ${off}, and ${threshold} is only read when ${toggle} is on. Set policy.${toggle}: true to use it, or leave ${threshold} out`,
      });
    }
    // blockSeverity is read only by the Jailbreak/Malicious block switches: with both off it does nothing.
    const on = (field: 'blockJailbreakTraces' | 'blockMaliciousTraces' | 'blockAnomalyTraces' | 'autoQuarantine') => o.policy[field] ?? preset[field];
    const where = (fields: readonly ('blockJailbreakTraces' | 'blockMaliciousTraces' | 'blockAnomalyTraces' | 'autoQuarantine')[]) =>
      fields.map((f) => (o.policy[f] === false ? `policy.${f} is false` : `${f} is off in the "${o.preset}" preset`)).join(', ');
    if (o.blockSeverity !== undefined && !on('blockJailbreakTraces') && !on('blockMaliciousTraces')) {
      ctx.addIssue({
        code: 'custom', path: ['blockSeverity'],
        message: `has no effect: ${where(['blockJailbreakTraces', 'blockMaliciousTraces'])}, and blockSeverity is only read when one of them is on. ` +
          'Set policy.blockJailbreakTraces: true and/or policy.blockMaliciousTraces: true to use it, or leave blockSeverity out',
      });
    }
    // blockUnsafeMerge refuses parents carrying flags the policy does not allow (decide() ≠ allow):
    // with no block switch, no autoQuarantine and no review band, every flag is allowed, so it never refuses.
    const reviewBand = o.reviewBand !== undefined ? o.reviewBand : GOVERNANCE_PRESETS[o.preset].reviewBand;
    const anomalyBlocks = on('blockAnomalyTraces') && (o.policy.maxAnomalySeverity ?? preset.maxAnomalySeverity) < MAX_SEVERITY;
    if (o.policy.blockUnsafeMerge === true && !on('blockJailbreakTraces') && !on('blockMaliciousTraces') && !anomalyBlocks && !on('autoQuarantine') && reviewBand === null) {
      ctx.addIssue({
        code: 'custom', path: ['policy', 'blockUnsafeMerge'],
        message: `has no effect: ${[
          where(['blockJailbreakTraces', 'blockMaliciousTraces']),
          on('blockAnomalyTraces') ? `blockAnomalyTraces can never block (maxAnomalySeverity ${MAX_SEVERITY})` : where(['blockAnomalyTraces']),
          where(['autoQuarantine']),
        ].join(', ')} and reviewBand is ${o.reviewBand === null ? 'null' : `null in the "${o.preset}" preset`}, ` +
          'so the policy allows every flag, and blockUnsafeMerge only refuses parents carrying flags the policy does not allow. ' +
          'Turn on a block switch (policy.blockJailbreakTraces, policy.blockMaliciousTraces), policy.autoQuarantine or a reviewBand to use it, or leave policy.blockUnsafeMerge out',
      });
    }
    // Checked on the policy in force (the preset's fields with the overrides applied), by the check
    // the engine's constructor runs too (anomalyPolicyProblem); the issue names the field the config set.
    const problem = anomalyPolicyProblem(
      { blockAnomalyTraces: o.policy.blockAnomalyTraces ?? preset.blockAnomalyTraces, maxAnomalySeverity: o.policy.maxAnomalySeverity ?? preset.maxAnomalySeverity },
      (field) => (o.policy[field] === undefined ? ` (from the "${o.preset}" preset)` : ''),
    );
    if (problem) ctx.addIssue({ code: 'custom', path: ['policy', o.policy.maxAnomalySeverity !== undefined ? 'maxAnomalySeverity' : 'blockAnomalyTraces'], message: problem });
  });
export type Options = z.output<typeof Options>;
