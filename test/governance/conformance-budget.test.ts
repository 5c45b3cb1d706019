/**
 * The rule-pack conformance suite holds each rule call to its budget by the CPU time it burns (or
 * the wall time, when that is less): a runaway loop fails it, a machine busy with other work does not.
 */
import { describe, expect, it } from 'vitest';
import type { GovernanceRule } from 'limit-graph';
import { runRulePack } from 'limit-graph/testing';
import { makeTrace } from './helpers.ts';

const rule = (id: string, evaluate: GovernanceRule['evaluate']): GovernanceRule => ({ id, flag: 'Unsafe', surfaces: ['input'], evaluate });
const options = { budgetMs: 20, graceMs: 30, trace: () => makeTrace('hello') };

describe('rule-pack conformance: the time budget', () => {
  it('a rule that burns CPU past its budget fails the suite', async () => {
    const spinner = rule('acme.spin', () => {
      // A runaway loop burning 150 ms of CPU — not of wall clock: on a busy machine 150 ms of wall
      // clock may hold less CPU than the budget and its grace, which the suite rightly lets pass.
      const start = process.cpuUsage();
      const giveUp = performance.now() + 10_000;
      for (let used = 0; used < 150_000 && performance.now() < giveUp;) {
        const { user, system } = process.cpuUsage(start);
        used = user + system;
      }
      return [];
    });
    await expect(runRulePack({ name: 'acme', rules: [spinner] }, 'hello', 'input', options)).rejects.toThrow(/acme\.spin on .*took \d+ ms against a budget of 20 ms \(\+30 ms grace\): a runaway regex or loop\?/);
  });

  it('a call the wall clock stretches while the rule burns no CPU (the machine busy elsewhere) passes', async () => {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const waiter = rule('acme.wait', () => {
      Atomics.wait(cell, 0, 0, 150); // off the CPU for 150 ms, as when other processes hold every core
      return [];
    });
    await expect(runRulePack({ name: 'acme', rules: [waiter] }, 'hello', 'input', options)).resolves.toEqual([]);
  });
});
