/**
 * The README's command table lists every option of every command: each command's `--help` (with a
 * config that loads every plugin adding commands) is read, and the table row of that command must
 * name each of its options. `--help` and `--config` (taken by every command, said above the table)
 * are left out, and so is `limit bench`, whose options are per benchmark: its row points to
 * `limit bench --help`, which lists them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
/** The first cell of each row of the command table: "`limit rd fgw --input CASE.json […]`". */
const rows = README.split('\n').filter((l) => l.startsWith('| `limit ')).map((l) => l.split(/(?<!\\)\|/)[1]!.trim());

const GLOBAL = new Set(['--help', '--config']);
const DELEGATED = new Set(['bench']);

let dir: string;
const help = async (words: string[]) => {
  const r = await runCli([...words, '--help'], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent', LIMIT_DATA_DIR: path.join(dir, '.limit') } });
  expect(r.code, `${words.join(' ')} --help\n${r.stderr}`).toBe(0);
  return r.stdout;
};
const section = (text: string, name: string) => {
  const at = text.indexOf(`\n${name}:\n`);
  if (at < 0) return '';
  const rest = text.slice(at + name.length + 3);
  const end = rest.search(/\n\S/);
  return end < 0 ? rest : rest.slice(0, end);
};
const subcommands = (text: string) => [...section(text, 'Commands').matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
const optionsOf = (text: string) => [...section(text, 'Options').matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!).filter((o) => !GLOBAL.has(o));

/** Every command path ("run", "rd fgw", …) with its options, from the help of a config loading every command's plugin. */
async function commands(): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const name of subcommands(await help([]))) {
    if (DELEGATED.has(name)) continue;
    const text = await help([name]);
    const subs = subcommands(text);
    if (subs.length === 0) found.set(name, optionsOf(text));
    for (const sub of subs) found.set(`${name} ${sub}`, optionsOf(await help([name, sub])));
  }
  return found;
}

describe('README: the command table lists every option of every command', () => {
  let all: Map<string, string[]>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-docs-cli-'));
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    // Every plugin that adds a command: the default preset, and runner-queue (`limit worker`), which it leaves out.
    writeFileSync(path.join(dir, 'limit.config.ts'), "export default { extends: 'default', plugins: { 'runner-queue': { url: 'postgres://docs@127.0.0.1:1/none' } } };");
    all = await commands();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the commands (the scan itself works)', () => {
    expect([...all.keys()]).toEqual(expect.arrayContaining(['config', 'serve', 'worker', 'run', 'export', 'verify', 'demo', 'governance check', 'governance stats', 'rd fgw', 'rd rate', 'rd knee', 'rd plot']));
    expect(all.get('rd fgw')).toEqual(expect.arrayContaining(['--epsilon', '--solver', '--max-iter', '--plan-threshold']));
  });

  it('each command has a row naming each of its options', () => {
    const missing: string[] = [];
    for (const [command, options] of all) {
      const row = rows.find((r) => r.startsWith(`\`limit ${command} `) || r.startsWith(`\`limit ${command}\``));
      if (!row) {
        missing.push(`${command}: no row in the README's command table`);
        continue;
      }
      for (const option of options) if (!new RegExp(`${option}(?![\\w-])`).test(row)) missing.push(`${command} ${option}`);
    }
    expect(missing).toEqual([]);
  });
});
