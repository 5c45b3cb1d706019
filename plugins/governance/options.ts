import { z } from 'zod';
import { GovernancePolicy, Severity, type GovernanceRule } from 'limit-graph';

/** A rule written inline in limit.config.ts; checked in full when the engine is built. */
const InlineRule = z.custom<GovernanceRule>(
  (v) => typeof v === 'object' && v !== null && typeof (v as GovernanceRule).evaluate === 'function',
  { message: 'Expected a rule { id, flag, surfaces, evaluate(subject, ctx) }' },
);

export const Options = z
  .object({
    /** Built-in preset: policy, rule packs and thresholds (presets/governance/). */
    preset: z.enum(['permissive', 'default', 'strict']).default('default'),
    /** Policy fields that override the preset's. */
    policy: GovernancePolicy.partial().default({}),
    /** Jailbreak/Malicious findings at or above this severity block (when the policy says so). */
    blockSeverity: Severity.optional(),
    /** Uncertain band [low, high] that asks for review; null disables review. */
    reviewBand: z.tuple([Severity, Severity]).nullable().optional(),
    /** Rule packs to run instead of the preset's list. */
    packs: z.array(z.string().min(1)).optional(),
    /** Custom rules, always run (pack "config"). */
    rules: z.array(InlineRule).default([]),
    /** Time budget of one rule on one text (ms). */
    ruleBudgetMs: z.number().positive().max(60_000).default(50),
    /** Texts longer than this are scanned as their first and last halves of it. */
    maxScanChars: z.number().int().min(1024).max(16_777_216).default(65_536),
    /** Findings below this severity are dropped. */
    minSeverity: Severity.default(1),
    /** Actor named in provenance entries written by automatic decisions. */
    actor: z.string().min(1).max(256).default('governance'),
  })
  .strict()
  .refine((o) => !o.reviewBand || o.reviewBand[0] <= o.reviewBand[1], { message: 'reviewBand must be [low, high] with low ≤ high', path: ['reviewBand'] });
export type Options = z.output<typeof Options>;
