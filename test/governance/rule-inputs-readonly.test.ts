import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, definePlugin, type GovernanceRule, type RuleSubject, type Runtime, type TextView, type Trace, type ViewToken } from 'limit-graph';
import { governanceRuntime, makeTrace, storeTrace } from './helpers.ts';
import { GovernanceEngine } from '../../plugins/governance/engine.ts';
import { GOVERNANCE_PRESETS } from '../../presets/governance/index.ts';
import { runRulePack } from 'limit-graph/testing';

/** An engine with no pack, only `rules`, under the default preset. */
function engine(...rules: GovernanceRule[]): GovernanceEngine {
  return new GovernanceEngine({ rules, preset: { ...GOVERNANCE_PRESETS.default, packs: [] }, ruleBudgetMs: 1_000, maxScanChars: 262_144, minSeverity: 1 });
}

const rule = (id: string, evaluate: GovernanceRule['evaluate'], phase?: 'judge'): GovernanceRule => ({ id, flag: 'Unsafe', surfaces: ['input'], evaluate, ...(phase ? { phase } : {}) });

/** The error an evaluation rejects with. */
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e as { code?: string; message: string; details?: Record<string, unknown> });

const readOnly = (ruleId: string) => ({
  code: 'LIMIT_RULE_INVALID',
  message: expect.stringMatching(new RegExp(`Governance rule "${ruleId.replace('.', '\\.')}".*rule inputs are read-only`)),
  details: expect.objectContaining({ rule: ruleId, wroteReadOnlyInput: true }),
});

describe('governance: rule inputs are read-only', () => {
  let rt: Runtime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('a rule that writes to the trace (a top-level field) is refused, naming it, and the caller\'s trace is unchanged', async () => {
    const trace = makeTrace('hello');
    const error = await failure(engine(rule('acme.status', (s) => {
      (s.trace as { status: string }).status = 'quarantined';
      return [];
    })).evaluate(trace, 'input'));
    expect(error).toMatchObject(readOnly('acme.status'));
    expect(trace.status).toBe('ok');
  });

  it('a rule that writes deep inside the trace (task.input, flags) is refused, and the next rule never sees a change', async () => {
    const trace = makeTrace('hello');
    expect(await failure(engine(rule('acme.input', (s) => {
      (s.trace.task as { input: string }).input = 'rewritten';
      return [];
    })).evaluate(trace, 'input'))).toMatchObject(readOnly('acme.input'));
    expect(await failure(engine(rule('acme.flags', (s) => {
      (s.trace.flags as unknown[]).push({ kind: 'Unsafe' });
      return [];
    })).evaluate(trace, 'input'))).toMatchObject(readOnly('acme.flags'));
    expect(trace.task.input).toBe('hello');
    expect(trace.flags).toEqual([]);
  });

  it('ctx.policy and ctx.reviewBand are the engine\'s frozen copies: a write is refused and the decision is unchanged', async () => {
    const policyWriter = engine(rule('acme.policy', (_s, ctx) => {
      (ctx.policy as { blockJailbreakTraces: boolean }).blockJailbreakTraces = false;
      return [];
    }));
    expect(await failure(policyWriter.evaluate(makeTrace('hello'), 'input'))).toMatchObject(readOnly('acme.policy'));
    expect(policyWriter.policy.blockJailbreakTraces).toBe(true);
    const bandWriter = engine(rule('acme.band', (_s, ctx) => {
      (ctx.reviewBand as unknown as number[])[0] = 10;
      return [];
    }));
    expect(await failure(bandWriter.evaluate(makeTrace('hello'), 'input'))).toMatchObject(readOnly('acme.band'));
    expect(bandWriter.preset.reviewBand).toEqual(GOVERNANCE_PRESETS.default.reviewBand);
    // The copy is the engine's own: a preset object of the caller's it was built from stays writable
    // for its owner (the built-in GOVERNANCE_PRESETS are frozen themselves: see engine.test.ts).
    const own = { ...GOVERNANCE_PRESETS.default, policy: { ...GOVERNANCE_PRESETS.default.policy }, packs: [] };
    new GovernanceEngine({ rules: [], preset: own, ruleBudgetMs: 1_000, maxScanChars: 262_144, minSeverity: 1 });
    expect(Object.isFrozen(own) || Object.isFrozen(own.policy)).toBe(false);
  });

  it('a judge that writes to ctx.findings (a finding or the list) is refused, and the verdict keeps the scan findings', async () => {
    const scan = rule('acme.scan', () => [{ ruleId: 'acme.scan', kind: 'Unsafe', severity: 6, reason: 'seen', evidence: [] }]);
    const lower = rule('acme.lower', (_s, ctx) => {
      (ctx.findings![0] as { severity: number }).severity = 1;
      return [];
    }, 'judge');
    expect(await failure(engine(scan, lower).evaluate(makeTrace('hello'), 'input'))).toMatchObject(readOnly('acme.lower'));
    const drop = rule('acme.drop', (_s, ctx) => {
      (ctx.findings as unknown[]).length = 0;
      return [];
    }, 'judge');
    expect(await failure(engine(scan, drop).evaluate(makeTrace('hello'), 'input'))).toMatchObject(readOnly('acme.drop'));
    // A judge that only reads them sees them; the verdict's own findings are not frozen.
    const seen: number[] = [];
    const verdict = await engine(scan, rule('acme.read', (_s, ctx) => {
      seen.push(ctx.findings![0]!.severity);
      return [];
    }, 'judge')).evaluate(makeTrace('hello'), 'input');
    expect(seen).toEqual([6]);
    expect(verdict.findings).toEqual([expect.objectContaining({ ruleId: 'acme.scan', severity: 6 })]);
    expect(Object.isFrozen(verdict.findings[0])).toBe(false);
  });

  it('governInput taps get the same frozen trace the rules get; a tap that writes to it is refused as LIMIT_RULE_INVALID', async () => {
    const traces: Trace[] = [];
    const record = (id: string): GovernanceRule => rule(id, (s) => {
      traces.push(s.trace);
      return [];
    });
    const tap = definePlugin({
      meta: { name: 'acme-tap', version: '1.0.0' },
      setup(ctx) {
        ctx.hooks.governInput.tapPromise(ctx.name, async (findings, trace) => {
          traces.push(trace);
          if (trace.task.input === 'WRITE') (trace.metadata as Record<string, unknown>).touched = true;
          return findings;
        });
      },
    });
    rt = await createRuntime({ config: { logLevel: 'silent', plugins: { governance: { packs: [], rules: [record('acme.one'), record('acme.two')] } } }, plugins: [tap] });
    const trace = makeTrace('hello');
    await rt.resolve('governance').evaluate(trace, 'input');
    // One copy per evaluation: both rules and the tap read the same object, frozen to its leaves.
    expect(traces).toHaveLength(3);
    expect(new Set(traces).size).toBe(1);
    expect(traces[0]).not.toBe(trace);
    expect(traces[0]).toEqual(trace);
    expect([traces[0], traces[0]!.task, traces[0]!.flags, traces[0]!.metadata].every((o) => Object.isFrozen(o))).toBe(true);
    const error = await failure(rt.resolve('governance').evaluate(makeTrace('WRITE'), 'input'));
    expect(error).toMatchObject({
      code: 'LIMIT_RULE_INVALID',
      message: expect.stringMatching(/^A governInput\/governOutput hook tap of plugin "acme-tap" wrote to the trace.*rule inputs are read-only/),
      details: { wroteReadOnlyInput: true },
    });
  });

  it('the subject, its views and their tokens are frozen: a write is refused, and the next rule reads them unchanged', async () => {
    // "1gn0r3" makes a normalized view besides the raw one.
    const text = 'please 1gn0r3 this';
    const writes: [string, (s: RuleSubject) => void][] = [
      ['acme.text', (s) => { (s as { text: string }).text = 'rewritten'; }],
      ['acme.field', (s) => { (s as { field: string }).field = 'task.other'; }],
      ['acme.offset', (s) => { (s as { offset: number }).offset = 5; }],
      ['acme.viewtext', (s) => { (s.views![0] as { text: string }).text = 'rewritten'; }],
      ['acme.viewlower', (s) => { (s.view as { lower: string }).lower = 'rewritten'; }],
      ['acme.viewname', (s) => { (s.view as { name: string }).name = 'raw2'; }],
      ['acme.viewadd', (s) => { (s.view as unknown as Record<string, unknown>).cache = {}; }],
      ['acme.views', (s) => { (s.views as TextView[]).pop(); }],
      ['acme.tokens', (s) => { (s.view!.tokens as ViewToken[]).length = 0; }],
      ['acme.token', (s) => { (s.view!.tokens[0] as { w: string }).w = 'rewritten'; }],
    ];
    for (const [id, write] of writes) {
      // Only on the second view, so the readers see both views before and after.
      const writer = (swallow: boolean) => rule(id, (s) => {
        if (s.view === s.views![0]) return [];
        try {
          write(s);
        } catch (error) {
          if (!swallow) throw error;
        }
        return [];
      });
      expect(await failure(engine(writer(false)).evaluate(makeTrace(text), 'input')), id).toMatchObject(readOnly(id));
      // A rule that swallows the TypeError changed nothing: the rule after it reads what the one before read.
      const seen: string[] = [];
      const read: GovernanceRule['evaluate'] = (s) => {
        seen.push(`${s.field}|${s.text}|${s.offset}|${s.views!.map((v) => `${v.name}:${v.text}:${v.lower}`).join(',')}|${s.view!.tokens.map((t) => t.w).join(' ')}`);
        return [];
      };
      await engine(rule('acme.before', read), writer(true), rule('acme.after', read)).evaluate(makeTrace(text), 'input');
      expect(seen, id).toHaveLength(4);
      expect(seen.slice(2), id).toEqual(seen.slice(0, 2));
    }
  });

  it('frozen views still compute tokens, near() and mayMatch() lazily', async () => {
    const results: unknown[] = [];
    await engine(rule('acme.views', (s) => {
      const v = s.view!;
      expect(Object.isFrozen(s) && Object.isFrozen(s.views) && Object.isFrozen(v)).toBe(true);
      results.push([v.name, v.tokens.map((t) => t.w), v.near(new Set(['ignore']), new Set(['instructions']), 3), v.mayMatch({ words: ['ignore'] }), v.ascii]);
      expect(Object.isFrozen(v.tokens) && Object.isFrozen(v.tokens[0])).toBe(true);
      return [];
    })).evaluate(makeTrace('Ignore the instructions'), 'input');
    expect(results).toEqual([['raw', ['ignore', 'the', 'instructions'], [{ start: 0, end: 23 }], true, true]]);
  });

  it('engine.subjects() gives the subjects as rules get them: frozen, over a frozen copy of the trace', () => {
    const trace = makeTrace('hello');
    const [subject] = engine().subjects(trace, 'input');
    expect(subject!.trace).not.toBe(trace);
    expect(subject!.trace).toEqual(trace);
    expect([subject, subject!.views, subject!.views![0], subject!.trace, subject!.trace.task].every((o) => Object.isFrozen(o))).toBe(true);
    expect(Object.isFrozen(trace)).toBe(false);
  });

  it('the caller\'s trace is neither frozen nor changed, and is stored as it was given', async () => {
    rt = await governanceRuntime({ rules: [rule('acme.reader', (s) => (s.trace.task.input.length > 0 ? [] : []))] });
    const trace = await storeTrace(rt, makeTrace('hello', { metadata: { k: { nested: [1, 2] } } }));
    const before = structuredClone(trace);
    const verdict = await rt.resolve('governance').evaluate(trace, 'input');
    expect(verdict.decision).toBe('allow');
    expect(trace).toEqual(before);
    expect(Object.isFrozen(trace) || Object.isFrozen(trace.task) || Object.isFrozen(trace.metadata)).toBe(false);
    // The caller may still change its own copy.
    trace.metadata.after = true;
    expect(trace.metadata.after).toBe(true);
    const stored = await rt.resolve('storage').getTrace(trace.tenant, trace.id);
    expect(stored).toMatchObject({ id: trace.id, task: before.task, metadata: before.metadata });
  });
});

describe('rule-pack conformance: rules get their inputs frozen as the engine gives them', () => {
  const writers: [string, GovernanceRule['evaluate'], ('judge' | undefined)?][] = [
    ['acme.trace', (s) => { (s.trace.task as { input: string }).input = 'rewritten'; return []; }],
    ['acme.text', (s) => { (s as { text: string }).text = 'rewritten'; return []; }],
    ['acme.view', (s) => { (s.view as { text: string }).text = 'rewritten'; return []; }],
    ['acme.policy', (_s, ctx) => { (ctx.policy as { blockJailbreakTraces: boolean }).blockJailbreakTraces = false; return []; }],
    ['acme.band', (_s, ctx) => { (ctx.reviewBand as unknown as number[])[0] = 10; return []; }],
    ['acme.findings', (_s, ctx) => { (ctx.findings as unknown[]).length = 0; return []; }, 'judge'],
  ];

  it('a pack that writes to its inputs fails conformance with the engine\'s message', async () => {
    for (const [id, evaluate, phase] of writers) {
      const writer = rule(id, evaluate, phase);
      const pack = { name: 'acme', rules: [writer] };
      const engineError = await failure(new GovernanceEngine({
        rules: [writer], origins: [{ where: 'rule pack "acme"' }],
        preset: { ...GOVERNANCE_PRESETS.default, packs: [] }, ruleBudgetMs: 1_000, maxScanChars: 262_144, minSeverity: 1,
      }).evaluate(makeTrace('hello'), 'input'));
      expect(engineError, id).toMatchObject(readOnly(id));
      const suiteError = await failure(runRulePack(pack, 'hello', 'input', { trace: () => makeTrace('hello') }));
      expect(suiteError?.message, id).toContain(engineError!.message);
    }
    // No write went through to the preset the suite evaluates with.
    expect(GOVERNANCE_PRESETS.default.policy.blockJailbreakTraces).toBe(true);
    expect(GOVERNANCE_PRESETS.default.reviewBand).toEqual([5, 6]);
  });

  it('the trace a pack is given is a frozen copy: the one the suite\'s `trace` option returns stays as it was', async () => {
    const given = makeTrace('hello');
    const seen: Trace[] = [];
    await runRulePack({ name: 'acme', rules: [rule('acme.reader', (s) => { seen.push(s.trace); return []; })] }, 'hello', 'input', { trace: () => given });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).not.toBe(given);
    expect(seen[0]).toEqual(given);
    expect(Object.isFrozen(seen[0]!.task)).toBe(true);
    expect(Object.isFrozen(given) || Object.isFrozen(given.task)).toBe(false);
  });
});
