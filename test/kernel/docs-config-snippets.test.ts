/**
 * The configuration snippets of README.md, docs/*.md and plugins/*\/README.md work when copied:
 * every ```ts block that calls defineConfig imports it from 'limit-graph' (without the import a
 * config file fails with "defineConfig is not defined"), no prose code span holds a config to copy
 * without its import, and each self-contained config block (`// <name>.config.ts` first, no other
 * imports, no runtime code) loads with `limit config` as written.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const documents = [
  'README.md',
  ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(path.join(root, 'plugins')).map((p) => `plugins/${p}/README.md`).filter((f) => { try { readFileSync(path.join(root, f)); return true; } catch { return false; } }),
];

interface Block {
  where: string;
  code: string;
}

/** The ```ts blocks of a document, each with its file:line. */
function tsBlocks(file: string): Block[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => ({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, code: m[1]! }));
}

const blocks = documents.flatMap(tsBlocks);
const usesDefineConfig = blocks.filter((b) => /\bdefineConfig\s*\(/.test(b.code));
const IMPORTS_IT = /^import\s*\{[^}]*\bdefineConfig\b[^}]*\}\s*from\s*'limit-graph';?$/m;

/** Blocks that are a whole config file: a `// x.config.ts` first line, only limit-graph imported, nothing run. */
const configFiles = usesDefineConfig.filter((b) => {
  const first = b.code.split('\n')[0]!;
  const imports = [...b.code.matchAll(/from\s*'([^']+)'/g)].map((m) => m[1]);
  const code = b.code.replace(/\/\/.*$/gm, '');
  return /^\/\/ [\w.-]+\.config\.ts\b/.test(first) && imports.every((i) => i === 'limit-graph') && !/\bruntime\b|\bawait\b|'\.\//.test(code);
});

describe('docs: configuration snippets import defineConfig', () => {
  it('finds the snippets (the scan itself works)', () => {
    expect(usesDefineConfig.length).toBeGreaterThanOrEqual(15);
    expect(usesDefineConfig.map((b) => b.where)).toEqual(expect.arrayContaining([expect.stringMatching(/^docs\/api\.md:/), expect.stringMatching(/^docs\/storage\.md:/), expect.stringMatching(/^docs\/governance\.md:/)]));
    expect(configFiles.length).toBeGreaterThanOrEqual(10);
  });

  it.each(usesDefineConfig.map((b) => [b.where, b] as const))('%s imports defineConfig from limit-graph', (_where, block) => {
    expect(block.code).toMatch(IMPORTS_IT);
  });

  it('no prose code span holds a config to copy without its import', () => {
    for (const file of documents) {
      const prose = readFileSync(path.join(root, file), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
      expect(prose, file).not.toMatch(/`[^`\n]*export default defineConfig\(/);
    }
  });
});

describe('docs: self-contained config snippets load as written', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-docs-config-'));
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    // A snippet reads process.env itself (`key: process.env.TEAM_A_KEY!`): the config runs in this process.
    process.env.TEAM_A_KEY = '0123456789abcdef0123';
  });
  afterAll(() => {
    delete process.env.TEAM_A_KEY;
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(configFiles.map((b) => [b.where, b] as const))('%s', async (where, block) => {
    const file = `${where.replace(/[^A-Za-z0-9]+/g, '-')}.config.ts`;
    writeFileSync(path.join(dir, file), block.code);
    const r = await runCli(['--config', file, 'config', '--json'], {
      cwd: dir,
      env: {
        LIMIT_LOG_LEVEL: 'silent',
        LIMIT_DATA_DIR: path.join(dir, '.limit'),
        // What the snippets take from the environment (a PostgreSQL url, API keys): any value will do for loading.
        ...(/postgres/.test(block.code) ? { DATABASE_URL: 'postgres://user@127.0.0.1:1/limit', LIMIT_QUEUE_URL: 'postgres://user@127.0.0.1:1/limit' } : {}),
        OPENAI_API_KEY: 'sk-docs-test',
        ANTHROPIC_API_KEY: 'sk-ant-docs-test',
      },
    });
    expect(r.code, `${where}\n${r.stderr}\n${r.stdout}`).toBe(0);
    expect(JSON.parse(r.stdout).configFile).toBe(path.join(dir, file));
  }, 60_000);
});
