/**
 * The rule packs skip a pattern when a view lacks its trigger words (a prefilter for speed). A
 * skipped pattern must be one that could not have matched: every rule is run on every view of a
 * corpus twice — gated (the engine's subject, `subject.view` set) and ungated (the same view given
 * only as `subject.views[0]`, which the gate does not trust) — and the findings must be identical.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Finding, GovernanceRule, RuleContext, RuleSubject } from 'limit-graph';
import { readDataset } from '../../plugins/governance/cli.ts';
import { GovernanceEngine, textTrace } from '../../plugins/governance/engine.ts';
import { RULES as HIGHRISK } from '../../plugins/governance-rules-highrisk/rules.ts';
import { DOCUMENT, isDocument, RULES as INJECTION } from '../../plugins/governance-rules-injection/rules.ts';
import { RULES as JAILBREAK } from '../../plugins/governance-rules-jailbreak/rules.ts';
import { RULES as MALICIOUS } from '../../plugins/governance-rules-malicious/rules.ts';
import { RULES as OBFUSCATION } from '../../plugins/governance-rules-obfuscation/rules.ts';
import { RULES as UNSAFE } from '../../plugins/governance-rules-unsafe/rules.ts';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';
import { mutations, PATTERN_SNIPPETS } from './prefilter-corpus.ts';

const DEV = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/governance/dev.jsonl');
const RULES: readonly GovernanceRule[] = [...JAILBREAK, ...INJECTION, ...MALICIOUS, ...HIGHRISK, ...UNSAFE, ...OBFUSCATION];

describe('rule prefilters (trigger words) never skip a match', () => {
  it('gated and ungated evaluation give the same findings on every view of the corpus', () => {
    const preset = GOVERNANCE_PRESETS.default;
    const engine = new GovernanceEngine({ rules: RULES, preset, ruleBudgetMs: 50, maxScanChars: 65_536, minSeverity: 1 });
    const ctx: RuleContext = { policy: preset.policy, budgetMs: 50, deadline: Number.POSITIVE_INFINITY };
    const texts = [...PATTERN_SNIPPETS.flatMap(mutations), ...(existsSync(DEV) ? readDataset(DEV).map((l) => l.text) : [])];
    const fired = new Set<string>();
    let compared = 0;
    for (const text of texts) {
      for (const surface of ['input', 'tool'] as const) {
        for (const subject of engine.subjects(textTrace(text, surface), surface)) {
          for (const [v, view] of (subject.views ?? []).entries()) {
            const base = { surface, field: subject.field, text: view.text, trace: subject.trace, offset: 0 };
            const gated: RuleSubject = { ...base, view, views: subject.views };
            // The raw view is views[0] already; a derived view is offered as the only reading.
            const ungated: RuleSubject = { ...base, views: v === 0 ? subject.views : [view] };
            for (const rule of RULES) {
              if (!rule.surfaces.includes(surface)) continue;
              // Rules that look at the subject's other views (encoded-payload) or only at raw text
              // read `subject.view`; they have no trigger gate and are compared on raw views only.
              if (rule.id.startsWith('obfuscation.') && view.name !== 'raw') continue;
              const a = rule.evaluate(gated, ctx) as Finding[];
              const b = rule.evaluate(ungated, ctx) as Finding[];
              if (JSON.stringify(a) !== JSON.stringify(b)) {
                expect.fail(`rule ${rule.id} on view ${view.name} of ${JSON.stringify(text.slice(0, 120))}: gated ${JSON.stringify(a)} vs ungated ${JSON.stringify(b)}`);
              }
              for (const f of a) fired.add(f.ruleId);
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(10_000);
    // The corpus exercises every gated rule, so the comparison is not vacuous.
    const gatedRules = [...JAILBREAK, ...INJECTION, ...MALICIOUS, ...HIGHRISK, ...UNSAFE].map((r) => r.id);
    expect(gatedRules.filter((id) => !fired.has(id))).toEqual([]);
  });
});

describe('injection: the split document test', () => {
  it('isDocument agrees with the multiline DOCUMENT regex', () => {
    const edge = [
      'Subject: hi', 'x\nFrom : me', 'x\rdate:', 'x\u2028Content:', 'x\u2029hello Bob,', 'a |email_from: b', 'say ```', '<HTML>', '</p>',
      '## Title', '#\tx', 'x\n>>> 1', 'x >>> 1', 'hi there friend of mine, yes', 'Dear ' + 'x'.repeat(41) + ',', 'xfrom: a', 'x subject: y',
      '\n\n\nto:', 'plain text', '', '\n', 'dear\n,', 'hi_there,', 'x\r\nTo:',
    ];
    const texts = [...edge, ...PATTERN_SNIPPETS.flatMap(mutations), ...(existsSync(DEV) ? readDataset(DEV).map((l) => l.text) : [])];
    let documents = 0;
    for (const text of texts) {
      expect(isDocument(text), JSON.stringify(text.slice(0, 120))).toBe(DOCUMENT.test(text));
      if (isDocument(text)) documents++;
    }
    expect(documents).toBeGreaterThan(20);
  });
});

describe('trigger gates', () => {
  it('the four packs carry the same TriggerGate (packs cannot share code, so it is copied)', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../plugins');
    const copies = ['malicious', 'highrisk', 'injection', 'jailbreak'].map((pack) => {
      const source = readFileSync(path.join(root, `governance-rules-${pack}`, 'rules.ts'), 'utf8');
      const start = source.indexOf('/**\n * Trigger words:');
      const end = source.indexOf('const GATE = new TriggerGate();');
      expect(start, pack).toBeGreaterThanOrEqual(0);
      expect(end, pack).toBeGreaterThan(start);
      return source.slice(start, end);
    });
    for (const copy of copies.slice(1)) expect(copy).toBe(copies[0]);
  });
});
