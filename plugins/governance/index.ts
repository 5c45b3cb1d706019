/**
 * The governance engine plugin: provides `governance` (GovernanceService), collects rules from every
 * `governance:rules:<pack>` key plus inline `rules` from its options, and adds the
 * `limit governance` commands. Works without storage for evaluation (check/eval); persistence
 * (flags, quarantine, merge validation, statistics) needs one.
 */
import path from 'node:path';
import { definePlugin, LimitError, type GovernancePreset, type GovernanceRule, type PluginContext, type RulePack } from 'limit-graph';
import type { z } from 'zod';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';
import { GovernanceEngine, bandJudges, reviewBandProblem, validateRule, type RuleOrigin } from './engine.ts';
import { Options } from './options.ts';
import { GovernanceServiceImpl, governTaps } from './service.ts';
import { registerCommands } from './cli.ts';

declare module 'limit-graph' {
  interface PluginOptionsRegistry {
    governance: z.input<typeof Options>;
  }
}

export { GovernanceEngine, MAX_FINDING_EVIDENCE } from './engine.ts';
/** The built-in presets by name, for a GovernanceEngine built directly (the plugin's `preset` option names one). */
export { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';

/**
 * The preset an engine decides by. Without `shipped`: the configured preset with the plugin's
 * overrides applied (`policy`, `blockSeverity`, `reviewBand`). With `shipped` (the CLI's explicit
 * `--preset P`, even when P is the configured preset): P's policy and thresholds as shipped, none of
 * the config's overrides applied. The rule packs are the config's `packs` in both cases when it
 * sets them (which packs are loaded is the config's choice, not the preset's), else the preset's.
 */
export function resolvePreset(options: Options, shipped?: Options['preset']): GovernancePreset {
  const packs = (base: GovernancePreset) => (options.packs ? options.packs : base.packs);
  if (shipped !== undefined) {
    const base = GOVERNANCE_PRESETS[shipped];
    return { ...base, packs: packs(base) };
  }
  const base = GOVERNANCE_PRESETS[options.preset];
  return {
    ...base,
    policy: { ...base.policy, ...options.policy },
    packs: packs(base),
    blockSeverity: options.blockSeverity !== undefined ? options.blockSeverity : base.blockSeverity,
    reviewBand: options.reviewBand !== undefined ? options.reviewBand : base.reviewBand,
  };
}

/**
 * What to do when the preset's packs are not loaded, in the words of the user's config: the usual
 * cause is a config without `extends: 'default'` (which loads every pack of the default preset).
 */
function packMissingFix(missing: readonly string[], loaded: readonly string[], configFile: string | null): string {
  const file = configFile ? path.basename(configFile) : 'the config';
  const entries = missing.map((p) => `'governance-rules-${p}': true`).join(', ');
  // The built-in runtime preset `default` enables the plugins of every built-in pack.
  const builtIn = missing.every((p) => GOVERNANCE_PRESETS.default.packs.includes(p));
  return `${builtIn ? `Add extends: 'default' to ${file} (the built-in preset enables every rule pack), or enable` : 'Enable'} the packs' plugins in the plugins of ${file}: { ${entries} }` +
    `, or set plugins.governance.packs to the packs you load (${loaded.length ? `[${loaded.map((p) => `'${p}'`).join(', ')}]` : '[] for inline rules only'}).`;
}

/** A value as an error names it: its type, not its content. */
const describeValue = (v: unknown): string => (v === null || v === undefined ? String(v) : Array.isArray(v) ? 'an array' : typeof v);

/**
 * Whether the engine of `preset` runs the registered pack `name`: a pack the preset lists, or one no
 * built-in preset lists (third-party packs, the LLM judge: loading the plugin is the opt-in).
 */
function runsPack(name: string, preset: GovernancePreset): boolean {
  return preset.packs.includes(name) || !Object.values(GOVERNANCE_PRESETS).some((p) => p.packs.includes(name));
}

/**
 * The start-up refusal of a review band that can never give a review (reviewBandProblem): checked
 * in setup, where the packs the engine will run are known (a judge that reads the band lifts it),
 * as LIMIT_PLUGIN_OPTIONS_INVALID naming the option the config set — `reviewBand`, else the policy
 * field that put quarantineSeverity at or under it — so the loader prefixes where it was written.
 * The rules are read as given: the engine validates them at boot.
 */
function checkReviewBand(ctx: PluginContext, options: Options): void {
  const preset = resolvePreset(options);
  const rules: unknown[] = [...options.rules];
  for (const key of ctx.keys('governance:rules:')) {
    if (!runsPack(key.slice('governance:rules:'.length), preset)) continue;
    const pack: unknown = ctx.resolve(key as `governance:rules:${string}`);
    const packRules = typeof pack === 'object' && pack !== null ? (pack as { rules?: unknown }).rules : undefined;
    if (Array.isArray(packRules)) rules.push(...packRules);
  }
  const fromPreset = ` (from the "${options.preset}" preset)`;
  const problem = reviewBandProblem(preset, bandJudges(rules), (field) =>
    (field === 'reviewBand' ? options.reviewBand : options.policy[field]) === undefined ? fromPreset : '');
  if (!problem) return;
  const option = options.reviewBand !== undefined ? ['reviewBand']
    : options.policy.quarantineSeverity !== undefined ? ['policy', 'quarantineSeverity']
    : options.policy.autoQuarantine !== undefined ? ['policy', 'autoQuarantine'] : ['reviewBand'];
  throw new LimitError('LIMIT_PLUGIN_OPTIONS_INVALID', problem.message, {
    plugin: ctx.name,
    details: { option, reviewBand: preset.reviewBand, autoQuarantine: preset.policy.autoQuarantine, quarantineSeverity: preset.policy.quarantineSeverity },
    fix: problem.fix,
  });
}

/**
 * The rules of the preset's packs and the inline ones, each with where it comes from (for the engine's
 * errors). `packsOption`: the pack list is the plugin's `packs` option, not the preset's own.
 */
function collectRules(ctx: PluginContext, preset: GovernancePreset, inline: readonly GovernanceRule[], packsOption: boolean): { rules: GovernanceRule[]; origins: RuleOrigin[] } {
  const registered = new Map(ctx.keys('governance:rules:').map((k) => [k.slice('governance:rules:'.length), k as `governance:rules:${string}`]));
  const missing = preset.packs.filter((p) => !registered.has(p));
  if (missing.length) {
    // Named where the list came from: the plugin's packs option, or the preset.
    const naming = packsOption ? `plugins.governance.packs (preset "${preset.name}") names` : `Governance preset "${preset.name}" uses`;
    throw new LimitError('LIMIT_GOVERNANCE_PACK_MISSING', `${naming} rule pack(s) ${missing.join(', ')}, which no plugin provides`, {
      plugin: 'governance',
      details: { missing, registered: [...registered.keys()], packsFrom: packsOption ? 'option' : 'preset' },
      fix: packMissingFix(missing, [...registered.keys()], ctx.config.configFile),
    });
  }
  const rules: GovernanceRule[] = [];
  // By position (origins[i] for rules[i]): one rule object listed by two packs is named with each.
  const origins: RuleOrigin[] = [];
  const add = (rule: GovernanceRule, origin: RuleOrigin) => {
    // Inline rules are config: a field no rule has is refused, as an unknown option is.
    rules.push(validateRule(rule, origin.where, { strictKeys: origin.inline === true }));
    origins.push(origin);
  };
  // Which plugin provides each pack: its errors (a rule that throws, a duplicate id) name it.
  const plugins = ctx.resolve('runtime').plugins;
  // Packs a preset does not list but that a plugin explicitly provides (third-party packs, the
  // LLM judge) run too: loading the plugin is the opt-in.
  for (const [name, key] of registered) {
    if (!runsPack(name, preset)) continue;
    const pack: unknown = ctx.resolve(key);
    const plugin = plugins.find((p) => p.provides.includes(key))?.name;
    if (typeof pack !== 'object' || pack === null || !Array.isArray((pack as { rules?: unknown }).rules)) {
      const got = pack === null || pack === undefined ? String(pack) : Array.isArray(pack) ? 'an array' : typeof pack === 'object' ? `an object without a rules array (rules: ${describeValue((pack as { rules?: unknown }).rules)})` : `a ${typeof pack}`;
      throw new LimitError('LIMIT_PLUGIN_INVALID', `${plugin ? `Plugin "${plugin}"` : 'A plugin'} provides ${key} as ${got}, not a rule pack { name, rules: [...] }`, {
        ...(plugin ? { plugin } : {}),
        details: { key },
        fix: `Provide { name: '${name}', rules: [ … ] } under ${key}, or make the plugin with defineRulePack from limit-graph.`,
      });
    }
    for (const rule of (pack as RulePack).rules) add(rule, { where: `rule pack "${name}"`, ...(plugin ? { plugin } : {}) });
  }
  const source = ctx.config.configFile ? path.basename(ctx.config.configFile) : 'config';
  inline.forEach((rule, i) => add(rule, { where: `${source} › plugins.governance.rules[${i}]`, plugin: ctx.name, inline: true }));
  return { rules, origins };
}

export default definePlugin({
  meta: {
    name: 'governance',
    version: '1.0.0',
    description: 'Governance engine: rules, policy presets, flags, quarantine, merge validation, statistics, `limit governance` commands.',
    provides: ['governance'],
    optionalDependsOn: ['storage', 'governance:rules:*', 'runner:*'],
  },
  options: Options,
  setup(ctx, options) {
    checkReviewBand(ctx, options);
    const engines = new Map<string, GovernanceEngine>();
    // Built on first use: rule packs are set up before this plugin, runners for the judge may boot later.
    // No name: the configured preset with the config's overrides. A name (the CLI's --preset): that
    // preset as shipped (resolvePreset), a separate engine even when it is the configured one.
    const engineFor = (shipped?: Options['preset']): GovernanceEngine => {
      const key = shipped === undefined ? 'configured' : `shipped:${shipped}`;
      let engine = engines.get(key);
      if (!engine) {
        const preset = resolvePreset(options, shipped);
        engine = new GovernanceEngine({ ...collectRules(ctx, preset, options.rules, options.packs !== undefined), preset, ruleBudgetMs: options.ruleBudgetMs, judgeBudgetMs: options.judgeBudgetMs, maxScanChars: options.maxScanChars, scanWindowChars: options.scanWindowChars, scanOverlapChars: options.scanOverlapChars, unscannedSeverity: options.unscannedSeverity, minSeverity: options.minSeverity });
        engines.set(key, engine);
      }
      return engine;
    };
    const service = new GovernanceServiceImpl({
      engine: () => engineFor(),
      hooks: ctx.hooks,
      storage: () => (ctx.has('storage') ? ctx.resolve('storage') : undefined),
      actor: options.actor,
      logger: ctx.logger,
    });
    ctx.provide('governance', service);

    ctx.hooks.boot.tapPromise(ctx.name, async () => {
      engineFor(); // fail at boot, not at the first trace, when a preset's pack is missing
    });
    ctx.hooks.beforeMerge.tapPromise(ctx.name, async (request) => {
      // A merge whose orchestrator validated it here is neither checked nor counted twice.
      if (!ctx.has('storage') || service.allowedMerge(request)) return undefined;
      const v = await service.validateMerge(request);
      return v.allowed ? undefined : { by: ctx.name, reason: v.refusals.map((r) => `${r.parentId}: ${r.reason}`).join('; ') };
    });
    ctx.hooks.cliCommands.tap(ctx.name, (registry) => {
      registerCommands(registry, {
        engineFor: async (preset) => {
          await registry.runtime();
          return engineFor(preset);
        },
        // The plugins' taps apply under --preset too: the preset sets the policy, not which plugins run.
        taps: (surface, signal) => governTaps(ctx.hooks, surface, signal ? { signal } : {}, true),
        tenant: () => ctx.config.tenant,
      });
    });

    return {
      health: () => {
        try {
          const engine = engineFor();
          return { status: 'ok' as const, message: `preset ${engine.preset.name}, ${engine.rules.length} rules${ctx.has('storage') ? '' : ', no storage (evaluation only)'}`, checks: [] };
        } catch (error) {
          return { status: 'fail' as const, message: error instanceof Error ? error.message : String(error), checks: [] };
        }
      },
    };
  },
});
