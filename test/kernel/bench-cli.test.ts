/** `limit bench <name> --options`: bad options fail before any benchmark work, with exit code 1. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'limit-bench-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(['bench', ...args, '--json'], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });

describe('limit bench options', () => {
  it.each([
    [['storage', '--backends', 'kv', '--scale', 'abc'], 'benchmark storage: --scale must be a number ≥ 0.001, got "abc"'],
    [['storage', '--backends', 'kv', '--rounds', 'abc'], 'benchmark storage: --rounds must be an integer ≥ 1, got "abc"'],
    [['storage', '--backends', 'kv', '--rounds', '0'], 'benchmark storage: --rounds must be an integer ≥ 1, got "0"'],
    [['storage', '--backends', 'bogus'], 'benchmark storage: --backends: unknown storage backend "bogus"'],
    [['storage', '--backends', ','], 'benchmark storage: --backends "," names no backend'],
    [['governance', '--n', ''], 'benchmark governance: --n must be an integer ≥ 1, got ""'],
    [['rd', '--sizes', '50,abc'], 'benchmark rd: --sizes must be an integer ≥ 2, got "abc"'],
    [['python', '--warm', '1e400'], 'benchmark python: --warm must be an integer ≥ 1, got "1e400"'],
    [['api', '--connections', ''], 'benchmark api: --connections must be an integer ≥ 1, got ""'],
    // autocannon measures in whole seconds: 0.5 would run 1 s and be reported as 0.5.
    [['api', '--duration', '0.5'], 'benchmark api: --duration must be an integer ≥ 1, got "0.5"'],
    [['api', '--governance', 'strict'], 'benchmark api: --governance must be default or minimal, got "strict"'],
  ])('%j is LIMIT_VALIDATION: %s', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message, details: { benchmark: args[0] } });
    expect(r.stderr).not.toContain('running benchmark');
  });

  it.each([
    [['rd', 'storage', '--rounds', 'abc'], 'benchmark storage: --rounds must be an integer ≥ 1, got "abc"'],
    [['governance', 'storage', '--n', '1', '--scale', '0'], 'benchmark storage: --scale must be a number ≥ 0.001, got "0"'],
    [['--rounds', 'abc'], 'benchmark llama: --rounds must be an integer ≥ 1, got "abc"'],
  ])('%j: the values of every benchmark asked for are checked before any runs (%s)', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message, details: { field: message.split(' ')[2] } });
    expect(r.stderr).not.toContain('running benchmark');
  });
});

describe('limit bench: options are validated, not ignored', () => {
  it.each([
    [['governance', '--nn', '100'], "unknown option '--nn'"],
    [['--nn', '100', 'governance'], "unknown option '--nn'"],
    [['governance', '--rounds', '2'], '--rounds is not an option of the benchmark governance'],
    [['governance', 'extra'], 'Unknown benchmark "extra"; available: api, governance, llama, python, rd, storage'],
  ])('%j is refused naming what is wrong, before anything runs', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message });
    expect(r.stderr).not.toContain('running benchmark');
  });

  it.each([
    [['--config', '/nonexistent.ts', 'governance']],
    [['governance', '--config', 'limit.config.ts']],
  ])('%j: --config is refused (the benchmarks read no config), not ignored', async (args) => {
    const r = await cli(...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message: `limit bench reads no config (--config ${JSON.stringify(args[args.indexOf('--config') + 1])}): each benchmark builds its own runtimes`, details: { field: '--config' } });
    expect(r.stderr).not.toContain('running benchmark');
  });

  it('limit bench --help says --config is refused', async () => {
    const r = await runCli(['bench', '--help'], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('--config <file> refused: the benchmarks build their own runtimes and read no config');
  });

  it('an option without its value is a usage error naming it', async () => {
    const r = await runCli(['bench', 'storage', '--backends', 'kv', '--scale'], { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: option '--scale <value>' argument missing");
  });

  it('an option before the names counts as well as after: only the named benchmark runs, with it', async () => {
    const r = await cli('--n', '10', 'governance');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/running benchmark \w+/g)).toEqual(['running benchmark governance']);
    expect(JSON.parse(r.stdout)).toMatchObject({ evaluations: 10 });
  }, 60_000);
});

/** An executable shell script in `dir` (a stand-in interpreter). */
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

describe('limit bench rd --python: the interpreter is checked before anything runs', () => {
  it.each([
    [() => '/nonexistent/python3', 'benchmark rd: --python /nonexistent/python3: no such file'],
    [() => 'no-such-python-here', 'benchmark rd: --python no-such-python-here: no such program on PATH'],
    [() => '', 'benchmark rd: --python is empty'],
    [() => ' python3', 'benchmark rd: --python: Expected an interpreter name or path without leading or trailing spaces, received " python3"'],
    [() => { const f = path.join(dir, 'not-executable'); writeFileSync(f, 'print(1)\n', { mode: 0o644 }); return f; }, /^benchmark rd: --python .*not-executable: cannot be run \(EACCES/],
    [() => script('not-python', 'exit 3'), /^benchmark rd: --python .*not-python is not a working Python interpreter: it exited with 3$/],
    // python3 without site-packages: no numpy, no POT.
    [() => script('bare-python', 'exec python3 -S "$@"'), /^benchmark rd: --python .*bare-python \(Python 3[.\d]+\) cannot import numpy, ot \(pip package POT\): the rd benchmark times POT/],
  ])('%#: LIMIT_VALIDATION naming --python, one { error } document, nothing run', async (python, message) => {
    const r = await cli('governance', 'rd', '--n', '1', '--sizes', '50', '--runs', '1', '--python', python());
    expect(r.code).toBe(1);
    const { error } = JSON.parse(r.stdout);
    expect(error).toMatchObject({ code: 'LIMIT_VALIDATION', details: { benchmark: 'rd', field: '--python' } });
    expect(error.message).toMatch(message);
    expect(r.stderr).not.toContain('running benchmark');
    expect(r.stderr).not.toMatch(/unexpected failure|\n\s+at /);
  });

  it('the missing modules are named with how to install them', async () => {
    const python = script('bare-python', 'exec python3 -S "$@"');
    const r = await cli('rd', '--python', python);
    expect(JSON.parse(r.stdout).error.fix).toContain(`Install numpy and POT for that interpreter (${python} -m pip install numpy POT)`);
  });

  it('a reference process that fails or cannot start is a LimitError carrying its stderr, not a crash', async () => {
    // Passes the check (it answers as a Python with everything), then fails as the POT script.
    const python = script('failing-pot', `case "$2" in *importlib*) echo '{"version": "3.99", "missing": []}';; *) echo 'AttributeError: no fused_gromov_wasserstein' >&2; exit 3;; esac`);
    const r = await cli('rd', '--sizes', '50', '--runs', '1', '--python', python);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'LIMIT_VALIDATION',
      message: `bench rd: the POT reference (--python ${python}) exited with 3 before it answered: AttributeError: no fused_gromov_wasserstein`,
      details: { field: '--python', stderr: 'AttributeError: no fused_gromov_wasserstein\n' },
    });
    // Called directly (no parseOptions), an interpreter that cannot start: spawn's 'error' is no crash.
    const { runRdBench } = await import('../../bench/rd.ts');
    await expect(runRdBench({ sizes: [50], runs: 1, python: '/nonexistent/python3' })).rejects.toMatchObject({
      code: 'LIMIT_VALIDATION', message: 'bench rd: the POT reference (--python /nonexistent/python3) could not be started (ENOENT) before it answered',
    });
  }, 30_000);
});

describe('limit bench python: --python and --cgroup are checked as runner-python checks them, before anything runs', () => {
  it.each([
    [['--python', ''], '--python', 'benchmark python: --python is empty'],
    [['--python', ' /usr/bin/python3'], '--python', 'benchmark python: --python: Expected an interpreter name or path without leading or trailing spaces, received " /usr/bin/python3"'],
    [['--python', '/nonexistent/python3'], '--python', 'benchmark python: --python /nonexistent/python3: no such file'],
    [['--cgroup', ''], '--cgroup', 'benchmark python: --cgroup is empty'],
    [['--cgroup', '/sys/fs/cgroup '], '--cgroup', 'benchmark python: --cgroup: Expected a path without leading or trailing spaces, received "/sys/fs/cgroup "'],
  ])('%j is LIMIT_VALIDATION naming %s (%s), not a ZodError after the others ran', async (args, field, message) => {
    const r = await cli('governance', 'python', '--n', '1', ...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message, details: { benchmark: 'python', field } });
    expect(r.stderr).not.toContain('running benchmark');
  });
});

describe('a benchmark run as a script (npx tsx bench/<name>.ts) reads its options as limit bench does', () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const script = (name: string, ...args: string[]) => {
    const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'bench', `${name}.ts`), ...args], {
      cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, LIMIT_LOG_LEVEL: 'silent', TMPDIR: dir },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it.each([
    [['--evaluations', '300'], "error: unknown option '--evaluations'"],
    [['300'], 'error: too many arguments'],
    [['--n'], "error: option '--n <value>' argument missing"],
  ])('%j is refused (exit 1) before anything runs, not ignored', (args, message) => {
    const r = script('governance', ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  }, 60_000);

  it('--name=value is read as --name value; a bad value is CODE: message and fix, without a stack', () => {
    const bad = script('governance', '--n=abc');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('LIMIT_VALIDATION: --n must be an integer ≥ 1, got "abc"\n  fix: Pass --n <integer> (≥ 1).\n');
    const ok = script('governance', '--n=20', '--tries=1');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ evaluations: 20 });
  }, 60_000);
});
