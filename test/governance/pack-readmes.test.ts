/**
 * Each rule pack's README lists exactly the ids of the rules the pack registers, as `pack.rule` code
 * spans: its `disable` option takes those ids, and an unknown one fails at start-up, so a README
 * that lists none (or a stale one) leaves a user guessing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRuntime, definePlugin, type Runner, type Runtime } from 'limit-graph';
import { packPlugins } from './helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Every governance-rules-* folder, the opt-in LLM judge included.
const packs = readdirSync(`${root}plugins`).filter((p) => p.startsWith('governance-rules-')).map((p) => p.slice('governance-rules-'.length));

const stub: Runner = {
  name: 'stub',
  capabilities: { timeout: true, memoryLimit: false, networkIsolation: false, envControl: false, concurrencyLimit: false },
  executeIsolated: async () => ({ ok: true, stdout: '', stderr: '', metrics: { latencyMs: 1 } }),
  health: async () => ({ status: 'ok', checks: [] }),
};

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime({
    config: { logLevel: 'silent', plugins: { ...packPlugins(), 'governance-rules-llm-judge': { runner: 'stub' } } },
    plugins: [definePlugin({ meta: { name: 'runner-stub', version: '1.0.0', provides: ['runner:stub'] }, setup: (ctx) => ctx.provide('runner:stub', stub) })],
  });
});
afterAll(() => rt.close());

it('finds every pack (the scan itself works)', () => {
  expect(packs).toEqual(expect.arrayContaining(['highrisk', 'malicious', 'injection', 'llm-judge']));
  expect(packs.length).toBeGreaterThanOrEqual(10);
});

it.each(packs)('governance-rules-%s/README.md lists exactly its rule ids', (pack) => {
  const ids = rt.resolve(`governance:rules:${pack}`).rules.map((r) => r.id).sort();
  expect(ids.length).toBeGreaterThan(0);
  const readme = readFileSync(`${root}plugins/governance-rules-${pack}/README.md`, 'utf8');
  // The README's code spans that are this pack's ids: `pack.rule`, or the bare pack name for a one-rule pack named so.
  const listed = [...new Set([...readme.matchAll(/`([a-z0-9-]+(?:\.[a-z0-9-]+)?)`/g)].map((m) => m[1]!).filter((s) => s.startsWith(`${pack}.`) || (s === pack && ids.includes(s))))].sort();
  expect(listed).toEqual(ids);
});
