/**
 * The custom-rule examples of docs/governance.md, taken from the document as written and run the
 * way a user runs them: a limit.config.ts (and the pack's folder) in a project, then
 * `limit governance check`. A doc example that fails at start-up fails here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const DOC = readFileSync(fileURLToPath(new URL('../../docs/governance.md', import.meta.url)), 'utf8');

/** The fenced code blocks of the document, without their fences. */
const blocks = [...DOC.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

/** The block that follows the heading `heading`. */
function blockAfter(heading: string): string {
  const at = DOC.indexOf(`\n${heading}\n`);
  expect(at, heading).toBeGreaterThan(0);
  const m = /^```\w*\n([\s\S]*?)^```$/m.exec(DOC.slice(at));
  return m![1]!;
}

/** The block whose first line is `firstLine`. */
function blockStarting(firstLine: string): string {
  const found = blocks.find((b) => b.startsWith(`${firstLine}\n`));
  expect(found, firstLine).toBeDefined();
  return found!;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'limit-governance-docs-'));
  // A user's project: an ES module package (`limit-graph` resolves through the checkout's tsconfig paths).
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (file: string, text: string) => {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), text);
};

async function check(text: string) {
  const r = await runCli(['governance', 'check', '--text', text, '--json'], {
    cwd: dir,
    env: { ...process.env, LIMIT_LOG_LEVEL: 'silent', LIMIT_DATA_DIR: path.join(dir, '.limit') },
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { decision: string; flags: { ruleId: string }[] };
}

describe('docs/governance.md: a governance setup of your own, shared as a runtime preset', () => {
  it('runs as written: the default preset with the overrides the preset file holds', async () => {
    const block = blockStarting('// acme-governance.ts — a runtime preset holding only the governance plugin\'s options');
    const [preset, config] = block.split('// limit.config.ts\n') as [string, string];
    write('acme-governance.ts', preset);
    write('limit.config.ts', config);
    const r = await runCli(['config', '--json'], { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent', LIMIT_DATA_DIR: path.join(dir, '.limit') } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).plugins.governance).toMatchObject({ preset: 'default', policy: { requireHumanReview: true, quarantineSeverity: 8 }, blockSeverity: 8, reviewBand: [4, 6] });
    expect((await check('Summarise the roadmap.')).decision).toBe('allow');
  });
});

describe('docs/governance.md custom-rule examples run as written', () => {
  it('an inline rule in limit.config.ts', async () => {
    write('limit.config.ts', blockAfter('### Inline in limit.config.ts'));
    const verdict = await check('Summarise the PROJECT-X roadmap.');
    expect(verdict.flags.map((f) => f.ruleId)).toContain('acme.codename');
    expect((await check('Summarise the roadmap.')).flags.map((f) => f.ruleId)).not.toContain('acme.codename');
  }, 60_000);

  it("a rule pack in the project's plugins/ folder, enabled by its path", async () => {
    write('plugins/governance-rules-acme/index.ts', blockStarting('// plugins/governance-rules-acme/index.ts'));
    write('limit.config.ts', blockStarting('// limit.config.ts, next to the plugins/ folder'));
    const verdict = await check('Summarise the PROJECT-X roadmap.');
    expect(verdict.flags.map((f) => f.ruleId)).toContain('acme.codename');
  }, 60_000);
});

describe("docs/governance.md's conformance sample passes for the document's own pack", async () => {
  // Both files as the document writes them, laid out as its paths say; the sample registers its tests here.
  const project = mkdtempSync(path.join(os.tmpdir(), 'limit-governance-docs-conformance-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));
  const pack = path.join(project, 'plugins/governance-rules-acme/index.ts');
  const test = path.join(project, 'test/acme.conformance.test.ts');
  for (const [file, first] of [[pack, '// plugins/governance-rules-acme/index.ts'], [test, '// test/acme.conformance.test.ts']] as const) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, blockStarting(first));
  }
  await import(test);
});
