/**
 * The command line is read as commander parses it: the words after `--` are the task, an option's
 * value is not an option, and `--config` may follow the command. Nothing is decided from raw words.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCommandLine } from '../../kernel/cli/command-line.ts';
import { runCli } from '../helpers/cli.ts';

describe('readCommandLine', () => {
  const program = () => {
    const p = new Command().version('1.0.0').option('--config <file>').enablePositionalOptions();
    p.command('check').requiredOption('--text <text>').option('--json').option('--config <file>');
    const rd = p.command('rd').option('--config <file>');
    rd.command('fgw').option('--alpha <a>').option('--json').option('--config <file>');
    p.command('export').option('--trace <ids...>').option('--config <file>');
    return p;
  };
  const read = (...args: string[]) => readCommandLine(program(), args);

  it('stops at "--": the task may hold --config, --version, --json', () => {
    expect(read('run', 'python', '--', 'explain', 'the', '--config', 'flag', '--json', '-V', '--help')).toEqual({
      words: ['run', 'python'], known: false, config: undefined, guessed: false, knownConfig: undefined, json: false, help: false, version: false,
    });
  });

  it("skips options' values, also of a variadic option", () => {
    expect(read('check', '--text', '-V')).toMatchObject({ words: ['check'], version: false, help: false });
    expect(read('check', '--text', '--config', '--json')).toMatchObject({ config: undefined, json: true });
    expect(read('check', '--text', '--help')).toMatchObject({ help: false });
    expect(read('--config', 'a.ts', 'export', '--trace', 'x', 'y', '--config', 'b.ts')).toMatchObject({ config: 'b.ts' });
    expect(read('--config', 'a.ts', 'export', '--trace', '--config', 'b.ts')).toMatchObject({ config: 'a.ts' });
  });

  it('reads --config before the command or after it (the last one), --config=<file> too, and -V only before the command', () => {
    expect(read('--config', 'a.ts', 'check', '--text', 't')).toMatchObject({ config: 'a.ts', known: true });
    expect(read('check', '--config=b.ts', '--text', 't')).toMatchObject({ config: 'b.ts' });
    expect(read('rd', '--config', 'c.ts', 'fgw', '--alpha', '0.5')).toMatchObject({ words: ['rd', 'fgw'], config: 'c.ts' });
    expect(read('-V')).toMatchObject({ version: true });
    expect(read('help', 'check')).toMatchObject({ words: ['help', 'check'], help: true });
  });

  it('in a command not defined yet (a plugin\'s), --config takes a value unless the next word is an option', () => {
    expect(read('serve', '--port', '0', '--config', 's.ts')).toMatchObject({ words: ['serve', '0'], known: false, config: 's.ts', guessed: true, knownConfig: undefined });
    expect(read('--config', 'a.ts', 'serve', '--config', 's.ts')).toMatchObject({ config: 's.ts', guessed: true, knownConfig: 'a.ts' });
    expect(read('--config', 'a.ts', 'serve', '--config', '--json')).toMatchObject({ config: 'a.ts', json: true });
  });
});

describe('limit run / governance check: the words of the task and option values', () => {
  let dir: string;
  let config: string;
  const cli = (...args: string[]) => runCli(args, { cwd: dir, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent' } });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'limit-argv-'));
    config = path.join(dir, 'limit.config.json');
    writeFileSync(config, JSON.stringify({
      storage: 'sqlite', dataDir: dir, logLevel: 'silent',
      plugins: { 'governance-rules-jailbreak': true, governance: { packs: ['jailbreak'] }, 'runner-python': {}, orchestrator: {} },
    }));
    // A config the search would not find, and a broken one.
    writeFileSync(path.join(dir, 'broken.ts'), 'export default {');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--config, --version and --json after "--" are words of the task', async () => {
    // Python where the flag is a word of its own: `x if True else --config` never evaluates it.
    expect(await cli('--config', config, 'run', 'python', '--', 'print(', '3', 'if', 'True', 'else', '--config', ')')).toMatchObject({ code: 0, stdout: '3\n' });
    expect(await cli('--config', config, 'run', 'python', '--', 'print(', '4', 'if', 'True', 'else', '--version', ')')).toMatchObject({ code: 0, stdout: '4\n' });
    const failed = await cli('--config', config, 'run', 'python', '--', '1/0', 'if', 'True', 'else', '--json');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe(''); // no { "error": … } document: --json was not asked for
    expect(failed.stderr).toContain('ZeroDivisionError');
  }, 60_000);

  it("an option's value is not an option: --text -V checks the text \"-V\"", async () => {
    const r = await cli('--config', config, 'governance', 'check', '--text', '-V', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'allow', surface: 'input' });
  }, 60_000);

  it('--config after the command works; a --config that was another option\'s value is not loaded', async () => {
    expect(await cli('run', 'python', '--config', config, '--', 'print(6)')).toMatchObject({ code: 0, stdout: '6\n' });
    // Read before the plugins are set up, `--trace --config broken.ts` looks like a config; it is two trace ids.
    const r = await cli('--config', config, 'export', '--format', 'json', '--out', path.join(dir, 'x.json'), '--trace', '--config', 'broken.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('LIMIT_CONFIG_LOAD_FAILED');
    expect(r.stderr).toMatch(/LIMIT_NOT_FOUND|LIMIT_VALIDATION/);
    expect(r.stderr).toContain('--config');
  }, 60_000);
});
