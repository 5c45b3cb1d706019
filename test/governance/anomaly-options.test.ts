/**
 * governance-rules-anomaly's options: a baseline holds at most `window` samples, so a `minSamples`
 * above it would leave anomaly.baseline silent forever; it is refused at start-up, naming the option.
 * Thresholds are inclusive as the README says (|z| ≥ zThreshold, a line repeated repeatLines times).
 */
import { describe, expect, it } from 'vitest';
import { createRuntime, type RuleSubject, type Trace } from 'limit-graph';
import { createAnomalyRules } from '../../plugins/governance-rules-anomaly/rules.ts';

const start = (options: Record<string, unknown>) =>
  createRuntime({ config: { logLevel: 'silent', plugins: { 'governance-rules-anomaly': options, governance: { packs: ['anomaly'] } } } });

const trace = (id: string, stdout: string): Trace => ({
  id, sessionId: 's', tenant: 't', runner: 'r', status: 'ok', createdAt: new Date(0).toISOString(),
  input: { kind: 'prompt', input: 'x' }, output: { stdout, stderr: '' },
} as unknown as Trace);
const subject = (t: Trace): RuleSubject => ({ surface: 'output', field: 'output.stdout', text: t.output!.stdout, trace: t });

describe('governance-rules-anomaly options', () => {
  it('refuses minSamples above window, naming both (the baseline would never flag)', async () => {
    await expect(start({ window: 10, minSamples: 20 })).rejects.toMatchObject({
      code: 'LIMIT_PLUGIN_OPTIONS_INVALID',
      message: expect.stringMatching(/plugins\.governance-rules-anomaly\.minSamples.*minSamples 20 is above window 10/s),
      details: { option: ['minSamples'] },
    });
    // The default minSamples (20) above a small window is refused too.
    await expect(start({ window: 5 })).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining('minSamples 20 is above window 5') });
    const ok = await start({ window: 20, minSamples: 20 });
    await ok.close();
  });

  it('refuses out-of-range values naming the option', async () => {
    for (const [options, option] of [[{ window: 4 }, 'window'], [{ minSamples: 1 }, 'minSamples'], [{ zThreshold: 0 }, 'zThreshold'], [{ repeatLines: 1 }, 'repeatLines']] as const) {
      await expect(start(options)).rejects.toMatchObject({ code: 'LIMIT_PLUGIN_OPTIONS_INVALID', message: expect.stringContaining(`plugins.governance-rules-anomaly.${option}`) });
    }
  });

  it('with minSamples equal to window the baseline flags once it is full', async () => {
    const [baseline] = createAnomalyRules({ window: 5, minSamples: 5, zThreshold: 4, repeatLines: 20, maxTenants: 4, maxRunnersPerTenant: 4 });
    for (let i = 0; i < 5; i++) expect(await baseline!.evaluate(subject(trace(`u${i}`, 'x'.repeat(100 + i))), { policy: {} as never, budgetMs: 1000 })).toEqual([]);
    expect((await baseline!.evaluate(subject(trace('odd', 'x'.repeat(5000))), { policy: {} as never, budgetMs: 1000 })).length).toBe(1);
  });

  it('repeatLines is inclusive: a line repeated exactly repeatLines times is a loop', async () => {
    const [, loops] = createAnomalyRules({ window: 50, minSamples: 5, zThreshold: 4, repeatLines: 6, maxTenants: 4, maxRunnersPerTenant: 4 });
    const ctx = { policy: {} as never, budgetMs: 1000 };
    expect(await loops!.evaluate(subject(trace('a', 'same line here\n'.repeat(5) + 'end')), ctx)).toEqual([]);
    expect((await loops!.evaluate(subject(trace('b', 'same line here\n'.repeat(6) + 'end')), ctx)).map((f) => f.ruleId)).toEqual(['anomaly.repetition']);
  });
});
