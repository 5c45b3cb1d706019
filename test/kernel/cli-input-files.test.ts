/**
 * Input files of the CLI (`rd … --input`, `governance eval --dataset`, `verify <artifact>`) that
 * cannot be read as they are: a named pipe or a device (which would block or never end), a file
 * too large to read whole, text that is not UTF-8, a byte order mark, a CSV artifact folder with an
 * entry that is not a file. Each is a clear LimitError naming the file — no hang, no stack trace, no
 * silently altered text.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES, isLimitError, jsonErrorPlace, readInputText } from '../../kernel/index.ts';
import { runCli } from '../helpers/cli.ts';
import { buildArtifact } from '../../plugins/orchestrator/artifact.ts';

let dir: string;
const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
const cli = (...args: string[]) => runCli(args, { cwd: dir, env: { LIMIT_LOG_LEVEL: 'silent', NO_COLOR: '1' } });
/** A path in the test folder (the commands read files relative to the process's folder, not the config's). */
const at = (name: string) => path.join(dir, name);
const thrown = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(isLimitError(error), String(error)).toBe(true);
    return error as Error & { code: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a LimitError');
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'limit-cli-input-'));
  writeFileSync(path.join(dir, 'limit.config.json'), JSON.stringify({
    logLevel: 'silent', storage: 'sqlite', dataDir: dir,
    plugins: { governance: { packs: ['jailbreak'] }, 'governance-rules-jailbreak': true, orchestrator: {}, 'runner-python': true, 'knee-kneedle': true },
  }));
  execFileSync('mkfifo', [path.join(dir, 'pipe')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readInputText', () => {
  it('refuses a folder, a named pipe and a device before reading', () => {
    mkdirSync(path.join(dir, 'folder'), { recursive: true });
    expect(thrown(() => readInputText(path.join(dir, 'folder'), { option: '--input' }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: expect.stringContaining('it is a folder, not a regular file'), details: { field: '--input' } });
    expect(thrown(() => readInputText(path.join(dir, 'pipe')))).toMatchObject({ message: expect.stringContaining('it is a named pipe (FIFO), not a regular file') });
    expect(thrown(() => readInputText('/dev/zero', { code: 'LIMIT_RD_INVALID_INPUT' }))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: expect.stringContaining('it is a device') });
    expect(thrown(() => readInputText(path.join(dir, 'missing.json')))).toMatchObject({ code: 'LIMIT_NOT_FOUND', message: expect.stringContaining('missing.json: ENOENT') });
    // `--input "$FILE"` with FILE unset: the option is named, not `Cannot read : ENOENT`.
    expect(thrown(() => readInputText('', { option: '--dataset' }))).toMatchObject({ code: 'LIMIT_VALIDATION', message: '--dataset is empty: it names no file', details: { field: '--dataset' } });
    expect(thrown(() => readInputText('', { code: 'LIMIT_RD_INVALID_INPUT' }))).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: 'The input file name is empty: it names no file' });
  });

  it('refuses a file over maxBytes, and reads a file whose size says 0 (/proc) to its end', () => {
    const big = file('big.txt', 'x'.repeat(2000));
    expect(thrown(() => readInputText(big, { option: '--input', maxBytes: 1000 }))).toMatchObject({
      code: 'LIMIT_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/--input .*big\.txt is .*MiB; an input file is read whole into memory and may be at most/), details: { bytes: 2000, maxBytes: 1000 },
    });
    expect(readInputText('/proc/self/status').length).toBeGreaterThan(0);
    expect(MAX_INPUT_BYTES).toBe(64 * 1024 * 1024);
  });

  it('names the first line that is not UTF-8, and drops a byte order mark', () => {
    const latin1 = file('latin1.jsonl', Buffer.concat([Buffer.from('{"a":1}\n{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect(thrown(() => readInputText(latin1))).toMatchObject({ code: 'LIMIT_VALIDATION', message: `${latin1}:2: is not valid UTF-8 text`, details: { line: 2 } });
    expect(readInputText(file('bom.json', '\ufeff{"x":1}'))).toBe('{"x":1}');
    expect(readInputText(file('fffd.txt', 'a\ufffdb'))).toBe('a\ufffdb'); // a real U+FFFD is text like any other
  });

  it('jsonErrorPlace turns the parser position into a line and column', () => {
    const text = '{\n  "a": 1,\n  oops\n}';
    let error: unknown;
    try {
      JSON.parse(text);
    } catch (e) {
      error = e;
    }
    expect(jsonErrorPlace(text, error)).toBe(' at line 3, column 3');
    expect(jsonErrorPlace('{"a":', new SyntaxError('Unexpected end of JSON input'))).toBe(' at line 1, column 6');
  });
});

describe('limit commands with input files that cannot be read as they are', () => {
  it('rd knee --input <named pipe> fails at once instead of waiting for a writer', async () => {
    const r = await cli('rd', 'knee', '--input', at('pipe'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: `Cannot read ${at('pipe')}: it is a named pipe (FIFO), not a regular file` });
  }, 15_000);

  it('rd knee --input "" and governance eval --dataset "" name the empty option', async () => {
    const knee = await cli('rd', 'knee', '--input', '', '--json');
    expect(knee.code).toBe(1);
    expect(JSON.parse(knee.stdout).error).toMatchObject({ code: 'LIMIT_RD_INVALID_INPUT', message: '--input is empty: it names no file' });
    const dataset = await cli('governance', 'eval', '--dataset', '');
    expect(dataset.code).toBe(1);
    expect(dataset.stderr).toContain('LIMIT_VALIDATION: --dataset is empty: it names no file');
  }, 15_000);

  it('rd knee --input of 65 MiB is refused before it is read, not read whole into memory', async () => {
    const huge = path.join(dir, 'huge.json');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_INPUT_BYTES + 1024 * 1024); // sparse: no disk used
    const r = await cli('rd', 'knee', '--input', at('huge.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIMIT_PAYLOAD_TOO_LARGE: --input ${at('huge.json')} is 65 MiB; an input file is read whole into memory and may be at most 64 MiB`);
  });

  it('rd knee: a BOM is accepted, bytes that are not UTF-8 are named, bad JSON gives its line', async () => {
    file('bom-curve.json', '\ufeff{"x":[1,2,3,4,5],"y":[10,5,2,1,0.5]}');
    const bom = await cli('rd', 'knee', '--input', at('bom-curve.json'), '--json');
    expect(bom.stderr).toBe('');
    expect(bom.code).toBe(0);
    file('latin1-curve.json', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff]), Buffer.from('","x":[1],"y":[1]}')]));
    const bad = await cli('rd', 'knee', '--input', at('latin1-curve.json'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`LIMIT_RD_INVALID_INPUT: ${at('latin1-curve.json')}:1: is not valid UTF-8 text`);
    file('broken.json', '{\n  "x": [1, 2,\n');
    expect((await cli('rd', 'knee', '--input', at('broken.json'))).stderr).toMatch(/broken\.json: is not valid JSON \(.*\) at line 3, column 1/);
  });

  it('governance eval --dataset: a line that is not UTF-8 is an error, not evaluated as other text', async () => {
    file('latin1.jsonl', Buffer.concat([Buffer.from('{"text":"hello","label":"benign"}\n{"text":"caf'), Buffer.from([0xe9]), Buffer.from('","label":"benign"}\n')]));
    const r = await cli('governance', 'eval', '--dataset', at('latin1.jsonl'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'LIMIT_VALIDATION', message: `${at('latin1.jsonl')}:2: is not valid UTF-8 text`, details: { file: at('latin1.jsonl'), line: 2, field: '--dataset' } });
  });

  it('governance eval --dataset <folder> says why it cannot be read', async () => {
    mkdirSync(path.join(dir, 'set-folder'), { recursive: true });
    const r = await cli('governance', 'eval', '--dataset', at('set-folder'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ message: `Cannot read ${at('set-folder')}: it is a folder, not a regular file`, details: { field: '--dataset' } });
  });

  it('governance eval --dataset with a BOM reads its first line', async () => {
    file('bom.jsonl', '\ufeff{"text":"Write a haiku about autumn leaves.","label":"benign"}\n');
    const r = await cli('governance', 'eval', '--dataset', at('bom.jsonl'), '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('verify <CSV folder> with a folder or a dangling link among its files: a LimitError, no stack trace', async () => {
    mkdirSync(path.join(dir, 'art1', 'traces.csv'), { recursive: true });
    writeFileSync(path.join(dir, 'art1', 'manifest.json'), '{}');
    const folder = await cli('verify', at('art1'));
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain(`LIMIT_ARTIFACT_INVALID: Cannot read ${at('art1/traces.csv')}: it is a folder, not a regular file`);
    expect(folder.stderr).not.toMatch(/\n\s+at /);

    mkdirSync(path.join(dir, 'art2'), { recursive: true });
    symlinkSync(path.join(dir, 'nowhere.json'), path.join(dir, 'art2', 'manifest.json'));
    const link = await cli('verify', at('art2'), '--json');
    expect(link.code).toBe(1);
    expect(JSON.parse(link.stdout).error).toMatchObject({ code: 'LIMIT_NOT_FOUND', message: `Cannot read ${at('art2/manifest.json')}: ENOENT` });
    expect(link.stderr).not.toMatch(/\n\s+at /);

    mkdirSync(path.join(dir, 'art3'), { recursive: true });
    const empty = await cli('verify', at('art3'));
    expect(empty.stderr).toContain(`LIMIT_ARTIFACT_INVALID: ${at('art3')} is a folder without manifest.json or .csv files: not a CSV artifact`);

    const unnamed = await cli('verify', '');
    expect(unnamed.code).toBe(1);
    expect(unnamed.stderr).toContain('LIMIT_VALIDATION: <artifact> is empty: it names no file');
  });

  it('verify <one file of a CSV artifact> names the folder to pass, not the files "missing" beside it; a json/jsonl artifact named manifest.json verifies', async () => {
    mkdirSync(path.join(dir, 'art4'), { recursive: true });
    for (const name of ['manifest.json', 'traces.csv']) {
      writeFileSync(path.join(dir, 'art4', name), name.endsWith('.csv') ? 'id\r\n' : '{}');
      const r = await cli('verify', at(`art4/${name}`), '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'LIMIT_ARTIFACT_INVALID', message: `${at(`art4/${name}`)} is one file of a CSV artifact; a CSV artifact is verified as its folder`,
        fix: expect.stringContaining(`limit verify ${at('art4')}`),
      });
    }
    // A json or jsonl artifact written as manifest.json (`--out manifest.json`) is read as itself, and verifies.
    const none = { tenant: 'default', sessionIds: [], traceIds: [], sessions: [], traces: [], provenance: [], flags: [], checkpoints: [], rdSeries: [] };
    for (const format of ['json', 'jsonl'] as const) {
      mkdirSync(path.join(dir, `art-${format}`), { recursive: true });
      writeFileSync(path.join(dir, `art-${format}`, 'manifest.json'), buildArtifact(none, format, new Date().toISOString()).files[0]!.content);
      const r = await cli('verify', at(`art-${format}/manifest.json`));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('verify <named pipe> fails at once', async () => {
    const r = await cli('verify', at('pipe'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Cannot read ${at('pipe')}: it is a named pipe (FIFO), not a regular file`);
  }, 15_000);
});

describe('--config that is not a file', () => {
  it('a folder: says so, with the fix, instead of EISDIR and "fix the syntax"', async () => {
    mkdirSync(path.join(dir, 'conf-folder'), { recursive: true });
    const r = await cli('--config', at('conf-folder'), 'config', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'LIMIT_CONFIG_LOAD_FAILED',
      message: `Could not load ${at('conf-folder')}: it is a folder, not a configuration file`,
      fix: expect.stringContaining(`Pass --config the configuration file itself (e.g. ${path.join(at('conf-folder'), 'limit.config.ts')})`),
    });
  });

  it('a named pipe: fails at once instead of waiting for a writer', async () => {
    const r = await cli('--config', at('pipe'), 'plugins');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LIMIT_CONFIG_LOAD_FAILED: Could not load ${at('pipe')}: it is a named pipe (FIFO), not a configuration file`);
  }, 15_000);
});

describe('a named pipe found by the config search (no --config)', () => {
  let project: string;
  const fifo = (name: string) => {
    mkdirSync(path.dirname(path.join(project, name)), { recursive: true });
    execFileSync('mkfifo', [path.join(project, name)]);
    return path.join(project, name);
  };
  const run = (cwd: string, ...args: string[]) => runCli(args, { cwd, env: { LIMIT_LOG_LEVEL: 'silent', NO_COLOR: '1' } });
  beforeEach(() => {
    project = mkdtempSync(path.join(os.tmpdir(), 'limit-search-fifo-'));
    writeFileSync(path.join(project, 'package.json'), '{ "type": "module" }');
  });
  afterEach(() => {
    // Without the check a search blocks opening the pipe: a writer that opens and closes it lets it go.
    for (const name of ['limit.config.json', '.limitrc.json', 'sub/limit.config.ts']) {
      try {
        closeSync(openSync(path.join(project, name), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
      } catch {
        // not there, or no reader waiting
      }
    }
    rmSync(project, { recursive: true, force: true });
  });

  it('limit.config.json as a FIFO in the project folder is refused at once, naming it', async () => {
    const pipe = fifo('limit.config.json');
    const [text, json] = [await run(project, 'plugins'), await run(project, 'config', '--json')];
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(`LIMIT_CONFIG_LOAD_FAILED: Could not load ${pipe}: it is a named pipe (FIFO), not a configuration file`);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LIMIT_CONFIG_LOAD_FAILED', message: expect.stringContaining(pipe), fix: expect.stringContaining('Replace limit.config.json with a regular file') });
  }, 15_000);

  it('a FIFO in a folder above (up to the project root) is refused too; one after the file the search loads is never touched', async () => {
    const pipe = fifo('.limitrc.json');
    mkdirSync(path.join(project, 'sub'));
    const above = await run(path.join(project, 'sub'), 'plugins');
    expect(above.code).toBe(1);
    expect(above.stderr).toContain(`Could not load ${pipe}: it is a named pipe (FIFO)`);
    writeFileSync(path.join(project, 'limit.config.json'), JSON.stringify({ logLevel: 'silent', storage: 'sqlite', dataDir: project }));
    const loaded = await run(path.join(project, 'sub'), 'config', '--json');
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(JSON.parse(loaded.stdout).configFile).toBe(path.join(project, 'limit.config.json'));
  }, 15_000);

  it('a folder under a config name is passed over, as cosmiconfig does (the defaults run)', async () => {
    mkdirSync(path.join(project, 'limit.config.ts'));
    const r = await run(project, 'config', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).configFile).toBeNull();
  }, 15_000);
});

describe('verify of a file that is no artifact at all', () => {
  it('an empty file and a file that is not JSON say so, not "the first line is not a manifest record"', async () => {
    file('empty-artifact.json', '');
    expect((await cli('verify', at('empty-artifact.json'))).stderr).toContain(`LIMIT_ARTIFACT_INVALID: Artifact ${at('empty-artifact.json')} does not verify:\n  the file is empty`);
    file('broken-artifact.json', '{"manifest": {"x": [1, 2,\n');
    const r = await cli('verify', at('broken-artifact.json'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.details.problems).toEqual([expect.stringMatching(/^not JSON: line 1 does not parse \(.+\), so this is neither a \.json nor a \.jsonl artifact$/)]);
  });
});
