import type {
  Decision, Finding, Flag, FlagKind, GovernancePolicy, MergeRequest, Surface, Trace,
} from '../model/index.ts';

/** What a rule looks at: the text of one surface of a trace. */
export interface RuleSubject {
  surface: Surface;
  /** The field the text comes from, used in evidence (`task.input`, `output.stdout`, `tool:search`). */
  field: string;
  text: string;
  trace: Trace;
}

export interface RuleContext {
  policy: GovernancePolicy;
  /** Time budget for this rule in ms; rules must stop and return what they found. */
  budgetMs: number;
  signal?: AbortSignal;
}

/** A governance rule: registered by rule-pack plugins or inline in limit.config.ts. */
export interface GovernanceRule {
  id: string;
  flag: FlagKind;
  surfaces: readonly Surface[];
  description?: string;
  evaluate(subject: RuleSubject, ctx: RuleContext): Finding[] | Promise<Finding[]>;
}

/** The rules a plugin contributes, registered under `governance:rules:<plugin>` (any number of packs). */
export interface RulePack {
  name: string;
  rules: readonly GovernanceRule[];
}

export interface GovernanceVerdict {
  decision: Decision;
  findings: Finding[];
  /** Why the decision was taken (the policy field that applied). */
  reasons: string[];
}

export interface MergeValidation {
  allowed: boolean;
  /** The merge must wait for a human (policy.requireHumanReview). */
  review: boolean;
  refusals: { parentId: string; reason: string }[];
}

/** The governance engine (`governance` in the container). */
export interface GovernanceService {
  readonly policy: GovernancePolicy;
  /** Runs every rule for the surface and applies the policy. */
  evaluate(trace: Trace, surface: Surface): Promise<GovernanceVerdict>;
  /** Turns findings into persisted flags (and provenance entries). */
  recordFlags(trace: Trace, findings: Finding[]): Promise<Flag[]>;
  flag(tenant: string, traceId: string, input: { kind: FlagKind; severity: number; reason: string; actor: string }): Promise<Flag>;
  quarantine(tenant: string, traceId: string, input: { reason: string; actor: string }): Promise<void>;
  release(tenant: string, traceId: string, input: { reason: string; actor: string }): Promise<void>;
  validateMerge(request: MergeRequest): Promise<MergeValidation>;
  stats(tenant: string): Promise<Record<string, number>>;
}
